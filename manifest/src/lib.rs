//! Host manifests for Trellis: which actors to run, which capability
//! providers to load, and how actors are bound to capabilities.
//!
//! The format is the waSCC 2020 manifest, in YAML or JSON:
//!
//! ```yaml
//! labels: {sample: "Key-Value Counter"}   # optional
//! actors:
//!   - ./examples/.assets/echo.wasm        # signed actor modules
//! capabilities:
//!   - path: ./providers/libhttpserver.so  # provider libraries
//!     binding_name: default               # optional
//! bindings:
//!   - actor: "MB4OLDIC3TCZ4Q4TGGOVAZC43VXFE2JQVRAXQMQFXUCREOOFEKOKZTY2"
//!     capability: "wascc:http_server"
//!     binding: default                    # optional
//!     values: {PORT: "${PORT:8081}"}      # optional
//! ```
//!
//! Every section is optional. `${NAME}` and `${NAME:default}` are replaced by
//! environment variables before parsing. Relative paths are resolved against
//! the manifest's folder (then the working directory). This crate checks the
//! manifest's shape and entries but does not open the files it names; see
//! [`Manifest::missing_files`] for a quick check.
//!
//! # Limits
//!
//! Manifests may come from anyone who can write to a watched folder, so
//! before the parser runs this crate refuses:
//!
//! * more than [`MAX_MANIFEST_BYTES`] (1 MiB), from a file (checked by its
//!   size, then by a read that stops past the limit) or as text;
//! * collections nested deeper than [`MAX_NESTING_DEPTH`] (32), counted in
//!   indentation levels and `[`/`{` brackets outside strings and comments;
//! * more than [`MAX_ALIASES`] (64) YAML aliases (`*name`), or aliases that
//!   together may repeat more than [`MAX_ALIAS_EXPANSION`] (1 MiB) of text.
//!
//! The nesting and alias checks are one linear pass over the text that
//! tokenises it as the YAML parser does; they apply to JSON too. Each
//! refusal is a [`ManifestError::TooLarge`] or [`ManifestError::TooComplex`]
//! naming the file (and line) and the limit.
//!
//! ```
//! use std::path::Path;
//! use trellis_manifest::{Format, Manifest, INLINE_SOURCE};
//!
//! let text = r#"
//! actors: [echo.wasm]
//! bindings:
//!   - actor: MB4OLDIC3TCZ4Q4TGGOVAZC43VXFE2JQVRAXQMQFXUCREOOFEKOKZTY2
//!     capability: wascc:http_server
//!     values: {PORT: "${PORT:8081}"}
//! "#;
//! let env = |_: &str| None; // no variables set
//! let manifest = Manifest::parse_str(
//!     text,
//!     Path::new(INLINE_SOURCE),
//!     Path::new("/srv/app"),
//!     &env,
//!     Format::Yaml,
//! )?;
//! assert_eq!(manifest.actors[0].path, Path::new("/srv/app/echo.wasm"));
//! assert_eq!(manifest.bindings[0].binding, "default");
//! assert_eq!(manifest.bindings[0].values["PORT"], "8081");
//! # Ok::<(), trellis_manifest::ManifestError>(())
//! ```

#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod error;
mod expand;
mod prescan;
mod raw;
mod read;
mod validate;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

pub use error::ManifestError;

/// The binding name used when a manifest gives none (or an empty one).
pub const DEFAULT_BINDING: &str = "default";

/// The source name to pass to [`Manifest::parse_str`] for text that did not
/// come from a file.
pub const INLINE_SOURCE: &str = "<inline>";

/// The largest manifest accepted, in bytes (1 MiB), from a file or as text.
/// A manifest lists a few actors, providers and bindings: a few kilobytes.
pub const MAX_MANIFEST_BYTES: usize = 1 << 20;

/// The deepest nesting of collections accepted: the top-level mapping is 1,
/// `bindings` 2, an entry 3, its `values` 4. Counted in indentation levels
/// and `[`/`{` brackets, before parsing.
pub const MAX_NESTING_DEPTH: usize = 32;

/// The most YAML aliases (`*name`) a manifest may hold.
pub const MAX_ALIASES: usize = 64;

/// The most text, in bytes, all aliases of a manifest together may repeat.
/// An alias is counted as all the text from its anchor (`&name`) to the
/// anchor's first alias (plus what aliases in that text repeat), which is
/// at least the node it repeats.
pub const MAX_ALIAS_EXPANSION: usize = 1 << 20;

/// Returns the binding name to use for `name`: `name` itself, or
/// [`DEFAULT_BINDING`] if it is empty.
pub fn normalize_binding(name: &str) -> &str {
    if name.is_empty() {
        DEFAULT_BINDING
    } else {
        name
    }
}

/// The syntax a manifest is written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Format {
    /// YAML (the waSCC default). Since YAML is a superset of JSON this also
    /// reads JSON, but with YAML's error messages.
    #[default]
    Yaml,
    /// JSON.
    Json,
}

impl Format {
    /// Picks the format from a file name: [`Format::Json`] for a `.json`
    /// extension (any case), [`Format::Yaml`] for anything else.
    pub fn from_path(path: &Path) -> Format {
        match path.extension() {
            Some(ext) if ext.eq_ignore_ascii_case("json") => Format::Json,
            _ => Format::Yaml,
        }
    }
}

