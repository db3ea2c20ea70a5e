//! The difference between the desired and the running state: what starts,
//! stops, swaps and (re)binds. Pure: it reads the files' fingerprints it is
//! given, and changes nothing.

use super::change::Fingerprint;
use super::desired::{DesiredState, ProviderKey};
use super::running::Running;
use crate::binding::BindingRecord;
use std::collections::BTreeMap;
use std::path::PathBuf;

/// The fingerprint of every desired file that could be read now.
pub type Observed = BTreeMap<PathBuf, Fingerprint>;

/// What one pass changes, in the order it applies it: bindings go first
/// (a port is free again before another binding takes it), then entities
/// stop, start and swap, then the bindings now wanted are created.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Diff {
    /// Bindings of this host no longer wanted, or whose actor or provider stops.
    pub unbind: Vec<BindingRecord>,
    /// Bindings placed in the lattice that no source declares any more.
    pub withdraw: Vec<BindingRecord>,
    /// Actors no source declares any more.
    pub stop_actors: Vec<PathBuf>,
    /// Provider instances no source declares any more.
    pub stop_providers: Vec<ProviderKey>,
    /// Actors declared and not running.
    pub start_actors: Vec<PathBuf>,
    /// Running actors whose module changed.
    pub swap_actors: Vec<PathBuf>,
    /// Provider instances declared and not running.
    pub start_providers: Vec<ProviderKey>,
    /// Running provider instances whose library changed.
    pub reload_providers: Vec<ProviderKey>,
    /// Bindings wanted and neither bound nor placed (after `unbind`).
    pub bind: Vec<BindingRecord>,
}

/// Whether a file is to be (re)loaded: its running version, if any, differs
/// and it did not fail in exactly this version before.
fn wants_load(
    observed: Option<&Fingerprint>,
    running: Option<&Fingerprint>,
    failed: Option<&Fingerprint>,
) -> bool {
    let Some(now) = observed else {
        // Unreadable: the pass reports it, and what runs stays.
        return false;
    };
    let new = running.is_none_or(|r| now.changed_since(r));
    new && failed.is_none_or(|f| now.changed_since(f))
}

impl Diff {
    /// What turns `running` into `desired`, given the files as `observed`.
    pub fn between(desired: &DesiredState, running: &Running, observed: &Observed) -> Diff {
        let mut diff = Diff::default();
        for path in &desired.actors {
            let was = running.actors.get(path).map(|a| &a.fingerprint);
            if wants_load(observed.get(path), was, running.failed.get(path)) {
                match was {
                    None => diff.start_actors.push(path.clone()),
                    Some(_) => diff.swap_actors.push(path.clone()),
                }
            }
        }
        for key in &desired.providers {
            let was = running.providers.get(key).map(|p| &p.fingerprint);
            if wants_load(observed.get(&key.0), was, running.failed.get(&key.0)) {
                match was {
                    None => diff.start_providers.push(key.clone()),
                    Some(_) => diff.reload_providers.push(key.clone()),
                }
            }
        }
        diff.stop_actors = running
            .actors
            .keys()
            .filter(|path| !desired.actors.contains(*path))
            .cloned()
            .collect();
        diff.stop_providers = running
            .providers
            .keys()
            .filter(|key| !desired.providers.contains(*key))
            .cloned()
            .collect();
        let stopping = |b: &BindingRecord| {
            diff.stop_actors
                .iter()
                .any(|path| running.actors[path].id == b.actor)
                || diff.stop_providers.iter().any(|key| {
                    running.providers[key].capability == b.capability && key.1 == b.binding
                })
        };
        diff.unbind = running
            .bound
            .iter()
            .filter(|b| !desired.bindings.contains(b) || stopping(b))
            .cloned()
            .collect();
        diff.withdraw = running
            .placed
            .iter()
            .filter(|b| !desired.bindings.contains(b))
            .cloned()
            .collect();
        diff.bind = desired
            .bindings
            .iter()
            .filter(|b| !running.serves(b) || diff.unbind.contains(b))
            .cloned()
            .collect();
        diff
    }

