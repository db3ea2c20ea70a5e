//! Finding, removing and adding the `jwt` custom section of a module.
//!
//! Everything here works on the raw bytes of top-level sections. Nothing is
//! re-encoded: the code hash must be reproducible by any tool that drops the
//! `jwt` section, and re-encoding could change bytes (e.g. LEB128 padding).

use std::ops::Range;

use wasmparser::{Encoding, Parser, Payload};

use crate::ClaimsError;

/// The name of the custom section that holds the token.
pub(crate) const JWT_SECTION: &str = "jwt";

/// `\0asm` magic and version 1: the 8-byte module preamble.
const PREAMBLE_LEN: usize = 8;

/// Section id of custom sections in the binary format.
const CUSTOM_SECTION_ID: u8 = 0;

/// A module split into its top-level sections.
pub(crate) struct Sections<'a> {
    module: &'a [u8],
    /// Byte ranges of whole sections (id, size and contents) that are kept.
    kept: Vec<Range<usize>>,
    /// Contents of every custom section named `jwt`, in module order.
    tokens: Vec<&'a [u8]>,
}

impl<'a> Sections<'a> {
    /// Splits `module`, failing with [`ClaimsError::NotWasm`] if it is not a
    /// well-framed core module.
    pub(crate) fn parse(module: &'a [u8]) -> Result<Self, ClaimsError> {
        let mut sections = Sections {
            module,
            kept: Vec::new(),
            tokens: Vec::new(),
        };
        // Sections are contiguous, so each one starts where the previous ended.
        let mut start = PREAMBLE_LEN;
        for payload in Parser::new(0).parse_all(module) {
            let payload = payload.map_err(|_| ClaimsError::NotWasm)?;
            if matches!(payload, Payload::Version { encoding, .. } if encoding != Encoding::Module)
            {
                return Err(ClaimsError::NotWasm);
            }
            let Some((_, contents)) = payload.as_section() else {
                continue;
            };
            let end = to_usize(contents.end)?;
            match &payload {
                Payload::CustomSection(custom) if custom.name() == JWT_SECTION => {
                    sections.tokens.push(custom.data());
                }
                _ => sections.kept.push(start..end),
            }
            start = end;
        }
        // The parser rejects trailing partial sections; this makes sure no
        // byte is ever silently left out of the hash.
        if start != module.len() {
            return Err(ClaimsError::NotWasm);
        }
        Ok(sections)
    }

    /// The module's token text, or `None` if it has no `jwt` section.
    pub(crate) fn token(&self) -> Result<Option<&'a str>, ClaimsError> {
        match self.tokens.as_slice() {
            [] => Ok(None),
            [token] => std::str::from_utf8(token).map(Some).map_err(|_| {
                ClaimsError::MalformedToken("the `jwt` section is not UTF-8 text".into())
            }),
            // Two tokens would make "which identity is this?" ambiguous.
            many => Err(ClaimsError::MalformedToken(format!(
                "the module has {} `jwt` custom sections, expected one",
                many.len()
            ))),
        }
    }

    /// The module bytes with every `jwt` section removed.
    pub(crate) fn without_token(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.module.len());
        out.extend_from_slice(&self.module[..PREAMBLE_LEN]);
        for range in &self.kept {
            out.extend_from_slice(&self.module[range.clone()]);
        }
        out
    }
}

/// Appends a custom section called `name` holding `data` to `module`.
pub(crate) fn append_custom_section(module: &mut Vec<u8>, name: &str, data: &[u8]) {
    let mut name_field = Vec::with_capacity(name.len() + 5);
    write_leb128(&mut name_field, name.len());
    name_field.extend_from_slice(name.as_bytes());

    module.push(CUSTOM_SECTION_ID);
    write_leb128(module, name_field.len() + data.len());
    module.extend_from_slice(&name_field);
    module.extend_from_slice(data);
}

/// Writes `value` as unsigned LEB128: 7 bits per byte, low bits first.
fn write_leb128(out: &mut Vec<u8>, mut value: usize) {
    loop {
        let low = (value & 0x7f) as u8;
        value >>= 7;
        if value == 0 {
            out.push(low);
            return;
        }
        out.push(low | 0x80);
    }
}

/// Converts a parser offset to an index; wasmparser's offset type varies
/// between versions (usize or u64).
fn to_usize<T>(offset: T) -> Result<usize, ClaimsError>
where
    usize: TryFrom<T>,
{
    usize::try_from(offset).map_err(|_| ClaimsError::NotWasm)
}

#[cfg(test)]
mod tests {
    use super::*;

    const EMPTY: &[u8] = b"\0asm\x01\0\0\0";

    #[test]
    fn leb128_matches_the_spec_examples() {
        let encode = |value| {
            let mut out = Vec::new();
            write_leb128(&mut out, value);
            out
        };
        assert_eq!(encode(0), [0x00]);
        assert_eq!(encode(127), [0x7f]);
        assert_eq!(encode(128), [0x80, 0x01]);
        assert_eq!(encode(624_485), [0xe5, 0x8e, 0x26]);
    }

    #[test]
    fn appended_section_parses_back() {
        let mut module = EMPTY.to_vec();
        let big = vec![b'x'; 300]; // forces a two-byte size
        append_custom_section(&mut module, "other", b"keep");
        append_custom_section(&mut module, JWT_SECTION, &big);

        let sections = Sections::parse(&module).expect("parses");
        assert_eq!(sections.tokens, vec![big.as_slice()]);
        let mut expected = EMPTY.to_vec();
        append_custom_section(&mut expected, "other", b"keep");
        assert_eq!(sections.without_token(), expected);
    }

    #[test]
    fn refuses_non_wasm_and_truncation() {
        assert!(matches!(
            Sections::parse(b"hello"),
            Err(ClaimsError::NotWasm)
        ));
        assert!(matches!(Sections::parse(b""), Err(ClaimsError::NotWasm)));
        let mut module = EMPTY.to_vec();
        append_custom_section(&mut module, "x", b"abc");
        module.pop();
        assert!(matches!(
            Sections::parse(&module),
            Err(ClaimsError::NotWasm)
        ));
    }

    #[test]
    fn refuses_two_tokens() {
        let mut module = EMPTY.to_vec();
        append_custom_section(&mut module, JWT_SECTION, b"a");
        append_custom_section(&mut module, JWT_SECTION, b"b");
        let sections = Sections::parse(&module).expect("parses");
        assert!(matches!(
            sections.token(),
            Err(ClaimsError::MalformedToken(_))
        ));
    }
}
