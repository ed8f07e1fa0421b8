// The query parser, ranking and result helpers of search.js, without a browser.
'use strict';
const test = require('node:test');
const assert = require('node:assert');
const S = require('../../themes/default/static/search.js');

test('plain words are required terms; the last one is a prefix while typing', () => {
  const q = S.parseQuery('police protes', true);
  assert.strictEqual(q.error, null);
  assert.deepStrictEqual(q.groups.map((g) => [g.term, g.prefix]), [['polic', false], ['prote', true]]);
  assert.strictEqual(S.parseQuery('police protes', false).groups[1].prefix, false);
  assert.strictEqual(S.parseQuery('police protes ', true).groups[1].prefix, false);
});

test('quotes make phrases, anywhere in the query; minus excludes', () => {
  const q = S.parseQuery('riot "tear gas" -training "use of force"', true);
  assert.deepStrictEqual(q.groups.map((g) => g.term), ['riot']);
  assert.deepStrictEqual(q.phrases.map((p) => p.map((w) => [w.term, w.pos])), [
    [['tear', 0], ['gas', 1]],
    [['use', 0], ['forc', 2]],
  ]);
  assert.deepStrictEqual(q.excludes.map((p) => p.map((w) => w.term)), [['train']]);
});

test('identifiers and phone numbers are whole terms', () => {
  assert.deepStrictEqual(S.parseQuery('2016-127403', false).groups.map((g) => g.term), ['2016127403']);
  assert.deepStrictEqual(S.parseQuery('555-123-4567', false).groups.map((g) => g.term), ['5551234567']);
});

test('bad queries give a message, never an exception', () => {
  const cases = ['', '   ', 'x'.repeat(2000), 'the of and', '"unclosed quote', '(.*)+[a-z]{2}\\', '-only',
    '"', '""', '-', '*', '\u0000', '\ud800', 'a'.repeat(S.MAX_QUERY_CHARS)];
  for (const input of cases) {
    let q;
    assert.doesNotThrow(() => { q = S.parseQuery(input, true); }, `query ${JSON.stringify(input.slice(0, 20))}`);
    assert.ok(q.error !== null || q.groups.length + q.phrases.length > 0, `no message for ${JSON.stringify(input.slice(0, 20))}`);
  }
  assert.strictEqual(S.parseQuery('', true).error, 'empty');
  assert.match(S.parseQuery('x'.repeat(2000), true).error, /too long/);
  assert.match(S.parseQuery('the of and', true).error, /common words/);
  assert.match(S.parseQuery('(.*)+', true).error, /No searchable words/);
  assert.match(S.parseQuery('-riot', true).error, /at least one word/);
  const unclosed = S.parseQuery('"tear gas', true);
  assert.strictEqual(unclosed.error, null);
  assert.match(unclosed.notes[0], /unmatched quote/);
});

test('typos within one edit and prefixes expand against the dictionary', () => {
  const dict = { protest: [5, ''], protocol: [2, ''], protect: [1, ''], police: [9, ''] };
  const typo = S.expandGroup({ term: 'protset', raw: 'protset', prefix: false }, dict);
  assert.deepStrictEqual(typo.map((a) => a.term), ['protest']);
  assert.ok(typo[0].weight < 1);
  const prefix = S.expandGroup({ term: 'prot', raw: 'prot', prefix: true }, dict);
  assert.deepStrictEqual(prefix.map((a) => a.term), ['protest', 'protocol', 'protect']);
  const exact = S.expandGroup({ term: 'polic', raw: 'police', prefix: false }, { polic: [3, ''] });
  assert.deepStrictEqual(exact.map((a) => [a.term, a.weight]), [['polic', 1]]);
  assert.strictEqual(S.editDistance('abcd', 'abdc', 1), 1);
  assert.strictEqual(S.editDistance('abcd', 'xyz', 1), 2);
});

