//! Stage 1, **discover**: walk `content/` and decide what each file is.
//!
//! Input: the content folder and the config. Output: a [`Discovery`] holding every source file
//! that goes on to extraction (sorted by path, so ids are stable), the agency folders with their
//! `_agency.yaml` metadata, the home-page introduction, and the fate of every file that does not
//! go on (hidden, excluded, a sidecar, a link out of `content/`, …).
//!
//! Invariants: links are never followed out of `content/`; every file under `content/` appears
//! exactly once, either in `sources` or in `fates`; the walk order never depends on the
//! file system, because walkdir sorts each folder by name.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use globset::{Glob, GlobSet, GlobSetBuilder};
use rayon::prelude::*;
use serde::Deserialize;
use walkdir::WalkDir;

use crate::config::Config;
use crate::error::{Error, Result, ResultExt};
use crate::report::{Fate, Report};
use crate::slug::slugify;
use crate::stamps::Stamp;

/// The file in an agency folder that describes the agency.
pub const AGENCY_FILE: &str = "_agency.yaml";
/// The optional home-page introduction at the top of `content/`.
pub const INTRO_FILE: &str = "_index.md";
/// Sidecars are `<file>.yaml` (or `.yml`) beside the file they describe.
const SIDECAR_EXTENSIONS: [&str; 2] = ["yaml", "yml"];

/// One input file that goes on to extraction.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct SourceFile {
    /// Path relative to `content/`, with `/` separators on every platform.
    pub rel_path: String,
    /// Where to read it.
    pub abs_path: PathBuf,
    /// The slug of the agency folder it belongs to.
    pub agency: String,
    /// Size in bytes.
    pub size: u64,
    /// What the file's metadata said when it was found (`None` where the platform gives no
    /// stamp): the incremental cache vouches for an unchanged file with it, and a published
    /// original is recognised by it, each without asking the file system again.
    pub stamp: Option<Stamp>,
    /// Lower-cased extension without the dot; empty when there is none.
    pub extension: String,
    /// A `<file>.yaml` sidecar beside it, if any.
    pub sidecar: Option<PathBuf>,
}

impl SourceFile {
    /// The file name without its folder.
    pub fn file_name(&self) -> &str {
        self.rel_path.rsplit('/').next().unwrap_or(&self.rel_path)
    }

    /// The path inside the agency folder (without the agency's own folder name).
    pub fn path_in_agency(&self) -> &str {
        self.rel_path
            .split_once('/')
            .map_or(&self.rel_path, |(_, rest)| rest)
    }
}

/// `_agency.yaml`, as written.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AgencyMeta {
    /// Display name; the folder name when absent.
    pub name: Option<String>,
    /// What sort of agency: fusion center, police department, HIDTA, …
    pub kind: Option<String>,
    /// State or region.
    pub state: Option<String>,
    /// The agency's public web site.
    pub url: Option<String>,
    /// A sentence or two about the agency.
    pub description: Option<String>,
}

/// An agency folder.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct AgencyFolder {
    /// URL slug, unique among agencies.
    pub slug: String,
    /// The folder's name on disk.
    pub folder: String,
    /// Its `_agency.yaml`, or defaults.
    pub meta: AgencyMeta,
}

/// What the walk found.
#[derive(Debug, Default)]
#[non_exhaustive]
pub struct Discovery {
    /// Files to extract, sorted by `rel_path`.
    pub sources: Vec<SourceFile>,
    /// Agency folders, sorted by slug.
    pub agencies: Vec<AgencyFolder>,
    /// `content/_index.md`, if present.
    pub intro: Option<PathBuf>,
}

/// URL segments the site itself uses at the top level; an agency folder with one of these
/// names gets a suffixed slug so it cannot shadow them.
const RESERVED_TOP_LEVEL: &[&str] = &[
    "assets", "search", "tags", "years", "kinds", "page", "404", "feed", "sitemap", "robots",
];

