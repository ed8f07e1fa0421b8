//! Page reuse between builds: each rendered page is keyed by a hash of everything it is made
//! from (its template and the templates that template names, every value in its context, its
//! body, its path), and the key and the SHA-256 of the bytes written are kept in the
//! incremental cache. A rebuild whose page has the same key, and whose output folder still
//! holds those exact bytes, leaves the file alone without rendering it.
//!
//! Why a key over the context and not over the inputs: a document page also shows its
//! neighbours, its agency, the records that cite it. Hashing what the template receives covers
//! all of that without a list of dependencies to keep up to date, so a reused page is always
//! the page a clean build would write.

use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;

use serde::Serialize;
use sha2::{Digest, Sha256};

/// The cache namespace and key the page table is stored under (one entry for the whole site).
pub const NAMESPACE: &str = "pages";
/// Cache keys are hex: this one spells "pages".
const TABLE_KEY: &str = "7061676573";
/// First line of the stored table; bump when the key's recipe or the layout changes.
const TABLE_MAGIC: &str = "leakpress pages v2";

/// A page's key: SHA-256 of its inputs.
pub type PageKey = [u8; 32];

/// SHA-256 of `value`'s JSON, for [`PageContext::insert_digested`]; all zeros for a value
/// that cannot be serialized, which then cannot be rendered either.
pub fn value_digest<T: Serialize + ?Sized>(value: &T) -> PageKey {
    serde_json::to_vec(value).map_or([0; 32], |json| Sha256::digest(json).into())
}

/// A template context that also hashes every value put into it, so the page it renders can be
/// recognised on the next build. A context made from a plain [`tera::Context`] has no hash and
/// its page is always rendered; a [`PageContext::keyed`] one only hashes, for a page that is
/// rendered only if its key changed.
pub struct PageContext {
    /// `None` when only keyed.
    context: Option<tera::Context>,
    hasher: Option<Sha256>,
    /// A value's JSON, hashed in one update: fed token by token, the hasher's per-call work
    /// was most of the cost of keying a page.
    json: Vec<u8>,
}

impl Default for PageContext {
    fn default() -> PageContext {
        PageContext::new()
    }
}

impl PageContext {
    /// An empty context.
    pub fn new() -> PageContext {
        PageContext {
            context: Some(tera::Context::new()),
            hasher: Some(Sha256::new()),
            json: Vec::new(),
        }
    }

    /// An empty context that only hashes its values: converting them for Tera costs as much
    /// as hashing them, and most pages of a rebuild are not rendered.
    pub fn keyed() -> PageContext {
        PageContext {
            context: None,
            ..PageContext::new()
        }
    }

    /// Whether this context only hashes ([`PageContext::keyed`]).
    pub fn is_keyed(&self) -> bool {
        self.context.is_none()
    }

    /// Adds `value` under `name`, as [`tera::Context::insert`] does.
    pub fn insert<T: Serialize + ?Sized>(&mut self, name: &'static str, value: &T) {
        if let Some(hasher) = &mut self.hasher {
            // A value that cannot be serialized cannot be rendered either; the page is then
            // simply not reused.
            self.json.clear();
            if serde_json::to_writer(&mut self.json, &(name, value)).is_ok() {
                hasher.update(&self.json);
            } else {
                self.hasher = None;
            }
        }
        if let Some(context) = &mut self.context {
            context.insert(name, value);
        }
    }

    /// Adds the list `values` makes under `name`, hashing `digests` (one per value, each a
    /// [`value_digest`] of it) instead of the values: a document's card is listed on
    /// several pages (its agency's three orders, each of its tags, its year and kind) and is
    /// then serialized and hashed once, not on every page. A keyed context never makes the
    /// list.
    pub fn insert_digested<'d, T: Serialize>(
        &mut self,
        name: &'static str,
        digests: impl ExactSizeIterator<Item = &'d PageKey>,
        values: impl FnOnce() -> Vec<T>,
    ) {
        if let Some(hasher) = &mut self.hasher {
            // 0xFF never occurs in JSON (it is not UTF-8), so this cannot read as a value
            // [`PageContext::insert`] hashed.
            hasher.update([0xFF]);
            hasher.update(name.as_bytes());
            hasher.update([0]);
            hasher.update((digests.len() as u64).to_le_bytes());
            for digest in digests {
                hasher.update(digest);
            }
        }
        if let Some(context) = &mut self.context {
            context.insert(name, &values());
        }
    }

    /// Adds every value of `other` (its hash too; a plain context makes this one plain). A
    /// keyed context extends only a keyed one: its values are not there to render.
    pub fn extend(&mut self, other: PageContext) {
        debug_assert!(
            self.context.is_none() || other.context.is_some(),
            "a keyed context's values cannot be rendered"
        );
        match (&mut self.hasher, other.hasher) {
            (Some(hasher), Some(theirs)) => hasher.update(theirs.finalize()),
            _ => self.hasher = None,
        }
        if let (Some(context), Some(theirs)) = (&mut self.context, other.context) {
            context.extend(theirs);
        }
    }

    /// The context for Tera, and the hash of its values if every value was hashed. Not for
    /// a keyed context, which has no values to render ([`PageContext::into_key`]).
    pub(crate) fn into_parts(self) -> (tera::Context, Option<[u8; 32]>) {
        debug_assert!(
            self.context.is_some(),
            "a keyed context has nothing to render"
        );
        (
            self.context.unwrap_or_default(),
            self.hasher.map(|h| h.finalize().into()),
        )
    }

    /// The hash of the values, if every value was hashed.
    pub(crate) fn into_key(self) -> Option<[u8; 32]> {
        self.hasher.map(|h| h.finalize().into())
    }
}

