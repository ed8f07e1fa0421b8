//! The incremental cache: a warm rebuild gives the same bytes as a cold one, reuses what did not
//! change, redoes what did, and never trusts a damaged entry.

mod common;

use std::collections::BTreeMap;
use std::path::Path;

use leakpress::cache::CacheStats;
use leakpress::{BuildOptions, Output};

struct Build {
    files: BTreeMap<String, Vec<u8>>,
    stats: CacheStats,
    /// Documents and records whose search terms came from the previous build's snapshot.
    reused: usize,
    /// The build's own warnings (about the whole build, not one file).
    warnings: Vec<String>,
    documents: usize,
    /// Source files read and hashed, and those taken on their stamp's word.
    sources_read: usize,
    sources_vouched: usize,
}

fn build_with_cache(root: &Path, cache: &Path, jobs: usize) -> Build {
    let mut options = BuildOptions::new(root);
    options.cache_dir = Some(cache.to_path_buf());
    options.jobs = Some(jobs);
    let out = Output::memory();
    let report = leakpress::build(&options, &out, &|_| {}).expect("build succeeds");
    Build {
        stats: report
            .summary
            .cache
            .clone()
            .expect("the build used its cache"),
        files: out.into_files(),
        reused: report.summary.search_reused,
        warnings: report
            .warnings_for(".")
            .map(|w| w.message.clone())
            .collect(),
        documents: report.summary.documents,
        sources_read: report.summary.sources_read,
        sources_vouched: report.summary.sources_vouched,
    }
}

fn assert_same_site(a: &Build, b: &Build, what: &str) {
    let names = |x: &Build| x.files.keys().cloned().collect::<Vec<_>>();
    assert_eq!(names(a), names(b), "{what}: different files");
    let differing: Vec<&String> = a
        .files
        .iter()
        .filter(|(path, bytes)| b.files.get(*path) != Some(*bytes))
        .map(|(path, _)| path)
        .collect();
    assert!(differing.is_empty(), "{what}: files differ: {differing:?}");
}

/// The cache's pack files and where each record in them starts (records begin with `LPR4`;
/// a compressed frame could hold those bytes too, so only the first few are trusted).
fn packs(cache: &Path) -> Vec<(std::path::PathBuf, Vec<usize>)> {
    let mut found: Vec<_> = std::fs::read_dir(cache.join("packs"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "pack"))
        .map(|p| {
            let bytes = std::fs::read(&p).unwrap();
            let starts = bytes
                .windows(4)
                .enumerate()
                .filter(|(_, w)| *w == b"LPR4")
                .map(|(i, _)| i)
                .collect();
            (p, starts)
        })
        .collect();
    found.sort();
    found
}

#[test]
fn warm_rebuild_is_byte_identical_and_reuses_every_extraction() {
    let archive = common::copy_archive(&common::sample_root());
    let cache = tempfile::tempdir().unwrap();
    let cold = build_with_cache(archive.path(), cache.path(), 2);
    assert_eq!(cold.stats.hits, 0, "a new cache has nothing to reuse");
    assert!(cold.stats.written > 100, "{:?}", cold.stats);

    let warm = build_with_cache(archive.path(), cache.path(), 4);
    assert_same_site(&cold, &warm, "warm rebuild");
    assert_eq!(cold.reused, 0);
    assert!(
        warm.reused > warm.documents,
        "every document's and record's terms come from the snapshot: {} of {} documents",
        warm.reused,
        warm.documents
    );
    assert_eq!(warm.stats.hits, cold.stats.written, "{:?}", warm.stats);
    // The files were copied moments before the cold build, too recently for their stamps to
    // vouch for them: the warm build reads them, and stores the stamps again.
    assert_eq!(
        (warm.stats.written, warm.stats.corrupt, warm.stats.pruned),
        (usize::from(warm.sources_read > 0), 0, 0)
    );

    let uncached = common::build_memory(archive.path(), false, Some(1));
    assert_eq!(
        uncached.files, warm.files,
        "a cached build differs from one without a cache"
    );
}

#[test]
fn a_changed_document_is_extracted_and_tokenized_again_and_its_old_entries_pruned() {
    let archive = common::copy_archive(&common::sample_root());
    let cache = tempfile::tempdir().unwrap();
    let cold = build_with_cache(archive.path(), cache.path(), 2);

    let doc = archive.path().join(
        "content/riverside-fusion-center/bulletins/2020/2020-06-01-situational-awareness-update.md",
    );
    let text = std::fs::read_to_string(&doc).expect("sample document");
    std::fs::write(
        &doc,
        format!("{text}\nA later paragraph (revised) added by hand.\n"),
    )
    .unwrap();

    // The changed document has one entry, its extraction's metadata: a Markdown body is not
    // stored but made again from the file when its page renders (and the source stamps are
    // stored again). Its search terms are tokenized again and every other document's come
    // from the snapshot.
    let warm = build_with_cache(archive.path(), cache.path(), 2);
    assert_eq!(warm.stats.written, 2, "{:?}", warm.stats);
    assert_eq!(warm.stats.hits, cold.stats.written - 1, "{:?}", warm.stats);
    assert_eq!(
        warm.stats.pruned, 1,
        "the old version's entry stays: {:?}",
        warm.stats
    );
    let all = build_with_cache(archive.path(), cache.path(), 2).reused;
    assert_eq!(
        warm.reused,
        all - 1,
        "only the changed document is tokenized"
    );
    let page =
        "riverside-fusion-center/bulletins-2020-2020-06-01-situational-awareness-update/index.html";
    let html = String::from_utf8(warm.files[page].clone()).unwrap();
    assert!(html.contains("(revised)"), "the page shows the old text");

    let fresh = common::build_memory(archive.path(), false, Some(2));
    assert_eq!(
        fresh.files, warm.files,
        "an incremental build differs from a clean one"
    );
}

