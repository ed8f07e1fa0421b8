// Shared machinery for the browser tests: launch Debian's Chromium through playwright-core,
// open pages that record every problem (console errors, page errors, dialogs, remote or failed
// requests), a tiny step runner, and helpers to find and follow links by where they point.
//
// Nothing here downloads a browser: playwright-core drives the Chromium at $LEAKPRESS_CHROMIUM
// (default /usr/bin/chromium, Debian's package).

import { AsyncLocalStorage } from 'node:async_hooks';
import { chromium } from 'playwright-core';

export const CHROMIUM = process.env.LEAKPRESS_CHROMIUM || '/usr/bin/chromium';

/** Milliseconds any single wait (navigation, click, selector) may take. */
export const TIMEOUT = 15_000;

/** Starts headless Chromium with a fresh profile (playwright makes a temporary user-data-dir). */
export async function launch() {
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    // Playwright adds --headless and a temporary --user-data-dir itself; these are the rest.
    args: [
      '--no-sandbox', // we run as root in CI
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
    timeout: 30_000,
  });
}

/** The id of Chromium's built-in PDF viewer extension. */
const PDF_VIEWER = 'mhjfbmdgcfjbbpaeojofohoefgiehjai';

/** Whether a URL is Chromium's own (its PDF viewer), not something the site loads. */
export function isBrowserInternal(url) {
  return url.startsWith('chrome:') || url.startsWith('chrome-extension:');
}

/** Whether a request URL stays on this machine: file://, or http(s) on 127.0.0.1/localhost. */
export function isLocal(url) {
  let parsed;
  try {
    parsed = new URL(url);
  } catch {
    return false;
  }
  switch (parsed.protocol) {
    case 'file:':
    case 'data:':
    case 'blob:':
    case 'about:':
      return true;
    // Chromium's own PDF viewer (an internal extension with chrome:// resources) runs when a
    // page embeds a PDF; its loads never leave the machine.
    case 'chrome:':
      return true;
    case 'chrome-extension:':
      return parsed.hostname === PDF_VIEWER;
    case 'http:':
    case 'https:':
      return ['127.0.0.1', 'localhost', '[::1]'].includes(parsed.hostname);
    default:
      return false;
  }
}

/**
 * A fresh browser context and page that record every problem into `problems`:
 * console messages of type error, uncaught page errors, dialogs (dismissed), requests that
 * leave the machine (aborted), failed requests, and HTTP error responses for anything but the
 * documents listed in `allowStatus` (url → status) — e.g. the deliberate 404 page.
 */
