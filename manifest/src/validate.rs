//! Turns a [`RawManifest`] into a checked [`Manifest`]: applies defaults,
//! resolves relative paths and enforces the rules listed on
//! [`Manifest::parse_str`].

use std::collections::HashMap;
use std::path::{Component, Path, PathBuf};

use crate::raw::{RawBinding, RawCapability, RawManifest};
use crate::{
    normalize_binding, ActorEntry, BindingEntry, CapabilityEntry, Manifest, ManifestError,
};

/// What validation needs to know besides the manifest itself.
pub(crate) struct Context<'a> {
    /// The manifest's source name, for error messages.
    pub source: &'a Path,
    /// The folder relative paths are looked up in first.
    pub base_dir: &'a Path,
    /// The working directory, the second place relative paths are looked up
    /// in; `None` if it is unknown.
    pub cwd: Option<&'a Path>,
}

impl Context<'_> {
    fn invalid(&self, entry: String, message: String) -> ManifestError {
        ManifestError::Invalid {
            path: self.source.to_path_buf(),
            entry,
            message,
        }
    }
}

/// Validates `raw` and builds the manifest, stopping at the first error.
pub(crate) fn build(raw: RawManifest<String>, cx: &Context<'_>) -> Result<Manifest, ManifestError> {
    let actors = enumerate(raw.actors)
        .map(|(i, path)| actor(i, &path, cx))
        .collect::<Result<Vec<_>, _>>()?;
    let capabilities = enumerate(raw.capabilities)
        .map(|(i, entry)| capability(i, entry, cx))
        .collect::<Result<Vec<_>, _>>()?;
    let bindings = enumerate(raw.bindings)
        .map(|(i, entry)| binding(i, entry, cx))
        .collect::<Result<Vec<_>, _>>()?;
    check_duplicate_bindings(&bindings, cx)?;
    Ok(Manifest {
        source: cx.source.to_path_buf(),
        labels: raw.labels.unwrap_or_default(),
        actors,
        capabilities,
        bindings,
    })
}

/// Numbers the entries of an optional (missing = empty) section.
fn enumerate<T>(section: Option<Vec<T>>) -> impl Iterator<Item = (usize, T)> {
    section.unwrap_or_default().into_iter().enumerate()
}

fn actor(index: usize, path: &str, cx: &Context<'_>) -> Result<ActorEntry, ManifestError> {
    if path.trim().is_empty() {
        let message = "the path is empty; give the path of a signed actor module (.wasm)";
        return Err(cx.invalid(format!("actors[{index}]"), message.to_owned()));
    }
    Ok(ActorEntry {
        path: resolve(path, cx),
    })
}

fn capability(
    index: usize,
    raw: RawCapability,
    cx: &Context<'_>,
) -> Result<CapabilityEntry, ManifestError> {
    let entry = format!("capabilities[{index}]");
    if raw.path.trim().is_empty() {
        let message = "the path is empty; give the path of a capability provider library";
        return Err(cx.invalid(format!("{entry}.path"), message.to_owned()));
    }
    Ok(CapabilityEntry {
        path: resolve(&raw.path, cx),
        binding_name: binding_name(format!("{entry}.binding_name"), raw.binding_name, cx)?,
    })
}

fn binding(
    index: usize,
    raw: RawBinding<String>,
    cx: &Context<'_>,
) -> Result<BindingEntry, ManifestError> {
    let entry = format!("bindings[{index}]");
    if !is_actor_key(&raw.actor) {
        return Err(cx.invalid(format!("{entry}.actor"), actor_key_message(&raw.actor)));
    }
    if !is_capability_id(&raw.capability) {
        let message = format!(
            "expected a capability id of the form namespace:name, such as \
             \"wascc:http_server\", found {:?}",
            raw.capability
        );
        return Err(cx.invalid(format!("{entry}.capability"), message));
    }
    Ok(BindingEntry {
        actor: raw.actor,
        capability: raw.capability,
        binding: binding_name(format!("{entry}.binding"), raw.binding, cx)?,
        values: raw.values.unwrap_or_default(),
    })
}

