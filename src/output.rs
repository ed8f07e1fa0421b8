//! Where the site goes: a folder on disk, or memory for tests. Every file written is entered in
//! a ledger with its SHA-256, from which the manifest is made, so nothing published escapes it.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use rayon::prelude::*;
use sha2::{Digest, Sha256};
use walkdir::WalkDir;

use crate::error::{Error, Result, ResultExt};
use crate::stamps::Stamp;

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

/// A SHA-256 as the ledger and the previous manifest keep it: 32 bytes where its hex `String`
/// took about 90 with its header, for each of the three or so files a document publishes.
pub type Digest256 = [u8; 32];

/// `hex` (64 hex digits) as a [`Digest256`].
pub fn digest_of_hex(hex: &str) -> Option<Digest256> {
    let mut digest = [0u8; 32];
    hex::decode_to_slice(hex, &mut digest).ok().map(|()| digest)
}

enum Backend {
    Disk(Disk),
    Memory(Mutex<BTreeMap<String, Vec<u8>>>),
    /// Writes nothing: `leakpress check` and dry runs.
    Discard,
}

/// A folder updated in place: a rebuild rewrites only the files whose bytes change and then
/// removes what the build no longer publishes, so a rebuild after a small change touches a
/// few files instead of recreating a hundred thousand (right after the old output was
/// deleted, ext4 spent a third of a build's CPU allocating inodes and folders).
struct Disk {
    dir: PathBuf,
    /// What the previous build's manifest says each file holds. A file whose new hash
    /// matches is compared byte for byte before it is left alone, so a file edited by hand
    /// since is still rewritten.
    previous: PreviousManifest,
    /// When the previous build wrote its manifest, its last file: a file whose inode change
    /// time (ctime) and modification time are both earlier is as that build left it (see
    /// [`Output::reuse`]).
    previous_end: Option<FileTimes>,
    /// Folders known to exist, so each is created once rather than checked per file.
    made: Mutex<HashSet<PathBuf>>,
}

/// The previous build's manifest as path → digest, parsed on a thread of its own while the
/// build starts: nothing asks for it before the first file is published, and parsing its
/// 150,000 lines at 50,000 documents took a rebuild's first 0.1 s, on one core.
#[derive(Default)]
struct PreviousManifest {
    parsing: Mutex<Option<std::thread::JoinHandle<ManifestMap>>>,
    parsed: std::sync::OnceLock<std::sync::RwLock<ManifestMap>>,
}

type ManifestMap = HashMap<String, Digest256>;

impl PreviousManifest {
    /// Starts parsing `text` (at once, here, if no thread can be had).
    fn parse(text: String) -> PreviousManifest {
        let text = std::sync::Arc::new(text);
        let theirs = std::sync::Arc::clone(&text);
        let parsed = std::sync::OnceLock::new();
        let spawned = std::thread::Builder::new()
            .name("manifest".to_owned())
            .spawn(move || crate::manifest::parse(&theirs));
        let parsing = match spawned {
            Ok(parsing) => Some(parsing),
            Err(_) => {
                let map = crate::manifest::parse(&text);
                parsed.get_or_init(|| std::sync::RwLock::new(map));
                None
            }
        };
        PreviousManifest {
            parsing: Mutex::new(parsing),
            parsed,
        }
    }

