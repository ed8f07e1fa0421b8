//! The document model that flows from extraction to rendering.
//!
//! A [`Document`] is the cheap part (metadata for listings, feeds and the index) and stays in
//! memory for the whole build; its [`Body`] (HTML, text, derived files) is taken when the page
//! is rendered and dropped right after.

use crate::dates::DocDate;
use crate::discover::SourceFile;
use crate::extract::{DerivedFile, MailIds};

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
    use super::excerpt;

    #[test]
    fn excerpt_cuts_at_words() {
        assert_eq!(excerpt("one  two\nthree", 100), "one two three");
        assert_eq!(excerpt("one two three", 8), "one two…");
    }
}
