//! Leaked markup is hostile. Everything from a leak that is shown as HTML (HTML pages, mail
//! bodies, HTML table cells, raw HTML inside Markdown) goes through [`sanitize_html`]: an
//! allow-list sanitizer on a spec-compliant parser (ammonia), then a pass over its now
//! well-formed output that replaces remote images with a visible placeholder, so a tracking
//! pixel in a leaked mail never phones home when a reader opens the page.

use std::borrow::Cow;
use std::collections::HashSet;
use std::sync::LazyLock;

use lol_html::html_content::ContentType;
use lol_html::{RewriteStrSettings, element, rewrite_str};

/// Prefix for every `id` and `name` from leaked markup, so it cannot clobber the page's own.
pub const ID_PREFIX: &str = "user-content-";

/// The `rel` of every link from a leak: no referrer, no window handle, no endorsement.
pub const LINK_REL: &str = "noopener noreferrer nofollow";

/// Link schemes a leaked link may keep.
const URL_SCHEMES: [&str; 3] = ["http", "https", "mailto"];

/// The result of sanitizing one piece of markup.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Sanitized {
    /// Safe HTML.
    pub html: String,
    /// How many remote images were replaced by a placeholder.
    pub blocked_remote: usize,
}

static CLEANER: LazyLock<ammonia::Builder<'static>> = LazyLock::new(|| {
    let mut builder = ammonia::Builder::default();
    builder
        .url_schemes(HashSet::from(URL_SCHEMES))
        .url_relative(ammonia::UrlRelative::Custom(Box::new(keep_fragment_only)))
        .link_rel(Some(LINK_REL))
        .id_prefix(Some(ID_PREFIX))
        .add_generic_attributes(["id"])
        .add_tag_attributes("img", ["width", "height"])
        .add_tag_attributes("td", ["colspan", "rowspan", "align"])
        .add_tag_attributes("th", ["colspan", "rowspan", "align", "scope"])
        .add_tag_attributes("input", ["type", "checked", "disabled"])
        .add_tags(["input"])
        .set_tag_attribute_value("input", "disabled", "")
        .strip_comments(true);
    builder
});

/// Relative links point into the leaked site, which is not here; in-page anchors stay, with
/// the same prefix as the ids they point at.
fn keep_fragment_only(url: &str) -> Option<Cow<'_, str>> {
    url.strip_prefix('#')
        .map(|fragment| Cow::Owned(format!("#{ID_PREFIX}{fragment}")))
}

/// What the sanitizer keeps of a link target from a leak: an absolute URL with an allowed
/// scheme as it is, an in-page anchor with the ids' prefix, nothing else (a relative link
/// points into the leaked site, which is not here). The same rules as ammonia's, which parses
/// the target with the same `url` crate.
pub fn allowed_link(url: &str) -> Option<Cow<'_, str>> {
    match url::Url::parse(url) {
        Ok(parsed) => URL_SCHEMES
            .contains(&parsed.scheme())
            .then_some(Cow::Borrowed(url)),
        Err(url::ParseError::RelativeUrlWithoutBase) => keep_fragment_only(url),
        Err(_) => None,
    }
}

/// Sanitizes untrusted HTML into markup that is safe to embed in a page.
pub fn sanitize_html(untrusted: &str) -> Sanitized {
    block_remote_images(CLEANER.clean(untrusted).to_string())
}

