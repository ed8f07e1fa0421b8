//! Stage 2, **extract**: each [`SourceFile`] becomes an [`Extracted`] — metadata, a safe HTML
//! body, plain text for search, and any derived files (thumbnails, mail attachments).
//!
//! One [`Extractor`] per format, registered in [`registry`]; the first that handles a file wins,
//! and [`other::OtherExtractor`] handles everything, so no file is without a page.
//! An extractor's error or panic becomes a warning and the file falls back to the `other`
//! format: one bad file never costs the build, nor another file's output.
//!
//! Invariant: `body_html` is safe to embed in a page as is. Extractors either generate it from
//! escaped text or pass leaked markup through [`crate::sanitize`].

mod docx;
mod email;
mod html;
mod image;
mod markdown;
mod metadata;
mod other;
mod pdf;
mod text;

use std::panic::AssertUnwindSafe;

use crate::config::Config;
use crate::discover::SourceFile;

pub use metadata::Metadata;

/// Files larger than this are not read for text; they are published as files only.
pub const MAX_EXTRACT_BYTES: u64 = 64 * 1024 * 1024;

pub use docx::MAX_ENTRY_BYTES as MAX_DOCX_ENTRY_BYTES;
pub use pdf::{PDF_TIMEOUT, WORKER_SUBCOMMAND as PDF_WORKER_SUBCOMMAND, isolate_pdfs, pdf_worker};

/// A body may use this as the whole value of an `href` or `src` attribute (`src="…"`, double
/// quotes) to point at the document's published original, whose URL is only known after
/// extraction (identical files are published once, maybe beside another document's page).
/// The renderer replaces it. Leaked markup cannot forge it: escaped text has no `"`, and the
/// sanitizer drops URLs with unknown schemes.
pub const ORIGINAL_URL: &str = "leakpress:original";

/// Extensions a browser may run script from when it opens the file (`.svg`, `.html`, …).
/// Files with these are never shown inline, and their published copies get a `.txt` suffix.
pub const ACTIVE_EXTENSIONS: &[&str] = &[
    "html", "htm", "xhtml", "xht", "shtml", "svg", "svgz", "xml", "xsl", "xslt", "mht", "mhtml",
    "js", "mjs", "hta",
];

/// A derived file's name: `<prefix>.<slug of stem>.<slug of extension>`, plus `.txt` for
/// [`ACTIVE_EXTENSIONS`]. Derived names always hold at least two dots, so they never clash
/// with the published original beside them (one dot at most, see `collect`).
pub(crate) fn safe_derived_name(prefix: &str, given: &str) -> String {
    let given = given.rsplit(['/', '\\']).next().unwrap_or(given);
    let (stem, ext) = match given.rsplit_once('.') {
        Some((stem, ext)) if !stem.is_empty() && !ext.is_empty() => {
            (crate::slug::slugify(stem), crate::slug::slugify(ext))
        }
        _ => (crate::slug::slugify(given), "bin".to_owned()),
    };
    if ACTIVE_EXTENSIONS.contains(&ext.as_str()) {
        format!("{prefix}.{stem}.{ext}.txt")
    } else {
        format!("{prefix}.{stem}.{ext}")
    }
}

/// What an extractor gets for one file.
#[non_exhaustive]
pub struct ExtractContext<'a> {
    /// The file.
    pub source: &'a SourceFile,
    /// Its whole content (files over [`MAX_EXTRACT_BYTES`] never reach a content extractor).
    pub bytes: &'a [u8],
    /// Metadata from its sidecar, if any; it overrides what the extractor finds.
    pub sidecar: Option<&'a Metadata>,
    /// The site configuration.
    pub config: &'a Config,
}

/// A file the extractor made that is published beside the document page.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct DerivedFile {
    /// File name inside the page's folder (ASCII, safe in a URL).
    pub name: String,
    /// Its bytes.
    pub bytes: Vec<u8>,
}

/// One format's view of one file.
#[derive(Debug, Default)]
#[non_exhaustive]
pub struct Extracted {
    /// Title, date, tags, summary and other keys the format found.
    pub meta: Metadata,
    /// The page body. Must be safe HTML (see the module doc).
    pub body_html: String,
    /// Plain text for the search index and excerpts.
    pub text: String,
    /// Format-specific facts shown on the page (`Pages: 12`, `Encoding: windows-1252`).
    pub facts: Vec<(String, String)>,
    /// Files to publish beside the page.
    pub derived: Vec<DerivedFile>,
    /// Problems worth reporting; the document is still published.
    pub warnings: Vec<String>,
    /// Mail threading ids, for messages (grouped into threads by `collect`).
    pub mail_ids: Option<MailIds>,
    /// The result depends on this run, not only on the file (a time limit hit under load, a
    /// helper process that could not start), so the incremental cache must not keep it.
    pub transient: bool,
}

/// A message's place in a mail thread: its own `Message-ID` and the ids it answers
/// (`In-Reply-To` and `References`), without angle brackets.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct MailIds {
    /// `Message-ID`.
    pub message_id: Option<String>,
    /// `In-Reply-To` then `References`, duplicates removed.
    pub parents: Vec<String>,
    /// For a mailbox file (`.mbox`), which is one document holding many messages: every id its
    /// messages carry (their `Message-ID`s and the ids they answer). The mailbox joins the
    /// thread of each, so a reply saved as `.eml` finds the message it answers in a mailbox.
    pub in_mailbox: Vec<String>,
}