    /// The parsed manifest, waited for the first time.
    fn get(&self) -> &std::sync::RwLock<ManifestMap> {
        self.parsed.get_or_init(|| {
            let parsing = lock(&self.parsing).take();
            let map = parsing.map_or_else(ManifestMap::new, |parsing| {
                parsing
                    .join()
                    .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
            });
            std::sync::RwLock::new(map)
        })
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, ManifestMap> {
        self.get().read().unwrap_or_else(|e| e.into_inner())
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, ManifestMap> {
        self.get().write().unwrap_or_else(|e| e.into_inner())
    }
}

/// Present while a build writes into a folder: the old manifest is gone, so a build that
/// stops half way leaves this and no manifest, and the next build trusts nothing it finds.
pub const BUILDING_MARKER: &str = ".leakpress-building";

/// Where the previous build's manifest waits while a build writes into its folder (no
/// longer under its name, as for [`BUILDING_MARKER`]): the new manifest is written over it
/// (see [`Output::write_manifest`]). A build that stops half way leaves it, and the next
/// one writes its manifest over it all the same.
pub const PREVIOUS_MANIFEST: &str = ".leakpress-manifest.previous";

/// Counts of what a disk output did with each file.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct WriteStats {
    /// Files created or rewritten.
    pub written: usize,
    /// Files already holding the right bytes, left untouched.
    pub unchanged: usize,
    /// Files of an earlier build no longer published, removed.
    pub removed: usize,
    /// Files of the previous build read back to check their bytes, because their inode
    /// changed after that build ended (or no change time could vouch for them).
    pub compared: usize,
}

/// The output sink. Paths are site paths without a leading `/` (`agency/doc/index.html`).
pub struct Output {
    backend: Backend,
    ledger: Mutex<BTreeMap<String, Digest256>>,
    written: AtomicUsize,
    unchanged: AtomicUsize,
    compared: AtomicUsize,
    removed: AtomicUsize,
}

impl Output {
    /// Writes under `dir`, which must be empty, absent, or a previous leakpress output (it has a
    /// `MANIFEST.sha256`, or the marker of a build that stopped half way). A previous output is
    /// updated in place; [`Output::remove_stale`] then deletes what this build did not write,
    /// so the result is the same as a build into an empty folder.
    pub fn disk(dir: &Path) -> Result<Output> {
        let manifest = dir.join(crate::manifest::MANIFEST_FILE);
        let marker = dir.join(BUILDING_MARKER);
        let mut previous = PreviousManifest::default();
        let mut previous_end = None;
        if dir.exists() {
            let is_empty = std::fs::read_dir(dir).with_path(dir)?.next().is_none();
            if !is_empty {
                if manifest.exists() {
                    let text = std::fs::read_to_string(&manifest).with_path(&manifest)?;
                    previous = PreviousManifest::parse(text);
                    previous_end = std::fs::metadata(&manifest)
                        .ok()
                        .and_then(|meta| file_times(&meta));
                    std::fs::write(&marker, b"").with_path(&marker)?;
                    let aside = dir.join(PREVIOUS_MANIFEST);
                    std::fs::rename(&manifest, &aside).with_path(&manifest)?;
                } else if !marker.exists() {
                    return Err(Error::Other(format!(
                        "refusing to overwrite {}: it is not empty and holds no {} from an earlier build",
                        dir.display(),
                        crate::manifest::MANIFEST_FILE
                    )));
                }
            }
        }
        std::fs::create_dir_all(dir).with_path(dir)?;
        std::fs::write(&marker, b"").with_path(&marker)?;
        Ok(Output::with(Backend::Disk(Disk {
            dir: dir.to_path_buf(),
            previous,
            previous_end,
            made: Mutex::default(),
        })))
    }

    fn with(backend: Backend) -> Output {
        Output {
            backend,
            ledger: Mutex::default(),
            written: AtomicUsize::new(0),
            unchanged: AtomicUsize::new(0),
            compared: AtomicUsize::new(0),
            removed: AtomicUsize::new(0),
        }
    }

    /// Keeps every file in memory.
    pub fn memory() -> Output {
        Output::with(Backend::Memory(Mutex::default()))
    }

    /// Writes nothing, but still keeps the ledger.
    pub fn discard() -> Output {
        Output::with(Backend::Discard)
    }

    /// Whether files stay where the next build can find them (a folder on disk), so that
    /// [`Output::reuse`] can ever keep one.
    pub fn persists(&self) -> bool {
        matches!(self.backend, Backend::Disk(_))
    }

    /// Writes one file.
    pub fn write(&self, path: &str, bytes: &[u8]) -> Result<()> {
        self.write_hashed(path, bytes).map(drop)
    }

