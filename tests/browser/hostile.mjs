// The hostile-input browser test (issue #3): every page built from tests/fixtures/hostile/
// (leaked HTML with script, event handlers, javascript: links, <base>, meta refresh, remote
// images, styles and fonts; SVG with script; hostile and broken mail; Markdown with raw HTML)
// is opened in headless Chromium, served over http and from file://. Each must load with no
// dialog, no request off the machine, no console or page error, no navigation away, no script
// but the theme's own, only sandboxed frames (besides the browser's PDF viewer), and every
// remote-image placeholder visible.
//
//   node tests/browser/hostile.mjs --pages pages.json [--http URL] [--file file:///…/]
//
// pages.json (written by tests/browser.rs from the build) is
//   {"pages": [{"path": "hostile-agency/web-evil-html/index.html", "placeholders": true}, …],
//    "clicks": [{"page": "…/index.html", "target": "…/evil.html.txt"}]}
// with paths relative to the site root; "placeholders" marks pages whose source had remote
// images (the build report says so). Online, `…/index.html` is visited as its folder URL.

import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import {
  launch,
  openPage,
  step,
  site as makeSite,
  links,
  check,
  CHROMIUM,
  log,
  runSites,
  runScript,
} from './harness.mjs';

/**
 * How long a page is watched after its load for a late navigation (meta refresh, timers).
 * The fixture's refreshes all say 0 s, so one that survived would fire within this.
 */
const SETTLE_MS = 300;

/** The URL a site path is visited at: folders online, `index.html` files from disk. */
function pageUrl(site, path) {
  if (!site.offline && path.endsWith('index.html')) {
    return site.root + path.slice(0, -'index.html'.length);
  }
  return site.root + path;
}

/** What the DOM says about active content, after the browser parsed the page. */
async function inspect(page, siteRoot) {
  return page.evaluate((root) => {
    const problems = [];
    for (const script of document.querySelectorAll('script')) {
      const src = script.getAttribute('src');
      if (!src) {
        problems.push(`inline <script>: ${script.textContent.slice(0, 80)}`);
        continue;
      }
      const url = script.src;
      const ours = url.startsWith(root) && /^(assets|search)\//.test(url.slice(root.length));
      if (!ours) problems.push(`<script src="${src}"> outside the theme's assets`);
    }
    for (const el of document.querySelectorAll('*')) {
      for (const attr of el.attributes) {
        const name = attr.name.toLowerCase();
        const value = attr.value.trim().toLowerCase();
        if (name.startsWith('on') || name === 'ping') problems.push(`<${el.localName} ${name}>`);
        if (/^(javascript|vbscript|data):/.test(value) && ['href', 'src', 'action', 'formaction', 'xlink:href'].includes(name)) {
          if (!(el.localName === 'img' && value.startsWith('data:image/'))) {
            problems.push(`<${el.localName} ${name}="${attr.value.slice(0, 60)}">`);
          }
        }
      }
    }
    for (const el of document.querySelectorAll('base, object, embed, frame, frameset, meta[http-equiv]')) {
      const equiv = (el.getAttribute('http-equiv') || '').toLowerCase();
      if (el.localName !== 'meta' || equiv === 'refresh' || equiv === 'set-cookie') {
        problems.push(`<${el.localName}${equiv ? ` http-equiv=${equiv}` : ''}>`);
      }
    }
    const frames = [...document.querySelectorAll('iframe')].map((frame) => ({
      src: frame.src,
      className: frame.className,
      sandbox: frame.hasAttribute('sandbox') ? frame.getAttribute('sandbox') : null,
    }));
    const placeholders = [...document.querySelectorAll('.blocked-remote')].map((el) => {
      const box = el.getBoundingClientRect();
      const style = getComputedStyle(el);
      return {
        text: (el.textContent || '').trim(),
        visible: box.width > 0 && box.height > 0 && style.visibility !== 'hidden' && style.display !== 'none',
      };
    });
    return { problems, frames, placeholders, contentType: document.contentType };
  }, siteRoot);
}

/**
 * Opens one page and checks everything the issue asks of it; a failure lists every problem
 * found on the page (the browser's records included), not only the first.
 */
