//! The search index end to end: shared tokenizer vectors (also checked by
//! `tests/search-client/*.test.js` against `search.js`), and the index that a build of the
//! sample archive writes under `search/`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use leakpress::search_index::tokenize::{Mode, stem, tokenize};
use leakpress::search_index::{decode_postings, shard_of};
use leakpress::{BuildOptions, Output};
use serde_json::{Value, json};

fn vectors_path() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/search-client/tokenizer-vectors.json")
}

/// Texts whose tokens both implementations must agree on.
const TEXTS: &[&str] = &[
    "Protesters PROTESTED at the Café",
    "Straße Øre Æsir œuvre Łódź Þór ıstanbul ΣΊΣΥΦΟΣ",
    "Résumé of Incident 14",
    "Case 2016-127403 was closed; call 555-123-4567 or (555) 123-4567.",
    "IP 10.0.0.1, file DDF\\Bulletin_12.pdf, time 14:30:00",
    "e-mail re-entry state-of-the-art",
    "東京の警察 서울경찰청 ﾊﾟﾄｶｰ",
    "ﬁle ½ ① Ⅻ x²",
    "naïve coöperate façade jalapeño",
    "the of and",
    "\"quoted phrase\" -excluded (.*)+[a-z]{2}",
    "Generously running hoped skies cries ties national relational happily agreed feed",
    "a aa aaa 1 12 123 x1 1x",
    "",
];

/// Extra words for the stemmer beyond the sample archive's vocabulary.
const WORDS: &[&str] = &[
    "generously",
    "generate",
    "communism",
    "communication",
    "arsenal",
    "skis",
    "skies",
    "dying",
    "lying",
    "tying",
    "idly",
    "gently",
    "ugly",
    "early",
    "only",
    "singly",
    "sky",
    "news",
    "howe",
    "atlas",
    "cosmos",
    "bias",
    "andes",
    "inning",
    "innings",
    "outing",
    "canning",
    "herring",
    "earring",
    "proceed",
    "exceed",
    "succeed",
    "succeeded",
    "caresses",
    "ponies",
    "ties",
    "cries",
    "gaps",
    "gas",
    "this",
    "kiwis",
    "bleed",
    "agreed",
    "feed",
    "luxuriated",
    "hopping",
    "hoped",
    "filing",
    "conflated",
    "troubled",
    "sized",
    "fizzed",
    "failing",
    "happy",
    "cry",
    "by",
    "say",
    "relational",
    "conditional",
    "rational",
    "valenci",
    "hesitanci",
    "digitizer",
    "conformabli",
    "radicalli",
    "differentli",
    "vileli",
    "analogousli",
    "vietnamization",
    "predication",
    "operator",
    "feudalism",
    "decisiveness",
    "hopefulness",
    "callousness",
    "formaliti",
    "sensitiviti",
    "sensibiliti",
    "triplicate",
    "formative",
    "formalize",
    "electriciti",
    "electrical",
    "hopeful",
    "goodness",
    "revival",
    "allowance",
    "inference",
    "airliner",
    "gyroscopic",
    "adjustable",
    "defensible",
    "irritant",
    "replacement",
    "adjustment",
    "dependent",
    "adoption",
    "homologou",
    "communism",
    "activate",
    "angulariti",
    "homologous",
    "effective",
    "bowdlerize",
    "probate",
    "rate",
    "cease",
    "controll",
    "roll",
    "yelling",
    "saying",
    "enjoying",
    "apology",
    "archaeology",
    "fluently",
    "fully",
    "loyally",
    "hopelessly",
    "biologically",
    "dogs",
    "police",
    "policing",
    "intelligence",
    "surveillance",
    "extremism",
    "extremists",
    "fusion",
    "agencies",
    "agency",
    "bulletins",
    "officers",
    "investigations",
];

fn token_pairs(text: &str, mode: Mode) -> Value {
    json!(
        tokenize(text, mode)
            .into_iter()
            .map(|t| json!([t.term, t.pos]))
            .collect::<Vec<_>>()
    )
}

/// Every ASCII word of the sample archive's Markdown and text files.
fn sample_vocabulary() -> Vec<String> {
    let mut words = std::collections::BTreeSet::new();
    let content = Path::new(env!("CARGO_MANIFEST_DIR")).join("content");
    for entry in walkdir::WalkDir::new(&content).sort_by_file_name() {
        let entry = entry.expect("walk content");
        let path = entry.path();
        if !matches!(
            path.extension().and_then(|e| e.to_str()),
            Some("md" | "txt" | "log")
        ) {
            continue;
        }
        let text = std::fs::read_to_string(path)
            .unwrap_or_default()
            .to_lowercase();
        for word in text.split(|c: char| !c.is_ascii_lowercase()) {
            if word.len() >= 3 {
                words.insert(word.to_owned());
            }
        }
    }
    words.into_iter().collect()
}

