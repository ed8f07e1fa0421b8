//! Every file in a leak becomes a page, and hostile input stays harmless.
//! See: issue #3 (formats: html, email, pdf, docx, image, other).
//!
//! The per-format checks run on the bundled sample archive (`content/`, whose binary samples
//! `tests/fixtures/formats/make_samples.py` writes). The hostile checks run on
//! `tests/fixtures/hostile/`, plus binary files made here in a temporary copy (a truncated
//! PDF, a zip bomb in a DOCX, an image header claiming 100000×100000 pixels, a sparse file
//! over the extraction cap, …), so the committed fixture stays tiny.

mod common;

use std::io::Write;
use std::sync::OnceLock;

use common::*;
use leakpress::Fate;

fn sample() -> &'static Site {
    static SITE: OnceLock<Site> = OnceLock::new();
    SITE.get_or_init(|| build_memory(&sample_root(), false, None))
}

fn hostile() -> &'static Site {
    static SITE: OnceLock<Site> = OnceLock::new();
    SITE.get_or_init(|| {
        let temp = copy_archive(&fixture("hostile"));
        add_generated_hostile_files(&temp.path().join("content/hostile-agency"));
        let site = build_memory(temp.path(), false, None);
        // The temp folder may go: the site is in memory.
        site
    })
}

/// (url, kind) of the page made from `rel`.
fn page_of(site: &Site, rel: &str) -> (String, String) {
    match site.report.fate(rel) {
        Some(Fate::Page { url, kind }) => (url.clone(), kind.clone()),
        other => panic!("{rel}: expected a page, got {other:?}"),
    }
}

fn page_html(site: &Site, rel: &str) -> String {
    let (url, _) = page_of(site, rel);
    site.html(&format!("{url}index.html"))
}

fn has_warning(site: &Site, rel: &str, needle: &str) -> bool {
    let warnings = site.warnings_for(rel);
    let found = warnings.iter().any(|w| w.contains(needle));
    if !found {
        eprintln!("{rel}: no warning containing {needle:?} in {warnings:?}");
    }
    found
}

// ------------------------------------------------------------------ per format, sample archive

#[test]
fn pdf_text_page_count_and_title() {
    let site = sample();
    let rel = "north-valley-hidta/reports/2019-annual-threat-assessment.pdf";
    let (url, kind) = page_of(site, rel);
    assert_eq!(kind, "pdf");
    let html = site.html(&format!("{url}index.html"));
    assert!(
        html.contains("Methamphetamine remains the primary drug threat"),
        "{html}"
    );
    assert!(html.contains("2019 Annual Threat Assessment"));
    // Its document information's creation date, 09:15 at UTC-7.
    assert!(html.contains("14 March 2019, 16:15"), "{html}");
    assert!(html.contains("2019-03-14T16:15:00Z"), "{html}");
    assert!(
        html.contains(">Pages<") && html.contains(">2<"),
        "page count fact"
    );
    assert!(site.has(&format!("{url}2019-annual-threat-assessment.pdf")));
    // The browser's own viewer shows the original.
    assert!(html.contains("pdf-viewer"), "no PDF viewer frame");
}

#[test]
fn pdf_without_text_layer_still_gets_its_page() {
    let site = sample();
    let rel = "tri-county-task-force/intel/2020-scanned-field-interview-card.pdf";
    let html = page_html(site, rel);
    assert!(has_warning(site, rel, "no text layer"));
    assert!(html.contains("Text layer"), "fact missing");
}

#[test]
fn sidecar_metadata_overrides_what_the_pdf_says() {
    let site = hostile();
    let rel = "hostile-agency/docs/report.pdf";
    let html = page_html(site, rel);
    assert!(html.contains("Title from the sidecar"), "{html}");
    assert!(!html.contains("<title>Title inside the PDF"));
    assert!(html.contains("2019-04-01"));
    // The PDF's own creation date (2015-01-01) gives way to the sidecar's too.
    assert!(!html.contains("2015"), "{html}");
    assert!(html.contains("FOIA release 12"));
    assert!(html.contains("Sidecar report text"));
    assert!(site.has("tags/sidecar/index.html"));
    assert_eq!(
        site.report
            .fate("hostile-agency/docs/report.pdf.yaml")
            .map(|_| ()),
        Some(())
    );
}