#[test]
fn damaged_entries_are_detected_and_redone_not_trusted() {
    let archive = common::copy_archive(&common::sample_root());
    let cache = tempfile::tempdir().unwrap();
    // One thread: each document's records in order. A Markdown document has one, its
    // extraction's metadata (its body is made again from the file when its page renders).
    let cold = build_with_cache(archive.path(), cache.path(), 1);

    let packs = packs(cache.path());
    assert_eq!(packs.len(), 1, "one build writes one pack");
    let (pack, starts) = &packs[0];
    assert!(
        starts.len() >= cold.stats.written,
        "{} records",
        starts.len()
    );
    // The first records are the Markdown documents' extractions (the page table is stored
    // last). Three of them: one flipped byte deep in the first's, the fourth's record header
    // broken, the fifth's length wrong.
    let mut bytes = std::fs::read(pack).unwrap();
    bytes[(starts[0] + starts[1]) / 2] ^= 0x20;
    bytes[starts[3]] = b'X';
    bytes[starts[4] + 36] ^= 1;
    std::fs::write(pack, bytes).unwrap();

    // Each damaged record is found, and its document extracted and stored again (and the
    // source stamps stored again).
    let warm = build_with_cache(archive.path(), cache.path(), 2);
    assert_eq!(warm.stats.corrupt, 3, "{:?}", warm.stats);
    assert_eq!(warm.stats.written, 4, "{:?}", warm.stats);
    assert_same_site(&cold, &warm, "rebuild over a damaged cache");
}

#[test]
fn files_their_stamps_vouch_for_are_not_read_and_a_changed_file_is() {
    let archive = common::copy_archive(&common::sample_root());
    let cache = tempfile::tempdir().unwrap();
    // Stamps vouch only for files older than the recording build's start by the margin.
    let margin = u64::try_from(leakpress::stamps::CLOCK_MARGIN_NANOS).unwrap();
    std::thread::sleep(std::time::Duration::from_nanos(margin + 200_000_000));
    let cold = build_with_cache(archive.path(), cache.path(), 2);
    assert_eq!(cold.sources_vouched, 0);
    let total = cold.sources_read;
    assert!(total > 50, "{total} files");

    let warm = build_with_cache(archive.path(), cache.path(), 2);
    assert_eq!((warm.sources_read, warm.sources_vouched), (0, total));
    assert_eq!(
        warm.stats.written, 0,
        "nothing new to store: {:?}",
        warm.stats
    );
    assert_same_site(&cold, &warm, "a rebuild that reads no file");

    // Same size, same modification time, other bytes: the inode change time gives it away.
    let doc = archive.path().join(
        "content/riverside-fusion-center/bulletins/2020/2020-06-01-situational-awareness-update.md",
    );
    let text = std::fs::read_to_string(&doc).unwrap();
    let modified = std::fs::metadata(&doc).unwrap().modified().unwrap();
    let swapped = text.replacen("the", "THE", 1);
    assert_ne!(swapped, text);
    std::fs::write(&doc, &swapped).unwrap();
    std::fs::File::options()
        .write(true)
        .open(&doc)
        .unwrap()
        .set_modified(modified)
        .unwrap();
    let edited = build_with_cache(archive.path(), cache.path(), 2);
    assert_eq!(
        (edited.sources_read, edited.sources_vouched),
        (1, total - 1)
    );
    let page =
        "riverside-fusion-center/bulletins-2020-2020-06-01-situational-awareness-update/index.html";
    let html = String::from_utf8(edited.files[page].clone()).unwrap();
    assert!(html.contains("THE"), "the page shows the new text");
    let fresh = common::build_memory(archive.path(), false, Some(2));
    assert_eq!(fresh.files, edited.files, "differs from a clean build");
}

/// The snapshot's files in the cache: (name, path).
fn snapshot_files(cache: &Path) -> Vec<(String, std::path::PathBuf)> {
    let mut found: Vec<_> = std::fs::read_dir(cache.join("search"))
        .unwrap()
        .map(|e| e.unwrap())
        .map(|e| (e.file_name().to_string_lossy().into_owned(), e.path()))
        .collect();
    found.sort();
    found
}