fn expected_vectors() -> Value {
    let tokens: Vec<Value> = TEXTS
        .iter()
        .map(|text| {
            json!({"text": text, "index": token_pairs(text, Mode::Index), "query": token_pairs(text, Mode::Query)})
        })
        .collect();
    let mut words: Vec<String> = sample_vocabulary();
    words.extend(WORDS.iter().map(|w| w.to_string()));
    words.sort();
    words.dedup();
    let stems: serde_json::Map<String, Value> = words
        .into_iter()
        .map(|w| {
            let s = stem(&w);
            (w, Value::String(s))
        })
        .collect();
    json!({
        "about": "Generated by `LEAKPRESS_WRITE_VECTORS=1 cargo test --test search_index`; the Rust tokenizer (src/search_index/tokenize.rs) is the reference, search.js must agree.",
        "tokenize": tokens,
        "stem": stems,
    })
}

#[test]
fn tokenizer_vectors_are_current() {
    let expected = expected_vectors();
    if std::env::var_os("LEAKPRESS_WRITE_VECTORS").is_some() {
        let text = serde_json::to_string_pretty(&expected).unwrap() + "\n";
        std::fs::write(vectors_path(), text).expect("write vectors");
        return;
    }
    let stored: Value = serde_json::from_str(
        &std::fs::read_to_string(vectors_path())
            .expect("tests/search-client/tokenizer-vectors.json"),
    )
    .expect("vectors parse");
    assert_eq!(
        stored["tokenize"], expected["tokenize"],
        "tokenizer output changed: regenerate the vectors (LEAKPRESS_WRITE_VECTORS=1) and check search.js"
    );
    let stored_stems = stored["stem"].as_object().expect("stems");
    for (word, stem_value) in stored_stems {
        assert_eq!(stem(word), stem_value.as_str().unwrap(), "stem of {word}");
    }
}

/// The sample archive built in memory, once for all tests here.
fn sample_site() -> &'static BTreeMap<String, Vec<u8>> {
    static SITE: std::sync::OnceLock<BTreeMap<String, Vec<u8>>> = std::sync::OnceLock::new();
    SITE.get_or_init(|| {
        let options = BuildOptions::new(env!("CARGO_MANIFEST_DIR"));
        let out = Output::memory();
        leakpress::build(&options, &out, &|_| {}).expect("sample builds");
        out.into_files()
    })
}

/// The data a `LEAKPRESS_SEARCH.load(id, data);` script registers.
fn script_data(bytes: &[u8], id: &str) -> Value {
    let text = std::str::from_utf8(bytes).expect("utf-8");
    let prefix = format!("LEAKPRESS_SEARCH.load(\"{id}\",");
    let body = text
        .strip_prefix(&prefix)
        .and_then(|rest| rest.strip_suffix(");\n"))
        .unwrap_or_else(|| {
            panic!(
                "{id} is not a load() script: {}",
                &text[..text.len().min(80)]
            )
        });
    serde_json::from_str(body).expect("script data is JSON")
}

struct Index<'a> {
    files: &'a BTreeMap<String, Vec<u8>>,
    folder: String,
    manifest: Value,
}

impl Index<'_> {
    fn open() -> Index<'static> {
        let files = sample_site();
        let manifest_path = files
            .keys()
            .find(|p| p.starts_with("search/") && p.ends_with("/manifest.js"))
            .expect("a search manifest");
        let folder = manifest_path.trim_end_matches("manifest.js").to_owned();
        let manifest = script_data(&files[manifest_path], "manifest");
        Index {
            files,
            folder,
            manifest,
        }
    }

    fn load(&self, id: &str) -> Value {
        let path = format!("{}{id}.js", self.folder);
        script_data(
            self.files.get(&path).unwrap_or_else(|| panic!("no {path}")),
            id,
        )
    }

    /// Postings of an index term: (document number, impact, positions).
    fn postings(&self, term: &str) -> Vec<leakpress::search_index::Posting> {
        let shards = self.manifest["shards"].as_u64().unwrap() as usize;
        let shard = self.load(&format!("t{}", shard_of(term, shards)));
        let Some(entry) = shard.get(term) else {
            return Vec::new();
        };
        match &entry[1] {
            Value::String(block) => decode_postings(block).expect("decodes"),
            Value::Array(refs) => refs
                .iter()
                .flat_map(|r| {
                    let block = self.load(r[0].as_str().unwrap());
                    decode_postings(block.as_str().unwrap()).expect("decodes")
                })
                .collect(),
            other => panic!("bad entry {other}"),
        }
    }

    fn doc(&self, number: u32) -> Value {
        let chunk = self.manifest["chunk"].as_u64().unwrap() as u32;
        self.load(&format!("d{}", number / chunk))[(number % chunk) as usize].clone()
    }
}

