//! The one error type of this crate.

use std::io;
use std::path::PathBuf;

/// Why a manifest could not be loaded.
///
/// Every variant carries the manifest's source name (its file path, or
/// `<inline>`), and its `Display` starts with it, so a message printed on its
/// own tells the user which file to open.
#[derive(Debug, thiserror::Error)]
pub enum ManifestError {
    /// The manifest file could not be read.
    ///
    /// The I/O error is part of the message (and so not a separate
    /// `source()`, which would print it twice in an error chain).
    #[error("{}: cannot read the manifest: {reason}", path.display())]
    Read {
        /// The file that could not be read.
        path: PathBuf,
        /// What the operating system reported.
        reason: io::Error,
    },

    /// The text is not a well-formed manifest: a YAML/JSON syntax error, an
    /// unknown key (a typo such as `binding:` for `bindings:`), a value of the
    /// wrong type or a missing required key.
    #[error("{}: {message}", path.display())]
    Syntax {
        /// The manifest's source name.
        path: PathBuf,
        /// The parser's description, including the line and column (and, for
        /// YAML, the entry such as `bindings[1]`) where it happened.
        message: String,
    },

    /// The manifest is larger than [`crate::MAX_MANIFEST_BYTES`]. Checked
    /// before the text is read whole or parsed.
    #[error(
        "{}: the manifest has {size} bytes, more than the limit of {limit} bytes",
        path.display()
    )]
    TooLarge {
        /// The manifest's source name.
        path: PathBuf,
        /// Its size in bytes (for a file that grew while it was read, the
        /// larger of its size then and the bytes read).
        size: u64,
        /// The limit, [`crate::MAX_MANIFEST_BYTES`].
        limit: u64,
    },

    /// The text is refused before parsing because it would make the parser
    /// slow or the decoded manifest large: collections nested deeper than
    /// [`crate::MAX_NESTING_DEPTH`], more than [`crate::MAX_ALIASES`]
    /// aliases, or aliases repeating more than
    /// [`crate::MAX_ALIAS_EXPANSION`] bytes of text.
    #[error("{}:{line}: {what}", path.display())]
    TooComplex {
        /// The manifest's source name.
        path: PathBuf,
        /// The 1-based line where the limit was crossed.
        line: usize,
        /// Which limit, in words.
        what: String,
    },

    /// A `${NAME}` reference names an environment variable that is not set
    /// and gives no default.
    #[error(
        "{}:{line}: environment variable `{name}` is not set; set it, or give a default with `${{{name}:value}}`",
        path.display()
    )]
    UnknownVariable {
        /// The manifest's source name.
        path: PathBuf,
        /// The variable's name.
        name: String,
        /// The 1-based line of the manifest text holding the reference.
        line: usize,
    },

    /// The manifest parsed, but an entry breaks a rule (an empty path, a
    /// malformed actor key or capability id, a duplicate binding...).
    #[error("{}: {entry}: {message}", path.display())]
    Invalid {
        /// The manifest's source name.
        path: PathBuf,
        /// Which entry is wrong, e.g. `bindings[1].actor` or `actors[0]`.
        entry: String,
        /// What is wrong, in words a user can act on.
        message: String,
    },
}