    /// Leaves the file the previous build wrote at `path` in place, as this build's, when the
    /// previous manifest gives it `sha256` and the file is still what that build left: its
    /// inode unchanged since the build wrote its manifest, or else still hashing to `sha256`
    /// (a file edited by hand since is not kept). The inode change time (ctime) is the clock
    /// for this, with the modification time rsync and make use: any write, truncation or
    /// `touch`, and every `cp -p`, `tar` or `rsync -t` that sets an old mtime back, moves the
    /// ctime to the present, and no program can set it back. Two things escape it, as they
    /// escape rsync: a folder moved within the output (its files keep their ctime) and a
    /// clock set back; `leakpress verify` finds both. Hashing every kept page instead read
    /// the whole site again on each rebuild (2 GB at 50,000 documents). Returns whether it
    /// was kept; if not, the caller writes it.
    pub fn reuse(&self, path: &str, sha256: &str) -> bool {
        let intact = self.can_keep(path, sha256);
        if intact {
            self.keep(path, sha256);
        }
        intact
    }

    /// [`Output::reuse`]'s test alone: whether the file at `path` can be kept, without
    /// keeping it. For a caller that keeps a group of files only if all of them can be.
    pub fn can_keep(&self, path: &str, sha256: &str) -> bool {
        let Backend::Disk(disk) = &self.backend else {
            return false;
        };
        let Some(digest) = digest_of_hex(sha256) else {
            return false;
        };
        if disk.previous_digest(path) != Some(digest) {
            return false;
        }
        let target = disk.dir.join(path);
        std::fs::symlink_metadata(&target).is_ok_and(|meta| {
            meta.is_file()
                && !is_shared(&meta)
                && (disk.untouched(&meta) || {
                    self.compared.fetch_add(1, Ordering::Relaxed);
                    sha256_file(&target).is_ok_and(|sha| sha == sha256)
                })
        })
    }

    /// Keeps the file at `path`, which [`Output::can_keep`] found intact, as this build's.
    pub fn keep(&self, path: &str, sha256: &str) {
        if let Some(digest) = digest_of_hex(sha256) {
            self.unchanged.fetch_add(1, Ordering::Relaxed);
            lock(&self.ledger).insert(path.to_owned(), digest);
        }
    }

    /// Writes the manifest ([`crate::manifest::MANIFEST_FILE`]). On disk it is written over
    /// the previous build's, set aside by [`Output::disk`], rewriting only the stretches that
    /// differ: a one-edit rebuild changes a few of its lines, and writing all of it again
    /// (17 MB at 50,000 documents) cost 0.14 s of CPU in a profile of such a rebuild.
    pub fn write_manifest(&self, bytes: &[u8]) -> Result<()> {
        let path = crate::manifest::MANIFEST_FILE;
        let Backend::Disk(disk) = &self.backend else {
            return self.write(path, bytes);
        };
        let target = disk.dir.join(path);
        let aside = disk.dir.join(PREVIOUS_MANIFEST);
        let patched = std::fs::symlink_metadata(&aside)
            .is_ok_and(|meta| meta.is_file() && !is_shared(&meta))
            && patch_file(&aside, bytes).is_ok()
            && std::fs::rename(&aside, &target).is_ok();
        if !patched {
            disk.prepare(&target)?;
            std::fs::write(&target, bytes).with_path(&target)?;
            if let Err(err) = std::fs::remove_file(&aside)
                && err.kind() != std::io::ErrorKind::NotFound
            {
                return Err(err).with_path(&aside);
            }
        }
        self.written.fetch_add(1, Ordering::Relaxed);
        let digest: Digest256 = Sha256::digest(bytes).into();
        lock(&self.ledger).insert(path.to_owned(), digest);
        Ok(())
    }

    /// [`Output::write`], returning the SHA-256 the ledger holds for the file.
    pub fn write_hashed(&self, path: &str, bytes: &[u8]) -> Result<String> {
        debug_assert!(!path.starts_with('/'), "site path {path} must be relative");
        // Hashed before taking the lock: every page passes here, from every worker.
        let digest: Digest256 = Sha256::digest(bytes).into();
        match &self.backend {
            Backend::Disk(disk) => {
                let target = disk.dir.join(path);
                if !self.already_holds(disk, path, &digest, &target, Expected::Bytes(bytes)) {
                    disk.prepare(&target)?;
                    std::fs::write(&target, bytes).with_path(&target)?;
                    self.written.fetch_add(1, Ordering::Relaxed);
                }
            }
            Backend::Memory(files) => {
                let bytes = bytes.to_vec();
                lock(files).insert(path.to_owned(), bytes);
            }
            Backend::Discard => {}
        }
        lock(&self.ledger).insert(path.to_owned(), digest);
        Ok(hex::encode(digest))
    }

