//! Link rewriting for our own, trusted output (lol_html is a rewriter, not a sanitizer).
//!
//! Templates write internal links as site paths (`/agency/doc/`). Here each one becomes a path
//! relative to the page, so the site works under any sub-path and from `file://`; offline
//! builds also point folder links at their `index.html`, since no server resolves them there.
//! The default theme does this while rendering, through the `rel_url` filter; the lol_html
//! pass catches the site paths a theme writes without it.

use std::borrow::Cow;
use std::cell::RefCell;
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

thread_local! {
    /// The page this thread is rendering, for [`rel_url`]; `None` outside
    /// [`with_page_prefix`].
    static PAGE: RefCell<Option<PageLinks>> = const { RefCell::new(None) };
}

/// What a site path's leading `/` becomes on a page, whether the build is offline, and how
/// many links `rel_url` has made relative so far.
struct PageLinks {
    prefix: String,
    offline: bool,
    made: usize,
}

/// Runs `render` (one page's template) with the `rel_url` filter making site paths relative
/// to the page whose prefix is `prefix`; returns its result and how many links the filter
/// made. A template that writes its links through the filter gives a page with no site path
/// left, and the page skips the rewriting pass.
pub fn with_page_prefix<T>(prefix: &str, offline: bool, render: impl FnOnce() -> T) -> (T, usize) {
    struct Restore(Option<PageLinks>);
    impl Drop for Restore {
        fn drop(&mut self) {
            let previous = self.0.take();
            PAGE.with(|cell| *cell.borrow_mut() = previous);
        }
    }
    let page = PageLinks {
        prefix: prefix.to_owned(),
        offline,
        made: 0,
    };
    let restore = Restore(PAGE.with(|cell| cell.replace(Some(page))));
    let result = render();
    let made = PAGE.with(|cell| cell.borrow().as_ref().map_or(0, |page| page.made));
    drop(restore);
    (result, made)
}

/// The Tera filter `rel_url`: a site path (`/tags/x/`) as the link the rewriting pass would
/// make of it on the page being rendered; anything else, or outside a page, unchanged.
pub fn rel_url(value: &str, _: tera::Kwargs, _: &tera::State) -> String {
    PAGE.with(|cell| {
        let mut page = cell.borrow_mut();
        let Some(page) = page.as_mut() else {
            return value.to_owned();
        };
        match relativize(value, &page.prefix, page.offline) {
            Some(link) => {
                page.made += 1;
                link
            }
            None => value.to_owned(),
        }
    })
}

/// Whether `html` may hold an attribute whose value starts with `/` (a site path to
/// relativize): any `=` followed, after spaces and quotes, by `/`. This finds every one, quoted
/// or not, plus a few false alarms in text, which only cost a rewriting pass.
pub fn may_hold_site_link(html: &str) -> bool {
    let bytes = html.as_bytes();
    html.match_indices('=').any(|(i, _)| {
        bytes[i + 1..]
            .iter()
            .find(|b| !matches!(b, b' ' | b'\t' | b'\n' | b'\r' | b'\x0c' | b'"' | b'\''))
            == Some(&b'/')
    })
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

    #[test]
    fn site_links_are_never_missed() {
        assert!(may_hold_site_link(r#"<a href="/a/">a</a>"#));
        assert!(may_hold_site_link("<img src='/x.png'>"));
        assert!(may_hold_site_link("<a href = /a/>a</a>"));
        assert!(!may_hold_site_link(
            r#"<a href="https://x.example/">x = 1</a>"#
        ));
        assert!(!may_hold_site_link("<p>a / b</p>"));
    }

    fn render_with_filter(template: &str) -> String {
        let mut tera = tera::Tera::new();
        tera.register_filter("rel_url", rel_url);
        tera.add_raw_template("t.html", template).unwrap();
        tera.render("t.html", &tera::Context::new()).unwrap()
    }

    #[test]
    fn the_filter_makes_the_links_the_rewriting_pass_would() {
        let template = r#"<a href="{{ '/a/b/' | rel_url }}"></a><a href="{{ '/' | rel_url }}"></a><a href="{{ 'https://x.example/' | rel_url }}"></a><a href="{{ '/s/?q=1#r' | rel_url }}"></a>"#;
        let site_paths = r#"<a href="/a/b/"></a><a href="/"></a><a href="https://x.example/"></a><a href="/s/?q=1#r"></a>"#;
        for (prefix, offline) in [("../../", false), ("../../", true), ("", false), ("", true)] {
            let (html, made) = with_page_prefix(prefix, offline, || render_with_filter(template));
            assert_eq!(made, 3, "external links are not counted");
            assert_eq!(
                html,
                rewrite_with_prefix(site_paths, prefix, offline).unwrap(),
                "prefix {prefix:?}, offline {offline}"
            );
            assert!(!may_hold_site_link(&html), "{html}");
        }
        // Outside a page, and after one, a site path stays as written for the pass to catch.
        assert_eq!(render_with_filter(template), site_paths);
    }

    #[test]
    fn pages_rendered_inside_a_page_keep_their_own_prefix() {
        let (inner, outer) = with_page_prefix("../", false, || {
            let (inner, _) = with_page_prefix("../../", false, || {
                render_with_filter("{{ '/t/' | rel_url }}")
            });
            (inner, render_with_filter("{{ '/t/' | rel_url }}"))
        })
        .0;
        assert_eq!((inner.as_str(), outer.as_str()), ("../../t/", "../t/"));
    }
}
