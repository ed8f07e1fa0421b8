//! Shared helpers for the integration tests: build a fixture archive, check every link.
#![allow(dead_code)]

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use leakpress::{BuildOptions, Output, Report};

/// Folder of the named fixture under `tests/fixtures/`.
pub fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

/// The repository root, whose `content/` is the bundled sample archive.
pub fn sample_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Copies an archive (its `leakpress.yaml`, `content/` and `themes/`) into a fresh temporary
/// folder, so tests can add files and write output without touching the repository.
pub fn copy_archive(root: &Path) -> tempfile::TempDir {
    let temp = tempfile::tempdir().expect("temp dir");
    for name in ["leakpress.yaml", "tables.yaml", "content", "themes"] {
        let from = root.join(name);
        if from.is_dir() {
            copy_dir(&from, &temp.path().join(name));
        } else if from.is_file() {
            std::fs::copy(&from, temp.path().join(name)).expect("copy config");
        }
    }
    temp
}

fn copy_dir(from: &Path, to: &Path) {
    for entry in walkdir::WalkDir::new(from) {
        let entry = entry.expect("walk");
        let target = to.join(entry.path().strip_prefix(from).expect("prefix"));
        if entry.file_type().is_dir() {
            std::fs::create_dir_all(&target).expect("mkdir");
        } else {
            std::fs::copy(entry.path(), &target).expect("copy");
        }
    }
}

/// A built site in memory.
pub struct Site {
    pub files: BTreeMap<String, Vec<u8>>,
    pub report: Report,
}

impl Site {
    pub fn html(&self, path: &str) -> String {
        let bytes = self.files.get(path).unwrap_or_else(|| {
            panic!(
                "no {path} in the output; have e.g. {:?}",
                self.files.keys().take(20).collect::<Vec<_>>()
            )
        });
        String::from_utf8(bytes.clone()).expect("UTF-8 page")
    }

    pub fn has(&self, path: &str) -> bool {
        self.files.contains_key(path)
    }

    /// Warnings about one input file, as text.
    pub fn warnings_for(&self, path: &str) -> Vec<String> {
        self.report
            .warnings_for(path)
            .map(|w| w.message.clone())
            .collect()
    }
}

/// Builds the archive at `root` into memory.
pub fn build_memory(root: &Path, offline: bool, jobs: Option<usize>) -> Site {
    let mut options = BuildOptions::new(root);
    options.offline = offline;
    options.jobs = jobs;
    let out = Output::memory();
    let report = leakpress::build(&options, &out, &|_| {}).expect("build succeeds");
    Site {
        files: out.into_files(),
        report,
    }
}

/// Every `href`/`src`/`action` in every HTML page that is not external, resolved against the
/// page's folder; returns the ones that name no file in the output.
pub fn broken_links(site: &Site, offline: bool) -> Vec<String> {
    let mut broken = BTreeSet::new();
    for (path, bytes) in &site.files {
        if !path.ends_with(".html") {
            continue;
        }
        let html = String::from_utf8_lossy(bytes);
        for link in links_in(&html) {
            if link.starts_with('#')
                || link.contains("://")
                || link.starts_with("mailto:")
                || link.starts_with("data:")
            {
                continue;
            }
            // Only the 404 page, shown at any depth by a server, links from the site's root.
            let rooted = link.starts_with('/') && path == "404.html" && !offline;
            if link.starts_with('/') && !rooted {
                broken.insert(format!("{path}: absolute link {link}"));
                continue;
            }
            let target = link.split(['?', '#']).next().unwrap_or("");
            let resolved = if rooted {
                resolve("index.html", &target[1..])
            } else {
                resolve(path, target)
            };
            let exists = if resolved.is_empty() || resolved.ends_with('/') {
                !offline && site.files.contains_key(&format!("{resolved}index.html"))
            } else {
                site.files.contains_key(&resolved)
            };
            if !exists {
                broken.insert(format!("{path}: {link} -> {resolved}"));
            }
        }
    }
    broken.into_iter().collect()
}

/// The link attributes of a page, found with a real HTML parser (lol_html).
pub fn links_in(html: &str) -> Vec<String> {
    let found = std::cell::RefCell::new(Vec::new());
    lol_html::rewrite_str(
        html,
        lol_html::RewriteStrSettings::new().append_element_content_handler(lol_html::element!(
            "[href],[src],[action],[data-root]",
            |el| {
                for attr in ["href", "src", "action", "data-root"] {
                    if let Some(value) = el.get_attribute(attr) {
                        found.borrow_mut().push(value);
                    }
                }
                Ok(())
            }
        )),
    )
    .expect("parse page");
    found.into_inner()
}

/// Resolves a relative `link` from the page at `page` (both site paths, no leading `/`).
pub fn resolve(page: &str, link: &str) -> String {
    let mut parts: Vec<String> = page.split('/').map(str::to_owned).collect();
    parts.pop();
    for segment in percent_decode(link).split('/') {
        match segment {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            other => parts.push(other.to_owned()),
        }
    }
    let mut out = parts.join("/");
    let names_folder = link.is_empty() || link.ends_with('/') || link == ".";
    if names_folder && !out.is_empty() {
        out.push('/');
    }
    out
}

fn percent_decode(text: &str) -> String {
    percent_encoding::percent_decode_str(text)
        .decode_utf8_lossy()
        .into_owned()
}