export async function openPage(browser, label) {
  const context = await browser.newContext({ javaScriptEnabled: true, serviceWorkers: 'block' });
  context.setDefaultTimeout(TIMEOUT);
  context.setDefaultNavigationTimeout(TIMEOUT);
  const page = await context.newPage();
  const problems = [];
  const allowStatus = new Map();
  const where = () => page.url();

  // Every request the page makes goes through here; nothing remote is let out.
  await context.route('**/*', (route) => {
    const url = route.request().url();
    if (isLocal(url)) return route.continue();
    problems.push(`remote request blocked: ${url} (from ${where()})`);
    return route.abort('blockedbyclient');
  });
  // A second net for requests the router never sees (playwright does not route every scheme).
  page.on('request', (request) => {
    if (!isLocal(request.url())) {
      problems.push(`remote request attempted: ${request.url()} (from ${where()})`);
    }
  });
  // Which main-frame navigation each request belongs to: when a step clicks a link or calls
  // goto, Chromium aborts the loads the old document still had in flight (its favicon, a
  // search shard), and on a slow machine there often are some. Those aborts are not failures.
  // An iframe's document (the PDF viewer's file) is a navigation request too, but only the
  // main frame's own navigation failing is a failure of the step.
  let navigation = 0;
  const requestNavigation = new WeakMap();
  const mainNavigations = new WeakSet();
  page.on('request', (request) => {
    if (request.isNavigationRequest() && request.frame() === page.mainFrame()) {
      navigation += 1;
      mainNavigations.add(request);
    }
    requestNavigation.set(request, navigation);
  });
  page.on('requestfailed', (request) => {
    const failure = request.failure()?.errorText ?? 'failed';
    // Our own aborts of remote requests are already reported above; the PDF viewer's loads
    // are cut off whenever the page that embeds it navigates away.
    if (!isLocal(request.url()) || isBrowserInternal(request.url())) return;
    const superseded = requestNavigation.get(request) !== navigation;
    if (superseded && failure === 'net::ERR_ABORTED' && !mainNavigations.has(request)) return;
    problems.push(`request failed: ${request.url()} — ${failure} (from ${where()})`);
  });
  page.on('response', (response) => {
    const status = response.status();
    if (status < 400) return;
    if (allowStatus.get(response.url()) === status) return;
    problems.push(`HTTP ${status} for ${response.url()} (from ${where()})`);
  });
  page.on('console', (message) => {
    if (message.type() !== 'error') return;
    const location = message.location();
    // Chromium logs every error status; the ones a step asked for are not problems.
    const status = /^Failed to load resource: the server responded with a status of (\d+)/.exec(
      message.text(),
    );
    if (status && allowStatus.get(location?.url) === Number(status[1])) return;
    const at = location?.url ? ` at ${location.url}:${location.lineNumber}` : '';
    problems.push(`console error on ${where()}: ${message.text()}${at}`);
  });
  page.on('pageerror', (error) => {
    problems.push(`page error on ${where()}: ${error.stack || error.message || error}`);
  });
  page.on('dialog', async (dialog) => {
    problems.push(`dialog opened on ${where()}: ${dialog.type()} "${dialog.message()}"`);
    await dialog.dismiss().catch(() => {});
  });
  page.on('popup', (popup) => {
    problems.push(`popup window opened from ${where()}: ${popup.url()}`);
  });

  return {
    label,
    context,
    page,
    problems,
    /** Lets a navigation to `url` answer with `status` without counting as a problem. */
    allowStatus(url, status) {
      allowStatus.set(url, status);
    },
    /** Throws if anything went wrong so far, listing every problem, then forgets them. */
    assertNoProblems() {
      if (problems.length) {
        const list = problems.splice(0).map((p) => `  - ${p}`).join('\n');
        throw new Error(`${label}: problems in the browser:\n${list}`);
      }
    },
    async close() {
      await context.close();
    },
  };
}

// ----------------------------------------------------------------------------------------------
// Steps: a tiny runner with a readable transcript and a summary line.

// Sites run concurrently; each keeps its own transcript (printed whole when it finishes).
const transcript = new AsyncLocalStorage();

/** Prints a transcript line: into the current site's transcript, or straight out. */
export function log(line) {
  const lines = transcript.getStore();
  if (lines) lines.push(line);
  else console.log(line);
}

const transcripts = [];

/**
 * Runs `fn` with its own transcript, which `printTranscripts` prints later. A throw is logged
 * into the transcript as a crash and counted as a failed step.
 */
export async function withTranscript(name, fn) {
  const lines = [];
  transcripts.push(lines);
  try {
    await transcript.run(lines, fn);
  } catch (error) {
    results.failed += 1;
    results.failures.push(`${name} (crashed)`);
    lines.push(`  FAIL  ${name} crashed`, indent(String(error?.stack || error)));
  }
}

/** Prints every transcript not printed yet, in the order they were started. */
export function printTranscripts() {
  for (const lines of transcripts.splice(0)) for (const line of lines) console.log(line);
}

const results = { passed: 0, failed: 0, warned: 0, failures: [], warnings: [] };

/**
 * Runs one named step; a thrown error fails it (and is printed) but later steps still run.
 * With `{warnOnly: true}` a failure is printed as WARN and counted apart: for known problems
 * that are reported but must not fail the run yet.
 */
export async function step(name, fn, { warnOnly = false } = {}) {
  const started = Date.now();
  try {
    await fn();
    results.passed += 1;
    log(`  ok    ${name} (${Date.now() - started} ms)`);
    return true;
  } catch (error) {
    const tag = warnOnly ? 'WARN' : 'FAIL';
    if (warnOnly) {
      results.warned += 1;
      results.warnings.push(name);
    } else {
      results.failed += 1;
      results.failures.push(name);
    }
    log(`  ${tag}  ${name} (${Date.now() - started} ms)`);
    log(indent(String(error?.stack || error)));
    return false;
  }
}

/** Prints "browser: N passed, M failed" and returns the process exit code. */
export function summary() {
  const warned = results.warned ? `, ${results.warned} warned (known problems, not failing)` : '';
  console.log(`browser: ${results.passed} passed, ${results.failed} failed${warned}`);
  for (const name of results.failures) console.log(`  failed: ${name}`);
  for (const name of results.warnings) console.log(`  warned: ${name}`);
  return results.failed === 0 && results.passed > 0 ? 0 : 1;
}

