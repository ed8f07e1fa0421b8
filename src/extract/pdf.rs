//! PDF (`.pdf`): the text layer via pdf-extract (NFKC-normalized), the page count as a fact,
//! and the original shown in the browser's own viewer by the template (kind `pdf`).
//!
//! pdf-extract can panic, loop for a very long time, recurse until the stack overflows (a form
//! that draws itself) or grow its output without end on a hostile file. A thread cannot be
//! stopped and a stack overflow aborts the whole process, so the `leakpress` binary reads
//! PDFs in child processes of itself (the hidden `pdf-worker` subcommand, see
//! [`isolate_pdfs`] and [`pdf_worker`]), reused from file to file, and kills one that passes
//! the deadline ([`PDF_TIMEOUT`]) on a file; the text kept is capped ([`MAX_TEXT_BYTES`]).
//! Library users that name no worker program get a weaker bound: a worker thread that is
//! abandoned (not stopped) at the deadline, and no protection from a stack overflow.
//!
//! Either way a PDF the reader gives up on, and a PDF with no text layer (scanned, encrypted,
//! broken), still gets its page, flagged `Text layer: none` with a warning.

use std::io::{Read, Write};
use std::path::PathBuf;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::{Mutex, OnceLock, mpsc};
use std::time::Duration;

use unicode_normalization::UnicodeNormalization;

use super::{ExtractContext, Extracted, Extractor, escape_html};
use crate::dates::DocDate;
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
        let parsed = match WORKER.get() {
            Some(worker) => parse_in_child(worker, ctx.bytes),
            None => parse_bounded(ctx.bytes.to_vec(), PDF_TIMEOUT),
        };
        if let Some(pages) = parsed.pages {
            extracted.facts.push(("Pages".into(), pages.to_string()));
        }
        if parsed.encrypted {
            extracted.facts.push(("Encrypted".into(), "yes".into()));
        }
        extracted.transient = parsed.transient;
        if let Some(title) = parsed.title {
            extracted.meta.title = Some(title);
        }
        extracted.meta.date = parsed.date.as_deref().and_then(DocDate::parse_pdf);
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
#[derive(Debug, Default, serde::Serialize, serde::Deserialize)]
struct Parsed {
    pages: Option<usize>,
    encrypted: bool,
    title: Option<String>,
    /// The document information's creation date, as written.
    date: Option<String>,
    text: String,
    truncated: bool,
    /// Why there is no (or only part of the) text.
    problem: Option<String>,
    /// The problem lies with this run (a time limit, a process that died or would not
    /// start), not with the file as such: the next build tries again.
    #[serde(skip)]
    transient: bool,
}

/// The subcommand of the `leakpress` binary that runs [`pdf_worker`].
pub const WORKER_SUBCOMMAND: &str = "pdf-worker";

/// PDFs one worker process reads before it is replaced, so memory a big file left behind in
/// its heap is given back.
const JOBS_PER_PROCESS: usize = 256;

/// How to start PDF worker processes, and the idle ones, set once by [`isolate_pdfs`].
struct Worker {
    program: PathBuf,
    timeout: Duration,
    /// Processes waiting for a PDF. Starting one costs milliseconds (more than reading a small
    /// PDF), so they are reused; one that crashed or was killed is never put back.
    idle: Mutex<Vec<Process>>,
}

/// One running `pdf-worker`.
struct Process {
    child: Child,
    stdin: ChildStdin,
    /// Each answer (a JSON [`Parsed`]), or the error that ended its stdout.
    answers: mpsc::Receiver<std::io::Result<Vec<u8>>>,
    /// Drains its stderr; returns the last line it printed (a crash says why there) once the
    /// process is gone.
    stderr: std::thread::JoinHandle<String>,
    jobs: usize,
}

static WORKER: OnceLock<Worker> = OnceLock::new();

/// Reads every PDF from now on in child processes, `program pdf-worker`, and kills one that
/// takes longer than `timeout` on a file: `program` must be a `leakpress` binary (the CLI
/// passes itself). The first call wins (it is a property of the process, like rayon's global
/// pool); returns whether this one did.
pub fn isolate_pdfs(program: PathBuf, timeout: Duration) -> bool {
    WORKER
        .set(Worker {
            program,
            timeout,
            idle: Mutex::new(Vec::new()),
        })
        .is_ok()
}

