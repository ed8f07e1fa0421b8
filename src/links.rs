//! Link rewriting for our own, trusted output (lol_html is a rewriter, not a sanitizer).
//!
//! Templates write internal links as site paths (`/agency/doc/`). Here each one becomes a path
//! relative to the page, so the site works under any sub-path and from `file://`; offline
//! builds also point folder links at their `index.html`, since no server resolves them there.

use std::borrow::Cow;
use std::sync::LazyLock;

use lol_html::html_content::Element;
use lol_html::{ElementContentHandlers, RewriteStrSettings, Selector, rewrite_str};

use crate::error::{Error, Result};

/// Attributes that may hold an internal link.
const LINK_ATTRIBUTES: &[&str] = &["href", "src", "action", "poster", "data-root", "data-src"];

/// Parsed once: every page goes through this selector.
static LINK_SELECTOR: LazyLock<Selector> = LazyLock::new(|| {
    LINK_ATTRIBUTES
        .iter()
        .map(|a| format!("[{a}^='/']"))
        .collect::<Vec<_>>()
        .join(",")
        .parse()
        .expect("static selector parses")
});

/// Rewrites every site path in `html` relative to the page at `page_path` (a site path
/// without the leading `/`, e.g. `agency/doc/index.html`).
pub fn rewrite(html: &str, page_path: &str, offline: bool) -> Result<String> {
    rewrite_with_prefix(html, &relative_prefix(page_path), offline)
}

/// Rewrites every site path in `html` by putting `prefix` in place of its leading `/`.
pub fn rewrite_with_prefix(html: &str, prefix: &str, offline: bool) -> Result<String> {
    let handlers = ElementContentHandlers::default().element(|el: &mut Element<'_, '_>| {
        for attribute in LINK_ATTRIBUTES {
            if let Some(value) = el.get_attribute(attribute)
                && let Some(relative) = relativize(&value, prefix, offline)
            {
                el.set_attribute(attribute, &relative)?;
            }
        }
        Ok(())
    });
    rewrite_str(
        html,
        RewriteStrSettings::new()
            .append_element_content_handler((Cow::Borrowed(&*LINK_SELECTOR), handlers)),
    )
    .map_err(|err| Error::Other(format!("link rewriting failed: {err}")))
}

/// `../` once per folder the page is in.
pub fn relative_prefix(page_path: &str) -> String {
    "../".repeat(page_path.matches('/').count())
}

/// Turns one site path into a relative one; `None` for anything else (external, `//host`).
pub fn relativize(link: &str, prefix: &str, offline: bool) -> Option<String> {
    let path = link.strip_prefix('/')?;
    if path.starts_with('/') {
        return None;
    }
    let split = path.find(['?', '#']).unwrap_or(path.len());
    let (path, rest) = path.split_at(split);
    let mut out = String::with_capacity(prefix.len() + path.len() + rest.len() + 10);
    out.push_str(prefix);
    out.push_str(path);
    if offline && (path.is_empty() || path.ends_with('/')) {
        out.push_str("index.html");
    } else if out.is_empty() {
        out.push_str("./");
    }
    out.push_str(rest);
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relativizes_for_server_and_offline() {
        assert_eq!(
            relativize("/a/b/", "../../", false).as_deref(),
            Some("../../a/b/")
        );
        assert_eq!(
            relativize("/a/b/", "../../", true).as_deref(),
            Some("../../a/b/index.html")
        );
        assert_eq!(relativize("/", "", false).as_deref(), Some("./"));
        assert_eq!(relativize("/", "", true).as_deref(), Some("index.html"));
        assert_eq!(
            relativize("/search/?q=x", "../", true).as_deref(),
            Some("../search/index.html?q=x")
        );
        assert_eq!(
            relativize("/assets/s.css", "../", true).as_deref(),
            Some("../assets/s.css")
        );
        assert_eq!(relativize("//evil.example/x", "", false), None);
        assert_eq!(relativize("https://example.org/", "", false), None);
    }

    #[test]
    fn rewrites_only_site_paths() {
        let html = r#"<a href="/t/">t</a><a href="https://x.example/">x</a><img src="/assets/a.png"><form action="/search/"></form>"#;
        let out = rewrite(html, "agency/doc/index.html", true).unwrap();
        assert!(out.contains(r#"href="../../t/index.html""#), "{out}");
        assert!(out.contains(r#"href="https://x.example/""#));
        assert!(out.contains(r#"src="../../assets/a.png""#));
        assert!(out.contains(r#"action="../../search/index.html""#));
    }
}
