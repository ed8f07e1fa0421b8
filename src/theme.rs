//! The theme: Tera templates and static assets. The default theme is embedded in the binary,
//! so an archive folder with only `content/` builds; an archive's `themes/<name>/` overrides
//! any file of it by name.

use std::collections::BTreeMap;
use std::path::Path;

use include_dir::{Dir, include_dir};
use walkdir::WalkDir;

use crate::config::Config;
use crate::error::{Error, Result, ResultExt};
use crate::output::sha256_hex;

static DEFAULT_THEME: Dir<'static> = include_dir!("$CARGO_MANIFEST_DIR/themes/default");

/// A static asset, published under a content-hashed name.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Asset {
    /// Site path, e.g. `assets/style.3f2a9c1e04.css`.
    pub path: String,
    /// The bytes.
    pub bytes: Vec<u8>,
}

/// Loaded templates and assets.
#[non_exhaustive]
pub struct Theme {
    /// Template source by name (`document.html`), overrides applied.
    pub templates: BTreeMap<String, String>,
    /// Assets by their name under `static/` (`style.css`).
    pub assets: BTreeMap<String, Asset>,
    /// A hash over every template and asset; a change invalidates cached pages.
    pub fingerprint: String,
}

impl Theme {
    /// The embedded default theme with the archive's overrides from `root/themes/<theme>/`.
    pub fn load(root: &Path, config: &Config) -> Result<Theme> {
        let mut templates = BTreeMap::new();
        let mut statics: BTreeMap<String, Vec<u8>> = BTreeMap::new();
        collect_embedded(&DEFAULT_THEME, &mut templates, &mut statics)?;
        let override_dir = root.join("themes").join(&config.theme);
        if override_dir.is_dir() {
            for entry in WalkDir::new(&override_dir).sort_by_file_name() {
                let entry = entry.map_err(|e| Error::Other(e.to_string()))?;
                if !entry.file_type().is_file() {
                    continue;
                }
                let rel = entry
                    .path()
                    .strip_prefix(&override_dir)
                    .map_err(|e| Error::Other(e.to_string()))?
                    .to_string_lossy()
                    .replace('\\', "/");
                let bytes = std::fs::read(entry.path()).with_path(entry.path())?;
                store(&rel, bytes, &mut templates, &mut statics).with_path(entry.path())?;
            }
        } else if config.theme != "default" {
            return Err(Error::Config(format!(
                "theme: no folder {} (themes are folders under themes/)",
                override_dir.display()
            )));
        }
        let mut fingerprint_input = Vec::new();
        for (name, source) in &templates {
            fingerprint_input.extend_from_slice(name.as_bytes());
            fingerprint_input.extend_from_slice(source.as_bytes());
        }
        let assets = statics
            .into_iter()
            .map(|(name, bytes)| {
                let hash = sha256_hex(&bytes);
                fingerprint_input.extend_from_slice(hash.as_bytes());
                let path = hashed_name("assets", &name, &hash);
                (name, Asset { path, bytes })
            })
            .collect();
        Ok(Theme {
            templates,
            assets,
            fingerprint: sha256_hex(&fingerprint_input),
        })
    }

    /// Builds the Tera engine with leakpress's filters. With `minify` (the `minify-html`
    /// settings pages are minified with), each HTML template is minified once here, its
    /// Tera syntax kept, when [`preminified`] finds that safe for every one of them; the
    /// second value says whether it was.
    pub fn engine(&self, minify: Option<&minify_html::Cfg>) -> Result<(tera::Tera, bool)> {
        let premade = minify.and_then(|cfg| preminified(&self.templates, cfg));
        let templates = premade.as_ref().unwrap_or(&self.templates);
        let mut tera = tera::Tera::new();
        tera.autoescape_on(vec![".html", ".htm", ".xml"]);
        tera.register_filter("rel_url", crate::links::rel_url);
        tera.add_raw_templates(templates.iter().map(|(n, s)| (n.as_str(), s.as_str())))
            .map_err(|err| Error::Template(format!("{err:#}")))?;
        Ok((tera, premade.is_some()))
    }

