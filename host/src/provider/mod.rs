//! Capability providers: native libraries loaded through the checked ABI.
//!
//! A [`ProviderLibrary`] is a checked library file; a [`ProviderInstance`] is
//! one running provider created from it for one binding name. The host talks
//! to instances only through the FFI-safe trait, and every call that can
//! fail comes back as an error, never a panic (the SDK catches those).

mod instance;
mod library;
mod segments;

pub use instance::{ProviderInstance, ProviderStartError};
pub use library::{platform_file_name, resolve_platform_path, ProviderLibrary, ProviderLoadError};
