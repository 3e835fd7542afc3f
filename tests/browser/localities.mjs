// Browser test of the registration form's «Localidad»: once a department is chosen, only its
// localities are offered; changing the department drops a locality of the old one.
//
// Driven by the Rust test `accounts::browser_registration_localities_follow_the_department`
// (cargo test --test it -- --ignored), which starts the app and passes:
//   AULA_BASE, AULA_DEPT_A and AULA_DEPT_B (department ids), AULA_COUNT_A and AULA_COUNT_B
//   (how many localities each has), AULA_TOTAL (all localities). Exit 0 = pass.
import { chromium } from 'playwright-core';

const base = process.env.AULA_BASE;
const [deptA, deptB] = [process.env.AULA_DEPT_A, process.env.AULA_DEPT_B];
const [countA, countB, total] = [process.env.AULA_COUNT_A, process.env.AULA_COUNT_B, process.env.AULA_TOTAL].map(Number);
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
  const page = await (await browser.newContext({ viewport: { width: 390, height: 844 } })).newPage();
  page.on('pageerror', (e) => fail(`error de JavaScript: ${e.message}`));
  page.on('console', (m) => { if (m.type() === 'error') fail(`consola: ${m.text()}`); });
  page.on('response', (r) => { if (r.status() >= 400) fail(`${r.url()} respondió ${r.status()}`); });
  const resp = await page.goto(`${base}/registro`);
  if (resp.status() !== 200) throw new Error(`/registro respondió ${resp.status()}`);
  const offered = () => page.$$eval('#locality_id option', (os) => os.filter((o) => o.value !== '').length);
  const groups = () => page.$$eval('#locality_id optgroup', (gs) => gs.map((g) => g.getAttribute('data-department')));

  const before = await offered();
  if (before !== total) fail(`sin departamento se ofrecen ${before} localidades, no las ${total}`);

  await page.selectOption('#department_id', deptA);
  let n = await offered();
  if (n !== countA) fail(`con el departamento A se ofrecen ${n} localidades, no ${countA}`);
  const g = await groups();
  if (g.length !== 1 || g[0] !== deptA) fail(`grupos con el departamento A: ${JSON.stringify(g)}`);
  const firstA = await page.$eval('#locality_id optgroup option', (o) => o.value);
  await page.selectOption('#locality_id', firstA);

  // Another department: its localities only, and the old choice is dropped.
  await page.selectOption('#department_id', deptB);
  n = await offered();
  if (n !== countB) fail(`con el departamento B se ofrecen ${n} localidades, no ${countB}`);
  const chosen = await page.$eval('#locality_id', (s) => s.value);
  if (chosen !== '') fail(`la localidad del otro departamento quedó elegida: ${chosen}`);

  // Back to A: a choice that fits is kept across a re-render.
  await page.selectOption('#department_id', deptA);
  await page.selectOption('#locality_id', firstA);
  await page.evaluate(() => document.getElementById('department_id').dispatchEvent(new Event('change')));
  if ((await page.$eval('#locality_id', (s) => s.value)) !== firstA) fail('se perdió una localidad que sí corresponde');

  // The form posts the pair; the phone keyboard for DNI and CUIL is numeric.
  for (const id of ['dni', 'cuil', 'claim_code']) {
    const mode = await page.getAttribute(`#${id}`, 'inputmode');
    if (mode !== 'numeric') fail(`#${id} no abre el teclado numérico (${mode})`);
  }
} catch (e) {
  fail(e.message);
} finally {
  await browser.close();
}
process.exit(failed ? 1 : 0);
