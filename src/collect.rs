//! Stage 4, **collect**: from the extracted documents, work out URLs, agencies, browse
//! groupings and sort orders. Cheap metadata only — no bodies — so it holds at a million
//! documents.
//!
//! Invariants: every document gets a URL unique in the site (a clash is resolved with a
//! numeric suffix and a warning); identical originals (same SHA-256) are published once;
//! every ordering is total (ties broken by source path), so output never depends on the
//! order threads finished in.

use std::collections::{BTreeMap, HashMap};

use rayon::prelude::*;

use crate::discover::AgencyFolder;
use crate::document::Document;
use crate::slug::slugify;

/// Slugs a document may not take, because the agency's listing pages use them.
const RESERVED_IN_AGENCY: &[&str] = &["page", "oldest", "title", "feed"];

/// One agency with its documents.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Agency {
    /// URL slug.
    pub slug: String,
    /// Display name.
    pub name: String,
    /// Kind of agency.
    pub kind: Option<String>,
    /// State or region.
    pub state: Option<String>,
    /// Its public web site.
    pub website: Option<String>,
    /// Description.
    pub description: Option<String>,
    /// Its documents' ids, newest first.
    pub newest: Vec<usize>,
}

/// A browse grouping (a tag, a year, a kind).
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Term {
    /// Display name.
    pub name: String,
    /// URL slug.
    pub slug: String,
    /// Document ids, newest first.
    pub docs: Vec<usize>,
}

/// The whole site's structure.
#[derive(Debug, Default)]
#[non_exhaustive]
pub struct Collection {
    /// Agencies by slug order.
    pub agencies: Vec<Agency>,
    /// Tags, by slug.
    pub tags: Vec<Term>,
    /// Years, newest first.
    pub years: Vec<Term>,
    /// Kinds, by name.
    pub kinds: Vec<Term>,
    /// All document ids, newest first.
    pub newest: Vec<usize>,
    /// For each document id: identical files elsewhere (other document ids).
    pub duplicates: HashMap<usize, Vec<usize>>,
    /// For each email in a thread of two or more: the thread's document ids, oldest first.
    pub threads: HashMap<usize, std::sync::Arc<Vec<usize>>>,
}

/// Assigns slugs and URLs (with warnings for clashes) and publishes each distinct original
/// once. `docs` must be in id order.
pub fn assign_urls(docs: &mut [Document]) {
    // Slugs and file names are worked out in parallel; only claiming them is serial.
    let names: Vec<(String, String)> = docs
        .par_iter()
        .map(|doc| {
            let base = match &doc.slug {
                slug if !slug.is_empty() => slugify(slug),
                _ => default_slug(doc),
            };
            let base = if RESERVED_IN_AGENCY.contains(&base.as_str()) {
                format!("{base}-doc")
            } else {
                base
            };
            (base, original_file_name(doc))
        })
        .collect();
    let mut taken: HashMap<String, usize> = HashMap::with_capacity(docs.len());
    for (doc, (base, _)) in docs.iter_mut().zip(&names) {
        let agency = doc.agency();
        let mut slug = base.clone();
        let mut key = format!("{agency}/{slug}");
        let mut n = 2;
        while taken.contains_key(&key) {
            slug = format!("{base}-{n}");
            key = format!("{agency}/{slug}");
            n += 1;
        }
        if slug != *base {
            let first = taken[&format!("{agency}/{base}")];
            doc.warnings.push(format!(
                "URL {agency}/{base}/ is taken by document #{first}: published at {agency}/{slug}/ instead"
            ));
        }
        doc.url = format!("{key}/");
        taken.insert(key, doc.id);
        doc.slug = slug;
    }
    // Identical originals are stored once, beside the first page (in path order) that has one.
    let mut first_with_hash: HashMap<&str, usize> = HashMap::with_capacity(docs.len());
    let first: Vec<usize> = docs
        .iter()
        .enumerate()
        .map(|(i, doc)| *first_with_hash.entry(doc.sha256.as_str()).or_insert(i))
        .collect();
    drop(first_with_hash);
    let urls: Vec<String> = first
        .par_iter()
        .map(|&i| format!("{}{}", docs[i].url, names[i].1))
        .collect();
    for (doc, url) in docs.iter_mut().zip(urls) {
        doc.original_url = Some(url);
    }
}

