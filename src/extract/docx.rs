//! Word documents (`.docx`): the text of `word/document.xml` — paragraphs, headings, line
//! breaks, tables — as simple HTML built from escaped text, plus title and date from
//! `docProps/core.xml`. Nothing from the file is passed through as markup.
//!
//! A DOCX is a zip, so it may be a zip bomb: no entry is decompressed past
//! [`MAX_ENTRY_BYTES`]; a larger one is cut there with a warning.

use std::io::{Cursor, Read};

use quick_xml::events::{BytesStart, Event};

use super::{ExtractContext, Extracted, Extractor, escape_html};
use crate::dates::DocDate;
use crate::discover::SourceFile;

/// Most bytes decompressed from one entry of the archive.
pub const MAX_ENTRY_BYTES: u64 = 50 * 1024 * 1024;

/// Extracts the text of Word documents.
pub(super) struct DocxExtractor;

impl Extractor for DocxExtractor {
    fn name(&self) -> &'static str {
        "docx"
    }

    fn handles(&self, source: &SourceFile) -> bool {
        matches!(source.extension.as_str(), "docx" | "docm" | "dotx")
    }

    fn extract(&self, ctx: &ExtractContext<'_>) -> crate::Result<Extracted> {
        let mut extracted = Extracted::default();
        let mut archive = match zip::ZipArchive::new(Cursor::new(ctx.bytes)) {
            Ok(archive) => archive,
            Err(err) => {
                return Err(crate::Error::Other(format!(
                    "not a readable DOCX (zip) file: {err}"
                )));
            }
        };
        let xml = match read_entry(&mut archive, "word/document.xml", &mut extracted.warnings) {
            Some(xml) => xml,
            None => {
                return Err(crate::Error::Other(
                    "no readable word/document.xml inside: not a Word document".into(),
                ));
            }
        };
        if let Some(core) = read_entry(&mut archive, "docProps/core.xml", &mut extracted.warnings) {
            let (title, date) = core_properties(&core);
            extracted.meta.title = title;
            extracted.meta.date = date;
        }
        let converted = convert(&xml);
        if let Some(problem) = converted.problem {
            extracted.warnings.push(format!(
                "document.xml is malformed ({problem}): text shown up to there"
            ));
        }
        if converted.text.trim().is_empty() {
            extracted.warnings.push("no text in the document".into());
        }
        extracted
            .facts
            .push(("Paragraphs".into(), converted.paragraphs.to_string()));
        if converted.tables > 0 {
            extracted
                .facts
                .push(("Tables".into(), converted.tables.to_string()));
        }
        if extracted.meta.title.is_none() {
            extracted.meta.title = converted.first_heading;
        }
        extracted.body_html = format!("<div class=\"docx\">{}</div>", converted.html);
        extracted.text = converted.text;
        Ok(extracted)
    }
}

/// Reads one entry as text, decompressing at most [`MAX_ENTRY_BYTES`].
fn read_entry(
    archive: &mut zip::ZipArchive<Cursor<&[u8]>>,
    name: &str,
    warnings: &mut Vec<String>,
) -> Option<String> {
    let entry = match archive.by_name(name) {
        Ok(entry) => entry,
        Err(zip::result::ZipError::FileNotFound) => return None,
        Err(err) => {
            warnings.push(format!("{name} unreadable ({err})"));
            return None;
        }
    };
    let claimed = entry.size();
    let mut bytes = Vec::with_capacity(claimed.min(MAX_ENTRY_BYTES) as usize);
    let read = entry.take(MAX_ENTRY_BYTES + 1).read_to_end(&mut bytes);
    if let Err(err) = read {
        warnings.push(format!("{name} is damaged ({err}): read up to the damage"));
    }
    if bytes.len() as u64 > MAX_ENTRY_BYTES {
        bytes.truncate(MAX_ENTRY_BYTES as usize);
        warnings.push(format!(
            "{name} decompresses to more than {} MiB (zip bomb?): cut there",
            MAX_ENTRY_BYTES / (1024 * 1024)
        ));
    }
    Some(match String::from_utf8(bytes) {
        Ok(text) => text,
        Err(err) => String::from_utf8_lossy(err.as_bytes()).into_owned(),
    })
}

