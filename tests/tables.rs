//! Tables are records: profiles, the real-world quirks of database exports, joins,
//! attachments, empty tables, workbooks and determinism.
// See: issue #4 (tables are records)

mod common;

use common::{Site, broken_links, build_memory, copy_archive, fixture};
use leakpress::tables::{FieldType, Profile, html_text as text_of};

fn archive() -> std::path::PathBuf {
    fixture("tables/archive")
}

fn built() -> Site {
    build_memory(&archive(), false, Some(2))
}

#[test]
fn profile_parses_types_joins_and_overrides() {
    let profile = Profile::parse(
        "tables:\n  Documents:\n    id: DocumentID\n    fields: { Body: html, File: attachment }\njoins:\n  - Documents.CatID -> Category.CatID\n  - join: A.x -> B.y\n    label: L\n",
    )
    .unwrap();
    let documents = profile.table("documents").expect("case-insensitive lookup");
    assert_eq!(documents.fields["Body"], FieldType::Html);
    assert_eq!(profile.joins.len(), 2);
    assert_eq!(profile.joins[0].from_column, "CatID");
    assert_eq!(profile.joins[1].label.as_deref(), Some("L"));

    let over =
        Profile::parse("tables:\n  DOCUMENTS:\n    name: Papers\n    fields: { Notes: pre }\n")
            .unwrap();
    let merged = profile.merged(&over);
    let documents = merged.table("Documents").unwrap();
    assert_eq!(documents.name.as_deref(), Some("Papers"));
    assert_eq!(
        documents.id.as_deref(),
        Some("DocumentID"),
        "unset keys keep the archive's"
    );
    assert_eq!(documents.fields.len(), 3);
}

#[test]
fn profile_errors_name_the_key() {
    let err = Profile::parse("tables:\n  Documents:\n    titel: Title\n").unwrap_err();
    assert!(err.to_string().contains("titel"), "{err}");
    let err = Profile::parse("tabels: {}\n").unwrap_err();
    assert!(err.to_string().contains("tabels"), "{err}");
    let err = Profile::parse("tables:\n  D:\n    fields: { X: blob }\n").unwrap_err();
    assert!(err.to_string().contains("blob"), "{err}");
    let err = Profile::parse("joins:\n  - Documents -> Category.ID\n").unwrap_err();
    assert!(err.to_string().contains("Documents"), "{err}");
    let err = Profile::parse("joins:\n  - join: A.x -> B.y\n    lable: z\n").unwrap_err();
    assert!(err.to_string().contains("lable"), "{err}");
}

#[test]
fn a_bad_profile_fails_the_build_naming_file_and_key() {
    let temp = copy_archive(&archive());
    std::fs::write(
        temp.path().join("tables.yaml"),
        "tables:\n  Documents:\n    hiden: true\n",
    )
    .unwrap();
    let options = leakpress::BuildOptions::new(temp.path());
    let err = leakpress::build(&options, &leakpress::Output::memory(), &|_| {}).unwrap_err();
    let message = err.to_string();
    assert!(
        message.contains("tables.yaml") && message.contains("hiden"),
        "{message}"
    );
}

#[test]
fn every_row_gets_a_record_page_and_the_table_a_paginated_listing() {
    let site = built();
    // The table file's own document URL is its listing (page size 2 in this fixture).
    let listing = site.html("alpha/documents/index.html");
    assert!(
        listing.contains("Portal documents"),
        "display name from the profile"
    );
    for page in [
        "alpha/documents/page/2/index.html",
        "alpha/documents/page/4/index.html",
    ] {
        assert!(site.has(page), "{page}");
    }
    assert!(
        site.has("alpha/documents/oldest/index.html"),
        "date column gives oldest/"
    );
    assert!(
        site.has("alpha/documents/title/page/2/index.html"),
        "title column gives title/"
    );
    assert!(
        site.has("alpha/documents/documents.csv"),
        "the original is published"
    );
    // Seven rows (the blank one skipped); ids made unique and clear of listing folders.
    for id in ["1", "2", "3", "4", "5", "page-record", "1-2"] {
        assert!(
            site.has(&format!("alpha/documents/{id}/index.html")),
            "record {id}"
        );
    }
    assert!(!site.has("alpha/documents/8/index.html"));
    assert_eq!(site.report.summary.documents_by_kind.get("table"), Some(&9));
}