#[test]
fn a_damaged_search_snapshot_is_detected_and_the_terms_read_again() {
    let archive = common::copy_archive(&common::sample_root());
    let cache = tempfile::tempdir().unwrap();
    let mut options = BuildOptions::new(archive.path());
    options.cache_dir = Some(cache.path().to_path_buf());
    assert!(!options.has_previous_index(), "an empty cache");
    let cold = build_with_cache(archive.path(), cache.path(), 2);
    assert!(options.has_previous_index(), "the cache after a build");
    options.cache_dir = None;
    assert!(!options.has_previous_index(), "no cache");
    let names: Vec<String> = snapshot_files(cache.path())
        .into_iter()
        .map(|f| f.0)
        .collect();
    assert_eq!(names, ["excerpts.0", "head", "postings.0"]);

    for (victim, at) in [("postings.", 0.6), ("excerpts.", 0.3), ("head", 0.5)] {
        let (_, path) = snapshot_files(cache.path())
            .into_iter()
            .find(|(name, _)| name.starts_with(victim))
            .expect("the snapshot's file");
        let mut bytes = std::fs::read(&path).unwrap();
        let i = (bytes.len() as f64 * at) as usize;
        bytes[i] ^= 0x04;
        std::fs::write(&path, bytes).unwrap();

        let damaged = build_with_cache(archive.path(), cache.path(), 2);
        assert_eq!(damaged.reused, 0, "{victim}: a damaged snapshot was used");
        assert!(
            damaged
                .warnings
                .iter()
                .any(|w| w.starts_with("search index snapshot not used")),
            "{victim}: {:?}",
            damaged.warnings
        );
        assert_same_site(&cold, &damaged, "rebuild over a damaged snapshot");
        // That build kept a sound snapshot again.
        let next = build_with_cache(archive.path(), cache.path(), 2);
        assert!(next.reused >= next.documents, "{victim}: {}", next.reused);
        assert!(next.warnings.is_empty(), "{:?}", next.warnings);
        assert_same_site(&cold, &next, "rebuild after a damaged snapshot");
    }
}

#[test]
fn documents_renumbered_by_an_addition_and_a_removal_keep_their_terms() {
    let archive = common::copy_archive(&common::sample_root());
    let cache = tempfile::tempdir().unwrap();
    let cold = build_with_cache(archive.path(), cache.path(), 2);
    // A new agency that sorts first moves every number up; a removed note moves some down.
    let first = archive.path().join("content/aaa-first-agency");
    std::fs::create_dir_all(&first).unwrap();
    std::fs::write(
        first.join("memo.md"),
        "---\ntitle: A memo that sorts first\n---\nQuarterly zephyrine procurement memo.\n",
    )
    .unwrap();
    let removed = archive.path().join(
        "content/riverside-fusion-center/bulletins/2020/2020-06-01-situational-awareness-update.md",
    );
    std::fs::remove_file(&removed).unwrap();

    let warm = build_with_cache(archive.path(), cache.path(), 2);
    assert_eq!(warm.documents, cold.documents, "one added, one removed");
    assert_eq!(
        warm.reused,
        cold_total(&archive, &cache) - 1,
        "every number but the new document's is claimed from the snapshot"
    );
    let fresh = common::build_memory(archive.path(), false, Some(2));
    assert_eq!(
        fresh.files, warm.files,
        "an incremental build differs from a clean one"
    );
    let manifest = warm
        .files
        .iter()
        .find(|(path, _)| path.starts_with("search/") && path.ends_with("/manifest.js"))
        .map(|(_, bytes)| String::from_utf8_lossy(bytes).into_owned())
        .expect("a search manifest");
    assert!(manifest.contains("aaa-first-agency"), "{manifest}");
}

/// What a rebuild with nothing changed reuses: every indexed document and record.
fn cold_total(archive: &tempfile::TempDir, cache: &tempfile::TempDir) -> usize {
    build_with_cache(archive.path(), cache.path(), 2).reused
}

#[test]
fn another_configuration_empties_the_cache() {
    let archive = common::copy_archive(&common::sample_root());
    let cache = tempfile::tempdir().unwrap();
    build_with_cache(archive.path(), cache.path(), 2);
    let config = archive.path().join("leakpress.yaml");
    let text = std::fs::read_to_string(&config).unwrap();
    std::fs::write(
        &config,
        format!("{text}\npage_size: 7\n").replace("page_size: 10\n", ""),
    )
    .unwrap();
    let after = build_with_cache(archive.path(), cache.path(), 2);
    assert_eq!(after.stats.hits, 0, "{:?}", after.stats);
    assert!(
        after
            .stats
            .emptied_because
            .as_deref()
            .is_some_and(|why| why.contains("configuration")),
        "{:?}",
        after.stats
    );
}

#[test]
fn a_folder_that_is_not_a_cache_is_left_alone_with_a_warning() {
    let archive = common::copy_archive(&common::sample_root());
    let notes = tempfile::tempdir().unwrap();
    std::fs::write(notes.path().join("notes.txt"), b"mine").unwrap();
    let mut options = BuildOptions::new(archive.path());
    options.cache_dir = Some(notes.path().to_path_buf());
    let out = Output::memory();
    let report = leakpress::build(&options, &out, &|_| {}).expect("build succeeds");
    assert!(report.summary.cache.is_none());
    assert!(
        report
            .warnings
            .iter()
            .any(|w| w.message.contains("incremental cache not used")
                && w.message.contains("refusing")),
        "{:?}",
        report.warnings
    );
    assert_eq!(
        std::fs::read(notes.path().join("notes.txt")).unwrap(),
        b"mine"
    );
    assert!(out.into_files().contains_key("index.html"));
}