/// Applies the default binding name. An empty name means the default (as in
/// waSCC); a name with surrounding blanks is refused because it would never
/// match the name a provider or actor uses.
fn binding_name(
    entry: String,
    name: Option<String>,
    cx: &Context<'_>,
) -> Result<String, ManifestError> {
    let name = name.unwrap_or_default();
    if name.trim() != name {
        let message = format!(
            "the binding name {name:?} has leading or trailing blanks; \
             remove them, or leave the name out to use \"{}\"",
            crate::DEFAULT_BINDING
        );
        return Err(cx.invalid(entry, message));
    }
    Ok(normalize_binding(&name).to_owned())
}

/// Refuses a binding declared twice (same actor, capability, binding name and
/// values). The same actor may be bound twice with different values: the
/// lattice demo serves one actor on two HTTP ports.
fn check_duplicate_bindings(
    bindings: &[BindingEntry],
    cx: &Context<'_>,
) -> Result<(), ManifestError> {
    let mut seen = HashMap::new();
    for (index, b) in bindings.iter().enumerate() {
        let key = (&b.actor, &b.capability, &b.binding, &b.values);
        if let Some(first) = seen.insert(key, index) {
            let message = format!(
                "duplicate of bindings[{first}]: the actor is already bound to {:?} \
                 under the binding name {:?} with the same values; remove one",
                b.capability, b.binding
            );
            return Err(cx.invalid(format!("bindings[{index}]"), message));
        }
    }
    Ok(())
}

/// Length of an nkeys public key.
const PUBLIC_KEY_LEN: usize = 56;

/// True for an nkeys actor ("module") public key: 56 base32 characters
/// starting with 'M'. The checksum is left to the claims check in the host.
fn is_actor_key(key: &str) -> bool {
    key.len() == PUBLIC_KEY_LEN && key.starts_with('M') && key.bytes().all(is_base32)
}

fn is_base32(byte: u8) -> bool {
    byte.is_ascii_uppercase() || (b'2'..=b'7').contains(&byte)
}

fn actor_key_message(found: &str) -> String {
    let mut message =
        format!("expected an actor public key (56 characters starting with 'M'), found {found:?}");
    message.push_str(&actor_key_hint(found));
    message
}

/// Says which part of an almost-right key is wrong, when that can be told.
fn actor_key_hint(found: &str) -> String {
    if found.len() != PUBLIC_KEY_LEN {
        return String::new();
    }
    if let Some(bad) = found
        .chars()
        .find(|c| !c.is_ascii() || !is_base32(*c as u8))
    {
        return format!("; {bad:?} is not allowed in a key (only A-Z and 2-7 are)");
    }
    if !found.starts_with('M') {
        return "; this looks like another kind of key (actor keys start with 'M', \
                a capability provider's with 'V')"
            .to_owned();
    }
    String::new()
}

/// True for `namespace:name` with both parts non-empty and no blanks.
fn is_capability_id(id: &str) -> bool {
    let no_blanks = !id.chars().any(char::is_whitespace);
    let parts_ok = id
        .split_once(':')
        .is_some_and(|(namespace, name)| !namespace.is_empty() && !name.is_empty());
    no_blanks && parts_ok
}

/// Resolves a relative path: beside the manifest first, then in the working
/// directory (waSCC resolved against the working directory only, so existing
/// manifests written that way keep working). When neither exists the
/// manifest-relative path is kept, so the host's "cannot read" error names
/// the place a user would look first.
fn resolve(raw: &str, cx: &Context<'_>) -> PathBuf {
    let path = without_cur_dir(Path::new(raw));
    if path.is_absolute() {
        return path;
    }
    let beside = cx.base_dir.join(&path);
    if beside.exists() {
        return beside;
    }
    match cx.cwd.map(|cwd| cwd.join(&path)) {
        Some(in_cwd) if in_cwd.exists() => in_cwd,
        _ => beside,
    }
}