#[test]
fn quirks_dates_escapes_newlines_ragged_rows_and_headers() {
    let site = built();
    let one = site.html("alpha/documents/1/index.html");
    // Two-digit year, midnight: a date without a time.
    assert!(one.contains("31 May 2020"), "{one}");
    // Literal \n and \t in a text cell: a line break and visible space.
    assert!(
        one.contains("Line one<br>Line two\u{2003}\u{2003}Tabbed"),
        "{one}"
    );
    // `pre` keeps a real tab.
    assert!(one.contains("raw\tlog"), "{one}");
    // Hidden and dropped columns are not shown; redacted ones are marked.
    assert!(!one.contains("s3cret") && !one.contains("internal-note") && !one.contains("555-0100"));
    assert!(one.contains("[redacted]"));
    // Empty and duplicate headers get names.
    assert!(
        one.contains("Column 12") && one.contains("Title (2)"),
        "{one}"
    );
    // HTML cells are sanitized like leaked HTML.
    assert!(one.contains("Hi") && !one.contains("alert(1)") && !one.contains("onclick"));
    assert!(!one.contains("javascript:"));

    let two = site.html("alpha/documents/2/index.html");
    assert!(
        two.contains("1 June 2020, 15:04"),
        "AM/PM with a four-digit year: {two}"
    );
    assert!(
        text_of(&two).contains("Quoted newline title"),
        "quoted newline in the title"
    );
    let three = site.html("alpha/documents/3/index.html");
    assert!(
        three.contains("14 August 2019, 15:30"),
        "two-digit year with PM: {three}"
    );
    // A ragged row's extra cell is shown under a named column; a short row still renders.
    let four = site.html("alpha/documents/4/index.html");
    assert!(four.contains("ragged-extra"), "{four}");
    assert!(site.has("alpha/documents/5/index.html"));
    let warnings = site.warnings_for("alpha/Documents.csv").join("\n");
    assert!(warnings.contains("ragged rows"), "{warnings}");
}

#[test]
fn windows_1252_and_bom() {
    let site = built();
    let legacy = site.html("alpha/legacy/1/index.html");
    assert!(legacy.contains("Café \u{201c}quoted\u{201d}"), "{legacy}");
    let warnings = site.warnings_for("alpha/Legacy.csv").join("\n");
    assert!(warnings.contains("windows-1252"), "{warnings}");
    // The BOM is not part of the first column's name.
    let one = site.html("alpha/documents/1/index.html");
    assert!(one.contains("<dt>DocumentID</dt>"), "{one}");
    assert!(!one.contains('\u{feff}'));
}

#[test]
fn joins_link_both_ways_and_missing_targets_are_reported() {
    let site = built();
    let one = text_of(&site.html("alpha/documents/1/index.html"));
    assert!(one.contains("Category Bulletins"), "{one}");
    let bulletins = site.html("alpha/category/1/index.html");
    assert!(
        text_of(&bulletins).contains("3 documents in this category"),
        "{bulletins}"
    );
    assert!(bulletins.contains("documents/1/") && bulletins.contains("documents/2/"));
    assert!(!text_of(&site.html("alpha/category/3/index.html")).contains("in this category"));
    let orphan = text_of(&site.html("alpha/documents/4/index.html"));
    assert!(
        orphan.contains("no Categories record with CategoryID 99"),
        "{orphan}"
    );
    let warnings = site.warnings_for("alpha/Documents.csv").join("\n");
    assert!(
        warnings.contains("1 row joins to no Category record") && warnings.contains("99"),
        "{warnings}"
    );
}

#[test]
fn a_count_of_one_takes_the_singular_label() {
    let temp = copy_archive(&archive());
    let documents = temp.path().join("content/alpha/Documents.csv");
    let csv = std::fs::read_to_string(&documents).unwrap();
    // Moves the "page" row from category 2 to 3, leaving each with one document.
    let moved = csv.replace("page,Reserved id,2,", "page,Reserved id,3,");
    assert_ne!(csv, moved);
    std::fs::write(&documents, moved).unwrap();
    let site = build_memory(temp.path(), false, Some(2));
    for category in ["2", "3"] {
        let text = text_of(&site.html(&format!("alpha/category/{category}/index.html")));
        assert!(text.contains("1 document in this category"), "{text}");
        assert!(!text.contains("1 documents"), "{text}");
    }
    let bulletins = text_of(&site.html("alpha/category/1/index.html"));
    assert!(
        bulletins.contains("3 documents in this category"),
        "{bulletins}"
    );
}