impl From<tera::Context> for PageContext {
    fn from(context: tera::Context) -> PageContext {
        PageContext {
            context: Some(context),
            hasher: None,
            json: Vec::new(),
        }
    }
}

/// Per template: a hash of its source and of every template it uses, transitively, so a
/// changed template re-renders the pages whose template uses it and no others. A template uses
/// those whose file name it quotes (`{% extends "base.html" %}`, `{% include 'x.html' %}`) and
/// every template that defines a component, since Tera's components are called by name from
/// anywhere (`{{ <pager pager={pager} /> }}`). Both rules err on the side of a dependency: a
/// name quoted for another reason costs a re-render, never a stale page.
pub fn template_fingerprints(templates: &BTreeMap<String, String>) -> HashMap<String, [u8; 32]> {
    let defines_components =
        |source: &str| source.contains("{% component") || source.contains("{%- component");
    let shared: Vec<&str> = templates
        .iter()
        .filter(|(_, source)| defines_components(source))
        .map(|(name, _)| name.as_str())
        .collect();
    let names_in = |source: &str| -> Vec<&str> {
        templates
            .keys()
            .filter(|name| {
                source.contains(&format!("\"{name}\"")) || source.contains(&format!("'{name}'"))
            })
            .map(String::as_str)
            .collect()
    };
    let direct: HashMap<&str, Vec<&str>> = templates
        .iter()
        .map(|(name, source)| (name.as_str(), names_in(source)))
        .collect();
    templates
        .keys()
        .map(|name| {
            // Every template reachable from this one, in name order so the hash is stable.
            let mut reached = std::collections::BTreeSet::new();
            let mut stack = vec![name.as_str()];
            stack.extend(shared.iter().copied());
            while let Some(next) = stack.pop() {
                if reached.insert(next) {
                    stack.extend(direct[next].iter().copied());
                }
            }
            let mut hasher = Sha256::new();
            for dependency in reached {
                hasher.update((dependency.len() as u64).to_le_bytes());
                hasher.update(dependency.as_bytes());
                let source = &templates[dependency];
                hasher.update((source.len() as u64).to_le_bytes());
                hasher.update(source.as_bytes());
            }
            (name.clone(), hasher.finalize().into())
        })
        .collect()
}

/// The key of one page from its parts: each is length-prefixed, so no two different lists of
/// parts give the same byte stream.
pub fn page_key(parts: &[&[u8]]) -> PageKey {
    let mut hasher = Sha256::new();
    for part in parts {
        hasher.update((part.len() as u64).to_le_bytes());
        hasher.update(part);
    }
    hasher.finalize().into()
}

/// The previous build's pages (site path → key and SHA-256 of the bytes written), and this
/// build's, collected from every render thread.
#[derive(Default)]
pub struct PageTable {
    previous: HashMap<String, (PageKey, String)>,
    /// The stored bytes the previous table came from: an unchanged table is not stored again.
    stored: Vec<u8>,
    current: Mutex<Vec<(String, PageKey, String)>>,
}

impl PageTable {
    /// Reads a table stored by [`PageTable::encode`]; `None` when it does not parse (the cache
    /// checks its checksum, so this means another format).
    pub fn decode(bytes: &[u8]) -> Option<PageTable> {
        let text = std::str::from_utf8(bytes).ok()?;
        let mut lines = text.lines();
        if lines.next()? != TABLE_MAGIC {
            return None;
        }
        let mut previous = HashMap::new();
        for line in lines {
            let mut fields = line.split('\t');
            let (path, key, sha) = (fields.next()?, fields.next()?, fields.next()?);
            let mut page_key = [0u8; 32];
            hex::decode_to_slice(key, &mut page_key).ok()?;
            if sha.len() != 64 || fields.next().is_some() {
                return None;
            }
            previous.insert(path.to_owned(), (page_key, sha.to_owned()));
        }
        Some(PageTable {
            previous,
            stored: bytes.to_vec(),
            current: Mutex::default(),
        })
    }