function indent(text) {
  return text
    .split('\n')
    .map((line) => `        ${line}`)
    .join('\n');
}

// ----------------------------------------------------------------------------------------------
// Sites: the same steps run against the served build (http) and the offline build (file://).

/**
 * A built site under test. `url(path)` maps a site path ('' for home, 'riverside-fusion-center/')
 * to the URL the browser should land on: folder URLs online, `…/index.html` offline.
 */
export function site(kind, base) {
  const root = base.endsWith('/') ? base : `${base}/`;
  const offline = kind === 'file';
  return {
    kind,
    offline,
    root,
    url(path = '') {
      const clean = path.replace(/^\//, '');
      if (offline && (clean === '' || clean.endsWith('/'))) return `${root}${clean}index.html`;
      return `${root}${clean}`;
    },
  };
}

/** The resolved hrefs of every link on the page, in document order, with their text. */
export async function links(page) {
  return page.$$eval('a[href]', (anchors) =>
    anchors.map((a, index) => ({
      index,
      href: a.href,
      text: (a.textContent || '').replace(/\s+/g, ' ').trim(),
      visible: !!(a.offsetWidth || a.offsetHeight || a.getClientRects().length),
    })),
  );
}

/**
 * Clicks the first visible link whose resolved URL satisfies `predicate(url)` and waits for
 * the navigation to reach that URL. Returns the link ({href, text}).
 */
export async function followLink(page, description, predicate) {
  const all = await links(page);
  const chosen = all.find((link) => link.visible && predicate(link.href));
  if (!chosen) {
    const seen = [...new Set(all.map((l) => l.href))].slice(0, 40).join('\n    ');
    throw new Error(`no visible link to ${description} on ${page.url()}; links seen:\n    ${seen}`);
  }
  await Promise.all([
    page.waitForURL(chosen.href, { waitUntil: 'load' }),
    page.locator('a[href]').nth(chosen.index).click(),
  ]);
  return chosen;
}

/** Same as `assert`, with a message that names the page. */
export function check(page, condition, message) {
  if (!condition) throw new Error(`${message} (on ${page.url()})`);
}

/**
 * The landmarks every page must have: one <main>, one visible non-empty <h1>, a <title>, a
 * language on <html>, and at least one stylesheet.
 */
export async function checkLandmarks(page) {
  const facts = await page.evaluate(() => ({
    mains: document.querySelectorAll('main').length,
    h1s: [...document.querySelectorAll('h1')].map((h) => (h.textContent || '').trim()),
    title: document.title.trim(),
    lang: document.documentElement.getAttribute('lang') || '',
    // Over file:// each file is its own origin, so a sheet's rules cannot be read; failed
    // loads are caught as failed requests and console errors instead.
    sheets: document.styleSheets.length,
  }));
  check(page, facts.mains === 1, `expected one <main>, found ${facts.mains}`);
  check(page, facts.h1s.length === 1, `expected one <h1>, found ${facts.h1s.length}: ${JSON.stringify(facts.h1s)}`);
  check(page, facts.h1s[0] !== '', 'the <h1> is empty');
  check(page, facts.title !== '', 'the <title> is empty');
  check(page, facts.lang !== '', '<html> has no lang attribute');
  check(page, facts.sheets > 0, 'no stylesheet loaded');
  await page.locator('main h1, h1').first().waitFor({ state: 'visible' });
  return facts;
}

/**
 * Runs `runSite` for each site side by side (each with its own transcript), prints the
 * transcripts and closes the browser. Returns the exit code from the summary.
 */
export async function runSites(browser, sites, runSite, started) {
  try {
    await Promise.all(sites.map((site) => withTranscript(site.kind, () => runSite(site))));
    printTranscripts();
  } finally {
    await browser.close();
  }
  console.log(`browser: finished in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  return summary();
}

/**
 * Runs `main` as the whole script: exits with the code it returns, and fails with whatever
 * transcripts there are, never hangs, when it crashes or takes more than `seconds`.
 */
export function runScript(main, seconds) {
  setTimeout(() => {
    printTranscripts();
    console.log(`browser: timed out after ${seconds} s (transcripts above are as far as each got)`);
    summary();
    process.exit(1);
  }, seconds * 1000).unref();
  main().then(
    (code) => process.exit(code),
    (error) => {
      printTranscripts();
      console.log(`browser: crashed: ${error?.stack || error}`);
      summary();
      process.exit(1);
    },
  );
}