/// Every file under a published folder with its bytes.
fn read_tree(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    walkdir::WalkDir::new(dir)
        .sort_by_file_name()
        .into_iter()
        .filter_map(Result::ok)
        .filter(|e| e.file_type().is_file())
        .map(|e| {
            let rel = e.path().strip_prefix(dir).unwrap().to_string_lossy();
            (rel.replace('\\', "/"), std::fs::read(e.path()).unwrap())
        })
        .collect()
}

fn build_to_disk(root: &Path, out_dir: &Path) -> leakpress::output::WriteStats {
    let mut options = BuildOptions::new(root);
    options.out_dir = out_dir.to_path_buf();
    let out = Output::disk(out_dir).expect("output folder");
    let report = leakpress::build(&options, &out, &|_| {}).expect("build succeeds");
    report.summary.output
}

#[test]
fn rebuilding_in_place_touches_only_what_changed_and_equals_a_clean_build() {
    let archive = common::copy_archive(&common::sample_root());
    let out = tempfile::tempdir().unwrap();
    let public = out.path().join("public");
    let first = build_to_disk(archive.path(), &public);
    assert_eq!((first.unchanged, first.removed), (0, 0), "{first:?}");

    // The same input again: nothing is rewritten, only the build marker goes.
    let again = build_to_disk(archive.path(), &public);
    assert_eq!(
        again.written, 1,
        "only the manifest is rewritten: {again:?}"
    );
    assert_eq!(again.unchanged, first.written - 1);

    // A hand edit of the same size is still repaired, and a stray file goes.
    let robots = public.join("robots.txt");
    let mut bytes = std::fs::read(&robots).unwrap();
    bytes[0] ^= 0x20;
    std::fs::write(&robots, &bytes).unwrap();
    std::fs::write(public.join("stray.html"), "x").unwrap();

    // One document edited, one deleted.
    let content = archive.path().join("content");
    let mut markdown: Vec<_> = walkdir::WalkDir::new(&content)
        .sort_by_file_name()
        .into_iter()
        .filter_map(Result::ok)
        .filter(|e| e.path().extension().is_some_and(|x| x == "md"))
        .map(|e| e.into_path())
        .filter(|p| p.file_name().is_some_and(|n| n != "_index.md"))
        .collect();
    let edited = markdown.remove(0);
    let deleted = markdown.pop().unwrap();
    let text = std::fs::read_to_string(&edited).unwrap();
    std::fs::write(&edited, format!("{text}\n\nA paragraph added later.\n")).unwrap();
    std::fs::remove_file(&deleted).unwrap();
    let changed = build_to_disk(archive.path(), &public);
    assert!(
        changed.removed >= 2,
        "stray file and deleted page: {changed:?}"
    );
    assert!(
        changed.written < first.written / 4,
        "a small change rewrites a small share: {changed:?} after {first:?}"
    );

    let clean_dir = out.path().join("clean");
    build_to_disk(archive.path(), &clean_dir);
    assert_same_tree(&public, &clean_dir, "after an edit and a deletion");
    assert!(!public.join(leakpress::output::BUILDING_MARKER).exists());
}

#[test]
fn strays_deep_in_the_output_and_a_deleted_documents_folder_are_removed() {
    let archive = common::copy_archive(&common::sample_root());
    let out = tempfile::tempdir().unwrap();
    let public = out.path().join("public");
    build_to_disk(archive.path(), &public);
    let agency = public.join("lakeshore-sheriff");
    let page_folder = agency.join("2020-06-02-mutual-aid-request");
    assert!(page_folder.join("index.html").is_file());
    let deleted_folder = agency.join("2016-05-deputy-recruitment-drive");
    assert!(deleted_folder.join("index.html").is_file());

    // A file put in a document's folder, a folder put in an agency's, a file put in a
    // folder of that folder; and two documents deleted, one in another agency, whose
    // folders nothing touches: only the previous manifest says they are there.
    std::fs::write(page_folder.join("stray.txt"), "x").unwrap();
    std::fs::create_dir_all(agency.join("stray/deeper")).unwrap();
    std::fs::write(agency.join("stray/deeper/page.html"), "x").unwrap();
    let deleted = archive
        .path()
        .join("content/lakeshore-sheriff/2016-05-deputy-recruitment-drive.md");
    std::fs::remove_file(&deleted).unwrap();
    let elsewhere = public.join("coastal-joint-terrorism/2016-06-nightclub-security-advisory");
    assert!(elsewhere.join("index.html").is_file());
    std::fs::remove_file(
        archive
            .path()
            .join("content/coastal-joint-terrorism/2016-06-nightclub-security-advisory.md"),
    )
    .unwrap();
    let stats = build_to_disk(archive.path(), &public);

    let clean_dir = out.path().join("clean");
    build_to_disk(archive.path(), &clean_dir);
    assert_same_tree(&public, &clean_dir, "after strays and a deletion");
    let folders = |dir: &Path| -> Vec<std::path::PathBuf> {
        walkdir::WalkDir::new(dir)
            .sort_by_file_name()
            .into_iter()
            .filter_map(Result::ok)
            .filter(|e| e.file_type().is_dir())
            .map(|e| e.path().strip_prefix(dir).unwrap().to_path_buf())
            .collect()
    };
    assert_eq!(folders(&public), folders(&clean_dir));
    assert!(!agency.join("stray").exists());
    assert!(!deleted_folder.exists());
    assert!(!elsewhere.exists());
    assert!(
        stats.removed >= 4,
        "the two strays and the deleted pages: {stats:?}"
    );
}