    /// [`Disk::holds`], counting the file as unchanged when it does.
    fn already_holds(
        &self,
        disk: &Disk,
        path: &str,
        digest: &Digest256,
        target: &Path,
        expected: Expected<'_>,
    ) -> bool {
        let held = disk.holds(path, digest, target, expected, &self.compared);
        if held {
            self.unchanged.fetch_add(1, Ordering::Relaxed);
        }
        held
    }

    /// Publishes an input file unchanged, hard-linked where the file system allows, else
    /// copied. `sha256` is the file's known hash; `stamp`, its metadata when it was found, if
    /// known, saves asking again whether the output still links to it.
    pub fn copy_file(
        &self,
        path: &str,
        from: &Path,
        sha256: &str,
        stamp: Option<&Stamp>,
    ) -> Result<()> {
        let digest = digest_of_hex(sha256)
            .ok_or_else(|| Error::Other(format!("{path}: {sha256:?} is not a SHA-256 in hex")))?;
        match &self.backend {
            Backend::Disk(disk) => {
                let target = disk.dir.join(path);
                if !self.already_holds(
                    disk,
                    path,
                    &digest,
                    &target,
                    Expected::Original(from, stamp),
                ) {
                    disk.prepare(&target)?;
                    if std::fs::hard_link(from, &target).is_err() {
                        std::fs::copy(from, &target).with_path(from)?;
                    }
                    self.written.fetch_add(1, Ordering::Relaxed);
                }
            }
            Backend::Memory(files) => {
                let bytes = std::fs::read(from).with_path(from)?;
                lock(files).insert(path.to_owned(), bytes);
            }
            Backend::Discard => {}
        }
        lock(&self.ledger).insert(path.to_owned(), digest);
        Ok(())
    }

    /// Forgets which folders exist. Every document page has a folder of its own, so once
    /// pages are written the set only holds memory (a path a page, a million at a million
    /// documents); a folder written into later is checked again, once.
    pub fn forget_folders(&self) {
        if let Backend::Disk(disk) = &self.backend {
            let mut made = lock(&disk.made);
            *made = HashSet::new();
        }
    }

    /// Moves the folder the previous build published under `parent` (a site path ending in
    /// `/`) to `to`, a folder under `parent`, when that build published exactly one folder
    /// there and it is not `to`: the files this build writes to `to` are then compared with
    /// the previous build's instead of written anew. The search index lives in a folder named
    /// by a hash of its input, so that no reader mixes files of two builds; after a small
    /// edit, most of its files are the same and one rename keeps them (deleting the old
    /// folder's 42,000 files took 4 s at 50,000 documents). Returns whether it moved.
    pub fn carry_over_folder(&self, parent: &str, to: &str) -> bool {
        let Backend::Disk(disk) = &self.backend else {
            return false;
        };
        let mut previous = disk.previous.write();
        let mut folders: Vec<&str> = previous
            .keys()
            .filter_map(|path| {
                let rest = path.strip_prefix(parent)?;
                let (folder, _) = rest.split_once('/')?;
                Some(&path[..parent.len() + folder.len() + 1])
            })
            .collect();
        folders.sort_unstable();
        folders.dedup();
        let [from] = folders[..] else {
            return false;
        };
        let from = from.to_owned();
        if from == to || !to.starts_with(parent) || disk.dir.join(to).exists() {
            return false;
        }
        if std::fs::rename(disk.dir.join(&from), disk.dir.join(to)).is_err() {
            return false;
        }
        let moved: Vec<String> = previous
            .keys()
            .filter(|path| path.starts_with(&from))
            .cloned()
            .collect();
        for path in moved {
            if let Some(digest) = previous.remove(&path) {
                previous.insert(format!("{to}{}", &path[from.len()..]), digest);
            }
        }
        true
    }

