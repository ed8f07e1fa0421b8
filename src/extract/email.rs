//! Mail (`.eml`, and `.mbox` as one page with every message in it, replies linked to the
//! message they answer): From/To/Cc/Date/Subject as a header table, the body as escaped text
//! or sanitized HTML, attachments published beside the page as derived files (images with
//! previews), and inline `cid:` images resolved to their attachment's preview. Threading ids
//! go to `collect`, which groups messages into threads across files.
//!
//! Leaked mail is hostile: HTML bodies go through [`crate::sanitize`] (tracking pixels are
//! replaced by a placeholder), attachments get safe ASCII names, and attachments a browser
//! would run (HTML, SVG, XML) get a `.txt` suffix so opening one never runs its script on the
//! archive's origin. Broken MIME (a boundary that never appears, a missing closing boundary)
//! is shown as found, with a warning.

use std::collections::HashMap;

use lol_html::{RewriteStrSettings, element, rewrite_str};
use mail_parser::{Address, Message, MessageParser, MimeHeaders};

use super::image::{IMAGE_EXTENSIONS, previews};
use super::text::decode_text;
use super::{DerivedFile, ExtractContext, Extracted, Extractor, escape_html, safe_derived_name};
use crate::dates::DocDate;
use crate::discover::SourceFile;

/// Most messages shown from one mailbox file.
const MAX_MBOX_MESSAGES: usize = 1000;
/// Most attachments published from one message.
const MAX_ATTACHMENTS: usize = 200;

/// Shows mail.
pub(super) struct EmailExtractor;

impl Extractor for EmailExtractor {
    fn name(&self) -> &'static str {
        "email"
    }

    fn handles(&self, source: &SourceFile) -> bool {
        matches!(source.extension.as_str(), "eml" | "mbox")
    }

    fn extract(&self, ctx: &ExtractContext<'_>) -> crate::Result<Extracted> {
        let mut extracted = Extracted::default();
        if ctx.source.extension == "mbox" {
            extract_mbox(ctx.bytes, &mut extracted);
            return Ok(extracted);
        }
        let parser = MessageParser::default();
        match parser.parse(ctx.bytes) {
            Some(message) if !message.headers().is_empty() => {
                let shown = show_message(&message, ctx.bytes, "", &mut extracted);
                extracted.meta.title = shown.subject;
                extracted.meta.date = shown.date;
                extracted.body_html = shown.html;
                extracted.text = shown.text;
                // Listings show the start of the message, not its headers.
                let body_text = message.body_text(0).unwrap_or_default();
                if !body_text.trim().is_empty() {
                    extracted.meta.summary = Some(crate::document::excerpt(&body_text, 240));
                }
                if let Some(id) = message.message_id() {
                    extracted.facts.push(("Message-ID".into(), id.to_owned()));
                }
                extracted.mail_ids = Some(mail_ids(&message));
            }
            _ => {
                extracted
                    .warnings
                    .push("no mail headers found: shown as plain text".into());
                let decoded = decode_text(ctx.bytes);
                extracted.body_html =
                    format!("<pre class=\"text\">{}</pre>", escape_html(&decoded.text));
                extracted.text = decoded.text;
            }
        }
        Ok(extracted)
    }
}