    /// Map from asset name to its site path (`/assets/…`), for templates.
    pub fn asset_urls(&self) -> BTreeMap<String, String> {
        self.assets
            .iter()
            .map(|(name, asset)| (name.clone(), format!("/{}", asset.path)))
            .collect()
    }
}

/// `style.css` + hash → `assets/style.<hash10>.css`; nested names keep their folders.
pub fn hashed_name(folder: &str, name: &str, hash: &str) -> String {
    let short = &hash[..10.min(hash.len())];
    match name.rsplit_once('.') {
        Some((stem, ext)) if !stem.is_empty() && !stem.ends_with('/') => {
            format!("{folder}/{stem}.{short}.{ext}")
        }
        _ => format!("{folder}/{name}.{short}"),
    }
}

fn collect_embedded(
    dir: &Dir<'static>,
    templates: &mut BTreeMap<String, String>,
    statics: &mut BTreeMap<String, Vec<u8>>,
) -> Result<()> {
    for file in dir.files() {
        let rel = file.path().to_string_lossy().replace('\\', "/");
        store(&rel, file.contents().to_vec(), templates, statics)?;
    }
    for sub in dir.dirs() {
        collect_embedded(sub, templates, statics)?;
    }
    Ok(())
}

fn store(
    rel: &str,
    bytes: Vec<u8>,
    templates: &mut BTreeMap<String, String>,
    statics: &mut BTreeMap<String, Vec<u8>>,
) -> Result<()> {
    if let Some(name) = rel.strip_prefix("templates/") {
        let source = String::from_utf8(bytes)
            .map_err(|_| Error::Template(format!("{name} is not UTF-8")))?;
        templates.insert(name.to_owned(), source);
    } else if let Some(name) = rel.strip_prefix("static/") {
        statics.insert(name.to_owned(), bytes);
    }
    Ok(())
}

/// The theme's templates with every `.html` one minified by `cfg` with Tera syntax kept, or
/// `None` unless that is safe for all of them. A page rendered from minified templates is
/// minified but for what its values put in, so it is not parsed again: that pass took a
/// fifth of a build's time. minify-html reads a template as HTML, so it is safe only where
/// Tera syntax stands for text or for a whole quoted attribute value; a tag opened in one
/// branch of an `if` and closed after it, or Tera syntax among a tag's attributes, would be
/// taken apart. Each template must come out with the same Tera syntax, in the same order,
/// and the same tags, in the same order, and no Tera syntax inside a tag outside quotes.
fn preminified(
    templates: &BTreeMap<String, String>,
    cfg: &minify_html::Cfg,
) -> Option<BTreeMap<String, String>> {
    let mut cfg = cfg.clone();
    cfg.preserve_brace_template_syntax = true;
    templates
        .iter()
        .map(|(name, source)| {
            if !name.ends_with(".html") {
                return Some((name.clone(), source.clone()));
            }
            let minified = minify_in_place(source, &cfg)?;
            let (before, after) = (TemplateShape::of(source)?, TemplateShape::of(&minified)?);
            (before == after).then(|| (name.clone(), minified))
        })
        .collect()
}

/// `source` minified as where it may be printed. A template that is not a whole document
/// (a child template's blocks, components) may be printed inside text, where the space
/// between two elements shows: it is minified inside a `<span>`, which keeps such spaces
/// (collapsed to one), then taken out of it.
fn minify_in_place(source: &str, cfg: &minify_html::Cfg) -> Option<String> {
    const OPEN: &str = "<span>";
    const CLOSE: &str = "</span>";
    let head = source.trim_start().as_bytes();
    let document = head.len() >= 9
        && (head[..9].eq_ignore_ascii_case(b"<!doctype")
            || head[..5].eq_ignore_ascii_case(b"<html"));
    if document {
        return String::from_utf8(minify_html::minify(source.as_bytes(), cfg)).ok();
    }
    let wrapped = format!("{OPEN}{source}{CLOSE}");
    let minified = String::from_utf8(minify_html::minify(wrapped.as_bytes(), cfg)).ok()?;
    Some(minified.strip_prefix(OPEN)?.strip_suffix(CLOSE)?.to_owned())
}

