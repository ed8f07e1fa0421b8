// Part of search-bench.sh: serves a leakpress build and a Pagefind-indexed copy of the same
// documents over local HTTP, runs the same queries through both clients in headless Chromium
// (one fresh browser context per query, so nothing is cached), and reports what was fetched.
//
//   node search-bench.mjs LEAKPRESS_OUT PAGEFIND_SITE CORPUS
import http from 'node:http';
import fs from 'node:fs';
import path from 'node:path';
import zlib from 'node:zlib';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const require = createRequire(import.meta.url);
const { chromium } = require(path.join(here, '../browser/node_modules/playwright-core'));
const [lpRoot, pfRoot, corpus] = process.argv.slice(2);
// PAGEFIND=0 measures leakpress alone (Pagefind needs about 0.5 GB per 1,000 pages to index).
const withPagefind = process.env.PAGEFIND !== '0';
// FILES=1 lists each index file a leakpress query fetched, to see where its bytes go.
const showFiles = process.env.FILES === '1';
const kb = (n) => (n / 1024).toFixed(1);

// ---- queries from the corpus's own vocabulary, by frequency rank
function vocabulary() {
  const counts = new Map();
  const agencies = fs.readdirSync(path.join(corpus, 'content')).slice(0, 40);
  for (const agency of agencies) {
    const walk = (dir) => {
      for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
        const p = path.join(dir, entry.name);
        if (entry.isDirectory()) walk(p);
        else if (p.endsWith('.md')) {
          const body = fs.readFileSync(p, 'utf8').split('\n---').slice(1).join(' ').toLowerCase();
          for (const w of body.match(/[a-z]{4,}/g) || []) counts.set(w, (counts.get(w) || 0) + 1);
        }
      }
    };
    walk(path.join(corpus, 'content', agency));
  }
  return [...counts.entries()].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1)).map((e) => e[0]);
}
const vocab = vocabulary();
const queries = [
  ['most common word', vocab[0]],
  ['rank 10 word', vocab[10]],
  ['rank 100 word', vocab[100]],
  ['rank 1000 word', vocab[Math.min(1000, vocab.length - 1)]],
  ['two words', `${vocab[5]} ${vocab[50]}`],
  ['prefix (typing)', vocab[20].slice(0, 4)],
  ['phrase', `"${vocab[3]} ${vocab[4]}"`],
];

// ---- server: record every file served, with the bytes a server would send
let log = [];
const gzipped = new Map();
function wireBytes(file, bytes) {
  if (/\.(pf_index|pf_fragment|pf_meta|pf_filter|pagefind)$/.test(file)) return bytes.length; // stored gzipped
  if (!gzipped.has(file)) gzipped.set(file, zlib.gzipSync(bytes, { level: 6 }).length);
  return gzipped.get(file);
}
const types = { '.html': 'text/html', '.js': 'text/javascript', '.css': 'text/css', '.json': 'application/json',
  '.wasm': 'application/wasm', '.svg': 'image/svg+xml' };
const server = http.createServer((req, res) => {
  const url = new URL(req.url, 'http://x');
  let [, site, ...rest] = url.pathname.split('/');
  const root = site === 'lp' ? lpRoot : site === 'pf' ? pfRoot : null;
  if (site === 'pf' && rest.join('/') === 'bench.html') {
    res.writeHead(200, { 'content-type': 'text/html' });
    res.end(`<!doctype html><meta charset=utf-8><script type=module>
      const pf = await import('/pf/pagefind/pagefind.js'); await pf.init(); window.pf = pf; window.ready = true;
    </script>`);
    return;
  }
  let file = root && path.join(root, decodeURIComponent(rest.join('/')));
  if (file && fs.existsSync(file) && fs.statSync(file).isDirectory()) file = path.join(file, 'index.html');
  if (!file || !file.startsWith(root) || !fs.existsSync(file)) { res.writeHead(404); res.end(); return; }
  const bytes = fs.readFileSync(file);
  log.push({ file: path.relative(root, file), site, bytes: wireBytes(file, bytes), raw: bytes.length });
  res.writeHead(200, { 'content-type': types[path.extname(file)] || 'application/octet-stream' });
  res.end(bytes);
});
await new Promise((r) => server.listen(0, '127.0.0.1', r));
const base = `http://127.0.0.1:${server.address().port}`;