/// Replaces `<img>` elements that would load from the network with a placeholder naming the
/// host. Runs on ammonia's output, which is well-formed and script-free.
fn block_remote_images(cleaned: String) -> Sanitized {
    // ammonia serializes every element name in lower case, so markup without `<img` has no
    // image to block: most bodies skip the second parse.
    if !cleaned.contains("<img") {
        return Sanitized {
            html: cleaned,
            blocked_remote: 0,
        };
    }
    let blocked = std::cell::Cell::new(0usize);
    let rewritten = rewrite_str(
        &cleaned,
        RewriteStrSettings::new().append_element_content_handler(element!("img[src]", |el| {
            let src = el.get_attribute("src").unwrap_or_default();
            if let Some(host) = remote_host(&src) {
                let alt = el.get_attribute("alt").unwrap_or_default();
                let label = if alt.trim().is_empty() {
                    format!("[remote image from {host} not loaded]")
                } else {
                    format!("[remote image from {host} not loaded: {}]", alt.trim())
                };
                el.replace(
                    &format!(
                        "<span class=\"blocked-remote\">{}</span>",
                        crate::extract::escape_html(&label)
                    ),
                    ContentType::Html,
                );
                blocked.set(blocked.get() + 1);
            }
            Ok(())
        })),
    );
    match rewritten {
        Ok(html) => Sanitized {
            html,
            blocked_remote: blocked.get(),
        },
        // Never fall back to markup that may still hold remote images: show it as text.
        Err(err) => Sanitized {
            html: format!(
                "<p class=\"blocked-remote\">[content could not be made safe: {}]</p>",
                crate::extract::escape_html(&err.to_string())
            ),
            blocked_remote: 0,
        },
    }
}

/// The host an image URL would load from, for anything that leaves the page.
fn remote_host(src: &str) -> Option<String> {
    let lower = src.trim().to_ascii_lowercase();
    let rest = lower
        .strip_prefix("https://")
        .or_else(|| lower.strip_prefix("http://"))
        .or_else(|| lower.strip_prefix("//"))?;
    let host = rest.split(['/', '?', '#']).next().unwrap_or_default();
    Some(if host.is_empty() {
        "an unknown host".into()
    } else {
        host.to_owned()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn removes_active_content() {
        let out = sanitize_html(
            r#"<p onclick="x()">hi<script>alert(1)</script></p><a href="javascript:alert(1)">j</a>
               <iframe src="https://evil.example"></iframe><form action="/x"><input name=a></form>
               <base href="https://evil.example/"><meta http-equiv="refresh" content="0;url=x">
               <svg><script>alert(2)</script></svg><style>body{background:url(https://t.example/p)}</style>"#,
        )
        .html;
        for needle in [
            "script",
            "onclick",
            "javascript:",
            "iframe",
            "<form",
            "<base",
            "<meta",
            "<style",
            "t.example",
        ] {
            assert!(!out.contains(needle), "{needle} survived: {out}");
        }
        assert!(out.contains("hi"));
    }

    #[test]
    fn blocks_remote_images_and_marks_external_links() {
        let out = sanitize_html(
            r#"<img src="https://track.example/p.gif?id=1" alt="logo"><a href="https://news.example/">n</a>"#,
        );
        assert_eq!(out.blocked_remote, 1);
        assert!(!out.html.contains("<img"), "{}", out.html);
        assert!(out.html.contains("track.example"));
        assert!(
            out.html.contains(r#"rel="noopener noreferrer nofollow""#),
            "{}",
            out.html
        );
    }

    #[test]
    fn blocks_remote_images_written_in_any_case() {
        // The image pass is skipped for markup without `<img`: that must hold for what
        // ammonia hands it, whatever the case of the leaked tag.
        for markup in [
            r#"<IMG SRC="https://track.example/p.gif">"#,
            r#"<p>x</p><Img Src="http://track.example/p.gif">"#,
        ] {
            let out = sanitize_html(markup);
            assert_eq!(out.blocked_remote, 1, "{markup}: {}", out.html);
            assert!(
                !out.html.to_ascii_lowercase().contains("<img"),
                "{}",
                out.html
            );
        }
        let plain = sanitize_html("<p>no images <b>here</b></p>");
        assert_eq!(
            (plain.html.as_str(), plain.blocked_remote),
            ("<p>no images <b>here</b></p>", 0)
        );
    }

    #[test]
    fn keeps_in_page_anchors_drops_relative_links() {
        let out =
            sanitize_html(r##"<h2 id="a">A</h2><a href="#a">up</a><a href="/admin">x</a>"##).html;
        assert!(out.contains(r##"href="#user-content-a""##), "{out}");
        assert!(out.contains(r#"id="user-content-a""#), "{out}");
        assert!(!out.contains("/admin"), "{out}");
    }
}