/// `dc:title` and `dcterms:created` (or `modified`).
fn core_properties(xml: &str) -> (Option<String>, Option<DocDate>) {
    let mut reader = quick_xml::Reader::from_str(xml);
    let mut current = String::new();
    let mut title = None;
    let mut created = None;
    let mut modified = None;
    loop {
        match reader.read_event() {
            Ok(Event::Start(e)) => current = e.local_name().as_ref().to_owned(),
            Ok(Event::Text(t)) => {
                let value = t.trim();
                if value.is_empty() {
                    continue;
                }
                match current.as_str() {
                    "title" => title = Some(value.to_owned()),
                    "created" => created = DocDate::parse(value),
                    "modified" => modified = DocDate::parse(value),
                    _ => {}
                }
            }
            Ok(Event::End(_)) => current.clear(),
            Ok(Event::Eof) | Err(_) => break,
            _ => {}
        }
    }
    (title, created.or(modified))
}

/// The document body as safe HTML and text.
#[derive(Debug, Default)]
struct Converted {
    html: String,
    text: String,
    paragraphs: usize,
    tables: usize,
    first_heading: Option<String>,
    problem: Option<String>,
}

fn convert(xml: &str) -> Converted {
    let mut out = Converted::default();
    let mut reader = quick_xml::Reader::from_str(xml);
    let mut paragraph = String::new();
    let mut style: Option<String> = None;
    let mut in_text = false;
    let mut table_depth = 0usize;
    let mut cell_has_paragraph = false;
    loop {
        let event = match reader.read_event() {
            Ok(event) => event,
            Err(err) => {
                out.problem = Some(err.to_string());
                break;
            }
        };
        match event {
            Event::Start(e) => match e.local_name().as_ref() {
                "p" => {
                    paragraph.clear();
                    style = None;
                }
                "t" => in_text = true,
                "pStyle" => style = attribute(&e, "val"),
                "tbl" => {
                    table_depth += 1;
                    out.tables += 1;
                    out.html.push_str("<table class=\"docx-table\">");
                }
                "tr" if table_depth > 0 => out.html.push_str("<tr>"),
                "tc" if table_depth > 0 => {
                    cell_has_paragraph = false;
                    out.html.push_str("<td>");
                }
                _ => {}
            },
            Event::Empty(e) => match e.local_name().as_ref() {
                "pStyle" => style = attribute(&e, "val"),
                "tab" => paragraph.push('\t'),
                "br" | "cr" => paragraph.push('\n'),
                "p" if table_depth == 0 => {
                    out.html.push_str("<p></p>");
                }
                _ => {}
            },
            Event::Text(t) if in_text => paragraph.push_str(&t.xml10_content()),
            Event::GeneralRef(r) if in_text => {
                if let Ok(Some(c)) = r.resolve_char_ref() {
                    paragraph.push(c);
                } else if let Some(c) = match &*r {
                    "amp" => Some('&'),
                    "lt" => Some('<'),
                    "gt" => Some('>'),
                    "quot" => Some('"'),
                    "apos" => Some('\''),
                    _ => None,
                } {
                    paragraph.push(c);
                }
            }
            Event::End(e) => match e.local_name().as_ref() {
                "t" => in_text = false,
                "p" => {
                    out.paragraphs += 1;
                    emit_paragraph(
                        &mut out,
                        &paragraph,
                        style.as_deref(),
                        table_depth > 0,
                        &mut cell_has_paragraph,
                    );
                    paragraph.clear();
                }
                "tc" if table_depth > 0 => {
                    out.html.push_str("</td>");
                    out.text.push('\t');
                }
                "tr" if table_depth > 0 => {
                    out.html.push_str("</tr>");
                    out.text.push('\n');
                }
                "tbl" if table_depth > 0 => {
                    table_depth -= 1;
                    out.html.push_str("</table>");
                }
                _ => {}
            },
            Event::Eof => break,
            _ => {}
        }
    }
    // Close what a truncated or malformed file left open, so the HTML stays balanced.
    for _ in 0..table_depth {
        out.html.push_str("</table>");
    }
    if !paragraph.trim().is_empty() {
        emit_paragraph(
            &mut out,
            &paragraph,
            style.as_deref(),
            false,
            &mut cell_has_paragraph,
        );
    }
    out
}