#[test]
fn a_build_that_stopped_half_way_is_not_trusted() {
    let archive = common::copy_archive(&common::sample_root());
    let out = tempfile::tempdir().unwrap();
    let public = out.path().join("public");
    build_to_disk(archive.path(), &public);
    // What a killed build leaves: its marker, no manifest, a page it had rewritten.
    std::fs::remove_file(public.join(leakpress::manifest::MANIFEST_FILE)).unwrap();
    std::fs::write(public.join(leakpress::output::BUILDING_MARKER), "").unwrap();
    std::fs::write(public.join("404.html"), "half written").unwrap();
    let stats = build_to_disk(archive.path(), &public);
    assert_eq!(stats.unchanged, 0, "{stats:?}");
    assert!(leakpress::manifest::verify(&public).unwrap().is_clean());
}

fn build_cached_in_place(root: &Path, out_dir: &Path, cache: &Path) -> leakpress::report::Summary {
    let mut options = BuildOptions::new(root);
    options.out_dir = out_dir.to_path_buf();
    options.cache_dir = Some(cache.to_path_buf());
    let out = Output::disk(out_dir).expect("output folder");
    leakpress::build(&options, &out, &|_| {})
        .expect("build succeeds")
        .summary
}

fn assert_same_tree(dir: &Path, clean_dir: &Path, what: &str) {
    let (updated, clean) = (read_tree(dir), read_tree(clean_dir));
    assert_eq!(
        updated.keys().collect::<Vec<_>>(),
        clean.keys().collect::<Vec<_>>(),
        "{what}"
    );
    let differing: Vec<&String> = updated
        .iter()
        .filter(|(path, bytes)| clean.get(*path) != Some(*bytes))
        .map(|(path, _)| path)
        .collect();
    assert!(
        differing.is_empty(),
        "{what}: differs from a clean build: {differing:?}"
    );
}

/// Edits the first Markdown note of the archive at `root` (in path order).
fn first_note(root: &Path) -> std::path::PathBuf {
    walkdir::WalkDir::new(root.join("content"))
        .sort_by_file_name()
        .into_iter()
        .filter_map(Result::ok)
        .find(|e| e.path().extension().is_some_and(|x| x == "md") && e.file_name() != "_index.md")
        .unwrap()
        .into_path()
}

fn add_a_paragraph_to_the_first_note(root: &Path) {
    let note = first_note(root);
    let text = std::fs::read_to_string(&note).unwrap();
    std::fs::write(&note, format!("{text}\n\nA paragraph added later.\n")).unwrap();
}