/// Walks `content_dir`. Files that do not go on to extraction are recorded in `report`.
pub fn discover(content_dir: &Path, config: &Config, report: &mut Report) -> Result<Discovery> {
    let content_root = content_dir
        .canonicalize()
        .with_path(content_dir)
        .map_err(|err| Error::Other(format!("cannot read the content folder: {err}")))?;
    let excluded = exclude_set(&config.exclude)?;
    let mut discovery = Discovery::default();
    let mut agency_slugs: BTreeMap<String, String> = BTreeMap::new(); // folder -> slug
    // (site path, where to read it, size and stamp once known)
    let mut files: Vec<(String, PathBuf, Option<Facts>)> = Vec::new();

    let mut walker = WalkDir::new(&content_root)
        .follow_links(false)
        .sort_by_file_name()
        .min_depth(1)
        .into_iter();
    while let Some(entry) = walker.next() {
        let entry = match entry {
            Ok(entry) => entry,
            Err(err) => {
                let rel = err
                    .path()
                    .and_then(|p| p.strip_prefix(&content_root).ok())
                    .map(to_rel)
                    .unwrap_or_default();
                report.skip(&rel, format!("unreadable: {err}"));
                continue;
            }
        };
        let rel = match entry.path().strip_prefix(&content_root) {
            Ok(rel) => to_rel(rel),
            Err(_) => continue,
        };
        let name = entry.file_name().to_string_lossy();
        let file_type = entry.file_type();

        if name.starts_with('.') {
            if file_type.is_dir() {
                report.skip_tree(&rel, "hidden folder", count_files(entry.path()));
                walker.skip_current_dir();
            } else {
                report.skip(&rel, "hidden file");
            }
            continue;
        }
        if excluded.is_match(&rel) {
            if file_type.is_dir() {
                report.skip_tree(&rel, "excluded by config", count_files(entry.path()));
                walker.skip_current_dir();
            } else {
                report.skip(&rel, "excluded by config");
            }
            continue;
        }

        let (path, meta) = if file_type.is_symlink() {
            match resolve_link(entry.path(), &content_root) {
                Ok(target) if target.is_file() => {
                    let meta = target.metadata().ok();
                    (target, Some(facts_of(meta.as_ref())))
                }
                Ok(_) => {
                    report.skip(&rel, "symbolic link to a folder: not followed");
                    continue;
                }
                Err(reason) => {
                    report.warn(&rel, format!("skipped: {reason}"));
                    report.skip(&rel, reason);
                    continue;
                }
            }
        } else if file_type.is_dir() {
            if entry.depth() == 1 {
                agency_slugs.insert(name.to_string(), String::new());
            }
            continue;
        } else {
            (entry.path().to_path_buf(), None)
        };

        if entry.depth() == 1 {
            if name == INTRO_FILE {
                discovery.intro = Some(path);
                report.record(
                    &rel,
                    Fate::Metadata {
                        role: "home-page introduction".into(),
                    },
                );
            } else if name == "leakpress.yaml" {
                report.skip(
                    &rel,
                    "configuration belongs at the archive root, not in content/",
                );
            } else {
                report.warn(&rel, "skipped: files must be inside an agency folder");
                report.skip(&rel, "not inside an agency folder");
            }
            continue;
        }
        files.push((rel, path, meta));
    }
    // The walk only lists; the files' metadata (one call a file, made one after another
    // during the walk before) is asked for after it, in parallel.
    files.par_iter_mut().for_each(|(_, path, facts)| {
        if facts.is_none() {
            *facts = Some(facts_of(std::fs::symlink_metadata(path).ok().as_ref()));
        }
    });

    // Agency slugs: unique, deterministic (folders are visited in sorted order).
    let mut used: BTreeMap<String, ()> = BTreeMap::new();
    for (folder, slug) in agency_slugs.iter_mut() {
        let mut base = slugify(folder);
        if RESERVED_TOP_LEVEL.contains(&base.as_str()) {
            base.push_str("-agency");
        }
        let mut candidate = base.clone();
        let mut n = 2;
        while used.contains_key(&candidate) {
            candidate = format!("{base}-{n}");
            n += 1;
        }
        used.insert(candidate.clone(), ());
        *slug = candidate;
    }

    let all_paths: BTreeMap<&str, &PathBuf> = files
        .iter()
        .map(|(rel, path, ..)| (rel.as_str(), path))
        .collect();
    let mut agency_meta: BTreeMap<String, AgencyMeta> = BTreeMap::new();
    let mut sources = Vec::new();
    for (rel, path, facts) in &files {
        let (size, stamp) = facts.unwrap_or_default();
        let (folder, rest) = rel.split_once('/').unwrap_or((rel.as_str(), ""));
        let agency = agency_slugs
            .get(folder)
            .cloned()
            .unwrap_or_else(|| slugify(folder));
        if rest == AGENCY_FILE {
            match read_agency_meta(path) {
                Ok(meta) => {
                    agency_meta.insert(folder.to_owned(), meta);
                    report.record(
                        rel,
                        Fate::Metadata {
                            role: "agency description".into(),
                        },
                    );
                }
                Err(err) => {
                    report.warn(rel, format!("agency description ignored: {err}"));
                    report.record(
                        rel,
                        Fate::Metadata {
                            role: "agency description (invalid)".into(),
                        },
                    );
                }
            }
            continue;
        }
        if rest == crate::tables::AGENCY_PROFILE_FILE {
            // Read by the table pass, which reports a bad profile as a build error.
            report.record(
                rel,
                Fate::Metadata {
                    role: "table profile".into(),
                },
            );
            continue;
        }
        if let Some(described) = sidecar_target(rel)
            && all_paths.contains_key(described)
        {
            report.record(
                rel,
                Fate::Metadata {
                    role: format!("sidecar of {described}"),
                },
            );
            continue;
        }
        let extension = Path::new(rel)
            .extension()
            .map(|e| e.to_string_lossy().to_ascii_lowercase())
            .unwrap_or_default();
        let sidecar = SIDECAR_EXTENSIONS
            .iter()
            .map(|ext| format!("{rel}.{ext}"))
            .find_map(|candidate| all_paths.get(candidate.as_str()).map(|p| (*p).clone()));
        sources.push(SourceFile {
            rel_path: rel.clone(),
            abs_path: path.clone(),
            agency,
            size,
            extension,
            sidecar,
            stamp,
        });
    }

    discovery.agencies = agency_slugs
        .into_iter()
        .map(|(folder, slug)| AgencyFolder {
            meta: agency_meta.remove(&folder).unwrap_or_default(),
            slug,
            folder,
        })
        .collect();
    discovery.agencies.sort_by(|a, b| a.slug.cmp(&b.slug));
    discovery.sources = sources;
    Ok(discovery)
}