/// A mailbox: one section per message, in file order, each reply linking the message it
/// answers when that message is in the same mailbox. The mailbox is one document, so it takes
/// part in the threads of all its messages (see [`super::MailIds::in_mailbox`]).
fn extract_mbox(bytes: &[u8], extracted: &mut Extracted) {
    let parser = MessageParser::default();
    let mut text = String::new();
    let mut first_subject = None;
    let mut messages: Vec<MboxMessage> = Vec::new();
    for (n, item) in mail_parser::mailbox::mbox::MessageIterator::new(bytes).enumerate() {
        if n == MAX_MBOX_MESSAGES {
            extracted.warnings.push(format!(
                "mailbox has more than {MAX_MBOX_MESSAGES} messages: only the first {MAX_MBOX_MESSAGES} are shown"
            ));
            break;
        }
        let Ok(item) = item else {
            extracted.warnings.push(format!(
                "message {} of the mailbox is unreadable: skipped",
                n + 1
            ));
            continue;
        };
        let raw = item.contents();
        let Some(message) = parser.parse(raw) else {
            extracted.warnings.push(format!(
                "message {} of the mailbox is not mail: skipped",
                n + 1
            ));
            continue;
        };
        let shown = show_message(&message, raw, &format!("m{}-", n + 1), extracted);
        if extracted.meta.date.is_none() {
            extracted.meta.date = shown.date;
        }
        if first_subject.is_none() {
            first_subject = shown.subject.clone();
        }
        text.push_str(&shown.text);
        text.push_str("\n\n");
        messages.push(MboxMessage {
            number: n + 1,
            subject: shown.subject,
            ids: mail_ids(&message),
            html: shown.html,
        });
    }
    let count = messages.len();
    let mut html = String::new();
    if count == 0 {
        extracted
            .warnings
            .push("no messages found in the mailbox".into());
        let decoded = decode_text(bytes);
        html = format!("<pre class=\"text\">{}</pre>", escape_html(&decoded.text));
        text = decoded.text;
    } else {
        let threads = mailbox_threads(&messages);
        if threads.iter().any(|t| t.len() > 1) {
            extracted.facts.push((
                "Threads".into(),
                threads.iter().filter(|t| t.len() > 1).count().to_string(),
            ));
            html.push_str("<nav class=\"mbox-threads\"><h2>Threads in this mailbox</h2><ul>");
            for thread in threads.iter().filter(|t| t.len() > 1) {
                let items: Vec<String> = thread.iter().map(|&i| messages[i].link()).collect();
                html.push_str(&format!("<li>{}</li>", items.join(" → ")));
            }
            html.push_str("</ul></nav>");
        }
        let by_id: HashMap<&str, usize> = messages
            .iter()
            .enumerate()
            .filter_map(|(i, m)| m.ids.message_id.as_deref().map(|id| (id, i)))
            .collect();
        for message in &messages {
            // In-Reply-To comes first in `parents`, so the nearest ancestor here wins.
            let reply_line = message
                .ids
                .parents
                .iter()
                .find_map(|p| by_id.get(p.as_str()))
                .map(|&i| {
                    format!(
                        "<p class=\"in-reply-to\">In reply to {}</p>",
                        messages[i].link()
                    )
                })
                .unwrap_or_default();
            html.push_str(&format!(
                "<article class=\"email-message\" id=\"message-{}\">{reply_line}{}</article>",
                message.number, message.html
            ));
        }
    }
    extracted.mail_ids = mailbox_ids(&messages);
    extracted.facts.push(("Messages".into(), count.to_string()));
    extracted.meta.title = first_subject.map(|s| {
        if count > 1 {
            format!("{s} (+{} more messages)", count - 1)
        } else {
            s
        }
    });
    extracted.body_html = html;
    extracted.text = text;
}

/// One readable message of a mailbox.
struct MboxMessage {
    /// Its place in the file, from 1 (skipped messages keep their numbers).
    number: usize,
    subject: Option<String>,
    ids: super::MailIds,
    /// Its headers, body and attachments, ready to show.
    html: String,
}

impl MboxMessage {
    /// A link to its section of the mailbox page.
    fn link(&self) -> String {
        format!(
            "<a href=\"#message-{0}\">message {0}: {1}</a>",
            self.number,
            escape_html(self.subject.as_deref().unwrap_or("(no subject)"))
        )
    }
}

/// Groups a mailbox's messages (indexes into `messages`) into threads by the ids they share,
/// each in file order; threads ordered by their first message.
fn mailbox_threads(messages: &[MboxMessage]) -> Vec<Vec<usize>> {
    let mut group: Vec<usize> = (0..messages.len()).collect();
    fn root(group: &mut [usize], mut x: usize) -> usize {
        while group[x] != x {
            group[x] = group[group[x]];
            x = group[x];
        }
        x
    }
    let mut first_naming: HashMap<&str, usize> = HashMap::new();
    for (i, message) in messages.iter().enumerate() {
        let ids = &message.ids;
        for id in ids.message_id.iter().chain(&ids.parents) {
            match first_naming.get(id.as_str()) {
                Some(&other) => {
                    let (a, b) = (root(&mut group, i), root(&mut group, other));
                    group[a.max(b)] = a.min(b);
                }
                None => {
                    first_naming.insert(id, i);
                }
            }
        }
    }
    let mut threads: std::collections::BTreeMap<usize, Vec<usize>> = Default::default();
    for i in 0..messages.len() {
        threads.entry(root(&mut group, i)).or_default().push(i);
    }
    threads.into_values().collect()
}

/// The mailbox document's threading ids: every id its messages carry, first seen first.
fn mailbox_ids(messages: &[MboxMessage]) -> Option<super::MailIds> {
    let mut in_mailbox: Vec<String> = Vec::new();
    let mut seen = std::collections::HashSet::new();
    for message in messages {
        let ids = &message.ids;
        for id in ids.message_id.iter().chain(&ids.parents) {
            if seen.insert(id.as_str()) {
                in_mailbox.push(id.clone());
            }
        }
    }
    (!in_mailbox.is_empty()).then(|| super::MailIds {
        in_mailbox,
        ..super::MailIds::default()
    })
}