    /// Whether the pass has nothing to do.
    pub fn is_empty(&self) -> bool {
        *self == Diff::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::running::{RunningActor, RunningProvider};
    use std::collections::HashMap;

    const ECHO: &str = "MECHO";

    struct Files(tempfile::TempDir);

    impl Files {
        fn new() -> Files {
            Files(tempfile::tempdir().unwrap())
        }

        /// Writes `name` with `content`; returns its path and fingerprint.
        fn write(&self, name: &str, content: &str) -> (PathBuf, Fingerprint) {
            let path = self.0.path().join(name);
            std::fs::write(&path, content).unwrap();
            let fingerprint = Fingerprint::of(&path, None).unwrap();
            (path, fingerprint)
        }
    }

    fn binding(port: &str) -> BindingRecord {
        BindingRecord {
            actor: ECHO.into(),
            capability: "wascc:http_server".into(),
            binding: "default".into(),
            values: HashMap::from([("PORT".into(), port.into())]),
        }
    }

    fn provider_key(path: &std::path::Path) -> ProviderKey {
        (path.to_path_buf(), "default".into())
    }

    /// Echo, the HTTP server and a binding on `port`, all running.
    fn echo_running(files: &Files, port: &str) -> (DesiredState, Running, Observed) {
        let (actor, actor_print) = files.write("echo.wasm", "echo v1");
        let (library, library_print) = files.write("libhttp.so", "http v1");
        let desired = DesiredState {
            actors: [actor.clone()].into(),
            providers: [provider_key(&library)].into(),
            bindings: vec![binding(port)],
            ..DesiredState::default()
        };
        let running = Running {
            actors: [(
                actor.clone(),
                RunningActor {
                    id: ECHO.into(),
                    fingerprint: actor_print,
                },
            )]
            .into(),
            providers: [(
                provider_key(&library),
                RunningProvider {
                    capability: "wascc:http_server".into(),
                    fingerprint: library_print,
                },
            )]
            .into(),
            bound: vec![binding(port)],
            ..Running::default()
        };
        let observed = [(actor, actor_print), (library, library_print)].into();
        (desired, running, observed)
    }

    #[test]
    fn nothing_changes_when_what_runs_is_what_is_wanted() {
        let files = Files::new();
        let (desired, running, observed) = echo_running(&files, "8080");
        assert!(Diff::between(&desired, &running, &observed).is_empty());
    }

    #[test]
    fn everything_starts_on_an_empty_host() {
        let files = Files::new();
        let (desired, _, observed) = echo_running(&files, "8080");
        let diff = Diff::between(&desired, &Running::default(), &observed);
        assert_eq!(diff.start_actors, Vec::from_iter(desired.actors.clone()));
        assert_eq!(
            diff.start_providers,
            Vec::from_iter(desired.providers.clone())
        );
        assert_eq!(diff.bind, desired.bindings);
        assert!(diff.swap_actors.is_empty() && diff.unbind.is_empty());
    }

    #[test]
    fn everything_stops_when_nothing_is_wanted() {
        let files = Files::new();
        let (_, running, observed) = echo_running(&files, "8080");
        let diff = Diff::between(&DesiredState::default(), &running, &observed);
        assert_eq!(diff.stop_actors.len(), 1);
        assert_eq!(diff.stop_providers.len(), 1);
        assert_eq!(diff.unbind, running.bound);
        assert!(diff.bind.is_empty() && diff.start_actors.is_empty());
    }

    #[test]
    fn a_changed_module_is_swapped_and_an_unchanged_one_left_alone() {
        let files = Files::new();
        let (desired, running, _) = echo_running(&files, "8080");
        let (actor, rebuilt) = files.write("echo.wasm", "echo v2, rebuilt");
        let (library, same) = files.write("libhttp.so", "http v1");
        let observed = [(actor.clone(), rebuilt), (library, same)].into();
        let diff = Diff::between(&desired, &running, &observed);
        assert_eq!(diff.swap_actors, vec![actor]);
        assert!(diff.reload_providers.is_empty(), "same bytes: no reload");
        assert!(diff.unbind.is_empty(), "a swap keeps the bindings");
    }

    #[test]
    fn a_rebuilt_library_is_reloaded() {
        let files = Files::new();
        let (desired, running, mut observed) = echo_running(&files, "8080");
        let (library, rebuilt) = files.write("libhttp.so", "http v2");
        observed.insert(library.clone(), rebuilt);
        let diff = Diff::between(&desired, &running, &observed);
        assert_eq!(diff.reload_providers, vec![provider_key(&library)]);
    }

    #[test]
    fn new_binding_values_rebind() {
        let files = Files::new();
        let (mut desired, running, observed) = echo_running(&files, "8080");
        desired.bindings = vec![binding("8081")];
        let diff = Diff::between(&desired, &running, &observed);
        assert_eq!(diff.unbind, vec![binding("8080")]);
        assert_eq!(diff.bind, vec![binding("8081")]);
    }

    #[test]
    fn a_stopping_provider_takes_its_bindings_which_then_wait() {
        let files = Files::new();
        let (mut desired, running, observed) = echo_running(&files, "8080");
        desired.providers.clear();
        let diff = Diff::between(&desired, &running, &observed);
        assert_eq!(diff.unbind, vec![binding("8080")]);
        assert_eq!(diff.bind, vec![binding("8080")], "still wanted: it waits");
    }

    #[test]
    fn a_file_that_failed_waits_until_it_changes() {
        let files = Files::new();
        let (desired, _, observed) = echo_running(&files, "8080");
        let actor = desired.actors.first().unwrap().clone();
        let running = Running {
            failed: [(actor.clone(), observed[&actor])].into(),
            ..Running::default()
        };
        let diff = Diff::between(&desired, &running, &observed);
        assert!(!diff.start_actors.contains(&actor));
        let (_, fixed) = files.write("echo.wasm", "echo fixed");
        let observed = [(actor.clone(), fixed)].into();
        let diff = Diff::between(&desired, &running, &observed);
        assert_eq!(diff.start_actors, vec![actor]);
    }

    #[test]
    fn a_placed_binding_no_one_declares_is_withdrawn() {
        let running = Running {
            placed: vec![binding("8080")],
            ..Running::default()
        };
        let diff = Diff::between(&DesiredState::default(), &running, &Observed::new());
        assert_eq!(diff.withdraw, vec![binding("8080")]);
        assert!(diff.unbind.is_empty());
    }
}
