//! The one path from manifests to what runs.
//!
//! ```text
//!  sources                 desired state           diff                     running state
//!  Host::apply (-m) ─┐
//!                    ├──► DesiredState ──────► Diff::between ──────────► Reconciler: commit
//!  watched files  ───┘    union: an entity     (desired, Running,        prepare, then stop, start,
//!                         lives while one      file fingerprints):       swap, bind here or place
//!                         source declares it   starts, stops, swaps,     in the lattice ──► Host
//!                         (desired.rs)         rebinds (diff.rs)         (apply.rs, running.rs)
//! ```
//!
//! A host keeps one `Reconciler` (`apply.rs`): its sources (every manifest given to
//! [`crate::Host::apply`], every file of a watched folder at its last good
//! version), and what it started from them ([`running::Running`]). Every
//! change goes through one pass: the union of the sources, the difference
//! to what runs, applied in one place. The two ways to apply — a manifest
//! whole or not at all, a watched folder best effort — differ only in what a
//! failure does (see [`apply`]). A file counts as changed by one rule for
//! actors and providers alike ([`change`]); what did not change is neither
//! read again nor compiled.

pub mod apply;
pub mod change;
pub mod desired;
pub mod diff;
pub mod running;
pub mod watch;

pub(crate) use apply::Reconciler;
pub use apply::{Applied, Pass};
pub use desired::DesiredState;
