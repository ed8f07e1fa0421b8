// The client's tokenizer and stemmer must cut text exactly as the Rust indexer does:
// tokenizer-vectors.json is written from src/search_index/tokenize.rs (the reference) and
// checked by tests/search_index.rs too. Run: node --test tests/search-client/
'use strict';
const test = require('node:test');
const assert = require('node:assert');
const path = require('node:path');
const S = require('../../themes/default/static/search.js');
const vectors = require(path.join(__dirname, 'tokenizer-vectors.json'));

const pairs = (text, mode) => S.tokenize(text, mode).map((t) => [t.term, t.pos]);

test('tokenizer matches the Rust vectors in index and query mode', () => {
  for (const v of vectors.tokenize) {
    assert.deepStrictEqual(pairs(v.text, 'index'), v.index, `index: ${v.text}`);
    assert.deepStrictEqual(pairs(v.text, 'query'), v.query, `query: ${v.text}`);
  }
});

test('stemmer matches Snowball English on every vector word', () => {
  const wrong = [];
  for (const [word, stem] of Object.entries(vectors.stem)) {
    const got = S.stem(word);
    if (got !== stem) wrong.push(`${word}: ${got} (want ${stem})`);
  }
  assert.deepStrictEqual(wrong, []);
});

test('token offsets point at the original text', () => {
  const text = 'Résumé: Case 2016-127403, Café';
  const tokens = S.tokenize(text, 'index');
  const cafe = tokens.find((t) => t.term === 'cafe');
  assert.strictEqual(text.slice(cafe.start, cafe.end), 'Café');
  const id = tokens.find((t) => t.term === '2016127403');
  assert.strictEqual(text.slice(id.start, id.end), '2016-127403');
});

test('fnv1a and shard choice agree with encode.rs', () => {
  assert.strictEqual(S.fnv1a(''), 0x811c9dc5);
  assert.strictEqual(S.fnv1a('a'), 0xe40c292c);
  assert.strictEqual(S.fnv1a('foobar'), 0xbf9cf968);
  assert.strictEqual(S.shardOf('protest', 64, 3), S.shardOf('protocol', 64, 3));
  assert.strictEqual(S.shardOf('東京都庁', 8, 3), S.fnv1a('東京都') % 8);
});

test('posting blocks decode, positions apart from documents', () => {
  // Written by encode_block: doc 3 impact 200 positions [0, 7]; doc 5 impact 1 none.
  // docs: 3 → "D"; 200 = 8 + 6*32 → "o" (8|32=40) "G"; delta 2 → "C"; impact 1 → "B".
  // positions: npos 2 → "C"; 0 → "A"; 7 → "H"; npos 0 → "A".
  assert.deepStrictEqual(S.decodeBlock('DoGCB', 'CAHA'), [
    { doc: 3, impact: 200, positions: [0, 7] },
    { doc: 5, impact: 1, positions: [] },
  ]);
  // Without the positions file (a one-word query), the same postings with none.
  assert.deepStrictEqual(S.decodeBlock('DoGCB').map((p) => [p.doc, p.impact, p.positions.length]), [[3, 200, 0], [5, 1, 0]]);
  assert.throws(() => S.decodeBlock('D*'));
  assert.throws(() => S.decodeBlock('DoGC'));
  assert.throws(() => S.decodeBlock('DoGCB', 'CAH'));
});
