//! Any other file (video, audio, archives, unknown binaries): a page with the file's facts
//! and a download link. It handles every file, so it is always last in the registry and is
//! the fallback when a format's extractor fails.

use super::{ExtractContext, Extracted, Extractor};
use crate::discover::SourceFile;

/// Describes a file it cannot read.
pub(super) struct OtherExtractor;

impl Extractor for OtherExtractor {
    fn name(&self) -> &'static str {
        "file"
    }

    fn handles(&self, _source: &SourceFile) -> bool {
        true
    }

    fn extract(&self, ctx: &ExtractContext<'_>) -> crate::Result<Extracted> {
        Ok(describe(ctx))
    }
}

/// The facts every file has: its detected type. Text for search is its file name.
pub(super) fn describe(ctx: &ExtractContext<'_>) -> Extracted {
    let mut extracted = Extracted::default();
    let detected = infer::get(ctx.bytes)
        .map(|kind| kind.mime_type().to_owned())
        .unwrap_or_else(|| {
            if ctx.bytes.is_empty() {
                "empty".to_owned()
            } else {
                "unknown (application/octet-stream)".to_owned()
            }
        });
    extracted.facts.push(("Detected type".into(), detected));
    extracted.text = ctx.source.file_name().replace(['_', '-', '.'], " ");
    extracted
}
