// Aula: the live class room. Vanilla JavaScript, no build step.
// Protocol: docs/live-protocol.md. Two peer connections: "pub" (we offer, we send) and
// "sub" (the server offers, we receive), so offers never cross.
'use strict';
(() => {
  const root = document.getElementById('sala');
  if (!root) return;
  const $ = (id) => document.getElementById(id);
  const instructor = root.dataset.instructor === '1';
  // The caps this page sends with (bits per second), the server's: the instructor's simulcast
  // layers q/h/f, a learner's camera, Opus. The page's data costs are computed from them.
  const layersBps = (root.dataset.layers || '150000,500000,1200000').split(',').map(Number);
  const learnerCameraBps = Number(root.dataset.learnerCamera) || 250000;
  const opusBps = Number(root.dataset.opus) || 32000;

  const state = {
    ws: null, me: null, iceServers: [], pubPc: null, subPc: null,
    tx: {}, local: { audio: null, video: null, screen: null },
    micOn: false, camOn: false, screenOn: false, hand: false,
    camsAllowed: true, micsAllowed: true, views: new Map(), participants: [],
    speaker: null, leaving: false, queue: Promise.resolve(), preview: null, previewGen: 0, meterStop: null,
  };
  // For the browser test and for support: the live connections, to read their stats.
  window.aulaLive = { pub: () => state.pubPc, sub: () => state.subPc, state };

  const say = (text) => { $('estado').textContent = text; };
  const send = (msg) => { if (state.ws && state.ws.readyState === 1) state.ws.send(JSON.stringify(msg)); };

  // ---- device check -------------------------------------------------------------------
  async function listDevices() {
    try {
      const devices = await navigator.mediaDevices.enumerateDevices();
      for (const [kind, select] of [['videoinput', $('camara')], ['audioinput', $('microfono')]]) {
        const current = select.value;
        select.length = 1;
        devices.filter((d) => d.kind === kind).forEach((d, i) => {
          const o = document.createElement('option');
          o.value = d.deviceId;
          o.textContent = d.label || (kind === 'videoinput' ? `Cámara ${i + 1}` : `Micrófono ${i + 1}`);
          select.appendChild(o);
        });
        select.value = current;
      }
    } catch (_) { /* no device list: defaults are used */ }
  }

  function constraints(kind) {
    if (kind === 'audio') {
      const id = $('microfono').value;
      return id ? { deviceId: { exact: id } } : true;
    }
    const id = $('camara').value;
    const v = { width: { ideal: 1280 }, height: { ideal: 720 } };
    return id ? { ...v, deviceId: { exact: id } } : v;
  }

  async function startPreview() {
    stopPreview();
    // A newer preview (another device chosen) or entering the room while this one waited
    // for the camera makes it stale: it stops its own tracks instead of taking over.
    const mine = ++state.previewGen;
    const wantVideo = !$('sin-camara').checked;
    try {
      const stream = await navigator.mediaDevices.getUserMedia({ audio: constraints('audio'), video: wantVideo ? constraints('video') : false });
      if (mine !== state.previewGen) {
        stream.getTracks().forEach((t) => t.stop());
        return;
      }
      state.preview = stream;
      $('vista-previa').srcObject = stream;
      meter(stream);
      $('prueba-estado').textContent = wantVideo ? 'Si te ves y la barra se mueve al hablar, está todo listo.' : 'Si la barra se mueve al hablar, tu micrófono anda.';
      listDevices();
    } catch (e) {
      if (mine !== state.previewGen) return;
      $('prueba-estado').textContent = 'No pudimos usar la cámara o el micrófono. Podés entrar igual y escuchar la clase; revisá los permisos del navegador.';
    }
  }

  function stopPreview() {
    state.previewGen++;
    if (state.meterStop) state.meterStop();
    state.meterStop = null;
    if (state.preview) state.preview.getTracks().forEach((t) => t.stop());
    state.preview = null;
  }

  function meter(stream) {
    if (!stream.getAudioTracks().length || !window.AudioContext) return;
    const ctx = new AudioContext();
    const an = ctx.createAnalyser();
    ctx.createMediaStreamSource(stream).connect(an);
    const buf = new Uint8Array(an.fftSize);
    let run = true;
    const tick = () => {
      if (!run) return;
      an.getByteTimeDomainData(buf);
      let peak = 0;
      for (const b of buf) peak = Math.max(peak, Math.abs(b - 128));
      $('nivel-mic').value = Math.min(100, peak * 100 / 64);
      requestAnimationFrame(tick);
    };
    tick();
    // Each meter closes its own context once; a preview restarted (device change) or left
    // (Entrar) must not close it again: a second close() rejects.
    state.meterStop = () => {
      run = false;
      if (ctx.state !== 'closed') ctx.close().catch(() => {});
    };
  }

  // ---- quality: the learner's last choice, or the light one when the browser saves data --
  // Many learners pay for every megabyte: a choice made once (kept in this browser) holds for
  // the next class, and a browser that asks to save data (Chrome's «Ahorro de datos») starts
  // on «Solo audio» and without sending the camera.
  const QUALITY_KEY = 'aula.calidad';
  const QUALITY_NAMES = { auto: 'Automática', alta: 'Alta', media: 'Media', baja: 'Baja', audio: 'Solo audio' };
  const saveData = Boolean(navigator.connection && navigator.connection.saveData);
  const start = (() => {
    let saved = null;
    try { saved = localStorage.getItem(QUALITY_KEY); } catch (_) { /* storage blocked: not remembered */ }
    if (saved && QUALITY_NAMES[saved]) return { quality: saved, why: 'remembered' };
    if (saveData && !instructor) return { quality: 'audio', why: 'saveData' };
    return { quality: 'auto', why: null };
  })();
  $('calidad').value = start.quality;
  if (saveData && !instructor) $('sin-camara').checked = true;
  function rememberQuality(q) {
    try { localStorage.setItem(QUALITY_KEY, q); } catch (_) { /* storage blocked */ }
  }
  // What the page says on entering: the quality it started on, and why.
  function welcomeNote() {
    const q = $('calidad').value;
    const why = start.why;
    start.why = null;
    if (why === 'saveData' && q === 'audio') return ' Empezaste en «Solo audio» porque tu navegador pide ahorrar datos: podés cambiarlo en «Calidad».';
    if (why === 'remembered' && q !== 'auto') return ` Calidad: «${QUALITY_NAMES[q]}», como elegiste la última vez.`;
    return '';
  }

  $('camara').addEventListener('change', startPreview);
  $('microfono').addEventListener('change', startPreview);
  $('sin-camara').addEventListener('change', startPreview);
  if (navigator.mediaDevices && navigator.mediaDevices.getUserMedia) startPreview();
  else $('prueba-estado').textContent = 'Tu navegador no permite usar cámara ni micrófono aquí; vas a poder ver y escuchar la clase.';

  $('entrar').addEventListener('click', () => {
    stopPreview();
    $('prueba').hidden = true;
    $('en-vivo').hidden = false;
    connect();
  });

  // ---- signalling ---------------------------------------------------------------------
  function connect() {
    const proto = location.protocol === 'https:' ? 'wss:' : 'ws:';
    say('Conectando…');
    const ws = new WebSocket(`${proto}//${location.host}${root.dataset.ws}`);
    state.ws = ws;
    ws.onmessage = (e) => {
      let m;
      try { m = JSON.parse(e.data); } catch (_) { return; }
      // One message at a time: SDP steps must not interleave.
      state.queue = state.queue.then(() => handle(m)).catch((err) => say(`Error: ${err.message || err}`));
    };
    ws.onclose = () => {
      if (state.leaving) return;
      say('Se cortó la conexión. Reintentando en unos segundos…');
      teardown();
      setTimeout(() => { if (!state.leaving) connect(); }, 3000);
    };
  }

  async function handle(m) {
    switch (m.type) {
      case 'welcome':
        state.me = m.me;
        state.iceServers = m.ice_servers || [];
        state.camsAllowed = m.cams_allowed;
        state.micsAllowed = m.mics_allowed;
        $('chat').textContent = '';
        (m.chat || []).forEach(addChat);
        renderPeople(m.participants);
        applyPermissions();
        // The server starts everyone on «alta»; a fixed choice (remembered, or made before a
        // reconnection) is sent at once.
        if ($('calidad').value !== 'auto') send({ type: 'quality', quality: $('calidad').value });
        else { auto.level = 'alta'; auto.calm = 0; }
        say(`Estás en la clase.${welcomeNote()}`);
        await startPublishing();
        break;
      case 'publish_answer':
        await state.pubPc.setRemoteDescription(m.sdp);
        break;
      case 'offer':
        await onOffer(m);
        break;
      case 'participants':
        renderPeople(m.participants);
        break;
      case 'chat':
        addChat(m);
        break;
      case 'permissions':
        state.camsAllowed = m.cams_allowed;
        state.micsAllowed = m.mics_allowed;
        applyPermissions();
        break;
      case 'muted':
        await setMic(false);
        say('Tu docente silenció tu micrófono. Podés volver a activarlo cuando te den la palabra.');
        break;
      case 'quality':
        // The server saw the connection's bandwidth estimate fall: a lower layer. In
        // "Automática" it steps back up after a calm while; a fixed choice shows the new one.
        if ($('calidad').value === 'auto') {
          auto.level = m.quality;
          auto.calm = 0;
        } else {
          $('calidad').value = m.quality;
        }
        say(`Tu conexión está lenta: pasamos el video a calidad ${m.quality}.`);
        break;
      case 'speaker':
        state.speaker = m.id;
        renderPeople(state.participants);
        break;
      case 'bye':
        state.leaving = true;
        teardown();
        $('en-vivo').hidden = true;
        $('despedida').hidden = false;
        $('despedida').textContent = m.reason === 'ended' ? 'La clase terminó. ¡Gracias por participar!'
          : m.reason === 'removed' ? 'Tu docente te retiró de la clase.'
            : m.reason === 'unenrolled' ? 'Ya no estás inscripto/a en esta comisión, así que saliste de la clase.'
              : 'Saliste de la clase.';
        break;
      case 'error':
        say(m.message);
        break;
      default:
        break;
    }
  }

  // ---- publishing (we offer) ----------------------------------------------------------
  async function startPublishing() {
    const pc = new RTCPeerConnection({ iceServers: state.iceServers });
    state.pubPc = pc;
    pc.onicecandidate = (e) => { if (e.candidate) send({ type: 'candidate', pc: 'pub', candidate: e.candidate.toJSON() }); };
    pc.onconnectionstatechange = () => watchConnection(pc);
    const main = new MediaStream();
    const screen = new MediaStream();
    state.tx.audio = pc.addTransceiver('audio', { direction: 'sendonly', streams: [main], sendEncodings: [{ maxBitrate: opusBps }] });
    // The instructor sends three simulcast layers (rids q/h/f); learners one small layer.
    const encodings = instructor
      ? [{ rid: 'q', scaleResolutionDownBy: 4, maxBitrate: layersBps[0] },
        { rid: 'h', scaleResolutionDownBy: 2, maxBitrate: layersBps[1] },
        { rid: 'f', maxBitrate: layersBps[2] }]
      : [{ maxBitrate: learnerCameraBps, scaleResolutionDownBy: 2 }];
    state.tx.video = pc.addTransceiver('video', { direction: 'sendonly', streams: [main], sendEncodings: encodings });
    if (instructor) state.tx.screen = pc.addTransceiver('video', { direction: 'sendonly', streams: [screen] });
    const offer = await pc.createOffer();
    await pc.setLocalDescription(offer);
    send({ type: 'publish', sdp: pc.localDescription.toJSON(), screen_stream: instructor ? screen.id : null });
    if (instructor) {
      await setMic(true);
      if (!$('sin-camara').checked) await setCam(true);
    }
  }

  async function getTrack(kind) {
    const s = await navigator.mediaDevices.getUserMedia(kind === 'audio' ? { audio: constraints('audio') } : { video: constraints('video') });
    return kind === 'audio' ? s.getAudioTracks()[0] : s.getVideoTracks()[0];
  }

  // The local track of `kind` ('audio' or 'video'), asked for once. A track that arrives after
  // the connection was torn down (reconnecting) or after another click already got one is
  // stopped at once, so no microphone or camera stays on unseen. False when none can be sent.
  async function ensureTrack(kind) {
    if (state.local[kind]) return true;
    const track = await getTrack(kind);
    if (state.local[kind] || !state.tx[kind]) {
      track.stop();
      return Boolean(state.local[kind]);
    }
    state.local[kind] = track;
    return true;
  }

  function reportMedia() { send({ type: 'media', audio: state.micOn, video: state.camOn, screen: state.screenOn }); }

  async function setMic(on) {
    if (on && !instructor && !state.micsAllowed) { say('Tu docente no habilitó los micrófonos.'); on = false; }
    try {
      if (on) on = await ensureTrack('audio');
      if (state.tx.audio) await state.tx.audio.sender.replaceTrack(on ? state.local.audio : null);
    } catch (_) { say('No pudimos usar tu micrófono.'); on = false; }
    if (!on && state.local.audio) { state.local.audio.stop(); state.local.audio = null; }
    state.micOn = on;
    $('btn-mic').textContent = on ? 'Silenciar micrófono' : 'Activar micrófono';
    $('btn-mic').setAttribute('aria-pressed', String(on));
    reportMedia();
  }

  async function setCam(on) {
    if (on && !instructor && !state.camsAllowed) { say('Tu docente no habilitó las cámaras.'); on = false; }
    try {
      if (on) on = await ensureTrack('video');
      if (state.tx.video) await state.tx.video.sender.replaceTrack(on ? state.local.video : null);
    } catch (_) { say('No pudimos usar tu cámara.'); on = false; }
    if (!on && state.local.video) { state.local.video.stop(); state.local.video = null; }
    state.camOn = on;
    $('btn-cam').textContent = on ? 'Apagar cámara' : 'Activar cámara';
    $('btn-cam').setAttribute('aria-pressed', String(on));
    reportMedia();
    showMain();
  }

  async function setScreen(on) {
    try {
      if (on) {
        const s = await navigator.mediaDevices.getDisplayMedia({ video: { frameRate: 5 } });
        state.local.screen = s.getVideoTracks()[0];
        state.local.screen.onended = () => setScreen(false);
      }
      await state.tx.screen.sender.replaceTrack(on ? state.local.screen : null);
    } catch (_) { on = false; }
    if (!on && state.local.screen) { state.local.screen.stop(); state.local.screen = null; }
    state.screenOn = on;
    $('btn-pantalla').textContent = on ? 'Dejar de compartir' : 'Compartir pantalla';
    $('btn-pantalla').setAttribute('aria-pressed', String(on));
    reportMedia();
  }

  function applyPermissions() {
    if (instructor) {
      $('mod-camaras').checked = state.camsAllowed;
      $('mod-micros').checked = state.micsAllowed;
      return;
    }
    $('btn-cam').disabled = !state.camsAllowed;
    $('btn-mic').disabled = !state.micsAllowed;
    if (!state.camsAllowed && state.camOn) setCam(false);
    if (!state.micsAllowed && state.micOn) setMic(false);
  }

  // ---- receiving (the server offers) ---------------------------------------------------
  async function onOffer(m) {
    if (!state.subPc) {
      const pc = new RTCPeerConnection({ iceServers: state.iceServers });
      state.subPc = pc;
      pc.onicecandidate = (e) => { if (e.candidate) send({ type: 'candidate', pc: 'sub', candidate: e.candidate.toJSON() }); };
      pc.ontrack = onTrack;
      pc.onconnectionstatechange = () => watchConnection(pc);
    }
    state.views = new Map(m.tracks.map((t) => [t.stream, t]));
    await state.subPc.setRemoteDescription(m.sdp);
    const answer = await state.subPc.createAnswer();
    await state.subPc.setLocalDescription(answer);
    send({ type: 'answer', sdp: state.subPc.localDescription.toJSON() });
    prune();
  }

  function nameOf(id) {
    const p = state.participants.find((x) => x.id === id);
    return p ? p.name : 'Participante';
  }

  function onTrack(e) {
    const stream = e.streams[0] || new MediaStream([e.track]);
    const view = state.views.get(stream.id) || { stream: stream.id, owner: 0, source: e.track.kind === 'audio' ? 'mic' : 'camera' };
    const el = document.createElement(e.track.kind === 'audio' ? 'audio' : 'video');
    el.autoplay = true;
    el.playsInline = true;
    el.dataset.stream = stream.id;
    el.srcObject = new MediaStream([e.track]);
    if (e.track.kind === 'audio') {
      $('audios').appendChild(el);
      return;
    }
    el.muted = true;
    const owner = state.participants.find((p) => p.id === view.owner);
    if (owner && owner.instructor) {
      // The instructor's screen or camera: showMain picks the main picture among them.
      teacherVideos.set(stream.id, { stream: stream.id, owner: view.owner, source: view.source, track: e.track });
      for (const ev of ['unmute', 'mute', 'ended']) e.track.addEventListener(ev, showMain);
      showMain();
      return;
    }
    const fig = document.createElement('figure');
    fig.dataset.stream = stream.id;
    const cap = document.createElement('figcaption');
    cap.textContent = nameOf(view.owner);
    fig.append(el, cap);
    $('miniaturas').appendChild(fig);
  }

  // Removes the elements of tracks the server no longer forwards.
  function prune() {
    document.querySelectorAll('#audios [data-stream], #miniaturas [data-stream]').forEach((el) => {
      if (!state.views.has(el.dataset.stream)) el.remove();
    });
    for (const id of [...teacherVideos.keys()]) if (!state.views.has(id)) teacherVideos.delete(id);
    showMain();
  }

  // ---- the main picture ------------------------------------------------------------------
  // Learners see the instructor's screen while it is shared, else the instructor's camera
  // while it is on; the instructor sees their own camera (the local preview). A received track
  // that carries nothing (a transceiver the instructor is not using) stays muted: it is never
  // the main picture, so the picture does not sit black while the camera arrives on another.
  const teacherVideos = new Map(); // stream id -> { stream, owner, source, track }
  function showMain() {
    const main = $('principal');
    let pick = null;
    let caption = 'Todavía no hay video de tu docente.';
    if (instructor) {
      if (state.local.video) pick = { stream: 'local', track: state.local.video, source: 'camera' };
      else caption = 'Tu cámara está apagada.';
    } else {
      const flags = (v) => state.participants.find((p) => p.id === v.owner);
      const flowing = (v) => v.track.readyState === 'live' && !v.track.muted;
      const all = [...teacherVideos.values()];
      pick = all.find((v) => v.source === 'screen' && flowing(v) && flags(v)?.screen)
        || all.find((v) => v.source === 'camera' && flowing(v) && flags(v)?.video)
        || null;
      if (!pick && all.some((v) => v.source === 'camera' && flags(v) && !flags(v).video)) caption = 'Tu docente tiene la cámara apagada.';
    }
    if (!pick) {
      if (main.srcObject) main.srcObject = null;
      delete main.dataset.stream;
      delete main.dataset.screen;
      $('sin-video').textContent = caption;
      $('sin-video').hidden = false;
      return;
    }
    if (main.dataset.stream !== pick.stream || !main.srcObject) {
      main.srcObject = new MediaStream([pick.track]);
      main.dataset.stream = pick.stream;
    }
    if (pick.source === 'screen') main.dataset.screen = '1';
    else delete main.dataset.screen;
    $('sin-video').hidden = true;
    if (main.paused) main.play().catch(() => { /* plays once frames arrive (autoplay) */ });
  }

  // A media connection that fails (network change on a phone, Wi-Fi to mobile data) is
  // rebuilt by reconnecting: closing the socket makes the server clean up, and onclose
  // connects again. "failed" can take the browser half a minute to decide; a connection
  // still "disconnected" after STALL_MS is taken as lost, so a frozen picture lasts seconds.
  const STALL_MS = 6000;
  function watchConnection(pc) {
    if (pc !== state.pubPc && pc !== state.subPc) return;
    const st = pc.connectionState;
    if (st === 'disconnected') {
      if (!pc.stall) pc.stall = setTimeout(() => rejoin(pc), STALL_MS);
      return;
    }
    clearTimeout(pc.stall);
    pc.stall = null;
    if (st === 'failed') rejoin(pc);
  }

  function rejoin(pc) {
    const current = pc === state.pubPc || pc === state.subPc;
    if (!current || pc.connectionState === 'connected' || !state.ws || state.leaving) return;
    say('Se perdió la conexión de audio y video. Reconectando…');
    state.ws.close();
  }

  // ---- people, hands, chat --------------------------------------------------------------
  function renderPeople(list) {
    state.participants = list;
    const ul = $('participantes');
    ul.textContent = '';
    $('cantidad').textContent = String(list.length);
    for (const p of list) {
      const li = document.createElement('li');
      li.dataset.id = p.id;
      if (p.id === state.speaker) li.classList.add('speaking');
      let text = p.name + (p.id === state.me ? ' (vos)' : '') + (p.instructor ? ' · docente' : '');
      if (p.hand) text += ' · ✋ levantó la mano';
      text += p.audio ? ' · 🎤' : '';
      li.append(text);
      if (instructor && !p.instructor) {
        for (const [label, action] of [['Silenciar', 'mute'], ['Bajar mano', 'lower_hand'], ['Retirar', 'remove']]) {
          if (action === 'lower_hand' && !p.hand) continue;
          const b = document.createElement('button');
          b.type = 'button';
          b.className = 'btn btn-secondary btn-small';
          b.textContent = label;
          b.dataset.action = action;
          b.dataset.target = p.id;
          li.appendChild(b);
        }
      }
      ul.appendChild(li);
    }
    const mine = list.find((p) => p.id === state.me);
    if (mine && mine.hand !== state.hand && $('btn-mano')) {
      state.hand = mine.hand;
      $('btn-mano').textContent = state.hand ? 'Bajar la mano' : 'Levantar la mano';
      $('btn-mano').setAttribute('aria-pressed', String(state.hand));
    }
    // The instructor's camera or screen may have been turned on or off.
    showMain();
  }

  function addChat(m) {
    const li = document.createElement('li');
    const when = new Date(m.at).toLocaleTimeString('es-AR', { hour: '2-digit', minute: '2-digit' });
    const who = document.createElement('strong');
    who.textContent = `${m.name}: `;
    li.append(`${when} `, who, m.text);
    $('chat').appendChild(li);
    $('chat').scrollTop = $('chat').scrollHeight;
  }

  // ---- controls -------------------------------------------------------------------------
  $('btn-mic').addEventListener('click', () => setMic(!state.micOn));
  $('btn-cam').addEventListener('click', () => setCam(!state.camOn));
  // Learners only: the instructor has no hand to raise in their own class.
  if ($('btn-mano')) $('btn-mano').addEventListener('click', () => send({ type: 'hand', raised: !state.hand }));
  $('calidad').addEventListener('change', (e) => {
    rememberQuality(e.target.value);
    if (e.target.value !== 'auto') send({ type: 'quality', quality: e.target.value });
    else setAuto('alta');
  });

  // "Automática": follows the receiving connection's packet loss, as a bandwidth estimate
  // seen from the learner's side: more than 4% lost in 3 s steps down one layer, 15 s
  // under 1% steps back up.
  const layers = ['baja', 'media', 'alta'];
  const auto = { level: 'alta', lost: 0, received: 0, calm: 0 };
  function setAuto(level) {
    auto.level = level;
    auto.calm = 0;
    send({ type: 'quality', quality: level });
  }
  setInterval(async () => {
    if (!state.subPc || $('calidad').value !== 'auto') return;
    const stats = await state.subPc.getStats();
    // A quality chosen while the stats were read wins: stepping now would override it (and
    // bring the video back to someone who just chose «Solo audio»).
    if ($('calidad').value !== 'auto') return;
    let lost = 0;
    let received = 0;
    stats.forEach((s) => {
      if (s.type === 'inbound-rtp' && s.kind === 'video') {
        lost += s.packetsLost || 0;
        received += s.packetsReceived || 0;
      }
    });
    const dl = lost - auto.lost;
    const dr = received - auto.received;
    auto.lost = lost;
    auto.received = received;
    if (dr + dl <= 0) return;
    const i = layers.indexOf(auto.level);
    const ratio = dl / (dr + dl);
    if (ratio > 0.04 && i > 0) setAuto(layers[i - 1]);
    else if (ratio < 0.01 && (auto.calm += 1) >= 5 && i < layers.length - 1) setAuto(layers[i + 1]);
  }, 3000);
  $('chat-form').addEventListener('submit', (e) => {
    e.preventDefault();
    const text = $('chat-texto').value.trim();
    if (text) send({ type: 'chat', text });
    $('chat-texto').value = '';
  });
  $('btn-salir').addEventListener('click', () => {
    state.leaving = true;
    send({ type: 'leave' });
    teardown();
    location.href = root.dataset.back;
  });
  $('participantes').addEventListener('click', (e) => {
    const b = e.target.closest('button[data-action]');
    if (!b) return;
    send({ type: 'moderate', action: b.dataset.action, target: Number(b.dataset.target) });
  });
  if (instructor) {
    $('btn-pantalla').addEventListener('click', () => setScreen(!state.screenOn));
    $('mod-silenciar').addEventListener('click', () => send({ type: 'moderate', action: 'mute_all' }));
    $('mod-manos').addEventListener('click', () => send({ type: 'moderate', action: 'lower_hands' }));
    const perms = () => send({ type: 'moderate', action: 'permissions', cams: $('mod-camaras').checked, mics: $('mod-micros').checked });
    $('mod-camaras').addEventListener('change', perms);
    $('mod-micros').addEventListener('change', perms);
    $('mod-terminar').addEventListener('click', () => {
      if (window.confirm('¿Terminar la clase para todos?')) send({ type: 'moderate', action: 'end' });
    });
  }

  function teardown() {
    for (const pc of [state.pubPc, state.subPc]) if (pc) pc.close();
    state.pubPc = null;
    state.subPc = null;
    state.tx = {};
    for (const k of ['audio', 'video', 'screen']) if (state.local[k]) { state.local[k].stop(); state.local[k] = null; }
    state.micOn = false;
    state.camOn = false;
    state.views = new Map();
    prune();
  }
  window.addEventListener('pagehide', () => { state.leaving = true; send({ type: 'leave' }); });
})();
