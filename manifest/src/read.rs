//! Reading a manifest file without trusting its size.
//!
//! A manifest is checked against [`MAX_MANIFEST_BYTES`] twice: by its size
//! on disk before it is opened for reading, and by a read that stops one
//! byte past the limit, since the file can grow between the two (or be a
//! device or pipe that reports no size at all).

use std::fs::File;
use std::io::{self, Read};
use std::path::Path;

use crate::{ManifestError, MAX_MANIFEST_BYTES};

/// Reads the manifest at `path` as UTF-8 text, refusing one larger than
/// [`MAX_MANIFEST_BYTES`] before reading it whole.
pub(crate) fn read_bounded(path: &Path) -> Result<String, ManifestError> {
    let cannot_read = |reason: io::Error| ManifestError::Read {
        path: path.to_path_buf(),
        reason,
    };
    let mut file = File::open(path).map_err(cannot_read)?;
    let size_on_disk = file.metadata().map_err(cannot_read)?.len();
    check_size(size_on_disk, path)?;
    let limit = MAX_MANIFEST_BYTES as u64;
    let mut bytes = Vec::new();
    file.by_ref()
        .take(limit + 1)
        .read_to_end(&mut bytes)
        .map_err(cannot_read)?;
    if bytes.len() as u64 > limit {
        // It grew since it was measured: report its size now.
        let size_now = file.metadata().map_or(0, |m| m.len());
        return Err(too_large(path, size_now.max(bytes.len() as u64)));
    }
    String::from_utf8(bytes).map_err(|e| cannot_read(io::Error::new(io::ErrorKind::InvalidData, e)))
}

/// Refuses a manifest of `size` bytes if it is over the limit.
pub(crate) fn check_size(size: u64, source: &Path) -> Result<(), ManifestError> {
    if size > MAX_MANIFEST_BYTES as u64 {
        return Err(too_large(source, size));
    }
    Ok(())
}

fn too_large(source: &Path, size: u64) -> ManifestError {
    ManifestError::TooLarge {
        path: source.to_path_buf(),
        size,
        limit: MAX_MANIFEST_BYTES as u64,
    }
}