#[test]
fn the_build_writes_a_sharded_index_and_a_search_page() {
    let index = Index::open();
    let files = index.files;
    let docs = index.manifest["docs"].as_u64().unwrap();
    assert!(docs > 30, "sample has documents: {docs}");
    // Every index file is in the manifest of published files.
    let published = String::from_utf8(files["MANIFEST.sha256"].clone()).unwrap();
    for path in files.keys().filter(|p| p.starts_with("search/")) {
        assert!(
            published.contains(path.as_str()),
            "{path} not in MANIFEST.sha256"
        );
    }
    // The search page names the manifest through a relative link.
    let page = String::from_utf8(files["search/index.html"].clone()).unwrap();
    let manifest_rel = format!("../{}manifest.js", index.folder);
    assert!(
        page.contains(&manifest_rel),
        "search page lacks {manifest_rel}"
    );
    // Document entries: every number has one, with a URL to a page that exists.
    for number in 0..docs as u32 {
        let entry = index.doc(number);
        let url = entry[1].as_str().unwrap();
        assert!(files.contains_key(&format!("{url}index.html")), "{url}");
    }
    // The manifest does not list per-document data.
    assert!(files[&format!("{}manifest.js", index.folder)].len() < 8 * 1024);
}

#[test]
fn shard_lookup_finds_terms_with_positions() {
    let index = Index::open();
    let postings = index.postings("protest");
    assert!(postings.len() >= 2, "protest is in several documents");
    let mut previous = None;
    for p in &postings {
        assert!(previous < Some(p.doc), "documents ascend");
        previous = Some(p.doc);
        assert!(p.impact >= 1);
    }
    // A document whose excerpt shows the word has a position for it (phrase queries need them).
    let shown = postings
        .iter()
        .find(|p| {
            index.doc(p.doc)[3]
                .as_str()
                .unwrap()
                .to_lowercase()
                .contains("protest")
        })
        .expect("an excerpt mentions protest");
    assert!(!shown.positions.is_empty());
    assert!(index.postings("nosuchtermanywhere").is_empty());
    // Identifiers are findable whole: a bulletin reference and a phone number in the sample.
    assert_eq!(index.postings("rrfcosb2020041").len(), 1);
    assert_eq!(index.postings("5550145").len(), 1);
    // Phrase positions: "crowd control" sits at consecutive positions somewhere.
    let tear = index.postings("crowd");
    let gas = index.postings("control");
    let phrase = tear.iter().any(|t| {
        gas.iter()
            .any(|g| g.doc == t.doc && t.positions.iter().any(|&p| g.positions.contains(&(p + 1))))
    });
    assert!(phrase, "crowd control is a phrase in the sample");
}

#[test]
fn facet_ranges_cover_every_document_in_order() {
    let index = Index::open();
    let ranges = index.manifest["ranges"].as_array().unwrap();
    assert_eq!(ranges[0][0], 0);
    let starts: Vec<u64> = ranges.iter().map(|r| r[0].as_u64().unwrap()).collect();
    assert!(starts.windows(2).all(|w| w[0] < w[1]));
    let agencies = index.manifest["agencies"].as_array().unwrap().len() as i64;
    for row in ranges {
        assert!((0..agencies).contains(&row[1].as_i64().unwrap()));
    }
    // Each document's URL starts with its range's agency slug.
    let range_of = |n: u64| {
        ranges
            .iter()
            .rev()
            .find(|r| r[0].as_u64().unwrap() <= n)
            .unwrap()
    };
    for number in 0..index.manifest["docs"].as_u64().unwrap() {
        let row = range_of(number);
        let slug = index.manifest["agencies"][row[1].as_u64().unwrap() as usize][0]
            .as_str()
            .unwrap();
        let url = index.doc(number as u32)[1].as_str().unwrap().to_owned();
        assert!(url.starts_with(&format!("{slug}/")), "{url} in {slug}");
    }
}

#[test]
fn a_title_match_outranks_a_body_match() {
    let index = Index::open();
    // Among the documents with "covid", one with it in the title scores above every document
    // that only mentions it in the body, given comparable lengths; check the strongest is a
    // title match.
    let postings = index.postings("covid");
    assert!(postings.len() >= 2);
    let best = postings.iter().max_by_key(|p| p.impact).unwrap();
    let title = index.doc(best.doc)[0].as_str().unwrap().to_lowercase();
    assert!(
        title.contains("covid"),
        "best covid match is titled {title}"
    );
}

#[test]
fn the_index_is_deterministic() {
    let options = BuildOptions::new(env!("CARGO_MANIFEST_DIR"));
    let out = Output::memory();
    leakpress::build(&options, &out, &|_| {}).expect("builds");
    let again: BTreeMap<String, Vec<u8>> = out
        .into_files()
        .into_iter()
        .filter(|(p, _)| p.starts_with("search/"))
        .collect();
    let first: BTreeMap<String, Vec<u8>> = sample_site()
        .iter()
        .filter(|(p, _)| p.starts_with("search/"))
        .map(|(p, b)| (p.clone(), b.clone()))
        .collect();
    assert_eq!(
        first.keys().collect::<Vec<_>>(),
        again.keys().collect::<Vec<_>>()
    );
    assert!(first == again, "search files differ between two builds");
}
