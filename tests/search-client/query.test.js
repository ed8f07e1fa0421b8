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