const browser = await chromium.launch({ executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  args: ['--no-sandbox', '--disable-gpu'] });

async function heap(page) {
  const cdp = await page.context().newCDPSession(page);
  await cdp.send('HeapProfiler.collectGarbage');
  const { metrics } = await cdp.send('Performance.getMetrics').catch(async () => {
    await cdp.send('Performance.enable');
    return cdp.send('Performance.getMetrics');
  });
  const m = Object.fromEntries(metrics.map((x) => [x.name, x.value]));
  return m.JSHeapUsedSize || 0;
}

const isFixedLp = (f) => /^assets\/search\./.test(f) || /^search\/[^/]+\/manifest\.js$/.test(f);
const isQueryLp = (f) => /^search\/[^/]+\/[tpdsqr]\d+\.js$/.test(f);
const isFixedPf = (f) => /pagefind\.js$|pagefind-entry\.json$|\.pagefind$|\.pf_meta$|wasm/.test(f);
const isQueryPf = (f) => /\.pf_(index|fragment|filter)$/.test(f);
const sum = (list, pick) => list.filter((e) => pick(e.file)).reduce((a, e) => a + e.bytes, 0);
const count = (list, pick) => list.filter((e) => pick(e.file)).length;

async function runLeakpress(q) {
  const context = await browser.newContext();
  const page = await context.newPage();
  await context.newCDPSession(page).then((c) => c.send('Performance.enable'));
  log = [];
  await page.goto(`${base}/lp/search/index.html?q=${encodeURIComponent(q)}`);
  await page.waitForFunction(() => {
    const s = document.querySelector('.search-status');
    return s && /document|No |could not|failed/.test(s.textContent) && !/Searching|Loading/.test(s.textContent);
  }, null, { timeout: 30000 });
  const status = await page.textContent('.search-status');
  const mem = await heap(page);
  const entries = log;
  const latency = await leakpressLatency(page);
  await context.close();
  if (showFiles) {
    console.log(`  files read for ${q}:`);
    for (const e of entries.filter((x) => isQueryLp(x.file))) {
      console.log(`    ${e.file.replace(/^search\/[^/]+\//, '').padEnd(12)} ${kb(e.bytes).padStart(6)} KB gzip, ${kb(e.raw).padStart(6)} KB raw`);
    }
  }
  return { status: status.trim(), fixed: sum(entries, isFixedLp), query: sum(entries, isQueryLp), files: count(entries, isQueryLp), heap: mem, latency };
}

// Query latency once the query's shards are loaded: the search form is submitted again, as a
// reader pressing Enter does, and the clock stops when the status shows the result count and
// the result list is filled. Median of LATENCY_RUNS.
const LATENCY_RUNS = 7;
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

async function leakpressLatency(page) {
  const times = [];
  for (let i = 0; i < LATENCY_RUNS; i++) {
    times.push(await page.evaluate(() => new Promise((resolve, reject) => {
      const status = document.querySelector('.search-status');
      const form = document.querySelector('#search form');
      const done = () => /document|No /.test(status.textContent) && !/Searching|Loading/.test(status.textContent);
      let started = 0;
      const observer = new MutationObserver(() => {
        if (started && done()) {
          observer.disconnect();
          resolve(performance.now() - started);
        }
      });
      observer.observe(status, { childList: true, characterData: true, subtree: true });
      setTimeout(() => { observer.disconnect(); reject(new Error('no result within 10 s')); }, 10000);
      started = performance.now();
      form.requestSubmit();
    })));
  }
  return median(times);
}