#[test]
fn pages_are_rendered_again_only_when_what_they_show_changes() {
    let archive = common::copy_archive(&common::sample_root());
    let work = tempfile::tempdir().unwrap();
    let (public, cache) = (work.path().join("public"), work.path().join("cache"));
    let first = build_cached_in_place(archive.path(), &public, &cache);
    assert_eq!(first.pages_reused, 0);
    let total = first.pages_rendered;

    // Nothing changed: no page is rendered.
    let again = build_cached_in_place(archive.path(), &public, &cache);
    assert_eq!(
        (again.pages_rendered, again.pages_reused),
        (0, total),
        "an unchanged rebuild renders nothing"
    );
    // Only documents that publish files beside their page (image previews, mail
    // attachments) need their bodies again, for those files.
    let with_files: usize = ["image", "email"]
        .iter()
        .filter_map(|kind| again.documents_by_kind.get(*kind))
        .sum();
    assert!(
        again.bodies_read <= with_files,
        "pages and search terms are found unchanged without reading a body: {} read, {with_files} documents with files",
        again.bodies_read
    );

    // A page edited by hand is rendered again, even though its key is unchanged.
    let page = public.join("index.html");
    let mut bytes = std::fs::read(&page).unwrap();
    let last = bytes.len() - 2;
    bytes[last] ^= 0x01;
    std::fs::write(&page, &bytes).unwrap();
    let repaired = build_cached_in_place(archive.path(), &public, &cache);
    assert_eq!(repaired.pages_rendered, 1, "only the edited page");

    // A template change re-renders the pages of that template and no others.
    let template = Path::new(env!("CARGO_MANIFEST_DIR")).join("themes/default/templates/term.html");
    let source = std::fs::read_to_string(template).unwrap();
    let edited = source.replace(
        "<section class=\"listing\"",
        "<p class=\"edited\">Edited.</p>\n<section class=\"listing\"",
    );
    assert_ne!(source, edited, "the template has its listing section");
    let overrides = archive.path().join("themes/default/templates");
    std::fs::create_dir_all(&overrides).unwrap();
    std::fs::write(overrides.join("term.html"), edited).unwrap();
    let term_pages = read_tree(&public)
        .keys()
        .filter(|path| {
            let parts: Vec<&str> = path.split('/').collect();
            ["tags", "years", "kinds"].contains(&parts[0])
                && parts.len() >= 3
                && path.ends_with("index.html")
        })
        .count();
    assert!(term_pages > 10, "the sample has term pages: {term_pages}");
    let themed = build_cached_in_place(archive.path(), &public, &cache);
    assert_eq!(
        (themed.pages_rendered, themed.pages_reused),
        (term_pages, total - term_pages),
        "only term pages use term.html"
    );
    let clean_dir = work.path().join("clean");
    build_to_disk(archive.path(), &clean_dir);
    assert_same_tree(&public, &clean_dir, "after a template change");
    assert!(std::fs::read_to_string(public.join("tags/index.html")).is_ok());

    // The card template is not named by the listings that splice its cards, yet a change
    // to it re-renders exactly those listings: agency and term pages.
    let card = Path::new(env!("CARGO_MANIFEST_DIR")).join("themes/default/templates/card.html");
    let source = std::fs::read_to_string(card).unwrap();
    std::fs::write(overrides.join("card.html"), format!("{source}\n")).unwrap();
    let listing_pages = read_tree(&public)
        .values()
        .filter(|bytes| {
            let html = String::from_utf8_lossy(bytes);
            html.contains("<body class=\"page-agency\">")
                || html.contains("<body class=\"page-term ")
        })
        .count();
    assert!(listing_pages > term_pages, "{listing_pages} listing pages");
    let recarded = build_cached_in_place(archive.path(), &public, &cache);
    assert_eq!(
        (recarded.pages_rendered, recarded.pages_reused),
        (listing_pages, total - listing_pages),
        "only agency and term pages use card.html"
    );

    // One document edited: its page and the listings that show it are rendered, nothing else.
    add_a_paragraph_to_the_first_note(archive.path());
    let edited = build_cached_in_place(archive.path(), &public, &cache);
    assert!(
        edited.pages_rendered >= 1 && edited.pages_rendered * 5 < total,
        "a one-document edit renders a few pages: {} of {total}",
        edited.pages_rendered
    );
    assert!(
        edited.bodies_read > again.bodies_read
            && edited.bodies_read <= again.bodies_read + edited.pages_rendered,
        "only the bodies of rendered document pages are read: {}",
        edited.bodies_read
    );
    let clean_dir = work.path().join("clean-2");
    build_to_disk(archive.path(), &clean_dir);
    assert_same_tree(&public, &clean_dir, "after a document edit");

    // A retitled document: its page, its neighbours' and every listing that shows it (its
    // agency's three orders, two tags, a year, a kind) are rendered again.
    let note = first_note(archive.path());
    let text = std::fs::read_to_string(&note).unwrap();
    let retitled_text = text.replacen(
        "title: \"Security Advisory for Nightlife Venues\"",
        "title: \"Nightlife Venues: A Retitled Advisory\"",
        1,
    );
    assert_ne!(text, retitled_text, "the first note has that title");
    std::fs::write(&note, retitled_text).unwrap();
    let retitled = build_cached_in_place(archive.path(), &public, &cache);
    assert!(
        retitled.pages_rendered >= 8 && retitled.pages_rendered * 5 < total,
        "a retitled document renders the pages that show it: {} of {total}",
        retitled.pages_rendered
    );
    let clean_dir = work.path().join("clean-3");
    build_to_disk(archive.path(), &clean_dir);
    assert_same_tree(&public, &clean_dir, "after a document is retitled");
}

#[test]
fn a_kept_page_is_trusted_by_its_change_time_and_read_back_once_touched() {
    let archive = common::copy_archive(&common::sample_root());
    let work = tempfile::tempdir().unwrap();
    let (public, cache) = (work.path().join("public"), work.path().join("cache"));
    let first = build_cached_in_place(archive.path(), &public, &cache);
    let page = public.join("index.html");
    let bytes = std::fs::read(&page).unwrap();

    // Nothing touched: pages are kept on their inode's change time, not read back. The
    // kernel's coarse clock can give the last few files the manifest's own time, and those
    // are read back, but not the site.
    let untouched = build_cached_in_place(archive.path(), &public, &cache);
    assert_eq!(
        (untouched.pages_rendered, untouched.pages_reused),
        (0, first.pages_rendered)
    );
    assert!(
        untouched.output.compared * 4 < untouched.output.unchanged,
        "most kept files are trusted: {:?}",
        untouched.output
    );

    // Written again with the same bytes: read back, found intact, kept.
    std::fs::write(&page, &bytes).unwrap();
    let rewritten = build_cached_in_place(archive.path(), &public, &cache);
    assert_eq!(
        (rewritten.pages_rendered, rewritten.pages_reused),
        (0, first.pages_rendered)
    );
    assert!(rewritten.output.compared >= 1, "{:?}", rewritten.output);

    // Changed, then given back a time from before the build, as `cp -p`, `tar` or `rsync -t`
    // would: the modification time says untouched, the change time does not, and the page
    // is rendered again. The same holds for a page cut short.
    let manifest = public.join(leakpress::manifest::MANIFEST_FILE);
    let built = std::fs::metadata(&manifest).unwrap().modified().unwrap();
    let set_back = |contents: &[u8]| {
        std::fs::write(&page, contents).unwrap();
        let file = std::fs::File::options().write(true).open(&page).unwrap();
        file.set_modified(built - std::time::Duration::from_secs(60))
            .unwrap();
    };
    let mut changed = bytes.clone();
    let last = changed.len() - 2;
    changed[last] ^= 0x01;
    for damaged in [&changed[..], &bytes[..bytes.len() / 2]] {
        set_back(damaged);
        let repaired = build_cached_in_place(archive.path(), &public, &cache);
        assert_eq!(repaired.pages_rendered, 1);
        assert_eq!(std::fs::read(&page).unwrap(), bytes);
        assert!(leakpress::manifest::verify(&public).unwrap().is_clean());
    }
}