/// One message, ready to show.
struct Shown {
    subject: Option<String>,
    date: Option<DocDate>,
    html: String,
    text: String,
}

/// Renders the headers, body and attachments of `message`; derived files, facts and warnings
/// go into `extracted`. `prefix` keeps derived names apart when a mailbox holds many messages.
fn show_message(
    message: &Message<'_>,
    raw: &[u8],
    prefix: &str,
    extracted: &mut Extracted,
) -> Shown {
    let subject = message
        .subject()
        .map(|s| s.split_whitespace().collect::<Vec<_>>().join(" "))
        .filter(|s| !s.is_empty());
    let date = message
        .header_raw("Date")
        .and_then(DocDate::parse)
        .or_else(|| message.date().and_then(|d| DocDate::parse(&d.to_rfc3339())));
    if message.header_raw("Date").is_some() && date.is_none() {
        extracted
            .warnings
            .push(format!("{prefix}Date header is not a date: ignored"));
    }
    let boundary_missing = !check_mime(message, raw, prefix, &mut extracted.warnings);

    let mut html = String::from("<table class=\"email-headers\">");
    let mut text = String::new();
    let mut header_row = |name: &str, value: &str| {
        if !value.is_empty() {
            html.push_str(&format!(
                "<tr><th scope=\"row\">{name}</th><td>{}</td></tr>",
                escape_html(value)
            ));
            text.push_str(&format!("{name}: {value}\n"));
        }
    };
    header_row("From", &addresses(message.from()));
    header_row("To", &addresses(message.to()));
    header_row("Cc", &addresses(message.cc()));
    header_row(
        "Date",
        message
            .header_raw("Date")
            .map(str::trim)
            .unwrap_or_default(),
    );
    header_row("Subject", subject.as_deref().unwrap_or("(no subject)"));
    html.push_str("</table>");
    text.push('\n');

    // Attachments first, so the body can point its cid: images at them.
    let mut cids: HashMap<String, String> = HashMap::new();
    let mut list = String::new();
    let mut published = 0;
    // With its boundary missing, a multipart body is one opaque part: shown as text below.
    let attachments = message.attachments().filter(|_| !boundary_missing);
    for (n, part) in attachments.enumerate() {
        if n == MAX_ATTACHMENTS {
            extracted.warnings.push(format!(
                "{prefix}more than {MAX_ATTACHMENTS} attachments: the rest are not published"
            ));
            break;
        }
        let (given_name, bytes): (String, &[u8]) = match part.message() {
            Some(nested) => (
                part.attachment_name()
                    .map(str::to_owned)
                    .unwrap_or_else(|| "forwarded-message.eml".into()),
                nested.raw_message(),
            ),
            None => (
                part.attachment_name()
                    .map(str::to_owned)
                    .unwrap_or_else(|| default_attachment_name(part.content_type())),
                part.contents(),
            ),
        };
        // Only the last path segment: a name like `../../x.html` is a name, not a path.
        let given_name = given_name
            .rsplit(['/', '\\'])
            .find(|s| !s.trim().is_empty())
            .unwrap_or("attachment")
            .to_owned();
        let number = n + 1;
        let name = safe_derived_name(&format!("{prefix}att-{number}"), &given_name);
        let mime = part
            .content_type()
            .map(|ct| match ct.subtype() {
                Some(sub) => format!("{}/{}", ct.ctype(), sub),
                None => ct.ctype().to_owned(),
            })
            .unwrap_or_else(|| "application/octet-stream".into());
        let extension = given_name
            .rsplit_once('.')
            .map(|(_, ext)| ext.to_ascii_lowercase())
            .unwrap_or_default();
        let is_image = IMAGE_EXTENSIONS.contains(&extension.as_str())
            || (mime.starts_with("image/") && mime != "image/svg+xml");
        let mut thumb = None;
        if is_image {
            match previews(bytes, &format!("{prefix}att-{number}.preview")) {
                Ok(p) => {
                    thumb = Some((p.small.name.clone(), p.small_size));
                    if let Some(cid) = part.content_id() {
                        cids.insert(cid_key(cid), p.medium.name.clone());
                    }
                    extracted.derived.push(p.small);
                    extracted.derived.push(p.medium);
                }
                Err(problem) => extracted.warnings.push(format!(
                    "{prefix}attachment {number} ({given_name}): no preview: {problem}"
                )),
            }
            if super::image::exif_gps(bytes) == Some("present") {
                extracted.warnings.push(format!(
                    "{prefix}attachment {number} ({given_name}) carries an EXIF GPS location"
                ));
            }
        }
        list.push_str("<li>");
        if let Some((small, (w, h))) = &thumb {
            list.push_str(&format!(
                "<a href=\"{name}\" class=\"attachment-thumb\"><img src=\"{small}\" width=\"{w}\" height=\"{h}\" alt=\"\"></a> "
            ));
        }
        list.push_str(&format!(
            "<a href=\"{name}\">{}</a> <span class=\"attachment-meta\">({}, {})</span></li>",
            escape_html(&given_name),
            crate::render::human_size(bytes.len() as u64),
            escape_html(&mime)
        ));
        text.push_str(&format!("Attachment: {given_name}\n"));
        extracted.derived.push(DerivedFile {
            name,
            bytes: bytes.to_vec(),
        });
        published += 1;
    }

    // The body: sanitized HTML when the message has an HTML part, else its text.
    let html_part = message
        .html_part(0)
        .filter(|p| p.is_text_html() && !boundary_missing);
    match html_part.and_then(|p| p.text_contents()) {
        Some(untrusted) => {
            let with_cids = point_cids_at_anchors(untrusted, &cids);
            let safe = crate::sanitize::sanitize_html(&with_cids.0);
            if safe.blocked_remote > 0 {
                extracted.warnings.push(format!(
                    "{prefix}{} remote image(s) replaced by a placeholder",
                    safe.blocked_remote
                ));
            }
            let body = anchors_to_files(&safe.html, &with_cids.1);
            html.push_str(&format!(
                "<div class=\"email-body leaked-html\">{body}</div>"
            ));
        }
        None => {
            let body = if boundary_missing {
                std::borrow::Cow::Owned(raw_body(raw))
            } else {
                message.body_text(0).unwrap_or_default()
            };
            if body.trim().is_empty() && published == 0 {
                extracted
                    .warnings
                    .push(format!("{prefix}message has no readable body"));
            }
            html.push_str(&format!(
                "<pre class=\"text email-body\">{}</pre>",
                escape_html(&body)
            ));
        }
    }
    if boundary_missing {
        text.push_str(&raw_body(raw));
    } else {
        text.push_str(&message.body_text(0).unwrap_or_default());
    }
    if published > 0 {
        html.push_str(&format!(
            "<section class=\"email-attachments\"><h2>Attachments ({published})</h2><ul>{list}</ul></section>"
        ));
    }
    if prefix.is_empty() {
        extracted
            .facts
            .push(("Attachments".into(), published.to_string()));
    }
    Shown {
        subject,
        date,
        html,
        text,
    }
}

