//! Stage 5, **render**: Tera templates (minified when loaded; links made relative by
//! `rel_url`) → HTML → link rewriting (lol_html, only for site paths a template left) →
//! minify-html (only for pages with markup no template wrote, or a theme whose templates
//! could not be minified when loaded) → output. Document pages render in parallel, each
//! dropping its body once written; listings (agencies, tags, years, kinds, home) are planned
//! as small jobs and rendered in parallel too, building each page's cards only while that
//! page renders, so no listing ever copies a body and memory stays at the metadata.
//!
//! Invariant: a page's bytes depend only on the documents, config and theme — never on
//! thread scheduling, the clock or the output folder.

use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicUsize, Ordering};

use rayon::prelude::*;
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::collect::{Agency, Collection, Term};
use crate::config::{BuildOptions, Config};
use crate::dates::DateView;
use crate::document::{Body, BodyIdentity, Document, LazyBody};
use crate::error::{Error, Result};
use crate::extract::DerivedFile;
use crate::output::Output;
use crate::page_cache::{self, PageContext, PageKey, PageTable, value_digest};
use crate::theme::Theme;

/// The Content-Security-Policy every page carries: nothing leaves the site, nothing inline.
pub const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
img-src 'self' data:; media-src 'self'; frame-src 'self'; font-src 'self'; \
object-src 'none'; base-uri 'none'; form-action 'self'";

/// Renders pages with the theme and writes them through the output.
pub struct Renderer<'a> {
    tera: tera::Tera,
    base: tera::Context,
    config: &'a Config,
    offline: bool,
    minify: minify_html::Cfg,
    /// Whether the templates were minified when loaded (see [`crate::theme::Theme::engine`]):
    /// then a page made of their markup alone is written as it renders.
    premade: bool,
    /// Whether the home page shows an introduction (Markdown of the archive's own).
    intro: bool,
    /// Table records that reference each document (shown, total), by document id.
    referenced_by: BTreeMap<usize, (Vec<crate::tables::RecordLink>, usize)>,
    /// Each agency's tables with record counts, by agency slug.
    agency_tables: BTreeMap<String, Vec<crate::tables::TableLink>>,
    /// The site's path on its host (`/`, or `/leaks/` for `https://example.org/leaks/`).
    root_path: String,
    /// Hash of every value in `base`, part of every page's key.
    base_key: PageKey,
    /// Per template, the hash of it and the templates it names.
    template_prints: HashMap<String, PageKey>,
    /// Each document's card hashed ([`value_digest`]), by id: a card is in its own page's
    /// key, its two neighbours' and its listings', and is serialized once for all of them.
    card_digests: Vec<PageKey>,
    /// Each document's place in its agency's newest-first list, by id (its neighbours are
    /// the entries either side): a search of the list per page is quadratic in the agency.
    places: Vec<usize>,
    /// The previous build's pages and this one's; `None` when the build keeps no cache.
    pages: Option<PageTable>,
    rendered: AtomicUsize,
    reused: AtomicUsize,
}

/// Each agency's position in `agencies`, by slug.
pub(crate) fn agency_positions(agencies: &[Agency]) -> BTreeMap<&str, usize> {
    agencies
        .iter()
        .enumerate()
        .map(|(i, a)| (a.slug.as_str(), i))
        .collect()
}

/// The page a static host shows for any missing URL.
const NOT_FOUND_PAGE: &str = "404.html";

#[derive(Serialize)]
struct SiteView<'a> {
    title: &'a str,
    description: &'a str,
    language: &'a str,
    base_url: Option<&'a str>,
    generator: String,
}

/// A document in a list.
#[derive(Serialize)]
pub(crate) struct DocCard<'a> {
    url: String,
    title: &'a str,
    date: Option<DateView>,
    year_url: Option<String>,
    kind: &'a str,
    kind_url: String,
    agency: AgencyCard<'a>,
    summary: &'a str,
    tags: Vec<Link>,
    /// On listing pages whose cards are spliced, the card's slot ([`CARD_SLOT`]).
    #[serde(skip_serializing_if = "Option::is_none")]
    html: Option<String>,
}

#[derive(Serialize)]
struct AgencyCard<'a> {
    slug: &'a str,
    url: String,
    name: &'a str,
    kind: Option<&'a str>,
    state: Option<&'a str>,
    doc_count: usize,
}

#[derive(Serialize)]
struct Link {
    name: String,
    url: String,
}

#[derive(Serialize)]
struct Count {
    name: String,
    url: String,
    count: usize,
}

#[derive(Serialize)]
struct KeyValue<'a> {
    key: &'a str,
    value: &'a str,
}

#[derive(Serialize)]
struct PageLink {
    number: usize,
    url: String,
    current: bool,
}

#[derive(Serialize)]
pub(crate) struct Pager {
    current: usize,
    total: usize,
    prev_url: Option<String>,
    next_url: Option<String>,
    first_url: String,
    last_url: String,
    pages: Vec<PageLink>,
}

#[derive(Serialize)]
struct Sort {
    label: &'static str,
    url: String,
    active: bool,
}

#[derive(Serialize)]
struct Duplicate<'a> {
    source_path: &'a str,
    url: String,
}

#[derive(Serialize)]
struct DocView<'a> {
    /// `None` in a keyed context, which hashes `card_digest` in its place.
    #[serde(flatten)]
    card: Option<DocCard<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    card_digest: Option<&'a PageKey>,
    body_html: &'a str,
    extra: Vec<KeyValue<'a>>,
    facts: Vec<KeyValue<'a>>,
    source_path: &'a str,
    file_name: &'a str,
    size: u64,
    size_display: String,
    sha256: &'a str,
    original_url: Option<String>,
    duplicates: Vec<Duplicate<'a>>,
    warnings: &'a [String],
    referenced_by: &'a [crate::tables::RecordLink],
    referenced_by_total: usize,
    thread: Vec<ThreadEntry<'a>>,
}

/// A message in the mail thread a document belongs to.
#[derive(Serialize)]
struct ThreadEntry<'a> {
    url: String,
    title: &'a str,
    date: Option<DateView>,
    current: bool,
}

/// Formats whose bodies our own code serializes (pulldown-cmark through ammonia, escaped
/// text, extracted paragraphs): no indentation or comments, nothing minifying would shrink
/// beyond a newline between blocks. Their pages skip minifying the body (see
/// [`Renderer::page_with_body`]); leaked HTML and mail keep the full pass.
const COMPACT_BODY_KINDS: &[&str] = &["markdown", "text", "pdf", "docx"];

/// Stands in for a compact body while its page is rewritten and minified: letters and digits
/// only, so neither pass changes it.
const BODY_SLOT: &str = "lpBodySlot5e0c9b1d7a";

