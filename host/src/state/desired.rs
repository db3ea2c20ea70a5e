//! The desired state: the union of every source of manifests a host has.
//!
//! A source is a manifest given to [`crate::Host::apply`] (`trellis up -m`),
//! or one file of a watched folder. An entity lives while at least one source
//! declares it: two files that both declare the echo actor keep it running
//! until the last one drops it. Computing the union reads no file and starts
//! nothing.

use crate::binding::BindingRecord;
use crate::provider::resolve_platform_path;
use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use trellis_manifest::{BindingEntry, Manifest};

/// Where a manifest came from.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum Source {
    /// The `n`th manifest given to [`crate::Host::apply`]: it stays for the
    /// host's life.
    Applied(u64),
    /// A file of the watched folder, at its last good version.
    Watched(PathBuf),
}

/// A provider library and the binding name one instance of it serves.
pub type ProviderKey = (PathBuf, String);

/// What should run, regardless of what runs now.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DesiredState {
    /// Actor module files.
    pub actors: BTreeSet<PathBuf>,
    /// Provider libraries with the binding name each serves.
    pub providers: BTreeSet<ProviderKey>,
    /// Bindings, each once (same actor, capability, name and values).
    pub bindings: Vec<BindingRecord>,
    /// Labels of all manifests (later sources win on a conflict).
    pub labels: BTreeMap<String, String>,
}

impl DesiredState {
    /// The union of `manifests`.
    pub fn union<'a>(manifests: impl IntoIterator<Item = &'a Manifest>) -> Self {
        let mut desired = DesiredState::default();
        for manifest in manifests {
            desired.add(manifest);
        }
        desired
    }

    fn add(&mut self, manifest: &Manifest) {
        self.actors
            .extend(manifest.actors.iter().map(|a| a.path.clone()));
        self.providers.extend(
            manifest
                .capabilities
                .iter()
                .map(|c| (resolve_platform_path(&c.path), c.binding_name.clone())),
        );
        for record in manifest.bindings.iter().map(binding_record) {
            if !self.bindings.contains(&record) {
                self.bindings.push(record);
            }
        }
        self.labels.extend(manifest.labels.clone());
    }
}

/// The binding a manifest entry declares.
pub fn binding_record(entry: &BindingEntry) -> BindingRecord {
    BindingRecord {
        actor: entry.actor.clone(),
        capability: entry.capability.clone(),
        binding: entry.binding.clone(),
        values: entry.values.clone().into_iter().collect(),
    }
}

/// Every source of a host, each with its manifest.
#[derive(Debug, Default)]
pub struct Sources {
    manifests: BTreeMap<Source, Manifest>,
    applied: u64,
}

impl Sources {
    /// Adds a manifest given to [`crate::Host::apply`]; returns its source.
    pub fn add_applied(&mut self, manifest: Manifest) -> Source {
        self.applied += 1;
        let source = Source::Applied(self.applied);
        self.manifests.insert(source.clone(), manifest);
        source
    }

    /// Forgets `source` (a manifest that failed to apply).
    pub fn remove(&mut self, source: &Source) {
        self.manifests.remove(source);
    }

    /// Makes `files` the watched sources, in place of the previous ones.
    pub fn set_watched(&mut self, files: &BTreeMap<PathBuf, Manifest>) {
        self.manifests
            .retain(|source, _| !matches!(source, Source::Watched(_)));
        for (path, manifest) in files {
            self.manifests
                .insert(Source::Watched(path.clone()), manifest.clone());
        }
    }

    /// The union of every source.
    pub fn desired(&self) -> DesiredState {
        DesiredState::union(self.manifests.values())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;
    use trellis_manifest::Format;

    const ECHO: &str = "MB4OLDIC3TCZ4Q4TGGOVAZC43VXFE2JQVRAXQMQFXUCREOOFEKOKZTY2";

    fn manifest(text: &str) -> Manifest {
        Manifest::parse_str(
            text,
            Path::new(trellis_manifest::INLINE_SOURCE),
            Path::new("/srv"),
            &|_| None,
            Format::Yaml,
        )
        .expect("a valid manifest")
    }

    fn watched(files: &[(&str, &str)]) -> BTreeMap<PathBuf, Manifest> {
        files
            .iter()
            .map(|(name, text)| (PathBuf::from(name), manifest(text)))
            .collect()
    }

    #[test]
    fn an_actor_two_files_declare_stays_until_the_last_drops_it() {
        let mut sources = Sources::default();
        let both = watched(&[
            ("a.yaml", "actors: [echo.wasm]"),
            ("b.yaml", "actors: [echo.wasm]"),
        ]);
        sources.set_watched(&both);
        assert_eq!(
            sources.desired().actors.len(),
            1,
            "declared twice, wanted once"
        );
        sources.set_watched(&watched(&[("b.yaml", "actors: [echo.wasm]")]));
        assert!(sources
            .desired()
            .actors
            .contains(Path::new("/srv/echo.wasm")));
        sources.set_watched(&BTreeMap::new());
        assert!(sources.desired().actors.is_empty());
    }

    #[test]
    fn applied_manifests_stay_while_the_watched_ones_change() {
        let mut sources = Sources::default();
        sources.add_applied(manifest("actors: [echo.wasm]"));
        sources.set_watched(&watched(&[("b.yaml", "actors: [chaos.wasm]")]));
        sources.set_watched(&BTreeMap::new());
        let desired = sources.desired();
        assert_eq!(desired.actors.len(), 1);
        assert!(desired.actors.contains(Path::new("/srv/echo.wasm")));
    }

    #[test]
    fn a_removed_source_takes_what_only_it_declared() {
        let mut sources = Sources::default();
        sources.add_applied(manifest("actors: [echo.wasm]"));
        let second = sources.add_applied(manifest("actors: [echo.wasm, chaos.wasm]"));
        sources.remove(&second);
        assert_eq!(sources.desired().actors.len(), 1);
    }

    #[test]
    fn labels_are_merged_and_later_sources_win() {
        let desired = DesiredState::union(&[
            manifest("labels: {zone: a, app: echo}"),
            manifest("labels: {zone: b}"),
        ]);
        assert_eq!(desired.labels["zone"], "b");
        assert_eq!(desired.labels["app"], "echo");
    }

    #[test]
    fn a_binding_declared_twice_is_wanted_once_and_other_values_are_another() {
        let binding = |port: u16| {
            format!("bindings: [{{actor: {ECHO}, capability: wascc:http_server, values: {{PORT: \"{port}\"}}}}]")
        };
        let desired = DesiredState::union(&[
            manifest(&binding(8080)),
            manifest(&binding(8080)),
            manifest(&binding(8081)),
        ]);
        assert_eq!(desired.bindings.len(), 2);
        assert!(desired.bindings[0].same_ends(&desired.bindings[1]));
    }
}