/// One input format.
pub trait Extractor: Send + Sync {
    /// The format's name, shown to readers as the document kind (`markdown`, `pdf`, …).
    fn name(&self) -> &'static str;
    /// Whether this extractor takes the file (normally decided by its extension).
    fn handles(&self, source: &SourceFile) -> bool;
    /// Turns the file into a document.
    fn extract(&self, ctx: &ExtractContext<'_>) -> crate::Result<Extracted>;
    /// [`Extractor::extract`] without the body (`body_html` and `derived` empty; `text`
    /// still made), for a format whose body is cheap to make again from the file when its
    /// page renders: it then waits for its page neither compressed on disk nor in the cache.
    /// Everything else must be what `extract` gives, and the body must depend on `ctx.bytes`
    /// alone. `None` when the whole extraction is needed now (the default).
    fn extract_without_body(&self, _ctx: &ExtractContext<'_>) -> Option<crate::Result<Extracted>> {
        None
    }
    /// Whether it reads the file itself, as a stream, so it takes files over
    /// [`MAX_EXTRACT_BYTES`] too (then `ctx.bytes` holds only the file's head).
    fn streams(&self) -> bool {
        false
    }
}

/// Every format, most specific first. Adding a format means adding a line here.
pub fn registry() -> Vec<Box<dyn Extractor>> {
    vec![
        Box::new(markdown::MarkdownExtractor),
        Box::new(text::TextExtractor),
        Box::new(html::HtmlExtractor),
        Box::new(email::EmailExtractor),
        Box::new(pdf::PdfExtractor),
        Box::new(docx::DocxExtractor),
        Box::new(image::ImageExtractor),
        Box::new(crate::tables::TableExtractor),
        Box::new(other::OtherExtractor),
    ]
}

/// The result of running the registry over one file.
#[derive(Debug)]
#[non_exhaustive]
pub struct Outcome {
    /// The format that produced the document.
    pub kind: &'static str,
    /// What it produced.
    pub extracted: Extracted,
}

/// Picks the extractor for `ctx.source` and runs it, falling back to the `other` format on
/// error or panic, with a warning that says so.
pub fn run(extractors: &[Box<dyn Extractor>], ctx: &ExtractContext<'_>) -> Outcome {
    let too_big = ctx.source.size > MAX_EXTRACT_BYTES;
    let chosen = extractors
        .iter()
        .find(|e| (!too_big || e.streams()) && e.handles(ctx.source))
        .map(|e| e.as_ref());
    let mut warnings = Vec::new();
    if too_big && !chosen.is_some_and(|e| e.streams()) {
        warnings.push(format!(
            "larger than {} MiB: published as a file without extracting its text",
            MAX_EXTRACT_BYTES / (1024 * 1024)
        ));
    }
    if let Some(extractor) = chosen {
        match std::panic::catch_unwind(AssertUnwindSafe(|| extractor.extract(ctx))) {
            Ok(Ok(mut extracted)) => {
                warnings.append(&mut extracted.warnings);
                extracted.warnings = warnings;
                if let Some(sidecar) = ctx.sidecar {
                    extracted.meta.merge_from(sidecar);
                }
                return Outcome {
                    kind: extractor.name(),
                    extracted,
                };
            }
            Ok(Err(err)) => warnings.push(format!(
                "{} extraction failed ({err}): published as a plain file",
                extractor.name()
            )),
            Err(panic) => warnings.push(format!(
                "{} extraction crashed ({}): published as a plain file",
                extractor.name(),
                panic_message(&panic)
            )),
        }
    }
    let mut extracted = other::describe(ctx);
    warnings.append(&mut extracted.warnings);
    extracted.warnings = warnings;
    if let Some(sidecar) = ctx.sidecar {
        extracted.meta.merge_from(sidecar);
    }
    Outcome {
        kind: other::OtherExtractor.name(),
        extracted,
    }
}

/// [`run`] without the body (see [`Extractor::extract_without_body`]), when the extractor
/// [`run`] would pick offers it and it succeeds; `None` means [`run`] is needed.
pub fn run_without_body(
    extractors: &[Box<dyn Extractor>],
    ctx: &ExtractContext<'_>,
) -> Option<Outcome> {
    if ctx.source.size > MAX_EXTRACT_BYTES {
        return None;
    }
    let extractor = extractors.iter().find(|e| e.handles(ctx.source))?;
    // An error or a panic is the whole extraction's to report, as it reports it.
    let Ok(Some(Ok(mut extracted))) =
        std::panic::catch_unwind(AssertUnwindSafe(|| extractor.extract_without_body(ctx)))
    else {
        return None;
    };
    if let Some(sidecar) = ctx.sidecar {
        extracted.meta.merge_from(sidecar);
    }
    Some(Outcome {
        kind: extractor.name(),
        extracted,
    })
}

fn panic_message(panic: &Box<dyn std::any::Any + Send>) -> String {
    if let Some(s) = panic.downcast_ref::<&str>() {
        (*s).to_owned()
    } else if let Some(s) = panic.downcast_ref::<String>() {
        s.clone()
    } else {
        "panic".to_owned()
    }
}

/// Escapes text for HTML element content and attribute values.
pub fn escape_html(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + text.len() / 16);
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}
