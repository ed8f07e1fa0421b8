//! Markdown with optional YAML front matter (`---` … `---`): GFM tables, footnotes,
//! strikethrough, task lists, heading anchors. Raw HTML inside Markdown is leaked markup like
//! any other and is sanitized; Markdown without raw HTML, images or footnotes is made safe as
//! it is rendered, by the sanitizer's rules (see [`made_safe`]).

use pulldown_cmark::{
    Alignment, CodeBlockKind, CowStr, Event, HeadingLevel, LinkType, Options, Parser, Tag, TagEnd,
};

use super::metadata::Metadata;
use super::text::decode_text;
use super::{ExtractContext, Extracted, Extractor};
use crate::discover::SourceFile;
use crate::slug::slugify;

/// Renders `.md` and `.markdown` files.
pub(super) struct MarkdownExtractor;

impl Extractor for MarkdownExtractor {
    fn name(&self) -> &'static str {
        "markdown"
    }

    fn handles(&self, source: &SourceFile) -> bool {
        matches!(source.extension.as_str(), "md" | "markdown")
    }

    fn extract(&self, ctx: &ExtractContext<'_>) -> crate::Result<Extracted> {
        Ok(extract(ctx, true).expect("a body is always made when asked for"))
    }

    fn extract_without_body(&self, ctx: &ExtractContext<'_>) -> Option<crate::Result<Extracted>> {
        extract(ctx, false).map(Ok)
    }
}

/// The document in `ctx`, its body made only if `with_body`. Without it, `None` for a file
/// whose sanitizing may have something to report (raw HTML, images): its warnings belong to
/// the extraction, so it is extracted whole.
fn extract(ctx: &ExtractContext<'_>, with_body: bool) -> Option<Extracted> {
    let decoded = decode_text(ctx.bytes);
    let mut extracted = Extracted::default();
    if let Some(warning) = decoded.warning() {
        extracted.warnings.push(warning);
    }
    let (front, body) = split_front_matter(&decoded.text);
    match front {
        FrontMatter::None => {}
        FrontMatter::Unclosed => extracted
            .warnings
            .push("front matter starts with `---` but is never closed: shown as text".into()),
        FrontMatter::Yaml(yaml) => match Metadata::from_yaml(yaml) {
            Ok((meta, warnings)) => {
                extracted.meta = meta;
                extracted
                    .warnings
                    .extend(warnings.into_iter().map(|w| format!("front matter: {w}")));
            }
            Err(err) => extracted
                .warnings
                .push(format!("front matter is not valid YAML ({err}): ignored")),
        },
    }
    let rendered = render(body, extracted.meta.title.as_deref(), with_body)?;
    if extracted.meta.title.is_none() {
        extracted.meta.title = rendered.first_heading;
    }
    if let Some(html) = rendered.html {
        let safe = if rendered.safe {
            crate::sanitize::Sanitized {
                html,
                blocked_remote: 0,
            }
        } else {
            crate::sanitize::sanitize_html(&html)
        };
        if safe.blocked_remote > 0 {
            extracted.warnings.push(format!(
                "{} remote image(s) replaced by a placeholder",
                safe.blocked_remote
            ));
        }
        extracted.body_html = safe.html;
    }
    extracted.text = rendered.text;
    Some(extracted)
}

enum FrontMatter<'a> {
    None,
    Unclosed,
    Yaml(&'a str),
}

/// Splits `---\n<yaml>\n---\n<body>`; the closing line may also be `...`.
fn split_front_matter(text: &str) -> (FrontMatter<'_>, &str) {
    let Some(rest) = text
        .strip_prefix("---\n")
        .or_else(|| text.strip_prefix("---\r\n"))
    else {
        return (FrontMatter::None, text);
    };
    let mut offset = 0;
    for line in rest.split_inclusive('\n') {
        let trimmed = line.trim_end();
        if trimmed == "---" || trimmed == "..." {
            let yaml = &rest[..offset];
            return (FrontMatter::Yaml(yaml), &rest[offset + line.len()..]);
        }
        offset += line.len();
    }
    (FrontMatter::Unclosed, text)
}