/// Drops `.` components so `./x.wasm` beside `examples/` reads
/// `examples/x.wasm` in messages. `..` is kept: removing it is only correct
/// without symbolic links.
fn without_cur_dir(path: &Path) -> PathBuf {
    let cleaned: PathBuf = path
        .components()
        .filter(|c| *c != Component::CurDir)
        .collect();
    if cleaned.as_os_str().is_empty() {
        PathBuf::from(".")
    } else {
        cleaned
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;

    fn context<'a>(base_dir: &'a Path, cwd: Option<&'a Path>) -> Context<'a> {
        Context {
            source: Path::new("m.yaml"),
            base_dir,
            cwd,
        }
    }

    #[test]
    fn prefers_the_manifest_folder() {
        let base = tempfile::tempdir().expect("tempdir");
        let cwd = tempfile::tempdir().expect("tempdir");
        fs::write(base.path().join("a.wasm"), b"").expect("write");
        fs::write(cwd.path().join("a.wasm"), b"").expect("write");
        let cx = context(base.path(), Some(cwd.path()));
        assert_eq!(resolve("./a.wasm", &cx), base.path().join("a.wasm"));
    }

    #[test]
    fn falls_back_to_the_working_directory() {
        let base = tempfile::tempdir().expect("tempdir");
        let cwd = tempfile::tempdir().expect("tempdir");
        fs::create_dir(cwd.path().join("sub")).expect("mkdir");
        fs::write(cwd.path().join("sub/a.wasm"), b"").expect("write");
        let cx = context(base.path(), Some(cwd.path()));
        assert_eq!(resolve("./sub/a.wasm", &cx), cwd.path().join("sub/a.wasm"));
    }

    #[test]
    fn keeps_the_manifest_relative_path_when_nothing_exists() {
        let base = tempfile::tempdir().expect("tempdir");
        let cwd = tempfile::tempdir().expect("tempdir");
        let cx = context(base.path(), Some(cwd.path()));
        assert_eq!(resolve("a.wasm", &cx), base.path().join("a.wasm"));
        assert_eq!(
            resolve("a.wasm", &context(base.path(), None)),
            base.path().join("a.wasm")
        );
    }

    #[test]
    fn absolute_paths_are_kept() {
        let cx = context(Path::new("/base"), None);
        assert_eq!(resolve("/x/./a.so", &cx), PathBuf::from("/x/a.so"));
    }

    #[test]
    fn relative_base_dirs_read_cleanly() {
        let cx = context(Path::new("examples"), None);
        assert_eq!(
            resolve("./.assets/echo.wasm", &cx),
            PathBuf::from("examples/.assets/echo.wasm")
        );
        assert_eq!(
            resolve("../p/x.so", &cx),
            PathBuf::from("examples/../p/x.so")
        );
    }

    #[test]
    fn actor_keys() {
        let good = format!("M{}", "A".repeat(55));
        assert!(is_actor_key(&good));
        assert!(!is_actor_key(&good.to_lowercase()));
        assert!(!is_actor_key(&format!("V{}", "A".repeat(55))));
        assert!(!is_actor_key(&format!("M{}1", "A".repeat(54))));
        assert!(!is_actor_key(&good[..55]));
    }

    #[test]
    fn actor_key_hints() {
        assert!(actor_key_hint("echo").is_empty());
        let lower = format!("m{}", "a".repeat(55));
        assert!(actor_key_hint(&lower).contains("'m' is not allowed"));
        let provider = format!("V{}", "A".repeat(55));
        assert!(actor_key_hint(&provider).contains("another kind of key"));
        // 'é' is two bytes, so this is 56 bytes long and gets a hint.
        let non_ascii = format!("M{}é", "A".repeat(53));
        assert!(actor_key_hint(&non_ascii).contains("'é' is not allowed"));
    }

    #[test]
    fn capability_ids() {
        for good in ["wascc:http_server", "a:b", "wascc:keyvalue:extra"] {
            assert!(is_capability_id(good), "{good}");
        }
        for bad in ["", "http_server", ":x", "x:", "wascc: x"] {
            assert!(!is_capability_id(bad), "{bad}");
        }
    }
}
