/* leakpress search client.
 *
 * Plain script, no modules, no fetch, no eval, no WASM: it works from file://. The index
 * (written by src/search_index/) is a set of scripts under search/<key>/ that each call
 * LEAKPRESS_SEARCH.load(id, data); this file inserts <script src> elements for the ones a
 * query needs: root dictionary shards t<n>, sub-shards s<n> of heavy prefixes (through inner
 * nodes r<n> when a prefix has many), packs of posting tiers p<id> (packs of their positions
 * q<id> only for phrases), excerpt chunks d<n> (index format 7); the format is documented in
 * src/search_index/mod.rs. The tokenizer and stemmer below are ports of
 * src/search_index/tokenize.rs and the Snowball English stemmer;
 * tests/search-client/tokenizer-vectors.json keeps them equal.
 */
var LEAKPRESS_SEARCH = (function () {
  'use strict';

  // ---------------------------------------------------------------- tokenizer

  var MAX_TERM_CHARS = 40;
  var MAX_QUERY_CHARS = 500;
  var STOP_WORDS = {};
  ['a', 'an', 'and', 'are', 'as', 'at', 'be', 'but', 'by', 'for', 'if', 'in', 'into', 'is',
    'it', 'no', 'not', 'of', 'on', 'or', 'such', 'that', 'the', 'their', 'then', 'there',
    'these', 'they', 'this', 'to', 'was', 'will', 'with'].forEach(function (w) { STOP_WORDS[w] = true; });
  var CONNECTORS = '-./_:';
  var SPECIAL_FOLDS = { 'ß': 'ss', 'æ': 'ae', 'œ': 'oe', 'ø': 'o', 'đ': 'd', 'ð': 'd', 'ł': 'l',
    'þ': 'th', 'ı': 'i', 'ς': 'σ' };
  var MARK = /\p{M}/u;
  var WORD_CHAR = /[\p{Alphabetic}\p{N}]/u;
  var NUMERIC = /\p{N}/u;

  function isCjk(cp) {
    return (cp >= 0x3040 && cp <= 0x30FF) || (cp >= 0x31F0 && cp <= 0x31FF) ||
      (cp >= 0x3400 && cp <= 0x4DBF) || (cp >= 0x4E00 && cp <= 0x9FFF) ||
      (cp >= 0xAC00 && cp <= 0xD7AF) || (cp >= 0xF900 && cp <= 0xFAFF) ||
      (cp >= 0x20000 && cp <= 0x2FA1F);
  }

  /** Step 1 of the tokenizer: the folded form of one code point (maybe empty). */
  function foldChar(c) {
    var cp = c.codePointAt(0);
    var decomposed = (cp >= 0xAC00 && cp <= 0xD7AF) ? c : c.normalize('NFKD');
    var out = '';
    for (var d of decomposed) {
      if (MARK.test(d)) continue;
      var lower = d.toLowerCase();
      for (var l of lower) out += SPECIAL_FOLDS[l] !== undefined ? SPECIAL_FOLDS[l] : l;
    }
    return out;
  }

  function fold(text) {
    var out = '';
    for (var c of text) out += foldChar(c);
    return out;
  }

  function isStopWord(word) { return STOP_WORDS[word] === true; }

  function stemWord(word) {
    return (word.length >= 3 && /^[a-z]+$/.test(word)) ? stem(word) : word;
  }

  /**
   * Cuts text into tokens {term, pos, raw, start, end} (start/end: UTF-16 offsets in text;
   * raw: the folded word before stemming). mode is 'index' or 'query'; see tokenize.rs.
   */
  function tokenize(text, mode) {
    var units = [];
    var offset = 0;
    for (var c of text) {
      var folded = foldChar(c);
      for (var ch of folded) {
        units.push({ ch: ch, alone: isCjk(ch.codePointAt(0)), start: offset, end: offset + c.length });
      }
      offset += c.length;
    }
    var tokens = [];
    var pos = 0;
    var group = [];
    var n = units.length;
    var i = 0;
    var isWord = function (u) { return !u.alone && WORD_CHAR.test(u.ch); };
    while (i < n) {
      var u = units[i];
      if (u.alone) {
        emitWord(tokens, u.ch, pos, u.start, u.end);
        pos += 1;
        i += 1;
        continue;
      }
      if (!WORD_CHAR.test(u.ch)) { i += 1; continue; }
      var word = '';
      var start = u.start;
      var end = u.end;
      while (i < n && isWord(units[i])) {
        word += units[i].ch;
        end = units[i].end;
        i += 1;
      }
      group.push({ word: word, pos: pos, start: start, end: end });
      pos += 1;
      if (i + 1 < n && CONNECTORS.indexOf(units[i].ch) >= 0 && isWord(units[i + 1])) {
        i += 1;
        continue;
      }
      flushGroup(tokens, group, mode);
      group = [];
    }
    flushGroup(tokens, group, mode);
    return tokens;
  }

  function charCount(s) { var k = 0; for (var _ of s) k += 1; return k; }

  function emitWord(tokens, word, pos, start, end) {
    if (charCount(word) > MAX_TERM_CHARS || isStopWord(word)) return;
    tokens.push({ term: stemWord(word), pos: pos, raw: word, start: start, end: end });
  }

  function flushGroup(tokens, group, mode) {
    var compound = group.length >= 2 && group.some(function (g) { return NUMERIC.test(g.word); });
    var emitParts = function () {
      group.forEach(function (g) { emitWord(tokens, g.word, g.pos, g.start, g.end); });
    };
    if (!compound) { emitParts(); return; }
    var joined = group.map(function (g) { return g.word; }).join('');
    if (mode === 'index') emitParts();
    if (charCount(joined) <= MAX_TERM_CHARS) {
      tokens.push({ term: joined, pos: group[0].pos, raw: joined, start: group[0].start,
        end: group[group.length - 1].end });
    } else if (mode === 'query') {
      emitParts();
    }
  }

  // ---------------------------------------------------------------- stemmer (Snowball English)

  var VOWELS = 'aeiouy';
  function isV(ch) { return VOWELS.indexOf(ch) >= 0; }
  var EXCEPTION1 = { skis: 'ski', skies: 'sky', dying: 'die', lying: 'lie', tying: 'tie',
    idly: 'idl', gently: 'gentl', ugly: 'ugli', early: 'earli', only: 'onli', singly: 'singl',
    sky: 'sky', news: 'news', howe: 'howe', atlas: 'atlas', cosmos: 'cosmos', bias: 'bias',
    andes: 'andes' };
  var EXCEPTION2 = { inning: 1, outing: 1, canning: 1, herring: 1, earring: 1, proceed: 1,
    exceed: 1, succeed: 1 };

  /** Longest suffix of w among list (sorted longest first is not required). */
  function longestSuffix(w, list) {
    var best = null;
    for (var i = 0; i < list.length; i++) {
      var s = list[i];
      if (w.length >= s.length && w.slice(w.length - s.length) === s && (best === null || s.length > best.length)) best = s;
    }
    return best;
  }

  /** Whether w[0..end) ends in a short syllable. */
  function endsShort(w, end) {
    if (end >= 3) {
      var a = w[end - 3], b = w[end - 2], c = w[end - 1];
      if (!isV(a) && isV(b) && !isV(c) && c !== 'w' && c !== 'x' && c !== 'Y') return true;
    }
    return end === 2 && isV(w[0]) && !isV(w[1]);
  }

  function stem(word) {
    if (EXCEPTION1[word] !== undefined) return EXCEPTION1[word];
    if (word.length < 3) return word;
    var w = word.split('');
    if (w[0] === "'") w.shift();
    if (w[0] === 'y') w[0] = 'Y';
    for (var i = 1; i < w.length; i++) if (w[i] === 'y' && isV(w[i - 1])) w[i] = 'Y';
    var s = w.join('');
    // Regions.
    var p1 = s.length, p2 = s.length;
    var prefix = longestPrefix(s, ['gener', 'commun', 'arsen']);
    var k;
    if (prefix) {
      p1 = prefix.length;
    } else {
      p1 = afterVowelNonVowel(s, 0);
    }
    p2 = afterVowelNonVowel(s, p1);
    var r1 = function (suffixLen) { return s.length - suffixLen >= p1; };
    var r2 = function (suffixLen) { return s.length - suffixLen >= p2; };
    var replace = function (suffixLen, by) { s = s.slice(0, s.length - suffixLen) + by; };
    var hasVowel = function (str) { for (var j = 0; j < str.length; j++) if (isV(str[j])) return true; return false; };

    // Step 0.
    var suf = longestSuffix(s, ["'", "'s", "'s'"]);
    if (suf) replace(suf.length, '');
    // Step 1a.
    suf = longestSuffix(s, ['sses', 'ied', 'ies', 's', 'us', 'ss']);
    if (suf === 'sses') replace(4, 'ss');
    else if (suf === 'ied' || suf === 'ies') replace(3, s.length - 3 >= 2 ? 'i' : 'ie');
    else if (suf === 's') {
      if (hasVowel(s.slice(0, s.length - 2))) replace(1, '');
    }
    if (EXCEPTION2[s]) return s;
    // Step 1b.
    suf = longestSuffix(s, ['eed', 'eedly', 'ed', 'edly', 'ing', 'ingly']);
    if (suf === 'eed' || suf === 'eedly') {
      if (r1(suf.length)) replace(suf.length, 'ee');
    } else if (suf) {
      var before = s.slice(0, s.length - suf.length);
      if (hasVowel(before)) {
        s = before;
        var end2 = longestSuffix(s, ['at', 'bl', 'iz', 'bb', 'dd', 'ff', 'gg', 'mm', 'nn', 'pp', 'rr', 'tt']);
        if (end2 === 'at' || end2 === 'bl' || end2 === 'iz') s += 'e';
        else if (end2) s = s.slice(0, -1);
        else if (s.length === p1 && endsShort(s, s.length)) s += 'e';
      }
    }
    // Step 1c.
    var last = s[s.length - 1];
    if ((last === 'y' || last === 'Y') && s.length > 2 && !isV(s[s.length - 2])) replace(1, 'i');
    // Step 2.
    var step2 = { tional: 'tion', enci: 'ence', anci: 'ance', abli: 'able', entli: 'ent',
      izer: 'ize', ization: 'ize', ational: 'ate', ation: 'ate', ator: 'ate', alism: 'al',
      aliti: 'al', alli: 'al', fulness: 'ful', ousli: 'ous', ousness: 'ous', iveness: 'ive',
      iviti: 'ive', biliti: 'ble', bli: 'ble', ogi: 'og', fulli: 'ful', lessli: 'less', li: '' };
    suf = longestSuffix(s, Object.keys(step2));
    if (suf && r1(suf.length)) {
      if (suf === 'ogi') {
        if (s[s.length - 4] === 'l') replace(3, 'og');
      } else if (suf === 'li') {
        if ('cdeghkmnrt'.indexOf(s[s.length - 3]) >= 0 && s.length >= 3) replace(2, '');
      } else {
        replace(suf.length, step2[suf]);
      }
    }
    // Step 3.
    var step3 = { tional: 'tion', ational: 'ate', alize: 'al', icate: 'ic', iciti: 'ic',
      ical: 'ic', ful: '', ness: '', ative: '' };
    suf = longestSuffix(s, Object.keys(step3));
    if (suf && r1(suf.length)) {
      if (suf === 'ative') {
        if (r2(5)) replace(5, '');
      } else {
        replace(suf.length, step3[suf]);
      }
    }
    // Step 4.
    suf = longestSuffix(s, ['al', 'ance', 'ence', 'er', 'ic', 'able', 'ible', 'ant', 'ement',
      'ment', 'ent', 'ism', 'ate', 'iti', 'ous', 'ive', 'ize', 'ion']);
    if (suf && r2(suf.length)) {
      if (suf === 'ion') {
        k = s[s.length - 4];
        if (k === 's' || k === 't') replace(3, '');
      } else {
        replace(suf.length, '');
      }
    }
    // Step 5.
    last = s[s.length - 1];
    if (last === 'e') {
      if (r2(1) || (r1(1) && !endsShort(s, s.length - 1))) replace(1, '');
    } else if (last === 'l') {
      if (r2(1) && s[s.length - 2] === 'l') replace(1, '');
    }
    return s.replace(/Y/g, 'y');
  }

  function longestPrefix(s, list) {
    for (var i = 0; i < list.length; i++) if (s.slice(0, list[i].length) === list[i]) return list[i];
    return null;
  }

  /** Position after the first non-vowel that follows a vowel, searching from `from`. */
  function afterVowelNonVowel(s, from) {
    for (var i = from; i < s.length - 1; i++) {
      if (isV(s[i]) && !isV(s[i + 1])) return i + 2;
    }
    return s.length;
  }

  // ---------------------------------------------------------------- index format

  var ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
  var ALPHABET_VALUE = {};
  for (var ai = 0; ai < ALPHABET.length; ai++) ALPHABET_VALUE[ALPHABET[ai]] = ai;

  function decodeVarints(text) {
    var values = [];
    var current = 0, shift = 0;
    for (var i = 0; i < text.length; i++) {
      var v = ALPHABET_VALUE[text[i]];
      if (v === undefined) throw new Error('corrupt index block');
      current += (v & 31) * Math.pow(2, shift);
      if (v & 32) { shift += 5; } else { values.push(current); current = 0; shift = 0; }
    }
    if (shift !== 0) throw new Error('corrupt index block');
    return values;
  }

  /**
   * Decodes a posting block (see src/search_index/encode.rs) to [{doc, impact, positions}]:
   * `docs` holds (doc-delta, impact) pairs; `positions`, when given, each posting's positions.
   */
  function decodeBlock(docs, positions) {
    var values = decodeVarints(docs);
    if (values.length % 2 !== 0) throw new Error('corrupt index block');
    var out = [];
    var doc = 0;
    for (var j = 0; j < values.length; j += 2) {
      doc += values[j];
      out.push({ doc: doc, impact: values[j + 1], positions: [] });
    }
    if (typeof positions === 'string') {
      var pos = decodeVarints(positions);
      var k = 0;
      out.forEach(function (p) {
        var npos = pos[k++];
        if (npos === undefined || k + npos > pos.length) throw new Error('corrupt index block');
        var last = 0;
        for (var n = 0; n < npos; n++) { last += pos[k++]; p.positions.push(last); }
      });
      if (k !== pos.length) throw new Error('corrupt index block');
    }
    return out;
  }

  /** 32-bit FNV-1a over the UTF-8 bytes of s (same as encode.rs fnv1a). */
  function fnv1a(s) {
    var bytes = unescape(encodeURIComponent(s));
    var h = 0x811c9dc5;
    for (var i = 0; i < bytes.length; i++) {
      h ^= bytes.charCodeAt(i);
      h = Math.imul(h, 0x01000193) >>> 0;
    }
    return h >>> 0;
  }

  function prefixOf(term, prefixChars) {
    return Array.from(term).slice(0, prefixChars || 3).join('');
  }

  function shardOf(term, shards, prefixChars) {
    return fnv1a(prefixOf(term, prefixChars)) % Math.max(1, shards);
  }

  /**
   * The children of a split prefix group's list ([[first_term, id, max_df]], sorted; `id` a
   * sub-shard s<n> or an inner node r<n>) whose terms can fall in [lo, hi): child i holds
   * the terms from its first term up to the next one's.
   */
  function childrenIn(list, lo, hi) {
    var out = [];
    for (var i = 0; i < list.length; i++) {
      var next = i + 1 < list.length ? list[i + 1][0] : null;
      if (list[i][0] < hi && (next === null || next > lo)) out.push(list[i]);
    }
    return out;
  }

  /** The child of a split group's list that holds `term` if the index has it. */
  function childFor(list, term) {
    var best = list[0];
    for (var i = 1; i < list.length && list[i][0] <= term; i++) best = list[i];
    return best;
  }

  function isInner(id) { return id.charAt(0) === 'r'; }

  /**
   * Walks a split group's tree from `list` to the sub-shard whose range holds `term`.
   * `get(id)` resolves to an inner node's list. Resolves to {leaf, list}: the sub-shard's id
   * and the list that named it.
   */
  function descend(list, term, get) {
    var child = childFor(list, term);
    if (!isInner(child[1])) return Promise.resolve({ leaf: child[1], list: list });
    return get(child[1]).then(function (node) { return descend(node, term, get); });
  }

  /**
   * The ids of the `limit` sub-shards under `list` with terms in [lo, hi) and the largest
   * document frequencies: best first through the tree (an inner node's max_df is the largest
   * below it), so only inner nodes that may hold one of them are read.
   */
  function bestLeaves(list, lo, hi, limit, get) {
    var frontier = childrenIn(list, lo, hi);
    var chosen = [];
    var byDf = function (a, b) { return b[2] - a[2] || (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0); };
    var step = function () {
      frontier.sort(byDf);
      while (frontier.length && chosen.length < limit && !isInner(frontier[0][1])) chosen.push(frontier.shift()[1]);
      if (!frontier.length || chosen.length >= limit) return Promise.resolve(chosen);
      var node = frontier.shift();
      return get(node[1]).then(function (children) {
        frontier = frontier.concat(childrenIn(children, lo, hi));
        return step();
      });
    };
    return step();
  }

  // ---------------------------------------------------------------- query parsing

  /**
   * Parses a query into {groups, phrases, excludes, notes, error}.
   * groups: [{term, raw, prefix}] required terms (any of their expansions);
   * phrases: [[{term, pos}]] required phrases; excludes: [[{term, pos}]] (a phrase of one
   * word or more) that must not match. `typing` says the user may still be typing the last
   * word, so it is matched as a prefix.
   */
  function parseQuery(input, typing) {
    var result = { groups: [], phrases: [], excludes: [], notes: [], error: null };
    if (typeof input !== 'string') input = '';
    if (input.trim() === '') { result.error = 'empty'; return result; }
    if (input.length > MAX_QUERY_CHARS) {
      result.error = 'The query is too long: ' + input.length + ' characters, at most ' + MAX_QUERY_CHARS + '.';
      return result;
    }
    var quotes = (input.match(/"/g) || []).length;
    var text = input;
    if (quotes % 2 === 1) {
      var lastQuote = text.lastIndexOf('"');
      text = text.slice(0, lastQuote) + ' ' + text.slice(lastQuote + 1);
      result.notes.push('An unmatched quote (") was ignored.');
    }
    // Split into pieces: quoted phrases and bare chunks, each maybe negated.
    var re = /(-?)"([^"]*)"|(\S+)/g;
    var m;
    var pieces = [];
    while ((m = re.exec(text)) !== null) {
      if (m[3] !== undefined) {
        var chunk = m[3];
        var negated = chunk.length > 1 && chunk[0] === '-';
        pieces.push({ text: negated ? chunk.slice(1) : chunk, negated: negated, phrase: false, end: re.lastIndex });
      } else {
        pieces.push({ text: m[2], negated: m[1] === '-', phrase: true, end: re.lastIndex });
      }
    }
    var endsInWord = typing && /[\p{Alphabetic}\p{N}]$/u.test(text);
    var stopOnly = false;
    for (var i = 0; i < pieces.length; i++) {
      var piece = pieces[i];
      var tokens = tokenize(piece.text, 'query');
      if (tokens.length === 0) {
        if (fold(piece.text).split(/[^\p{Alphabetic}\p{N}]+/u).some(function (w) { return isStopWord(w); })) stopOnly = true;
        continue;
      }
      var seq = tokens.map(function (t) { return { term: t.term, pos: t.pos - tokens[0].pos, raw: t.raw }; });
      if (piece.negated) { result.excludes.push(seq); continue; }
      // CJK text has no spaces: characters typed together are matched together.
      var cjkRun = seq.length > 1 && seq.every(function (w) { return charCount(w.raw) === 1 && isCjk(w.raw.codePointAt(0)); });
      if ((piece.phrase || cjkRun) && seq.length > 1) { result.phrases.push(seq); continue; }
      for (var t = 0; t < seq.length; t++) {
        var isLast = i === pieces.length - 1 && t === seq.length - 1 && piece.end === text.length;
        result.groups.push({ term: seq[t].term, raw: seq[t].raw,
          prefix: !piece.phrase && isLast && endsInWord && charCount(seq[t].raw) >= 3 });
      }
    }
    if (result.groups.length === 0 && result.phrases.length === 0) {
      if (result.excludes.length > 0) {
        result.error = 'Add at least one word to search for: excluding words (-word) alone matches nothing.';
      } else if (stopOnly) {
        result.error = 'Only very common words (like "the", "of", "and") were typed; they are not indexed. Add a more specific word.';
      } else {
        result.error = 'No searchable words in the query: use letters or numbers.';
      }
    }
    return result;
  }

  /** Damerau-Levenshtein distance, capped: returns max+1 when over `max`. */
  function editDistance(a, b, max) {
    a = Array.from(a); b = Array.from(b);
    if (Math.abs(a.length - b.length) > max) return max + 1;
    var prev2 = null, prev = [], cur;
    for (var j = 0; j <= b.length; j++) prev[j] = j;
    for (var i = 1; i <= a.length; i++) {
      cur = [i];
      var rowMin = i;
      for (j = 1; j <= b.length; j++) {
        var cost = a[i - 1] === b[j - 1] ? 0 : 1;
        var v = Math.min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + cost);
        if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) v = Math.min(v, prev2[j - 2] + 1);
        cur[j] = v;
        if (v < rowMin) rowMin = v;
      }
      if (rowMin > max) return max + 1;
      prev2 = prev; prev = cur;
    }
    return prev[b.length];
  }

  /**
   * Which index terms a query group stands for, from the dictionary shard holding it:
   * [{term, weight}]. Exact first; the last word typed also matches as a prefix; a word not
   * in the index matches terms one edit away (a typo).
   */
  function expandGroup(group, dict) {
    var out = [];
    var seen = {};
    var add = function (term, weight) {
      if (!seen[term]) { seen[term] = true; out.push({ term: term, weight: weight, df: dict[term][0] }); }
    };
    if (dict[group.term]) add(group.term, 1);
    if (group.raw !== group.term && dict[group.raw]) add(group.raw, 1);
    // A word typed whole that is in the index is not widened: its expansions could each bring
    // a long posting list, and stemming already covers its other forms.
    if (group.prefix && out.length === 0) {
      var prefixed = Object.keys(dict).filter(function (t) {
        return t.length > group.raw.length && t.slice(0, group.raw.length) === group.raw;
      });
      prefixed.sort(function (a, b) { return dict[b][0] - dict[a][0] || (a < b ? -1 : 1); });
      prefixed.slice(0, 12).forEach(function (t) { add(t, 0.9); });
    }
    if (out.length === 0 && charCount(group.raw) >= 4) {
      var near = Object.keys(dict).filter(function (t) {
        return editDistance(t, group.term, 1) <= 1 || editDistance(t, group.raw, 1) <= 1;
      });
      near.sort(function (a, b) { return dict[b][0] - dict[a][0] || (a < b ? -1 : 1); });
      near.slice(0, 3).forEach(function (t) { add(t, 0.7); });
    }
    return out;
  }

  /** Whether positions lists (one per phrase word, with offsets) line up somewhere. */
  function phraseMatches(positionLists, offsets) {
    var first = positionLists[0];
    for (var i = 0; i < first.length; i++) {
      var start = first[i] - offsets[0];
      var ok = true;
      for (var k = 1; k < positionLists.length && ok; k++) {
        if (positionLists[k].indexOf(start + offsets[k]) < 0) ok = false;
      }
      if (ok) return true;
    }
    return false;
  }

  /**
   * Combines postings into ranked results. postingsOf(term) gives a Map doc → {impact,
   * positions}. Returns [{doc, score}] sorted by score, then document number.
   */
  function rank(parsed, expansions, postingsOf) {
    var sets = [];
    parsed.groups.forEach(function (group, gi) {
      var scores = new Map();
      expansions[gi].forEach(function (alt) {
        postingsOf(alt.term).forEach(function (p, doc) {
          var s = p.impact * alt.weight;
          if (!scores.has(doc) || scores.get(doc) < s) scores.set(doc, s);
        });
      });
      sets.push(scores);
    });
    parsed.phrases.forEach(function (phrase) { sets.push(phraseScores(phrase, postingsOf)); });
    if (sets.length === 0) return [];
    var excluded = parsed.excludes.map(function (phrase) { return phraseScores(phrase, postingsOf); });
    sets.sort(function (a, b) { return a.size - b.size; });
    var results = [];
    sets[0].forEach(function (score, doc) {
      var total = score;
      for (var k = 1; k < sets.length; k++) {
        var s = sets[k].get(doc);
        if (s === undefined) return;
        total += s;
      }
      for (var e = 0; e < excluded.length; e++) if (excluded[e].has(doc)) return;
      results.push({ doc: doc, score: total });
    });
    results.sort(function (a, b) { return b.score - a.score || a.doc - b.doc; });
    return results;
  }

  function phraseScores(phrase, postingsOf) {
    var lists = phrase.map(function (w) { return postingsOf(w.term); });
    var out = new Map();
    lists[0].forEach(function (p, doc) {
      var score = p.impact;
      var positionLists = [p.positions];
      for (var k = 1; k < lists.length; k++) {
        var q = lists[k].get(doc);
        if (!q) return;
        score += q.impact;
        positionLists.push(q.positions);
      }
      if (lists.length === 1 || phraseMatches(positionLists, phrase.map(function (w) { return w.pos; }))) {
        out.set(doc, score);
      }
    });
    return out;
  }

  /** Facet of document number `doc`: the manifest row [first, agency, kind, year]. */
  function facetOf(ranges, doc) {
    var lo = 0, hi = ranges.length - 1;
    while (lo < hi) {
      var mid = (lo + hi + 1) >> 1;
      if (ranges[mid][0] <= doc) lo = mid; else hi = mid - 1;
    }
    return ranges[lo];
  }

  /**
   * Applies filters {agency, kind, year} (indexes or -1 for any) and counts each facet's
   * values over the results that pass the *other* filters (so a chosen agency still shows
   * what the other agencies hold).
   */
  function facetAndFilter(results, ranges, filters) {
    var counts = { agency: {}, kind: {}, year: {} };
    var kept = [];
    results.forEach(function (r) {
      var row = facetOf(ranges, r.doc);
      var okA = filters.agency < 0 || row[1] === filters.agency;
      var okK = filters.kind < 0 || row[2] === filters.kind;
      var okY = filters.year < 0 || row[3] === filters.year;
      if (okK && okY) counts.agency[row[1]] = (counts.agency[row[1]] || 0) + 1;
      if (okA && okY) counts.kind[row[2]] = (counts.kind[row[2]] || 0) + 1;
      if (okA && okK && row[3] >= 0) counts.year[row[3]] = (counts.year[row[3]] || 0) + 1;
      if (okA && okK && okY) kept.push(r);
    });
    return { results: kept, counts: counts };
  }

  /** Link from the search page (search/index.html) to a document's site path. */
  function resultHref(root, url, offline) {
    var href = root + url;
    if (offline && (url === '' || url[url.length - 1] === '/')) href += 'index.html';
    return href;
  }

  /**
   * The excerpt to show: [{text, mark}] pieces around the first matched word, at most
   * `max` characters. `matches(token)` says whether a token is a hit.
   */
  function excerptPieces(text, matches, max) {
    max = max || 220;
    var tokens = tokenize(text, 'index');
    var hits = tokens.filter(matches);
    var start = 0;
    if (hits.length > 0 && hits[0].end > max - 40) {
      start = Math.max(0, hits[0].start - 60);
      var space = text.lastIndexOf(' ', start);
      start = space > 0 && start - space < 20 ? space + 1 : start;
    }
    var end = Math.min(text.length, start + max);
    if (end < text.length) {
      var cut = text.lastIndexOf(' ', end);
      if (cut > start + max / 2) end = cut;
    }
    var pieces = [];
    if (start > 0) pieces.push({ text: '…', mark: false });
    var at = start;
    hits.forEach(function (h) {
      if (h.start < at || h.end > end) return;
      if (h.start > at) pieces.push({ text: text.slice(at, h.start), mark: false });
      pieces.push({ text: text.slice(h.start, h.end), mark: true });
      at = h.end;
    });
    if (at < end) pieces.push({ text: text.slice(at, end), mark: false });
    if (end < text.length && !/…$/.test(text.slice(0, end))) pieces.push({ text: '…', mark: false });
    return pieces;
  }

  // ---------------------------------------------------------------- loading

  var loaded = Object.create(null);
  var waiting = Object.create(null);
  var base = '';

  /** Called by every index script: registers its data. */
  function load(id, data) {
    loaded[id] = data;
    if (waiting[id]) waiting[id].resolve(data);
  }

  /** Loads `<base><id>.js` once, by inserting a script element; resolves to its data. */
  function need(id) {
    if (id in loaded) return Promise.resolve(loaded[id]);
    if (waiting[id]) return waiting[id].promise;
    var entry = {};
    entry.promise = new Promise(function (resolve, reject) { entry.resolve = resolve; entry.reject = reject; });
    waiting[id] = entry;
    var script = document.createElement('script');
    script.src = base + id + '.js';
    script.async = true;
    script.onload = function () {
      script.remove();
      if (!(id in loaded)) { delete waiting[id]; entry.reject(new Error('index file ' + id + ' is damaged')); }
    };
    script.onerror = function () {
      script.remove();
      delete waiting[id];
      entry.reject(new Error('index file ' + id + ' could not be loaded'));
    };
    document.head.appendChild(script);
    return entry.promise;
  }

  // Long posting lists are split in tiers by impact, the best first (128, 512, 2048, then
  // 4096 postings). A query reads tiers until it holds `want` postings per term (or, with
  // filters, the tiers with documents in the filtered ranges), at most this many, and then
  // says its counts are estimates.
  var MAX_BLOCKS_PER_TERM = 8;
  // Sub-shards of a split prefix group read to widen a word (prefix or typo).
  var WIDEN_LEAVES = 4;

  function loadAll(ids) { return Promise.all(ids.map(need)); }

  /**
   * Loads the dictionary for a parsed query (root shards, then the sub-shards of split
   * groups that hold its words, then, for a word not found, those a prefix or a typo could
   * reach) and resolves to one object {term: entry} of everything read.
   */
  function lookup(manifest, parsed) {
    var words = [];
    parsed.groups.forEach(function (g) { words.push(g.term, g.raw); });
    parsed.phrases.concat(parsed.excludes).forEach(function (p) { p.forEach(function (w) { words.push(w.term); }); });
    var rootId = function (w) { return 't' + shardOf(w, manifest.shards, manifest.prefix); };
    var roots = {};
    words.forEach(function (w) { roots[rootId(w)] = true; });
    var leaves = {};
    var splitOf = function (w) {
      var root = loaded[rootId(w)];
      return (root && root[1] && root[1][prefixOf(w, manifest.prefix)]) || null;
    };
    var dictionary = function () {
      var dict = {};
      Object.keys(roots).forEach(function (id) { Object.assign(dict, loaded[id][0]); });
      Object.keys(leaves).forEach(function (id) { Object.assign(dict, loaded[id]); });
      return dict;
    };
    var get = function (id) { return need(id).then(function () { return loaded[id]; }); };
    return loadAll(Object.keys(roots)).then(function () {
      // word → {leaf, list}: where each word of a split group is, and the list that names it.
      var paths = {};
      return Promise.all(words.map(function (w) {
        var list = splitOf(w);
        if (!list) return null;
        return descend(list, w, get).then(function (found) { paths[w] = found; leaves[found.leaf] = true; });
      })).then(function () { return loadAll(Object.keys(leaves)); }).then(function () { return paths; });
    }).then(function (paths) {
      var dict = dictionary();
      var wider = [];
      parsed.groups.forEach(function (g) {
        if (dict[g.term] || dict[g.raw]) return;
        if (g.prefix) {
          var list = splitOf(g.raw);
          if (list) wider.push(bestLeaves(list, g.raw, g.raw + '\uffff', WIDEN_LEAVES, get));
        }
        if (charCount(g.raw) < 4) return;
        [g.term, g.raw].forEach(function (w) {
          var path = paths[w];
          if (!path) return;
          // The longest shared start that still narrows the list the word is in to a few
          // sub-shards: typos after it are found.
          var chars = Array.from(w);
          for (var k = manifest.prefix + 1; k <= chars.length; k++) {
            var start = chars.slice(0, k).join('');
            var kids = childrenIn(path.list, start, start + '\uffff');
            if (kids.length <= WIDEN_LEAVES) {
              wider.push(Promise.resolve(kids.map(function (c) { return c[1]; })));
              break;
            }
          }
        });
      });
      return Promise.all(wider).then(function (found) {
        var ids = {};
        found.forEach(function (list) { list.forEach(function (id) { ids[id] = true; }); });
        Object.assign(leaves, ids);
        return loadAll(Object.keys(ids));
      });
    }).then(dictionary);
  }

  /**
   * Whether a tier [p, i, q, j, first, last, count, max] has documents in any of `ranges`
   * ([from, to)).
   */
  function tierOverlaps(ref, ranges) {
    for (var i = 0; i < ranges.length; i++) if (ref[4] < ranges[i][1] && ref[5] >= ranges[i][0]) return true;
    return false;
  }

  /**
   * Runs a parsed query against the index: loads the dictionary, then posting tiers.
   * options: {want: postings per term to read, ranges: [[from, to)] when filtered, else
   * null}. Resolves to {results, expansions, approximate, total}.
   */
  function execute(manifest, parsed, options) {
    options = options || {};
    var want = options.want || 100;
    return lookup(manifest, parsed).then(function (dict) {
      var expansions = parsed.groups.map(function (g) { return expandGroup(g, dict); });
      var terms = {};
      expansions.forEach(function (list) { list.forEach(function (alt) { terms[alt.term] = terms[alt.term] || false; }); });
      // Positions only matter where word order does: phrases of two words or more.
      parsed.phrases.concat(parsed.excludes).forEach(function (p) {
        p.forEach(function (w) { terms[w.term] = terms[w.term] || p.length > 1; });
      });
      var approximate = false;
      var blockIds = {};
      Object.keys(terms).forEach(function (term) {
        var entry = dict[term];
        if (!entry || typeof entry[1] === 'string') return;
        var have = 0, chosen = 0;
        for (var i = 0; i < entry[1].length; i++) {
          var ref = entry[1][i];
          if (options.ranges && !tierOverlaps(ref, options.ranges)) continue;
          if (chosen >= MAX_BLOCKS_PER_TERM || (!options.ranges && have >= want)) { approximate = true; break; }
          blockIds['p' + ref[0]] = true;
          if (terms[term]) blockIds['q' + ref[2]] = true;
          have += ref[6];
          chosen += 1;
        }
      });
      return loadAll(Object.keys(blockIds)).then(function () {
        var cache = {};
        var postingsOf = function (term) {
          if (cache[term]) return cache[term];
          var map = new Map();
          var entry = dict[term];
          if (entry) {
            // A pack read for one term may hold other tiers of this one: they count too, but
            // a phrase word only with its positions.
            var blocks = typeof entry[1] === 'string' ? [decodeBlock(entry[1], entry[2])]
              : entry[1].filter(function (ref) {
                return ('p' + ref[0]) in loaded && (!terms[term] || ('q' + ref[2]) in loaded);
              }).map(function (ref) {
                var positions = loaded['q' + ref[2]];
                return decodeBlock(loaded['p' + ref[0]][ref[1]], positions ? positions[ref[3]] : undefined);
              });
            blocks.forEach(function (block) { block.forEach(function (p) { map.set(p.doc, p); }); });
          }
          cache[term] = map;
          return map;
        };
        // One plain term: the dictionary knows its true count even when not every tier loaded.
        var single = parsed.groups.length === 1 && parsed.phrases.length === 0 && parsed.excludes.length === 0 &&
          expansions[0].length === 1 ? expansions[0][0].df : null;
        return { results: rank(parsed, expansions, postingsOf), expansions: expansions, approximate: approximate,
          total: single };
      });
    });
  }

  /** The document-number ranges [from, to) that pass filters {agency, kind, year}, or null. */
  function filterRanges(manifest, filters) {
    if (filters.agency < 0 && filters.kind < 0 && filters.year < 0) return null;
    var out = [];
    manifest.ranges.forEach(function (row, i) {
      var to = i + 1 < manifest.ranges.length ? manifest.ranges[i + 1][0] : manifest.docs;
      if ((filters.agency < 0 || row[1] === filters.agency) && (filters.kind < 0 || row[2] === filters.kind) &&
        (filters.year < 0 || row[3] === filters.year)) out.push([row[0], to]);
    });
    return out;
  }

  /** Loads the document entries for the given document numbers: Map doc → [title, url, date, excerpt]. */
  function documents(manifest, docs) {
    var chunks = {};
    docs.forEach(function (d) { chunks['d' + Math.floor(d / manifest.chunk)] = true; });
    return Promise.all(Object.keys(chunks).map(need)).then(function () {
      var out = new Map();
      docs.forEach(function (d) {
        var chunk = loaded['d' + Math.floor(d / manifest.chunk)];
        out.set(d, chunk[d % manifest.chunk]);
      });
      return out;
    });
  }

  // ---------------------------------------------------------------- page

  var PAGE_SIZE = 10;

  function el(tag, className, text) {
    var node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined) node.textContent = text;
    return node;
  }

  function appendPieces(parent, pieces) {
    pieces.forEach(function (p) {
      if (p.mark) parent.appendChild(el('mark', null, p.text));
      else parent.appendChild(document.createTextNode(p.text));
    });
  }

  function initPage(root) {
    var manifestSrc = root.getAttribute('data-src');
    var offline = root.getAttribute('data-offline') === 'true';
    base = manifestSrc.replace(/manifest\.js$/, '');
    var siteRoot = manifestSrc.replace(/search\/[^/]*\/manifest\.js$/, '');
    var form = root.querySelector('form');
    var input = root.querySelector('input[name=q]');
    var selects = { agency: root.querySelector('select[name=agency]'), kind: root.querySelector('select[name=kind]'),
      year: root.querySelector('select[name=year]') };
    var status = root.querySelector('.search-status');
    var notes = root.querySelector('.search-notes');
    var list = root.querySelector('.search-results');
    var pager = root.querySelector('.search-pager');
    var manifest = null;
    var state = readState();
    var run = 0;
    var timer = null;

    function readState() {
      var params = new URLSearchParams(window.location.search);
      return { q: params.get('q') || '', agency: params.get('agency') || '', kind: params.get('kind') || '',
        year: params.get('year') || '', page: Math.max(1, parseInt(params.get('page'), 10) || 1) };
    }

    function writeState() {
      var params = new URLSearchParams();
      if (state.q) params.set('q', state.q);
      ['agency', 'kind', 'year'].forEach(function (k) { if (state[k]) params.set(k, state[k]); });
      if (state.page > 1) params.set('page', String(state.page));
      var query = params.toString();
      try {
        window.history.replaceState(null, '', window.location.pathname + (query ? '?' + query : ''));
      } catch (e) { /* some file:// contexts refuse; the page still works */ }
    }

    function setStatus(text) { status.textContent = text; }
    function setNotes(lines) {
      notes.textContent = '';
      lines.forEach(function (line) { notes.appendChild(el('li', null, line)); });
      notes.hidden = lines.length === 0;
    }
    function clear() { list.textContent = ''; pager.textContent = ''; pager.hidden = true; }

    function fillSelect(name, values, counts, label) {
      var select = selects[name];
      var current = state[name];
      select.textContent = '';
      var any = el('option', null, label);
      any.value = '';
      select.appendChild(any);
      values.forEach(function (v, i) {
        var count = counts ? (counts[i] || 0) : null;
        if (counts && count === 0 && v.value !== current) return;
        var option = el('option', null, v.label + (count !== null ? ' (' + count + ')' : ''));
        option.value = v.value;
        if (v.value === current) option.selected = true;
        select.appendChild(option);
      });
    }

    function facetValues() {
      return {
        agency: manifest.agencies.map(function (a) { return { value: a[0], label: a[1] }; }),
        kind: manifest.kinds.map(function (k) { return { value: k, label: k }; }),
        year: manifest.years.map(function (y) { return { value: String(y), label: String(y) }; })
      };
    }

    function fillFilters(counts) {
      var values = facetValues();
      fillSelect('agency', values.agency, counts && counts.agency, 'All agencies');
      fillSelect('kind', values.kind, counts && counts.kind, 'All kinds');
      fillSelect('year', values.year, counts && counts.year, 'All years');
    }

    function filterIndexes() {
      var values = facetValues();
      var index = function (name) {
        for (var i = 0; i < values[name].length; i++) if (values[name][i].value === state[name]) return i;
        return state[name] ? -2 : -1;
      };
      return { agency: index('agency'), kind: index('kind'), year: index('year') };
    }

    function search() {
      var mine = ++run;
      writeState();
      var parsed;
      try {
        // The last word is always a prefix (unless a space follows it), so pressing Enter or
        // opening a shared link gives what typing showed.
        parsed = parseQuery(state.q, true);
      } catch (e) {
        parsed = { error: 'This query could not be read. Try plain words.', notes: [] };
      }
      setNotes(parsed.notes || []);
      if (parsed.error) {
        clear();
        fillFilters(null);
        setStatus(parsed.error === 'empty' ? 'Type words to search ' + manifest.docs + ' documents.' : parsed.error);
        return;
      }
      setStatus('Searching…');
      var filters = filterIndexes();
      // A single word needs only its best postings for the page shown (the first tier); an
      // intersection or a phrase needs more of each list (three tiers) to find documents
      // that hold every word.
      var single = parsed.groups.length === 1 && parsed.phrases.length === 0 && parsed.excludes.length === 0;
      var options = { want: Math.max(single ? 100 : 2688, state.page * PAGE_SIZE * (single ? 1 : 4)),
        ranges: filterRanges(manifest, filters) };
      execute(manifest, parsed, options).then(function (outcome) {
        if (mine !== run) return null;
        var filtered = facetAndFilter(outcome.results, manifest.ranges, filters);
        var results = filtered.results;
        fillFilters(filtered.counts);
        var unfiltered = options.ranges === null;
        // Only the best tiers were read: the dictionary's count gives the pages.
        var known = outcome.approximate && unfiltered && outcome.total !== null ? outcome.total : results.length;
        var pages = Math.max(1, Math.ceil(known / PAGE_SIZE));
        if (state.page > pages) state.page = pages;
        var shown = results.slice((state.page - 1) * PAGE_SIZE, state.page * PAGE_SIZE);
        var extraNotes = (parsed.notes || []).slice();
        parsed.groups.forEach(function (g, i) {
          var alts = outcome.expansions[i];
          if (alts.length > 0 && alts.every(function (a) { return a.weight < 0.8; })) {
            extraNotes.push('No match for “' + g.raw + '”: showing “' + alts.map(function (a) { return a.term; }).join('”, “') + '”.');
          }
        });
        setNotes(extraNotes);
        return documents(manifest, shown.map(function (r) { return r.doc; })).then(function (entries) {
          if (mine !== run) return;
          var count = known;
          var about = outcome.approximate && known === results.length ? 'at least ' : '';
          if (count === 0) {
            setStatus(outcome.results.length > 0 ? 'No documents match with these filters (' + outcome.results.length + ' without them).'
              : 'No documents match “' + state.q + '”.');
          } else {
            setStatus(about + count + (count === 1 ? ' document' : ' documents') +
              (pages > 1 ? ', page ' + state.page + ' of ' + pages : '') + '.');
          }
          render(shown, entries, parsed, outcome.expansions);
          renderPager(pages);
        });
      }).catch(function (err) {
        if (mine !== run) return;
        clear();
        setStatus('Search failed: ' + (err && err.message ? err.message : String(err)) + '.');
      });
    }

    function render(shown, entries, parsed, expansions) {
      list.textContent = '';
      var hitTerms = {};
      var prefixes = [];
      expansions.forEach(function (alts) { alts.forEach(function (a) { hitTerms[a.term] = true; }); });
      parsed.groups.forEach(function (g) { hitTerms[g.term] = true; if (g.prefix) prefixes.push(g.raw); });
      parsed.phrases.forEach(function (p) { p.forEach(function (w) { hitTerms[w.term] = true; }); });
      var matches = function (t) {
        if (hitTerms[t.term]) return true;
        for (var i = 0; i < prefixes.length; i++) if (t.raw.slice(0, prefixes[i].length) === prefixes[i]) return true;
        return false;
      };
      shown.forEach(function (r) {
        var entry = entries.get(r.doc) || ['', '', '', ''];
        var row = facetOf(manifest.ranges, r.doc);
        var item = el('li', 'search-result');
        var heading = el('h2', 'search-result-title');
        var link = el('a');
        link.href = resultHref(siteRoot, entry[1], offline);
        appendPieces(link, excerptPieces(entry[0], matches, 300));
        heading.appendChild(link);
        item.appendChild(heading);
        var meta = el('p', 'search-result-meta');
        var agency = manifest.agencies[row[1]];
        if (agency) meta.appendChild(el('span', 'search-result-agency', agency[1]));
        meta.appendChild(el('span', 'search-result-kind', manifest.kinds[row[2]] || ''));
        if (entry[2]) {
          var time = el('time', 'search-result-date', entry[2]);
          time.setAttribute('datetime', entry[2]);
          meta.appendChild(time);
        }
        item.appendChild(meta);
        if (entry[3]) {
          var excerpt = el('p', 'search-result-excerpt');
          appendPieces(excerpt, excerptPieces(entry[3], matches, 240));
          item.appendChild(excerpt);
        }
        list.appendChild(item);
      });
    }

    function renderPager(pages) {
      pager.textContent = '';
      pager.hidden = pages <= 1;
      if (pages <= 1) return;
      var button = function (label, page, current) {
        var b = el('button', current ? 'search-page current' : 'search-page', label);
        b.type = 'button';
        if (current) b.setAttribute('aria-current', 'page');
        b.addEventListener('click', function () {
          state.page = page;
          search();
          input.focus();
        });
        return b;
      };
      if (state.page > 1) pager.appendChild(button('← Previous', state.page - 1, false));
      for (var p = Math.max(1, state.page - 3); p <= Math.min(pages, state.page + 3); p++) {
        pager.appendChild(button(String(p), p, p === state.page));
      }
      if (state.page < pages) pager.appendChild(button('Next →', state.page + 1, false));
    }

    input.value = state.q;
    input.addEventListener('input', function () {
      state.q = input.value;
      state.page = 1;
      clearTimeout(timer);
      timer = setTimeout(function () { search(); }, 120);
    });
    form.addEventListener('submit', function (event) {
      event.preventDefault();
      state.q = input.value;
      state.page = 1;
      search();
    });
    Object.keys(selects).forEach(function (name) {
      selects[name].addEventListener('change', function () {
        state[name] = selects[name].value;
        state.page = 1;
        search();
      });
    });

    setStatus('Loading the index…');
    need('manifest').then(function (m) {
      manifest = m;
      fillFilters(null);
      search();
    }).catch(function (err) {
      setStatus('The search index could not be loaded (' + err.message + ').');
    });
  }

  if (typeof document !== 'undefined') {
    var start = function () {
      var root = document.getElementById('search');
      if (root && root.getAttribute('data-src')) initPage(root);
    };
    if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', start);
    else start();
  }

  return {
    load: load,
    fold: fold,
    tokenize: tokenize,
    stem: stem,
    fnv1a: fnv1a,
    shardOf: shardOf,
    decodeBlock: decodeBlock,
    childrenIn: childrenIn,
    childFor: childFor,
    descend: descend,
    bestLeaves: bestLeaves,
    filterRanges: filterRanges,
    execute: execute,
    parseQuery: parseQuery,
    editDistance: editDistance,
    expandGroup: expandGroup,
    rank: rank,
    facetOf: facetOf,
    facetAndFilter: facetAndFilter,
    resultHref: resultHref,
    excerptPieces: excerptPieces,
    MAX_QUERY_CHARS: MAX_QUERY_CHARS
  };
})();

if (typeof module !== 'undefined' && module.exports) module.exports = LEAKPRESS_SEARCH;
