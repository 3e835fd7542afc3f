// Browser test of what a person on a 390 px phone meets (issue 8): no page wider than the
// screen, wide tables scroll inside a region that says so, long lesson titles wrap with their
// number on the first line, and navigation links are tap targets at least 24 px tall.
//
// Driven by the Rust test `ux::browser_pages_fit_a_phone` (cargo test --test it -- --ignored),
// which starts the app, prepares the data and passes:
//   AULA_BASE; AULA_PAGES, lines "<session cookie> <path>" (one page each; "-" for no
//   session); AULA_OUTLINE, "<session cookie> <path>" of a course page with a long lesson
//   title. Exit 0 = pass.
import { chromium } from 'playwright-core';

const base = process.env.AULA_BASE;
const pages = process.env.AULA_PAGES.trim().split('\n').map((l) => l.trim().split(' '));
const [outlineCookie, outlinePath] = process.env.AULA_OUTLINE.trim().split(' ');
const chromePath = process.env.CHROMIUM || '/usr/bin/chromium';
const WIDTH = 390;
const MIN_TARGET = 24;

const browser = await chromium.launch({
  executablePath: chromePath,
  headless: true,
  args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-quic',
    '--disable-component-update', '--disable-sync', '--no-first-run'],
});
let failed = false;
const fail = (msg) => { console.error(`BROWSER TEST FAIL: ${msg}`); failed = true; };

async function open(cookie, path) {
  const context = await browser.newContext({ viewport: { width: WIDTH, height: 844 } });
  if (cookie !== '-') {
    await context.addCookies([{ name: 'aula_sesion', value: cookie, url: base }]);
  }
  const page = await context.newPage();
  page.on('pageerror', (e) => fail(`${path}: error de JavaScript: ${e.message}`));
  const resp = await page.goto(`${base}${path}`);
  if (resp.status() !== 200) throw new Error(`${path} respondió ${resp.status()}`);
  return { page, context };
}

try {
  for (const [cookie, path] of pages) {
    const { page, context } = await open(cookie, path);
    const report = await page.evaluate(({ MIN_TARGET }) => {
      const out = { pageWidth: document.documentElement.scrollWidth, tables: [], small: [], wide: [] };
      // What sticks out, outside scrollable regions: says what to fix when the page is too wide.
      for (const e of document.body.querySelectorAll('*')) {
        if (e.closest('.table-wrap') || out.wide.length >= 5) continue;
        const right = e.getBoundingClientRect().right;
        if (right > document.documentElement.clientWidth + 1) {
          out.wide.push(`${e.tagName.toLowerCase()}${e.className ? '.' + e.className : ''} (${Math.round(right)} px)`);
        }
      }
      for (const table of document.querySelectorAll('main table')) {
        const region = table.closest('.table-wrap');
        const r = {
          fits: table.getBoundingClientRect().width <= (region || table).clientWidth + 1,
          scrolls: !!region && getComputedStyle(region).overflowX === 'auto',
          focusable: !!region && region.tabIndex === 0,
          named: !!region && !!(region.getAttribute('aria-label') || region.getAttribute('aria-labelledby')),
          hint: false,
        };
        // A visible hint tied to the region says there is more to the side.
        const hintId = region && region.getAttribute('aria-describedby');
        const hint = hintId && document.getElementById(hintId);
        if (hint) {
          const b = hint.getBoundingClientRect();
          r.hint = b.height > 0 && getComputedStyle(hint).visibility !== 'hidden';
        }
        out.tables.push(r);
      }
      // Navigation links: breadcrumbs, lists of links, links alone in a paragraph.
      const nav = [...document.querySelectorAll(
        'main nav a, main .outline a, main ul.links a, main .row-links a, main p > a:only-child:not(.btn)')];
      for (const a of nav) {
        const b = a.getBoundingClientRect();
        if (b.width > 0 && b.height < MIN_TARGET) {
          out.small.push(`«${a.textContent.trim().slice(0, 40)}» ${b.height.toFixed(1)} px`);
        }
      }
      return out;
    }, { MIN_TARGET });
    console.log(path, JSON.stringify(report));
    if (report.pageWidth > WIDTH) fail(`${path}: la página mide ${report.pageWidth} px en ${WIDTH} px: ${report.wide.join(', ')}`);
    report.tables.forEach((t, i) => {
      if (!t.fits && !(t.scrolls && t.focusable && t.named && t.hint)) {
        fail(`${path}: la tabla ${i + 1} no entra y no es una región desplazable con aviso visible ${JSON.stringify(t)}`);
      }
    });
    if (report.small.length) fail(`${path}: enlaces de navegación de menos de ${MIN_TARGET} px: ${report.small.join(', ')}`);
    await context.close();
  }

  // A long lesson title wraps with its number beside the first line, not the last.
  const { page, context } = await open(outlineCookie, outlinePath);
  const items = await page.evaluate(() => [...document.querySelectorAll('.outline > li')].map((li) => {
    const a = li.querySelector('a') || li;
    const rects = a.getClientRects();
    // A zero-width probe at the start of the item sits where the marker's line is.
    const probe = document.createElement('span');
    probe.textContent = '\u200b';
    li.insertBefore(probe, li.firstChild);
    const p = probe.getBoundingClientRect();
    probe.remove();
    return { lines: rects.length > 1 ? rects.length : Math.round(a.getBoundingClientRect().height / parseFloat(getComputedStyle(a).lineHeight || '24')), first: rects[0].top, last: rects[rects.length - 1].bottom, probe: p.top, probeBottom: p.bottom, title: a.textContent.trim().slice(0, 30) };
  }));
  console.log(outlinePath, JSON.stringify(items));
  const wrapped = items.filter((i) => i.last - i.first > 40);
  if (!wrapped.length) fail('ningún título largo ocupa más de una línea: la prueba no prueba nada');
  for (const i of wrapped) {
    if (Math.abs(i.probe - i.first) > 12) {
      fail(`«${i.title}»: el número queda a ${Math.round(i.probe - i.first)} px de la primera línea del título`);
    }
  }
  await context.close();
} catch (e) {
  fail(e.message);
} finally {
  await browser.close();
}
process.exit(failed ? 1 : 0);
