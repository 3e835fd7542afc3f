// Browser test of the lesson player (static/media.js): the page fetches no video or audio
// before play is pressed, play fetches the light rendition, a chosen quality is remembered
// across visits, and a browser that asks to save data starts light whatever was chosen.
//
// Driven by the Rust test `media::browser_lesson_player` (cargo test --test it -- --ignored),
// which starts the app with ffmpeg renditions, waits for those of the demo video, enrols a
// learner and passes:
//   AULA_BASE, AULA_COOKIE (session cookie value), AULA_LESSON (path of the lesson page),
//   AULA_LIGHT, AULA_ORIGINAL, AULA_AUDIO (addresses of the three files). Exit 0 = pass.
import { chromium } from 'playwright-core';

const base = process.env.AULA_BASE;
const lesson = process.env.AULA_LESSON;
const light = process.env.AULA_LIGHT;
const original = process.env.AULA_ORIGINAL;
const audio = process.env.AULA_AUDIO;
const chromePath = process.env.CHROMIUM || '/usr/bin/chromium';

const browser = await chromium.launch({
  executablePath: chromePath,
  headless: true,
  args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-quic',
    '--disable-component-update', '--disable-sync', '--no-first-run', '--autoplay-policy=no-user-gesture-required'],
});
let failed = false;
const fail = (msg) => { console.error(`BROWSER TEST FAIL: ${msg}`); failed = true; };
const media = [light, original, audio];

async function visit(ctx, what) {
  const page = await ctx.newPage();
  const fetched = [];
  page.on('pageerror', (e) => fail(`${what}: error de JavaScript: ${e.message}`));
  page.on('request', (r) => {
    const path = new URL(r.url()).pathname;
    if (media.includes(path)) fetched.push(path);
  });
  page.on('response', (r) => { if (r.status() === 404) fail(`${what}: ${r.url()} no existe (404)`); });
  const resp = await page.goto(`${base}${lesson}`);
  if (resp.status() !== 200) throw new Error(`${what}: la lección respondió ${resp.status()}`);
  await page.waitForLoadState('networkidle');
  await page.waitForTimeout(500);
  return { page, fetched };
}

const checked = (page) => page.evaluate(() => document.querySelector('input[name="calidad"]:checked')?.value);
const src = (page) => page.evaluate(() => document.querySelector('figure[data-player] video').getAttribute('src'));

async function playAndSee(page, fetched, want, what) {
  await page.evaluate(() => { const v = document.querySelector('figure[data-player] video'); v.muted = true; return v.play().catch(() => {}); });
  for (let i = 0; i < 50 && !fetched.includes(want); i++) await page.waitForTimeout(100);
  if (!fetched.includes(want)) fail(`${what}: al reproducir no se pidió ${want} (se pidió: ${fetched.join(', ') || 'nada'})`);
  const others = fetched.filter((p) => p !== want);
  if (others.length) fail(`${what}: se pidió además ${others.join(', ')}`);
}

try {
  const cookie = { name: 'aula_sesion', value: process.env.AULA_COOKIE, domain: new URL(base).hostname, path: '/' };

  // First visit: nothing before play; the choice is shown with «liviano» selected; play fetches it.
  const ctx = await browser.newContext();
  await ctx.addCookies([cookie]);
  let { page, fetched } = await visit(ctx, 'primera visita');
  if (fetched.length) fail(`primera visita: se pidió ${fetched.join(', ')} antes de reproducir`);
  if (await page.isHidden('.media-quality')) fail('la elección de calidad no se muestra con JavaScript');
  if ((await checked(page)) !== 'liviano') fail(`empieza en «${await checked(page)}», no en «liviano»`);
  await playAndSee(page, fetched, light, 'primera visita');

  // Choosing «alta» is remembered: the next visit starts there, still fetching nothing first.
  await page.check('input[name="calidad"][value="alta"]');
  const stored = await page.evaluate(() => localStorage.getItem('aula.calidad'));
  if (stored !== 'alta') fail(`la elección no se guardó: ${stored}`);
  await page.close();
  ({ page, fetched } = await visit(ctx, 'segunda visita'));
  if (fetched.length) fail(`segunda visita: se pidió ${fetched.join(', ')} antes de reproducir`);
  if ((await checked(page)) !== 'alta') fail(`la segunda visita no recuerda «alta»: ${await checked(page)}`);
  if ((await src(page)) !== original) fail(`la segunda visita no usa el original: ${await src(page)}`);
  await playAndSee(page, fetched, original, 'segunda visita');
  await page.close();

  // «Solo audio» plays the audio file.
  ({ page, fetched } = await visit(ctx, 'solo audio'));
  await page.check('input[name="calidad"][value="audio"]');
  if ((await src(page)) !== audio) fail(`«solo audio» no usa el audio: ${await src(page)}`);
  await playAndSee(page, fetched, audio, 'solo audio');
  await page.close();
  await ctx.close();

  // A browser that saves data starts light even if «alta» was chosen before.
  const saver = await browser.newContext();
  await saver.addCookies([cookie]);
  await saver.addInitScript(() => {
    Object.defineProperty(navigator, 'connection', { value: { saveData: true }, configurable: true });
    localStorage.setItem('aula.calidad', 'alta');
  });
  ({ page, fetched } = await visit(saver, 'ahorro de datos'));
  if ((await checked(page)) !== 'liviano') fail(`con ahorro de datos empieza en «${await checked(page)}»`);
  if (fetched.length) fail(`ahorro de datos: se pidió ${fetched.join(', ')} antes de reproducir`);
  await playAndSee(page, fetched, light, 'ahorro de datos');
  await saver.close();
} catch (e) {
  fail(e.stack || String(e));
} finally {
  await browser.close();
}
if (failed) process.exit(1);
console.log('reproductor de lecciones: OK');