#[test]
fn docx_paragraphs_headings_tables_and_core_properties() {
    let site = sample();
    let rel = "state-intelligence-bureau/meetings/2020-02-11-briefing-agenda.docx";
    let (url, kind) = page_of(site, rel);
    assert_eq!(kind, "docx");
    let html = site.html(&format!("{url}index.html"));
    assert!(
        html.contains("Regional Briefing Agenda, 11 February 2020"),
        "title from core.xml"
    );
    assert!(html.contains("2020-02-11"), "date from core.xml");
    assert!(
        html.contains("<table class=docx-table>") || html.contains("<table class=\"docx-table\">")
    );
    assert!(html.contains("Gang database audit findings"));
    // Text that looks like markup is text.
    assert!(
        html.contains("&lt;tabletop>") || html.contains("&lt;tabletop&gt;"),
        "{html}"
    );
}

#[test]
fn images_get_oriented_previews_without_exif_and_a_gps_fact() {
    let site = sample();
    let rel = "port-city-police/press/2020-06-01-checkpoint-photo.jpg";
    let (url, kind) = page_of(site, rel);
    assert_eq!(kind, "image");
    let html = site.html(&format!("{url}index.html"));
    // 640×400 with EXIF orientation 6 (rotate 90°) is shown upright: 400×640.
    assert!(html.contains("400 × 640 pixels"), "{html}");
    assert!(html.contains("EXIF GPS") && html.contains("present"));
    assert!(has_warning(site, rel, "GPS"));
    for name in ["preview.small.jpg", "preview.medium.jpg"] {
        let bytes = &site.files[&format!("{url}{name}")];
        assert_eq!(&bytes[..2], b"\xff\xd8", "{name} is a JPEG");
        assert!(
            !bytes.windows(6).any(|w| w == b"Exif\0\0"),
            "{name} carries EXIF"
        );
    }
    // The preview links the original.
    assert!(
        html.contains("2020-06-01-checkpoint-photo.jpg\"><img")
            || html.contains("2020-06-01-checkpoint-photo.jpg><img")
    );
    // Transparent images keep their alpha: PNG previews.
    let (png_url, _) = page_of(site, "metro-transit-police/bulletins/station-map.png");
    assert!(site.has(&format!("{png_url}preview.medium.png")));
}

#[test]
fn email_headers_body_attachments_and_inline_images() {
    let site = sample();
    let rel = "riverside-fusion-center/email/2020-06-01-sitrep.eml";
    let (url, kind) = page_of(site, rel);
    assert_eq!(kind, "email");
    let html = site.html(&format!("{url}index.html"));
    assert!(html.contains("<title>SITREP: downtown demonstrations, 1 June"));
    assert!(html.contains("2020-06-01"), "date from the Date header");
    assert!(html.contains("email-headers") && html.contains("analyst@rrfc.example.org"));
    assert!(html.contains("situation report"));
    // The tracking pixel is blocked, the cid: logo points at its published preview.
    assert!(html.contains("tracker.example.com not loaded"));
    assert!(
        html.contains("src=att-1.preview.medium.jpg")
            || html.contains("src=\"att-1.preview.medium.jpg\""),
        "{html}"
    );
    for name in [
        "att-1.logo.png",
        "att-1.preview.small.jpg",
        "att-2.sitrep-2020-06-01.pdf",
    ] {
        assert!(site.has(&format!("{url}{name}")), "{name} not published");
    }
    // A plain-text reply is escaped, preformatted text.
    let reply = page_html(
        site,
        "riverside-fusion-center/email/2020-06-01-re-sitrep.eml",
    );
    assert!(
        reply.contains("> Attached is the noon situation report.")
            || reply.contains("&gt; Attached is the noon situation report.")
    );
    assert!(!reply.contains("<blockquote"));
    // A mailbox shows every message.
    let mbox = page_html(site, "tri-county-task-force/intel/tip-line.mbox");
    assert!(mbox.contains("white van") && mbox.contains("plate partially read"));
}