    /// Deletes every file under a disk output that this build did not write (the pages of
    /// removed documents, an old search index, the build marker, anything put there by
    /// hand) and the folders left empty. Call once, after the last write but the manifest's
    /// ([`Output::write_manifest`]), whose time then vouches for every folder. Returns what
    /// the output did, file by file.
    ///
    /// A folder's entries are listed only if they may have changed since the previous build
    /// ended: a folder whose modification and inode change times are older than that build's
    /// manifest (see [`Disk::untouched`]) holds what that build left in it, all of which its
    /// manifest lists. Its stale files are then those of the previous manifest that this build
    /// did not write, deleted by name. Listing every folder (a one-edit rebuild of 50,000
    /// documents lists 57,000 folders and 150,000 files) took most of the build's last stage.
    pub fn remove_stale(&self) -> Result<WriteStats> {
        let Backend::Disk(disk) = &self.backend else {
            return Ok(self.stats());
        };
        let ledger = lock(&self.ledger);
        let previous = disk.previous.read();
        // Folders that hold a file of this build, as site paths ("" for the output's own
        // folder).
        let folders = folders_of(ledger.keys());
        // Something else where a folder should be (a link, a file) was put there in its
        // folder's place, which lists that folder; it is never followed.
        let listed: Vec<&str> = folders
            .par_iter()
            .copied()
            .filter(|folder| {
                folder.is_empty()
                    || std::fs::symlink_metadata(disk.dir.join(folder))
                        .is_ok_and(|meta| meta.is_dir() && !disk.untouched(&meta))
            })
            .collect();
        let mut removed = listed
            .par_iter()
            .map(|folder| remove_unlisted(&disk.dir, folder, &ledger, &folders))
            .try_reduce(|| 0, |a, b| Ok(a + b))?;
        // What the previous build published and this one did not: the file, or the highest
        // folder above it that holds nothing of this build's, with all it holds.
        let mut gone: Vec<&str> = previous
            .par_iter()
            .map(|(path, _)| path)
            .filter(|path| !ledger.contains_key(*path))
            .map(|path| {
                let mut top = path.as_str();
                while let Some((parent, _)) = top.rsplit_once('/')
                    && !folders.contains(parent)
                {
                    top = parent;
                }
                top
            })
            .collect();
        gone.sort_unstable();
        gone.dedup();
        removed += gone
            .par_iter()
            .map(|path| {
                let path = disk.dir.join(path);
                match std::fs::symlink_metadata(&path) {
                    Ok(meta) if meta.is_dir() => remove_stale_under(&disk.dir, &path, &ledger),
                    Ok(_) => {
                        std::fs::remove_file(&path).with_path(&path)?;
                        Ok(1)
                    }
                    // Already removed with its folder's listing.
                    Err(_) => Ok(0),
                }
            })
            .try_reduce(|| 0, |a, b| Ok(a + b))?;
        self.removed.fetch_add(removed, Ordering::Relaxed);
        Ok(self.stats())
    }

    /// What the output did so far, file by file.
    pub fn stats(&self) -> WriteStats {
        WriteStats {
            written: self.written.load(Ordering::Relaxed),
            unchanged: self.unchanged.load(Ordering::Relaxed),
            removed: self.removed.load(Ordering::Relaxed),
            compared: self.compared.load(Ordering::Relaxed),
        }
    }

    /// Every file written so far, with its SHA-256, sorted by path.
    pub fn ledger(&self) -> BTreeMap<String, String> {
        lock(&self.ledger)
            .iter()
            .map(|(path, digest)| (path.clone(), hex::encode(digest)))
            .collect()
    }

    /// Lends the ledger to `read` without copying it (a copy is a path and a digest a file,
    /// 530,000 of them at 500,000 records). The ledger stays locked meanwhile: `read` must not
    /// write.
    pub fn with_ledger<T>(&self, read: impl FnOnce(&BTreeMap<String, Digest256>) -> T) -> T {
        read(&lock(&self.ledger))
    }

    /// The files kept in memory (empty for other backends).
    pub fn into_files(self) -> BTreeMap<String, Vec<u8>> {
        match self.backend {
            Backend::Memory(files) => files.into_inner().unwrap_or_else(|e| e.into_inner()),
            _ => BTreeMap::new(),
        }
    }
}

impl Disk {
    fn previous_digest(&self, path: &str) -> Option<Digest256> {
        self.previous.read().get(path).copied()
    }

