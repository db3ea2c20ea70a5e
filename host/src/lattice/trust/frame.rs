//! The bytes of a sealed lattice message, and nothing else: writing a
//! header and reading one back. What the fields mean for trust is
//! [`super::seal`]'s business.
//!
//! ```text
//! magic "TRL" 1 | kind u8 | sent_at ms u64 | nonce [24] | in_reply_to [24]
//! | subject (u16 length + bytes)
//! | issuer [32] | n u8 | n × (key id [8] + wrapped key [48])
//! | signed only: signer (u8 length + `N…`/`U…`) | credential [64]
//! | ciphertext + tag [16]
//! | signed only: signature [64]
//! ```
//!
//! Everything before the ciphertext is the AEAD's associated data, so no
//! header field can be changed without the message failing to open.

use std::ops::Range;

/// The first bytes of every sealed message (the last is the version).
pub const MAGIC: [u8; 4] = *b"TRL\x01";
/// The length of a nonce, which is also the message's id.
pub const NONCE: usize = 24;
/// The length of a content key wrapped for one issuer (key + tag).
pub const WRAPPED: usize = 48;
/// A signature's length.
pub const SIGNATURE: usize = 64;

/// What a sealed message is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// An invocation (data plane).
    Call = 1,
    /// The answer to a call.
    Reply = 2,
    /// A control-plane message, signed by the member that sends it.
    Signed = 3,
}

impl Kind {
    fn from_byte(byte: u8) -> Option<Self> {
        match byte {
            1 => Some(Kind::Call),
            2 => Some(Kind::Reply),
            3 => Some(Kind::Signed),
            _ => None,
        }
    }
}

/// A header, borrowed from a message or about to be written.
#[derive(Debug, Clone)]
pub struct Header<'a> {
    /// What the message is.
    pub kind: Kind,
    /// When it was sealed (milliseconds since the Unix epoch).
    pub sent_at_ms: u64,
    /// Random, unique per message.
    pub nonce: [u8; NONCE],
    /// A reply's request nonce (zeros otherwise).
    pub in_reply_to: [u8; NONCE],
    /// The subject it was sealed for.
    pub subject: &'a str,
    /// The sender's cluster key (raw).
    pub issuer: [u8; 32],
    /// `n × (key id + wrapped content key)`.
    pub wraps: &'a [u8],
    /// Signed messages: the signer's id and its credential.
    pub signer: Option<(&'a str, &'a [u8])>,
}

impl Header<'_> {
    /// The wrapped content key for `key_id`, if the sender made one.
    pub fn wrap_for(&self, key_id: &[u8; 8]) -> Option<&[u8]> {
        self.wraps
            .chunks_exact(8 + WRAPPED)
            .find(|chunk| chunk[..8] == key_id[..])
            .map(|chunk| &chunk[8..])
    }

    /// Appends the header to `out`.
    pub fn write(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&MAGIC);
        out.push(self.kind as u8);
        out.extend_from_slice(&self.sent_at_ms.to_be_bytes());
        out.extend_from_slice(&self.nonce);
        out.extend_from_slice(&self.in_reply_to);
        write_str16(out, self.subject);
        out.extend_from_slice(&self.issuer);
        out.push((self.wraps.len() / (8 + WRAPPED)) as u8);
        out.extend_from_slice(self.wraps);
        if let Some((signer, credential)) = self.signer {
            out.push(signer.len() as u8);
            out.extend_from_slice(signer.as_bytes());
            out.extend_from_slice(credential);
        }
    }
}

/// A message read into its parts.
#[derive(Debug)]
pub struct Frame<'a> {
    /// The header.
    pub header: Header<'a>,
    /// The header's bytes: the associated data.
    pub header_bytes: &'a [u8],
    /// Where the ciphertext (tag included) lies in the message.
    pub ciphertext: Range<usize>,
    /// Signed messages: the signature, over everything before it.
    pub signature: Option<&'a [u8]>,
}

/// Whether `bytes` looks like a sealed message at all.
pub fn is_sealed(bytes: &[u8]) -> bool {
    bytes.starts_with(&MAGIC[..3])
}