#[test]
fn the_manifest_is_written_over_the_previous_one_unless_it_has_other_names() {
    use std::os::unix::fs::MetadataExt;
    let archive = common::copy_archive(&common::sample_root());
    let work = tempfile::tempdir().unwrap();
    let (public, cache) = (work.path().join("public"), work.path().join("cache"));
    build_cached_in_place(archive.path(), &public, &cache);
    let manifest = public.join(leakpress::manifest::MANIFEST_FILE);
    let aside = public.join(leakpress::output::PREVIOUS_MANIFEST);
    let bulletin = archive.path().join(
        "content/riverside-fusion-center/bulletins/2020/2020-06-01-situational-awareness-update.md",
    );

    // One document edited: the same file, its changed lines rewritten, its time moved on.
    let before = std::fs::metadata(&manifest).unwrap();
    let old = std::fs::read(&manifest).unwrap();
    append(&bulletin, "One more line.");
    build_cached_in_place(archive.path(), &public, &cache);
    let after = std::fs::metadata(&manifest).unwrap();
    assert_eq!(after.ino(), before.ino(), "written over, not anew");
    assert!(after.modified().unwrap() > before.modified().unwrap());
    assert_ne!(std::fs::read(&manifest).unwrap(), old);
    assert!(!aside.exists());
    assert!(leakpress::manifest::verify(&public).unwrap().is_clean());

    // Linked from elsewhere (a backup made with hard links): the other name keeps its bytes.
    let backup = work.path().join("MANIFEST.backup");
    std::fs::hard_link(&manifest, &backup).unwrap();
    let old = std::fs::read(&manifest).unwrap();
    append(&bulletin, "And another.");
    build_cached_in_place(archive.path(), &public, &cache);
    assert_eq!(std::fs::read(&backup).unwrap(), old);
    assert_ne!(std::fs::read(&manifest).unwrap(), old);
    assert!(!aside.exists());
    assert!(leakpress::manifest::verify(&public).unwrap().is_clean());
}

#[test]
fn a_published_original_replaced_in_the_output_is_published_again() {
    use std::os::unix::fs::MetadataExt;
    let archive = common::copy_archive(&common::sample_root());
    let work = tempfile::tempdir().unwrap();
    let (public, cache) = (work.path().join("public"), work.path().join("cache"));
    build_cached_in_place(archive.path(), &public, &cache);
    // Originals are hard links to their inputs: the files of the output with other names.
    let linked: Vec<std::path::PathBuf> = read_tree(&public)
        .into_keys()
        .map(|path| public.join(path))
        .filter(|path| std::fs::metadata(path).unwrap().nlink() > 1)
        .collect();
    let original = linked.first().expect("the sample publishes originals");
    let bytes = std::fs::read(original).unwrap();
    assert!(bytes.len() > 2);

    // Replaced by a copy of the same size with one byte changed, then by one cut short: the
    // copy is no longer the input, and is published again.
    let mut changed = bytes.clone();
    changed[0] ^= 0x01;
    for damaged in [&changed[..], &bytes[..bytes.len() / 2]] {
        std::fs::remove_file(original).unwrap();
        std::fs::write(original, damaged).unwrap();
        build_cached_in_place(archive.path(), &public, &cache);
        assert_eq!(std::fs::read(original).unwrap(), bytes);
        assert!(leakpress::manifest::verify(&public).unwrap().is_clean());
    }
}

/// The search index's folder (`search/<key>/`) and its files: path within it → (bytes, time).
type IndexFiles = BTreeMap<String, (Vec<u8>, std::time::SystemTime)>;

fn index_folder(public: &Path) -> (String, IndexFiles) {
    let folders: Vec<String> = std::fs::read_dir(public.join("search"))
        .unwrap()
        .filter_map(Result::ok)
        .filter(|e| e.file_type().unwrap().is_dir())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(folders.len(), 1, "one index folder: {folders:?}");
    let dir = public.join("search").join(&folders[0]);
    let files = read_tree(&dir)
        .into_iter()
        .map(|(path, bytes)| {
            let time = std::fs::metadata(dir.join(&path))
                .unwrap()
                .modified()
                .unwrap();
            (path, (bytes, time))
        })
        .collect();
    (folders[0].clone(), files)
}

