// Browser test of the live room: an instructor page and two learner pages in headless
// Chromium (fake camera and microphone) join the same session through the real server.
// Each learner must decode the instructor's video and receive audio, the instructor's chat
// message must reach both, the instructor's shared screen must reach both, and the attendance
// sheet must list both learners.
//
// Driven by the Rust test `live::browser_room_end_to_end` (cargo test --test it -- --ignored),
// which starts the app, creates the people and the session, and passes:
//   AULA_BASE, AULA_SESSION, AULA_COOKIES (JSON {teacher, ana, beto} session cookie values),
//   AULA_DNIS (JSON [ana, beto]), and AULA_BASE_BETO: another `aula` process on the same
//   database, where Beto's page is served (his signalling is relayed to the room's process).
//   Exit status 0 = pass.
import { chromium } from 'playwright-core';

const base = process.env.AULA_BASE;
const session = process.env.AULA_SESSION;
const cookies = JSON.parse(process.env.AULA_COOKIES);
const dnis = JSON.parse(process.env.AULA_DNIS);
const chromePath = process.env.CHROMIUM || '/usr/bin/chromium';
const baseOf = (who) => (who === 'beto' && process.env.AULA_BASE_BETO) || base;

const fail = (msg) => { console.error(`BROWSER TEST FAIL: ${msg}`); process.exitCode = 1; };

const browser = await chromium.launch({
  executablePath: chromePath,
  headless: true,
  args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-quic',
    '--disable-component-update', '--disable-sync', '--no-first-run',
    '--use-fake-device-for-media-stream', '--use-fake-ui-for-media-stream',
    '--autoplay-policy=no-user-gesture-required',
    '--disable-features=WebRtcHideLocalIpsWithMdns'],
});
const host = new URL(base).hostname;

// A phone-sized window (390 px), where the outside test found the black main picture. With
// `saveData`, the browser says it saves data (navigator.connection.saveData, as Chrome's
// «Ahorro de datos» does).
async function open(who, { saveData = false } = {}) {
  const ctx = await browser.newContext({ viewport: { width: 390, height: 844 } });
  await ctx.addCookies([{ name: 'aula_sesion', value: cookies[who], domain: host, path: '/' }]);
  if (saveData) {
    await ctx.addInitScript(() => {
      Object.defineProperty(navigator, 'connection', { value: { saveData: true, addEventListener() {} }, configurable: true });
    });
  }
  return enter(ctx, who);
}

// Opens the room in `ctx` (an existing browser profile keeps its storage) and enters.
async function enter(ctx, who) {
  const page = await ctx.newPage();
  page.on('console', (m) => { if (m.type() === 'error') console.error(`[${who}] ${m.text()}`); });
  page.on('pageerror', (e) => fail(`[${who}] error de JavaScript: ${e.message}`));
  page.on('response', (r) => { if (r.status() === 404) fail(`[${who}] ${r.url()} no existe (404)`); });
  const resp = await page.goto(`${baseOf(who)}/en-vivo/${session}`);
  if (resp.status() !== 200) throw new Error(`${who}: la sala respondió ${resp.status()}`);
  // What the page chose by itself, before the learner unticks the camera as learners here do.
  page.startedWithoutCamera = await page.$eval('#sin-camara', (c) => c.checked);
  if (who !== 'teacher') await page.check('#sin-camara');
  await page.click('#entrar');
  await page.waitForFunction(() => document.getElementById('estado').textContent.includes('Estás en la clase'), null, { timeout: 15000 });
  // The device check's preview must be gone once inside (a preview that was still starting
  // when "Entrar" was pressed would otherwise keep the camera and microphone on).
  if (await page.evaluate(() => window.aulaLive.state.preview !== null)) fail(`[${who}] la vista previa siguió abierta en la sala`);
  return page;
}

// Calls `check` every 500 ms until it returns true, for at most `ms`.
async function waitFor(check, ms) {
  const deadline = Date.now() + ms;
  for (;;) {
    if (await check()) return true;
    if (Date.now() > deadline) return false;
    await new Promise((r) => setTimeout(r, 500));
  }
}