/// `bulletins/2020/protest.md` → `bulletins-2020-protest`; other formats keep their
/// extension (`report.pdf` → `report-pdf`) so `report.md` and `report.pdf` do not clash.
fn default_slug(doc: &Document) -> String {
    let path = doc.source.path_in_agency();
    // Tables drop theirs too: `Documents.csv` is the `documents` table (`/agency/documents/`).
    let stem = if doc.kind == "markdown" || doc.kind == "table" {
        path.rsplit_once('.').map_or(path, |(stem, _)| stem)
    } else {
        path
    };
    slugify(stem)
}

/// The published original's file name: ASCII and URL-safe, extension kept. Files a browser
/// would run script from (`.html`, `.svg`, …: `extract::ACTIVE_EXTENSIONS`) get a `.txt`
/// suffix, so opening the download shows their source instead of running it on our origin.
pub fn original_file_name(doc: &Document) -> String {
    let name = doc.source.file_name();
    match name.rsplit_once('.') {
        Some((stem, ext)) if !stem.is_empty() => {
            let ext = slugify(ext);
            if crate::extract::ACTIVE_EXTENSIONS.contains(&ext.as_str()) {
                format!("{}.{ext}.txt", slugify(stem))
            } else {
                format!("{}.{ext}", slugify(stem))
            }
        }
        _ => slugify(name),
    }
}

/// Groups documents into agencies and browse terms.
pub fn collect(docs: &[Document], folders: &[AgencyFolder]) -> Collection {
    // Three independent passes, side by side: this stage is serial but for them.
    let ((newest, duplicates), threads) = rayon::join(
        || rayon::join(|| newest_first(docs), || duplicates(docs)),
        || mail_threads(docs),
    );

    let mut by_agency: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
    let mut tags: BTreeMap<String, (String, Vec<usize>)> = BTreeMap::new();
    let mut years: BTreeMap<i32, Vec<usize>> = BTreeMap::new();
    let mut kinds: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
    // A tag's slug once per distinct tag, not once per document that has it.
    let mut tag_slugs: HashMap<&str, String> = HashMap::new();
    for &id in &newest {
        let doc = &docs[id];
        by_agency.entry(doc.agency()).or_default().push(id);
        for tag in &doc.tags {
            let slug = tag_slugs
                .entry(tag.as_str())
                .or_insert_with(|| slugify(tag))
                .clone();
            let entry = tags
                .entry(slug)
                .or_insert_with(|| (tag.clone(), Vec::new()));
            if entry.1.last() != Some(&id) {
                entry.1.push(id);
            }
        }
        if let Some(date) = doc.date {
            years.entry(date.year()).or_default().push(id);
        }
        kinds.entry(doc.kind).or_default().push(id);
    }

    let agencies = folders
        .iter()
        .map(|folder| Agency {
            slug: folder.slug.clone(),
            name: folder
                .meta
                .name
                .clone()
                .unwrap_or_else(|| folder_to_name(&folder.folder)),
            kind: folder.meta.kind.clone(),
            state: folder.meta.state.clone(),
            website: folder.meta.url.clone(),
            description: folder.meta.description.clone(),
            newest: by_agency.remove(folder.slug.as_str()).unwrap_or_default(),
        })
        .collect();

    Collection {
        agencies,
        tags: tags
            .into_iter()
            .map(|(slug, (name, docs))| Term { name, slug, docs })
            .collect(),
        years: years
            .into_iter()
            .rev()
            .map(|(year, docs)| Term {
                name: year.to_string(),
                slug: year.to_string(),
                docs,
            })
            .collect(),
        kinds: kinds
            .into_iter()
            .map(|(kind, docs)| Term {
                name: kind.to_owned(),
                slug: slugify(kind),
                docs,
            })
            .collect(),
        newest,
        duplicates,
        threads,
    }
}