/// A file's size and stamp.
type Facts = (u64, Option<Stamp>);

/// A file's size and stamp, from its metadata if it could be read.
fn facts_of(meta: Option<&std::fs::Metadata>) -> Facts {
    (meta.map_or(0, |m| m.len()), meta.and_then(Stamp::of))
}

/// `a/b/report.pdf.yaml` describes `a/b/report.pdf`.
fn sidecar_target(rel: &str) -> Option<&str> {
    SIDECAR_EXTENSIONS.iter().find_map(|ext| {
        rel.strip_suffix(ext)
            .and_then(|rest| rest.strip_suffix('.'))
            .filter(|target| Path::new(target).extension().is_some())
    })
}

fn read_agency_meta(path: &Path) -> Result<AgencyMeta> {
    let text = std::fs::read_to_string(path)?;
    if text.trim().is_empty() {
        return Ok(AgencyMeta::default());
    }
    crate::yaml::from_str(&text)
}

/// Resolves a symbolic link, refusing any target outside the content folder.
fn resolve_link(link: &Path, content_root: &Path) -> std::result::Result<PathBuf, String> {
    let target = link
        .canonicalize()
        .map_err(|err| format!("broken symbolic link ({err})"))?;
    if target.starts_with(content_root) {
        Ok(target)
    } else {
        Err("symbolic link points outside content/: not followed".to_owned())
    }
}

fn exclude_set(patterns: &[String]) -> Result<GlobSet> {
    let mut builder = GlobSetBuilder::new();
    for pattern in patterns {
        let glob = Glob::new(pattern)
            .map_err(|err| Error::Config(format!("exclude: {pattern:?}: {err}")))?;
        builder.add(glob);
    }
    builder
        .build()
        .map_err(|err| Error::Config(format!("exclude: {err}")))
}

fn count_files(dir: &Path) -> usize {
    WalkDir::new(dir)
        .follow_links(false)
        .into_iter()
        .filter_map(|e| e.ok())
        .filter(|e| !e.file_type().is_dir())
        .count()
}

fn to_rel(path: &Path) -> String {
    path.components()
        .map(|c| c.as_os_str().to_string_lossy())
        .collect::<Vec<_>>()
        .join("/")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sidecar_target_needs_an_extension_on_the_described_file() {
        assert_eq!(sidecar_target("a/report.pdf.yaml"), Some("a/report.pdf"));
        assert_eq!(sidecar_target("a/report.pdf.yml"), Some("a/report.pdf"));
        assert_eq!(sidecar_target("a/profile.yaml"), None);
    }
}
