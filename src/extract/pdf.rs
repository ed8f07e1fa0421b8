//! PDF (`.pdf`): the text layer via pdf-extract (NFKC-normalized), the page count as a fact,
//! and the original shown in the browser's own viewer by the template (kind `pdf`).
//!
//! pdf-extract can panic, loop for a long time or grow its output without end on a hostile
//! file. So each PDF is parsed on its own worker thread, with a deadline
//! ([`PDF_TIMEOUT`]) and a cap on the text kept ([`MAX_TEXT_BYTES`]). A panic there is caught
//! by the thread; a worker that misses the deadline is abandoned (it cannot be killed, but it
//! holds only its own copy of the bytes) and the document is published without text. A PDF
//! with no text layer (scanned, encrypted, broken) still gets its page, flagged
//! `Text layer: none` with a warning.

use std::sync::mpsc;
use std::time::Duration;

use unicode_normalization::UnicodeNormalization;

use super::{ExtractContext, Extracted, Extractor, escape_html};
use crate::discover::SourceFile;

/// How long one PDF may take before it is published without text.
pub const PDF_TIMEOUT: Duration = Duration::from_secs(30);
/// Most bytes of text kept from one PDF.
const MAX_TEXT_BYTES: usize = 16 * 1024 * 1024;

/// Extracts the text layer of PDFs.
pub(super) struct PdfExtractor;

impl Extractor for PdfExtractor {
    fn name(&self) -> &'static str {
        "pdf"
    }

    fn handles(&self, source: &SourceFile) -> bool {
        source.extension == "pdf"
    }

    fn extract(&self, ctx: &ExtractContext<'_>) -> crate::Result<Extracted> {
        let mut extracted = Extracted::default();
        if !ctx.bytes.starts_with(b"%PDF-")
            && !ctx.bytes[..ctx.bytes.len().min(1024)]
                .windows(5)
                .any(|w| w == b"%PDF-")
        {
            extracted
                .warnings
                .push("no %PDF- header: not a PDF, or badly damaged".into());
        }
        let parsed = parse_bounded(ctx.bytes.to_vec(), PDF_TIMEOUT);
        if let Some(pages) = parsed.pages {
            extracted.facts.push(("Pages".into(), pages.to_string()));
        }
        if parsed.encrypted {
            extracted.facts.push(("Encrypted".into(), "yes".into()));
        }
        if let Some(title) = parsed.title {
            extracted.meta.title = Some(title);
        }
        let text: String = parsed.text.nfkc().collect();
        let text = tidy(&text);
        if parsed.truncated {
            extracted.warnings.push(format!(
                "text layer longer than {} MiB: the rest is not indexed",
                MAX_TEXT_BYTES / (1024 * 1024)
            ));
        }
        if text.trim().is_empty() {
            let why = parsed
                .problem
                .clone()
                .unwrap_or_else(|| "no extractable text (scanned or image-only?)".into());
            extracted.facts.push(("Text layer".into(), "none".into()));
            extracted.warnings.push(format!("no text layer: {why}"));
            extracted.body_html = format!(
                "<p class=\"no-text-layer\">This PDF has no text that could be extracted ({}). \
                 Open the original to read it.</p>",
                escape_html(&why)
            );
        } else {
            if let Some(problem) = &parsed.problem {
                extracted
                    .warnings
                    .push(format!("text extraction stopped early: {problem}"));
            }
            extracted.body_html = format!(
                "<details class=\"pdf-text\"><summary>Extracted text</summary><pre class=\"text\">{}</pre></details>",
                escape_html(&text)
            );
            extracted.text = text;
        }
        Ok(extracted)
    }
}

/// What the worker found.
#[derive(Debug, Default)]
struct Parsed {
    pages: Option<usize>,
    encrypted: bool,
    title: Option<String>,
    text: String,
    truncated: bool,
    /// Why there is no (or only part of the) text.
    problem: Option<String>,
}

/// Parses on a worker thread, giving up after `timeout`.
fn parse_bounded(bytes: Vec<u8>, timeout: Duration) -> Parsed {
    let (tx, rx) = mpsc::sync_channel(1);
    let spawned = std::thread::Builder::new()
        .name("leakpress-pdf".into())
        .spawn(move || {
            let result = std::panic::catch_unwind(|| parse(&bytes));
            let _ignored_if_abandoned = tx.send(result);
        });
    if let Err(err) = spawned {
        return Parsed {
            problem: Some(format!("could not start a worker ({err})")),
            ..Parsed::default()
        };
    }
    match rx.recv_timeout(timeout) {
        Ok(Ok(parsed)) => parsed,
        Ok(Err(panic)) => Parsed {
            problem: Some(format!(
                "the PDF reader crashed ({})",
                super::panic_message(&panic)
            )),
            ..Parsed::default()
        },
        Err(mpsc::RecvTimeoutError::Timeout) => Parsed {
            problem: Some(format!(
                "gave up after {} s (the file may be hostile or very complex)",
                timeout.as_secs()
            )),
            ..Parsed::default()
        },
        Err(mpsc::RecvTimeoutError::Disconnected) => Parsed {
            problem: Some("the PDF reader stopped unexpectedly".into()),
            ..Parsed::default()
        },
    }
}