/// Every document id, newest first.
fn newest_first(docs: &[Document]) -> Vec<usize> {
    let mut newest: Vec<usize> = (0..docs.len()).collect();
    newest.par_sort_by(|&a, &b| Document::newest_first(&docs[a], &docs[b]));
    newest
}

/// For each document with identical files elsewhere: their ids, in id order.
fn duplicates(docs: &[Document]) -> HashMap<usize, Vec<usize>> {
    let mut by_hash: Vec<(&str, usize)> = docs.iter().map(|d| (d.sha256.as_str(), d.id)).collect();
    by_hash.par_sort_unstable();
    let mut duplicates = HashMap::new();
    for same in by_hash
        .chunk_by(|a, b| a.0 == b.0)
        .filter(|same| same.len() > 1)
    {
        for &(_, id) in same {
            let others = same.iter().map(|&(_, other)| other).filter(|&o| o != id);
            duplicates.insert(id, others.collect());
        }
    }
    duplicates
}

/// Groups emails into threads: messages linked by `In-Reply-To`/`References` to another's
/// `Message-ID`, or answering the same message (even one not in the archive), share a thread.
/// Only threads of two or more documents are kept; each lists its messages oldest first.
fn mail_threads(docs: &[Document]) -> HashMap<usize, std::sync::Arc<Vec<usize>>> {
    // Union-find over document ids, joined through every id a message names.
    let mut parent: Vec<usize> = (0..docs.len()).collect();
    fn root(parent: &mut [usize], mut x: usize) -> usize {
        while parent[x] != x {
            parent[x] = parent[parent[x]];
            x = parent[x];
        }
        x
    }
    let mut first_naming: BTreeMap<&str, usize> = BTreeMap::new();
    for doc in docs {
        let Some(ids) = &doc.mail_ids else { continue };
        for id in ids
            .message_id
            .iter()
            .chain(&ids.parents)
            .chain(&ids.in_mailbox)
        {
            match first_naming.get(id.as_str()) {
                Some(&other) => {
                    let (a, b) = (root(&mut parent, doc.id), root(&mut parent, other));
                    // The smaller id becomes the root, so grouping never depends on order.
                    parent[a.max(b)] = a.min(b);
                }
                None => {
                    first_naming.insert(id, doc.id);
                }
            }
        }
    }
    let mut groups: BTreeMap<usize, Vec<usize>> = BTreeMap::new();
    for doc in docs.iter().filter(|d| d.mail_ids.is_some()) {
        groups
            .entry(root(&mut parent, doc.id))
            .or_default()
            .push(doc.id);
    }
    let mut threads = HashMap::new();
    for (_, mut ids) in groups.into_iter().filter(|(_, ids)| ids.len() > 1) {
        // Oldest first: the reverse of newest-first, undated messages last, ties by path.
        ids.sort_by(|&a, &b| match (docs[a].date, docs[b].date) {
            (Some(x), Some(y)) => x.cmp(&y).then_with(|| a.cmp(&b)),
            (Some(_), None) => std::cmp::Ordering::Less,
            (None, Some(_)) => std::cmp::Ordering::Greater,
            (None, None) => a.cmp(&b),
        });
        let thread = std::sync::Arc::new(ids);
        for &id in thread.iter() {
            threads.insert(id, thread.clone());
        }
    }
    threads
}

/// `metro-transit-police` → `Metro Transit Police`.
fn folder_to_name(folder: &str) -> String {
    folder
        .split(['-', '_', ' '])
        .filter(|w| !w.is_empty())
        .map(|w| {
            let mut chars = w.chars();
            match chars.next() {
                Some(first) => first.to_uppercase().chain(chars).collect::<String>(),
                None => String::new(),
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::folder_to_name;

    #[test]
    fn folder_names_become_titles() {
        assert_eq!(
            folder_to_name("metro-transit-police"),
            "Metro Transit Police"
        );
        assert_eq!(folder_to_name("NCRIC_2020"), "NCRIC 2020");
    }
}