function postingsFrom(table) {
  return (term) => new Map((table[term] || []).map(([doc, impact, positions]) => [doc, { doc, impact, positions: positions || [] }]));
}

test('ranking adds impacts, requires every term, checks phrases, drops exclusions', () => {
  const table = {
    tear: [[1, 10, [4]], [2, 30, [9]], [3, 5, [1]]],
    gas: [[1, 10, [5]], [2, 30, [20]], [3, 5, [2]]],
    riot: [[1, 50, [0]], [3, 1, [0]]],
    train: [[3, 4, [8]]],
  };
  const parsed = S.parseQuery('"tear gas" riot', false);
  const expansions = parsed.groups.map((g) => [{ term: g.term, weight: 1 }]);
  const ranked = S.rank(parsed, expansions, postingsFrom(table));
  assert.deepStrictEqual(ranked.map((r) => [r.doc, r.score]), [[1, 70], [3, 11]]);
  const excluding = S.parseQuery('"tear gas" riot -training', false);
  assert.deepStrictEqual(S.rank(excluding, expansions, postingsFrom(table)).map((r) => r.doc), [1]);
  // Ties go to the lower document number, so order is stable.
  const tie = S.rank(S.parseQuery('riot', false), [[{ term: 'riot', weight: 1 }]],
    postingsFrom({ riot: [[7, 5], [2, 5]] }));
  assert.deepStrictEqual(tie.map((r) => r.doc), [2, 7]);
});

test('facets come from document-number ranges; counts ignore their own filter', () => {
  // [first doc, agency, kind, year]
  const ranges = [[0, 0, 0, 0], [3, 0, 1, -1], [5, 1, 0, 1]];
  assert.deepStrictEqual(S.facetOf(ranges, 4), [3, 0, 1, -1]);
  assert.deepStrictEqual(S.facetOf(ranges, 9), [5, 1, 0, 1]);
  const results = [0, 1, 3, 6].map((doc) => ({ doc, score: 1 }));
  const all = S.facetAndFilter(results, ranges, { agency: -1, kind: -1, year: -1 });
  assert.deepStrictEqual(all.counts.agency, { 0: 3, 1: 1 });
  assert.deepStrictEqual(all.counts.year, { 0: 2, 1: 1 });
  const one = S.facetAndFilter(results, ranges, { agency: 1, kind: -1, year: -1 });
  assert.deepStrictEqual(one.results.map((r) => r.doc), [6]);
  assert.deepStrictEqual(one.counts.agency, { 0: 3, 1: 1 });
  assert.deepStrictEqual(one.counts.kind, { 0: 1 });
});

test('result links are relative to search/index.html, with index.html offline', () => {
  assert.strictEqual(S.resultHref('../', 'port-city-police/memo/', false), '../port-city-police/memo/');
  assert.strictEqual(S.resultHref('../', 'port-city-police/memo/', true), '../port-city-police/memo/index.html');
});

test('excerpts highlight matched words and cut around the first hit', () => {
  const text = 'Officers used tear gas on Tuesday. ' + 'Filler words here. '.repeat(30) + 'Protesters gathered again.';
  const hits = new Set(['protest']);
  const pieces = S.excerptPieces(text, (t) => hits.has(t.term), 120);
  const marked = pieces.filter((p) => p.mark).map((p) => p.text);
  assert.deepStrictEqual(marked, ['Protesters']);
  assert.strictEqual(pieces[0].text, '…');
  const start = S.excerptPieces('Tear gas was used.', (t) => t.term === 'gas', 120);
  assert.deepStrictEqual(start.map((p) => [p.text, p.mark]), [['Tear ', false], ['gas', true], [' was used.', false]]);
});

test('CJK characters typed together form a phrase', () => {
  const q = S.parseQuery('東京 警察', false);
  assert.deepStrictEqual(q.phrases.map((p) => p.map((w) => w.term)), [['東', '京'], ['警', '察']]);
  assert.deepStrictEqual(q.groups, []);
});

