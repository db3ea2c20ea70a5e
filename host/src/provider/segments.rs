//! Checking, before the dynamic loader maps a library, that every loadable
//! segment it declares lies within the file.
//!
//! The loader maps segments straight from the file: a segment that reaches
//! past the end (a library cut short by a copy in progress, a full disk, a
//! damaged download) maps pages with nothing behind them, and the first
//! touch of one kills the whole process with `SIGBUS`, before any check of
//! the library's contents could run. Reading the program headers first turns
//! that into an error that names the file.
//!
//! Only ELF files are read (Linux and the BSDs); anything else is left to
//! the loader, which refuses what it cannot read.

use std::io::{Read, Seek, SeekFrom};
use std::path::Path;

/// `PT_LOAD`: a segment the loader maps.
const LOADABLE: u32 = 1;
/// More program headers than any real library has; a header claiming more
/// is damaged.
const MAX_HEADERS: u64 = 4096;

/// What is wrong with the segments of a library.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SegmentFault {
    /// The ELF header or the program headers cannot be read.
    Unreadable(String),
    /// A loadable segment ends past the end of the file.
    CutShort {
        /// Bytes the segments need.
        needed: u64,
        /// Bytes the file has.
        size: u64,
    },
}

/// Where the fields of an ELF header and program header are, by class.
struct Layout {
    /// Offset and width of `e_phoff`.
    phoff: (usize, usize),
    /// Offset of `e_phentsize` (`e_phnum` follows it).
    phentsize: usize,
    /// In a program header: offset and width of `p_offset`, `p_filesz`.
    offset: (usize, usize),
    filesz: (usize, usize),
}

const ELF32: Layout = Layout {
    phoff: (0x1c, 4),
    phentsize: 0x2a,
    offset: (0x04, 4),
    filesz: (0x10, 4),
};

const ELF64: Layout = Layout {
    phoff: (0x20, 8),
    phentsize: 0x36,
    offset: (0x08, 8),
    filesz: (0x20, 8),
};

/// Checks the loadable segments of the library at `path`; `Ok` for a file
/// that is not ELF (the loader judges it).
pub fn check(path: &Path) -> Result<(), SegmentFault> {
    let unreadable = |e: std::io::Error| SegmentFault::Unreadable(e.to_string());
    let mut file = std::fs::File::open(path).map_err(unreadable)?;
    let size = file.metadata().map_err(unreadable)?.len();
    let mut header = [0u8; 64];
    let read = read_up_to(&mut file, &mut header).map_err(unreadable)?;
    if read < 4 || header[..4] != *b"\x7fELF" {
        return Ok(());
    }
    let header = &header[..read];
    let (Some(&class), Some(&data)) = (header.get(4), header.get(5)) else {
        return Err(SegmentFault::CutShort { needed: 64, size });
    };
    let layout = match class {
        1 => &ELF32,
        2 => &ELF64,
        other => {
            return Err(SegmentFault::Unreadable(format!(
                "unknown ELF class {other}"
            )))
        }
    };
    let big_endian = data == 2;
    let field =
        |bytes: &[u8], (at, width): (usize, usize)| uint(bytes.get(at..at + width)?, big_endian);
    let short = || SegmentFault::CutShort { needed: 64, size };
    let phoff = field(header, layout.phoff).ok_or_else(short)?;
    let entry = field(header, (layout.phentsize, 2)).ok_or_else(short)?;
    let count = field(header, (layout.phentsize + 2, 2)).ok_or_else(short)?;
    if count > MAX_HEADERS || entry < (layout.filesz.0 + layout.filesz.1) as u64 {
        return Err(SegmentFault::Unreadable(format!(
            "{count} program headers of {entry} bytes"
        )));
    }
    let table_end = phoff.saturating_add(entry * count);
    if table_end > size {
        return Err(SegmentFault::CutShort {
            needed: table_end,
            size,
        });
    }
    let mut table = vec![0u8; (entry * count) as usize];
    file.seek(SeekFrom::Start(phoff)).map_err(unreadable)?;
    file.read_exact(&mut table).map_err(unreadable)?;
    let needed = table
        .chunks_exact(entry as usize)
        .filter(|h| field(h, (0, 4)) == Some(u64::from(LOADABLE)))
        .filter_map(|h| Some(field(h, layout.offset)?.saturating_add(field(h, layout.filesz)?)))
        .max()
        .unwrap_or(0);
    if needed > size {
        return Err(SegmentFault::CutShort { needed, size });
    }
    Ok(())
}

/// Reads as much of `buffer` as the file holds.
fn read_up_to(file: &mut std::fs::File, buffer: &mut [u8]) -> std::io::Result<usize> {
    let mut filled = 0;
    while filled < buffer.len() {
        match file.read(&mut buffer[filled..])? {
            0 => break,
            n => filled += n,
        }
    }
    Ok(filled)
}

/// An unsigned integer of 1 to 8 bytes.
fn uint(bytes: &[u8], big_endian: bool) -> Option<u64> {
    if bytes.is_empty() || bytes.len() > 8 {
        return None;
    }
    let mut wide = [0u8; 8];
    if big_endian {
        wide[8 - bytes.len()..].copy_from_slice(bytes);
        Some(u64::from_be_bytes(wide))
    } else {
        wide[..bytes.len()].copy_from_slice(bytes);
        Some(u64::from_le_bytes(wide))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The library this test binary links against: any ELF shared object
    /// of the system serves.
    fn system_library() -> Option<std::path::PathBuf> {
        [
            "/lib/x86_64-linux-gnu/libc.so.6",
            "/lib/aarch64-linux-gnu/libc.so.6",
            "/lib64/libc.so.6",
        ]
        .iter()
        .map(std::path::PathBuf::from)
        .find(|p| p.is_file())
    }

    #[test]
    fn a_whole_library_passes_and_every_cut_is_caught() {
        let Some(library) = system_library() else {
            eprintln!("no system libc found: skipped");
            return;
        };
        assert_eq!(check(&library), Ok(()));
        let bytes = std::fs::read(&library).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let cut = dir.path().join("cut.so");
        for length in [5, 63, 64, 100, 4096, 65_536, bytes.len() / 2] {
            std::fs::write(&cut, &bytes[..length]).unwrap();
            let fault = check(&cut).expect_err("a cut library");
            match fault {
                SegmentFault::CutShort { needed, size } => {
                    assert_eq!(size, length as u64);
                    assert!(needed > size, "{length}: {needed}");
                }
                SegmentFault::Unreadable(why) => panic!("{length}: {why}"),
            }
        }
    }

    #[test]
    fn what_is_not_elf_is_left_to_the_loader() {
        let dir = tempfile::tempdir().unwrap();
        for (name, bytes) in [("empty", &b""[..]), ("text", b"not a library\n")] {
            let path = dir.path().join(name);
            std::fs::write(&path, bytes).unwrap();
            assert_eq!(check(&path), Ok(()), "{name}");
        }
    }

    #[test]
    fn a_damaged_header_is_unreadable_not_a_panic() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("bad.so");
        let mut header = vec![0u8; 64];
        header[..4].copy_from_slice(b"\x7fELF");
        header[4] = 9;
        std::fs::write(&path, &header).unwrap();
        assert!(matches!(check(&path), Err(SegmentFault::Unreadable(_))));
        header[4] = 2;
        header[0x36] = 0xff;
        header[0x37] = 0xff;
        header[0x38] = 0xff;
        header[0x39] = 0xff;
        std::fs::write(&path, &header).unwrap();
        assert!(matches!(check(&path), Err(SegmentFault::Unreadable(_))));
    }
}
