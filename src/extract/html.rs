//! HTML pages (`.html`, `.htm`): the page's `<body>` sanitized by [`crate::sanitize`] and shown
//! inline, its `<title>` as the document title. Leaked pages are hostile: scripts, event
//! handlers, `javascript:` links, `<base>`, `<meta refresh>`, frames and forms are all dropped by
//! the sanitizer, and remote images are replaced by a placeholder. The original stays
//! downloadable from the page.

use super::text::decode_text;
use super::{ExtractContext, Extracted, Extractor};
use crate::discover::SourceFile;

/// Shows HTML pages, sanitized.
pub(super) struct HtmlExtractor;

impl Extractor for HtmlExtractor {
    fn name(&self) -> &'static str {
        "html"
    }

    fn handles(&self, source: &SourceFile) -> bool {
        matches!(source.extension.as_str(), "html" | "htm" | "xhtml")
    }

    fn extract(&self, ctx: &ExtractContext<'_>) -> crate::Result<Extracted> {
        let mut extracted = Extracted::default();
        let (markup, encoding, warning) = decode_html(ctx.bytes);
        if let Some(warning) = warning {
            extracted.warnings.push(warning);
        }
        extracted
            .facts
            .push(("Encoding".into(), encoding.to_owned()));
        extracted.meta.title = title_of(&markup);
        let safe = crate::sanitize::sanitize_html(body_of(&markup));
        if safe.blocked_remote > 0 {
            extracted.warnings.push(format!(
                "{} remote image(s) replaced by a placeholder",
                safe.blocked_remote
            ));
        }
        extracted.text = html_to_text(&safe.html);
        if extracted.text.trim().is_empty() {
            extracted
                .warnings
                .push("no visible text in the page".into());
        }
        extracted.body_html = format!("<div class=\"leaked-html\">{}</div>", safe.html);
        Ok(extracted)
    }
}

/// Decodes an HTML file: a BOM, valid UTF-8, the `charset` the page declares, or a guess.
/// Returns the text, the encoding's name and a warning when it was not clean UTF-8.
pub(super) fn decode_html(bytes: &[u8]) -> (String, &'static str, Option<String>) {
    if encoding_rs::Encoding::for_bom(bytes).is_none()
        && std::str::from_utf8(bytes).is_err()
        && let Some(encoding) = declared_charset(bytes)
    {
        let (text, lossy) = encoding.decode_without_bom_handling(bytes);
        let warning = if lossy {
            format!("invalid {} bytes replaced by \u{FFFD}", encoding.name())
        } else {
            format!("not UTF-8: decoded as {} (declared)", encoding.name())
        };
        return (text.into_owned(), encoding.name(), Some(warning));
    }
    let decoded = decode_text(bytes);
    let warning = decoded.warning();
    (decoded.text, decoded.encoding, warning)
}

/// The `charset=` a page declares in its first 4 KB.
fn declared_charset(bytes: &[u8]) -> Option<&'static encoding_rs::Encoding> {
    let head = &bytes[..bytes.len().min(4096)];
    let lower: Vec<u8> = head.to_ascii_lowercase();
    let at = lower.windows(8).position(|w| w == b"charset=")?;
    let rest = &lower[at + 8..];
    let rest = rest
        .strip_prefix(b"\"")
        .or_else(|| rest.strip_prefix(b"'"))
        .unwrap_or(rest);
    let end = rest
        .iter()
        .position(|b| !(b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b':' | b'.')))
        .unwrap_or(rest.len());
    encoding_rs::Encoding::for_label(&rest[..end])
}

/// Finds `needle` (ASCII, lower case) in `haystack`, ignoring ASCII case.
fn find_ci(haystack: &str, needle: &str, from: usize) -> Option<usize> {
    let bytes = haystack.as_bytes();
    let n = needle.as_bytes();
    if from >= bytes.len() || n.len() > bytes.len() - from {
        return None;
    }
    (from..=bytes.len() - n.len()).find(|&i| bytes[i..i + n.len()].eq_ignore_ascii_case(n))
}

/// The text of the first `<title>`, entities decoded and whitespace folded.
pub(super) fn title_of(markup: &str) -> Option<String> {
    let open = find_ci(markup, "<title", 0)?;
    let start = open + markup[open..].find('>')? + 1;
    let end = find_ci(markup, "</title", start).unwrap_or(markup.len().min(start + 500));
    let raw = markup.get(start..end)?;
    let title = decode_entities(raw)
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ");
    let title: String = title.chars().take(300).collect();
    (!title.is_empty()).then_some(title)
}