/// The ids that place a message in its thread.
fn mail_ids(message: &Message<'_>) -> super::MailIds {
    let clean = |id: &str| {
        id.trim()
            .trim_start_matches('<')
            .trim_end_matches('>')
            .to_owned()
    };
    let mut parents: Vec<String> = Vec::new();
    for value in [message.in_reply_to(), message.references()] {
        let ids: Vec<&str> = match value {
            mail_parser::HeaderValue::Text(id) => vec![id.as_ref()],
            mail_parser::HeaderValue::TextList(ids) => ids.iter().map(|id| id.as_ref()).collect(),
            _ => Vec::new(),
        };
        for id in ids {
            let id = clean(id);
            if !id.is_empty() && !parents.contains(&id) {
                parents.push(id);
            }
        }
    }
    let message_id = message.message_id().map(clean).filter(|id| !id.is_empty());
    parents.retain(|p| Some(p) != message_id.as_ref());
    super::MailIds {
        message_id,
        parents,
        in_mailbox: Vec::new(),
    }
}

/// `Name <a@b>, c@d`.
fn addresses(address: Option<&Address<'_>>) -> String {
    let Some(address) = address else {
        return String::new();
    };
    address
        .iter()
        .map(|addr| match (addr.name(), addr.address()) {
            (Some(name), Some(email)) => format!("{name} <{email}>"),
            (Some(name), None) => name.to_owned(),
            (None, Some(email)) => email.to_owned(),
            (None, None) => String::new(),
        })
        .filter(|s| !s.is_empty())
        .collect::<Vec<_>>()
        .join(", ")
}

fn default_attachment_name(ct: Option<&mail_parser::ContentType<'_>>) -> String {
    match ct.and_then(|ct| ct.subtype()) {
        Some(sub) => format!("attachment.{}", sub.to_ascii_lowercase()),
        None => "attachment.bin".into(),
    }
}

fn cid_key(cid: &str) -> String {
    cid.trim()
        .trim_start_matches('<')
        .trim_end_matches('>')
        .to_ascii_lowercase()
}