    /// Whether the previous build wrote a page at `path`.
    pub fn knows(&self, path: &str) -> bool {
        self.previous.contains_key(path)
    }

    /// The SHA-256 the previous build wrote at `path` under `key`, if the key is the same.
    pub fn reusable(&self, path: &str, key: &PageKey) -> Option<&str> {
        self.previous
            .get(path)
            .filter(|(old, _)| old == key)
            .map(|(_, sha)| sha.as_str())
    }

    /// Notes the page this build has at `path`.
    pub fn record(&self, path: &str, key: PageKey, sha256: String) {
        self.current
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push((path.to_owned(), key, sha256));
    }

    /// This build's table, encoded, when it differs from the one the build started with.
    pub fn changed(&self) -> Option<Vec<u8>> {
        let bytes = self.encode();
        (bytes != self.stored).then_some(bytes)
    }

    /// This build's pages, in path order, for the next build.
    pub fn encode(&self) -> Vec<u8> {
        let mut pages = self.current.lock().unwrap_or_else(|e| e.into_inner());
        pages.sort_unstable_by(|a, b| a.0.cmp(&b.0));
        let mut out = String::with_capacity(TABLE_MAGIC.len() + 1 + pages.len() * 180);
        out.push_str(TABLE_MAGIC);
        out.push('\n');
        for (path, key, sha) in pages.iter() {
            out.push_str(path);
            out.push('\t');
            out.push_str(&hex::encode(key));
            out.push('\t');
            out.push_str(sha);
            out.push('\n');
        }
        out.into_bytes()
    }

    /// The cache key the table is stored under in [`NAMESPACE`].
    pub fn cache_key() -> &'static str {
        TABLE_KEY
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_template_change_reaches_exactly_the_templates_that_name_it() {
        let mut templates = BTreeMap::new();
        templates.insert(
            "base.html".to_owned(),
            "<html>{% block main %}{% endblock %}".to_owned(),
        );
        templates.insert(
            "parts.html".to_owned(),
            "{% macro card() %}x{% endmacro %}".to_owned(),
        );
        templates.insert(
            "page.html".to_owned(),
            "{% extends \"base.html\" %}{% import 'parts.html' as parts %}".to_owned(),
        );
        templates.insert("alone.html".to_owned(), "<p>alone</p>".to_owned());
        let before = template_fingerprints(&templates);
        templates.insert(
            "parts.html".to_owned(),
            "{% macro card() %}y{% endmacro %}".to_owned(),
        );
        let after = template_fingerprints(&templates);
        assert_ne!(before["parts.html"], after["parts.html"]);
        assert_ne!(
            before["page.html"], after["page.html"],
            "page imports parts"
        );
        assert_eq!(before["base.html"], after["base.html"]);
        assert_eq!(before["alone.html"], after["alone.html"]);

        // Components are called without naming their file: every template depends on them.
        templates.insert(
            "components.html".to_owned(),
            "{% component badge(text) %}<b>{{ text }}</b>{% endcomponent badge %}".to_owned(),
        );
        let before = template_fingerprints(&templates);
        templates.insert(
            "components.html".to_owned(),
            "{% component badge(text) %}<i>{{ text }}</i>{% endcomponent badge %}".to_owned(),
        );
        let after = template_fingerprints(&templates);
        assert!(templates.keys().all(|name| before[name] != after[name]));
    }

    #[test]
    fn contexts_hash_their_values_and_plain_ones_do_not() {
        let hash = |value: &str| {
            let mut ctx = PageContext::new();
            ctx.insert("title", value);
            ctx.into_parts().1.expect("hashed")
        };
        assert_eq!(hash("a"), hash("a"));
        assert_ne!(hash("a"), hash("b"));
        let mut plain = PageContext::from(tera::Context::new());
        plain.insert("title", "a");
        assert!(plain.into_parts().1.is_none());
        let mut mixed = PageContext::new();
        mixed.extend(PageContext::from(tera::Context::new()));
        assert!(mixed.into_parts().1.is_none());
    }

    #[test]
    fn the_table_round_trips_and_rejects_other_formats() {
        let table = PageTable::default();
        table.record("b/index.html", [2; 32], "b".repeat(64));
        table.record("a/index.html", [1; 32], "a".repeat(64));
        let bytes = table.encode();
        let back = PageTable::decode(&bytes).expect("decodes");
        assert_eq!(
            back.reusable("a/index.html", &[1; 32]),
            Some(&*"a".repeat(64))
        );
        assert_eq!(back.reusable("a/index.html", &[9; 32]), None);
        assert_eq!(back.reusable("c/index.html", &[1; 32]), None);
        assert!(PageTable::decode(b"leakpress pages v0\n").is_none());
        assert!(PageTable::decode(b"leakpress pages v1\nx\tzz\tyy\n").is_none());
    }
}