/// Stands in for a listing card rendered once by `card.html` (see [`Renderer::card_html`]):
/// this, the document's id, then `z`. Letters and digits only, like [`BODY_SLOT`].
const CARD_SLOT: &str = "lpCardSlot5e0c9b1d7a";

/// The site root in the links of a card rendered once, until it is spliced into a page and
/// takes the page's relative prefix (`../../`). Letters, digits and a `/`, which minifying
/// leaves alone even in an unquoted attribute value.
const CARD_ROOT: &str = "lpCardRoot5e0c9b1d7a/";

/// The template that renders one listing card, when a theme has it.
const CARD_TEMPLATE: &str = "card.html";

/// Documents whose cards are held for splicing (the first by id): each listing kind holds
/// about 900 bytes a card in the default theme, so at most about 360 MB for both. Later
/// documents' cards are rendered with their pages, as without `card.html`.
const CARD_DOCS: usize = 200_000;

/// Largest card held for splicing; a larger one is rendered with its pages.
const CARD_MAX_BYTES: usize = 2048;

/// Cards of one listing kind held for splicing, by document id, each rendered on first use.
type CardCells = Vec<OnceLock<Option<Box<str>>>>;

/// The card of document `id` in `cells`, made by `make` (see [`Renderer::card_html`]) the
/// first time it is asked for; `None` when it is not held.
fn held_card(
    cells: Option<&CardCells>,
    id: usize,
    make: impl FnOnce() -> Option<String>,
) -> Option<&str> {
    cells?
        .get(id)?
        .get_or_init(|| {
            make()
                .filter(|card| card.len() <= CARD_MAX_BYTES)
                .map(String::into_boxed_str)
        })
        .as_deref()
}

/// The cards of a listing page, spliced in after it is rendered.
#[derive(Clone, Copy)]
struct CardSplice<'c> {
    /// A document's card, or `None` when it is not held.
    card: &'c (dyn Fn(usize) -> Option<&'c str> + Sync),
    /// The page's documents, in listing order.
    ids: &'c [usize],
}

/// The listings whose cards a theme's `card.html` renders, as `listing` tells it.
const CARD_LISTINGS: [&str; 2] = ["agency", "term"];

/// A page to render: its template, site path, output file, and key for the next build.
#[derive(Clone, Copy)]
struct PageTarget<'p> {
    template: &'p str,
    url: &'p str,
    file: &'p str,
    key: Option<PageKey>,
    /// The page holds markup its templates did not write (a leaked body rendered in it,
    /// table cells, the home introduction), so it is minified even when the templates were
    /// minified when loaded.
    foreign: bool,
}