/// Marker prefix for resolved `cid:` images. Fragment links survive the sanitizer (it prefixes
/// them with [`crate::sanitize::ID_PREFIX`]), so `cid:` sources become `#lp-cid-N` before it
/// and are turned into file names after it. Nothing but our own file names comes out.
const CID_ANCHOR: &str = "lp-cid-";

/// Rewrites `<img src="cid:…">` in untrusted markup to numbered anchors; returns the markup and
/// the file name for each number. Unknown cids are left for the sanitizer to drop.
fn point_cids_at_anchors(untrusted: &str, cids: &HashMap<String, String>) -> (String, Vec<String>) {
    if cids.is_empty() || !untrusted.to_ascii_lowercase().contains("cid:") {
        return (untrusted.to_owned(), Vec::new());
    }
    let files = std::cell::RefCell::new(Vec::new());
    let rewritten = rewrite_str(
        untrusted,
        RewriteStrSettings::new().append_element_content_handler(element!("img[src]", |el| {
            let src = el.get_attribute("src").unwrap_or_default();
            let trimmed = src.trim();
            if trimmed.len() > 4
                && trimmed[..4].eq_ignore_ascii_case("cid:")
                && let Some(file) = cids.get(&cid_key(&trimmed[4..]))
            {
                let mut files = files.borrow_mut();
                el.set_attribute("src", &format!("#{CID_ANCHOR}{}", files.len()))?;
                files.push(file.clone());
            }
            Ok(())
        })),
    );
    match rewritten {
        Ok(html) => (html, files.into_inner()),
        Err(_) => (untrusted.to_owned(), Vec::new()),
    }
}

/// Turns the anchors made by [`point_cids_at_anchors`] (now sanitized) into file names.
fn anchors_to_files(safe: &str, files: &[String]) -> String {
    if files.is_empty() {
        return safe.to_owned();
    }
    let marker = format!("#{}{CID_ANCHOR}", crate::sanitize::ID_PREFIX);
    rewrite_str(
        safe,
        RewriteStrSettings::new().append_element_content_handler(element!("img[src]", |el| {
            let src = el.get_attribute("src").unwrap_or_default();
            if let Some(n) = src.strip_prefix(&marker) {
                match n.parse::<usize>().ok().and_then(|n| files.get(n)) {
                    Some(file) => el.set_attribute("src", file)?,
                    None => el.remove_attribute("src"),
                }
            }
            Ok(())
        })),
    )
    .unwrap_or_else(|_| safe.to_owned())
}

/// Everything after the header block, as text.
fn raw_body(raw: &[u8]) -> String {
    let start = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map(|i| i + 4)
        .or_else(|| raw.windows(2).position(|w| w == b"\n\n").map(|i| i + 2))
        .unwrap_or(raw.len());
    decode_text(&raw[start..]).text
}

/// Warns about MIME structure the parser had to guess around. Returns false when a multipart
/// message's boundary is missing, so its parts cannot be told apart.
fn check_mime(message: &Message<'_>, raw: &[u8], prefix: &str, warnings: &mut Vec<String>) -> bool {
    let Some(ct) = message.root_part().content_type() else {
        return true;
    };
    if !ct.ctype().eq_ignore_ascii_case("multipart") {
        return true;
    }
    let Some(boundary) = ct.attribute("boundary") else {
        warnings.push(format!(
            "{prefix}multipart message without a MIME boundary: raw body shown as text"
        ));
        return false;
    };
    let open = format!("--{boundary}");
    let close = format!("--{boundary}--");
    let contains = |needle: &str| raw.windows(needle.len()).any(|w| w == needle.as_bytes());
    if !contains(&open) {
        warnings.push(format!(
            "{prefix}MIME boundary {boundary:?} never appears: raw body shown as text"
        ));
        return false;
    }
    if !contains(&close) {
        warnings.push(format!(
            "{prefix}MIME closing boundary missing (truncated message?): parts shown as found"
        ));
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cid_images_point_at_previews_after_sanitizing() {
        let cids = HashMap::from([("logo@x".to_owned(), "att-1.preview.medium.jpg".to_owned())]);
        let (marked, files) = point_cids_at_anchors(
            r#"<p>Hi<img src="cid:logo@x" onerror="alert(1)"><img src="cid:other"></p>"#,
            &cids,
        );
        let safe = crate::sanitize::sanitize_html(&marked).html;
        let out = anchors_to_files(&safe, &files);
        assert!(out.contains(r#"src="att-1.preview.medium.jpg""#), "{out}");
        assert!(!out.contains("onerror") && !out.contains("cid:"), "{out}");
    }
}
