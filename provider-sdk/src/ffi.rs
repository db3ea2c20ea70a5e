#![allow(non_local_definitions)] // abi_stable's `sabi_trait` expands to impls the lint flags; they are sound.

//! The stable ABI between the host and a provider library.
//!
//! Everything here crosses a shared-library boundary between two separately
//! compiled Rust programs, so every type is `#[repr(C)]` and derives
//! [`StableAbi`]: the host compares the full type layout recorded in the
//! library with its own before it calls anything, and refuses a mismatch.
//!
//! # Evolution
//!
//! The host checks a library's layout of every type here against its own,
//! and abi_stable accepts a library whose prefix types (the root module, both
//! traits' vtables) have **at least** the host's fields: a field or method
//! appended after a `#[sabi(last_prefix_field)]` marker lets providers of the
//! newer SDK load into older hosts, but a newer host refuses every provider
//! built before the append (`too many fields: expected N, found M`). So any
//! change of these types breaks existing providers and needs a new major SDK
//! version (a new minor while the SDK is 0.x). A compatible SDK release keeps
//! them as they are and says what is new through [`ProviderModule::sdk_version`],
//! which the host reads: that is how failure kinds came in (SDK 0.1.1, see
//! [`reads_failure_kinds`] and [`crate::CallError`]). `docs/writing-a-provider.md`
//! states the policy.
//!
//! Provider authors do not use this module: [`crate::Provider`] and
//! [`crate::export_provider!`] generate all of it.

use abi_stable::{
    declare_root_module_statics,
    library::RootModule,
    package_version_strings, sabi_trait,
    sabi_types::VersionStrings,
    std_types::{RArc, RBox, RResult, RStr, RString, RVec, Tuple2},
    StableAbi,
};
use async_ffi::FfiFuture;

/// The result of a call across the boundary: reply bytes or an error text.
///
/// A host calling an actor for a provider that [`reads_failure_kinds`] puts
/// the failure's kind in front of the text ([`crate::CallError::into_ffi_text`]).
pub type FfiCallResult = RResult<RVec<u8>, RString>;

/// A call in progress across the boundary. It is polled by whichever thread
/// awaits it: a call that completes at once costs no thread hop.
pub type FfiCallFuture = FfiFuture<FfiCallResult>;

/// Configuration values of a binding, as ordered pairs.
pub type FfiValues = RVec<Tuple2<RString, RString>>;

/// What a provider says about itself.
#[repr(C)]
#[derive(StableAbi, Debug, Clone)]
pub struct FfiDescriptor {
    /// The capability it provides, e.g. `wascc:http_server`.
    pub capability_id: RString,
    /// A human-readable name.
    pub name: RString,
    /// The provider's own semver version.
    pub version: RString,
    /// The operations actors may call.
    pub operations: RVec<RString>,
}

/// What the host hands a provider when it creates an instance.
#[repr(C)]
#[derive(StableAbi)]
pub struct FfiHostContext {
    /// The binding name this instance serves (`default` unless the manifest says otherwise).
    pub binding: RString,
    /// How the provider calls actors and logs.
    pub dispatcher: FfiDispatcherBox,
    /// The most detailed log level the host records (1 error … 5 trace): the
    /// provider need not format events the host would drop.
    pub max_log_level: u8,
}

/// The host side: how a provider invokes an actor.
#[sabi_trait]
pub trait FfiDispatcher: Send + Sync + Clone + 'static {
    /// Calls `operation` on the actor with public key `actor`.
    fn invoke(&self, actor: RStr<'_>, operation: RStr<'_>, payload: RVec<u8>) -> FfiCallFuture;

    /// Writes one of the provider's log events into the host's log.
    /// `level` is 1 error … 5 trace.
    #[sabi(last_prefix_field)]
    fn log(&self, level: u8, target: RStr<'_>, message: RStr<'_>);
}

/// A shareable handle to the host's dispatcher.
pub type FfiDispatcherBox = FfiDispatcher_TO<RArc<()>>;

/// The provider side: one instance of a capability provider.
#[sabi_trait]
pub trait FfiProvider: Send + Sync + 'static {
    /// Says what the provider is.
    fn descriptor(&self) -> RResult<FfiDescriptor, RString>;

    /// An actor was bound to this provider with these values.
    fn bind_actor(&self, actor: RStr<'_>, values: FfiValues) -> RResult<(), RString>;

    /// An actor's binding was removed.
    fn remove_actor(&self, actor: RStr<'_>) -> RResult<(), RString>;

    /// An actor calls `operation` with `payload`.
    fn handle_call(&self, actor: RStr<'_>, operation: RStr<'_>, payload: RVec<u8>)
        -> FfiCallFuture;

    /// The host stops using this instance: release ports, connections, tasks.
    #[sabi(last_prefix_field)]
    fn stop(&self);
}

/// An owned provider instance.
pub type FfiProviderBox = FfiProvider_TO<RBox<()>>;

/// The root module every provider library exports.
#[repr(C)]
#[derive(StableAbi)]
#[sabi(kind(Prefix(prefix_ref = ProviderModuleRef)))]
pub struct ProviderModule {
    /// The provider SDK version the library was built with.
    pub sdk_version: RStr<'static>,

    /// Creates a provider instance.
    #[sabi(last_prefix_field)]
    pub new: extern "C" fn(FfiHostContext) -> RResult<FfiProviderBox, RString>,
}

impl RootModule for ProviderModuleRef {
    declare_root_module_statics! {ProviderModuleRef}
    const BASE_NAME: &'static str = "trellis_provider";
    const NAME: &'static str = "trellis_provider";
    /// The SDK's own version: the host refuses a library built against an
    /// incompatible one (a different major; while 0.x, an older minor).
    const VERSION_STRINGS: VersionStrings = package_version_strings!();
}

/// The version of this SDK, as recorded in every provider built with it.
pub const SDK_VERSION: &str = env!("CARGO_PKG_VERSION");

/// The first SDK version whose providers read a failure's kind in the error
/// text of [`FfiDispatcher::invoke`].
const FAILURE_KINDS_SINCE: (u32, u32, u32) = (0, 1, 1);

/// Whether a provider built with SDK `sdk_version` (as its root module
/// records it) reads failure kinds. A host gives older providers the plain
/// message, which is all they can show.
pub fn reads_failure_kinds(sdk_version: &str) -> bool {
    // "0.2.0-rc.1" and "0.1.1+build" compare as their release numbers.
    let release = sdk_version.split(['-', '+']).next().unwrap_or_default();
    let mut numbers = release.split('.').map(str::parse::<u32>);
    match (numbers.next(), numbers.next(), numbers.next()) {
        (Some(Ok(major)), Some(Ok(minor)), Some(Ok(patch))) => {
            (major, minor, patch) >= FAILURE_KINDS_SINCE
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn providers_of_sdk_0_1_1_and_later_read_failure_kinds() {
        assert!(!reads_failure_kinds("0.1.0"));
        assert!(reads_failure_kinds("0.1.1"));
        assert!(reads_failure_kinds("0.2.0"));
        assert!(reads_failure_kinds("0.2.0-rc.1"));
        assert!(reads_failure_kinds("0.1.1+build.7"));
        assert!(reads_failure_kinds(SDK_VERSION));
        assert!(!reads_failure_kinds("not a version"));
    }
}