    /// Whether a file last changed before the previous build finished. Equal times are not
    /// enough: the kernel stamps files from a clock that ticks every few milliseconds, so an
    /// edit right after the build can carry the manifest's time.
    fn untouched(&self, meta: &std::fs::Metadata) -> bool {
        match (self.previous_end, file_times(meta)) {
            (Some(end), Some(file)) => file.changed < end.changed && file.modified < end.modified,
            _ => false,
        }
    }

    /// Whether `target` already holds what the build would write: the previous manifest
    /// gives it this hash, and the file is the same size and either untouched since that
    /// build (as for [`Output::reuse`]) or the same when read back. A published original
    /// that is still a link to its input holds the input's bytes.
    fn holds(
        &self,
        path: &str,
        digest: &Digest256,
        target: &Path,
        expected: Expected<'_>,
        compared: &AtomicUsize,
    ) -> bool {
        if self.previous_digest(path).as_ref() != Some(digest) {
            return false;
        }
        let Ok(meta) = std::fs::symlink_metadata(target) else {
            return false;
        };
        if !meta.is_file() {
            return false;
        }
        let len = match expected {
            Expected::Bytes(bytes) => bytes.len() as u64,
            Expected::Original(from, stamp) => {
                let input = match stamp {
                    Some(stamp) => (stamp.file_id(), stamp.size()),
                    None => match std::fs::metadata(from) {
                        Ok(input) => (file_id(&input), input.len()),
                        Err(_) => return false,
                    },
                };
                match input {
                    (Some(id), _) if file_id(&meta) == Some(id) => return true,
                    (_, len) => len,
                }
            }
        };
        meta.len() == len
            && ((!is_shared(&meta) && self.untouched(&meta)) || {
                compared.fetch_add(1, Ordering::Relaxed);
                match expected {
                    Expected::Bytes(bytes) => std::fs::read(target).is_ok_and(|old| old == bytes),
                    Expected::Original(..) => sha256_file(target)
                        .ok()
                        .and_then(|hex| digest_of_hex(&hex))
                        .is_some_and(|found| &found == digest),
                }
            })
    }