test('split prefix groups: the sub-shard for a term, and those a range can reach', () => {
  const list = [['benaa', 's0', 9], ['benbly', 's1', 50], ['benbz', 's2', 3], ['bencre', 's3', 7]];
  assert.strictEqual(S.childFor(list, 'benblybensi')[1], 's1');
  assert.strictEqual(S.childFor(list, 'benb')[1], 's0');
  assert.strictEqual(S.childFor(list, 'ben')[1], 's0');
  assert.strictEqual(S.childFor(list, 'benzzz')[1], 's3');
  assert.deepStrictEqual(S.childrenIn(list, 'benb', 'benb\uffff').map((c) => c[1]), ['s0', 's1', 's2']);
  assert.deepStrictEqual(S.childrenIn(list, 'bencr', 'bencr\uffff').map((c) => c[1]), ['s2', 's3']);
  assert.deepStrictEqual(S.childrenIn(list, 'benbz', 'benbz\uffff').map((c) => c[1]), ['s2']);
});

// A two-level tree: the root list names inner nodes r0 and r1, which name sub-shards.
const tree = {
  r0: [['ben', 's0', 40], ['benb', 's1', 90], ['benc', 's2', 5]],
  r1: [['bend', 's3', 60], ['bene', 's4', 70], ['benf', 's5', 8]],
};
const root = [['ben', 'r0', 90], ['bend', 'r1', 70]];
function reader() {
  const read = [];
  const get = (id) => { read.push(id); return Promise.resolve(tree[id]); };
  return { read, get };
}

test('a term is found through the inner nodes on its path only', async () => {
  const r = reader();
  const found = await S.descend(root, 'benex', r.get);
  assert.strictEqual(found.leaf, 's4');
  assert.deepStrictEqual(found.list, tree.r1);
  assert.deepStrictEqual(r.read, ['r1']);
  const flat = reader();
  assert.strictEqual((await S.descend(tree.r0, 'benbly', flat.get)).leaf, 's1');
  assert.deepStrictEqual(flat.read, [], 'a list of sub-shards needs no further read');
});

test('prefix widening takes the sub-shards with the largest df, best first through the tree', async () => {
  const all = reader();
  assert.deepStrictEqual(await S.bestLeaves(root, 'ben', 'ben\uffff', 4, all.get), ['s1', 's4', 's3', 's0']);
  assert.deepStrictEqual(all.read, ['r0', 'r1']);
  // r1's best (70) is below r0's s1 (90): one leaf is found without reading r1.
  const one = reader();
  assert.deepStrictEqual(await S.bestLeaves(root, 'ben', 'ben\uffff', 1, one.get), ['s1']);
  assert.deepStrictEqual(one.read, ['r0']);
  // A range inside one inner node reads only that node.
  const narrow = reader();
  assert.deepStrictEqual(await S.bestLeaves(root, 'bene', 'bene\uffff', 4, narrow.get), ['s4']);
  assert.deepStrictEqual(narrow.read, ['r1']);
});

test('filters become document-number ranges', () => {
  const manifest = { docs: 10, ranges: [[0, 0, 0, 0], [3, 0, 1, -1], [5, 1, 0, 1], [8, 1, 2, -1]] };
  assert.strictEqual(S.filterRanges(manifest, { agency: -1, kind: -1, year: -1 }), null);
  assert.deepStrictEqual(S.filterRanges(manifest, { agency: 1, kind: -1, year: -1 }), [[5, 8], [8, 10]]);
  assert.deepStrictEqual(S.filterRanges(manifest, { agency: -1, kind: 0, year: -1 }), [[0, 3], [5, 8]]);
});