fn emit_paragraph(
    out: &mut Converted,
    text: &str,
    style: Option<&str>,
    in_cell: bool,
    cell_has_paragraph: &mut bool,
) {
    let escaped = escape_html(text).replace('\n', "<br>");
    if in_cell {
        if *cell_has_paragraph {
            out.html.push_str("<br>");
        }
        out.html.push_str(&escaped);
        *cell_has_paragraph = true;
        out.text.push_str(text);
        out.text.push(' ');
        return;
    }
    let level = style.and_then(heading_level);
    match level {
        Some(level) if !text.trim().is_empty() => {
            out.html
                .push_str(&format!("<h{level}>{escaped}</h{level}>"));
            if out.first_heading.is_none() {
                out.first_heading = Some(text.trim().to_owned());
            }
        }
        _ => out.html.push_str(&format!("<p>{escaped}</p>")),
    }
    out.text.push_str(text);
    out.text.push('\n');
}

/// `Title` → 1, `Heading1` → 2 … (page headings shift down one, as the page has its own h1).
fn heading_level(style: &str) -> Option<u8> {
    let lower = style.to_ascii_lowercase();
    if lower == "title" {
        return Some(2);
    }
    let n: u8 = lower.strip_prefix("heading")?.trim().parse().ok()?;
    Some((n + 1).clamp(2, 6))
}

fn attribute(e: &BytesStart<'_>, local: &str) -> Option<String> {
    e.attributes()
        .with_checks(false)
        .flatten()
        .find(|a| a.key.local_name().as_ref() == local)
        .and_then(|a| {
            a.normalized_value(quick_xml::XmlVersion::Implicit1_0)
                .ok()
                .map(|v| v.into_owned())
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn converts_paragraphs_headings_and_tables() {
        let xml = r#"<?xml version="1.0"?><w:document xmlns:w="x"><w:body>
            <w:p><w:pPr><w:pStyle w:val="Heading1"/></w:pPr><w:r><w:t>Risk &amp; Threat</w:t></w:r></w:p>
            <w:p><w:r><w:t xml:space="preserve">Line one </w:t><w:br/><w:t>&lt;script&gt;two</w:t></w:r></w:p>
            <w:tbl><w:tr><w:tc><w:p><w:r><w:t>A</w:t></w:r></w:p></w:tc><w:tc><w:p><w:r><w:t>B</w:t></w:r></w:p></w:tc></w:tr></w:tbl>
            </w:body></w:document>"#;
        let out = convert(xml);
        assert_eq!(out.problem, None);
        assert!(
            out.html.contains("<h2>Risk &amp; Threat</h2>"),
            "{}",
            out.html
        );
        assert!(
            out.html.contains("<p>Line one <br>&lt;script&gt;two</p>"),
            "{}",
            out.html
        );
        assert!(
            out.html
                .contains("<table class=\"docx-table\"><tr><td>A</td><td>B</td></tr></table>"),
            "{}",
            out.html
        );
        assert_eq!(out.first_heading.as_deref(), Some("Risk & Threat"));
        assert_eq!(out.tables, 1);
    }

    #[test]
    fn truncated_xml_stays_balanced() {
        let out = convert("<w:document><w:body><w:tbl><w:tr><w:tc><w:p><w:r><w:t>cut");
        assert!(out.html.contains("</table>"), "{}", out.html);
        assert!(out.text.contains("cut"));
    }
}