/// How a page's body enters its key.
#[derive(Clone, Copy)]
enum BodyKey<'b> {
    /// The page has no body apart from its context.
    None,
    /// A compact body spliced into the page, hashed.
    Spliced(&'b str),
    /// A document body keyed by the extraction it came from, so that a page can be found
    /// unchanged without reading its body. The context it is keyed with leaves the body out.
    Extracted(&'b BodyIdentity),
}

/// The file a page at site path `url` is written to.
fn page_file(url: &str) -> String {
    if url.is_empty() || url.ends_with('/') {
        format!("{url}index.html")
    } else {
        url.to_owned()
    }
}

fn find_bytes(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// Whether a document page prints its body itself (not spliced in after minifying): then
/// the page holds markup its templates did not write.
fn body_in_page(splice: bool, body_html: &str) -> bool {
    !splice && !body_html.trim().is_empty()
}

/// How pages are minified: closing tags stay, so a body or card spliced in after minifying
/// never lands in an element left open.
fn minify_cfg() -> minify_html::Cfg {
    let mut cfg = minify_html::Cfg::new();
    cfg.minify_css = true;
    cfg.minify_js = false;
    cfg.keep_closing_tags = true;
    cfg.keep_html_and_head_opening_tags = true;
    cfg
}

/// The three orders an agency's documents are listed in: (folder under the agency, label).
const AGENCY_SORTS: [(&str, &str); 3] =
    [("", "Newest"), ("oldest/", "Oldest"), ("title/", "Title")];

/// The browse groupings: (URL folder, title, template-facing name).
const TAXONOMIES: [(&str, &str); 3] = [("tags", "Tags"), ("years", "Years"), ("kinds", "Kinds")];

impl<'a> Renderer<'a> {
    /// Prepares the engine and the context every page shares.
    pub fn new(theme: &Theme, config: &'a Config, options: &BuildOptions) -> Result<Renderer<'a>> {
        let minify = minify_cfg();
        let (tera, premade) = theme.engine(config.minify.then_some(&minify))?;
        let mut base = PageContext::new();
        base.insert(
            "site",
            &SiteView {
                title: &config.title,
                description: &config.description,
                language: &config.language,
                base_url: config.base_url.as_deref(),
                generator: format!("leakpress {}", env!("CARGO_PKG_VERSION")),
            },
        );
        base.insert("assets", &theme.asset_urls());
        base.insert("offline", &options.offline);
        base.insert("csp", CSP);
        base.insert("feed_url", "/feed.xml");
        let (base, base_key) = base.into_parts();
        Ok(Renderer {
            tera,
            base,
            base_key: base_key.expect("every base value is hashed"),
            template_prints: listing_prints(page_cache::template_fingerprints(&theme.templates)),
            card_digests: Vec::new(),
            places: Vec::new(),
            pages: None,
            rendered: AtomicUsize::new(0),
            reused: AtomicUsize::new(0),
            config,
            offline: options.offline,
            minify,
            premade,
            intro: false,
            root_path: root_path(config.base_url.as_deref()),
            referenced_by: BTreeMap::new(),
            agency_tables: BTreeMap::new(),
        })
    }

    /// Takes from the table pass what document and agency pages show: the records that
    /// reference each document, and each agency's tables.
    pub fn set_tables(&mut self, tables: &crate::tables::TableSet) {
        self.referenced_by = tables.referenced_by();
        self.agency_tables = tables.agency_tables();
    }

    /// Reuses pages through `pages` (the previous build's table, or an empty one): a page whose
    /// key is unchanged and whose file is intact is not rendered again.
    pub fn set_page_table(&mut self, pages: PageTable) {
        self.pages = Some(pages);
    }

    /// Hashes every document's card and notes its place among its agency's, once `docs`
    /// have their URLs and `collection` is made: the keys of document pages and listings
    /// are made from the cards' hashes. Cards show no warnings, so what rendering adds to
    /// `docs` leaves them valid.
    pub fn prepare(&mut self, docs: &[Document], collection: &Collection) {
        self.places = vec![usize::MAX; docs.len()];
        for agency in &collection.agencies {
            for (place, &id) in agency.newest.iter().enumerate() {
                if let Some(slot) = self.places.get_mut(id) {
                    *slot = place;
                }
            }
        }
        let agency_index = agency_positions(&collection.agencies);
        self.card_digests = docs
            .par_iter()
            .map(|doc| {
                let agency = &collection.agencies[agency_index[doc.agency()]];
                value_digest(&self.card(doc, agency))
            })
            .collect();
    }

    /// This build's page table, for the next build; `None` when pages are not tracked.
    pub fn page_table(&self) -> Option<&PageTable> {
        self.pages.as_ref()
    }

    /// Pages rendered, and pages left in place because their key and bytes were unchanged.
    pub fn page_counts(&self) -> (usize, usize) {
        (
            self.rendered.load(Ordering::Relaxed),
            self.reused.load(Ordering::Relaxed),
        )
    }

    /// Entries per listing page.
    pub(crate) fn page_size(&self) -> usize {
        self.config.page_size
    }

    /// Renders `template` for the page at site path `url` (`agency/doc/`, or a file name such
    /// as `404.html`) and writes it.
    pub(crate) fn page(
        &self,
        out: &Output,
        template: &str,
        url: &str,
        ctx: impl Into<PageContext>,
    ) -> Result<()> {
        self.page_with_body(out, template, url, ctx.into(), None, false)
    }

    /// [`Renderer::page`] with the values `fill` puts in the context. `fill` runs once to
    /// key the page and, only if the page must be rendered, again to fill Tera's context:
    /// a rebuild keys every listing page and renders few of them.
    pub(crate) fn page_lazy(
        &self,
        out: &Output,
        template: &str,
        url: &str,
        fill: impl Fn(&mut PageContext),
        foreign: bool,
    ) -> Result<()> {
        self.listing_lazy(out, template, url, |ctx, _| fill(ctx), None, foreign)
    }

    /// [`Renderer::page_lazy`] for a listing whose `cards` may be spliced in: `fill(ctx,
    /// slots)` gives each listed card its [`CARD_SLOT`] as `html` when `slots` is set. A
    /// page where the slots do not come out of rendering as they went in is rendered again
    /// without them.
    fn listing_lazy(
        &self,
        out: &Output,
        template: &str,
        url: &str,
        fill: impl Fn(&mut PageContext, bool),
        cards: Option<CardSplice<'_>>,
        foreign: bool,
    ) -> Result<()> {
        let file = page_file(url);
        // Asked only of a page that is rendered: it renders the cards not rendered yet.
        let spliceable = || cards.filter(|c| c.ids.iter().all(|&id| (c.card)(id).is_some()));
        let (ctx, key, cards) = match &self.pages {
            None => {
                let cards = spliceable();
                let mut plain = PageContext::from(tera::Context::new());
                fill(&mut plain, cards.is_some());
                (plain.into_parts().0, None, cards)
            }
            // A page the previous build did not write is rendered whatever its key: one pass
            // both keys it and fills the context.
            Some(pages) if !pages.knows(&file) => {
                let cards = spliceable();
                let mut ctx = PageContext::new();
                fill(&mut ctx, cards.is_some());
                let (ctx, values) = ctx.into_parts();
                let key = values
                    .and_then(|values| self.page_key(template, &file, &values, BodyKey::None));
                (ctx, key, cards)
            }
            Some(_) => {
                let mut keyed = PageContext::keyed();
                fill(&mut keyed, false);
                let key = keyed
                    .into_key()
                    .and_then(|values| self.page_key(template, &file, &values, BodyKey::None));
                if self.kept(out, &file, key.as_ref()) {
                    return Ok(());
                }
                let cards = spliceable();
                let mut plain = PageContext::from(tera::Context::new());
                fill(&mut plain, cards.is_some());
                (plain.into_parts().0, key, cards)
            }
        };
        let page = PageTarget {
            template,
            url,
            file: &file,
            key,
            foreign,
        };
        let ctx = match cards {
            Some(cards) => {
                if self.render_with_cards(out, &page, ctx, cards)? {
                    return Ok(());
                }
                let mut plain = PageContext::from(tera::Context::new());
                fill(&mut plain, false);
                plain.into_parts().0
            }
            None => ctx,
        };
        self.render_page(out, &page, ctx, None)
    }

    /// Renders a listing page with its cards' slots, rewrites and minifies it, and splices
    /// the cards in; `false` (nothing written) when the slots did not come out one per card,
    /// in order.
    fn render_with_cards(
        &self,
        out: &Output,
        page: &PageTarget<'_>,
        ctx: tera::Context,
        cards: CardSplice<'_>,
    ) -> Result<bool> {
        let (html, prefix) = self.render_html(page, ctx)?;
        // An empty prefix would turn a link to the root into an empty one.
        if prefix.is_empty() || html.matches(CARD_SLOT).count() != cards.ids.len() {
            return Ok(false);
        }
        let shell = self.finish(&html, &prefix, page.foreign)?;
        let mut spliced = Vec::with_capacity(shell.len() + cards.ids.len() * 1024);
        let mut rest = &shell[..];
        for &id in cards.ids {
            let Some(at) = find_bytes(rest, CARD_SLOT.as_bytes()) else {
                return Ok(false);
            };
            spliced.extend_from_slice(&rest[..at]);
            rest = &rest[at + CARD_SLOT.len()..];
            let end = format!("{id}z");
            let (Some(after), Some(card)) = (rest.strip_prefix(end.as_bytes()), (cards.card)(id))
            else {
                return Ok(false);
            };
            rest = after;
            let mut last = 0;
            for (at, _) in card.match_indices(CARD_ROOT) {
                spliced.extend_from_slice(&card.as_bytes()[last..at]);
                spliced.extend_from_slice(prefix.as_bytes());
                last = at + CARD_ROOT.len();
            }
            spliced.extend_from_slice(&card.as_bytes()[last..]);
        }
        spliced.extend_from_slice(rest);
        self.write_page(out, page, &spliced)?;
        Ok(true)
    }

    /// One card as `card.html` renders it for `listing` (one of [`CARD_LISTINGS`]), its links
    /// rooted at [`CARD_ROOT`], minified. `None` when it cannot be spliced: the template fails
    /// (the page's own rendering reports it), or the card's text holds a slot or root marker.
    fn card_html(&self, card: &DocCard<'_>, listing: &str) -> Option<String> {
        let mut context = self.base.clone();
        context.insert("doc", card);
        context.insert("listing", listing);
        let (html, made) = crate::links::with_page_prefix(CARD_ROOT, self.offline, || {
            self.tera.render(CARD_TEMPLATE, &context)
        });
        let html = html.ok()?;
        // Every root marker must be a link `rel_url` made, for the splice to replace.
        if html.contains(CARD_SLOT) || html.matches(CARD_ROOT).count() != made {
            return None;
        }
        let html = self.relinked(&html, CARD_ROOT).ok()?;
        if self.config.minify && !self.premade {
            String::from_utf8(minify_html::minify(html.as_bytes(), &self.minify)).ok()
        } else {
            Some(html.into_owned())
        }
    }

    /// [`Renderer::page`], with `body` (a compact body, see [`COMPACT_BODY_KINDS`]) standing
    /// in the context as [`BODY_SLOT`]: the page around it is rewritten and minified without
    /// it, and the body, relinked only if it may hold a site path, is spliced in afterwards.
    /// Minifying costs time in proportion to the bytes parsed and bodies are most of a page's
    /// bytes, while minifying a compact body saves about a byte per paragraph.
    fn page_with_body(
        &self,
        out: &Output,
        template: &str,
        url: &str,
        ctx: PageContext,
        body: Option<&str>,
        foreign: bool,
    ) -> Result<()> {
        let file = page_file(url);
        let (ctx, values) = ctx.into_parts();
        let body_key = body.map_or(BodyKey::None, BodyKey::Spliced);
        let key = values.and_then(|values| self.page_key(template, &file, &values, body_key));
        if self.kept(out, &file, key.as_ref()) {
            return Ok(());
        }
        let page = PageTarget {
            template,
            url,
            file: &file,
            key,
            foreign,
        };
        self.render_page(out, &page, ctx, body)
    }

    /// Whether the page at `file` is left as the previous build wrote it: its key is the one
    /// recorded then and its file is intact.
    fn kept(&self, out: &Output, file: &str, key: Option<&PageKey>) -> bool {
        if let (Some(pages), Some(key)) = (&self.pages, key)
            && let Some(sha256) = pages.reusable(file, key)
            && out.reuse(file, sha256)
        {
            pages.record(file, *key, sha256.to_owned());
            self.reused.fetch_add(1, Ordering::Relaxed);
            return true;
        }
        false
    }

    /// Renders, rewrites, minifies and writes one page (see [`Renderer::page_with_body`]),
    /// recording its `key` for the next build.
    fn render_page(
        &self,
        out: &Output,
        page: &PageTarget<'_>,
        ctx: tera::Context,
        body: Option<&str>,
    ) -> Result<()> {
        let (html, prefix) = self.render_html(page, ctx)?;
        let finish = |html: &str| self.finish(html, &prefix, page.foreign);
        // A theme that does not print the body exactly once (or a document that quotes the
        // slot) takes the plain path, so the splice never changes what a page says.
        let spliced = match body {
            Some(body) if html.matches(BODY_SLOT).count() == 1 => {
                let shell = finish(&html)?;
                match find_bytes(&shell, BODY_SLOT.as_bytes()) {
                    Some(at) => {
                        let body = body.trim();
                        let body = if crate::links::may_hold_site_link(body) {
                            std::borrow::Cow::Owned(crate::links::rewrite_with_prefix(
                                body,
                                &prefix,
                                self.offline,
                            )?)
                        } else {
                            std::borrow::Cow::Borrowed(body)
                        };
                        let mut page = Vec::with_capacity(shell.len() + body.len());
                        page.extend_from_slice(&shell[..at]);
                        page.extend_from_slice(body.as_bytes());
                        page.extend_from_slice(&shell[at + BODY_SLOT.len()..]);
                        Some(page)
                    }
                    None => None,
                }
            }
            _ => None,
        };
        let bytes = match (spliced, body) {
            (Some(page), _) => page,
            (None, Some(body)) => finish(&html.replace(BODY_SLOT, body))?,
            (None, None) => finish(&html)?,
        };
        self.write_page(out, page, &bytes)
    }

    /// Renders `page` with the shared context and `ctx`; returns the HTML and what a site
    /// path's leading `/` becomes on the page.
    fn render_html(&self, page: &PageTarget<'_>, ctx: tera::Context) -> Result<(String, String)> {
        let PageTarget { template, url, .. } = *page;
        let mut context = self.base.clone();
        context.extend(ctx);
        context.insert("page_path", &format!("/{url}"));
        let prefix = self.link_prefix(page.file);
        let (html, _) = crate::links::with_page_prefix(&prefix, self.offline, || {
            self.tera.render(template, &context)
        });
        let html =
            html.map_err(|err| Error::Template(format!("{template} for /{url}: {err:#}")))?;
        Ok((html, prefix))
    }

    /// What a site path's leading `/` becomes on the page written to `file`.
    fn link_prefix(&self, file: &str) -> String {
        // A server shows 404.html at whatever depth the missing page was asked for, so its
        // links cannot be relative: they are rooted at the site's path instead.
        if file == NOT_FOUND_PAGE && !self.offline {
            self.root_path.clone()
        } else {
            crate::links::relative_prefix(file)
        }
    }

    /// A rendered page's links made relative with `prefix`, and the page minified if the
    /// config asks for it.
    fn finish(&self, html: &str, prefix: &str, foreign: bool) -> Result<Vec<u8>> {
        let html = self.relinked(html, prefix)?;
        Ok(if self.config.minify && (foreign || !self.premade) {
            minify_html::minify(html.as_bytes(), &self.minify)
        } else {
            html.into_owned().into_bytes()
        })
    }

    /// `html` with its site paths made relative with `prefix`. A page whose template wrote
    /// every link through `rel_url` has none left and is not parsed again.
    fn relinked<'h>(&self, html: &'h str, prefix: &str) -> Result<Cow<'h, str>> {
        Ok(if crate::links::may_hold_site_link(html) {
            Cow::Owned(crate::links::rewrite_with_prefix(
                html,
                prefix,
                self.offline,
            )?)
        } else {
            Cow::Borrowed(html)
        })
    }

    /// Writes a rendered page, recording its key for the next build.
    fn write_page(&self, out: &Output, page: &PageTarget<'_>, bytes: &[u8]) -> Result<()> {
        let sha256 = out.write_hashed(page.file, bytes)?;
        if let (Some(pages), Some(key)) = (&self.pages, page.key) {
            pages.record(page.file, key, sha256);
        }
        self.rendered.fetch_add(1, Ordering::Relaxed);
        Ok(())
    }

    /// Everything a page is made from, hashed: its template (with those it names), where it
    /// is (links are relative to it), the shared and the page's own values, and its body.
    /// `None` when pages are not tracked.
    fn page_key(
        &self,
        template: &str,
        file: &str,
        values: &PageKey,
        body: BodyKey<'_>,
    ) -> Option<PageKey> {
        self.pages.as_ref()?;
        let no_print = [0u8; 32];
        let print = self.template_prints.get(template).unwrap_or(&no_print);
        let (body_hash, body_flag): ([u8; 32], u8) = match body {
            BodyKey::None => ([0; 32], 0),
            BodyKey::Spliced(body) => (Sha256::digest(body.as_bytes()).into(), 1),
            BodyKey::Extracted(identity) => (*identity, 2),
        };
        let flags = [
            u8::from(self.offline),
            u8::from(self.config.minify),
            body_flag,
        ];
        Some(page_cache::page_key(&[
            template.as_bytes(),
            print,
            file.as_bytes(),
            self.root_path.as_bytes(),
            &self.base_key,
            values,
            &body_hash,
            &flags,
        ]))
    }

    /// Renders a non-HTML template (feeds) without link rewriting or minifying.
    fn raw(&self, out: &Output, template: &str, path: &str, ctx: tera::Context) -> Result<()> {
        let mut context = self.base.clone();
        context.extend(ctx);
        let text = self
            .tera
            .render(template, &context)
            .map_err(|err| Error::Template(format!("{template} for /{path}: {err:#}")))?;
        out.write(path, text.as_bytes())
    }

    /// Renders one document page and publishes its original and derived files.
    pub fn document(
        &self,
        out: &Output,
        docs: &[Document],
        collection: &Collection,
        agency_index: &BTreeMap<&str, usize>,
        doc: &Document,
        body: &LazyBody<'_>,
    ) -> Result<()> {
        let (template, url) = ("document.html", doc.url.as_str());
        let Some(identity) = body.identity().filter(|_| self.pages.is_some()) else {
            let extra = PageContext::new();
            let body = body.get()?;
            return self.document_page(
                out,
                docs,
                collection,
                agency_index,
                doc,
                body,
                template,
                url,
                extra,
                true,
            );
        };
        // Keyed by the body's identity and a context without the body, so an unchanged page
        // is found without reading its body; rendered, it gets the full context.
        let file = page_file(url);
        let keyed = PageContext::keyed();
        let values = self
            .document_context(keyed, docs, collection, agency_index, doc, "")
            .into_key();
        let key = values.and_then(|values| {
            self.page_key(template, &file, &values, BodyKey::Extracted(identity))
        });
        if !self.kept(out, &file, key.as_ref()) {
            let full = body.get()?;
            let (body_html, splice) = self.body_html(doc, full);
            let shown = if splice { BODY_SLOT } else { &body_html };
            let plain = PageContext::from(tera::Context::new());
            let (ctx, _) = self
                .document_context(plain, docs, collection, agency_index, doc, shown)
                .into_parts();
            let spliced = splice.then_some(&*body_html);
            let page = PageTarget {
                template,
                url,
                file: &file,
                key,
                foreign: body_in_page(splice, &body_html),
            };
            self.render_page(out, &page, ctx, spliced)?;
        }
        let derived = if body.has_derived() {
            body.get()?.derived.as_slice()
        } else {
            &[]
        };
        self.publish(out, doc, derived)
    }

    /// Renders `template` at site path `url` with a document page's context (`doc`, `prev`,
    /// `next`, `breadcrumbs`) plus `extra`, which wins on a clash. With `publish`, also
    /// publishes the original and derived files. Table listings use this for every page.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn document_page(
        &self,
        out: &Output,
        docs: &[Document],
        collection: &Collection,
        agency_index: &BTreeMap<&str, usize>,
        doc: &Document,
        body: &Body,
        template: &str,
        url: &str,
        extra: impl Into<PageContext>,
        publish: bool,
    ) -> Result<()> {
        let (body_html, splice) = self.body_html(doc, body);
        let shown = if splice { BODY_SLOT } else { &body_html };
        let mut ctx = self.document_context(
            PageContext::new(),
            docs,
            collection,
            agency_index,
            doc,
            shown,
        );
        ctx.extend(extra.into());
        let foreign = body_in_page(splice, &body_html);
        self.page_with_body(
            out,
            template,
            url,
            ctx,
            splice.then_some(&*body_html),
            foreign,
        )?;
        if publish {
            self.publish(out, doc, &body.derived)?;
        }
        Ok(())
    }

    /// A document's body HTML as its page shows it, and whether it is spliced into the page
    /// (see [`Renderer::page_with_body`]) rather than rendered in it.
    fn body_html<'b>(&self, doc: &Document, body: &'b Body) -> (std::borrow::Cow<'b, str>, bool) {
        // Bodies point at their original through a placeholder (see `extract::ORIGINAL_URL`),
        // as the original's URL is only known after collect.
        let quoted_placeholder = format!("\"{}\"", crate::extract::ORIGINAL_URL);
        let body_html = match &doc.original_url {
            Some(original) if body.html.contains(&quoted_placeholder) => {
                std::borrow::Cow::Owned(body.html.replace(
                    &quoted_placeholder,
                    &format!("\"/{}\"", crate::extract::escape_html(original)),
                ))
            }
            _ => std::borrow::Cow::Borrowed(body.html.as_str()),
        };
        let splice = self.config.minify
            && COMPACT_BODY_KINDS.contains(&doc.kind)
            && !body_html.trim().is_empty();
        (body_html, splice)
    }

    /// Publishes a document's original (when its page's folder holds it) and derived files.
    fn publish(&self, out: &Output, doc: &Document, derived: &[DerivedFile]) -> Result<()> {
        if let Some(original) = &doc.original_url
            && original.starts_with(&doc.url)
        {
            out.copy_file(
                original,
                &doc.source.abs_path,
                &doc.sha256,
                doc.source.stamp.as_ref(),
            )?;
        }
        for file in derived {
            out.write(&format!("{}{}", doc.url, file.name), &file.bytes)?;
        }
        Ok(())
    }

    /// A document page's values (`doc` with `body_html` as its body, `prev`, `next`,
    /// `breadcrumbs`, `feed_url`), added to `ctx`. A keyed `ctx` (once [`Renderer::prepare`]
    /// ran) hashes the cards of the document and its neighbours as their digests instead of
    /// serializing them again.
    fn document_context(
        &self,
        mut ctx: PageContext,
        docs: &[Document],
        collection: &Collection,
        agency_index: &BTreeMap<&str, usize>,
        doc: &Document,
        body_html: &str,
    ) -> PageContext {
        let agency = &collection.agencies[agency_index[doc.agency()]];
        let digests = (ctx.is_keyed() && self.card_digests.len() == docs.len())
            .then_some(self.card_digests.as_slice());
        let position = match self.places.get(doc.id) {
            Some(&place) if agency.newest.get(place) == Some(&doc.id) => Some(place),
            _ => agency.newest.iter().position(|&id| id == doc.id),
        };
        let prev_id = position
            .and_then(|p| p.checked_sub(1))
            .map(|p| agency.newest[p]);
        let next_id = position.and_then(|p| agency.newest.get(p + 1).copied());
        let duplicates = collection
            .duplicates
            .get(&doc.id)
            .map(|ids| {
                ids.iter()
                    .map(|&id| Duplicate {
                        source_path: &docs[id].source.rel_path,
                        url: format!("/{}", docs[id].url),
                    })
                    .collect()
            })
            .unwrap_or_default();
        let view = DocView {
            card: digests.is_none().then(|| self.card(doc, agency)),
            card_digest: digests.map(|d| &d[doc.id]),
            body_html,
            extra: key_values(&doc.extra),
            facts: key_values(&doc.facts),
            source_path: &doc.source.rel_path,
            file_name: doc.source.file_name(),
            size: doc.source.size,
            size_display: human_size(doc.source.size),
            sha256: &doc.sha256,
            original_url: doc.original_url.as_ref().map(|u| format!("/{u}")),
            duplicates,
            warnings: &doc.warnings,
            referenced_by: self
                .referenced_by
                .get(&doc.id)
                .map_or(&[][..], |(shown, _)| shown.as_slice()),
            referenced_by_total: self.referenced_by.get(&doc.id).map_or(0, |(_, n)| *n),
            thread: collection
                .threads
                .get(&doc.id)
                .map(|ids| {
                    ids.iter()
                        .map(|&id| ThreadEntry {
                            url: format!("/{}", docs[id].url),
                            title: &docs[id].title,
                            date: docs[id].date.map(|d| d.view()),
                            current: id == doc.id,
                        })
                        .collect()
                })
                .unwrap_or_default(),
        };
        ctx.insert("doc", &view);
        for (name, id) in [("prev", prev_id), ("next", next_id)] {
            match digests {
                Some(digests) => {
                    ctx.insert_digested(name, id.map(|id| &digests[id]).into_iter(), || {
                        Vec::<DocCard<'_>>::new()
                    })
                }
                None => ctx.insert(name, &id.map(|id| self.card(&docs[id], agency))),
            }
        }
        ctx.insert(
            "breadcrumbs",
            &[
                Link {
                    name: agency.name.clone(),
                    url: format!("/{}/", agency.slug),
                },
                Link {
                    name: doc.title.clone(),
                    url: format!("/{}", doc.url),
                },
            ],
        );
        ctx.insert("feed_url", &format!("/{}/feed.xml", agency.slug));
        ctx
    }

    fn card<'d>(&self, doc: &'d Document, agency: &'d Agency) -> DocCard<'d> {
        DocCard {
            url: format!("/{}", doc.url),
            title: &doc.title,
            date: doc.date.map(|d| d.view()),
            year_url: doc.date.map(|d| format!("/years/{}/", d.year())),
            kind: doc.kind,
            kind_url: format!("/kinds/{}/", crate::slug::slugify(doc.kind)),
            agency: agency_card(agency),
            summary: &doc.summary,
            tags: doc
                .tags
                .iter()
                .map(|t| Link {
                    name: t.clone(),
                    url: format!("/tags/{}/", crate::slug::slugify(t)),
                })
                .collect(),
            html: None,
        }
    }

    /// Every listing page: home, agency indexes, browse pages, feeds, 404.
    pub fn listings(
        &self,
        out: &Output,
        docs: &[Document],
        collection: &Collection,
    ) -> Result<usize> {
        let agency_index = agency_positions(&collection.agencies);
        let by_title = |ids: &[usize]| {
            let mut sorted = ids.to_vec();
            sorted.sort_by(|&a, &b| Document::by_title(&docs[a], &docs[b]));
            sorted
        };
        let card_of = |id: usize| {
            let doc = &docs[id];
            self.card(doc, &collection.agencies[agency_index[doc.agency()]])
        };
        // Each card once, however many listings show it.
        let hashed_here: Vec<PageKey>;
        let card_digests = if self.card_digests.len() == docs.len() {
            &self.card_digests
        } else {
            hashed_here = (0..docs.len())
                .into_par_iter()
                .map(|id| value_digest(&card_of(id)))
                .collect();
            &hashed_here
        };
        // With the theme's `card.html`, each card is rendered once per listing kind (on first
        // use: a rebuild renders few listings) and spliced into every page that lists it; a
        // card is on about seven pages.
        let card_cells: Option<Vec<CardCells>> =
            self.template_prints.contains_key(CARD_TEMPLATE).then(|| {
                CARD_LISTINGS
                    .iter()
                    .map(|_| {
                        (0..docs.len().min(CARD_DOCS))
                            .map(|_| OnceLock::new())
                            .collect()
                    })
                    .collect()
            });
        let cells = |listing: usize| card_cells.as_ref().map(|cells| &cells[listing]);
        let agency_listing_card = |id: usize| {
            held_card(cells(0), id, || {
                self.card_html(&card_of(id), CARD_LISTINGS[0])
            })
        };
        let term_listing_card = |id: usize| {
            held_card(cells(1), id, || {
                self.card_html(&card_of(id), CARD_LISTINGS[1])
            })
        };
        let has_cards = card_cells.is_some();
        let cards_of = |slice: &[usize], slots: bool| {
            slice
                .iter()
                .map(|&id| DocCard {
                    html: slots.then(|| format!("{CARD_SLOT}{id}z")),
                    ..card_of(id)
                })
                .collect::<Vec<_>>()
        };
        let page_size = self.config.page_size;

        // Plan every listing page as a job; jobs hold ids, never cards or bodies.
        enum Job<'c> {
            Agency {
                agency: &'c Agency,
                sort: usize,
                ids: std::sync::Arc<Vec<usize>>,
                page: usize,
            },
            Term {
                taxonomy: usize,
                term: &'c Term,
                page: usize,
            },
        }
        let mut jobs = Vec::new();
        for agency in &collection.agencies {
            let orders = [
                agency.newest.clone(),
                agency.newest.iter().rev().copied().collect(),
                by_title(&agency.newest),
            ];
            for (sort, ids) in orders.into_iter().enumerate() {
                let ids = std::sync::Arc::new(ids);
                for page in 1..=page_count(ids.len(), page_size) {
                    jobs.push(Job::Agency {
                        agency,
                        sort,
                        ids: ids.clone(),
                        page,
                    });
                }
            }
        }
        let taxonomy_terms = [&collection.tags, &collection.years, &collection.kinds];
        for (taxonomy, terms) in taxonomy_terms.iter().enumerate() {
            for term in terms.iter() {
                for page in 1..=page_count(term.docs.len(), page_size) {
                    jobs.push(Job::Term {
                        taxonomy,
                        term,
                        page,
                    });
                }
            }
        }
        let listing_pages = jobs.len();
        jobs.par_iter()
            .map(|job| match job {
                Job::Agency {
                    agency,
                    sort,
                    ids,
                    page,
                } => {
                    let base = format!("/{}/{}", agency.slug, AGENCY_SORTS[*sort].0);
                    let (pager, slice) = paginate(ids, *page, page_size, &base);
                    #[derive(Serialize)]
                    struct AgencyView<'x> {
                        #[serde(flatten)]
                        card: AgencyCard<'x>,
                        website: Option<&'x str>,
                        description: Option<&'x str>,
                    }
                    let tables = self.agency_tables.get(&agency.slug);
                    let fill = |ctx: &mut PageContext, slots: bool| {
                        ctx.insert(
                            "agency",
                            &AgencyView {
                                card: agency_card(agency),
                                website: agency.website.as_deref(),
                                description: agency.description.as_deref(),
                            },
                        );
                        ctx.insert_digested(
                            "docs",
                            slice.iter().map(|&id| &card_digests[id]),
                            || cards_of(slice, slots),
                        );
                        ctx.insert("pager", &pager);
                        let sorts: Vec<Sort> = AGENCY_SORTS
                            .iter()
                            .enumerate()
                            .map(|(i, (folder, label))| Sort {
                                label,
                                url: format!("/{}/{folder}", agency.slug),
                                active: i == *sort,
                            })
                            .collect();
                        ctx.insert("sorts", &sorts);
                        ctx.insert("tables", &tables.map_or(&[][..], Vec::as_slice));
                        ctx.insert("feed_url", &format!("/{}/feed.xml", agency.slug));
                    };
                    let url = &page_url(&base, *page)[1..];
                    let cards = has_cards.then_some(CardSplice {
                        card: &agency_listing_card,
                        ids: slice,
                    });
                    self.listing_lazy(out, "agency.html", url, fill, cards, false)
                }
                Job::Term {
                    taxonomy,
                    term,
                    page,
                } => {
                    let (folder, title) = TAXONOMIES[*taxonomy];
                    let base = format!("/{folder}/{}/", term.slug);
                    let (pager, slice) = paginate(&term.docs, *page, page_size, &base);
                    let fill = |ctx: &mut PageContext, slots: bool| {
                        ctx.insert("taxonomy", &taxonomy_view(folder, title));
                        ctx.insert(
                            "term",
                            &Count {
                                name: term.name.clone(),
                                url: base.clone(),
                                count: term.docs.len(),
                            },
                        );
                        ctx.insert_digested(
                            "docs",
                            slice.iter().map(|&id| &card_digests[id]),
                            || cards_of(slice, slots),
                        );
                        ctx.insert("pager", &pager);
                    };
                    let url = &page_url(&base, *page)[1..];
                    let cards = has_cards.then_some(CardSplice {
                        card: &term_listing_card,
                        ids: slice,
                    });
                    self.listing_lazy(out, "term.html", url, fill, cards, false)
                }
            })
            .collect::<Result<()>>()?;

        for (i, (folder, title)) in TAXONOMIES.iter().enumerate() {
            let mut ctx = PageContext::new();
            ctx.insert("taxonomy", &taxonomy_view(folder, title));
            ctx.insert("terms", &counts(folder, taxonomy_terms[i]));
            self.page(out, "taxonomy.html", &format!("{folder}/"), ctx)?;
        }
        self.home(out, collection, &card_of)?;
        self.page(out, "404.html", NOT_FOUND_PAGE, PageContext::new())?;
        self.feeds(out, docs, collection)?;
        Ok(listing_pages + TAXONOMIES.len() + 2)
    }

    fn home<'c>(
        &self,
        out: &Output,
        collection: &'c Collection,
        card_of: &dyn Fn(usize) -> DocCard<'c>,
    ) -> Result<()> {
        let mut ctx = PageContext::new();
        let agencies: Vec<AgencyCard> = collection.agencies.iter().map(agency_card).collect();
        ctx.insert("agencies", &agencies);
        let recent: Vec<DocCard> = collection
            .newest
            .iter()
            .take(20)
            .map(|&id| card_of(id))
            .collect();
        ctx.insert("recent", &recent);
        ctx.insert("kinds", &counts("kinds", &collection.kinds));
        ctx.insert("years", &counts("years", &collection.years));
        let mut top_tags = counts("tags", &collection.tags);
        top_tags.sort_by(|a, b| b.count.cmp(&a.count).then_with(|| a.name.cmp(&b.name)));
        top_tags.truncate(30);
        ctx.insert("top_tags", &top_tags);
        #[derive(Serialize)]
        struct Totals {
            documents: usize,
            agencies: usize,
        }
        ctx.insert(
            "totals",
            &Totals {
                documents: collection.newest.len(),
                agencies: collection.agencies.len(),
            },
        );
        ctx.insert("intro_html", &self.base.get("intro_html"));
        self.page_with_body(out, "home.html", "", ctx, None, self.intro)
    }

    /// The search page (`search.html`); `manifest_path` is the index manifest's site path,
    /// given to the template as `search_manifest` (`/search/<key>/manifest.js`).
    pub fn search_page(&self, out: &Output, manifest_path: &str) -> Result<()> {
        let mut ctx = PageContext::new();
        ctx.insert("search_manifest", &format!("/{manifest_path}"));
        self.page(out, "search.html", "search/", ctx)
    }

    /// Sets the home-page introduction (safe HTML).
    pub fn set_intro(&mut self, html: Option<String>) {
        let mut intro = PageContext::keyed();
        intro.insert("intro_html", &html);
        let values = intro.into_key();
        let values = values.expect("a string is hashed");
        self.base_key = page_cache::page_key(&[&self.base_key, &values]);
        self.intro = html.is_some();
        self.base.insert("intro_html", &html);
    }

    fn feeds(&self, out: &Output, docs: &[Document], collection: &Collection) -> Result<()> {
        let write_feed = |title: String, path: &str, alternate: &str, ids: &[usize]| {
            // Without a base URL, links are relative to the feed file itself.
            let prefix = crate::links::relative_prefix(path);
            let absolute = |target: &str| match &self.config.base_url {
                Some(base) => format!("{base}{target}"),
                None => crate::links::relativize(&format!("/{target}"), &prefix, false)
                    .unwrap_or_default(),
            };
            #[derive(Serialize)]
            struct Entry<'d> {
                title: &'d str,
                url: String,
                id: String,
                updated: Option<String>,
                summary: &'d str,
                agency: &'d str,
            }
            #[derive(Serialize)]
            struct Feed<'d> {
                title: String,
                id: String,
                updated: String,
                self_url: String,
                alternate_url: String,
                entries: Vec<Entry<'d>>,
            }
            let mut entries: Vec<Entry> = ids
                .iter()
                .take(self.config.feed_size)
                .map(|&id| {
                    let doc = &docs[id];
                    Entry {
                        title: &doc.title,
                        url: absolute(&doc.url),
                        id: feed_id(self.config, &doc.url),
                        updated: doc.date.map(|d| d.view().rfc3339),
                        summary: &doc.summary,
                        agency: doc.agency(),
                    }
                })
                .collect();
            // No wall clock in the output: a feed is as new as its newest entry, and an
            // undated entry (Atom requires a date) takes the feed's date.
            let updated = entries
                .iter()
                .filter_map(|e| e.updated.clone())
                .max()
                .unwrap_or_else(|| "1970-01-01T00:00:00Z".to_owned());
            for entry in &mut entries {
                entry.updated.get_or_insert_with(|| updated.clone());
            }
            let mut ctx = tera::Context::new();
            ctx.insert(
                "feed",
                &Feed {
                    title,
                    id: feed_id(self.config, path),
                    updated,
                    self_url: absolute(path),
                    alternate_url: absolute(alternate),
                    entries,
                },
            );
            self.raw(out, "atom.xml", path, ctx)
        };
        write_feed(
            self.config.title.clone(),
            "feed.xml",
            "",
            &collection.newest,
        )?;
        collection
            .agencies
            .par_iter()
            .map(|agency| {
                write_feed(
                    format!("{} — {}", agency.name, self.config.title),
                    &format!("{}/feed.xml", agency.slug),
                    &format!("{}/", agency.slug),
                    &agency.newest,
                )
            })
            .collect()
    }
}

