//! The build report: the fate of every input file and every warning, written as JSON beside
//! (never inside) the published site.
//!
//! Every file under `content/` gets exactly one [`Fate`]. Warnings name the file and say what
//! was done about the problem. Both are kept in `BTreeMap`s so the report is deterministic.

use std::collections::BTreeMap;

use serde::Serialize;

/// What became of one input file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "fate", rename_all = "snake_case")]
#[non_exhaustive]
pub enum Fate {
    /// Rendered as a document page at this site path.
    Page {
        /// Site path of the page, e.g. `port-city-police/briefing/`.
        url: String,
        /// The format that handled it.
        kind: String,
    },
    /// Published as an attachment of another document's page.
    Attachment {
        /// Site path of the page that links it.
        of: String,
    },
    /// Read as metadata for something else (`_agency.yaml`, sidecars, `_index.md`).
    Metadata {
        /// What it describes.
        role: String,
    },
    /// Not published.
    Skipped {
        /// Why not.
        reason: String,
    },
}

/// A problem with one input file; the build went on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Warning {
    /// Path relative to `content/`.
    pub path: String,
    /// What was wrong and what was done about it.
    pub message: String,
}

/// Counts for the one-line summary and the report's head.
#[derive(Debug, Clone, Default, Serialize)]
#[non_exhaustive]
pub struct Summary {
    /// Document pages rendered.
    pub documents: usize,
    /// Documents per format.
    pub documents_by_kind: BTreeMap<String, usize>,
    /// HTML pages written, listings included.
    pub pages: usize,
    /// Files written to the output, assets and originals included.
    pub files_written: usize,
    /// Agencies.
    pub agencies: usize,
    /// Wall-clock seconds per stage, in pipeline order. Not written into `public/`.
    pub timings: Vec<(String, f64)>,
    /// The process's peak resident memory (bytes) so far at the end of each stage, where the
    /// OS reports it (Linux); empty elsewhere. A stage whose figure rises set the new peak.
    pub stage_peak_bytes: Vec<(String, u64)>,
    /// Pages rendered with the theme.
    pub pages_rendered: usize,
    /// Pages left as the previous build wrote them: same template, values and body (see
    /// [`crate::page_cache`]).
    pub pages_reused: usize,
    /// Document bodies read back from where they waited (cache or spill file) because a page
    /// or the search index needed them; the other documents' pages and search terms were
    /// reused by their bodies' identity.
    pub bodies_read: usize,
    /// Seconds the render threads spent on the search index (tokenizing and storing each page's
    /// text), summed over threads; the `render` and `records` stages include them.
    pub search_seconds: f64,
    /// Source files read and hashed.
    pub sources_read: usize,
    /// Source files not read: their stamp vouched that they are as the previous build read
    /// them, and the cache held their extraction (see `leakpress::stamps`).
    pub sources_vouched: usize,
    /// Documents and records whose search terms came from the previous build's snapshot.
    pub search_reused: usize,
    /// Blocks of search postings the build kept for the next one.
    pub snapshot_blocks: usize,
    /// Of [`Summary::snapshot_blocks`], those copied unchanged from the previous build's
    /// snapshot rather than compressed again.
    pub snapshot_blocks_copied: usize,
    /// Of [`Summary::snapshot_blocks_copied`], those whose terms were not scored again:
    /// their search index files were the previous build's, kept as they were.
    pub snapshot_blocks_whole: usize,
    /// What the incremental cache did, when the build used one.
    pub cache: Option<crate::cache::CacheStats>,
    /// Output files rewritten, left as they were, and removed as no longer published.
    pub output: crate::output::WriteStats,
}

/// Everything the build has to say about its input.
#[derive(Debug, Default, Serialize)]
pub struct Report {
    /// Counts.
    pub summary: Summary,
    /// Fate of each input file, by path relative to `content/`.
    pub files: BTreeMap<String, Fate>,
    /// Folders skipped whole (hidden or excluded), with how many files they held.
    pub skipped_folders: BTreeMap<String, (String, usize)>,
    /// Every warning, in path order.
    pub warnings: Vec<Warning>,
}

impl Report {
    /// Records the fate of a file. A later call for the same file replaces the earlier one.
    pub fn record(&mut self, path: &str, fate: Fate) {
        self.files.insert(path.to_owned(), fate);
    }

    /// Records a skipped file.
    pub fn skip(&mut self, path: &str, reason: impl Into<String>) {
        self.record(
            path,
            Fate::Skipped {
                reason: reason.into(),
            },
        );
    }

    /// Records a folder skipped whole, with the number of files in it.
    pub fn skip_tree(&mut self, path: &str, reason: &str, files: usize) {
        self.skipped_folders
            .insert(path.to_owned(), (reason.to_owned(), files));
    }

    /// Adds a warning about a file.
    pub fn warn(&mut self, path: &str, message: impl Into<String>) {
        self.warnings.push(Warning {
            path: path.to_owned(),
            message: message.into(),
        });
    }

    /// Sorts warnings by path (stably, so one file's warnings keep their order).
    pub fn finish(&mut self) {
        self.warnings.sort_by(|a, b| a.path.cmp(&b.path));
    }

    /// The fate of a file, if recorded.
    pub fn fate(&self, path: &str) -> Option<&Fate> {
        self.files.get(path)
    }

    /// Warnings about one file.
    pub fn warnings_for<'a>(&'a self, path: &'a str) -> impl Iterator<Item = &'a Warning> + 'a {
        self.warnings.iter().filter(move |w| w.path == path)
    }

    /// The report as pretty JSON.
    pub fn to_json(&self) -> Result<String, serde_json::Error> {
        serde_json::to_string_pretty(self)
    }
}