    /// Makes `target` writable as a new file: its folders exist, and whatever is there is
    /// removed first, so a write never goes through a hard link into the content folder, and
    /// a file may replace a folder of an earlier build or the reverse.
    fn prepare(&self, target: &Path) -> Result<()> {
        if let Some(parent) = target.parent() {
            let known = lock(&self.made).contains(parent);
            if !known {
                if let Err(err) = std::fs::create_dir_all(parent) {
                    // An earlier build may have put a file where this one needs a folder.
                    let blocking = parent
                        .ancestors()
                        .take_while(|a| *a != self.dir)
                        .find(|a| a.is_file());
                    let Some(blocking) = blocking else {
                        return Err(err).with_path(parent);
                    };
                    std::fs::remove_file(blocking).with_path(blocking)?;
                    std::fs::create_dir_all(parent).with_path(parent)?;
                }
                lock(&self.made).insert(parent.to_path_buf());
            }
        }
        match std::fs::symlink_metadata(target) {
            Ok(meta) if meta.is_dir() => std::fs::remove_dir_all(target).with_path(target),
            // Rewriting a file of our own in place is cheaper than a new one.
            Ok(meta) if meta.is_file() && !is_shared(&meta) => Ok(()),
            Ok(_) => std::fs::remove_file(target).with_path(target),
            Err(_) => Ok(()),
        }
    }
}

/// Makes the file at `path` hold `bytes`, writing only the stretches where it differs, and
/// stamps it as written now even where nothing differed: its times are the clock the next
/// build reads (see [`Disk::untouched`]).
#[cfg(unix)]
fn patch_file(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::os::unix::fs::FileExt;
    const STRETCH: usize = 64 << 10;
    let file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(path)?;
    let mut old = vec![0; STRETCH];
    for (n, new) in bytes.chunks(STRETCH).enumerate() {
        let at = (n * STRETCH) as u64;
        let mut held = 0;
        while held < new.len() {
            match file.read_at(&mut old[held..new.len()], at + held as u64)? {
                0 => break,
                read => held += read,
            }
        }
        if old[..held] != *new {
            file.write_all_at(new, at)?;
        }
    }
    file.set_len(bytes.len() as u64)?;
    file.set_modified(std::time::SystemTime::now())
}

/// Elsewhere the file is written whole.
#[cfg(not(unix))]
fn patch_file(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    std::fs::write(path, bytes)
}

/// When a file last changed. The ctime (seconds, nanoseconds) is what vouches for it: every
/// write, truncation, rename of the file itself or change of its times moves it to the
/// present, and nothing sets it back. The mtime must agree as well, for a file system whose
/// ctime is something else (FAT keeps a creation time in that field).
#[derive(Debug, Clone, Copy)]
struct FileTimes {
    changed: (i64, i64),
    modified: std::time::SystemTime,
}

#[cfg(unix)]
fn file_times(meta: &std::fs::Metadata) -> Option<FileTimes> {
    use std::os::unix::fs::MetadataExt;
    Some(FileTimes {
        changed: (meta.ctime(), meta.ctime_nsec()),
        modified: meta.modified().ok()?,
    })
}

/// Without a ctime, no time vouches for a file and every kept file is compared.
#[cfg(not(unix))]
fn file_times(_: &std::fs::Metadata) -> Option<FileTimes> {
    None
}

/// What a file of the output should hold.
#[derive(Clone, Copy)]
enum Expected<'a> {
    /// Bytes this build generated.
    Bytes(&'a [u8]),
    /// An input file published unchanged.
    Original(&'a Path, Option<&'a Stamp>),
}

/// Which file metadata describes (device and inode), to recognise a published original
/// hard-linked to its input; `None` where the platform does not say.
#[cfg(unix)]
fn file_id(meta: &std::fs::Metadata) -> Option<(u64, u64)> {
    use std::os::unix::fs::MetadataExt;
    Some((meta.dev(), meta.ino()))
}

#[cfg(not(unix))]
fn file_id(_: &std::fs::Metadata) -> Option<(u64, u64)> {
    None
}

/// Whether the file has other names (a published original linked to its input).
#[cfg(unix)]
fn is_shared(meta: &std::fs::Metadata) -> bool {
    std::os::unix::fs::MetadataExt::nlink(meta) > 1
}

#[cfg(not(unix))]
fn is_shared(_: &std::fs::Metadata) -> bool {
    true
}

/// `dir/a/b.html` → `a/b.html`, with `/` on every platform.
pub(crate) fn site_path(dir: &Path, path: &Path) -> String {
    let rel = path.strip_prefix(dir).unwrap_or(path);
    // The common case needs no rebuilding: a walk's paths are already plain and `/`-separated.
    if std::path::MAIN_SEPARATOR == '/'
        && let Some(text) = rel.to_str()
        && !text.contains("//")
        && !text.ends_with('/')
        && !text.starts_with("./")
        && !text.starts_with('/')
        && !text.contains("/./")
        && !text.ends_with("/.")
    {
        return text.to_owned();
    }
    rel.components()
        .map(|c| c.as_os_str().to_string_lossy())
        .collect::<Vec<_>>()
        .join("/")
}

/// Every folder above `paths` (site paths of files), as site paths, with `""` for the
/// output's own folder.
fn folders_of<'p>(paths: impl Iterator<Item = &'p String>) -> HashSet<&'p str> {
    let mut folders = HashSet::from([""]);
    for path in paths {
        let mut path = path.as_str();
        while let Some((parent, _)) = path.rsplit_once('/') {
            if !folders.insert(parent) {
                break;
            }
            path = parent;
        }
    }
    folders
}

