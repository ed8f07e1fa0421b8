//! Plain text (`.txt`, `.log`, …) in any encoding: UTF-8, UTF-16 with a BOM, or a guess by
//! chardetng (Windows-1252 for most legacy files). Shown preformatted, long lines wrapping.

use super::{ExtractContext, Extracted, Extractor, escape_html};
use crate::discover::SourceFile;

/// Extensions shown as plain text.
const TEXT_EXTENSIONS: &[&str] = &["txt", "text", "log", "asc", "nfo", "me"];

/// Shows text files preformatted.
pub(super) struct TextExtractor;

impl Extractor for TextExtractor {
    fn name(&self) -> &'static str {
        "text"
    }

    fn handles(&self, source: &SourceFile) -> bool {
        TEXT_EXTENSIONS.contains(&source.extension.as_str())
    }

    fn extract(&self, ctx: &ExtractContext<'_>) -> crate::Result<Extracted> {
        let mut extracted = self.extract_text(ctx);
        extracted.body_html = format!("<pre class=\"text\">{}</pre>", escape_html(&extracted.text));
        Ok(extracted)
    }

    fn extract_without_body(&self, ctx: &ExtractContext<'_>) -> Option<crate::Result<Extracted>> {
        Some(Ok(self.extract_text(ctx)))
    }
}

impl TextExtractor {
    /// The document, without its body.
    fn extract_text(&self, ctx: &ExtractContext<'_>) -> Extracted {
        let decoded = decode_text(ctx.bytes);
        let mut extracted = Extracted::default();
        if let Some(warning) = decoded.warning() {
            extracted.warnings.push(warning);
        }
        if decoded.text.trim().is_empty() {
            extracted.warnings.push("empty file".into());
        }
        extracted
            .facts
            .push(("Encoding".into(), decoded.encoding.to_owned()));
        extracted.text = decoded.text;
        extracted
    }
}

/// Text decoded from bytes of unknown encoding.
#[derive(Debug)]
pub(crate) struct Decoded {
    /// The text.
    pub(crate) text: String,
    /// The encoding used, by its WHATWG name.
    pub(crate) encoding: &'static str,
    /// Whether some bytes were invalid and replaced by U+FFFD.
    pub(crate) lossy: bool,
}

impl Decoded {
    /// A warning when the text was not clean UTF-8.
    pub(crate) fn warning(&self) -> Option<String> {
        if self.lossy {
            Some(format!(
                "invalid {} bytes replaced by \u{FFFD}",
                self.encoding
            ))
        } else if self.encoding != "UTF-8" {
            Some(format!("not UTF-8: decoded as {}", self.encoding))
        } else {
            None
        }
    }
}

/// Decodes bytes: a BOM decides; else valid UTF-8 is UTF-8; else chardetng guesses.
pub(crate) fn decode_text(bytes: &[u8]) -> Decoded {
    if let Some((encoding, bom_len)) = encoding_rs::Encoding::for_bom(bytes) {
        let (text, lossy) = encoding.decode_without_bom_handling(&bytes[bom_len..]);
        return Decoded {
            text: text.into_owned(),
            encoding: encoding.name(),
            lossy,
        };
    }
    if let Ok(text) = std::str::from_utf8(bytes) {
        return Decoded {
            text: text.to_owned(),
            encoding: "UTF-8",
            lossy: false,
        };
    }
    let mut detector = chardetng::EncodingDetector::new(chardetng::Iso2022JpDetection::Deny);
    detector.feed(bytes, true);
    let encoding = detector.guess(None, chardetng::Utf8Detection::Allow);
    let (text, lossy) = encoding.decode_without_bom_handling(bytes);
    Decoded {
        text: text.into_owned(),
        encoding: encoding.name(),
        lossy,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_utf8_utf16_and_windows_1252() {
        assert_eq!(decode_text("Résumé".as_bytes()).text, "Résumé");
        let utf16: Vec<u8> = [0xFF, 0xFE]
            .into_iter()
            .chain("Hi é".encode_utf16().flat_map(u16::to_le_bytes))
            .collect();
        let decoded = decode_text(&utf16);
        assert_eq!(
            (decoded.text.as_str(), decoded.encoding),
            ("Hi é", "UTF-16LE")
        );
        let cp1252 = b"Caf\xe9 \x93quoted\x94 report";
        let decoded = decode_text(cp1252);
        assert_eq!(decoded.text, "Café \u{201c}quoted\u{201d} report");
        assert_eq!(decoded.encoding, "windows-1252");
        assert!(decoded.warning().is_some());
    }
}