#[test]
fn replies_are_grouped_into_a_thread_linking_each_message() {
    let site = sample();
    let first = "riverside-fusion-center/email/2020-06-01-sitrep.eml";
    let reply = "riverside-fusion-center/email/2020-06-01-re-sitrep.eml";
    let (first_url, _) = page_of(site, first);
    let (reply_url, _) = page_of(site, reply);
    let html = site.html(&format!("{first_url}index.html"));
    let thread = html.split("mail-thread").nth(1).expect("a thread list");
    assert!(thread.contains("Re: SITREP"), "{thread}");
    let link = format!("../../{reply_url}");
    assert!(thread.contains(&link), "{thread}");
    let html = site.html(&format!("{reply_url}index.html"));
    assert!(html.contains("mail-thread") && html.contains(&format!("../../{first_url}")));
    // A message in no thread has no thread list.
    let alone = page_html(site, "tri-county-task-force/intel/tip-line.mbox");
    assert!(!alone.contains("mail-thread"));
}

/// See: issue #3 (threads by Message-ID / In-Reply-To / References, `.mbox` split into
/// messages). A mailbox is one document; its replies link the messages they answer on its
/// page, and it joins the threads of the `.eml` files that answer (or are answered by) any of
/// its messages.
#[test]
fn mailbox_messages_take_part_in_threads() {
    let temp = tempfile::tempdir().unwrap();
    std::fs::write(temp.path().join("leakpress.yaml"), "title: Threads\n").unwrap();
    let mail = temp.path().join("content/unit/mail");
    std::fs::create_dir_all(&mail).unwrap();
    let message = |from_line: bool, id: &str, subject: &str, date: &str, answers: &[&str]| {
        let mut text = String::new();
        if from_line {
            text.push_str("From watch@unit.example Mon Jun  1 09:00:00 2020\n");
        }
        text.push_str(&format!(
            "From: Watch <watch@unit.example>\nTo: desk@unit.example\nDate: {date}\n\
             Subject: {subject}\nMessage-ID: <{id}>\n"
        ));
        if let Some(first) = answers.first() {
            text.push_str(&format!("In-Reply-To: <{first}>\n"));
            let refs: Vec<String> = answers.iter().rev().map(|a| format!("<{a}>")).collect();
            text.push_str(&format!("References: {}\n", refs.join(" ")));
        }
        text.push_str(&format!("\nBody of {subject}.\n\n"));
        text
    };
    let mbox = [
        message(
            true,
            "root@unit.example",
            "Bridge closure",
            "Mon, 01 Jun 2020 09:00:00 +0000",
            &[],
        ),
        message(
            true,
            "other@unit.example",
            "Parking permits",
            "Mon, 01 Jun 2020 09:30:00 +0000",
            &[],
        ),
        message(
            true,
            "re1@unit.example",
            "Re: Bridge closure",
            "Mon, 01 Jun 2020 10:00:00 +0000",
            &["root@unit.example"],
        ),
    ]
    .concat();
    std::fs::write(mail.join("desk.mbox"), mbox).unwrap();
    // Answers the mailbox's reply, quoting the whole chain in References.
    std::fs::write(
        mail.join("re-re.eml"),
        message(
            false,
            "re2@unit.example",
            "Re: Re: Bridge closure",
            "Mon, 01 Jun 2020 11:00:00 +0000",
            &["re1@unit.example", "root@unit.example"],
        ),
    )
    .unwrap();
    std::fs::write(
        mail.join("alone.eml"),
        message(
            false,
            "alone@unit.example",
            "Unrelated",
            "Mon, 01 Jun 2020 12:00:00 +0000",
            &[],
        ),
    )
    .unwrap();
    let site = build_memory(temp.path(), false, None);

    let (mbox_url, kind) = page_of(&site, "unit/mail/desk.mbox");
    assert_eq!(kind, "email");
    let (reply_url, _) = page_of(&site, "unit/mail/re-re.eml");
    let mbox_html = site.html(&format!("{mbox_url}index.html"));
    // Inside the mailbox: the reply (message 3) links the message it answers (message 1), and
    // the thread is listed; the unrelated message 2 answers nothing.
    let third = mbox_html
        .split("id=message-3")
        .nth(1)
        .or_else(|| mbox_html.split("id=\"message-3\"").nth(1))
        .expect("message 3 has its section");
    let third = third.split("</article>").next().unwrap();
    assert!(
        third.contains("In reply to") && third.contains("#message-1"),
        "{third}"
    );
    let second = mbox_html
        .split("message-2")
        .nth(1)
        .unwrap()
        .split("</article>")
        .next()
        .unwrap();
    assert!(!second.contains("In reply to"), "{second}");
    assert!(mbox_html.contains("Threads in this mailbox"), "{mbox_html}");
    // Across documents: the .eml reply and the mailbox are one thread, each linking the other.
    let thread = mbox_html
        .split("mail-thread")
        .nth(1)
        .expect("a thread list on the mailbox");
    assert!(thread.contains(&format!("../../{reply_url}")), "{thread}");
    let reply_html = site.html(&format!("{reply_url}index.html"));
    let thread = reply_html
        .split("mail-thread")
        .nth(1)
        .expect("a thread list on the reply");
    assert!(thread.contains(&format!("../../{mbox_url}")), "{thread}");
    // A message that shares no id with the others stays alone.
    let (alone_url, _) = page_of(&site, "unit/mail/alone.eml");
    assert!(
        !site
            .html(&format!("{alone_url}index.html"))
            .contains("mail-thread")
    );
}