fn parse(bytes: &[u8]) -> Parsed {
    let mut parsed = Parsed::default();
    let mut doc = match pdf_extract::Document::load_mem(bytes) {
        Ok(doc) => doc,
        Err(err) => {
            parsed.problem = Some(format!("not readable as a PDF ({err})"));
            return parsed;
        }
    };
    parsed.encrypted = doc.is_encrypted() || doc.was_encrypted();
    if doc.is_encrypted() && doc.decrypt("").is_err() {
        parsed.pages = Some(doc.get_pages().len());
        parsed.problem = Some("encrypted with a password".into());
        return parsed;
    }
    parsed.pages = Some(doc.get_pages().len());
    parsed.title = info_title(&doc);
    let mut sink = CappedText::default();
    let result = {
        let mut output = pdf_extract::PlainTextOutput::new(&mut sink as &mut dyn std::io::Write);
        pdf_extract::output_doc(&doc, &mut output)
    };
    parsed.truncated = sink.truncated;
    parsed.text = String::from_utf8_lossy(&sink.bytes).into_owned();
    if let Err(err) = result
        && !sink.truncated
    {
        parsed.problem = Some(format!("text extraction failed ({err})"));
    }
    parsed
}

/// The document-information title, when it is real text.
fn info_title(doc: &pdf_extract::Document) -> Option<String> {
    let info = doc.trailer.get(b"Info").ok()?;
    let info = match info {
        pdf_extract::Object::Reference(id) => doc.get_dictionary(*id).ok()?,
        pdf_extract::Object::Dictionary(dict) => dict,
        _ => return None,
    };
    let title = match info.get(b"Title").ok()? {
        pdf_extract::Object::String(bytes, _) => decode_pdf_string(bytes),
        _ => return None,
    };
    let title: String = title
        .nfkc()
        .collect::<String>()
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ");
    // Producers often leave "untitled" or the file name of the Word document.
    let lower = title.to_ascii_lowercase();
    if title.is_empty()
        || lower == "untitled"
        || lower.ends_with(".doc")
        || lower.ends_with(".docx")
    {
        None
    } else {
        Some(title.chars().take(300).collect())
    }
}

/// PDF text strings are UTF-16BE with a BOM, or PDFDocEncoding (close to Latin-1).
fn decode_pdf_string(bytes: &[u8]) -> String {
    if let Some(rest) = bytes.strip_prefix(&[0xFE, 0xFF]) {
        let units: Vec<u16> = rest
            .chunks_exact(2)
            .map(|c| u16::from_be_bytes([c[0], c[1]]))
            .collect();
        String::from_utf16_lossy(&units)
    } else if let Ok(text) = std::str::from_utf8(bytes) {
        text.to_owned()
    } else {
        bytes.iter().map(|&b| char::from(b)).collect()
    }
}

/// Folds runs of blank lines, which pdf-extract emits in bulk.
fn tidy(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut blank = 0;
    for line in text.lines() {
        let line = line.trim_end();
        if line.is_empty() {
            blank += 1;
            if blank > 1 {
                continue;
            }
        } else {
            blank = 0;
        }
        out.push_str(line);
        out.push('\n');
    }
    out.trim().to_owned()
}

/// A byte sink that refuses to grow past [`MAX_TEXT_BYTES`].
#[derive(Default)]
struct CappedText {
    bytes: Vec<u8>,
    truncated: bool,
}

impl std::io::Write for CappedText {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if self.bytes.len() + buf.len() > MAX_TEXT_BYTES {
            self.truncated = true;
            return Err(std::io::Error::other("text cap reached"));
        }
        self.bytes.extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn garbage_is_a_problem_not_a_panic() {
        let parsed = parse_bounded(b"%PDF-1.4\n1 0 obj <<".to_vec(), Duration::from_secs(10));
        assert!(parsed.problem.is_some());
        assert!(parsed.text.is_empty());
    }

    #[test]
    fn tidy_folds_blank_lines() {
        assert_eq!(tidy("\n\na  \n\n\n\nb\n\n"), "a\n\nb");
    }
}
