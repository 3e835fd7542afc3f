// Browser test of certification: a certifier ticks a learner's box and certifies on the class
// page; then an anonymous visitor types the code at /verificar and reads the public page.
//
// Driven by the Rust test `certification::browser_certify_and_verify` (cargo test --test it --
// --ignored), which starts the app, makes a learner eligible and passes:
//   AULA_BASE, AULA_COOKIE (the certifier's session cookie), AULA_CLASS (class id),
//   AULA_PERSON (the learner's person id), AULA_HOLDER (the learner's full name). Exit 0 = pass;
//   prints "CODE <code>" for the Rust side.
import { chromium } from 'playwright-core';

const base = process.env.AULA_BASE;
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
  // The certifier, on a phone-sized screen.
  const ctx = await browser.newContext({ viewport: { width: 390, height: 844 } });
  await ctx.addCookies([{ name: 'aula_sesion', value: process.env.AULA_COOKIE, domain: new URL(base).hostname, path: '/' }]);
  const page = await ctx.newPage();
  page.on('pageerror', (e) => fail(`error de JavaScript: ${e.message}`));
  await page.goto(`${base}/certificacion`);
  await page.click(`a[href="/certificacion/comisiones/${process.env.AULA_CLASS}"]`);
  await page.check(`input[name="persona"][value="${process.env.AULA_PERSON}"]`);
  await page.click('text=Certificar a las personas marcadas');
  await page.waitForSelector('text=Certificado emitido.', { timeout: 10000 })
    .catch(() => fail('no apareció «Certificado emitido.»'));
  const link = await page.$(`#persona-${process.env.AULA_PERSON} a[href^="/verificar/"]`);
  if (!link) throw new Error('la página no muestra el código del certificado');
  const code = (await link.textContent()).trim();
  console.log(`CODE ${code}`);

  // An anonymous visitor types the code, in lower case with a dash, as read from paper.
  const anon = await browser.newContext({ viewport: { width: 390, height: 844 } });
  const visitor = await anon.newPage();
  visitor.on('pageerror', (e) => fail(`error de JavaScript: ${e.message}`));
  await visitor.goto(`${base}/verificar`);
  await visitor.fill('#codigo', `${code.slice(0, 5)}-${code.slice(5)}`.toLowerCase());
  await visitor.press('#codigo', 'Enter');
  await visitor.waitForURL(`${base}/verificar/${code}`, { timeout: 10000 })
    .catch(() => fail(`no llevó a /verificar/${code} (está en ${visitor.url()})`));
  const text = await visitor.textContent('main');
  if (!text.includes('VIGENTE')) fail('la página pública no dice VIGENTE');
  if (!text.includes(process.env.AULA_HOLDER)) fail('la página pública no nombra al titular');
  if (!text.includes('Verificada: la firmó')) fail('la página pública no muestra la firma verificada');
  // A mistyped code gets a clear answer at the field.
  await visitor.goto(`${base}/verificar`);
  await visitor.fill('#codigo', 'ABCDE-FGHJK');
  await visitor.press('#codigo', 'Enter');
  await visitor.waitForSelector('#codigo-error', { timeout: 10000 }).catch(() => {});
  const invalid = await visitor.getAttribute('#codigo', 'aria-invalid');
  const error = await visitor.textContent('#codigo-error').catch(() => '');
  if (invalid !== 'true' || !error) fail('un código mal escrito no se explica en el campo');
} catch (e) {
  fail(e.message);
} finally {
  await browser.close();
}
process.exit(failed ? 1 : 0);