#[test]
fn html_pages_are_sanitized_inline_with_their_title() {
    let site = sample();
    let rel = "riverside-fusion-center/web/partner-portal-notice.html";
    let (url, kind) = page_of(site, rel);
    assert_eq!(kind, "html");
    let html = site.html(&format!("{url}index.html"));
    assert!(
        html.contains("<title>Partner Portal – Maintenance Notice"),
        "{html}"
    );
    assert!(html.contains("Saturday, 6 June 2020"));
    assert!(!html.contains("portal.js") && !html.contains("portal.css"));
    // The original is published as source text, never as a page a browser would run.
    assert!(site.has(&format!("{url}partner-portal-notice.html.txt")));
}

#[test]
fn audio_gets_a_player_and_svg_is_a_download_only() {
    let site = sample();
    let (url, kind) = page_of(
        site,
        "riverside-fusion-center/audio/2020-06-02-dispatch-clip.wav",
    );
    assert_eq!(kind, "file");
    let html = site.html(&format!("{url}index.html"));
    let player = html.split("<audio").nth(1).expect("an audio player");
    let src = player.split("src=").nth(1).unwrap().trim_start_matches('"');
    let src = &src[..src.find(['"', '>', ' ']).unwrap()];
    assert!(
        site.has(&resolve(&format!("{url}index.html"), src)),
        "player src {src} resolves"
    );

    let rel = "coastal-joint-terrorism/assessments/port-diagram.svg";
    let (url, _) = page_of(site, rel);
    let html = site.html(&format!("{url}index.html"));
    assert!(!html.contains("<svg"), "SVG shown inline");
    // Nothing links to or loads the SVG itself, only its text copy.
    let svg_links: Vec<_> = common::links_in(&html)
        .into_iter()
        .filter(|link| link.ends_with("port-diagram.svg"))
        .collect();
    assert!(svg_links.is_empty(), "SVG linked: {svg_links:?}");
    assert!(site.has(&format!("{url}port-diagram.svg.txt")));
    assert!(has_warning(site, rel, "script"));
}

#[test]
fn every_sample_file_of_every_format_has_a_page() {
    let site = sample();
    let by_kind = &site.report.summary.documents_by_kind;
    for kind in ["pdf", "docx", "image", "email", "html", "text", "file"] {
        assert!(
            by_kind.get(kind).copied().unwrap_or(0) >= 2,
            "fewer than 2 {kind} samples: {by_kind:?}"
        );
    }
    assert_no_active_content(site);
}

