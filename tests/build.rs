//! Builds the bundled sample archive and fixture archives, and checks the output.

mod common;

use common::*;
use leakpress::{BuildOptions, Fate, Output};

#[test]
fn sample_archive_gives_every_file_a_fate_and_every_document_a_page() {
    let site = build_memory(&sample_root(), false, None);
    let mut content_files = 0;
    for entry in walkdir::WalkDir::new(sample_root().join("content")) {
        let entry = entry.unwrap();
        if entry.file_type().is_dir() {
            continue;
        }
        content_files += 1;
        let rel = entry
            .path()
            .strip_prefix(sample_root().join("content"))
            .unwrap()
            .to_string_lossy()
            .replace('\\', "/");
        let fate = site
            .report
            .fate(&rel)
            .unwrap_or_else(|| panic!("{rel} has no fate"));
        if let Fate::Page { url, .. } = fate {
            assert!(
                site.has(&format!("{url}index.html")),
                "{rel}: no page at {url}"
            );
        }
    }
    assert_eq!(site.report.files.len(), content_files);
    // The report is JSON a newsroom's scripts can read: every file with its fate.
    let json: serde_json::Value = serde_json::from_str(&site.report.to_json().unwrap()).unwrap();
    assert_eq!(json["files"].as_object().unwrap().len(), content_files);
    assert_eq!(
        json["files"]["riverside-fusion-center/_agency.yaml"]["fate"],
        "metadata"
    );
    assert!(
        site.report.summary.documents >= 60,
        "{}",
        site.report.summary.documents
    );
    assert!(site.report.summary.agencies >= 8);
    for page in [
        "index.html",
        "404.html",
        "tags/index.html",
        "years/index.html",
        "kinds/index.html",
        "feed.xml",
        "sitemap.xml",
        "robots.txt",
        "MANIFEST.sha256",
    ] {
        assert!(site.has(page), "missing {page}");
    }
    let home = site.html("index.html");
    assert!(
        home.contains("Riverside Regional Fusion Center"),
        "home lists agencies"
    );
}

#[test]
fn every_internal_link_resolves_online_and_offline() {
    for offline in [false, true] {
        let site = build_memory(&sample_root(), offline, None);
        let broken = broken_links(&site, offline);
        assert!(
            broken.is_empty(),
            "offline={offline}: {} broken links, e.g. {:#?}",
            broken.len(),
            &broken[..broken.len().min(10)]
        );
    }
}

/// A link a template writes as a bare site path still works (the rewriting pass catches it),
/// but costs each page a second parse: the default theme writes every one through `rel_url`.
#[test]
fn default_theme_writes_every_internal_link_through_rel_url() {
    let dir = sample_root().join("themes/default/templates");
    let mut bare = Vec::new();
    let mut filtered = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        // Feeds carry absolute URLs and are not rewritten.
        if path.extension().is_none_or(|ext| ext != "html") {
            continue;
        }
        let source = std::fs::read_to_string(&path).unwrap();
        for attribute in ["href", "src", "action", "poster", "data-src", "data-root"] {
            for piece in source.split(&format!(" {attribute}=\"")).skip(1) {
                let end = if piece.starts_with("{{") {
                    piece.find("}}").map_or(piece.len(), |at| at + 2)
                } else {
                    piece.find('"').unwrap_or(piece.len())
                };
                let value = &piece[..end];
                let external = value.starts_with('#') || value == "{{ agency.website }}";
                if value.starts_with("{{") && value.ends_with("| rel_url }}") {
                    filtered += 1;
                } else if !external {
                    bare.push(format!("{}: {attribute}={value}", path.display()));
                }
            }
        }
    }
    assert!(bare.is_empty(), "links without rel_url: {bare:#?}");
    assert!(
        filtered > 50,
        "only {filtered} links found: the scan is broken"
    );
}

/// The default theme's templates are minified once when loaded, and its pages are written
/// as they render. They must say what pages minified one by one say: a theme with one
/// template that cannot be minified so (Tera syntax among a tag's attributes) is minified
/// page by page, and the two builds' pages, minified, must match byte for byte.
#[test]
fn pages_from_minified_templates_match_pages_minified_one_by_one() {
    let archive = copy_archive(&sample_root());
    let mut cfg = minify_html::Cfg::new();
    cfg.minify_css = true;
    cfg.keep_closing_tags = true;
    cfg.keep_html_and_head_opening_tags = true;
    for offline in [false, true] {
        let premade = build_memory(archive.path(), offline, None);
        let unsafe_template = archive.path().join("themes/default/templates/unsafe.html");
        std::fs::write(
            &unsafe_template,
            r#"<a href="/"{% if x %} class="a"{% endif %}>x</a>"#,
        )
        .unwrap();
        let one_by_one = build_memory(archive.path(), offline, None);
        std::fs::remove_file(&unsafe_template).unwrap();
        assert_eq!(
            premade.files.keys().collect::<Vec<_>>(),
            one_by_one.files.keys().collect::<Vec<_>>()
        );
        let (mut pages, mut unchanged) = (0, 0);
        for (path, bytes) in premade.files.iter().filter(|(p, _)| p.ends_with(".html")) {
            let whole = &one_by_one.files[path];
            assert_eq!(
                String::from_utf8_lossy(&minify_html::minify(bytes, &cfg)),
                String::from_utf8_lossy(&minify_html::minify(whole, &cfg)),
                "{path}, offline {offline}"
            );
            pages += 1;
            unchanged += usize::from(bytes == whole);
        }
        assert!(pages > 200, "{pages}");
        // Pages written as rendered differ from pages minified one by one (a value's
        // entities, spaces at a fragment's edge): the fallback did run.
        assert!(unchanged < pages / 2, "{unchanged} of {pages} unchanged");
    }
}