/// Writes one frame: its length (8 bytes, little-endian), then its bytes.
fn write_frame(to: &mut impl Write, bytes: &[u8]) -> std::io::Result<()> {
    to.write_all(&(bytes.len() as u64).to_le_bytes())?;
    to.write_all(bytes)?;
    to.flush()
}

/// Reads one frame of at most `limit` bytes; `None` at a clean end of input.
fn read_frame(from: &mut impl Read, limit: u64) -> std::io::Result<Option<Vec<u8>>> {
    let mut len = [0u8; 8];
    match from.read_exact(&mut len) {
        Ok(()) => {}
        Err(err) if err.kind() == std::io::ErrorKind::UnexpectedEof => return Ok(None),
        Err(err) => return Err(err),
    }
    let len = u64::from_le_bytes(len);
    if len > limit {
        return Err(std::io::Error::other(format!("frame of {len} bytes")));
    }
    let mut bytes = Vec::new();
    from.take(len).read_to_end(&mut bytes)?;
    if bytes.len() as u64 != len {
        return Err(std::io::ErrorKind::UnexpectedEof.into());
    }
    Ok(Some(bytes))
}

/// The child's side: reads PDFs from stdin, one frame each, and answers each with a frame
/// holding what it found as JSON, until stdin ends. A panic is caught and reported in the
/// JSON; a stack overflow or a kill ends the process, which the parent reports.
pub fn pdf_worker() -> std::io::Result<()> {
    // The parent reports panics from the JSON; the default hook would only add noise.
    std::panic::set_hook(Box::new(|_| {}));
    let mut stdin = std::io::stdin().lock();
    let mut stdout = std::io::stdout().lock();
    while let Some(bytes) = read_frame(&mut stdin, super::MAX_EXTRACT_BYTES)? {
        let parsed = std::panic::catch_unwind(|| parse(&bytes)).unwrap_or_else(|panic| Parsed {
            problem: Some(format!(
                "the PDF reader crashed ({})",
                super::panic_message(&panic)
            )),
            ..Parsed::default()
        });
        let json = serde_json::to_vec(&parsed).map_err(std::io::Error::other)?;
        write_frame(&mut stdout, &json)?;
    }
    Ok(())
}

impl Process {
    fn start(program: &std::path::Path) -> std::io::Result<Process> {
        let mut child = Command::new(program)
            .arg(WORKER_SUBCOMMAND)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()?;
        let (Some(stdin), Some(mut stdout), Some(stderr)) =
            (child.stdin.take(), child.stdout.take(), child.stderr.take())
        else {
            let _ = child.kill();
            let _ = child.wait();
            return Err(std::io::Error::other("no pipes to the PDF reader"));
        };
        // Answers are read on their own thread so that waiting for one can time out.
        let (tx, answers) = mpsc::channel();
        std::thread::spawn(move || {
            // Text is capped at MAX_TEXT_BYTES; JSON escaping at most multiplies it by six.
            let limit = 6 * MAX_TEXT_BYTES as u64 + 4096;
            loop {
                let answer = match read_frame(&mut stdout, limit) {
                    Ok(Some(json)) => Ok(json),
                    Ok(None) => Err(std::io::ErrorKind::UnexpectedEof.into()),
                    Err(err) => Err(err),
                };
                let ended = answer.is_err();
                if tx.send(answer).is_err() || ended {
                    break;
                }
            }
        });
        let stderr = std::thread::spawn(move || {
            // Drained so the child never blocks on a full pipe; only the last line is kept.
            let mut last = String::new();
            for line in std::io::BufRead::lines(std::io::BufReader::new(stderr)) {
                let Ok(line) = line else { break };
                if !line.trim().is_empty() {
                    last = line.trim().chars().take(300).collect();
                }
            }
            last
        });
        Ok(Process {
            child,
            stdin,
            answers,
            stderr,
            jobs: 0,
        })
    }

    /// Why it died, once it has: the last line it printed, or its exit status.
    fn obituary(mut self) -> String {
        let status = self.child.wait();
        // Its stderr closed when it died, so the drain has finished.
        let tail = self.stderr.join().unwrap_or_default();
        if !tail.is_empty() {
            return tail;
        }
        match status {
            Ok(status) => status.to_string(),
            Err(err) => err.to_string(),
        }
    }
}

