//! Loading provider libraries through the checked stable ABI.
//!
//! A provider library is refused, with an error that names the file and says
//! why, when it is cut short (checked before the loader maps it: see
//! [`super::segments`]), is not a shared library, exports no provider root
//! module, was built against an incompatible provider SDK, or lays out the
//! ABI types differently from this host.
//!
//! What runs of a library before it is judged: the dynamic loader runs its
//! initialisers (ELF constructors, `.init_array`) when it opens it, before
//! its root module can be looked at. A library that passed the segment check
//! but is hostile or broken can therefore run code, or crash, in the host's
//! process at load; only libraries one trusts belong in a manifest. Once
//! refused, nothing of the library is called by the host.
//!
//! Many providers load into one process: `RootModule::load_from_file` caches a
//! single library per root-module type, so the host reads each library's
//! header itself and initialises its root module from there. Libraries are
//! never unloaded (a provider's threads may still run its code).

use super::segments::{self, SegmentFault};
use abi_stable::library::{lib_header_from_path, LibraryError, RootModule};
use std::path::{Path, PathBuf};
use trellis_provider_sdk::ffi::ProviderModuleRef;

/// Why a provider library was refused.
#[derive(Debug, thiserror::Error)]
pub enum ProviderLoadError {
    /// The file is missing.
    #[error("{path}: provider library not found")]
    NotFound {
        /// The file.
        path: PathBuf,
    },
    /// A loadable segment ends past the end of the file: mapping it would
    /// crash the process at its first touch.
    #[error("{path}: the library is cut short: its loadable segments need {needed} bytes but the file has {size} (a copy still in progress?)")]
    CutShort {
        /// The file.
        path: PathBuf,
        /// Bytes the segments need.
        needed: u64,
        /// Bytes the file has.
        size: u64,
    },
    /// The file is not a loadable shared library.
    #[error("{path}: not a shared library the system can load: {reason}")]
    NotALibrary {
        /// The file.
        path: PathBuf,
        /// What the dynamic loader said.
        reason: String,
    },
    /// A shared library, but not a Trellis provider.
    #[error("{path}: not a Trellis provider: the library exports no provider root module (build it with `trellis_provider_sdk::export_provider!`)")]
    NotAProvider {
        /// The file.
        path: PathBuf,
    },
    /// Built against a provider SDK this host cannot talk to.
    #[error("{path}: built against provider SDK {found}, but this host speaks {expected}: rebuild the provider against a compatible SDK")]
    IncompatibleSdk {
        /// The file.
        path: PathBuf,
        /// The host's SDK version.
        expected: String,
        /// The library's SDK version.
        found: String,
    },
    /// The ABI types are laid out differently.
    #[error("{path}: the provider's ABI does not match this host's ({summary}); rebuild it against this host's provider SDK")]
    LayoutMismatch {
        /// The file.
        path: PathBuf,
        /// The first line of abi_stable's report.
        summary: String,
    },
}

/// A provider library whose root module passed every check.
#[derive(Clone)]
pub struct ProviderLibrary {
    path: PathBuf,
    module: ProviderModuleRef,
}

impl ProviderLibrary {
    /// Loads and checks the library at `path`.
    pub fn load(path: &Path) -> Result<ProviderLibrary, ProviderLoadError> {
        // A bare file name would make the dynamic loader search the system's
        // library path instead of the folder the manifest meant.
        let path = &std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
        if !path.is_file() {
            return Err(ProviderLoadError::NotFound {
                path: path.to_path_buf(),
            });
        }
        check_segments(path)?;
        let module = lib_header_from_path(path)
            .and_then(|header| header.init_root_module::<ProviderModuleRef>())
            .map_err(|e| classify(path, e))?;
        tracing::debug!(path = %path.display(), sdk = %module.sdk_version(), "provider library checked");
        Ok(ProviderLibrary {
            path: path.to_path_buf(),
            module,
        })
    }

    /// Loads and checks `copy`, a private copy of the library at `path`;
    /// its refusals name `path`, the file a person knows.
    pub fn load_copy(path: &Path, copy: &Path) -> Result<ProviderLibrary, ProviderLoadError> {
        ProviderLibrary::load(copy).map_err(|e| e.naming(path))
    }

    /// The file it was loaded from.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The provider SDK version the library was built with.
    pub fn sdk_version(&self) -> &'static str {
        self.module.sdk_version().as_str()
    }

    /// The root module.
    pub(crate) fn module(&self) -> ProviderModuleRef {
        self.module
    }
}