async function visit(tab, site, entry) {
  const { page } = tab;
  const url = pageUrl(site, entry.path);
  const failures = [];
  const expect = (condition, message) => {
    if (!condition) failures.push(message);
  };
  // Any main-frame navigation after the load (a refresh, a script) is a problem.
  let loaded = false;
  const strayNavigations = [];
  const onNavigate = (frame) => {
    if (loaded && frame === page.mainFrame()) strayNavigations.push(frame.url());
  };
  page.on('framenavigated', onNavigate);
  let facts = { problems: [], frames: [], placeholders: [] };
  try {
    const response = await page.goto(url, { waitUntil: 'load' });
    if (!site.offline) expect(response && response.status() === 200, `answered ${response?.status()}`);
    loaded = true;
    expect(page.url() === url, `landed on ${page.url()}`);
    await page.waitForTimeout(SETTLE_MS);
    expect(strayNavigations.length === 0, `navigated away to ${strayNavigations.join(', ')}`);
    facts = await inspect(page, site.root);
  } finally {
    page.off('framenavigated', onNavigate);
  }
  if (entry.path.endsWith('.txt')) {
    expect(facts.contentType === 'text/plain', `shown as ${facts.contentType}, not text/plain`);
  }
  for (const problem of facts.problems) failures.push(`active content in the DOM: ${problem}`);
  for (const frame of facts.frames) {
    // The browser's own PDF viewer cannot run in a sandbox; it only ever shows our PDFs.
    const pdfViewer = frame.className === 'pdf-viewer' && frame.src.startsWith(site.root) && /\.pdf$/i.test(frame.src);
    if (pdfViewer) continue;
    expect(frame.sandbox !== null, `<iframe src="${frame.src}"> is not sandboxed`);
    expect(
      frame.sandbox === null || (!/\ballow-scripts\b/.test(frame.sandbox) && !/\ballow-same-origin\b/.test(frame.sandbox)),
      `<iframe src="${frame.src}"> sandbox="${frame.sandbox}" lets its content run or reach ours`,
    );
  }
  if (entry.placeholders) {
    expect(facts.placeholders.length > 0, 'remote images were reported but no placeholder is shown');
  }
  const hidden = facts.placeholders.filter((p) => !p.visible);
  expect(hidden.length === 0, `placeholders not visible: ${hidden.map((p) => p.text).join('; ')}`);
  failures.push(...tab.problems.splice(0));
  if (failures.length) throw new Error(`${url}:\n  - ${failures.join('\n  - ')}`);
  return facts;
}

/**
 * Clicks the link to `target` on `from`, as a reader fetching the original does. The link
 * carries `download`, so online the browser downloads the file; from disk Chromium ignores
 * `download` and opens it. Either way nothing may run: a download must not move the page, and
 * an opened original must be shown as text. Waits for the download, or for the target's own
 * load, never just for the click.
 */
async function click(tab, site, { page: from, target }) {
  const { page } = tab;
  const fromUrl = pageUrl(site, from);
  await page.goto(fromUrl, { waitUntil: 'load' });
  const want = site.root + target;
  const link = (await links(page)).find((l) => l.visible && l.href === want);
  check(page, link, `no visible link to ${want}`);
  const outcome = await Promise.all([
    Promise.race([
      page.waitForEvent('download').then((download) => ({ download })),
      page.waitForURL(want, { waitUntil: 'load' }).then(() => ({ opened: true })),
    ]),
    page.locator('a[href]').nth(link.index).click(),
  ]).then(([first]) => first);
  if (outcome.download) {
    const name = outcome.download.suggestedFilename();
    log(`        downloaded as ${name}`);
    await outcome.download.cancel();
    await page.waitForTimeout(SETTLE_MS);
    check(page, page.url() === fromUrl, `the download moved the page to ${page.url()}`);
  } else {
    check(page, page.url() === want, `expected ${want}`);
    const contentType = await page.evaluate(() => document.contentType);
    check(page, contentType === 'text/plain', `the original is shown as ${contentType}, not text/plain`);
    await page.waitForTimeout(SETTLE_MS);
    check(page, page.url() === want, `left for ${page.url()}`);
  }
  tab.assertNoProblems();
}

async function main() {
  const { values } = parseArgs({
    options: { http: { type: 'string' }, file: { type: 'string' }, pages: { type: 'string' } },
  });
  const sites = [];
  if (values.http) sites.push(makeSite('http', values.http));
  if (values.file) sites.push(makeSite('file', values.file));
  if (!sites.length || !values.pages) {
    console.error('usage: node tests/browser/hostile.mjs --pages pages.json [--http URL] [--file file:///…/]');
    return 2;
  }
  const plan = JSON.parse(readFileSync(values.pages, 'utf8'));
  if (!plan.pages.length) {
    console.error('hostile: no pages to visit');
    return 2;
  }

  const started = Date.now();
  console.log(`browser: Chromium at ${CHROMIUM}`);
  const browser = await launch();
  console.log(`browser: ${browser.version()} started in ${Date.now() - started} ms`);
  const runSite = async (site) => {
    log(`${site.kind}: ${site.root} (${plan.pages.length} pages)`);
    const tab = await openPage(browser, `${site.kind} hostile`);
    try {
      let placeholders = 0;
      for (const entry of plan.pages) {
        await step(`${site.kind}: ${entry.path}`, async () => {
          placeholders += (await visit(tab, site, entry)).placeholders.length;
        });
      }
      log(`        ${placeholders} remote-image placeholders checked`);
      for (const entry of plan.clicks) {
        await step(`${site.kind}: click from ${entry.page} to ${entry.target}`, () => click(tab, site, entry));
      }
    } finally {
      await tab.close();
    }
  };
  return runSites(browser, sites, runSite, started);
}

// Never hang a test run (tests/browser.rs also kills the driver, later).
runScript(main, 240);