/// Parses in a worker process (see [`pdf_worker`]), killing it after the worker's timeout.
fn parse_in_child(worker: &Worker, bytes: &[u8]) -> Parsed {
    let failed = |problem: String| Parsed {
        problem: Some(problem),
        transient: true,
        ..Parsed::default()
    };
    let reused = worker.idle.lock().unwrap_or_else(|p| p.into_inner()).pop();
    let mut process = match reused {
        Some(process) => process,
        None => match Process::start(&worker.program) {
            Ok(process) => process,
            Err(err) => return failed(format!("could not start the PDF reader ({err})")),
        },
    };
    if write_frame(&mut process.stdin, bytes).is_err() {
        // An idle process that died since its last answer: the file is not to blame.
        let _ = process.child.kill();
        let _ = process.child.wait();
        process = match Process::start(&worker.program) {
            Ok(process) => process,
            Err(err) => return failed(format!("could not start the PDF reader ({err})")),
        };
        if let Err(err) = write_frame(&mut process.stdin, bytes) {
            let why = process.obituary();
            return failed(format!("the PDF reader crashed ({why}; {err})"));
        }
    }
    match process.answers.recv_timeout(worker.timeout) {
        Ok(Ok(json)) => match serde_json::from_slice::<Parsed>(&json) {
            Ok(parsed) => {
                process.jobs += 1;
                if process.jobs < JOBS_PER_PROCESS {
                    worker
                        .idle
                        .lock()
                        .unwrap_or_else(|p| p.into_inner())
                        .push(process);
                }
                // A retired process exits when its stdin closes, as it is dropped here.
                parsed
            }
            Err(err) => {
                let _ = process.child.kill();
                let _ = process.child.wait();
                failed(format!("the PDF reader answered nonsense ({err})"))
            }
        },
        Err(mpsc::RecvTimeoutError::Timeout) => {
            let _ = process.child.kill();
            let _ = process.child.wait();
            failed(format!(
                "gave up after {} s (the file may be hostile or very complex)",
                worker.timeout.as_secs()
            ))
        }
        Ok(Err(_)) | Err(mpsc::RecvTimeoutError::Disconnected) => {
            let why = process.obituary();
            failed(format!("the PDF reader crashed ({why})"))
        }
    }
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
            transient: true,
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
            transient: true,
            ..Parsed::default()
        },
        Err(mpsc::RecvTimeoutError::Disconnected) => Parsed {
            problem: Some("the PDF reader stopped unexpectedly".into()),
            transient: true,
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
    parsed.date = info_text(&doc, b"CreationDate");
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

/// A text entry of the document information dictionary.
fn info_text(doc: &pdf_extract::Document, key: &[u8]) -> Option<String> {
    let info = doc.trailer.get(b"Info").ok()?;
    let info = match info {
        pdf_extract::Object::Reference(id) => doc.get_dictionary(*id).ok()?,
        pdf_extract::Object::Dictionary(dict) => dict,
        _ => return None,
    };
    match info.get(key).ok()? {
        pdf_extract::Object::String(bytes, _) => Some(decode_pdf_string(bytes)),
        _ => None,
    }
}

/// The document-information title, when it is real text.
fn info_title(doc: &pdf_extract::Document) -> Option<String> {
    let title: String = info_text(doc, b"Title")?
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
    fn reads_title_and_creation_date_from_the_document_information() {
        let bytes =
            include_bytes!("../../tests/fixtures/hostile/content/hostile-agency/docs/report.pdf");
        let parsed = parse_bounded(bytes.to_vec(), Duration::from_secs(10));
        assert_eq!(parsed.problem, None);
        assert!(
            parsed.text.contains("Sidecar report text"),
            "{:?}",
            parsed.text
        );
        assert_eq!(parsed.title.as_deref(), Some("Title inside the PDF"));
        assert_eq!(parsed.date.as_deref(), Some("D:20150101120000Z"));
        let date = parsed.date.as_deref().and_then(DocDate::parse_pdf).unwrap();
        assert_eq!(date.view().rfc3339, "2015-01-01T12:00:00Z");

        // No document information at all.
        let bytes = include_bytes!(
            "../../content/mesa-county-das-office/memos/2018-05-discovery-obligations.pdf"
        );
        let parsed = parse_bounded(bytes.to_vec(), Duration::from_secs(10));
        assert!(parsed.text.contains("MEMORANDUM"), "{:?}", parsed.text);
        assert_eq!((parsed.title, parsed.date), (None, None));
    }

    #[test]
    fn tidy_folds_blank_lines() {
        assert_eq!(tidy("\n\na  \n\n\n\nb\n\n"), "a\n\nb");
    }
}
