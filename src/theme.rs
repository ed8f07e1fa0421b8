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

    /// Builds the Tera engine with leakpress's filters.
    pub fn engine(&self) -> Result<tera::Tera> {
        let mut tera = tera::Tera::new();
        tera.autoescape_on(vec![".html", ".htm", ".xml"]);
        tera.register_filter("rel_url", crate::links::rel_url);
        tera.add_raw_templates(self.templates.iter().map(|(n, s)| (n.as_str(), s.as_str())))
            .map_err(|err| Error::Template(format!("{err:#}")))?;
        Ok(tera)
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

#[cfg(test)]
mod tests {
    use super::hashed_name;

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