// ------------------------------------------------------------------ hostile input

/// Writes the binary hostile files into the temporary copy of the fixture.
fn add_generated_hostile_files(dir: &std::path::Path) {
    let docs = dir.join("docs");
    let images = dir.join("images");
    let pdf = std::fs::read(docs.join("report.pdf")).unwrap();
    std::fs::write(docs.join("truncated.pdf"), &pdf[..pdf.len() / 2]).unwrap();
    std::fs::write(
        docs.join("garbage.pdf"),
        b"%PDF-1.7\n\x00\x01\x02 not really a pdf",
    )
    .unwrap();
    std::fs::write(
        docs.join("not-a-zip.docx"),
        b"this is not a zip file at all",
    )
    .unwrap();
    std::fs::write(docs.join("bomb.docx"), zip_bomb_docx()).unwrap();
    std::fs::write(images.join("huge.png"), huge_png_header(100_000, 100_000)).unwrap();
    std::fs::write(
        images.join("truncated.jpg"),
        b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01",
    )
    .unwrap();
    // A file over the extraction cap, without writing 64 MiB: a sparse file.
    let huge = std::fs::File::create(docs.join("huge.pdf")).unwrap();
    huge.set_len(leakpress::extract::MAX_EXTRACT_BYTES + 1)
        .unwrap();
}

/// A DOCX whose document.xml inflates to 60 MiB (the cap is 50 MiB) from about 60 KB.
fn zip_bomb_docx() -> Vec<u8> {
    let mut out = std::io::Cursor::new(Vec::new());
    {
        let mut zip = zip::ZipWriter::new(&mut out);
        let options = zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Deflated);
        zip.start_file("word/document.xml", options).unwrap();
        zip.write_all(b"<w:document xmlns:w=\"w\"><w:body><w:p><w:r><w:t>Bomb text</w:t></w:r></w:p><w:p><w:r><w:t>")
            .unwrap();
        let chunk = vec![b'A'; 1 << 20];
        for _ in 0..60 {
            zip.write_all(&chunk).unwrap();
        }
        zip.finish().unwrap();
    }
    out.into_inner()
}

fn huge_png_header(w: u32, h: u32) -> Vec<u8> {
    fn crc32(data: &[u8]) -> u32 {
        let mut crc = 0xFFFF_FFFFu32;
        for &b in data {
            crc ^= u32::from(b);
            for _ in 0..8 {
                crc = if crc & 1 != 0 {
                    (crc >> 1) ^ 0xEDB8_8320
                } else {
                    crc >> 1
                };
            }
        }
        !crc
    }
    let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
    let mut chunk = |name: &[u8], data: &[u8]| {
        let mut body = name.to_vec();
        body.extend_from_slice(data);
        png.extend_from_slice(&(data.len() as u32).to_be_bytes());
        png.extend_from_slice(&body);
        png.extend_from_slice(&crc32(&body).to_be_bytes());
    };
    let mut ihdr = w.to_be_bytes().to_vec();
    ihdr.extend_from_slice(&h.to_be_bytes());
    ihdr.extend_from_slice(&[8, 6, 0, 0, 0]);
    chunk(b"IHDR", &ihdr);
    chunk(b"IDAT", &[0x78, 0x9c, 0x03, 0x00, 0x00, 0x00, 0x00, 0x01]);
    chunk(b"IEND", &[]);
    png
}

