// Browser test of the quiz page's JavaScript: answers autosave in the background, the page says
// "Guardado HH:MM:SS", the countdown runs, an answer given while offline is saved when the
// connection comes back, and a reload shows every saved answer.
//
// Driven by the Rust test `assessment::browser_quiz_autosave` (cargo test --test it -- --ignored),
// which starts the app, enrols a learner, starts a timed attempt and passes:
//   AULA_BASE, AULA_COOKIE (session cookie value), AULA_ATTEMPT (id),
//   AULA_RIGHT and AULA_WRONG (the form values of two options of question r0). Exit 0 = pass.
import { chromium } from 'playwright-core';

const base = process.env.AULA_BASE;
const attempt = process.env.AULA_ATTEMPT;
const right = process.env.AULA_RIGHT;
const wrong = process.env.AULA_WRONG;
const chromePath = process.env.CHROMIUM || '/usr/bin/chromium';

const browser = await chromium.launch({
  executablePath: chromePath,
  headless: true,
  args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-quic',
    '--disable-component-update', '--disable-sync', '--no-first-run'],
});
let failed = false;
const fail = (msg) => { console.error(`BROWSER TEST FAIL: ${msg}`); failed = true; };
try {
  const ctx = await browser.newContext();
  await ctx.addCookies([{ name: 'aula_sesion', value: process.env.AULA_COOKIE, domain: new URL(base).hostname, path: '/' }]);
  const page = await ctx.newPage();
  page.on('pageerror', (e) => fail(`error de JavaScript: ${e.message}`));
  page.on('response', (r) => { if (r.status() === 404) fail(`${r.url()} no existe (404)`); });
  const resp = await page.goto(`${base}/intentos/${attempt}`);
  if (resp.status() !== 200) throw new Error(`el intento respondió ${resp.status()}`);

  // The countdown runs from the server's remaining time.
  const t0 = await page.textContent('#restante');
  await page.waitForTimeout(2200);
  const t1 = await page.textContent('#restante');
  if (!/^\d+:\d\d$/.test(t1) || t0 === t1) fail(`la cuenta regresiva no avanza: ${t0} → ${t1}`);

  const saved = /^Guardado \d\d:\d\d:\d\d$/;
  const waitSaved = async (what) => {
    await page.waitForFunction((re) => new RegExp(re).test(document.getElementById('guardado').textContent.trim()),
      saved.source, { timeout: 10000 }).catch(() => fail(`no apareció «Guardado» después de ${what}`));
  };

  // A click saves in the background, for the page and for that question.
  await page.check(`input[name="r0"][value="${wrong}"]`);
  await waitSaved('elegir una opción');
  const q0 = (await page.textContent('[data-estado="0"]')).trim();
  if (!saved.test(q0)) fail(`la pregunta 1 no dice «Guardado»: «${q0}»`);

  // Offline: the page says so, keeps the change, and saves it when the connection returns.
  await ctx.setOffline(true);
  await page.check(`input[name="r0"][value="${right}"]`);
  await page.waitForFunction(() => document.getElementById('guardado').textContent.includes('Sin conexión'),
    null, { timeout: 10000 }).catch(() => fail('sin conexión no se avisa'));
  await ctx.setOffline(false);
  await page.evaluate(() => window.dispatchEvent(new Event('online')));
  await waitSaved('volver la conexión');

  await page.check('input[name="r1"][value="true"]');
  await waitSaved('responder verdadero/falso');
  const q1 = (await page.textContent('[data-estado="1"]')).trim();
  if (!saved.test(q1)) fail(`la pregunta 2 no dice «Guardado»: «${q1}»`);

  // Reload: every saved answer is there.
  await page.reload();
  if (!(await page.isChecked(`input[name="r0"][value="${right}"]`))) fail('al recargar, la respuesta 1 no está');
  if (!(await page.isChecked('input[name="r1"][value="true"]'))) fail('al recargar, la respuesta 2 no está');
  // Another phone (a browser with nothing of this page in its form memory): the same answers.
  const other = await browser.newContext();
  await other.addCookies([{ name: 'aula_sesion', value: process.env.AULA_COOKIE, domain: new URL(base).hostname, path: '/' }]);
  const phone = await other.newPage();
  phone.on('pageerror', (e) => fail(`error de JavaScript en el otro teléfono: ${e.message}`));
  await phone.goto(`${base}/intentos/${attempt}`);
  if (!(await phone.isChecked(`input[name="r0"][value="${right}"]`))) fail('en otro teléfono, la respuesta 1 no está');
  if (!(await phone.isChecked('input[name="r1"][value="true"]'))) fail('en otro teléfono, la respuesta 2 no está');
} catch (e) {
  fail(e.message);
} finally {
  await browser.close();
}
process.exit(failed ? 1 : 0);