/// Lists `folder` (a site path; `""` for `dir` itself) and removes what it holds that this
/// build did not write: files the ledger does not list, folders that hold none of them
/// (with all they hold). Returns how many files it removed (the build marker not counted).
fn remove_unlisted(
    dir: &Path,
    folder: &str,
    ledger: &BTreeMap<String, Digest256>,
    folders: &HashSet<&str>,
) -> Result<usize> {
    let at = dir.join(folder);
    let mut removed = 0;
    for entry in std::fs::read_dir(&at).with_path(&at)? {
        let entry = entry.with_path(&at)?;
        let name = entry.file_name();
        let site_path = name.to_str().map(|name| match folder {
            "" => name.to_owned(),
            _ => format!("{folder}/{name}"),
        });
        let is_dir = entry.file_type().is_ok_and(|t| t.is_dir());
        let ours = site_path.as_deref().is_some_and(|site_path| {
            // The previous manifest, set aside, waits for [`Output::write_manifest`].
            if site_path == PREVIOUS_MANIFEST {
                true
            } else if is_dir {
                folders.contains(site_path)
            } else {
                ledger.contains_key(site_path)
            }
        });
        if ours {
            continue;
        }
        let path = entry.path();
        if is_dir {
            removed += remove_stale_under(dir, &path, ledger)?;
        } else {
            std::fs::remove_file(&path).with_path(&path)?;
            removed += usize::from(site_path.as_deref() != Some(BUILDING_MARKER));
        }
    }
    Ok(removed)
}

/// Removes every file under `top` (a file or folder in `dir`) the ledger does not list,
/// then every folder left empty; returns how many files it removed (the build marker not
/// counted). Only folders nothing was kept in are tried, not each of a site's 50,000.
fn remove_stale_under(
    dir: &Path,
    top: &Path,
    ledger: &BTreeMap<String, Digest256>,
) -> Result<usize> {
    let mut removed = 0;
    // `kept[d]`: the folder open at depth `d` (below `top`) still holds something.
    let mut kept: Vec<bool> = Vec::new();
    // A link at the top is an entry like any other: its target is not the output's.
    for entry in WalkDir::new(top)
        .contents_first(true)
        .follow_root_links(false)
    {
        let entry = entry.map_err(|err| Error::Other(format!("{}: {err}", top.display())))?;
        let depth = entry.depth();
        if kept.len() <= depth {
            kept.resize(depth + 1, false);
        }
        let path = entry.path();
        let stays = if entry.file_type().is_dir() {
            let full = std::mem::take(&mut kept[depth]);
            // Not empty is fine: it holds published files.
            full || std::fs::remove_dir(path).is_err()
        } else {
            let site_path = site_path(dir, path);
            let listed = ledger.contains_key(&site_path);
            if !listed {
                std::fs::remove_file(path).with_path(path)?;
                removed += usize::from(site_path != BUILDING_MARKER);
            }
            listed
        };
        if stays && depth > 0 {
            kept[depth - 1] = true;
        }
    }
    Ok(removed)
}

/// A poisoned lock only means another writer panicked; the map itself is still whole.
fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stale_files_go_with_the_folders_they_leave_empty_and_published_ones_stay() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        let out = Output::disk(root).unwrap();
        out.write("kept/sub/index.html", b"page").unwrap();
        out.write("top.html", b"top").unwrap();
        // What an earlier build, or a hand, left behind.
        for (path, bytes) in [
            ("gone/a/b/index.html", "old page"),
            ("kept/sub/stray.txt", "stray"),
            ("kept/old/index.html", "old page"),
            ("stray.html", "stray"),
        ] {
            let path = root.join(path);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, bytes).unwrap();
        }
        std::fs::create_dir_all(root.join("empty/deeper")).unwrap();
        // Links at the top: one to a folder outside, whose contents must stay, one broken.
        #[cfg(unix)]
        let outside = {
            let outside = tempfile::tempdir().unwrap();
            std::fs::write(outside.path().join("theirs.txt"), "not ours").unwrap();
            std::os::unix::fs::symlink(outside.path(), root.join("linked")).unwrap();
            std::os::unix::fs::symlink(root.join("nowhere"), root.join("broken")).unwrap();
            outside
        };

        let stats = out.remove_stale().unwrap();
        let links = if cfg!(unix) { 2 } else { 0 };
        assert_eq!(stats.removed, 4 + links, "{stats:?}");
        #[cfg(unix)]
        assert!(outside.path().join("theirs.txt").exists());
        let mut left: Vec<String> = WalkDir::new(root)
            .min_depth(1)
            .into_iter()
            .map(|entry| site_path(root, entry.unwrap().path()))
            .collect();
        left.sort();
        assert_eq!(
            left,
            ["kept", "kept/sub", "kept/sub/index.html", "top.html"]
        );
    }
}
