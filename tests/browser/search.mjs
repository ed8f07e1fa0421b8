// Search steps for the browser test. run.mjs calls `searchSteps` once per site (served over
// http and opened from file://) after the search page has loaded without problems.
//
// THE PLACE TO ADD SEARCH CHECKS (issue #3): type a query, wait for results, check counts,
// excerpts, paging, filters. Use `step(name, fn)` for each check so it shows in the transcript,
// and end each with `tab.assertNoProblems()` so console errors, remote requests and dialogs fail
// the step. `site.url('search/')` is the search page's URL for this build (…/index.html offline).

import { step, check, checkLandmarks } from './harness.mjs';

/**
 * @param {object} tab   from harness.openPage: {page, problems, assertNoProblems(), …}
 * @param {object} site  from harness.site: {kind: 'http'|'file', offline, root, url(path)}
 * @param {string} label prefix for step names, e.g. "http" or "file"
 */
export async function searchSteps(tab, site, label) {
  const { page } = tab;

  await step(`${label}: search page loads`, async () => {
    const response = await page.goto(site.url('search/'), { waitUntil: 'load' });
    if (!site.offline) {
      check(page, response && response.status() === 200, `search page answered ${response?.status()}`);
    }
    await checkLandmarks(page);
    // Give the search client a moment to start (load its manifest) so its errors are seen.
    await page.waitForLoadState('networkidle').catch(() => {});
    tab.assertNoProblems();
  });

  const results = async () => {
    try {
      await page.waitForSelector('.search-results .search-result', { timeout: 15000 });
    } catch (error) {
      // Say what the reader saw instead: the status line holds the client's own message.
      const status = await page.textContent('.search-status').catch(() => null);
      const q = await page.inputValue('#search-q').catch(() => null);
      throw new Error(`no results shown for ${JSON.stringify(q)}; status: ${JSON.stringify(status)} (on ${page.url()})`);
    }
    return page.$$eval('.search-results .search-result', (items) =>
      items.map((li) => ({
        title: li.querySelector('.search-result-title')?.textContent || '',
        agency: li.querySelector('.search-result-agency')?.textContent || '',
        href: li.querySelector('a')?.getAttribute('href') || '',
        marks: li.querySelectorAll('mark').length,
      })));
  };

  await step(`${label}: typing a query shows ranked, highlighted results`, async () => {
    await page.fill('#search-q', 'protest');
    const found = await results();
    check(page, found.length > 0, 'no results for "protest"');
    check(page, found.some((r) => r.marks > 0), 'no highlighted term in the results');
    check(page, /protest/i.test(found[0].title), `top result "${found[0].title}" lacks the word in its title`);
    check(page, page.url().includes('q=protest'), `query not in the URL: ${page.url()}`);
    tab.assertNoProblems();
  });

  await step(`${label}: an agency filter from the URL narrows the results`, async () => {
    await page.goto(`${site.url('search/')}?q=protest&agency=riverside-fusion-center`, { waitUntil: 'load' });
    const found = await results();
    check(page, found.length > 0, 'no results with the agency filter');
    const others = found.filter((r) => !r.agency.includes('Riverside'));
    check(page, others.length === 0, `results from other agencies: ${others.map((r) => r.agency).join(', ')}`);
    tab.assertNoProblems();
  });

  await step(`${label}: a phrase query and opening a result`, async () => {
    await page.goto(`${site.url('search/')}?q=${encodeURIComponent('"situational awareness"')}`, { waitUntil: 'load' });
    const found = await results();
    check(page, found.length > 0, 'no results for the phrase');
    // The search page is already loaded, so waiting for 'load' alone would return at once and
    // race the navigation; wait for the result's own URL to finish loading instead.
    await Promise.all([
      page.waitForURL((url) => !url.pathname.includes('/search/'), { waitUntil: 'load' }),
      page.click('.search-results .search-result a'),
    ]);
    check(page, !page.url().includes('/search/'), `result link did not leave the search page: ${page.url()}`);
    await checkLandmarks(page);
    tab.assertNoProblems();
  });

  await step(`${label}: a bad query gives a message, not an error`, async () => {
    await page.goto(`${site.url('search/')}?q=${encodeURIComponent('"unclosed ((( [')}`, { waitUntil: 'load' });
    await page.waitForTimeout(500);
    const status = await page.textContent('.search-status');
    check(page, status && status.trim().length > 0, 'no status message for a bad query');
    tab.assertNoProblems();
  });
}