struct Rendered {
    /// `None` when not asked for.
    html: Option<String>,
    /// Whether `html` is safe as it is (see [`made_safe`]); if not, it is leaked markup for
    /// the sanitizer.
    safe: bool,
    text: String,
    first_heading: Option<String>,
}

/// Renders Markdown for a page whose `<h1>` is the document title: a leading `# Title` that
/// repeats it (or becomes it, when there is no other title) is dropped, and every other
/// heading moves down a level, so the page has exactly one `<h1>`. Without `with_html`,
/// only the text and first heading, or `None` if the Markdown holds raw HTML or an image.
fn render(markdown: &str, title: Option<&str>, with_html: bool) -> Option<Rendered> {
    let options = Options::ENABLE_TABLES
        | Options::ENABLE_FOOTNOTES
        | Options::ENABLE_STRIKETHROUGH
        | Options::ENABLE_TASKLISTS
        | Options::ENABLE_HEADING_ATTRIBUTES;
    let events: Vec<Event<'_>> = Parser::new_ext(markdown, options).collect();
    if !with_html
        && events.iter().any(|event| {
            matches!(
                event,
                Event::Html(_) | Event::InlineHtml(_) | Event::Start(Tag::Image { .. })
            )
        })
    {
        return None;
    }

    // Headings get stable, unique ids from their text, so sections can be linked.
    let mut events = events;
    let mut text = String::with_capacity(markdown.len());
    let mut first_heading = None;
    let mut used_ids: Vec<String> = Vec::new();
    let mut i = 0;
    while i < events.len() {
        match &events[i] {
            Event::Start(Tag::Heading { level, id, .. }) => {
                let level = *level;
                let has_id = id.is_some();
                let mut heading_text = String::new();
                let mut j = i + 1;
                while j < events.len() && !matches!(events[j], Event::End(TagEnd::Heading(_))) {
                    if let Event::Text(t) | Event::Code(t) = &events[j] {
                        heading_text.push_str(t);
                    }
                    j += 1;
                }
                if level == HeadingLevel::H1 && first_heading.is_none() && !heading_text.is_empty()
                {
                    first_heading = Some(heading_text.trim().to_owned());
                }
                if !has_id {
                    let base = slugify(&heading_text);
                    let mut candidate = base.clone();
                    let mut n = 2;
                    while used_ids.contains(&candidate) {
                        candidate = format!("{base}-{n}");
                        n += 1;
                    }
                    used_ids.push(candidate.clone());
                    if let Event::Start(Tag::Heading { id, .. }) = &mut events[i] {
                        *id = Some(CowStr::from(candidate));
                    }
                }
            }
            Event::Text(t) | Event::Code(t) => text.push_str(t),
            Event::SoftBreak | Event::HardBreak => text.push(' '),
            Event::End(
                TagEnd::Paragraph | TagEnd::Heading(_) | TagEnd::Item | TagEnd::TableCell,
            ) => text.push('\n'),
            _ => {}
        }
        i += 1;
    }
    if !with_html {
        return Some(Rendered {
            html: None,
            safe: false,
            text,
            first_heading,
        });
    }
    let safe = !events.iter().any(needs_sanitizer);
    let leading_title_end = match events.first() {
        Some(Event::Start(Tag::Heading {
            level: HeadingLevel::H1,
            ..
        })) => {
            let end = events
                .iter()
                .position(|e| matches!(e, Event::End(TagEnd::Heading(_))))
                .unwrap_or(0);
            let repeats_title = match (title, &first_heading) {
                (None, Some(_)) => true,
                (Some(title), Some(heading)) => title.trim().eq_ignore_ascii_case(heading),
                _ => false,
            };
            repeats_title.then_some(end + 1)
        }
        _ => None,
    };
    let events = events
        .into_iter()
        .skip(leading_title_end.unwrap_or(0))
        .map(|event| match event {
            Event::Start(Tag::Heading {
                level,
                id,
                classes,
                attrs,
            }) => Event::Start(Tag::Heading {
                level: demote(level),
                id,
                classes,
                attrs,
            }),
            Event::End(TagEnd::Heading(level)) => Event::End(TagEnd::Heading(demote(level))),
            other => other,
        })
        .map(|event| if safe { made_safe(event) } else { event });
    let mut html = String::with_capacity(markdown.len() * 3 / 2);
    pulldown_cmark::html::push_html(&mut html, events);
    // Void elements as the sanitizer serializes them. With no raw HTML, a `<` in the output
    // is pulldown-cmark's own markup: text and code have theirs escaped.
    if safe && html.contains(" />") {
        html = html.replace("<hr />", "<hr>").replace("<br />", "<br>");
    }
    Some(Rendered {
        html: Some(html),
        safe,
        text,
        first_heading,
    })
}