#[test]
fn every_hostile_file_gets_a_page_and_a_clear_warning() {
    let site = hostile();
    let expectations: &[(&str, &str, &str)] = &[
        ("hostile-agency/docs/truncated.pdf", "pdf", "no text layer"),
        ("hostile-agency/docs/garbage.pdf", "pdf", "no text layer"),
        ("hostile-agency/docs/encrypted.pdf", "pdf", "encrypted"),
        (
            "hostile-agency/docs/not-a-zip.docx",
            "file",
            "docx extraction failed",
        ),
        ("hostile-agency/docs/bomb.docx", "docx", "zip bomb"),
        ("hostile-agency/docs/huge.pdf", "file", "larger than 64 MiB"),
        ("hostile-agency/images/huge.png", "image", "100000 × 100000"),
        (
            "hostile-agency/images/truncated.jpg",
            "image",
            "image not shown",
        ),
        ("hostile-agency/images/evil.svg", "file", "can run script"),
        (
            "hostile-agency/mail/broken-boundary.eml",
            "email",
            "never appears",
        ),
        (
            "hostile-agency/mail/truncated.eml",
            "email",
            "closing boundary missing",
        ),
        (
            "hostile-agency/mail/truncated.eml",
            "email",
            "Date header is not a date",
        ),
        ("hostile-agency/mail/hostile.eml", "email", "remote image"),
        ("hostile-agency/web/evil.html", "html", "remote image"),
        (
            "hostile-agency/mail/html-truncated.eml",
            "email",
            "closing boundary missing",
        ),
        (
            "hostile-agency/mail/html-truncated.eml",
            "email",
            "2 remote image(s)",
        ),
        (
            "hostile-agency/mail/html-no-boundary.eml",
            "email",
            "never appears",
        ),
        (
            "hostile-agency/notes/raw-html.md",
            "markdown",
            "remote image",
        ),
    ];
    let mut failures = Vec::new();
    for (rel, kind, warning) in expectations {
        let (url, got_kind) = page_of(site, rel);
        if got_kind != *kind {
            failures.push(format!("{rel}: kind {got_kind}, expected {kind}"));
        }
        if !site.has(&format!("{url}index.html")) {
            failures.push(format!("{rel}: no page"));
        }
        if !has_warning(site, rel, warning) {
            failures.push(format!(
                "{rel}: no warning with {warning:?}: {:?}",
                site.warnings_for(rel)
            ));
        }
    }
    assert!(failures.is_empty(), "{failures:#?}");
    // The bomb's text before the cap is still there.
    assert!(page_html(site, "hostile-agency/docs/bomb.docx").contains("Bomb text"));
    // A broken boundary still shows the body.
    assert!(page_html(site, "hostile-agency/mail/broken-boundary.eml").contains("body survives"));
    // So does a truncated HTML mail, sanitized, its tracking pixels replaced by placeholders;
    // an HTML mail whose parts cannot be found is shown as text, its markup escaped.
    let tracked = page_html(site, "hostile-agency/mail/html-truncated.eml");
    assert!(tracked.contains("Tracked body text") && tracked.contains("blocked-remote"));
    let raw = page_html(site, "hostile-agency/mail/html-no-boundary.eml");
    assert!(raw.contains("Raw HTML shown as text") && raw.contains("&lt;script"));
    let notes = page_html(site, "hostile-agency/notes/raw-html.md");
    assert!(notes.contains("Text that must survive") && notes.contains("blocked-remote"));
}

#[test]
fn hostile_markup_is_inert_everywhere() {
    let site = hostile();
    assert_no_active_content(site);
    let html = page_html(site, "hostile-agency/web/evil.html");
    assert!(html.contains("Visible text survives"));
    assert!(
        html.contains("<title>Evil &amp; hostile page")
            || html.contains("<title>Evil & hostile page"),
        "title from <title>"
    );
    for needle in [
        "evil.example",
        "tracker.example/pixel",
        "leakpress:original",
        "alert(",
    ] {
        assert!(
            !html.contains(needle),
            "{needle} survived in evil.html's page"
        );
    }
    let mail = page_html(site, "hostile-agency/mail/hostile.eml");
    assert!(
        mail.contains("Hostile mail &lt;script>") || mail.contains("Hostile mail &lt;script&gt;")
    );
    assert!(mail.contains("Click here"));
    // The subject's `<script>` is text (escaped); the body's script and links are gone.
    for needle in ["alert(2)", "alert(3)", "onclick", "javascript:"] {
        assert!(!mail.contains(needle), "{needle} survived in {mail}");
    }
    assert!(!mail.contains("cid:"), "unresolved cid left in {mail}");
    // Attachments a browser would run are published as text, with safe names.
    let (url, _) = page_of(site, "hostile-agency/mail/hostile.eml");
    assert!(
        site.has(&format!("{url}att-2.evil.html.txt")),
        "{:?}",
        site.files
            .keys()
            .filter(|k| k.starts_with(&url))
            .collect::<Vec<_>>()
    );
    assert!(site.has(&format!("{url}att-3.evil.svg.txt")));
    // Text files show markup as text.
    let notes = page_html(site, "hostile-agency/docs/notes.txt");
    assert!(notes.contains("&lt;script>") || notes.contains("&lt;script&gt;"));
}

