//! Where the artifacts the tests load are built: provider libraries next to
//! the test binary, signed actors under `target/actors`.

use std::path::{Path, PathBuf};

/// The repository's root folder (the workspace's).
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("test-support/ lies in the workspace root")
        .to_path_buf()
}

/// The folder of the cargo profile the running test or bench was built with
/// (`target/debug` under `cargo test`, `target/release` under `cargo bench`).
pub fn profile_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("the running test binary has a path");
    // target/<profile>/deps/<binary>-<hash> → target/<profile>
    exe.parent()
        .and_then(Path::parent)
        .expect("test binaries live in target/<profile>/deps")
        .to_path_buf()
}

/// The file name this platform gives the dynamic library of `crate_name`
/// (`libtrellis_provider_httpserver.so` on Linux, `….dylib` on macOS,
/// `….dll` without the `lib` on Windows).
pub fn library_file_name(crate_name: &str) -> String {
    format!(
        "{}{crate_name}{}",
        std::env::consts::DLL_PREFIX,
        std::env::consts::DLL_SUFFIX
    )
}

/// The provider library `crate_name` (e.g. `trellis_provider_httpserver`)
/// built in this test's profile; panics when it has not been built.
pub fn library(crate_name: &str) -> PathBuf {
    must_exist(profile_dir().join(library_file_name(crate_name)))
}

/// The signed actor module `name` (e.g. `echo_s`) built by
/// `scripts/build-actors`; panics when it has not been built.
pub fn actor(name: &str) -> PathBuf {
    must_exist(
        workspace_root()
            .join("target/actors")
            .join(format!("{name}.wasm")),
    )
}

fn must_exist(path: PathBuf) -> PathBuf {
    assert!(
        path.exists(),
        "{} is missing: build the providers with `cargo build --workspace` and the actors \
         with `scripts/build-actors` (scripts/test and scripts/bench do both)",
        path.display()
    );
    path
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn library_names_follow_the_platform() {
        let name = library_file_name("trellis_provider_logging");
        if cfg!(target_os = "linux") {
            assert_eq!(name, "libtrellis_provider_logging.so");
        } else if cfg!(target_os = "macos") {
            assert_eq!(name, "libtrellis_provider_logging.dylib");
        } else if cfg!(windows) {
            assert_eq!(name, "trellis_provider_logging.dll");
        }
    }

    #[test]
    fn the_root_holds_the_workspace_manifest() {
        let manifest = std::fs::read_to_string(workspace_root().join("Cargo.toml")).unwrap();
        assert!(manifest.contains("[workspace]"));
    }

    #[test]
    #[should_panic(expected = "no_such_actor.wasm is missing: build")]
    fn a_missing_artifact_says_how_to_build_it() {
        actor("no_such_actor");
    }
}
