//! The document model that flows from extraction to rendering.
//!
//! A [`Document`] is the cheap part (metadata for listings, feeds and the index) and stays in
//! memory for the whole build; its [`Body`] (HTML, text, derived files) is taken when the page
//! is rendered and dropped right after.

use crate::dates::DocDate;
use crate::discover::SourceFile;
use crate::extract::{DerivedFile, MailIds};
use crate::spill::SpillFile;

/// One published document.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Document {
    /// Position in path order; stable for the same input.
    pub id: usize,
    /// Where it came from.
    pub source: SourceFile,
    /// The format that produced it.
    pub kind: &'static str,
    /// URL segment inside its agency, unique there.
    pub slug: String,
    /// Site path of its page, `agency/slug/` (no leading `/`).
    pub url: String,
    /// Title; never empty.
    pub title: String,
    /// Date, when known.
    pub date: Option<DocDate>,
    /// Tags.
    pub tags: Vec<String>,
    /// Summary for listings: the author's, else the start of the text.
    pub summary: String,
    /// Other front-matter or sidecar keys.
    pub extra: Vec<(String, String)>,
    /// Format facts.
    pub facts: Vec<(String, String)>,
    /// SHA-256 of the original file.
    pub sha256: String,
    /// Site path of the published original, filled in by `collect` (identical files share one).
    pub original_url: Option<String>,
    /// Warnings about this document.
    pub warnings: Vec<String>,
    /// Mail threading ids (email documents only); `collect` groups threads from them.
    pub mail_ids: Option<MailIds>,
}

/// The heavy part of a document, alive only until its page is rendered.
#[derive(Debug, Default)]
#[non_exhaustive]
pub struct Body {
    /// Safe HTML.
    pub html: String,
    /// Plain text for search.
    pub text: String,
    /// Files published beside the page.
    pub derived: Vec<DerivedFile>,
}

impl Body {
    /// The body as one byte string (lengths, then contents), for [`BodySpill`].
    fn encode(&self) -> Vec<u8> {
        let mut out = Vec::new();
        Body::encode_parts(&self.html, &self.text, &self.derived, &mut out);
        out
    }

    /// Appends a body's encoding to `out`, from its parts (the cache encodes an extraction
    /// result's body in place, without moving it into a `Body`).
    pub(crate) fn encode_parts(html: &str, text: &str, derived: &[DerivedFile], out: &mut Vec<u8>) {
        out.reserve(
            24 + html.len()
                + text.len()
                + derived
                    .iter()
                    .map(|f| 16 + f.name.len() + f.bytes.len())
                    .sum::<usize>(),
        );
        let mut put = |bytes: &[u8]| {
            out.extend_from_slice(&(bytes.len() as u64).to_le_bytes());
            out.extend_from_slice(bytes);
        };
        put(html.as_bytes());
        put(text.as_bytes());
        for file in derived {
            put(file.name.as_bytes());
            put(&file.bytes);
        }
    }

    /// Reads back what [`Body::encode_parts`] wrote.
    pub(crate) fn decode(mut rest: &[u8]) -> std::io::Result<Body> {
        let string = |bytes: &[u8]| String::from_utf8(bytes.to_vec()).map_err(|_| corrupt());
        let html = string(take(&mut rest)?)?;
        let text = string(take(&mut rest)?)?;
        let mut derived = Vec::new();
        while !rest.is_empty() {
            let name = string(take(&mut rest)?)?;
            derived.push(DerivedFile {
                name,
                bytes: take(&mut rest)?.to_vec(),
            });
        }
        Ok(Body {
            html,
            text,
            derived,
        })
    }
}

/// What stands for a body without reading it: the incremental cache's key of the extraction
/// result it came from. The key covers the file's path, size, bytes and sidecar, and the
/// cache's fingerprint covers the code and the configuration, so equal identities mean equal
/// bodies.
pub type BodyIdentity = [u8; 32];

