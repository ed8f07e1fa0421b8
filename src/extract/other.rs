//! Any other file (video, audio, archives, unknown binaries): a page with the file's facts
//! and a download link. It handles every file, so it is always last in the registry and is
//! the fallback when a format's extractor fails.
//!
//! Audio and video a browser plays natively get a player pointing at the published original
//! (through [`super::ORIGINAL_URL`]). Formats that can carry script when a browser opens them
//! (SVG, XML, …) are never shown inline: a download only, with a warning.

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
    let ext = ctx.source.extension.as_str();
    if let Some((element, mime)) = player(ext) {
        extracted.body_html = format!(
            "<{element} class=\"media-player\" controls preload=\"metadata\" src=\"{}\">\
             Your browser cannot play this {element} ({mime}); download the original.</{element}>",
            super::ORIGINAL_URL
        );
        extracted.facts.push(("Player".into(), element.to_owned()));
    } else if super::ACTIVE_EXTENSIONS.contains(&ext) {
        extracted.warnings.push(format!(
            "a .{ext} file can run script when opened in a browser: not shown, offered as a download only"
        ));
    }
    extracted
}

/// The element that plays a web-playable audio or video file, and its MIME type.
fn player(extension: &str) -> Option<(&'static str, &'static str)> {
    Some(match extension {
        "mp4" | "m4v" => ("video", "video/mp4"),
        "webm" => ("video", "video/webm"),
        "ogv" => ("video", "video/ogg"),
        "mp3" => ("audio", "audio/mpeg"),
        "m4a" | "aac" => ("audio", "audio/mp4"),
        "wav" => ("audio", "audio/wav"),
        "ogg" | "oga" | "opus" => ("audio", "audio/ogg"),
        "flac" => ("audio", "audio/flac"),
        _ => return None,
    })
}
