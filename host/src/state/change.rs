//! The change rule: when an actor module or a provider library counts as
//! changed since it was started.
//!
//! One rule for both: a file changed when its content changed. Its size and
//! modification time are looked at first; only when they moved is the file
//! read and its content hash compared. So an unchanged file costs one `stat`
//! per pass (a provider library is megabytes), a file saved again with the
//! same bytes is not reloaded, and nothing is ever compiled or loaded to find
//! out that it did not change.

use std::collections::hash_map::DefaultHasher;
use std::hash::{Hash, Hasher};
use std::path::Path;
use std::time::SystemTime;

/// What a file looked like when it was last read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Fingerprint {
    len: u64,
    modified: Option<SystemTime>,
    content: u64,
}

impl Fingerprint {
    /// The fingerprint of `path` now; `known` is the last one taken, whose
    /// content hash is reused while size and time did not move.
    pub fn of(path: &Path, known: Option<&Fingerprint>) -> std::io::Result<Fingerprint> {
        let meta = std::fs::metadata(path)?;
        let (len, modified) = (meta.len(), meta.modified().ok());
        if let Some(known) = known.filter(|k| k.len == len && k.modified == modified) {
            return Ok(*known);
        }
        let content = content_hash(&std::fs::read(path)?);
        Ok(Fingerprint {
            len,
            modified,
            content,
        })
    }

    /// Whether `path` still has the size and time this fingerprint saw: a
    /// file being written moves them.
    pub fn still_matches(&self, path: &Path) -> bool {
        std::fs::metadata(path)
            .is_ok_and(|meta| meta.len() == self.len && meta.modified().ok() == self.modified)
    }

    /// Whether the file's content differs from `earlier`'s.
    pub fn changed_since(&self, earlier: &Fingerprint) -> bool {
        self.content != earlier.content
    }
}

fn content_hash(bytes: &[u8]) -> u64 {
    let mut hasher = DefaultHasher::new();
    bytes.hash(&mut hasher);
    hasher.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_changed_only_when_its_content_did() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("actor.wasm");
        std::fs::write(&file, b"one").unwrap();
        let first = Fingerprint::of(&file, None).unwrap();
        assert_eq!(Fingerprint::of(&file, Some(&first)).unwrap(), first);

        // Saved again with the same bytes: new time, same content.
        std::fs::write(&file, b"one").unwrap();
        let again = Fingerprint::of(&file, Some(&first)).unwrap();
        assert!(!again.changed_since(&first));

        std::fs::write(&file, b"two, longer").unwrap();
        assert!(Fingerprint::of(&file, Some(&again))
            .unwrap()
            .changed_since(&first));
    }

    #[test]
    fn a_file_written_since_no_longer_matches() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("lib.so");
        std::fs::write(&file, b"abc").unwrap();
        let first = Fingerprint::of(&file, None).unwrap();
        assert!(first.still_matches(&file));
        std::fs::write(&file, b"abcdef").unwrap();
        assert!(!first.still_matches(&file));
        std::fs::remove_file(&file).unwrap();
        assert!(!first.still_matches(&file));
    }

    #[test]
    fn a_known_stamp_is_trusted_without_reading() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("lib.so");
        std::fs::write(&file, b"abc").unwrap();
        let first = Fingerprint::of(&file, None).unwrap();
        let claimed = Fingerprint {
            content: first.content ^ 1,
            ..first
        };
        // Same size and time as on disk: the content hash is not recomputed.
        assert_eq!(Fingerprint::of(&file, Some(&claimed)).unwrap(), claimed);
    }
}