/// Reads a message; `None` when it is not a well-formed sealed message.
pub fn read(bytes: &[u8]) -> Option<Frame<'_>> {
    let mut r = Reader { bytes, at: 0 };
    if r.take(4)? != MAGIC {
        return None;
    }
    let kind = Kind::from_byte(r.take(1)?[0])?;
    let sent_at_ms = u64::from_be_bytes(r.array()?);
    let nonce = r.array()?;
    let in_reply_to = r.array()?;
    let subject = r.str16()?;
    let issuer = r.array()?;
    let count = r.take(1)?[0] as usize;
    let wraps = r.take(count * (8 + WRAPPED))?;
    let signer = match kind {
        Kind::Signed => {
            let len = r.take(1)?[0] as usize;
            let id = std::str::from_utf8(r.take(len)?).ok()?;
            Some((id, r.take(SIGNATURE)?))
        }
        Kind::Call | Kind::Reply => None,
    };
    let header_end = r.at;
    let (end, signature) = match kind {
        Kind::Signed => {
            let end = bytes.len().checked_sub(SIGNATURE)?;
            (end, Some(&bytes[end..]))
        }
        Kind::Call | Kind::Reply => (bytes.len(), None),
    };
    if end < header_end + 16 {
        return None;
    }
    Some(Frame {
        header: Header {
            kind,
            sent_at_ms,
            nonce,
            in_reply_to,
            subject,
            issuer,
            wraps,
            signer,
        },
        header_bytes: &bytes[..header_end],
        ciphertext: header_end..end,
        signature,
    })
}

fn write_str16(out: &mut Vec<u8>, text: &str) {
    // Subjects are far shorter than 64 KiB; a longer one is cut, and then
    // fails the receiver's subject check rather than corrupting the frame.
    let bytes = &text.as_bytes()[..text.len().min(u16::MAX as usize)];
    out.extend_from_slice(&(bytes.len() as u16).to_be_bytes());
    out.extend_from_slice(bytes);
}

struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        let slice = self.bytes.get(self.at..self.at.checked_add(n)?)?;
        self.at += n;
        Some(slice)
    }

    fn array<const N: usize>(&mut self) -> Option<[u8; N]> {
        self.take(N)?.try_into().ok()
    }

    fn str16(&mut self) -> Option<&'a str> {
        let len = u16::from_be_bytes(self.array()?) as usize;
        std::str::from_utf8(self.take(len)?).ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(kind: Kind) -> Header<'static> {
        Header {
            kind,
            sent_at_ms: 1_700_000_000_000,
            nonce: [7; NONCE],
            in_reply_to: [0; NONCE],
            subject: "trellis.default.actor.MECHO",
            issuer: [3; 32],
            wraps: &[9; 8 + WRAPPED],
            signer: (kind == Kind::Signed).then_some(("NHOST", &[5u8; SIGNATURE][..])),
        }
    }

    #[test]
    fn a_header_reads_back_as_written() {
        for kind in [Kind::Call, Kind::Reply, Kind::Signed] {
            let mut bytes = Vec::new();
            header(kind).write(&mut bytes);
            let header_len = bytes.len();
            bytes.extend_from_slice(&[1; 20]);
            if kind == Kind::Signed {
                bytes.extend_from_slice(&[2; SIGNATURE]);
            }
            let frame = read(&bytes).expect("reads");
            assert_eq!(frame.header.kind, kind);
            assert_eq!(frame.header.subject, "trellis.default.actor.MECHO");
            assert_eq!(frame.header_bytes.len(), header_len);
            assert_eq!(frame.ciphertext, header_len..header_len + 20);
            assert!(frame.header.wrap_for(&[9; 8]).is_some());
            assert!(frame.header.wrap_for(&[8; 8]).is_none());
            assert_eq!(frame.signature.is_some(), kind == Kind::Signed);
        }
    }

    #[test]
    fn anything_cut_short_or_foreign_is_not_a_frame() {
        let mut bytes = Vec::new();
        header(Kind::Signed).write(&mut bytes);
        bytes.extend_from_slice(&[1; 16 + SIGNATURE]);
        assert!(read(&bytes).is_some());
        for len in 0..bytes.len() - 1 {
            assert!(read(&bytes[..len]).is_none(), "cut at {len}");
        }
        assert!(read(b"{\"host\":\"N1\"}").is_none());
        assert!(!is_sealed(b"{\"host\":\"N1\"}"));
        assert!(is_sealed(&bytes));
    }
}
