//! Bad input: each problem is a warning naming the file, the build goes on, nothing else is
//! lost. The fixture is `tests/fixtures/invalid/`.

mod common;

use common::*;
use leakpress::Fate;

fn build_invalid() -> Site {
    build_memory(&fixture("invalid"), false, None)
}

fn page_of(site: &Site, rel: &str) -> String {
    match site.report.fate(rel) {
        Some(Fate::Page { url, .. }) => url.clone(),
        other => panic!("{rel}: expected a page, got {other:?}"),
    }
}

#[test]
fn broken_front_matter_is_a_warning_and_the_page_still_renders() {
    let site = build_invalid();
    let warnings = site.warnings_for("agency-one/broken-yaml.md");
    assert!(
        warnings
            .iter()
            .any(|w| w.contains("front matter is not valid YAML")),
        "{warnings:?}"
    );
    let url = page_of(&site, "agency-one/broken-yaml.md");
    assert!(
        site.html(&format!("{url}index.html"))
            .contains("front matter is broken")
    );
}

#[test]
fn missing_title_falls_back_to_the_file_name() {
    let site = build_invalid();
    let warnings = site.warnings_for("agency-one/no-title.md");
    assert!(
        warnings
            .iter()
            .any(|w| w.contains("no title") && w.contains("no-title")),
        "{warnings:?}"
    );
    let url = page_of(&site, "agency-one/no-title.md");
    assert!(
        site.html(&format!("{url}index.html"))
            .contains("<title>no-title")
    );
}

#[test]
fn unparsable_date_is_ignored_with_a_warning() {
    let site = build_invalid();
    let warnings = site.warnings_for("agency-one/bad-date.md");
    assert!(
        warnings.iter().any(|w| w.contains("Smarch")),
        "{warnings:?}"
    );
    page_of(&site, "agency-one/bad-date.md");
}

#[test]
fn non_utf8_text_is_decoded_with_a_warning() {
    let site = build_invalid();
    let warnings = site.warnings_for("agency-one/latin1.md");
    assert!(
        warnings.iter().any(|w| w.contains("windows-1252")),
        "{warnings:?}"
    );
    let url = page_of(&site, "agency-one/latin1.md");
    assert!(
        site.html(&format!("{url}index.html"))
            .contains("Café meeting notes")
    );
}

#[test]
fn empty_file_still_gets_a_page() {
    let site = build_invalid();
    assert!(
        site.warnings_for("agency-one/empty.md")
            .iter()
            .any(|w| w.contains("empty"))
    );
    let url = page_of(&site, "agency-one/empty.md");
    assert!(site.has(&format!("{url}index.html")));
}

#[test]
fn file_names_with_spaces_and_unicode_get_clean_urls() {
    let site = build_invalid();
    let url = page_of(&site, "agency-one/Rapport d’incident n° 7.md");
    assert_eq!(url, "agency-one/rapport-d-incident-ndeg-7/");
}

#[test]
fn clashing_urls_are_deduplicated_with_a_warning() {
    let site = build_invalid();
    let first = page_of(&site, "agency-one/first.md");
    let second = page_of(&site, "agency-one/sub/second.md");
    assert_eq!(first, "agency-one/same-url/");
    assert_eq!(second, "agency-one/same-url-2/");
    assert!(
        site.warnings_for("agency-one/sub/second.md")
            .iter()
            .any(|w| w.contains("same-url-2"))
    );
    // A slug the listings need is not given to a document.
    assert_eq!(
        page_of(&site, "agency-one/reserved.md"),
        "agency-one/page-doc/"
    );
}

#[test]
fn unclosed_front_matter_is_shown_as_text() {
    let site = build_invalid();
    assert!(
        site.warnings_for("agency-one/unclosed.md")
            .iter()
            .any(|w| w.contains("never closed"))
    );
}

#[test]
fn hidden_stray_and_metadata_files_have_their_fates() {
    let site = build_invalid();
    assert_eq!(
        site.report.fate("agency-one/.DS_Store"),
        Some(&Fate::Skipped {
            reason: "hidden file".into()
        })
    );
    assert!(site.report.skipped_folders.contains_key(".hidden-folder"));
    assert!(matches!(
        site.report.fate("stray.md"),
        Some(Fate::Skipped { .. })
    ));
    assert!(!site.warnings_for("stray.md").is_empty());
    assert!(matches!(
        site.report.fate("agency-one/_agency.yaml"),
        Some(Fate::Metadata { .. })
    ));
    // An invalid agency description is reported; the agency is still built, named by its folder.
    assert!(
        site.warnings_for("agency-two/_agency.yaml")
            .iter()
            .any(|w| w.contains("ignored"))
    );
    assert!(site.html("agency-two/index.html").contains("Agency Two"));
}

#[test]
fn hostile_markdown_is_sanitized() {
    let site = build_invalid();
    let url = page_of(&site, "agency-one/hostile.md");
    let html = site.html(&format!("{url}index.html"));
    assert!(!html.contains("alert("), "{html}");
    assert!(
        !html.contains("tracker.example/p.gif\""),
        "remote image must not load"
    );
    assert!(
        html.contains("tracker.example"),
        "placeholder names the host"
    );
}

#[cfg(unix)]
#[test]
fn symlink_out_of_content_is_not_followed() {
    let archive = copy_archive(&fixture("invalid"));
    let outside = archive.path().join("outside-secret.md");
    std::fs::write(&outside, "---\ntitle: Outside\n---\nTOP SECRET OUTSIDE").unwrap();
    std::os::unix::fs::symlink(&outside, archive.path().join("content/agency-one/link.md"))
        .unwrap();
    let site = build_memory(archive.path(), false, None);
    assert!(
        matches!(site.report.fate("agency-one/link.md"), Some(Fate::Skipped { reason }) if reason.contains("outside"))
    );
    assert!(!site.warnings_for("agency-one/link.md").is_empty());
    for bytes in site.files.values() {
        assert!(!String::from_utf8_lossy(bytes).contains("TOP SECRET OUTSIDE"));
    }
}

#[test]
fn other_documents_survive_the_bad_ones() {
    let site = build_invalid();
    let url = page_of(&site, "agency-two/doc.md");
    assert!(
        site.html(&format!("{url}index.html"))
            .contains("Agency two document")
    );
    // Every document of the fixture has a page.
    let pages = site
        .report
        .files
        .values()
        .filter(|f| matches!(f, Fate::Page { .. }))
        .count();
    assert_eq!(pages, site.report.summary.documents);
    assert_eq!(pages, 12);
}