/// The path part of the base URL, `/` when there is none.
/// `prints` with the card template's folded into those of the listings it renders cards
/// for, which do not name it.
fn listing_prints(mut prints: HashMap<String, PageKey>) -> HashMap<String, PageKey> {
    if let Some(card) = prints.get(CARD_TEMPLATE).copied() {
        for listing in ["agency.html", "term.html"] {
            if let Some(print) = prints.get_mut(listing) {
                *print = Sha256::new()
                    .chain_update(*print)
                    .chain_update(card)
                    .finalize()
                    .into();
            }
        }
    }
    prints
}

fn root_path(base_url: Option<&str>) -> String {
    base_url
        .and_then(|url| url.split_once("://"))
        .and_then(|(_, rest)| rest.find('/').map(|i| rest[i..].to_owned()))
        .unwrap_or_else(|| "/".to_owned())
}

fn feed_id(config: &Config, path: &str) -> String {
    match &config.base_url {
        Some(base) => format!("{base}{path}"),
        None => format!("urn:leakpress:{path}"),
    }
}

fn agency_card(agency: &Agency) -> AgencyCard<'_> {
    AgencyCard {
        slug: &agency.slug,
        url: format!("/{}/", agency.slug),
        name: &agency.name,
        kind: agency.kind.as_deref(),
        state: agency.state.as_deref(),
        doc_count: agency.newest.len(),
    }
}

