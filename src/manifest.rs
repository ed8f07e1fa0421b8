//! Stage 7 (part), **manifest**: `MANIFEST.sha256` lists every published file in `sha256sum`
//! format, sorted by path, so a mirror checks itself with `sha256sum -c MANIFEST.sha256` or
//! `leakpress verify`.

use std::collections::BTreeMap;
use std::path::Path;

use walkdir::WalkDir;

use crate::error::{Error, Result, ResultExt};
use crate::output::{Digest256, digest_of_hex, sha256_file};

/// The manifest's file name at the root of the output.
pub const MANIFEST_FILE: &str = "MANIFEST.sha256";

/// Formats a ledger (path → SHA-256) as a `sha256sum` file.
pub fn render(ledger: &BTreeMap<String, Digest256>) -> String {
    let mut out = String::with_capacity(ledger.len() * 100);
    let mut hex = [0u8; 64];
    for (path, digest) in ledger {
        hex::encode_to_slice(digest, &mut hex).expect("64 hex digits for 32 bytes");
        out.push_str(std::str::from_utf8(&hex).expect("hex is ASCII"));
        out.push_str("  ");
        out.push_str(path);
        out.push('\n');
    }
    out
}

/// Reads a manifest into path → SHA-256, skipping lines that are not `<sha256>  <path>` (an
/// earlier build's manifest only tells a rebuild what it may leave alone).
pub fn parse(text: &str) -> std::collections::HashMap<String, Digest256> {
    // Sized up front: growing it moved every path about once more (a fifth of the parse).
    let lines = text.bytes().filter(|&b| b == b'\n').count() + 1;
    let mut map = std::collections::HashMap::with_capacity(lines);
    map.extend(
        text.lines()
            .filter_map(parse_line)
            .filter_map(|(sha, path)| Some((path.to_owned(), digest_of_hex(sha)?))),
    );
    map
}

fn parse_line(line: &str) -> Option<(&str, &str)> {
    line.split_once("  ")
}

/// What `verify` found.
#[derive(Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Verification {
    /// Files the manifest lists that are checked and match.
    pub ok: usize,
    /// Listed but absent.
    pub missing: Vec<String>,
    /// Present with other content.
    pub changed: Vec<String>,
    /// Present but not listed.
    pub extra: Vec<String>,
}

impl Verification {
    /// Whether the folder matches its manifest exactly.
    pub fn is_clean(&self) -> bool {
        self.missing.is_empty() && self.changed.is_empty() && self.extra.is_empty()
    }
}

/// Checks a published folder against its own `MANIFEST.sha256`.
pub fn verify(dir: &Path) -> Result<Verification> {
    let manifest_path = dir.join(MANIFEST_FILE);
    let text = std::fs::read_to_string(&manifest_path).with_path(&manifest_path)?;
    let mut listed = BTreeMap::new();
    for (n, line) in text.lines().enumerate() {
        let (sha, path) = parse_line(line).ok_or_else(|| {
            Error::Other(format!("line {}: not `<sha256>  <path>`", n + 1))
                .with_path(&manifest_path)
        })?;
        listed.insert(path.to_owned(), sha.to_owned());
    }
    let mut result = Verification::default();
    let mut present = BTreeMap::new();
    for entry in WalkDir::new(dir).sort_by_file_name() {
        let entry = entry.map_err(|e| Error::Other(e.to_string()))?;
        if entry.file_type().is_dir() {
            continue;
        }
        let rel = crate::output::site_path(dir, entry.path());
        if rel != MANIFEST_FILE {
            present.insert(rel, entry.path().to_path_buf());
        }
    }
    for (path, sha) in &listed {
        match present.get(path) {
            None => result.missing.push(path.clone()),
            Some(file) => {
                if sha_eq(&sha256_file(file)?, sha) {
                    result.ok += 1;
                } else {
                    result.changed.push(path.clone());
                }
            }
        }
    }
    result.extra = present
        .into_keys()
        .filter(|path| !listed.contains_key(path))
        .collect();
    Ok(result)
}

fn sha_eq(a: &str, b: &str) -> bool {
    a.eq_ignore_ascii_case(b)
}