/// A document's body, read from where it waits (spill file, cache, memory) only when a page
/// or the search index needs it: a rebuild reuses most pages and most documents' search
/// terms by the body's [`BodyIdentity`] alone.
pub struct LazyBody<'a> {
    identity: Option<BodyIdentity>,
    derived: bool,
    load: Option<Box<dyn Fn() -> crate::error::Result<Body> + 'a>>,
    /// The body, or why it could not be read: a failed read is not tried again by the next
    /// user (the page, then the search index).
    body: std::cell::OnceCell<Result<Body, String>>,
}

impl<'a> LazyBody<'a> {
    /// A body `load` reads; `derived` says whether it carries derived files, which are
    /// published even when the page is reused.
    pub fn new(
        identity: Option<BodyIdentity>,
        derived: bool,
        load: impl Fn() -> crate::error::Result<Body> + 'a,
    ) -> LazyBody<'a> {
        LazyBody {
            identity,
            derived,
            load: Some(Box::new(load)),
            body: std::cell::OnceCell::new(),
        }
    }

    /// A body already in memory, without an identity.
    pub fn ready(body: Body) -> LazyBody<'a> {
        LazyBody {
            identity: None,
            derived: !body.derived.is_empty(),
            load: None,
            body: std::cell::OnceCell::from(Ok(body)),
        }
    }

    /// The body's identity, when it has one.
    pub fn identity(&self) -> Option<&BodyIdentity> {
        self.identity.as_ref()
    }

    /// Whether the body carries derived files.
    pub fn has_derived(&self) -> bool {
        self.derived
    }

    /// The body, read on first use; the same error each time if it could not be read.
    pub fn get(&self) -> crate::error::Result<&Body> {
        let body = self.body.get_or_init(|| {
            let load = self
                .load
                .as_ref()
                .expect("a body without a loader is always ready");
            load().map_err(|err| err.to_string())
        });
        body.as_ref()
            .map_err(|why| crate::error::Error::Other(why.clone()))
    }
}

/// Splits one length-prefixed field off the front of `rest`.
fn take<'b>(rest: &mut &'b [u8]) -> std::io::Result<&'b [u8]> {
    let (len, tail) = rest.split_first_chunk::<8>().ok_or_else(corrupt)?;
    let len = usize::try_from(u64::from_le_bytes(*len)).map_err(|_| corrupt())?;
    if tail.len() < len {
        return Err(corrupt());
    }
    let (value, tail) = tail.split_at(len);
    *rest = tail;
    Ok(value)
}

fn corrupt() -> std::io::Error {
    std::io::Error::new(std::io::ErrorKind::InvalidData, "corrupt body spill")
}

/// Where a spilled body lies in its [`BodySpill`].
#[derive(Debug, Clone, Copy)]
pub struct SpilledBody {
    offset: u64,
    len: u64,
}

/// Bodies parked in an unnamed temporary file between extraction and rendering.
///
/// Rendering needs every document's metadata (URLs, sort orders, threads, duplicates) before
/// the first page, so extraction must finish first; holding all bodies meanwhile made memory
/// grow with the corpus (26 KB a document, 26 GB at a million). Parked on disk, they cost the
/// page cache instead of the heap, and each comes back only while its page renders.
///
/// Only bodies the incremental cache does not hold come here (builds with `--no-cache`,
/// results that depend on the run): a cached body is read back from its cache entry instead.
/// Each body is one zstd frame: a body's text repeats its HTML, and a million documents'
/// bodies (38 KB each in the benchmark corpus) would otherwise need nearly as much free disk as
/// the published site itself.
pub struct BodySpill {
    file: SpillFile,
}

impl BodySpill {
    /// Creates the spill file in `dir`, or in the system's temporary folder if `dir` is not
    /// writable. The file is unlinked at once where the OS allows, so a killed build leaves
    /// nothing behind.
    pub fn create(dir: &std::path::Path) -> std::io::Result<BodySpill> {
        let file = SpillFile::create(&[dir, &std::env::temp_dir()], "bodies")?;
        Ok(BodySpill { file })
    }

    /// Parks one body.
    pub fn put(&self, body: &Body) -> std::io::Result<SpilledBody> {
        let frame = crate::spill::compress(&body.encode())?;
        let offset = self.file.append(&frame)?;
        Ok(SpilledBody {
            offset,
            len: frame.len() as u64,
        })
    }