fn taxonomy_view(folder: &str, title: &str) -> BTreeMap<&'static str, String> {
    BTreeMap::from([
        ("name", folder.to_owned()),
        ("title", title.to_owned()),
        ("url", format!("/{folder}/")),
    ])
}

fn counts(folder: &str, terms: &[Term]) -> Vec<Count> {
    terms
        .iter()
        .map(|t| Count {
            name: t.name.clone(),
            url: format!("/{folder}/{}/", t.slug),
            count: t.docs.len(),
        })
        .collect()
}

fn key_values(pairs: &[(String, String)]) -> Vec<KeyValue<'_>> {
    pairs
        .iter()
        .map(|(key, value)| KeyValue { key, value })
        .collect()
}

/// Number of listing pages for `n` entries; an empty listing still has its first page.
pub(crate) fn page_count(n: usize, page_size: usize) -> usize {
    n.div_ceil(page_size).max(1)
}

/// Site path of page `page` of a listing at `base` (`/agency/`, `/agency/page/2/`).
pub(crate) fn page_url(base: &str, page: usize) -> String {
    if page == 1 {
        base.to_owned()
    } else {
        format!("{base}page/{page}/")
    }
}

pub(crate) fn paginate<'i>(
    ids: &'i [usize],
    page: usize,
    page_size: usize,
    base: &str,
) -> (Pager, &'i [usize]) {
    let total = page_count(ids.len(), page_size);
    let start = ((page - 1) * page_size).min(ids.len());
    let end = (start + page_size).min(ids.len());
    let window = 3;
    let pages = (page.saturating_sub(window).max(1)..=(page + window).min(total))
        .map(|number| PageLink {
            number,
            url: page_url(base, number),
            current: number == page,
        })
        .collect();
    let pager = Pager {
        current: page,
        total,
        prev_url: (page > 1).then(|| page_url(base, page - 1)),
        next_url: (page < total).then(|| page_url(base, page + 1)),
        first_url: page_url(base, 1),
        last_url: page_url(base, total),
        pages,
    };
    (pager, &ids[start..end])
}