#[test]
fn an_edit_renames_the_index_folder_and_keeps_the_files_it_did_not_change() {
    let archive = common::copy_archive(&common::sample_root());
    let out = tempfile::tempdir().unwrap();
    let public = out.path().join("public");
    build_to_disk(archive.path(), &public);
    let (old_key, old_files) = index_folder(&public);

    add_a_paragraph_to_the_first_note(archive.path());
    build_to_disk(archive.path(), &public);
    let (new_key, new_files) = index_folder(&public);
    assert_ne!(old_key, new_key, "a changed index gets a new folder name");

    // Files with the same bytes as before were carried over, not written again.
    let same: Vec<&String> = new_files
        .iter()
        .filter(|(path, (bytes, _))| old_files.get(*path).is_some_and(|old| old.0 == *bytes))
        .map(|(path, _)| path)
        .collect();
    assert!(
        same.len() * 2 > new_files.len(),
        "most index files are unchanged by one edit: {} of {}",
        same.len(),
        new_files.len()
    );
    for path in &same {
        assert_eq!(
            new_files[*path].1, old_files[*path].1,
            "{path} was rewritten"
        );
    }
    assert!(
        new_files.len() > same.len(),
        "the edited document's files changed"
    );

    let clean_dir = out.path().join("clean");
    build_to_disk(archive.path(), &clean_dir);
    assert_same_tree(&public, &clean_dir, "after the index folder moved");
}

/// A made-up word for rank `n`: base-26 letters, at least four.
fn made_up_word(mut n: u64) -> String {
    let mut word = String::new();
    while n > 0 || word.len() < 4 {
        word.push((b'a' + (n % 26) as u8) as char);
        n /= 26;
    }
    word
}

/// An archive (the sample's configuration and theme) of one agency with `notes` long notes
/// drawn from a large made-up vocabulary (low ranks more often), so that the search
/// postings fill several snapshot blocks.
fn wordy_archive(notes: usize) -> tempfile::TempDir {
    let archive = common::copy_archive(&common::sample_root());
    std::fs::remove_dir_all(archive.path().join("content")).unwrap();
    std::fs::remove_file(archive.path().join("tables.yaml")).unwrap();
    let agency = archive.path().join("content/wordy-bureau");
    std::fs::create_dir_all(&agency).unwrap();
    let mut state = 0x9e37_79b9_7f4a_7c15u64;
    for note in 0..notes {
        let mut body = String::new();
        for i in 0..2500 {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            let uniform = state % 40_000;
            body.push_str(&made_up_word(uniform * uniform / 40_000));
            body.push(if i % 12 == 11 { '\n' } else { ' ' });
        }
        std::fs::write(
            agency.join(format!("note-{note:03}.md")),
            format!("---\ntitle: \"Note {note}\"\ndate: 2019-02-03\n---\n{body}\n"),
        )
        .unwrap();
    }
    archive
}

fn append(path: &Path, text: &str) {
    let old = std::fs::read_to_string(path).unwrap();
    std::fs::write(path, format!("{old}\n{text}\n")).unwrap();
}

#[test]
fn an_edit_keeps_the_index_files_of_the_blocks_it_leaves_alone() {
    let archive = wordy_archive(200);
    let work = tempfile::tempdir().unwrap();
    let (public, cache) = (work.path().join("public"), work.path().join("cache"));
    let notes = archive.path().join("content/wordy-bureau");
    let clean_build_equals = |what: &str| {
        let clean = tempfile::tempdir().unwrap();
        build_to_disk(archive.path(), clean.path());
        assert_same_tree(&public, clean.path(), what);
    };

    let first = build_cached_in_place(archive.path(), &public, &cache);
    assert!(
        first.snapshot_blocks >= 4,
        "{} snapshot blocks",
        first.snapshot_blocks
    );
    assert_eq!(first.snapshot_blocks_whole, 0, "nothing to keep");

    // A few words no note has: only the blocks of those terms are scored again.
    append(&notes.join("note-100.md"), "Zyxwvut qqqqzzzz.");
    let edited = build_cached_in_place(archive.path(), &public, &cache);
    assert!(
        edited.snapshot_blocks_whole >= 1 && edited.snapshot_blocks_whole < edited.snapshot_blocks,
        "{} of {} blocks kept whole",
        edited.snapshot_blocks_whole,
        edited.snapshot_blocks
    );
    clean_build_equals("after an edit");

    // Packs changed by hand are not kept: their blocks are scored and written again.
    let (key, files) = index_folder(&public);
    for (name, _) in files.iter().filter(|(name, _)| name.starts_with('p')) {
        std::fs::write(public.join("search").join(&key).join(name), "tampered").unwrap();
    }
    append(&notes.join("note-150.md"), "Yxwvuts.");
    build_cached_in_place(archive.path(), &public, &cache);
    clean_build_equals("after packs were changed by hand");

    // A new note changes every term's weight (one more document), even in the blocks where
    // it has no term: no block is kept whole.
    std::fs::write(
        notes.join("note-999.md"),
        "---\ntitle: \"Addendum\"\ndate: 2019-02-03\n---\nSee above.\n",
    )
    .unwrap();
    let added = build_cached_in_place(archive.path(), &public, &cache);
    assert_eq!(added.snapshot_blocks_whole, 0);
    clean_build_equals("after a note was added");
}
