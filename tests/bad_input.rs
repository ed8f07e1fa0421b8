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

// ------------------------------------------------------------------ runaway PDFs
// See: issue #3 ("bound the work per file"). pdf-extract has no limits of its own: a form
// XObject that draws itself recurses until the stack overflows (which aborts the process, so
// no thread or catch_unwind can contain it), and forms that each draw the next one twice take
// 2^depth steps. Both files are a few hundred bytes.

/// A minimal PDF from its objects (numbered from 1; object 1 is the catalog).
fn pdf_from_objects(objects: &[Vec<u8>]) -> Vec<u8> {
    let mut out = b"%PDF-1.4\n".to_vec();
    let mut offsets = Vec::new();
    for (n, object) in objects.iter().enumerate() {
        offsets.push(out.len());
        out.extend_from_slice(format!("{} 0 obj\n", n + 1).as_bytes());
        out.extend_from_slice(object);
        out.extend_from_slice(b"\nendobj\n");
    }
    let xref = out.len();
    out.extend_from_slice(
        format!("xref\n0 {}\n0000000000 65535 f \n", objects.len() + 1).as_bytes(),
    );
    for offset in offsets {
        out.extend_from_slice(format!("{offset:010} 00000 n \n").as_bytes());
    }
    out.extend_from_slice(
        format!(
            "trailer\n<< /Size {} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n",
            objects.len() + 1
        )
        .as_bytes(),
    );
    out
}

fn pdf_stream(dict: &str, content: &str) -> Vec<u8> {
    format!(
        "<< {dict} /Length {} >>\nstream\n{content}\nendstream",
        content.len()
    )
    .into_bytes()
}

/// One page that draws form 5, whose content is made by `forms` (objects 5, 6, …).
fn pdf_with_forms(forms: Vec<Vec<u8>>) -> Vec<u8> {
    let mut objects = vec![
        b"<< /Type /Catalog /Pages 2 0 R >>".to_vec(),
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>".to_vec(),
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Resources << /XObject << /X 5 0 R >> >> /Contents 4 0 R >>".to_vec(),
        pdf_stream("", "/X Do"),
    ];
    objects.extend(forms);
    pdf_from_objects(&objects)
}

/// A form that draws itself: endless recursion.
fn form_loop_pdf() -> Vec<u8> {
    pdf_with_forms(vec![pdf_stream(
        "/Type /XObject /Subtype /Form /BBox [0 0 10 10] /Resources << /XObject << /X 5 0 R >> >>",
        "/X Do",
    )])
}

/// Forty forms, each drawing the next twice: 2^40 draws, no loop.
fn form_fanout_pdf() -> Vec<u8> {
    const DEPTH: usize = 40;
    let forms = (0..DEPTH)
        .map(|level| {
            if level + 1 < DEPTH {
                pdf_stream(
                    &format!(
                        "/Type /XObject /Subtype /Form /BBox [0 0 10 10] /Resources << /XObject << /X {} 0 R >> >>",
                        6 + level
                    ),
                    "/X Do /X Do",
                )
            } else {
                pdf_stream("/Type /XObject /Subtype /Form /BBox [0 0 10 10]", "BT ET")
            }
        })
        .collect();
    pdf_with_forms(forms)
}

#[test]
fn runaway_pdfs_are_stopped_and_still_get_their_page() {
    // The build reads PDFs in child processes of the real binary, as the CLI does, with a short
    // deadline so the test is quick.
    let timeout = std::time::Duration::from_secs(3);
    leakpress::extract::isolate_pdfs(env!("CARGO_BIN_EXE_leakpress").into(), timeout);
    let archive = copy_archive(&fixture("invalid"));
    let docs = archive.path().join("content/agency-two");
    std::fs::write(docs.join("form-loop.pdf"), form_loop_pdf()).unwrap();
    std::fs::write(docs.join("form-fanout.pdf"), form_fanout_pdf()).unwrap();
    let started = std::time::Instant::now();
    let site = build_memory(archive.path(), false, None);
    let took = started.elapsed();
    // Both PDFs run at once or one after the other; either way far less than 2^40 steps.
    assert!(
        took < timeout * 2 + std::time::Duration::from_secs(20),
        "took {took:?}"
    );
    for (rel, why) in [
        ("agency-two/form-loop.pdf", "the PDF reader crashed"),
        ("agency-two/form-fanout.pdf", "gave up after 3 s"),
    ] {
        let warnings = site.warnings_for(rel);
        assert!(
            warnings
                .iter()
                .any(|w| w.contains("no text layer") && w.contains(why)),
            "{rel}: {warnings:?}"
        );
        let url = page_of(&site, rel);
        let html = site.html(&format!("{url}index.html"));
        assert!(html.contains("no-text-layer"), "{rel}: {html}");
        assert!(html.contains("Text layer"), "{rel}: no fact");
    }
    // The rest of the archive is unharmed.
    page_of(&site, "agency-two/doc.md");
}

#[test]
fn the_cli_survives_a_pdf_that_overflows_the_reader_stack() {
    // Without a separate process this PDF aborts the whole build (a stack overflow).
    let archive = copy_archive(&fixture("invalid"));
    std::fs::write(
        archive.path().join("content/agency-two/form-loop.pdf"),
        form_loop_pdf(),
    )
    .unwrap();
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_leakpress"))
        .args(["build", "--root"])
        .arg(archive.path())
        .output()
        .expect("run leakpress");
    let printed = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(output.status.success(), "{}: {printed}", output.status);
    assert!(
        printed.contains("form-loop.pdf: no text layer: the PDF reader crashed"),
        "{printed}"
    );
    assert!(
        archive
            .path()
            .join("public/agency-two/form-loop-pdf/index.html")
            .is_file()
    );
}

#[test]
fn a_template_error_on_one_page_is_that_documents_warning() {
    let archive = copy_archive(&sample_root());
    let template = archive
        .path()
        .join("themes/default/templates/document.html");
    let text = std::fs::read_to_string(&template).unwrap();
    // A variable that does not exist, read only on one document's page.
    let broken = text.replacen(
        "{% block content %}",
        "{% block content %}{% if doc.title == \"Security Advisory for Nightlife Venues\" %}{{ doc.no_such_field.inner }}{% endif %}",
        1,
    );
    assert_ne!(broken, text);
    std::fs::write(&template, broken).unwrap();
    let site = build_memory(archive.path(), false, None);

    let rel = "coastal-joint-terrorism/2016-06-nightclub-security-advisory.md";
    let url = page_of(&site, rel);
    let page = format!("{}index.html", url.trim_start_matches('/'));
    assert!(!site.has(&page), "{page} written despite its error");
    let warnings = site.warnings_for(rel);
    assert!(
        warnings
            .iter()
            .any(|w| w.starts_with("page not written: ") && w.contains("no_such_field")),
        "{warnings:?}"
    );
    // Only the page is lost: its body was read, so its search entry stands.
    assert!(
        !warnings.iter().any(|w| w.contains("search index")),
        "{warnings:?}"
    );
    let other = page_of(
        &site,
        "coastal-joint-terrorism/2017-01-inauguration-posture.md",
    );
    assert!(site.has(&format!("{}index.html", other.trim_start_matches('/'))));
    assert!(
        site.warnings_for("coastal-joint-terrorism/2017-01-inauguration-posture.md")
            .is_empty()
    );
}
