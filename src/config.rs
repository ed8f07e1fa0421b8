//! Site configuration: `leakpress.yaml` is parsed into a [`RawConfig`] that mirrors the file
//! (unknown keys rejected), then validated into a [`Config`] the pipeline can trust.

use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::error::{Error, Result, ResultExt};

/// The name of the configuration file at the archive root.
pub const CONFIG_FILE: &str = "leakpress.yaml";

/// `leakpress.yaml` exactly as written. Every key is optional.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    title: Option<String>,
    description: Option<String>,
    base_url: Option<String>,
    language: Option<String>,
    theme: Option<String>,
    page_size: Option<usize>,
    feed_size: Option<usize>,
    minify: Option<bool>,
    exclude: Option<Vec<String>>,
}

/// The validated site configuration.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Config {
    /// Site title, shown in every page header.
    pub title: String,
    /// One-sentence description for the home page, feeds and meta tags.
    pub description: String,
    /// Absolute URL the site is published at, always ending in `/`; feeds and the sitemap need
    /// it for absolute links. Pages never use it: their links are relative.
    pub base_url: Option<String>,
    /// BCP 47 language tag of the site's own text.
    pub language: String,
    /// Theme folder under `themes/` whose files override the built-in default theme.
    pub theme: String,
    /// Entries per listing page.
    pub page_size: usize,
    /// Entries per Atom feed.
    pub feed_size: usize,
    /// Whether HTML pages are minified.
    pub minify: bool,
    /// File-name patterns (`*` and `?` wildcards, matched against the path relative to
    /// `content/`) that are skipped with the reason "excluded by config".
    pub exclude: Vec<String>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            title: "Leak archive".to_owned(),
            description: String::new(),
            base_url: None,
            language: "en".to_owned(),
            theme: "default".to_owned(),
            page_size: 50,
            feed_size: 50,
            minify: true,
            exclude: Vec::new(),
        }
    }
}

impl Config {
    /// Reads `leakpress.yaml` under `root`; a missing file gives the defaults.
    pub fn load(root: &Path) -> Result<Config> {
        let path = root.join(CONFIG_FILE);
        match std::fs::read_to_string(&path) {
            Ok(text) => Config::parse(&text).with_path(path),
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => Ok(Config::default()),
            Err(err) => Err(Error::from(err).with_path(path)),
        }
    }

    /// Parses and validates configuration text.
    pub fn parse(text: &str) -> Result<Config> {
        let raw: RawConfig = if text.trim().is_empty() {
            RawConfig::default()
        } else {
            crate::yaml::from_str(text)?
        };
        let defaults = Config::default();
        let base_url = match raw.base_url.map(|url| url.trim().to_owned()) {
            None => None,
            Some(url) if url.is_empty() => None,
            Some(url) => {
                if !(url.starts_with("https://") || url.starts_with("http://")) {
                    return Err(Error::Config(format!(
                        "base_url: {url:?} must be an absolute http(s) URL"
                    )));
                }
                Some(if url.ends_with('/') { url } else { url + "/" })
            }
        };
        let page_size = raw.page_size.unwrap_or(defaults.page_size);
        if page_size == 0 {
            return Err(Error::Config("page_size: must be at least 1".into()));
        }
        let feed_size = raw.feed_size.unwrap_or(defaults.feed_size);
        if feed_size == 0 {
            return Err(Error::Config("feed_size: must be at least 1".into()));
        }
        let theme = raw.theme.unwrap_or(defaults.theme);
        if theme.is_empty() || theme.contains(['/', '\\']) || theme.starts_with('.') {
            return Err(Error::Config(format!(
                "theme: {theme:?} must be a folder name under themes/"
            )));
        }
        Ok(Config {
            title: raw.title.unwrap_or(defaults.title),
            description: raw.description.unwrap_or_default(),
            base_url,
            language: raw.language.unwrap_or(defaults.language),
            theme,
            page_size,
            feed_size,
            minify: raw.minify.unwrap_or(true),
            exclude: raw.exclude.unwrap_or_default(),
        })
    }
}

/// How to run one build: where to read and write, and the switches from the command line.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct BuildOptions {
    /// The archive root, holding `leakpress.yaml` and `content/`.
    pub root: PathBuf,
    /// Where the site is written; `public/` under the root by default.
    pub out_dir: PathBuf,
    /// Links end in `index.html` so the site works opened from disk without a server.
    pub offline: bool,
    /// Worker threads; `None` lets rayon choose (one per core).
    pub jobs: Option<usize>,
    /// The incremental cache's folder; `None` builds from scratch and keeps nothing.
    pub cache_dir: Option<PathBuf>,
}

impl BuildOptions {
    /// Options for building the archive at `root` into `root/public`.
    pub fn new(root: impl Into<PathBuf>) -> BuildOptions {
        let root = root.into();
        BuildOptions {
            out_dir: root.join("public"),
            root,
            offline: false,
            jobs: None,
            cache_dir: None,
        }
    }

    /// Where the CLI keeps the incremental cache: beside `public/`, never inside it.
    pub fn default_cache_dir(&self) -> PathBuf {
        self.root.join(".leakpress-cache")
    }

    /// Whether the cache holds a previous build's search snapshot, which this build will
    /// read back and update: a rebuild rather than a first build.
    pub fn has_previous_index(&self) -> bool {
        self.cache_dir
            .as_ref()
            .is_some_and(|dir| crate::search_index::snapshot_head(dir).is_file())
    }

    /// The `content/` folder under the root.
    pub fn content_dir(&self) -> PathBuf {
        self.root.join("content")
    }

    /// Where the build report is written: beside `public/`, never inside it.
    pub fn report_path(&self) -> PathBuf {
        self.root.join("leakpress-report.json")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_key_is_an_error_naming_the_key() {
        let err = Config::parse("title: x\npage_sise: 3\n").unwrap_err();
        assert!(err.to_string().contains("page_sise"), "{err}");
    }

    #[test]
    fn wrong_type_is_an_error_naming_the_key() {
        let err = Config::parse("page_size: many\n").unwrap_err();
        assert!(err.to_string().contains("page_size"), "{err}");
    }

    #[test]
    fn base_url_gets_a_trailing_slash_and_must_be_absolute() {
        let config = Config::parse("base_url: https://example.org/leaks").unwrap();
        assert_eq!(
            config.base_url.as_deref(),
            Some("https://example.org/leaks/")
        );
        assert!(Config::parse("base_url: example.org").is_err());
    }

    #[test]
    fn empty_file_gives_defaults() {
        let config = Config::parse("").unwrap();
        assert_eq!(config.page_size, 50);
        assert!(config.minify);
    }
}
