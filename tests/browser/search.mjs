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

  // Search-result steps go here, e.g.:
  // await step(`${label}: search finds a document by title word`, async () => { … });
}