#[test]
fn hidden_tables_publish_no_records_and_are_still_reported() {
    let temp = copy_archive(&archive());
    let profile = temp.path().join("tables.yaml");
    let yaml = std::fs::read_to_string(&profile).unwrap();
    let hidden = yaml.replace(
        "  Category:\n    name: Categories\n",
        "  Category:\n    name: Categories\n    hidden: true\n",
    );
    assert_ne!(yaml, hidden);
    std::fs::write(&profile, hidden).unwrap();
    let site = build_memory(temp.path(), false, Some(2));
    // No listing and no record pages: only the table file's own document page remains.
    let category_pages: Vec<&String> = site
        .files
        .keys()
        .filter(|p| p.starts_with("alpha/category/") && p.ends_with(".html"))
        .collect();
    assert_eq!(category_pages, ["alpha/category/index.html"]);
    let page = site.html("alpha/category/index.html");
    assert!(page.contains("hidden by the table profile"), "{page}");
    assert!(!page.contains("Bulletins"), "{page}");
    // Joined records neither link to nor name the hidden records.
    let one = site.html("alpha/documents/1/index.html");
    assert!(
        !one.contains("category/1/") && !one.contains("Bulletins"),
        "{one}"
    );
    // The agency lists its shown tables only.
    let alpha = text_of(&site.html("alpha/index.html"));
    assert!(
        alpha.contains("Portal documents 7") && !alpha.contains("Categories 3"),
        "{alpha}"
    );
    // Still reported: the file has its fate and its facts.
    assert!(site.report.fate("alpha/Category.csv").is_some());
}