#[test]
fn offline_links_name_files_and_nothing_is_remote() {
    let site = build_memory(&sample_root(), true, None);
    for (path, bytes) in &site.files {
        if !path.ends_with(".html") {
            continue;
        }
        let html = String::from_utf8_lossy(bytes);
        for link in links_in(&html).into_iter().filter(|l| !l.contains("://")) {
            assert!(
                !link.ends_with('/'),
                "{path}: folder link {link} in an offline build"
            );
        }
        // Pages may link out (an agency's web site) but never load anything remote.
        for tag in ["<script", "<link", "<img", "<iframe"] {
            for piece in html.split(tag).skip(1) {
                let head = &piece[..piece.find('>').unwrap_or(piece.len())];
                assert!(
                    !head.contains("http://")
                        && !head.contains("https://")
                        && !head.contains("src=\"//"),
                    "{path}: remote resource in {tag}{head}>"
                );
            }
        }
    }
}

#[test]
fn output_is_identical_across_thread_counts_and_folders() {
    let one = copy_archive(&sample_root());
    let two = copy_archive(&sample_root());
    let a = build_memory(one.path(), false, Some(1));
    let b = build_memory(two.path(), false, Some(4));
    assert_eq!(a.files.len(), b.files.len());
    for (path, bytes) in &a.files {
        assert!(
            b.files.get(path) == Some(bytes),
            "{path} differs between builds"
        );
    }
}

#[test]
fn agency_listing_is_paginated_and_sorted() {
    let site = build_memory(&sample_root(), false, None);
    // The sample's largest agency has more documents than one page holds (page_size: 10).
    let agency = "riverside-fusion-center";
    let count = site
        .report
        .files
        .values()
        .filter(|f| matches!(f, Fate::Page { url, .. } if url.starts_with(agency)))
        .count();
    assert!(count > 10, "{count}");
    let pages = count.div_ceil(10);
    for page in 2..=pages {
        assert!(site.has(&format!("{agency}/page/{page}/index.html")));
        assert!(site.has(&format!("{agency}/oldest/page/{page}/index.html")));
        assert!(site.has(&format!("{agency}/title/page/{page}/index.html")));
    }
    assert!(!site.has(&format!("{agency}/page/{}/index.html", pages + 1)));
    // Each document is linked from exactly one page of the newest-first listing.
    let mut listed = Vec::new();
    for page in 1..=pages {
        let path = if page == 1 {
            format!("{agency}/index.html")
        } else {
            format!("{agency}/page/{page}/index.html")
        };
        for link in links_in(&site.html(&path))
            .into_iter()
            .filter(|l| !l.contains("://"))
        {
            let resolved = resolve(&path, &link);
            if resolved.starts_with(&format!("{agency}/"))
                && !resolved.contains("/page/")
                && !resolved.contains("/oldest/")
                && !resolved.contains("/title/")
                && resolved != format!("{agency}/")
                && resolved.ends_with('/')
            {
                listed.push(resolved);
            }
        }
    }
    listed.sort();
    listed.dedup();
    assert_eq!(listed.len(), count, "{listed:#?}");
}

#[test]
fn feeds_hold_the_newest_documents_with_absolute_urls() {
    let site = build_memory(&sample_root(), false, None);
    let feed = site.html("feed.xml");
    assert!(
        feed.starts_with("<?xml"),
        "{}",
        &feed[..100.min(feed.len())]
    );
    let entries = feed.matches("<entry>").count();
    assert_eq!(entries, site.report.summary.documents.min(50));
    assert!(feed.contains("https://archive.example.org/"));
    let agency_feed = site.html("riverside-fusion-center/feed.xml");
    assert!(agency_feed.matches("<entry>").count() > 10);
    let sitemap = site.html("sitemap.xml");
    assert!(sitemap.contains("<loc>https://archive.example.org/riverside-fusion-center/</loc>"));
}