/// A parsed and validated manifest.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Manifest {
    /// Where the manifest came from: its file path as given to
    /// [`Manifest::load`], or [`INLINE_SOURCE`]. Used in error messages.
    pub source: PathBuf,
    /// Free-form labels (`labels:`), e.g. a sample's name.
    pub labels: BTreeMap<String, String>,
    /// Actors to start, in manifest order.
    pub actors: Vec<ActorEntry>,
    /// Capability providers to load, in manifest order.
    pub capabilities: Vec<CapabilityEntry>,
    /// Actor-to-capability bindings, in manifest order. No two share the same
    /// actor, capability and binding name.
    pub bindings: Vec<BindingEntry>,
}

/// One `actors` entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActorEntry {
    /// Path of the signed actor module, resolved as described on
    /// [`Manifest::parse_str`].
    pub path: PathBuf,
}

/// One `capabilities` entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CapabilityEntry {
    /// Path of the provider's shared library, resolved as described on
    /// [`Manifest::parse_str`].
    pub path: PathBuf,
    /// The binding name this provider instance serves; [`DEFAULT_BINDING`]
    /// when the manifest gives none.
    pub binding_name: String,
}

/// One `bindings` entry: configuration of one actor for one capability.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BindingEntry {
    /// The actor's public key (56 characters starting with `M`).
    pub actor: String,
    /// The capability id, `namespace:name` (e.g. `wascc:http_server`).
    pub capability: String,
    /// Which provider instance of that capability; [`DEFAULT_BINDING`] when
    /// the manifest gives none.
    pub binding: String,
    /// Configuration handed to the provider. Non-string YAML scalars keep
    /// their spelling (`8081`, `true`, `1.0`); JSON numbers and booleans are
    /// written out as text.
    pub values: BTreeMap<String, String>,
}

impl Manifest {
    /// Reads and parses the manifest file at `path`, expanding `${...}` from
    /// the process environment.
    ///
    /// The format comes from the extension ([`Format::from_path`]) and
    /// relative paths resolve against the file's folder first. Variables
    /// whose value is not valid Unicode count as unset. A file over
    /// [`MAX_MANIFEST_BYTES`] is refused ([`ManifestError::TooLarge`]) by its
    /// size before it is read, and a read stops one byte past the limit in
    /// case it grew meanwhile.
    pub fn load(path: &Path) -> Result<Manifest, ManifestError> {
        Self::load_with_env(path, &|name| std::env::var(name).ok())
    }

    /// Like [`Manifest::load`], with `env` answering variable lookups instead
    /// of the process environment (`None` = not set).
    pub fn load_with_env(
        path: &Path,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Manifest, ManifestError> {
        let text = read::read_bounded(path)?;
        // A bare file name has an empty parent, which joins as the working
        // directory: exactly the folder the file is in.
        let base_dir = path.parent().unwrap_or(Path::new(""));
        Self::parse_str(&text, path, base_dir, env, Format::from_path(path))
    }

    /// Parses manifest text.
    ///
    /// * `source` names the text in errors and becomes [`Manifest::source`]
    ///   (use [`INLINE_SOURCE`] when there is no file).
    /// * `base_dir` is where relative paths are looked up first; if a path
    ///   does not exist there but does in the working directory, the latter
    ///   is used; if it exists in neither, the `base_dir` one is kept so
    ///   that a later "cannot read" error names it. `.` components are
    ///   dropped.
    /// * `env` answers `${NAME}` / `${NAME:default}` lookups (`None` = not
    ///   set; a default applies only to unset variables). References in
    ///   full-line `#` comments are left alone, as is a bare `$NAME`.
    ///
    /// Errors: [`ManifestError::TooLarge`] for text over
    /// [`MAX_MANIFEST_BYTES`]; [`ManifestError::TooComplex`] for YAML or JSON
    /// nesting deeper than [`MAX_NESTING_DEPTH`], more than [`MAX_ALIASES`]
    /// aliases or aliases repeating more than [`MAX_ALIAS_EXPANSION`] bytes
    /// (checked on the expanded text in one linear pass, before the parser
    /// runs); [`ManifestError::UnknownVariable`] for an unset variable
    /// without default; [`ManifestError::Syntax`] for malformed text, unknown
    /// keys and wrong types; [`ManifestError::Invalid`] for an empty actor or
    /// capability path, a binding whose `actor` is not an actor public key or
    /// whose `capability` is not `namespace:name`, a binding name with
    /// leading or trailing blanks, and duplicate bindings.
    pub fn parse_str(
        text: &str,
        source: &Path,
        base_dir: &Path,
        env: &dyn Fn(&str) -> Option<String>,
        format: Format,
    ) -> Result<Manifest, ManifestError> {
        read::check_size(text.len() as u64, source)?;
        let expanded = expand::expand(text, source, env)?;
        prescan::check(&expanded, source)?;
        let raw = raw::decode(&expanded, format).map_err(|message| ManifestError::Syntax {
            path: source.to_path_buf(),
            message,
        })?;
        let cwd = std::env::current_dir().ok();
        let cx = validate::Context {
            source,
            base_dir,
            cwd: cwd.as_deref(),
        };
        validate::build(raw, &cx)
    }

    /// The actor and capability files that do not exist (or are not regular
    /// files), in manifest order. A quick pre-flight check; the host reports
    /// the real error when it reads them.
    pub fn missing_files(&self) -> Vec<&Path> {
        let actors = self.actors.iter().map(|a| a.path.as_path());
        let providers = self.capabilities.iter().map(|c| c.path.as_path());
        actors.chain(providers).filter(|p| !p.is_file()).collect()
    }
}
