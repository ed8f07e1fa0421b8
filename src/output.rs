//! Where the site goes: a folder on disk, or memory for tests. Every file written is entered in
//! a ledger with its SHA-256, from which the manifest is made, so nothing published escapes it.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use sha2::{Digest, Sha256};

use crate::error::{Error, Result, ResultExt};

/// Hex SHA-256 of some bytes.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// Hex SHA-256 of a file, streamed.
pub fn sha256_file(path: &Path) -> Result<String> {
    let mut file = std::fs::File::open(path).with_path(path)?;
    let mut hasher = Sha256::new();
    let mut buffer = vec![0u8; 1 << 16];
    loop {
        let n = std::io::Read::read(&mut file, &mut buffer).with_path(path)?;
        if n == 0 {
            break;
        }
        hasher.update(&buffer[..n]);
    }
    Ok(hex::encode(hasher.finalize()))
}

enum Backend {
    Disk(PathBuf),
    Memory(Mutex<BTreeMap<String, Vec<u8>>>),
    /// Writes nothing: `leakpress check` and dry runs.
    Discard,
}

/// The output sink. Paths are site paths without a leading `/` (`agency/doc/index.html`).
pub struct Output {
    backend: Backend,
    ledger: Mutex<BTreeMap<String, String>>,
}

impl Output {
    /// Writes under `dir`, which must be empty, absent, or a previous leakpress output (it has a
    /// `MANIFEST.sha256`): its files are removed first so no stale page survives.
    pub fn disk(dir: &Path) -> Result<Output> {
        if dir.exists() {
            let is_empty = std::fs::read_dir(dir).with_path(dir)?.next().is_none();
            if !is_empty {
                if !dir.join(crate::manifest::MANIFEST_FILE).exists() {
                    return Err(Error::Other(format!(
                        "refusing to overwrite {}: it is not empty and holds no {} from an earlier build",
                        dir.display(),
                        crate::manifest::MANIFEST_FILE
                    )));
                }
                std::fs::remove_dir_all(dir).with_path(dir)?;
            }
        }
        std::fs::create_dir_all(dir).with_path(dir)?;
        Ok(Output {
            backend: Backend::Disk(dir.to_path_buf()),
            ledger: Mutex::default(),
        })
    }

    /// Keeps every file in memory.
    pub fn memory() -> Output {
        Output {
            backend: Backend::Memory(Mutex::default()),
            ledger: Mutex::default(),
        }
    }

    /// Writes nothing, but still keeps the ledger.
    pub fn discard() -> Output {
        Output {
            backend: Backend::Discard,
            ledger: Mutex::default(),
        }
    }

    /// Writes one file.
    pub fn write(&self, path: &str, bytes: &[u8]) -> Result<()> {
        debug_assert!(!path.starts_with('/'), "site path {path} must be relative");
        match &self.backend {
            Backend::Disk(dir) => {
                let target = dir.join(path);
                if let Some(parent) = target.parent() {
                    std::fs::create_dir_all(parent).with_path(parent)?;
                }
                std::fs::write(&target, bytes).with_path(&target)?;
            }
            Backend::Memory(files) => {
                let bytes = bytes.to_vec();
                lock(files).insert(path.to_owned(), bytes);
            }
            Backend::Discard => {}
        }
        // Hashed before taking the lock: every page passes here, from every worker.
        let sha256 = sha256_hex(bytes);
        lock(&self.ledger).insert(path.to_owned(), sha256);
        Ok(())
    }

    /// Publishes an input file unchanged, hard-linked where the file system allows, else
    /// copied. `sha256` is the file's known hash.
    pub fn copy_file(&self, path: &str, from: &Path, sha256: &str) -> Result<()> {
        match &self.backend {
            Backend::Disk(dir) => {
                let target = dir.join(path);
                if let Some(parent) = target.parent() {
                    std::fs::create_dir_all(parent).with_path(parent)?;
                }
                if std::fs::hard_link(from, &target).is_err() {
                    std::fs::copy(from, &target).with_path(from)?;
                }
            }
            Backend::Memory(files) => {
                let bytes = std::fs::read(from).with_path(from)?;
                lock(files).insert(path.to_owned(), bytes);
            }
            Backend::Discard => {}
        }
        lock(&self.ledger).insert(path.to_owned(), sha256.to_owned());
        Ok(())
    }

    /// Every file written so far, with its SHA-256, sorted by path.
    pub fn ledger(&self) -> BTreeMap<String, String> {
        lock(&self.ledger).clone()
    }

    /// The files kept in memory (empty for other backends).
    pub fn into_files(self) -> BTreeMap<String, Vec<u8>> {
        match self.backend {
            Backend::Memory(files) => files.into_inner().unwrap_or_else(|e| e.into_inner()),
            _ => BTreeMap::new(),
        }
    }
}

/// A poisoned lock only means another writer panicked; the map itself is still whole.
fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}
