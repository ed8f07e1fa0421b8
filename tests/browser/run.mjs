// The browser test (issue #2): browses a built leakpress site in headless Chromium, served over
// http and opened from disk (file://), and fails on any console error, page error, dialog,
// failed request or request that leaves the machine.
//
//   node tests/browser/run.mjs [--http http://127.0.0.1:PORT/] [--file file:///…/offline/]
//
// tests/browser.rs builds the bundled sample archive twice (normal and --offline), serves the
// normal build and runs this script. Prints a transcript and "browser: N passed, M failed";
// exits non-zero on any failure.
//
// Adding checks: search steps live in search.mjs (searchSteps); other flows are functions
// below, called from main() for each site.

import { parseArgs } from 'node:util';
import {
  launch,
  openPage,
  step,
  site as makeSite,
  followLink,
  links,
  check,
  checkLandmarks,
  CHROMIUM,
  log,
  runSites,
  runScript,
} from './harness.mjs';
import { searchSteps } from './search.mjs';

// What the bundled sample archive (content/ at the repository root) holds.
const SITE_TITLE = 'Harbor Leaks';
const AGENCY_SLUG = 'riverside-fusion-center';
const AGENCY_NAME = 'Riverside Regional Fusion Center';
// Folders under an agency that are listings, not documents.
const AGENCY_LISTINGS = new Set(['page', 'oldest', 'title']);

/** home → agency (via a link) → document (via a link) → back → back. */
async function browseFlow(tab, site, label) {
  const { page } = tab;
  const homeUrl = site.url('');
  const agencyUrl = site.url(`${AGENCY_SLUG}/`);
  let homeTitle = '';
  let agencyTitle = '';

  const steps = [
    [
      'home page',
      async () => {
        const response = await page.goto(homeUrl, { waitUntil: 'load' });
        if (!site.offline) {
          check(page, response && response.status() === 200, `home answered ${response?.status()}`);
        }
        check(page, page.url() === homeUrl, `expected ${homeUrl}`);
        await checkLandmarks(page);
        homeTitle = await page.title();
        check(page, homeTitle.includes(SITE_TITLE), `home title "${homeTitle}" lacks "${SITE_TITLE}"`);
        const text = await page.locator('main').innerText();
        check(page, text.includes(AGENCY_NAME), `home does not list ${AGENCY_NAME}`);
        tab.assertNoProblems();
      },
    ],
    [
      `click through to the agency page (${AGENCY_SLUG})`,
      async () => {
        await followLink(page, `the agency ${AGENCY_SLUG}`, (href) => href === agencyUrl);
        check(page, page.url() === agencyUrl, `expected ${agencyUrl}`);
        const facts = await checkLandmarks(page);
        agencyTitle = await page.title();
        check(page, agencyTitle.includes(AGENCY_NAME), `agency title "${agencyTitle}" lacks "${AGENCY_NAME}"`);
        check(page, facts.h1s[0].includes(AGENCY_NAME), `agency <h1> "${facts.h1s[0]}" lacks "${AGENCY_NAME}"`);
        tab.assertNoProblems();
      },
    ],
    [
      'click through to a document page',
      async () => {
        const docUrl = new RegExp(
          `^${escape(site.root)}${AGENCY_SLUG}/([^/?#]+)/${site.offline ? 'index\\.html' : ''}$`,
        );
        const link = await followLink(page, `a document of ${AGENCY_SLUG}`, (href) => {
          const match = docUrl.exec(href);
          return !!match && !AGENCY_LISTINGS.has(match[1]);
        });
        check(page, page.url() === link.href, `expected ${link.href}`);
        const facts = await checkLandmarks(page);
        const h1 = facts.h1s[0];
        const title = await page.title();
        check(page, title.includes(h1), `document title "${title}" lacks its <h1> "${h1}"`);
        check(
          page,
          link.text.includes(h1) || h1.includes(link.text),
          `followed a link "${link.text}" but the document's <h1> is "${h1}"`,
        );
        const back = (await links(page)).some((l) => l.href === agencyUrl);
        check(page, back, `the document page has no link back to ${agencyUrl}`);
        tab.assertNoProblems();
      },
    ],
    [
      'back to the agency page',
      async () => {
        await page.goBack({ waitUntil: 'load' });
        check(page, page.url() === agencyUrl, `expected ${agencyUrl}`);
        check(page, (await page.title()) === agencyTitle, `title "${await page.title()}" after going back`);
        await checkLandmarks(page);
        tab.assertNoProblems();
      },
    ],
    [
      'back to the home page',
      async () => {
        await page.goBack({ waitUntil: 'load' });
        check(page, page.url() === homeUrl, `expected ${homeUrl}`);
        check(page, (await page.title()) === homeTitle, `title "${await page.title()}" after going back`);
        tab.assertNoProblems();
      },
    ],
  ];
  // Each step starts where the one before ended, so a failure skips the rest of the flow.
  for (const [index, [name, fn]] of steps.entries()) {
    if (!(await step(`${label}: ${name}`, fn))) {
      for (const [skipped] of steps.slice(index + 1)) log(`  skip  ${label}: ${skipped}`);
      return;
    }
  }
}

/**
 * Every other kind of listing loads cleanly: the taxonomy pages and one term of each (reached by
 * a link), and the agency's second page and another sort order (reached by pager/sort links).
 */