/// The inside of `<body>` when the page has one (so the `<head>`'s title and styles do not
/// leak into the shown body as text), else the whole markup. What is cut here is only about
/// presentation: everything returned still goes through the sanitizer.
fn body_of(markup: &str) -> &str {
    let Some(open) = find_ci(markup, "<body", 0) else {
        // No body tag: drop a head if there is one.
        return match find_ci(markup, "</head", 0) {
            Some(end) => markup[end..].split_once('>').map_or("", |(_, rest)| rest),
            None => markup,
        };
    };
    let Some(gt) = markup[open..].find('>') else {
        return markup;
    };
    let start = open + gt + 1;
    let end = find_ci(markup, "</body", start).unwrap_or(markup.len());
    &markup[start..end]
}

/// Plain text of sanitized (well-formed, script-free) HTML: tags removed, block ends as line
/// breaks, entities decoded.
pub(super) fn html_to_text(safe_html: &str) -> String {
    const BLOCKS: &[&str] = &[
        "p",
        "div",
        "br",
        "li",
        "tr",
        "h1",
        "h2",
        "h3",
        "h4",
        "h5",
        "h6",
        "table",
        "blockquote",
        "pre",
        "ul",
        "ol",
        "dt",
        "dd",
        "hr",
        "section",
        "article",
        "td",
        "th",
    ];
    let mut text = String::with_capacity(safe_html.len());
    let mut rest = safe_html;
    while let Some(lt) = rest.find('<') {
        text.push_str(&decode_entities(&rest[..lt]));
        let Some(gt) = rest[lt..].find('>') else {
            rest = "";
            break;
        };
        let tag = &rest[lt + 1..lt + gt];
        let closing = tag.starts_with('/');
        let name: String = tag
            .trim_start_matches('/')
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric())
            .collect::<String>()
            .to_ascii_lowercase();
        if BLOCKS.contains(&name.as_str()) {
            if name == "td" || name == "th" {
                if !closing {
                    text.push('\t');
                }
            } else if (closing || name == "br" || name == "hr")
                && !text.is_empty()
                && !text.ends_with('\n')
            {
                text.push('\n');
            }
        }
        rest = &rest[lt + gt + 1..];
    }
    text.push_str(&decode_entities(rest));
    text
}

/// Decodes character references: numeric ones and the common named ones.
pub(super) fn decode_entities(text: &str) -> String {
    if !text.contains('&') {
        return text.to_owned();
    }
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(amp) = rest.find('&') {
        out.push_str(&rest[..amp]);
        rest = &rest[amp..];
        let end = rest[1..]
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '#'))
            .map(|i| i + 1)
            .unwrap_or(rest.len());
        let name = &rest[1..end];
        let decoded = if let Some(num) = name.strip_prefix("#x").or_else(|| name.strip_prefix("#X"))
        {
            u32::from_str_radix(num, 16).ok().and_then(char::from_u32)
        } else if let Some(num) = name.strip_prefix('#') {
            num.parse::<u32>().ok().and_then(char::from_u32)
        } else {
            match name {
                "amp" => Some('&'),
                "lt" => Some('<'),
                "gt" => Some('>'),
                "quot" => Some('"'),
                "apos" => Some('\''),
                "nbsp" => Some('\u{a0}'),
                "mdash" => Some('—'),
                "ndash" => Some('–'),
                "hellip" => Some('…'),
                "copy" => Some('©'),
                "reg" => Some('®'),
                "rsquo" => Some('\u{2019}'),
                "lsquo" => Some('\u{2018}'),
                "rdquo" => Some('\u{201d}'),
                "ldquo" => Some('\u{201c}'),
                _ => None,
            }
        };
        match decoded {
            Some(c) => {
                out.push(c);
                let consumed = if rest[end..].starts_with(';') {
                    end + 1
                } else {
                    end
                };
                rest = &rest[consumed..];
            }
            None => {
                out.push('&');
                rest = &rest[1..];
            }
        }
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn title_and_body_are_found() {
        let page = "<!DOCTYPE html><html><HEAD><Title>Q3 &amp; Q4\n report</title><style>p{}</style></head>\
                    <body class=x><p>Hello <b>there</b></p></body></html>";
        assert_eq!(title_of(page).as_deref(), Some("Q3 & Q4 report"));
        assert_eq!(body_of(page), "<p>Hello <b>there</b></p>");
        assert_eq!(title_of("<p>no title</p>"), None);
    }

    #[test]
    fn text_of_sanitized_html() {
        assert_eq!(
            html_to_text(
                "<p>a &amp; b</p><p>c&nbsp;d</p><table><tr><td>1</td><td>2</td></tr></table>"
            ),
            "a & b\nc\u{a0}d\n\t1\t2\n"
        );
    }

    #[test]
    fn declared_charset_is_used() {
        let bytes = b"<meta charset=\"windows-1251\"><title>\xcf\xf0\xe8\xe2\xe5\xf2</title>";
        let (text, encoding, warning) = decode_html(bytes);
        assert_eq!(encoding, "windows-1251");
        assert!(text.contains("Привет"), "{text}");
        assert!(warning.is_some());
    }
}