    /// Reads a parked body back.
    pub fn get(&self, at: SpilledBody) -> std::io::Result<Body> {
        let len = usize::try_from(at.len)
            .map_err(|_| std::io::Error::new(std::io::ErrorKind::InvalidData, "body too large"))?;
        let mut frame = vec![0; len];
        self.file.read(&mut frame, at.offset)?;
        Body::decode(&crate::spill::decompress(&frame)?)
    }
}

impl Document {
    /// The agency slug (the first segment of the URL).
    pub fn agency(&self) -> &str {
        &self.source.agency
    }

    /// Sort key for "newest first": dated documents by date, undated last, then by path.
    pub fn newest_first(a: &Document, b: &Document) -> std::cmp::Ordering {
        match (a.date, b.date) {
            (Some(x), Some(y)) => y.cmp(&x).then_with(|| a.id.cmp(&b.id)),
            (Some(_), None) => std::cmp::Ordering::Less,
            (None, Some(_)) => std::cmp::Ordering::Greater,
            (None, None) => a.id.cmp(&b.id),
        }
    }

    /// Sort key for titles: case-insensitive, then by path.
    pub fn by_title(a: &Document, b: &Document) -> std::cmp::Ordering {
        a.title
            .to_lowercase()
            .cmp(&b.title.to_lowercase())
            .then_with(|| a.id.cmp(&b.id))
    }
}

/// The first `max` characters of `text`, cut at a word boundary, whitespace folded.
pub fn excerpt(text: &str, max: usize) -> String {
    let mut out = String::with_capacity(max + 3);
    for word in text.split_whitespace() {
        if out.len() + word.len() + 1 > max {
            if out.is_empty() {
                out.extend(word.chars().take(max));
            }
            out.push('…');
            return out;
        }
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(word);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn excerpt_cuts_at_words() {
        assert_eq!(excerpt("one  two\nthree", 100), "one two three");
        assert_eq!(excerpt("one two three", 8), "one two…");
    }

    #[test]
    fn a_body_is_read_once_even_when_the_read_fails() {
        let reads = std::cell::Cell::new(0);
        let good = LazyBody::new(Some([7; 32]), false, || {
            reads.set(reads.get() + 1);
            Ok(Body {
                html: "<p>x</p>".into(),
                text: "x".into(),
                derived: Vec::new(),
            })
        });
        assert_eq!(reads.get(), 0, "nothing is read until asked");
        assert_eq!(good.get().unwrap().text, "x");
        assert_eq!(good.get().unwrap().text, "x");
        assert_eq!(reads.get(), 1);

        let failures = std::cell::Cell::new(0);
        let bad = LazyBody::new(None, false, || {
            failures.set(failures.get() + 1);
            Err(crate::error::Error::Other("body unreadable".into()))
        });
        let first = bad.get().unwrap_err().to_string();
        let second = bad.get().unwrap_err().to_string();
        assert_eq!(
            (first.as_str(), second.as_str()),
            ("body unreadable", "body unreadable")
        );
        assert_eq!(failures.get(), 1, "a failed read is not tried again");
    }

    #[test]
    fn spilled_bodies_come_back_whole() {
        let dir = tempfile::tempdir().unwrap();
        let spill = BodySpill::create(dir.path()).unwrap();
        let bodies = [
            Body::default(),
            Body {
                html: "<p>é</p>".into(),
                text: "é".into(),
                derived: vec![
                    DerivedFile {
                        name: "thumb.jpg".into(),
                        bytes: vec![0, 1, 2],
                    },
                    DerivedFile {
                        name: String::new(),
                        bytes: Vec::new(),
                    },
                ],
            },
        ];
        let at: Vec<SpilledBody> = bodies.iter().map(|b| spill.put(b).unwrap()).collect();
        for (body, at) in bodies.iter().zip(at).rev() {
            let back = spill.get(at).unwrap();
            assert_eq!((&back.html, &back.text), (&body.html, &body.text));
            assert_eq!(back.derived.len(), body.derived.len());
            for (a, b) in back.derived.iter().zip(&body.derived) {
                assert_eq!((&a.name, &a.bytes), (&b.name, &b.bytes));
            }
        }
        // The file is unlinked at once: nothing is left in the folder.
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
    }
}