async function listingsFlow(tab, site, label) {
  const { page } = tab;
  for (const taxonomy of ['tags/', 'years/', 'kinds/']) {
    await step(`${label}: ${taxonomy} and one of its terms`, async () => {
      await page.goto(site.url(taxonomy), { waitUntil: 'load' });
      await checkLandmarks(page);
      const termUrl = new RegExp(
        `^${escape(site.root + taxonomy)}[^/?#]+/${site.offline ? 'index\\.html' : ''}$`,
      );
      await followLink(page, `a term of ${taxonomy}`, (href) => termUrl.test(href));
      await checkLandmarks(page);
      tab.assertNoProblems();
    });
  }
  await step(`${label}: agency page 2 and another sort order`, async () => {
    await page.goto(site.url(`${AGENCY_SLUG}/`), { waitUntil: 'load' });
    const second = site.url(`${AGENCY_SLUG}/page/2/`);
    await followLink(page, `page 2 of ${AGENCY_SLUG}`, (href) => href === second);
    await checkLandmarks(page);
    const oldest = site.url(`${AGENCY_SLUG}/oldest/`);
    await followLink(page, `the oldest-first sort of ${AGENCY_SLUG}`, (href) => href === oldest);
    await checkLandmarks(page);
    tab.assertNoProblems();
  });
}

/**
 * One document of every kind (markdown, pdf, email, html, image, table, …) loads cleanly: each
 * kind's page under kinds/ is reached by its link, then its first document. Catches viewers,
 * frames and embeds that break under the CSP or over file://.
 */
async function documentKindsFlow(tab, site, label) {
  const { page } = tab;
  const kindsRoot = site.root + 'kinds/';
  const kindUrl = new RegExp(`^${escape(kindsRoot)}([^/?#]+)/${site.offline ? 'index\\.html' : ''}$`);
  const docUrl = new RegExp(`^${escape(site.root)}([^/?#]+)/([^/?#]+)/${site.offline ? 'index\\.html' : ''}$`);
  const notAgencies = new Set(['tags', 'years', 'kinds', 'search', 'assets']);
  const isDocument = (href) => {
    const match = docUrl.exec(href);
    return !!match && !notAgencies.has(match[1]) && !AGENCY_LISTINGS.has(match[2]);
  };
  let kinds = [];
  const listed = await step(`${label}: kinds/ lists the document kinds`, async () => {
    await page.goto(site.url('kinds/'), { waitUntil: 'load' });
    const seen = new Map();
    for (const link of await links(page)) {
      const match = kindUrl.exec(link.href);
      if (match && !seen.has(match[1])) seen.set(match[1], link.href);
    }
    kinds = [...seen.entries()];
    check(page, kinds.length > 0, 'no links to kinds');
    log(`        kinds: ${kinds.map(([kind]) => kind).join(', ')}`);
    tab.assertNoProblems();
  });
  if (!listed) return;
  for (const [kind, url] of kinds) {
    await step(`${label}: a ${decodeURIComponent(kind)} document page`, async () => {
      await page.goto(url, { waitUntil: 'load' });
      const link = await followLink(page, `a ${kind} document`, isDocument);
      const facts = await checkLandmarks(page);
      log(`        ${link.href.slice(site.root.length)} — "${facts.h1s[0]}"`);
      tab.assertNoProblems();
    });
  }
}

/**
 * A missing page gets the theme's 404 page with status 404 (served site only), as static hosts
 * (Netlify, GitHub Pages, nginx `error_page`) serve /404.html for any missing path.
 */
async function notFoundFlow(tab, site, label) {
  const { page } = tab;
  const visit = async (path) => {
    const url = `${site.root}${path}`;
    tab.allowStatus(url, 404);
    const response = await page.goto(url, { waitUntil: 'load' });
    check(page, response && response.status() === 404, `answered ${response?.status()}, not 404`);
    await checkLandmarks(page);
    tab.assertNoProblems();
  };
  await step(`${label}: unknown top-level path gets the 404 page`, () => visit('no-such-page'));
  // Deeper paths get the same 404.html, so its links must not be relative to its own folder
  // (the renderer roots them at the site's path).
  await step(`${label}: unknown nested path gets a working 404 page`, () =>
    visit('no-such-agency/no-such-page/'),
  );
}

function escape(text) {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

async function main() {
  const { values } = parseArgs({
    options: { http: { type: 'string' }, file: { type: 'string' } },
  });
  const sites = [];
  if (values.http) sites.push(makeSite('http', values.http));
  if (values.file) sites.push(makeSite('file', values.file));
  if (!sites.length) {
    console.error('usage: node tests/browser/run.mjs [--http URL] [--file file:///…/]');
    return 2;
  }

  const started = Date.now();
  console.log(`browser: Chromium at ${CHROMIUM}`);
  const browser = await launch();
  console.log(`browser: ${browser.version()} started in ${Date.now() - started} ms`);
  // The two builds are browsed at the same time, each in its own contexts and transcript.
  const runSite = async (site) => {
    log(`${site.kind}: ${site.root}`);
    const flows = [browseFlow, listingsFlow, documentKindsFlow, searchSteps];
    if (!site.offline) flows.push(notFoundFlow);
    for (const flow of flows) {
      // A fresh context per flow, so history and storage never carry over.
      const tab = await openPage(browser, `${site.kind} ${flow.name}`);
      try {
        await flow(tab, site, site.kind);
      } finally {
        await tab.close();
      }
    }
  };
  return runSites(browser, sites, runSite, started);
}

// Never hang a test run (it normally needs well under a minute;
// the margin is for machines busy compiling).
runScript(main, 150);