// Polls `fn` in the page until it returns true. Unlike waitForFunction, `fn` may be async
// (waitForFunction takes the returned promise as truthy).
const until = (page, fn, arg, ms) => waitFor(() => page.evaluate(fn, arg), ms);

// The width of the largest video the page is decoding.
const videoWidth = (page) => page.evaluate(async () => {
  let w = 0;
  (await window.aulaLive.sub().getStats()).forEach((s) => {
    if (s.type === 'inbound-rtp' && s.kind === 'video' && (s.framesDecoded || 0) > 0) w = Math.max(w, s.frameWidth || 0);
  });
  return w;
});

async function inbound(page) {
  return page.evaluate(async () => {
    const pc = window.aulaLive.sub();
    const r = {};
    if (!pc) return r;
    (await pc.getStats()).forEach((s) => {
      if (s.type === 'inbound-rtp') {
        const prev = r[s.kind];
        // Several inbound streams per kind: keep the one that got the most.
        if (!prev || (s.bytesReceived || 0) > (prev.bytesReceived || 0)) {
          r[s.kind] = { bytesReceived: s.bytesReceived, packetsReceived: s.packetsReceived, packetsLost: s.packetsLost,
            framesDecoded: s.framesDecoded, keyFramesDecoded: s.keyFramesDecoded, frameWidth: s.frameWidth,
            frameHeight: s.frameHeight, pliCount: s.pliCount, nackCount: s.nackCount,
            totalSamplesReceived: s.totalSamplesReceived };
        }
      }
    });
    r.connection = pc.connectionState;
    r.audioElements = document.querySelectorAll('#audios audio').length;
    return r;
  });
}

// What a person sees in the main picture: the element is on screen (not hidden, non-zero
// size), playing (not paused), has a picture (videoWidth > 0) and moves (currentTime
// advances), and the «no video» caption is gone. Frames counted by getStats are not enough:
// they can flow on one transceiver while the page shows another.
const mainPlays = (page, ms) => until(page, async () => {
  const v = document.getElementById('principal');
  const r = v.getBoundingClientRect();
  const style = getComputedStyle(v);
  const shown = !v.hidden && style.display !== 'none' && style.visibility !== 'hidden' && r.width > 0 && r.height > 0;
  if (!shown || v.paused || !(v.videoWidth > 0) || !document.getElementById('sin-video').hidden) return false;
  const t0 = v.currentTime;
  await new Promise((res) => setTimeout(res, 700));
  return !v.paused && v.currentTime > t0;
}, null, ms);

const mainState = (page) => page.evaluate(() => {
  const v = document.getElementById('principal');
  const tracks = v.srcObject ? v.srcObject.getVideoTracks().map((t) => ({ id: t.id, muted: t.muted, state: t.readyState })) : null;
  return { paused: v.paused, videoWidth: v.videoWidth, currentTime: v.currentTime, hidden: v.hidden,
    caption: document.getElementById('sin-video').hidden ? null : document.getElementById('sin-video').textContent, tracks };
});