#[test]
fn attachments_link_to_their_pages_which_list_the_records() {
    let site = built();
    let one = site.html("alpha/documents/1/index.html");
    assert!(
        one.contains("files-ddf-bulletin-12-txt/"),
        "Windows path to files/: {one}"
    );
    // Case-insensitive match.
    assert!(
        site.html("alpha/documents/2/index.html")
            .contains("files-ddf-bulletin-12-txt/")
    );
    let attachment = site.html("alpha/files-ddf-bulletin-12-txt/index.html");
    assert!(attachment.contains("Referenced by records"), "{attachment}");
    assert!(attachment.contains("documents/1/") && attachment.contains("documents/2/"));
    let three = site.html("alpha/documents/3/index.html");
    assert!(three.contains("file not in the archive"), "{three}");
    let warnings = site.warnings_for("alpha/Documents.csv").join("\n");
    assert!(warnings.contains(r#"DDF\\Nope.pdf"#), "{warnings}");
}

#[test]
fn empty_tables_get_a_page_but_no_records() {
    let site = built();
    for (page, folder) in [
        ("alpha/empty/index.html", "alpha/empty/"),
        ("alpha/blank/index.html", "alpha/blank/"),
    ] {
        let html = site.html(page);
        assert!(html.contains("This table is empty"), "{html}");
        let records = site
            .files
            .keys()
            .filter(|p| p.starts_with(folder) && p.ends_with("index.html") && p.as_str() != page)
            .count();
        assert_eq!(records, 0, "{folder}");
    }
}

#[test]
fn workbook_sheets_are_tables() {
    let site = built();
    let book = site.html("alpha/book/index.html");
    assert!(
        book.contains("book/roster/") && book.contains("book/vehicles/"),
        "{book}"
    );
    let officer = site.html("alpha/book/roster/4411/index.html");
    assert!(officer.contains("Officer Alpha"), "{officer}");
    assert!(site.has("alpha/book/vehicles/pcp-02/index.html"));
}

#[test]
fn agency_index_lists_tables_and_takes_company_facts() {
    let site = built();
    let alpha = site.html("alpha/index.html");
    assert!(
        alpha.contains("Alpha Fusion Center (from Company)"),
        "{alpha}"
    );
    assert!(alpha.contains("A fictional center described"), "{alpha}");
    assert!(text_of(&alpha).contains("Portal documents 7"), "{alpha}");
    // _agency.yaml wins over the Company table; the override renames the table.
    let bravo = site.html("bravo/index.html");
    assert!(bravo.contains("Bravo Police (from _agency.yaml)") && !bravo.contains("Ignored name"));
    assert!(bravo.contains("Bravo description from Company."));
    assert!(bravo.contains("Bravo papers"), "{bravo}");
    assert!(site.report.fate("bravo/_tables.yaml").is_some());
}

#[test]
fn without_a_profile_first_column_is_the_id_and_file_cells_link() {
    let temp = copy_archive(&archive());
    std::fs::remove_file(temp.path().join("tables.yaml")).unwrap();
    let site = build_memory(temp.path(), false, Some(2));
    let one = site.html("alpha/documents/1/index.html");
    assert!(
        one.contains("files-ddf-bulletin-12-txt/"),
        "untyped cell naming a file links: {one}"
    );
    // With no type, HTML is shown as text, escaped.
    assert!(
        one.contains("&lt;script&gt;") || one.contains("&lt;p"),
        "{one}"
    );
    assert!(site.has("alpha/company/1/index.html"));
}

#[test]
fn links_resolve_online_and_offline() {
    for offline in [false, true] {
        let site = build_memory(&archive(), offline, Some(2));
        // 404.html uses root-absolute links on purpose (it is served at any depth).
        let broken: Vec<String> = broken_links(&site, offline)
            .into_iter()
            .filter(|b| !b.starts_with("404.html:"))
            .collect();
        assert!(broken.is_empty(), "offline={offline}: {broken:#?}");
    }
}

#[test]
fn output_is_deterministic_across_thread_counts() {
    let one = build_memory(&archive(), false, Some(1));
    let four = build_memory(&archive(), false, Some(4));
    assert_eq!(one.files.len(), four.files.len());
    for (path, bytes) in &one.files {
        assert!(four.files.get(path) == Some(bytes), "{path} differs");
    }
}

/// The search index folder (`search/<key>/`) of a built site.
fn search_key(site: &Site) -> String {
    site.files
        .keys()
        .find_map(|p| p.strip_prefix("search/")?.strip_suffix("/manifest.js"))
        .expect("a search manifest")
        .to_owned()
}

/// Builds a copy of the fixture whose `tables.yaml` has `from` replaced by `to`.
fn built_with_profile_edit(from: &str, to: &str) -> Site {
    let temp = copy_archive(&archive());
    let profile = temp.path().join("tables.yaml");
    let yaml = std::fs::read_to_string(&profile).unwrap();
    let edited = yaml.replace(from, to);
    assert_ne!(yaml, edited, "{from:?} is in the profile");
    std::fs::write(&profile, edited).unwrap();
    build_memory(temp.path(), false, Some(2))
}

#[test]
fn renaming_a_table_changes_its_records_and_the_search_key() {
    let before = built();
    let after = built_with_profile_edit("name: Categories", "name: Kinds");
    let page = "alpha/category/1/index.html";
    assert_ne!(before.html(page), after.html(page));
    assert!(text_of(&after.html(page)).contains("Kinds"));
    assert_ne!(search_key(&before), search_key(&after));
}

#[test]
fn hiding_a_field_changes_its_records_and_the_search_index() {
    let before = built();
    let after = built_with_profile_edit("Log: pre", "Log: hidden");
    let page = "alpha/documents/1/index.html";
    assert!(before.html(page).contains("raw\tlog"));
    assert!(!after.html(page).contains("raw\tlog"), "hidden field shown");
    // The index changes with it (whatever its folder is called).
    let shard_text = |site: &Site| {
        site.files
            .iter()
            .filter(|(p, _)| p.starts_with("search/"))
            .map(|(_, bytes)| String::from_utf8_lossy(bytes).into_owned())
            .collect::<String>()
    };
    assert_ne!(shard_text(&before), shard_text(&after));
}

// The search folder is served `immutable` (netlify.toml), so a profile edit that hides or
// redacts a column must change its name, or readers keep the old shards, hidden text and all.
// Neither profile file is a document, so the key takes `TableSet::profile_fingerprint`.
#[test]
fn a_field_type_edit_changes_the_search_key() {
    let before = built();
    let after = built_with_profile_edit("Log: pre", "Log: hidden");
    assert_ne!(search_key(&before), search_key(&after));
    let agency_edit = {
        let temp = copy_archive(&archive());
        let path = temp.path().join("content/bravo/_tables.yaml");
        let yaml = std::fs::read_to_string(&path).unwrap();
        std::fs::write(&path, format!("{yaml}\n# edited\n")).unwrap();
        build_memory(temp.path(), false, Some(2))
    };
    // A comment changes no profile, so no key.
    assert_eq!(search_key(&before), search_key(&agency_edit));
}

/// The data of the `LEAKPRESS_SEARCH.load(id, data);` script `id` of a site's search index.
fn search_script(site: &Site, id: &str) -> serde_json::Value {
    let path = format!("search/{}/{id}.js", search_key(site));
    let text = String::from_utf8(site.files[&path].clone()).unwrap();
    let data = text
        .strip_prefix(&format!("LEAKPRESS_SEARCH.load(\"{id}\","))
        .and_then(|t| t.strip_suffix(");\n"))
        .unwrap_or_else(|| panic!("{path} is not a load() script"));
    serde_json::from_str(data).unwrap()
}

/// "row N of M" on a record page: its row (from 1) and its table's rows; `None` elsewhere.
fn record_row(page: &str) -> Option<(u64, u64)> {
    let text = text_of(page);
    let words: Vec<&str> = text.split_whitespace().collect();
    words.windows(5).find_map(|w| match w {
        ["row", n, "of", m, "in"] => Some((n.parse().ok()?, m.parse().ok()?)),
        _ => None,
    })
}

#[test]
fn records_are_numbered_table_by_table_in_row_order() {
    // See: issue #4, "500,000-row tables: stream them, memory must not hold the table".
    // Records get their search numbers before the first one renders, so their entries go
    // out as they come instead of waiting in memory for the last: after every document,
    // one table at a time, each table's rows in table order.
    let site = built();
    let manifest = search_script(&site, "manifest");
    let total = manifest["docs"].as_u64().unwrap();
    let chunk = manifest["chunk"].as_u64().unwrap();
    let ranges = manifest["ranges"].as_array().unwrap();
    let facet = |number: u64| {
        ranges
            .iter()
            .rev()
            .find(|r| r[0].as_u64().unwrap() <= number)
    };
    // (number, table folder, slug, row, rows) of every record, in number order.
    let mut records: Vec<(u64, String, String, u64, u64)> = Vec::new();
    for number in 0..total {
        let entry =
            &search_script(&site, &format!("d{}", number / chunk))[(number % chunk) as usize];
        let url = entry[1].as_str().unwrap();
        match record_row(&site.html(&format!("{url}index.html"))) {
            Some((row, rows)) => {
                let (table, slug) = url.trim_end_matches('/').rsplit_once('/').unwrap();
                records.push((number, format!("{table}/"), slug.to_owned(), row, rows));
            }
            None => assert!(records.is_empty(), "document {url} numbered after a record"),
        }
    }
    // Each table is one run of numbers holding its rows 1..=M in order, in one facet range.
    let mut tables = std::collections::BTreeSet::new();
    for run in records.chunk_by(|a, b| a.1 == b.1) {
        let (first, table, _, _, rows) = &run[0];
        assert!(tables.insert(table.clone()), "{table} numbered in two runs");
        let numbered: Vec<(u64, u64)> = run.iter().map(|r| (r.0, r.3)).collect();
        let expected: Vec<(u64, u64)> = (1..=*rows).map(|row| (first + row - 1, row)).collect();
        assert_eq!(numbered, expected, "{table}");
        assert_eq!(facet(*first), facet(first + rows - 1), "{table}");
    }
    assert!(tables.contains("bravo/documents/"), "{tables:?}");
    // Row order, not URL order: the duplicate id 1 (7th row) comes after row 6, "page".
    let alpha: Vec<&str> = records
        .iter()
        .filter(|r| r.1 == "alpha/documents/")
        .map(|r| r.2.as_str())
        .collect();
    assert_eq!(alpha, ["1", "2", "3", "4", "5", "page-record", "1-2"]);
}

#[test]
fn table_set_is_send_and_sync() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<leakpress::tables::TableSet>();
}