/// No page from leaked input carries script, event handlers, `javascript:`/`data:` links,
/// frames other than our PDF viewer, `<base>`, meta refresh or remote resources; and no file
/// a browser would run (HTML other than our pages, SVG) is published.
fn assert_no_active_content(site: &Site) {
    let mut problems = Vec::new();
    for (path, bytes) in &site.files {
        let is_page = path.ends_with("/index.html") || path == "index.html" || path == "404.html";
        if !is_page {
            for ext in [".html", ".htm", ".svg", ".xhtml", ".xml", ".js"] {
                // The theme's own assets (scripts, the SVG favicon) are not leaked input.
                let ours = path.starts_with("assets/")
                    || (ext == ".js" && path.starts_with("search/"))
                    || (ext == ".xml"
                        && (path.ends_with("feed.xml") || path.starts_with("sitemap")));
                if path.ends_with(ext) && !ours {
                    problems.push(format!("{path}: active file published"));
                }
            }
            continue;
        }
        let html = String::from_utf8_lossy(bytes);
        let found = std::cell::RefCell::new(Vec::new());
        lol_html::rewrite_str(
            &html,
            lol_html::RewriteStrSettings::new().append_element_content_handler(lol_html::element!(
                "*",
                |el| {
                    let tag = el.tag_name().to_ascii_lowercase();
                    let problem =
                        |what: String| found.borrow_mut().push(format!("{path}: <{tag}> {what}"));
                    for attr in el.attributes() {
                        let name = attr.name().to_ascii_lowercase();
                        let value = attr.value();
                        let lower = value.trim().to_ascii_lowercase();
                        if name.starts_with("on") {
                            problem(format!("event handler {name}"));
                        }
                        if lower.starts_with("javascript:") || lower.starts_with("vbscript:") {
                            problem(format!("{name}={value}"));
                        }
                        if matches!(
                            name.as_str(),
                            "href" | "src" | "action" | "data" | "poster" | "xlink:href"
                        ) && (lower.starts_with("data:") && tag != "img"
                            || ((tag != "a")
                                && (lower.starts_with("http:")
                                    || lower.starts_with("https:")
                                    || lower.starts_with("//"))))
                        {
                            problem(format!("{name}={value}"));
                        }
                        if lower.contains("leakpress:original") {
                            problem(format!("unreplaced placeholder in {name}"));
                        }
                    }
                    match tag.as_str() {
                        "script" => {
                            let src = el.get_attribute("src").unwrap_or_default();
                            if !(src.contains("assets/") || src.contains("search/")) {
                                problem(format!("script src={src:?}"));
                            }
                        }
                        "iframe" if el.get_attribute("class").as_deref() != Some("pdf-viewer") => {
                            problem("frame".into());
                        }
                        "base" | "object" | "embed" | "frame" | "frameset" | "applet" => {
                            problem("element".into())
                        }
                        // The theme's search box is the only form: it goes to our search page.
                        "form" => {
                            let action = el.get_attribute("action").unwrap_or_default();
                            if !action.contains("search/") || action.contains(':') {
                                problem(format!("form action={action:?}"));
                            }
                        }
                        "meta"
                            if el
                                .get_attribute("http-equiv")
                                .is_some_and(|v| v.eq_ignore_ascii_case("refresh")) =>
                        {
                            problem("refresh".into());
                        }
                        _ => {}
                    }
                    Ok(())
                }
            )),
        )
        .expect("page parses");
        problems.extend(found.into_inner());
    }
    assert!(problems.is_empty(), "active content: {problems:#?}");
}