// A tiny index in the on-disk shape (src/search_index/mod.rs), registered with load() so
// execute() reads it without a browser.
function encode(values) {
  const A = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
  let out = '';
  for (let v of values) {
    for (;;) {
      const low = v & 31;
      v = Math.floor(v / 32);
      if (v === 0) { out += A[low]; break; }
      out += A[low | 32];
    }
  }
  return out;
}
function block(postings) {
  let prev = 0;
  const docs = [], positions = [];
  for (const [doc, impact, pos] of postings) {
    docs.push(doc - prev, impact); prev = doc;
    positions.push(pos.length); let last = 0;
    for (const p of pos) { positions.push(p - last); last = p; }
  }
  return [encode(docs), encode(positions)];
}

test('execute reads root shards, inner nodes, sub-shards and the best tier first', async () => {
  const manifest = { v: 6, docs: 300, shards: 1, chunk: 4, prefix: 3, ranges: [[0, 0, 0, -1], [200, 1, 0, -1]] };
  // "benbox" is a long list in two tiers: tier 0 holds its best documents.
  const best = [[7, 90, [1]], [250, 80, [2]]];
  const rest = [];
  for (let d = 0; d < 300; d += 3) if (d !== 7 && d !== 250) rest.push([d, 5, [4]]);
  const [d0, q0] = block(best);
  const [d1, q1] = block(rest);
  // Tiers live in packs (arrays of block strings); "benbox" tier 0 is the second block of
  // pack p0, after a neighbour's. Only the first tier is registered: reading another would
  // need a browser and fail here.
  S.load('p0', ['AB', d0]); S.load('q0', [q0]);
  const [rd, rp] = block([[7, 20, [2]], [12, 10, [9]]]);
  S.load('s0', { benaa: [1, ...block([[1, 3, [0]]])] });
  S.load('s1', { benbox: [2 + rest.length, [[0, 1, 0, 0, 7, 250, 2, 90], [1, 0, 1, 0, 0, 297, rest.length, 5]]],
    bencut: [2, rd, rp] });
  // The "ben" group is a tree: the root lists an inner node, which lists the sub-shards.
  S.load('r0', [['benaa', 's0', 1], ['benbox', 's1', 98]]);
  S.load('t0', [{ riot: [1, ...block([[12, 9, [8]]])] }, { ben: [['benaa', 'r0', 98]] }]);
  const one = await S.execute(manifest, S.parseQuery('benbox', false), { want: 2, ranges: null });
  assert.deepStrictEqual(one.results.map((r) => r.doc), [7, 250]);
  assert.strictEqual(one.approximate, true);
  assert.strictEqual(one.total, 2 + rest.length);
  // Filtered to agency 0 (documents 0-199): the tiers with documents there are read.
  S.load('p1', [d1]); S.load('q1', [q1]);
  const filtered = await S.execute(manifest, S.parseQuery('benbox', false), { want: 2, ranges: [[0, 200]] });
  assert.strictEqual(filtered.results.length, rest.length + 2);
  assert.strictEqual(filtered.approximate, false);
  // A tier wholly outside the filter is skipped.
  const outside = await S.execute(manifest, S.parseQuery('benbox', false), { want: 2, ranges: [[251, 252]] });
  assert.strictEqual(outside.approximate, false);
  // A phrase needs positions: "benbox bencut" at 1,2 in document 7.
  const phrase = await S.execute(manifest, S.parseQuery('"benbox bencut"', false), { want: 2, ranges: null });
  assert.deepStrictEqual(phrase.results.map((r) => r.doc), [7]);
  // A typo after the first letters, and a prefix, reach terms in a sub-shard.
  const typo = await S.execute(manifest, S.parseQuery('benbix', false), {});
  assert.deepStrictEqual(typo.expansions[0].map((a) => a.term), ['benbox']);
  const prefix = await S.execute(manifest, S.parseQuery('bencu', true), {});
  assert.deepStrictEqual(prefix.expansions[0].map((a) => a.term), ['bencut']);
  // An inline term in the root shard.
  const riot = await S.execute(manifest, S.parseQuery('riot', false), {});
  assert.deepStrictEqual(riot.results.map((r) => r.doc), [12]);
});