#[test]
fn manifest_lists_every_published_file_and_verify_checks_it() {
    let archive = copy_archive(&sample_root());
    let mut options = BuildOptions::new(archive.path());
    options.out_dir = archive.path().join("public");
    let out = Output::disk(&options.out_dir).unwrap();
    leakpress::build(&options, &out, &|_| {}).unwrap();
    let result = leakpress::manifest::verify(&options.out_dir).unwrap();
    assert!(result.is_clean(), "{result:?}");
    assert!(result.ok > 100);
    // A changed, a missing and an extra file are all caught.
    std::fs::write(options.out_dir.join("404.html"), "tampered").unwrap();
    std::fs::remove_file(options.out_dir.join("robots.txt")).unwrap();
    std::fs::write(options.out_dir.join("extra.html"), "x").unwrap();
    let result = leakpress::manifest::verify(&options.out_dir).unwrap();
    assert_eq!(result.changed, ["404.html"]);
    assert_eq!(result.missing, ["robots.txt"]);
    assert_eq!(result.extra, ["extra.html"]);
    // Rebuilding over an earlier output replaces it whole.
    let out = Output::disk(&options.out_dir).unwrap();
    leakpress::build(&options, &out, &|_| {}).unwrap();
    assert!(
        leakpress::manifest::verify(&options.out_dir)
            .unwrap()
            .is_clean()
    );
}

#[test]
fn refuses_to_wipe_a_folder_it_did_not_write() {
    let temp = tempfile::tempdir().unwrap();
    std::fs::write(temp.path().join("precious.txt"), "keep me").unwrap();
    let err = Output::disk(temp.path()).err().expect("must refuse");
    assert!(err.to_string().contains("refusing"), "{err}");
    assert!(temp.path().join("precious.txt").exists());
}

#[test]
fn unknown_config_key_fails_the_build_naming_the_key() {
    let archive = copy_archive(&sample_root());
    std::fs::write(
        archive.path().join("leakpress.yaml"),
        "title: x\npagesize: 3\n",
    )
    .unwrap();
    let err = leakpress::build(
        &BuildOptions::new(archive.path()),
        &Output::memory(),
        &|_| {},
    )
    .expect_err("unknown key is fatal");
    let message = err.to_string();
    assert!(
        message.contains("pagesize") && message.contains("leakpress.yaml"),
        "{message}"
    );
}

#[test]
fn listing_cards_rendered_once_equal_cards_rendered_in_the_page() {
    // A title that holds the card slot and root markers must not be taken for either.
    let hostile = "---\ntitle: \"lpCardSlot5e0c9b1d7a0z and lpCardRoot5e0c9b1d7a/x\"\n\
                   date: 2019-03-04\ntags: [markers]\n---\nA note whose title holds markers.\n";
    let themed = |doc_list_entry: Option<&str>| {
        let archive = copy_archive(&sample_root());
        let notes = archive.path().join("content/port-city-police");
        std::fs::write(notes.join("marker-title.md"), hostile).unwrap();
        if let Some(entry) = doc_list_entry {
            let components = sample_root().join("themes/default/templates/components.html");
            let source = std::fs::read_to_string(components).unwrap();
            let spliced = "{% if doc.html %}{{ doc.html | safe }}{% else %}";
            assert!(source.contains(spliced), "doc_list prints doc.html");
            let overrides = archive.path().join("themes/default/templates");
            std::fs::create_dir_all(&overrides).unwrap();
            std::fs::write(
                overrides.join("components.html"),
                source.replace(spliced, entry),
            )
            .unwrap();
        }
        archive
    };
    let default = themed(None);
    // Never prints `doc.html`: every listing renders its cards in the page.
    let in_page = themed(Some("{% if false %}{% else %}"));
    // Marks a card rendered in the page: a listing falls back to that only when its slots
    // did not come out as they went in.
    let marked = themed(Some(
        "{% if doc.html %}{{ doc.html | safe }}{% else %}UNSPLICED",
    ));
    for offline in [false, true] {
        let spliced = build_memory(default.path(), offline, None);
        let plain = build_memory(in_page.path(), offline, None);
        assert_eq!(spliced.files.len(), plain.files.len());
        for (path, bytes) in &spliced.files {
            assert!(
                plain.files.get(path) == Some(bytes),
                "{path} differs between spliced and in-page cards (offline: {offline})"
            );
        }
        let listing = spliced.html("tags/markers/index.html");
        assert!(
            listing.contains("lpCardSlot5e0c9b1d7a0z and lpCardRoot5e0c9b1d7a/x"),
            "{listing}"
        );

        let marked = build_memory(marked.path(), offline, None);
        let listings: Vec<&String> = marked
            .files
            .keys()
            .filter(|path| {
                path.starts_with("tags/")
                    && path.ends_with("/index.html")
                    && *path != "tags/index.html"
            })
            .collect();
        let unspliced: Vec<&&String> = listings
            .iter()
            .filter(|path| marked.html(path).contains("UNSPLICED"))
            .collect();
        // Only the listings of the note whose title holds the markers fall back.
        assert!(listings.len() > 5, "{listings:?}");
        assert_eq!(unspliced, [&&"tags/markers/index.html".to_owned()]);
        for path in listings.iter().filter(|path| !unspliced.contains(path)) {
            assert_eq!(marked.files[*path], spliced.files[*path], "{path}");
        }
    }
}
