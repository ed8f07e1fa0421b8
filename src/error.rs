//! The library's one error type. Every error that concerns a file names it.

use std::path::PathBuf;

/// A result whose error is [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong in the library.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// An error about a particular file.
    #[error("{}: {err}", path.display())]
    WithPath {
        /// The file the error concerns.
        path: PathBuf,
        /// What went wrong with it.
        err: Box<Error>,
    },
    /// An I/O failure.
    #[error("{0}")]
    Io(#[from] std::io::Error),
    /// YAML that does not parse or does not fit the expected shape.
    #[error("{0}")]
    Yaml(String),
    /// A configuration value that parses but makes no sense.
    #[error("invalid configuration: {0}")]
    Config(String),
    /// A template that does not parse or fails to render.
    #[error("template error: {0}")]
    Template(String),
    /// Anything else, described in words.
    #[error("{0}")]
    Other(String),
}

impl Error {
    /// Attaches a path to this error, so the message names the file.
    pub fn with_path(self, path: impl Into<PathBuf>) -> Error {
        Error::WithPath {
            path: path.into(),
            err: Box::new(self),
        }
    }
}

/// Adds `.with_path(path)` to results, like anyhow's `with_context` but typed.
pub trait ResultExt<T> {
    /// Names the file this result's error concerns.
    fn with_path(self, path: impl Into<PathBuf>) -> Result<T>;
}

impl<T, E: Into<Error>> ResultExt<T> for std::result::Result<T, E> {
    fn with_path(self, path: impl Into<PathBuf>) -> Result<T> {
        self.map_err(|err| err.into().with_path(path))
    }
}