/// What minifying a template must not change: its Tera syntax and its tags, in order. A
/// tag's attributes may be reordered (minify-html sorts them), so a tag counts as one item:
/// the Tera syntax of each of its quoted values, sorted.
#[derive(PartialEq, Eq, Debug)]
struct TemplateShape<'t> {
    tera: Vec<TeraItem<'t>>,
    /// Tag names, `/` before a closing one, lower-cased.
    tags: Vec<String>,
}

#[derive(PartialEq, Eq, Debug)]
enum TeraItem<'t> {
    /// Tera syntax outside tags.
    One(&'t str),
    /// The Tera syntax in a tag's quoted values: a list per value, sorted.
    Tag(Vec<Vec<&'t str>>),
}

impl<'t> TemplateShape<'t> {
    /// `None` when Tera syntax is unclosed, or stands in a tag outside a quoted value.
    fn of(template: &'t str) -> Option<TemplateShape<'t>> {
        let mut syntax = Vec::new();
        // The template with each piece of Tera syntax as one NUL, so its `<` and quotes
        // are not read as markup.
        let mut markup = String::with_capacity(template.len());
        let mut rest = template;
        while let Some(at) = rest.find('{') {
            let close = match rest.as_bytes().get(at + 1) {
                Some(b'{') => "}}",
                Some(b'%') => "%}",
                Some(b'#') => "#}",
                _ => {
                    markup.push_str(&rest[..=at]);
                    rest = &rest[at + 1..];
                    continue;
                }
            };
            let end = at + 2 + rest[at + 2..].find(close)? + 2;
            markup.push_str(&rest[..at]);
            markup.push('\0');
            syntax.push(&rest[at..end]);
            rest = &rest[end..];
        }
        markup.push_str(rest);
        let mut syntax = syntax.into_iter();

        let mut tera = Vec::new();
        let mut tags = Vec::new();
        let bytes = markup.as_bytes();
        let find = |from: usize, needle: &[u8]| {
            bytes
                .get(from..)?
                .windows(needle.len())
                .position(|w| w.eq_ignore_ascii_case(needle))
                .map(|at| from + at)
        };
        // Tera syntax in text (or in a comment or a script) up to `end`.
        let text = |from: usize,
                    end: usize,
                    syntax: &mut std::vec::IntoIter<&'t str>,
                    tera: &mut Vec<TeraItem<'t>>|
         -> Option<()> {
            for _ in bytes[from..end].iter().filter(|b| **b == 0) {
                tera.push(TeraItem::One(syntax.next()?));
            }
            Some(())
        };
        let mut i = 0;
        while i < bytes.len() {
            let opens_tag = |at: usize| {
                let name_at = at + 1 + usize::from(bytes.get(at + 1) == Some(&b'/'));
                bytes[at] == b'<' && bytes.get(name_at).is_some_and(u8::is_ascii_alphabetic)
            };
            let next = (i..bytes.len())
                .find(|&at| opens_tag(at) || bytes[at..].starts_with(b"<!--"))
                .unwrap_or(bytes.len());
            text(i, next, &mut syntax, &mut tera)?;
            i = next;
            if i == bytes.len() {
                break;
            }
            if bytes[i..].starts_with(b"<!--") {
                let end = find(i, b"-->").map_or(bytes.len(), |end| end + 3);
                text(i, end, &mut syntax, &mut tera)?;
                i = end;
                continue;
            }
            let closing = bytes[i + 1] == b'/';
            let name_at = i + 1 + usize::from(closing);
            let name_end = bytes[name_at..]
                .iter()
                .position(|b| !b.is_ascii_alphanumeric() && *b != b'-')
                .map_or(bytes.len(), |n| name_at + n);
            let name = markup[name_at..name_end].to_ascii_lowercase();
            // To the tag's end: Tera syntax may stand only inside a quoted value.
            let mut values = Vec::new();
            let mut value = Vec::new();
            let mut quote = None;
            let mut j = name_end;
            while j < bytes.len() {
                match (quote, bytes[j]) {
                    (None, b'>') => break,
                    (None, b'"' | b'\'') => quote = Some(bytes[j]),
                    (Some(q), b) if b == q => {
                        quote = None;
                        if !value.is_empty() {
                            values.push(std::mem::take(&mut value));
                        }
                    }
                    (Some(_), 0) => value.push(syntax.next()?),
                    (None, 0) => return None,
                    _ => {}
                }
                j += 1;
            }
            if !values.is_empty() {
                values.sort();
                tera.push(TeraItem::Tag(values));
            }
            let raw_text = !closing && matches!(name.as_str(), "script" | "style");
            let end = format!("</{name}");
            tags.push(if closing { format!("/{name}") } else { name });
            i = j + 1;
            if raw_text {
                let close = find(i, end.as_bytes())?;
                text(i, close, &mut syntax, &mut tera)?;
                i = close;
            }
        }
        Some(TemplateShape { tera, tags })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn page_cfg() -> minify_html::Cfg {
        let mut cfg = minify_html::Cfg::new();
        cfg.keep_closing_tags = true;
        cfg.keep_html_and_head_opening_tags = true;
        cfg
    }

    #[test]
    fn the_default_theme_is_minified_when_loaded() {
        let theme = Theme::load(Path::new("/nonexistent"), &Config::default()).unwrap();
        let minified = preminified(&theme.templates, &page_cfg()).expect("every template is safe");
        let base = &minified["base.html"];
        assert!(base.len() < theme.templates["base.html"].len(), "{base}");
        assert!(!base.contains('\n'), "{base}");
        let (_, premade) = theme.engine(Some(&page_cfg())).unwrap();
        assert!(premade);
        let (_, premade) = theme.engine(None).unwrap();
        assert!(!premade, "minify: false keeps the templates as written");
    }

    /// Each of these would come out of minify-html broken: Tera syntax among a tag's
    /// attributes, a tag opened in a branch and closed after it, a quote inside Tera syntax
    /// in a quoted value, unclosed Tera syntax.
    #[test]
    fn templates_minifying_would_break_are_kept_as_written() {
        let safe = r#"<ul>{% for t in tags %}
  <li><a href="{{ t.url }}" class="tag">{{ t.name }}</a></li>
{% endfor %}</ul>"#;
        for unsafe_template in [
            r#"<a href="/"{% if current %} aria-current="page"{% endif %}>Home</a>"#,
            r#"<li>{% if current %}<a href="/" aria-current="page">{% else %}<a href="/">{% endif %}Home</a></li>"#,
            r#"<link rel="stylesheet" href="{{ assets["style.css"] }}">"#,
            r#"<h{{ level }}>Title</h{{ level }}>"#,
            r#"<p>{{ unclosed </p>"#,
        ] {
            let templates = BTreeMap::from([
                ("a.html".to_owned(), safe.to_owned()),
                ("b.html".to_owned(), unsafe_template.to_owned()),
            ]);
            assert!(
                preminified(&templates, &page_cfg()).is_none(),
                "{unsafe_template}"
            );
        }
        let templates = BTreeMap::from([("a.html".to_owned(), safe.to_owned())]);
        let minified = preminified(&templates, &page_cfg()).unwrap();
        assert_eq!(
            minified["a.html"],
            r#"<ul>{% for t in tags %} <li><a href="{{ t.url }}" class=tag>{{ t.name }}</a></li>{% endfor %}</ul>"#
        );
    }

    /// A fragment may be printed inside text: the space between two of its elements stays.
    #[test]
    fn a_fragment_keeps_the_space_between_its_elements() {
        let templates = BTreeMap::from([(
            "c.html".to_owned(),
            "{% if x %}\n<span>·</span>\n<a href=\"{{ x }}\">Download</a>\n{% endif %}".to_owned(),
        )]);
        let minified = preminified(&templates, &page_cfg()).unwrap();
        assert!(
            minified["c.html"].contains("</span> <a"),
            "{}",
            minified["c.html"]
        );
    }

    #[test]
    fn hashed_names_keep_the_extension() {
        assert_eq!(
            hashed_name("assets", "style.css", "0123456789abcdef"),
            "assets/style.0123456789.css"
        );
        assert_eq!(
            hashed_name("assets", "LICENSE", "0123456789abcdef"),
            "assets/LICENSE.0123456789"
        );
    }
}
