//! The search index end to end: shared tokenizer vectors (also checked by
//! `tests/search-client/*.test.js` against `search.js`), and the index that a build of the
//! sample archive writes under `search/`.

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use leakpress::search_index::tokenize::{Mode, stem, tokenize};
use leakpress::search_index::{Posting, decode_block, prefix_of, shard_of};
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

impl<'a> Index<'a> {
    fn open() -> Index<'static> {
        Index::of(sample_site())
    }

    fn of(files: &'a BTreeMap<String, Vec<u8>>) -> Index<'a> {
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

    /// A term's dictionary entry, through the root shard and, for a split prefix group,
    /// its inner nodes and sub-shard (at each level, the child whose first term is the last
    /// not after the term, in UTF-16).
    fn entry(&self, term: &str) -> Option<Value> {
        let shards = self.manifest["shards"].as_u64().unwrap() as usize;
        let root = self.load(&format!("t{}", shard_of(term, shards)));
        if let Some(entry) = root[0].get(term) {
            return Some(entry.clone());
        }
        let mut list = root[1].get(prefix_of(term))?.as_array()?.clone();
        let utf16 = |s: &str| s.encode_utf16().collect::<Vec<_>>();
        loop {
            let child = list
                .iter()
                .rev()
                .find(|c| utf16(c[0].as_str().unwrap()) <= utf16(term))
                .unwrap_or(&list[0]);
            let id = child[1].as_str().unwrap().to_owned();
            let node = self.load(&id);
            if !id.starts_with('r') {
                return node.get(term).cloned();
            }
            list = node.as_array().unwrap().clone();
        }
    }

    /// Postings of an index term, by document: (document number, impact, positions).
    fn postings(&self, term: &str) -> Vec<Posting> {
        let Some(entry) = self.entry(term) else {
            return Vec::new();
        };
        let mut postings = match &entry[1] {
            Value::String(docs) => {
                decode_block(docs, Some(entry[2].as_str().unwrap())).expect("decodes")
            }
            // Tiers [p, i, q, j, first, last, count, max]: block i of pack p<p>, its
            // positions block j of pack q<q>.
            Value::Array(tiers) => tiers
                .iter()
                .flat_map(|r| {
                    let at = |k: usize| r[k].as_u64().unwrap();
                    let id = |k: usize| r[k].as_str().unwrap();
                    let docs = self.load(&format!("p{}", id(0)));
                    let positions = self.load(&format!("q{}", id(2)));
                    let block = decode_block(
                        docs[at(1) as usize].as_str().unwrap(),
                        positions[at(3) as usize].as_str(),
                    )
                    .expect("decodes");
                    assert_eq!(block.len() as u64, at(6), "tier count of {term}");
                    assert_eq!(block[0].doc as u64, at(4));
                    assert_eq!(block[block.len() - 1].doc as u64, at(5));
                    block
                })
                .collect(),
            other => panic!("bad entry {other}"),
        };
        assert_eq!(
            entry[0].as_u64().unwrap() as usize,
            postings.len(),
            "df of {term}"
        );
        postings.sort_by_key(|p| p.doc);
        postings
    }

    /// The manifest's facet row [first, agency, kind, year] of a document number.
    fn facet(&self, number: u32) -> Vec<i64> {
        self.manifest["ranges"]
            .as_array()
            .unwrap()
            .iter()
            .rev()
            .find(|r| r[0].as_u64().unwrap() <= number as u64)
            .unwrap()
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_i64().unwrap())
            .collect()
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

/// The sample built with `jobs` threads: its `search/` files.
fn search_files_with_jobs(jobs: usize) -> BTreeMap<String, Vec<u8>> {
    let mut options = BuildOptions::new(env!("CARGO_MANIFEST_DIR"));
    options.jobs = Some(jobs);
    let out = Output::memory();
    leakpress::build(&options, &out, &|_| {}).expect("builds");
    out.into_files()
        .into_iter()
        .filter(|(p, _)| p.starts_with("search/"))
        .collect()
}

#[test]
fn the_index_is_byte_identical_with_one_and_four_threads() {
    let one = search_files_with_jobs(1);
    let four = search_files_with_jobs(4);
    assert_eq!(
        one.keys().collect::<Vec<_>>(),
        four.keys().collect::<Vec<_>>()
    );
    for (path, bytes) in &one {
        assert!(
            bytes == &four[path],
            "{path} differs between 1 and 4 threads"
        );
    }
    // And the same as the shared build (default thread count).
    let default: BTreeMap<&String, &Vec<u8>> = sample_site()
        .iter()
        .filter(|(p, _)| p.starts_with("search/"))
        .collect();
    assert_eq!(default, one.iter().collect::<BTreeMap<_, _>>());
}

#[test]
fn table_records_are_findable_and_filter_by_table() {
    // See: issue 4, "Record text is indexed for search like any document, with the table as
    // a filterable kind."
    let index = Index::open();
    let kinds: Vec<&str> = index.manifest["kinds"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k.as_str().unwrap())
        .collect();
    // Port City calls its SARs table "Field reports" in its own profile.
    let field_reports = kinds
        .iter()
        .position(|k| *k == "Field reports")
        .unwrap_or_else(|| panic!("no Field reports kind in {kinds:?}"))
        as i64;
    // A word only in a record's narrative (the SAR about a photographed substation).
    let term = &tokenize("substation", Mode::Query)[0].term;
    let postings = index.postings(term);
    let record = postings
        .iter()
        .find(|p| index.facet(p.doc)[2] == field_reports)
        .unwrap_or_else(|| panic!("no Field reports record holds {term}"));
    let entry = index.doc(record.doc);
    let url = entry[1].as_str().unwrap();
    assert!(url.starts_with("port-city-police/"), "{url}");
    assert!(
        index.files.contains_key(&format!("{url}index.html")),
        "{url} is a record page"
    );
    assert!(
        !entry[0].as_str().unwrap().is_empty(),
        "a record has a title"
    );
    // Its agency is Port City, records carry no year (one facet range per agency and table).
    let row = index.facet(record.doc);
    let agency = &index.manifest["agencies"][row[1] as usize][0];
    assert_eq!(agency, "port-city-police");
    assert_eq!(row[3], -1);
    // Records come after every document, and the "Field reports" filter range holds only
    // record pages of that table.
    let ranges = index.manifest["ranges"].as_array().unwrap();
    let total = index.manifest["docs"].as_u64().unwrap();
    for (i, r) in ranges.iter().enumerate() {
        if r[2] != field_reports {
            continue;
        }
        let end = ranges.get(i + 1).map_or(total, |n| n[0].as_u64().unwrap());
        for number in r[0].as_u64().unwrap()..end {
            let url = index.doc(number as u32)[1].as_str().unwrap().to_owned();
            assert!(
                url.contains("/field-reports/") || url.contains("/sars/"),
                "{url}"
            );
        }
    }
    // The redacted reporter name never reaches the index.
    assert!(
        index
            .postings("fictional")
            .iter()
            .all(|p| index.facet(p.doc)[2] != field_reports),
        "a redacted column was indexed"
    );
}

/// The sample archive built by the leakpress binary into a fresh folder, with extra
/// environment: its `search/` files.
fn search_files_built_with(env: &[(&str, &str)]) -> BTreeMap<String, Vec<u8>> {
    search_files_of(Path::new(env!("CARGO_MANIFEST_DIR")), false, env)
}

/// The search files of a build of `root` by the binary, with the cache in `root` or none.
fn search_files_of(root: &Path, cached: bool, env: &[(&str, &str)]) -> BTreeMap<String, Vec<u8>> {
    let out = tempfile::tempdir().expect("temporary folder");
    let site = out.path().join("site");
    let status = std::process::Command::new(env!("CARGO_BIN_EXE_leakpress"))
        .arg("--root")
        .arg(root)
        .arg("build")
        .args(if cached { None } else { Some("--no-cache") })
        .arg("--out")
        .arg(&site)
        .envs(env.iter().copied())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .expect("leakpress runs");
    assert!(status.success(), "build failed with {env:?}");
    let mut files = BTreeMap::new();
    for entry in walkdir::WalkDir::new(site.join("search")).sort_by_file_name() {
        let entry = entry.expect("walk");
        if entry.file_type().is_file() {
            let rel = entry.path().strip_prefix(&site).unwrap();
            files.insert(
                rel.to_string_lossy().replace('\\', "/"),
                std::fs::read(entry.path()).unwrap(),
            );
        }
    }
    files
}

#[test]
fn a_spilled_index_is_byte_identical_to_one_held_in_memory() {
    // See: issue 6, "the indexer streams with bounded memory": with a budget of a few
    // kilobytes every term shard spills many sorted runs, merged back at finish.
    let held = search_files_built_with(&[]);
    let spilled = search_files_built_with(&[("LEAKPRESS_INDEX_MEMORY", "4096")]);
    // Batches of a few postings: each next batch is read back while the one before is scored.
    let batched = search_files_built_with(&[
        ("LEAKPRESS_INDEX_MEMORY", "4096"),
        ("LEAKPRESS_INDEX_BATCH", "16"),
    ]);
    assert!(held.len() > 10, "{} index files", held.len());
    for (what, other) in [
        ("spilled", &spilled),
        ("spilled in small batches", &batched),
    ] {
        assert_eq!(
            held.keys().collect::<Vec<_>>(),
            other.keys().collect::<Vec<_>>(),
            "{what}"
        );
        for (path, bytes) in &held {
            assert!(bytes == &other[path], "{path} differs once {what}");
        }
    }
}

#[test]
fn a_rebuild_merges_the_previous_snapshot_with_spilled_runs_batch_by_batch() {
    // The previous build's postings stream back beside this build's spilled runs, a few
    // postings a batch: a term in both, in one or in neither must come out as a clean build
    // makes it.
    let archive = common::copy_archive(&common::sample_root());
    let small = [
        ("LEAKPRESS_INDEX_MEMORY", "4096"),
        ("LEAKPRESS_INDEX_BATCH", "16"),
    ];
    search_files_of(archive.path(), true, &small);
    let note = archive.path().join(
        "content/riverside-fusion-center/bulletins/2020/2020-06-01-situational-awareness-update.md",
    );
    let text = std::fs::read_to_string(&note).unwrap();
    let edited = text.replacen("the", "quizzaciously the", 3) + "\nA zyzzogeton paragraph.\n";
    std::fs::write(&note, edited).unwrap();
    let warm = search_files_of(archive.path(), true, &small);
    let clean = search_files_of(archive.path(), false, &[]);
    assert!(clean.len() > 10, "{} index files", clean.len());
    assert_eq!(
        warm.keys().collect::<Vec<_>>(),
        clean.keys().collect::<Vec<_>>()
    );
    for (path, bytes) in &clean {
        assert!(bytes == &warm[path], "{path} differs after a rebuild");
    }
}

#[test]
fn a_prefix_with_a_huge_vocabulary_is_found_through_inner_nodes() {
    // See: issue 5, "at 100,000 documents the bytes for a one-word query grow by less than
    // 2x": a prefix shared by tens of thousands of terms must not make one list that grows
    // with them. 24,000 distinct words starting "zqx" need a few hundred sub-shards.
    let root = tempfile::tempdir().expect("temporary folder");
    let agency = root.path().join("content/agency-a");
    std::fs::create_dir_all(&agency).unwrap();
    let word = |n: usize| {
        let letters: String = format!("{n:05}")
            .bytes()
            .map(|d| (b'a' + d - b'0') as char)
            .collect();
        format!("zqx{letters}")
    };
    for d in 0..40 {
        let body: Vec<String> = (0..600).map(|w| word(d * 600 + w)).collect();
        std::fs::write(
            agency.join(format!("note-{d:02}.md")),
            format!("---\ntitle: Note {d}\n---\n{}\n", body.join(" ")),
        )
        .unwrap();
    }
    let out = Output::memory();
    leakpress::build(&BuildOptions::new(root.path()), &out, &|_| {}).expect("builds");
    let files = out.into_files();
    let index = Index::of(&files);
    let inner = files
        .keys()
        .filter(|p| p.starts_with(&index.folder) && p[index.folder.len()..].starts_with('r'))
        .count();
    assert!(inner >= 2, "{inner} inner nodes");
    let shards = index.manifest["shards"].as_u64().unwrap() as usize;
    let root_shard = index.load(&format!("t{}", shard_of("zqxaaaaa", shards)));
    let list = root_shard[1]["zqx"].as_array().expect("zqx is split");
    assert!(list.len() <= 64, "{} entries at the root", list.len());
    assert!(
        list.iter().all(|c| c[1].as_str().unwrap().starts_with('r')),
        "the root lists inner nodes"
    );
    for n in [0, 1, 599, 600, 12_345, 23_999] {
        let postings = index.postings(&word(n));
        assert_eq!(postings.len(), 1, "{}", word(n));
        assert_eq!(index.doc(postings[0].doc)[0], format!("Note {}", n / 600));
    }
}
