//! Watching a folder of manifests and applying every change live.
//!
//! Every `*.yaml`, `*.yml` and `*.json` file in the folder is a manifest, and
//! one source of the host's desired state (next to the manifests given to
//! [`Host::apply`]). On any change in the folder, or in a folder holding a
//! file the desired state names (an actor module, a provider library), the
//! watcher waits for a short quiet spell (editors write, rename and recreate
//! files in bursts), reads every manifest again and hands them to
//! [`Host::apply_watched`], which applies the difference best effort.
//!
//! A manifest that cannot be read, parsed or validated keeps its last good
//! version: nothing it declared stops because it was half-written for a
//! moment. Its error is logged once and shown in [`WatchStatus`]; fixing the
//! file applies it. Deleting it removes what only it declared.

use crate::host::Host;
use notify::{RecursiveMode, Watcher};
use std::collections::{BTreeMap, BTreeSet};
use std::future::Future;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::{mpsc, watch};
use trellis_manifest::Manifest;

/// How long the folder must stay quiet before a pass runs.
pub const QUIET: Duration = Duration::from_millis(100);

/// Why watching could not start.
#[derive(Debug, thiserror::Error)]
pub enum WatchError {
    /// The folder does not exist or is not readable.
    #[error("{path}: cannot watch: {message}")]
    Folder {
        /// The folder.
        path: PathBuf,
        /// What went wrong.
        message: String,
    },
}

/// What the watcher did last: tests and tools wait on it.
#[derive(Debug, Clone, Default)]
pub struct WatchStatus {
    /// Passes run so far.
    pub passes: u64,
    /// Manifests whose latest version is refused, with the reason.
    pub manifest_errors: BTreeMap<PathBuf, String>,
    /// What the last pass could not apply.
    pub apply_errors: Vec<String>,
}

/// The manifests of a folder, each at its last good version.
pub struct ManifestFolder {
    dir: PathBuf,
    good: BTreeMap<PathBuf, Manifest>,
    errors: BTreeMap<PathBuf, String>,
}

impl ManifestFolder {
    /// The manifests of `dir` (none read yet).
    pub fn new(dir: &Path) -> Result<Self, WatchError> {
        let dir = std::path::absolute(dir).unwrap_or_else(|_| dir.to_path_buf());
        if !dir.is_dir() {
            return Err(WatchError::Folder {
                path: dir,
                message: "not a folder".into(),
            });
        }
        Ok(ManifestFolder {
            dir,
            good: BTreeMap::new(),
            errors: BTreeMap::new(),
        })
    }

    /// Reads every manifest of the folder again.
    pub fn rescan(&mut self) {
        let files = manifest_files(&self.dir);
        self.good.retain(|path, _| files.contains(path));
        self.errors.retain(|path, _| files.contains(path));
        for path in files {
            match Manifest::load(&path) {
                Ok(manifest) => {
                    if self.errors.remove(&path).is_some() {
                        tracing::info!(manifest = %path.display(), "manifest fixed");
                    }
                    self.good.insert(path, manifest);
                }
                Err(e) => {
                    let message = e.to_string();
                    if self.errors.get(&path) != Some(&message) {
                        let kept = if self.good.contains_key(&path) {
                            "its last good version stays"
                        } else {
                            "it is ignored until fixed"
                        };
                        tracing::error!("{message} ({kept})");
                    }
                    self.errors.insert(path, message);
                }
            }
        }
    }

    /// The manifests at their last good version, by file.
    pub fn manifests(&self) -> &BTreeMap<PathBuf, Manifest> {
        &self.good
    }

    /// The folders to watch: this one, and those holding `files`.
    fn folders(&self, files: &[PathBuf]) -> BTreeSet<PathBuf> {
        let mut folders: BTreeSet<PathBuf> = files
            .iter()
            .filter_map(|f| f.parent().map(Path::to_path_buf))
            .filter(|d| d.is_dir())
            .collect();
        folders.insert(self.dir.clone());
        folders
    }
}

fn manifest_files(dir: &Path) -> BTreeSet<PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return BTreeSet::new();
    };
    entries
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.is_file())
        .filter(|p| {
            matches!(
                p.extension().and_then(|e| e.to_str()),
                Some("yaml" | "yml" | "json")
            )
        })
        .collect()
}

/// Keeps `host` in the state the manifests of `folder` declare until
/// `stop` resolves. `status` reports each pass.
pub async fn run(
    host: Arc<Host>,
    mut folder: ManifestFolder,
    status: watch::Sender<WatchStatus>,
    stop: impl Future<Output = ()>,
) -> Result<(), WatchError> {
    let (tx, mut changes) = mpsc::unbounded_channel();
    let mut watcher = notify::recommended_watcher(move |event: notify::Result<notify::Event>| {
        if event.is_ok() {
            let _ = tx.send(());
        }
    })
    .map_err(|e| WatchError::Folder {
        path: folder.dir.clone(),
        message: e.to_string(),
    })?;
    let mut watched = BTreeMap::new();
    // Watch the folder before the first read of it: a file written between
    // that read and the watch would otherwise go unseen until the next event.
    watch_folders(
        &mut watcher,
        &mut watched,
        BTreeSet::from([folder.dir.clone()]),
    );
    tokio::pin!(stop);
    tracing::info!(folder = %folder.dir.display(), "watching manifests");
    loop {
        let started = Instant::now();
        folder.rescan();
        let pass = host.apply_watched(folder.manifests()).await;
        watch_folders(&mut watcher, &mut watched, folder.folders(&pass.files));
        tracing::debug!(
            elapsed_ms = started.elapsed().as_millis() as u64,
            "watch pass done"
        );
        status.send_modify(|s| {
            s.passes += 1;
            s.manifest_errors = folder.errors.clone();
            s.apply_errors = pass.errors;
        });
        tokio::select! {
            _ = &mut stop => return Ok(()),
            change = changes.recv() => if change.is_none() { return Ok(()) },
        }
        // Let the burst of events of one save settle (a stop still wins).
        loop {
            tokio::select! {
                _ = &mut stop => return Ok(()),
                more = tokio::time::timeout(QUIET, changes.recv()) => if !matches!(more, Ok(Some(()))) { break },
            }
        }
    }
}

/// Watches the `wanted` folders. A folder deleted and made again (a clean
/// rebuild) is a new folder to the OS: it is watched again when its identity
/// changed. A folder that could not be watched is tried again next pass.
fn watch_folders(
    watcher: &mut impl Watcher,
    watched: &mut BTreeMap<PathBuf, FolderId>,
    wanted: BTreeSet<PathBuf>,
) {
    watched.retain(|folder, _| {
        let keep = wanted.contains(folder);
        if !keep {
            let _ = watcher.unwatch(folder);
        }
        keep
    });
    for folder in wanted {
        let id = folder_id(&folder);
        if watched.get(&folder) == Some(&id) {
            continue;
        }
        let _ = watcher.unwatch(&folder);
        match watcher.watch(&folder, RecursiveMode::NonRecursive) {
            Ok(()) => {
                watched.insert(folder, id);
            }
            Err(e) => tracing::warn!(folder = %folder.display(), "cannot watch: {e}"),
        }
    }
}

/// What tells one folder from another made later at the same path.
type FolderId = Option<(u64, u64)>;

#[cfg(unix)]
fn folder_id(folder: &Path) -> FolderId {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata(folder).ok().map(|m| (m.dev(), m.ino()))
}

#[cfg(not(unix))]
fn folder_id(_folder: &Path) -> FolderId {
    None
}