async function pagefindLatency(page, q) {
  const times = [];
  for (let i = 0; i < LATENCY_RUNS; i++) {
    times.push(await page.evaluate(async (query) => {
      const started = performance.now();
      const search = await window.pf.search(query);
      await Promise.all(search.results.slice(0, 10).map((r) => r.data()));
      return performance.now() - started;
    }, q));
  }
  return median(times);
}

async function runPagefind(q) {
  const context = await browser.newContext();
  const page = await context.newPage();
  await context.newCDPSession(page).then((c) => c.send('Performance.enable'));
  log = [];
  await page.goto(`${base}/pf/bench.html`);
  await page.waitForFunction(() => window.ready === true, null, { timeout: 30000 });
  const found = await page.evaluate(async (query) => {
    const search = await window.pf.search(query);
    const data = await Promise.all(search.results.slice(0, 10).map((r) => r.data()));
    return { count: search.results.length, shown: data.length };
  }, q);
  const mem = await heap(page);
  const entries = log;
  const latency = await pagefindLatency(page, q);
  await context.close();
  return { status: `${found.count} results`, latency, fixed: sum(entries, isFixedPf), query: sum(entries, isQueryPf), files: count(entries, isQueryPf), heap: mem };
}

console.log('\nBytes fetched per query (cold: fresh browser context each), KB as sent with gzip; 10 results shown.');
console.log('query'.padEnd(34), 'leakpress KB (files)'.padEnd(22), 'pagefind KB (files)'.padEnd(22), 'ratio', ' leakpress results | pagefind results');
let lpFixed = 0, pfFixed = 0, lpHeap = 0, pfHeap = 0, totalLp = 0, totalPf = 0;
const latencies = [];
for (const [label, q] of queries) {
  const lp = await runLeakpress(q);
  const pf = withPagefind ? await runPagefind(q) : { status: 'not run', fixed: 0, query: 0, files: 0, heap: 0, latency: NaN };
  latencies.push([label, q, lp.latency, pf.latency]);
  lpFixed = lp.fixed; pfFixed = pf.fixed;
  lpHeap = Math.max(lpHeap, lp.heap); pfHeap = Math.max(pfHeap, pf.heap);
  totalLp += lp.query; totalPf += pf.query;
  console.log(`${label}: ${q}`.slice(0, 34).padEnd(34), `${kb(lp.query)} (${lp.files})`.padEnd(22),
    `${kb(pf.query)} (${pf.files})`.padEnd(22), (lp.query / Math.max(1, pf.query)).toFixed(2).padEnd(6), lp.status, '|', pf.status);
}
console.log(`\nQuery latency after the shards are loaded (median of ${LATENCY_RUNS} runs in headless Chromium, ms):`);
for (const [label, q, lp, pf] of latencies) {
  console.log(`${label}: ${q}`.slice(0, 34).padEnd(34), `leakpress ${lp.toFixed(1)}`.padEnd(18), withPagefind ? `pagefind ${pf.toFixed(1)}` : '');
}
console.log(`slowest leakpress query: ${Math.max(...latencies.map((l) => l[2])).toFixed(1)} ms`);
console.log(`all queries: leakpress ${kb(totalLp)} KB, pagefind ${kb(totalPf)} KB, ratio ${(totalLp / Math.max(1, totalPf)).toFixed(2)}`);
console.log(`fixed per-reader cost (client + manifest/meta/wasm): leakpress ${kb(lpFixed)} KB, pagefind ${kb(pfFixed)} KB`);
if (lpHeap > 0 && pfHeap > 0) {
  console.log(`peak JS heap after a query (Pagefind's WASM memory is not in it): leakpress ${kb(lpHeap)} KB, pagefind ${kb(pfHeap)} KB`);
} else {
  console.log('JS heap: not reported by this Chromium (memory not measured)');
}
await browser.close();
server.close();