try {
  const teacher = await open('teacher');
  // The instructor's camera is on before any learner joins (the case the outside test hit).
  if (!await until(teacher, async () => {
    if (!window.aulaLive.state.camOn || !window.aulaLive.pub()) return false;
    let frames = 0;
    (await window.aulaLive.pub().getStats()).forEach((s) => {
      if (s.type === 'outbound-rtp' && s.kind === 'video') frames += s.framesEncoded || 0;
    });
    return frames > 10;
  }, null, 15000)) fail('la cámara del docente no empezó a enviar');
  // The instructor sees their own camera as the main picture, not «Todavía no hay video».
  if (!await mainPlays(teacher, 10000)) fail(`el docente no ve su propia cámara: ${JSON.stringify(await mainState(teacher))}`);
  else if (!await teacher.evaluate(() => {
    const v = document.getElementById('principal');
    return Boolean(v.srcObject) && v.srcObject.getVideoTracks()[0] === window.aulaLive.state.local.video;
  })) fail('la imagen principal del docente no es su cámara');
  // Only learners raise a hand.
  if (await teacher.$('#btn-mano')) fail('el docente tiene un botón «Levantar la mano» en su propia clase');
  const ana = await open('ana');
  const beto = await open('beto');
  // Each learner sees the instructor's camera play as the main picture (no screen shared).
  for (const [name, page] of [['ana', ana], ['beto', beto]]) {
    if (!await mainPlays(page, 20000)) fail(`${name} no ve la cámara del docente: ${JSON.stringify(await mainState(page))}`);
  }

  const learners = { ana, beto };
  const deadline = Date.now() + 30000;
  const results = {};
  for (const [name, page] of Object.entries(learners)) {
    let s = {};
    while (Date.now() < deadline) {
      s = await inbound(page);
      if (s.video?.framesDecoded > 10 && s.audio?.totalSamplesReceived > 0) break;
      await page.waitForTimeout(500);
    }
    results[name] = s;
    if (!(s.video?.framesDecoded > 0)) fail(`${name} no decodificó video del docente: ${JSON.stringify(s)}`);
    // Samples count only once the track is played and decoded: proof the <audio> plays it.
    if (!(s.audio?.packetsReceived > 0 && s.audio?.totalSamplesReceived > 0)) fail(`${name} no recibió ni decodificó audio: ${JSON.stringify(s)}`);
    if (!(s.audioElements > 0)) fail(`${name} no reproduce el audio`);
  }

  // Quality selector: "alta" gives beto a larger layer than the smallest (once the instructor's
  // browser sends one), "baja" moves him to the smallest simulcast layer (320 px wide).
  await beto.selectOption('#calidad', 'alta');
  if (!await waitFor(async () => (await videoWidth(beto)) >= 640, 20000)) {
    fail(`beto en «alta» no recibe una capa mayor: ${JSON.stringify(await inbound(beto))}`);
  }
  results.betoAlta = await inbound(beto);
  await beto.selectOption('#calidad', 'baja');
  if (!await waitFor(async () => { const w = await videoWidth(beto); return w > 0 && w <= 320; }, 10000)) {
    fail(`beto en «baja» no pasó a la capa chica: ${JSON.stringify(await inbound(beto))}`);
  }
  results.betoBaja = await inbound(beto);

  // "Solo audio": ana stops receiving video, keeps hearing the instructor, and her connection
  // carries under 64 kbit/s (DESIGN's budget for audio-only participants), all of it counted:
  // RTP and SRTP headers, RTCP, STUN.
  await ana.selectOption('#calidad', 'audio');
  await ana.waitForTimeout(2000);
  const received = () => ana.evaluate(async () => {
    let bytes = 0;
    let frames = 0;
    let samples = 0;
    (await window.aulaLive.sub().getStats()).forEach((s) => {
      if (s.type === 'transport') bytes += s.bytesReceived || 0;
      if (s.type === 'inbound-rtp' && s.kind === 'video') frames += s.framesDecoded || 0;
      if (s.type === 'inbound-rtp' && s.kind === 'audio') samples += s.totalSamplesReceived || 0;
    });
    return { bytes, frames, samples, at: performance.now() };
  });
  const a0 = await received();
  await ana.waitForTimeout(4000);
  const a1 = await received();
  const kbps = ((a1.bytes - a0.bytes) * 8) / (a1.at - a0.at);
  results.anaSoloAudio = { kbps: Math.round(kbps * 10) / 10, framesDecoded: a1.frames - a0.frames, samples: a1.samples - a0.samples };
  if (!(a1.samples > a0.samples)) fail(`ana en solo audio dejó de escuchar: ${JSON.stringify(results.anaSoloAudio)}`);
  if (a1.frames - a0.frames > 2) fail(`ana en solo audio sigue recibiendo video: ${JSON.stringify(results.anaSoloAudio)}`);
  if (!(kbps > 0 && kbps < 64)) fail(`ana en solo audio recibe ${kbps.toFixed(1)} kbit/s (tope 64)`);
  // Back to "Automática": the video comes back (a keyframe is asked for on her behalf).
  await ana.selectOption('#calidad', 'auto');
  if (!await until(ana, async (before) => {
    let frames = 0;
    (await window.aulaLive.sub().getStats()).forEach((s) => {
      if (s.type === 'inbound-rtp' && s.kind === 'video') frames += s.framesDecoded || 0;
    });
    return frames > before + 5;
  }, a1.frames, 10000)) fail('ana volvió a «Automática» y el video no volvió');

  // Chat from the instructor reaches both learners.
  const text = `Hola a todos ${Date.now()}`;
  await teacher.fill('#chat-texto', text);
  await teacher.click('#chat-form button');
  for (const [name, page] of Object.entries(learners)) {
    try {
      await page.waitForFunction((t) => document.getElementById('chat').textContent.includes(t), text, { timeout: 10000 });
    } catch (_) { fail(`el chat no le llegó a ${name}`); }
  }

  // A learner unmutes: the instructor hears them, and the list shows their microphone on.
  await beto.click('#btn-mic');
  const betoId = await beto.evaluate(() => window.aulaLive.state.me);
  const heard = await until(teacher, async (id) => {
    const pc = window.aulaLive.sub();
    if (!pc) return false;
    let samples = 0;
    (await pc.getStats()).forEach((s) => {
      if (s.type === 'inbound-rtp' && s.kind === 'audio') samples += s.totalSamplesReceived || 0;
    });
    const row = document.querySelector(`#participantes li[data-id="${id}"]`);
    return samples > 0 && row !== null && row.textContent.includes('🎤');
  }, betoId, 15000);
  if (!heard) fail(`el docente no escucha a beto: ${JSON.stringify(await inbound(teacher))}`);
  if (!await until(beto, () => document.getElementById('btn-mic').textContent === 'Silenciar micrófono', null, 5000)) {
    fail('el botón de beto no muestra el micrófono activo');
  }

  // The instructor shares the screen: each learner decodes it as a second video, shown as the
  // main picture.
  await teacher.click('#btn-pantalla');
  for (const [name, page] of Object.entries(learners)) {
    const ok = await until(page, async () => {
      const pc = window.aulaLive.sub();
      if (!pc || document.getElementById('principal').dataset.screen !== '1') return false;
      let decoding = 0;
      (await pc.getStats()).forEach((s) => {
        if (s.type === 'inbound-rtp' && s.kind === 'video' && s.framesDecoded > 0) decoding += 1;
      });
      return decoding >= 2;
    }, null, 20000);
    if (!ok) fail(`${name} no ve la pantalla compartida del docente: ${JSON.stringify(await inbound(page))}`);
  }

  // Ana's media connection stalls (as when a phone moves from Wi-Fi to mobile data: the
  // browser says "disconnected", and "failed" may take half a minute): the page rejoins by
  // itself within seconds and decodes the instructor's video again on a new connection.
  // A short blip that recovers by itself is waited out: same connection 8 s later.
  const setState = (page, st) => page.evaluate((state) => {
    const pc = window.aulaLive.sub();
    window.stalled = pc;
    Object.defineProperty(pc, 'connectionState', { get: () => state, configurable: true });
    pc.dispatchEvent(new Event('connectionstatechange'));
  }, st);
  await setState(ana, 'disconnected');
  await ana.waitForTimeout(1000);
  await setState(ana, 'connected');
  await ana.waitForTimeout(8000);
  if (await ana.evaluate(() => window.aulaLive.sub() !== window.stalled)) fail('ana se reconectó por un corte breve que ya se había recuperado');
  await setState(ana, 'disconnected');
  const back = await until(ana, async () => {
    const pc = window.aulaLive.sub();
    if (!pc || pc === window.stalled || pc.connectionState !== 'connected') return false;
    let frames = 0;
    (await pc.getStats()).forEach((s) => {
      if (s.type === 'inbound-rtp' && s.kind === 'video') frames += s.framesDecoded || 0;
    });
    return frames > 0 && document.getElementById('estado').textContent.includes('Estás en la clase');
  }, null, 25000);
  if (!back) fail(`ana no se reconectó después de perder la conexión: ${JSON.stringify(await inbound(ana))}`);

  // Both learners are on the participants list and on the attendance sheet.
  const people = await teacher.textContent('#participantes');
  if (!people.includes('docente')) fail(`lista de participantes sin docente: ${people}`);
  const count = await teacher.textContent('#cantidad');
  if (count !== '3') fail(`la lista debería tener 3 participantes y tiene ${count}`);
  const sheet = await teacher.context().newPage();
  await sheet.goto(`${base}/en-vivo/${session}/asistencia`);
  // Each learner's row says they are in the room (their minutes are still 0).
  const rows = await sheet.$$eval('#asistencia tbody tr', (trs) => trs.map((tr) => tr.textContent));
  for (const dni of dnis) {
    const row = rows.find((r) => r.includes(dni));
    if (!row) fail(`la planilla de asistencia no muestra a ${dni}`);
    else if (!row.includes('En la sala')) fail(`la planilla no muestra a ${dni} en la sala: ${row}`);
  }

  // A learner who chose «Solo audio» once starts on it when she comes back (the choice is kept
  // in her browser): the selector shows it, the page says so, and no video arrives while the
  // instructor's voice does. One whose browser saves data starts on it without choosing.
  await beto.selectOption('#calidad', 'audio');
  await beto.click('#btn-salir');
  const betoAgain = await enter(beto.context(), 'beto');
  const saver = await open('ana', { saveData: true });
  for (const [name, page, why] of [['beto', betoAgain, 'como elegiste la última vez'], ['ana (ahorro de datos)', saver, 'ahorrar datos']]) {
    const chosen = await page.$eval('#calidad', (s) => s.value);
    if (chosen !== 'audio') fail(`${name} volvió a entrar en «${chosen}» y no en «Solo audio»`);
    const note = await page.textContent('#estado');
    if (!note.includes(why)) fail(`${name}: la página no dice por qué empezó en «Solo audio»: ${note}`);
    const heard = await until(page, async () => {
      const pc = window.aulaLive.sub();
      if (!pc) return false;
      let samples = 0;
      (await pc.getStats()).forEach((s) => {
        if (s.type === 'inbound-rtp' && s.kind === 'audio') samples += s.totalSamplesReceived || 0;
      });
      return samples > 48000;
    }, null, 20000);
    if (!heard) fail(`${name} en «Solo audio» no escucha al docente: ${JSON.stringify(await inbound(page))}`);
    const frames = await page.evaluate(async () => {
      let n = 0;
      (await window.aulaLive.sub().getStats()).forEach((s) => {
        if (s.type === 'inbound-rtp' && s.kind === 'video') n += s.framesDecoded || 0;
      });
      return n;
    });
    if (frames > 2) fail(`${name} en «Solo audio» recibe video (${frames} cuadros)`);
  }
  if (!saver.startedWithoutCamera) fail('con ahorro de datos, la cámara no empieza apagada');
  await saver.click('#btn-salir');
  await betoAgain.click('#btn-salir');

  const pub = await teacher.evaluate(async () => {
    const r = [];
    (await window.aulaLive.pub().getStats()).forEach((s) => {
      if (s.type === 'outbound-rtp' && s.kind === 'video') r.push({ rid: s.rid, frameWidth: s.frameWidth, framesEncoded: s.framesEncoded, pliCount: s.pliCount });
    });
    return r;
  });
  console.log(JSON.stringify({ learners: results, teacherOutbound: pub }, null, 1));
  for (const p of [ana, teacher]) await p.click('#btn-salir');
  await teacher.waitForTimeout(500);
} catch (e) {
  fail(e.stack || String(e));
} finally {
  await browser.close();
}
console.log(process.exitCode ? 'BROWSER TEST FAIL' : 'BROWSER TEST PASS');