impl ProviderLoadError {
    /// The same refusal, naming `file` instead.
    fn naming(self, file: &Path) -> Self {
        let file = file.to_path_buf();
        match self {
            ProviderLoadError::NotFound { .. } => ProviderLoadError::NotFound { path: file },
            ProviderLoadError::CutShort { needed, size, .. } => ProviderLoadError::CutShort {
                path: file,
                needed,
                size,
            },
            ProviderLoadError::NotALibrary { reason, .. } => {
                ProviderLoadError::NotALibrary { path: file, reason }
            }
            ProviderLoadError::NotAProvider { .. } => {
                ProviderLoadError::NotAProvider { path: file }
            }
            ProviderLoadError::IncompatibleSdk {
                expected, found, ..
            } => ProviderLoadError::IncompatibleSdk {
                path: file,
                expected,
                found,
            },
            ProviderLoadError::LayoutMismatch { summary, .. } => {
                ProviderLoadError::LayoutMismatch {
                    path: file,
                    summary,
                }
            }
        }
    }
}

/// The file name a provider crate's library gets on this platform:
/// `httpserver` → `libhttpserver.so`, `libhttpserver.dylib` or `httpserver.dll`.
pub fn platform_file_name(stem: &str) -> String {
    format!(
        "{}{stem}{}",
        std::env::consts::DLL_PREFIX,
        std::env::consts::DLL_SUFFIX
    )
}

/// Manifests written on Linux name `.so` files: on another platform, use the
/// same library under this platform's suffix when only that one exists.
pub fn resolve_platform_path(path: &Path) -> PathBuf {
    let is_library = matches!(
        path.extension().and_then(|e| e.to_str()),
        Some("so" | "dylib" | "dll")
    );
    if path.exists() || !is_library {
        return path.to_path_buf();
    }
    let native = path.with_extension(std::env::consts::DLL_EXTENSION);
    // `libfoo.so` is `foo.dll` on Windows, where libraries take no prefix.
    let unprefixed = native
        .file_name()
        .and_then(|n| n.to_str())
        .and_then(|n| n.strip_prefix("lib"))
        .filter(|_| std::env::consts::DLL_PREFIX.is_empty())
        .map(|n| native.with_file_name(n));
    [Some(native), unprefixed]
        .into_iter()
        .flatten()
        .find(|candidate| candidate.exists())
        .unwrap_or_else(|| path.to_path_buf())
}

/// Refuses a library the loader could not map safely.
fn check_segments(path: &Path) -> Result<(), ProviderLoadError> {
    match segments::check(path) {
        Ok(()) => Ok(()),
        Err(SegmentFault::CutShort { needed, size }) => Err(ProviderLoadError::CutShort {
            path: path.to_path_buf(),
            needed,
            size,
        }),
        Err(SegmentFault::Unreadable(why)) => Err(ProviderLoadError::NotALibrary {
            path: path.to_path_buf(),
            reason: format!("its program headers cannot be read: {why}"),
        }),
    }
}

fn classify(path: &Path, error: LibraryError) -> ProviderLoadError {
    let path = path.to_path_buf();
    tracing::debug!(path = %path.display(), "provider library refused: {error}");
    match error {
        LibraryError::OpenError { err, .. } => ProviderLoadError::NotALibrary {
            path,
            reason: err.to_string(),
        },
        LibraryError::GetSymbolError { .. } => ProviderLoadError::NotAProvider { path },
        LibraryError::IncompatibleVersionNumber {
            expected_version,
            actual_version,
            ..
        } => ProviderLoadError::IncompatibleSdk {
            path,
            expected: expected_version.to_string(),
            found: actual_version.to_string(),
        },
        LibraryError::ParseVersionError(e) => ProviderLoadError::IncompatibleSdk {
            path,
            expected: ProviderModuleRef::VERSION_STRINGS.to_string(),
            found: format!("an unreadable version ({e})"),
        },
        other => ProviderLoadError::LayoutMismatch {
            path,
            summary: summary_line(&other.to_string()),
        },
    }
}

/// One summary line of a layout report. abi_stable's reports run to
/// thousands of lines: keep what differs (its last `Error:` with the expected
/// and found values); the whole report is logged at debug level above.
fn summary_line(report: &str) -> String {
    let lines: Vec<&str> = report.lines().map(str::trim).collect();
    let Some(at) = lines.iter().rposition(|l| l.starts_with("Error:")) else {
        return lines
            .iter()
            .find(|l| !l.is_empty())
            .unwrap_or(&"layouts differ")
            .chars()
            .take(300)
            .collect();
    };
    let value_after = |label: &str| {
        lines[at..]
            .iter()
            .skip_while(|l| **l != label)
            .nth(1)
            .copied()
            .unwrap_or("?")
    };
    let what = lines[at].trim_start_matches("Error:").trim();
    format!(
        "{what}: expected {}, found {}",
        value_after("Expected:"),
        value_after("Found:")
    )
    .chars()
    .take(300)
    .collect()
}