/// `1536` → `1.5 KB`.
pub fn human_size(bytes: u64) -> String {
    const UNITS: [&str; 5] = ["bytes", "KB", "MB", "GB", "TB"];
    if bytes < 1024 {
        return format!("{bytes} bytes");
    }
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    format!("{value:.1} {}", UNITS[unit])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pagination_covers_every_entry_once() {
        let ids: Vec<usize> = (0..23).collect();
        let mut seen = Vec::new();
        for page in 1..=page_count(ids.len(), 10) {
            let (pager, slice) = paginate(&ids, page, 10, "/a/");
            assert_eq!(pager.total, 3);
            seen.extend_from_slice(slice);
        }
        assert_eq!(seen, ids);
        let (pager, _) = paginate(&ids, 2, 10, "/a/");
        assert_eq!(pager.prev_url.as_deref(), Some("/a/"));
        assert_eq!(pager.next_url.as_deref(), Some("/a/page/3/"));
    }

    #[test]
    fn root_path_comes_from_the_base_url() {
        assert_eq!(root_path(None), "/");
        assert_eq!(root_path(Some("https://example.org/")), "/");
        assert_eq!(root_path(Some("https://example.org/leaks/")), "/leaks/");
    }

    #[test]
    fn sizes_are_human() {
        assert_eq!(human_size(10), "10 bytes");
        assert_eq!(human_size(1536), "1.5 KB");
    }
}