/// Whether Markdown holding `event` must go through the HTML sanitizer: raw HTML is leaked
/// markup, images may load from the network, and footnotes name ids that [`made_safe`] does
/// not prefix.
fn needs_sanitizer(event: &Event<'_>) -> bool {
    matches!(
        event,
        Event::Html(_)
            | Event::InlineHtml(_)
            | Event::FootnoteReference(_)
            | Event::Start(Tag::Image { .. } | Tag::FootnoteDefinition(_))
    )
}

/// `event` of Markdown that holds nothing [`needs_sanitizer`] names, changed so that
/// pulldown-cmark's HTML for it is what the sanitizer would leave: every other element it
/// writes is on the sanitizer's allow-list with escaped text and attributes, so only link
/// targets, ids and attributes from the text need the sanitizer's rules. Parsing the
/// rendered HTML again to learn nothing more took 6.7% of a 10,000-document build's CPU.
fn made_safe(event: Event<'_>) -> Event<'_> {
    use crate::sanitize::{ID_PREFIX, LINK_REL};
    match event {
        // `{#id .class key=value}` after a heading: classes and other attributes go, as
        // the sanitizer drops them; ids take its prefix, so they cannot clobber the page's.
        Event::Start(Tag::Heading { level, id, .. }) => Event::Start(Tag::Heading {
            level,
            id: id.map(|id| CowStr::from(format!("{ID_PREFIX}{id}"))),
            classes: Vec::new(),
            attrs: Vec::new(),
        }),
        Event::Start(Tag::Link {
            link_type,
            dest_url,
            title,
            ..
        }) => {
            let target = if link_type == LinkType::Email {
                Some(format!("mailto:{dest_url}"))
            } else {
                crate::sanitize::allowed_link(&dest_url).map(std::borrow::Cow::into_owned)
            };
            let mut tag = String::from("<a");
            if let Some(target) = target {
                tag.push_str(" href=\"");
                // Writing to a String cannot fail.
                let _ = pulldown_cmark_escape::escape_href(&mut tag, &target);
                tag.push('"');
            }
            if !title.is_empty() {
                tag.push_str(" title=\"");
                let _ = pulldown_cmark_escape::escape_html(&mut tag, &title);
                tag.push('"');
            }
            tag.push_str(" rel=\"");
            tag.push_str(LINK_REL);
            tag.push_str("\">");
            Event::Html(CowStr::from(tag))
        }
        // Alignment is written as a `style` attribute, which the sanitizer drops (and the
        // page's Content-Security-Policy would refuse).
        Event::Start(Tag::Table(alignments)) => {
            Event::Start(Tag::Table(vec![Alignment::None; alignments.len()]))
        }
        // The language becomes a class, which the sanitizer drops.
        Event::Start(Tag::CodeBlock(CodeBlockKind::Fenced(_))) => {
            Event::Start(Tag::CodeBlock(CodeBlockKind::Fenced(CowStr::from(""))))
        }
        // As the sanitizer serializes it: an HTML void element, not XHTML's `/>`.
        Event::TaskListMarker(checked) => Event::Html(CowStr::from(if checked {
            "<input disabled=\"\" type=\"checkbox\" checked=\"\">\n"
        } else {
            "<input disabled=\"\" type=\"checkbox\">\n"
        })),
        other => other,
    }
}

fn demote(level: HeadingLevel) -> HeadingLevel {
    match level {
        HeadingLevel::H1 => HeadingLevel::H2,
        HeadingLevel::H2 => HeadingLevel::H3,
        HeadingLevel::H3 => HeadingLevel::H4,
        HeadingLevel::H4 => HeadingLevel::H5,
        HeadingLevel::H5 | HeadingLevel::H6 => HeadingLevel::H6,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn front_matter_is_split_off() {
        let (front, body) = split_front_matter("---\ntitle: A\n---\n# Body\n");
        assert!(matches!(front, FrontMatter::Yaml("title: A\n")));
        assert_eq!(body, "# Body\n");
        assert!(matches!(
            split_front_matter("---\ntitle: A\n").0,
            FrontMatter::Unclosed
        ));
        assert!(matches!(
            split_front_matter("# Just text").0,
            FrontMatter::None
        ));
    }

    #[test]
    fn renders_gfm_with_heading_anchors() {
        let out = render(
            "# Title\n\n## Part\n\n## Part\n\n|a|b|\n|-|-|\n|1|2|\n\n- [x] done\n\nx[^1]\n\n[^1]: note\n\n~~gone~~",
            None,
            true,
        )
        .unwrap();
        let html = out.html.unwrap_or_default();
        assert_eq!(out.first_heading.as_deref(), Some("Title"));
        // The page's <h1> is the title: the leading one is dropped, the rest move down.
        assert!(!html.contains("<h1"), "{html}");
        assert!(html.contains(r#"<h3 id="part">"#), "{html}");
        assert!(html.contains(r#"<h3 id="part-2">"#), "{html}");
        assert!(html.contains("<table>"));
        assert!(html.contains("<del>gone</del>"));
        assert!(html.contains("checkbox"));
        assert!(out.text.contains("Title\n"));
    }

    #[test]
    fn a_leading_heading_that_differs_from_the_title_stays() {
        let html = render("# Findings\n\ntext", Some("Quarterly report"), true)
            .and_then(|out| out.html)
            .unwrap_or_default();
        assert!(
            html.contains(r#"<h2 id="user-content-findings">Findings</h2>"#),
            "{html}"
        );
    }

    /// Markdown without raw HTML, images or footnotes skips the sanitizer: its HTML must be
    /// what the sanitizer makes of the same Markdown, hostile links and attributes included.
    #[test]
    fn markdown_made_safe_without_the_sanitizer_is_what_the_sanitizer_makes() {
        let cases = [
            "## H {#custom .cls onclick=alert(1) style=color:red}\n\n## H\n\n## H\n",
            "A [web](https://example.org/a?b=1&c=\"2\") link and [js](javascript:alert(1)).\n",
            "[js](JaVaScRiPt:alert(1)) [tab](java\tscript:x) [sp]( javascript:x ) [ent](javascript&#58;x) [esc](java\\script:x) [vb](vbscript:x)\n",
            "[rel](other/page.html) [up](../x) [abs](/root) [proto](//evil.example/x) [empty]()\n",
            "[frag](#h \"a \\\"title\\\"\") and [frag2](#a%20b) [q](?q=1)\n",
            "<https://auto.example/x?a=1&b=2> and <someone@example.org> and <javascript:alert(1)>\n",
            "[data](data:text/html,<script>x</script>) [mail](mailto:a@b.c?subject=\"x\")\n",
            "[ref][r] and [r]\n\n[r]: https://ref.example/ 'Ref title'\n",
            "[*nested* `code`](https://example.org/) **[bold link](http://x.example)**\n",
            "| a | b | c |\n|:-|-:|:-:|\n| 1 | 2 | <3 |\n",
            "```rust\nfn main() { \"<b>\" }\n```\n\n    indented <i>\n",
            "- [x] done\n- [ ] open\n\n1. one\n2. two\n\n5. five\n",
            "\"quoted\" & 'single' a < b > c `<code>` ~~gone~~ *em* __strong__\n\n---\n\n> quote\n",
            "line one  \nline two\\\nthree\n",
        ];
        for markdown in cases {
            let safe = render(markdown, None, true).unwrap();
            assert!(safe.safe, "{markdown}");
            // A comment is raw HTML, which sends the same Markdown to the sanitizer, and the
            // sanitizer drops it.
            let raw = render(&format!("{markdown}\n<!-- x -->\n"), None, true).unwrap();
            assert!(!raw.safe, "{markdown}");
            let sanitized = crate::sanitize::sanitize_html(&raw.html.unwrap()).html;
            assert_eq!(
                safe.html.unwrap().trim_end(),
                sanitized.trim_end(),
                "{markdown}"
            );
        }
    }

    fn extract_bytes(bytes: &[u8], with_body: bool) -> Option<Extracted> {
        let source = SourceFile {
            rel_path: "agency/notes/a.md".to_owned(),
            abs_path: "agency/notes/a.md".into(),
            agency: "agency".to_owned(),
            size: bytes.len() as u64,
            extension: "md".to_owned(),
            sidecar: None,
            stamp: None,
        };
        let config = crate::config::Config::default();
        let ctx = ExtractContext {
            source: &source,
            bytes,
            sidecar: None,
            config: &config,
        };
        extract(&ctx, with_body)
    }

    /// A body left to be made at render time must not change what is known of the document
    /// before: its title, summary text, metadata and warnings are the whole extraction's.
    #[test]
    fn without_the_body_the_document_is_the_same() {
        let cases: [&[u8]; 6] = [
            b"---\ntitle: Memo\ntags: [a, b]\ndate: 2019-05-01\n---\n# Memo\n\nSome *text* and `code`.\n",
            b"# Heading as title\n\nA paragraph\nover two lines.\n\n- item one\n- item two\n",
            b"---\ntitle: [unclosed\n---\nbody text\n",
            b"---\ntitle: never closed\n\nbody",
            b"Plain words, a [link](https://example.org/) and a footnote[^1].\n\n[^1]: note\n",
            b"caf\xe9 in Latin-1\n\n| a | b |\n|---|---|\n| 1 | 2 |\n",
        ];
        for bytes in cases {
            let whole = extract_bytes(bytes, true).expect("a body is always made");
            let light = extract_bytes(bytes, false).expect("no raw HTML nor images");
            let shown = String::from_utf8_lossy(bytes);
            assert!(!whole.body_html.is_empty(), "{shown}");
            assert!(light.body_html.is_empty(), "{shown}");
            assert_eq!(
                format!("{:?}", light.meta),
                format!("{:?}", whole.meta),
                "{shown}"
            );
            assert_eq!(light.text, whole.text, "{shown}");
            assert_eq!(light.warnings, whole.warnings, "{shown}");
            assert_eq!(light.facts, whole.facts, "{shown}");
        }
    }

    /// Sanitizing raw HTML or images may warn (a remote image blocked), so such files are
    /// extracted whole.
    #[test]
    fn raw_html_and_images_are_extracted_whole() {
        for markdown in [
            "text <b>bold</b>\n",
            "<div>block</div>\n",
            "![pixel](https://track.example/p.gif)\n",
            "![local](scan.png)\n",
        ] {
            assert!(
                extract_bytes(markdown.as_bytes(), false).is_none(),
                "{markdown}"
            );
            assert!(
                extract_bytes(markdown.as_bytes(), true).is_some(),
                "{markdown}"
            );
        }
    }
}
