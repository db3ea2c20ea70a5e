//! Behaviour of the public API on whole manifests.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use trellis_manifest::{
    normalize_binding, Format, Manifest, ManifestError, DEFAULT_BINDING, INLINE_SOURCE,
    MAX_ALIASES, MAX_MANIFEST_BYTES, MAX_NESTING_DEPTH,
};

const ACTOR: &str = "MB4OLDIC3TCZ4Q4TGGOVAZC43VXFE2JQVRAXQMQFXUCREOOFEKOKZTY2";
const OTHER_ACTOR: &str = "MCUCZ7KMLQBRRWAREIBQKTJ64MMQ5YKEGTCRGPPV47N4R72W2SU3EYMU";

fn no_env(_: &str) -> Option<String> {
    None
}

fn parse_with(text: &str, env: &dyn Fn(&str) -> Option<String>) -> Result<Manifest, ManifestError> {
    Manifest::parse_str(
        text,
        Path::new("examples/echo.yaml"),
        Path::new("/base"),
        env,
        Format::Yaml,
    )
}

fn parse(text: &str) -> Result<Manifest, ManifestError> {
    parse_with(text, &no_env)
}

fn error(text: &str) -> String {
    parse(text)
        .expect_err("manifest must be refused")
        .to_string()
}

fn map(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn binding(actor: &str, capability: &str, name: &str) -> String {
    format!("  - actor: {actor}\n    capability: {capability}\n    binding: \"{name}\"\n")
}

#[test]
fn parses_the_documented_example() {
    let text = format!(
        r#"labels: {{sample: "Key-Value Counter"}}
actors:
  - ./examples/.assets/echo.wasm
capabilities:
  - path: ./providers/libhttpserver.so
    binding_name: default
bindings:
  - actor: "{ACTOR}"
    capability: "wascc:http_server"
    binding: default
    values: {{PORT: "8081"}}
"#
    );
    let m = parse(&text).expect("parses");
    assert_eq!(m.source, Path::new("examples/echo.yaml"));
    assert_eq!(m.labels, map(&[("sample", "Key-Value Counter")]));
    assert_eq!(m.actors.len(), 1);
    assert_eq!(
        m.actors[0].path,
        Path::new("/base/examples/.assets/echo.wasm")
    );
    assert_eq!(
        m.capabilities[0].path,
        Path::new("/base/providers/libhttpserver.so")
    );
    assert_eq!(m.capabilities[0].binding_name, "default");
    let b = &m.bindings[0];
    assert_eq!(
        (b.actor.as_str(), b.capability.as_str()),
        (ACTOR, "wascc:http_server")
    );
    assert_eq!(b.binding, "default");
    assert_eq!(b.values, map(&[("PORT", "8081")]));
}

#[test]
fn parses_the_seed_indented_form() {
    let text = "---\n    actors: []\n    capabilities:\n        - path: ./examples/.assets/libwascc_httpsrv.so\n    bindings: []\n";
    let m = parse(text).expect("parses");
    assert!(m.actors.is_empty() && m.bindings.is_empty());
    let expected = Path::new("/base/examples/.assets/libwascc_httpsrv.so");
    assert_eq!(m.capabilities[0].path, expected);
    assert_eq!(m.capabilities[0].binding_name, DEFAULT_BINDING);
}

#[test]
fn parses_seed_indented_bindings_with_values() {
    let text = format!(
        "---\n    actors:\n        - ./a.wasm\n    bindings:\n        - actor: {ACTOR}\n          capability: wascc:keyvalue\n          values:\n              URL: redis://0.0.0.0:6379/\n"
    );
    let m = parse(&text).expect("parses");
    assert_eq!(
        m.bindings[0].values,
        map(&[("URL", "redis://0.0.0.0:6379/")])
    );
}

#[test]
fn parses_json() {
    let text = format!(
        r#"{{
  "labels": {{"n": 1}},
  "actors": ["a.wasm"],
  "capabilities": [{{"path": "p.so"}}],
  "bindings": [{{"actor": "{ACTOR}", "capability": "wascc:http_server",
                 "values": {{"PORT": 8081, "TLS": false, "RATIO": 1.0, "NAME": "x"}}}}]
}}"#
    );
    let m = Manifest::parse_str(
        &text,
        Path::new("m.json"),
        Path::new("/b"),
        &no_env,
        Format::Json,
    )
    .expect("parses");
    assert_eq!(m.labels, map(&[("n", "1")]));
    assert_eq!(m.actors[0].path, Path::new("/b/a.wasm"));
    assert_eq!(m.capabilities[0].binding_name, DEFAULT_BINDING);
    let expected = map(&[
        ("PORT", "8081"),
        ("TLS", "false"),
        ("RATIO", "1.0"),
        ("NAME", "x"),
    ]);
    assert_eq!(m.bindings[0].values, expected);
}

#[test]
fn json_errors_name_the_unknown_key_and_position() {
    let text = "{\n  \"actors\": [],\n  \"binding\": []\n}";
    let err = Manifest::parse_str(
        text,
        Path::new("m.json"),
        Path::new("."),
        &no_env,
        Format::Json,
    )
    .expect_err("unknown key");
    let message = err.to_string();
    assert!(
        message.starts_with("m.json: unknown field `binding`"),
        "{message}"
    );
    assert!(message.contains("line 3"), "{message}");
}

#[test]
fn json_refuses_null_and_nested_values() {
    let text = format!(
        r#"{{"bindings": [{{"actor": "{ACTOR}", "capability": "a:b", "values": {{"X": null}}}}]}}"#
    );
    let err = Manifest::parse_str(
        &text,
        Path::new("m.json"),
        Path::new("."),
        &no_env,
        Format::Json,
    )
    .expect_err("null value");
    assert!(
        err.to_string()
            .contains("expected a string, number or boolean"),
        "{err}"
    );
}

#[test]
fn yaml_reads_json_text_too() {
    let m = parse(r#"{"actors": ["a.wasm"]}"#).expect("parses");
    assert_eq!(m.actors[0].path, Path::new("/base/a.wasm"));
}

#[test]
fn format_from_path() {
    assert_eq!(Format::from_path(Path::new("x/m.json")), Format::Json);
    assert_eq!(Format::from_path(Path::new("m.JSON")), Format::Json);
    assert_eq!(Format::from_path(Path::new("m.yaml")), Format::Yaml);
    assert_eq!(Format::from_path(Path::new("m.yml")), Format::Yaml);
    assert_eq!(Format::from_path(Path::new("manifest")), Format::Yaml);
}

#[test]
fn expands_variables_with_and_without_defaults() {
    let env = |name: &str| match name {
        "PORT" => Some("9090".to_owned()),
        "DIR" => Some("assets".to_owned()),
        _ => None,
    };
    let text = format!(
        "actors: [\"${{DIR}}/echo.wasm\"]\nbindings:\n  - actor: {ACTOR}\n    capability: wascc:http_server\n    values:\n      PORT: ${{PORT:8081}}\n      HOST: ${{HOST:0.0.0.0}}\n"
    );
    let m = parse_with(&text, &env).expect("parses");
    assert_eq!(m.actors[0].path, Path::new("/base/assets/echo.wasm"));
    let expected = map(&[("PORT", "9090"), ("HOST", "0.0.0.0")]);
    assert_eq!(m.bindings[0].values, expected);
}

#[test]
fn unknown_variable_names_the_variable_and_line() {
    let err = parse("actors:\n  - a.wasm\n  - ${ACTOR_DIR}/b.wasm\n").expect_err("unset");
    match &err {
        ManifestError::UnknownVariable { path, name, line } => {
            assert_eq!(path, Path::new("examples/echo.yaml"));
            assert_eq!((name.as_str(), *line), ("ACTOR_DIR", 3));
        }
        other => panic!("unexpected error: {other:?}"),
    }
    let message = err.to_string();
    assert!(message.starts_with("examples/echo.yaml:3: "), "{message}");
    assert!(message.contains("`ACTOR_DIR` is not set"), "{message}");
}

#[test]
fn bare_dollar_variables_are_left_alone() {
    let env = |_: &str| Some("expanded".to_owned());
    let text = format!(
        "bindings:\n  - actor: {ACTOR}\n    capability: a:b\n    values: {{CMD: \"echo $HOME\"}}\n"
    );
    let m = parse_with(&text, &env).expect("parses");
    assert_eq!(m.bindings[0].values["CMD"], "echo $HOME");
}

#[test]
fn non_string_values_become_strings() {
    let text = format!(
        "labels: {{version: 2}}\nbindings:\n  - actor: {ACTOR}\n    capability: a:b\n    values:\n      PORT: 8081\n      TLS: true\n      RATIO: 1.0\n      MODE: 0755\n      EMPTY:\n      8080: port\n"
    );
    let m = parse(&text).expect("parses");
    assert_eq!(m.labels, map(&[("version", "2")]));
    let expected = map(&[
        ("PORT", "8081"),
        ("TLS", "true"),
        ("RATIO", "1.0"),
        ("MODE", "0755"),
        ("EMPTY", ""),
        ("8080", "port"),
    ]);
    assert_eq!(m.bindings[0].values, expected);
}

#[test]
fn unknown_top_level_key_is_named() {
    let message = error("actors: []\nbinding: []\n");
    assert!(
        message.starts_with("examples/echo.yaml: unknown field `binding`"),
        "{message}"
    );
    assert!(message.contains("line 2 column 1"), "{message}");
}

#[test]
fn unknown_entry_key_is_named_with_its_entry() {
    let text = format!(
        "{}  - actor: {ACTOR}\n    capabilty: a:b\n",
        binding(ACTOR, "a:b", "x")
    );
    let message = error(&format!("bindings:\n{text}"));
    assert!(
        message.contains("bindings[1]: unknown field `capabilty`"),
        "{message}"
    );
    let message = error("capabilities:\n  - path: p.so\n    binding: x\n");
    assert!(
        message.contains("capabilities[0]: unknown field `binding`"),
        "{message}"
    );
}

#[test]
fn missing_required_key_is_named() {
    let message = error(&format!("bindings:\n  - actor: {ACTOR}\n"));
    assert!(
        message.contains("bindings[0]: missing field `capability`"),
        "{message}"
    );
}

#[test]
fn yaml_syntax_errors_carry_line_and_column() {
    let message = error("actors: [a.wasm\ncapabilities: []\n");
    assert!(message.starts_with("examples/echo.yaml: "), "{message}");
    assert!(message.contains("line 2 column"), "{message}");
}

#[test]
fn empty_actor_path_is_refused() {
    let message = error("actors:\n  - a.wasm\n  - \"\"\n");
    assert_eq!(
        message,
        "examples/echo.yaml: actors[1]: the path is empty; give the path of a signed actor module (.wasm)"
    );
    assert!(error("actors:\n  -\n").contains("actors[0]: the path is empty"));
}

#[test]
fn empty_capability_path_is_refused() {
    let message = error("capabilities:\n  - path: \" \"\n");
    assert_eq!(
        message,
        "examples/echo.yaml: capabilities[0].path: the path is empty; give the path of a capability provider library"
    );
}

#[test]
fn malformed_actor_key_is_refused() {
    let message = error("bindings:\n  - actor: echo\n    capability: wascc:http_server\n");
    assert_eq!(
        message,
        "examples/echo.yaml: bindings[0].actor: expected an actor public key (56 characters starting with 'M'), found \"echo\""
    );
    let lower = ACTOR.to_lowercase();
    let message = error(&format!("bindings:\n{}", binding(&lower, "a:b", "default")));
    assert!(message.contains("'m' is not allowed in a key"), "{message}");
}

#[test]
fn invalid_entry_fields_are_reported_as_invalid() {
    let err = parse("bindings:\n  - actor: echo\n    capability: a:b\n").expect_err("bad key");
    match err {
        ManifestError::Invalid { path, entry, .. } => {
            assert_eq!(path, Path::new("examples/echo.yaml"));
            assert_eq!(entry, "bindings[0].actor");
        }
        other => panic!("unexpected error: {other:?}"),
    }
}

#[test]
fn malformed_capability_id_is_refused() {
    for bad in ["http_server", "wascc:", ":http", ""] {
        let message = error(&format!(
            "bindings:\n  - actor: {ACTOR}\n    capability: \"{bad}\"\n"
        ));
        let expected = "examples/echo.yaml: bindings[0].capability: expected a capability id of the form namespace:name, such as \"wascc:http_server\", found ";
        assert!(message.starts_with(expected), "{bad}: {message}");
    }
}

#[test]
fn blank_binding_names_are_refused() {
    let message = error(&format!("bindings:\n{}", binding(ACTOR, "a:b", " ")));
    assert!(
        message.starts_with("examples/echo.yaml: bindings[0].binding: the binding name \" \" has leading or trailing blanks"),
        "{message}"
    );
    let message = error("capabilities:\n  - path: p.so\n    binding_name: \"x \"\n");
    assert!(
        message.contains("capabilities[0].binding_name: the binding name \"x \""),
        "{message}"
    );
}

#[test]
fn duplicate_bindings_are_refused() {
    let text = format!(
        "bindings:\n{}{}{}{}",
        binding(ACTOR, "wascc:http_server", "default"),
        binding(ACTOR, "wascc:http_server", "admin"),
        binding(OTHER_ACTOR, "wascc:http_server", "default"),
        // An empty name is the default name, so this repeats bindings[0].
        binding(ACTOR, "wascc:http_server", ""),
    );
    let message = error(&text);
    assert!(
        message.starts_with("examples/echo.yaml: bindings[3]: duplicate of bindings[0]"),
        "{message}"
    );
}

#[test]
fn one_actor_may_be_bound_twice_with_different_values() {
    // The seed's lattice demo binds the echo actor on two HTTP ports.
    let text = format!(
        "bindings:\n  - actor: {ACTOR}\n    capability: wascc:http_server\n    values: {{PORT: \"8081\"}}\n  - actor: {ACTOR}\n    capability: wascc:http_server\n    values: {{PORT: \"8082\"}}\n"
    );
    let manifest = Manifest::parse_str(
        &text,
        Path::new("m.yaml"),
        Path::new("."),
        &|_| None,
        Format::Yaml,
    )
    .expect("two bindings with different values");
    assert_eq!(manifest.bindings.len(), 2);
}

#[test]
fn empty_binding_names_mean_default() {
    let text = format!(
        "capabilities:\n  - path: p.so\n    binding_name: \"\"\n  - path: q.so\n    binding_name:\nbindings:\n{}",
        binding(ACTOR, "a:b", "")
    );
    let m = parse(&text).expect("parses");
    assert_eq!(m.capabilities[0].binding_name, "default");
    assert_eq!(m.capabilities[1].binding_name, "default");
    assert_eq!(m.bindings[0].binding, "default");
    assert_eq!(normalize_binding(""), DEFAULT_BINDING);
    assert_eq!(normalize_binding("admin"), "admin");
}

#[test]
fn missing_or_null_sections_are_empty() {
    for text in [
        "",
        "# nothing yet\n",
        "---\n",
        "{}",
        "labels:\nactors:\ncapabilities:\nbindings:\n",
    ] {
        let m = parse(text).unwrap_or_else(|e| panic!("{text:?}: {e}"));
        assert!(m.labels.is_empty(), "{text:?}");
        assert!(m.actors.is_empty() && m.capabilities.is_empty() && m.bindings.is_empty());
    }
    let m = parse(&format!(
        "bindings:\n  - actor: {ACTOR}\n    capability: a:b\n"
    ))
    .expect("parses");
    assert!(m.bindings[0].values.is_empty());
}

#[test]
fn inline_source_is_used_in_errors() {
    let err = Manifest::parse_str(
        "actors: [\"\"]",
        Path::new(INLINE_SOURCE),
        Path::new("."),
        &no_env,
        Format::Yaml,
    )
    .expect_err("empty path");
    assert!(
        err.to_string().starts_with("<inline>: actors[0]: "),
        "{err}"
    );
}

/// Writes `files` (empty) and the manifest `name` into a fresh directory.
fn project(name: &str, manifest: &str, files: &[&str]) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().expect("tempdir");
    for file in files {
        let path = dir.path().join(file);
        fs::create_dir_all(path.parent().expect("has parent")).expect("mkdir");
        fs::write(path, b"").expect("write");
    }
    let manifest_path = dir.path().join(name);
    fs::write(&manifest_path, manifest).expect("write manifest");
    (dir, manifest_path)
}

#[test]
fn load_resolves_paths_beside_the_manifest() {
    let text = "actors: [./actors/echo.wasm, missing.wasm]\ncapabilities:\n  - path: libhttp.so\n";
    let (dir, path) = project("host.yaml", text, &["actors/echo.wasm", "libhttp.so"]);
    let m = Manifest::load(&path).expect("loads");
    assert_eq!(m.source, path);
    assert_eq!(m.actors[0].path, dir.path().join("actors/echo.wasm"));
    // Exists nowhere: kept relative to the manifest so the error names it.
    assert_eq!(m.actors[1].path, dir.path().join("missing.wasm"));
    assert_eq!(m.capabilities[0].path, dir.path().join("libhttp.so"));
    assert_eq!(
        m.missing_files(),
        vec![dir.path().join("missing.wasm").as_path()]
    );
}

#[test]
fn load_keeps_absolute_paths() {
    let other = tempfile::tempdir().expect("tempdir");
    let actor = other.path().join("a.wasm");
    fs::write(&actor, b"").expect("write");
    let text = format!("actors: [\"{}\"]\n", actor.display());
    let (_dir, path) = project("m.yaml", &text, &[]);
    let m = Manifest::load(&path).expect("loads");
    assert_eq!(m.actors[0].path, actor);
    assert!(m.missing_files().is_empty());
}

#[test]
fn load_picks_json_by_extension_and_uses_injected_env() {
    let text = r#"{"actors": ["${NAME:x}.wasm"]}"#;
    let (dir, path) = project("m.json", text, &[]);
    let env = |name: &str| (name == "NAME").then(|| "echo".to_owned());
    let m = Manifest::load_with_env(&path, &env).expect("loads");
    assert_eq!(m.actors[0].path, dir.path().join("echo.wasm"));
}

#[test]
fn load_reports_unreadable_files() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("absent.yaml");
    let err = Manifest::load(&path).expect_err("no file");
    assert!(matches!(err, ManifestError::Read { .. }), "{err:?}");
    let message = err.to_string();
    assert!(
        message.starts_with(&format!("{}: cannot read the manifest: ", path.display())),
        "{message}"
    );
    // The cause is in the message, not repeated as a source.
    assert!(std::error::Error::source(&err).is_none());
}

// --- limits ---

/// How long refusing a hostile manifest may take: the parser would spend
/// seconds to minutes (or gigabytes) on each of them.
const FAST: Duration = Duration::from_millis(500);

/// A valid manifest padded with a comment to exactly `size` bytes.
fn manifest_of_size(size: usize) -> String {
    let mut text = "actors: [a.wasm]\n#".to_owned();
    text += &"x".repeat(size - text.len() - 1);
    text.push('\n');
    assert_eq!(text.len(), size);
    text
}

/// Parses `text` and returns the error and how long the refusal took.
fn refuse_timed(text: &str, format: Format) -> (ManifestError, Duration) {
    let started = Instant::now();
    let source = Path::new("examples/echo.yaml");
    let result = Manifest::parse_str(text, source, Path::new("/base"), &no_env, format);
    let elapsed = started.elapsed();
    eprintln!("refused {} bytes in {elapsed:?}", text.len());
    (result.expect_err("manifest must be refused"), elapsed)
}

fn assert_too_complex(err: &ManifestError, what: &str) {
    assert!(matches!(err, ManifestError::TooComplex { .. }), "{err:?}");
    let message = err.to_string();
    assert!(message.starts_with("examples/echo.yaml:"), "{message}");
    assert!(message.contains(what), "{message}");
}

#[test]
fn text_up_to_the_size_limit_parses() {
    let m = parse(&manifest_of_size(MAX_MANIFEST_BYTES)).expect("at the limit");
    assert_eq!(m.actors.len(), 1);
}

#[test]
fn text_over_the_size_limit_is_refused() {
    let err = parse(&manifest_of_size(MAX_MANIFEST_BYTES + 1)).expect_err("over the limit");
    assert!(matches!(err, ManifestError::TooLarge { .. }), "{err:?}");
    assert_eq!(
        err.to_string(),
        "examples/echo.yaml: the manifest has 1048577 bytes, more than the limit of 1048576 bytes"
    );
}

#[test]
fn files_over_the_size_limit_are_refused_by_size() {
    let (_dir, path) = project("m.yaml", &manifest_of_size(MAX_MANIFEST_BYTES), &[]);
    Manifest::load(&path).expect("a file at the limit loads");
    let (_dir, path) = project("m.yaml", &manifest_of_size(MAX_MANIFEST_BYTES + 10), &[]);
    let err = Manifest::load(&path).expect_err("over the limit");
    let expected = format!(
        "{}: the manifest has 1048586 bytes, more than the limit of 1048576 bytes",
        path.display()
    );
    assert_eq!(err.to_string(), expected);
}

/// A file whose size on disk says nothing (a device, a pipe, a file still
/// growing) is read no further than one byte past the limit.
#[cfg(target_os = "linux")]
#[test]
fn endless_files_are_read_only_up_to_the_limit() {
    let err = Manifest::load(Path::new("/dev/zero")).expect_err("endless");
    match err {
        ManifestError::TooLarge { path, size, limit } => {
            assert_eq!(path, Path::new("/dev/zero"));
            assert_eq!((size, limit), (1048577, 1048576));
        }
        other => panic!("unexpected error: {other:?}"),
    }
}

#[test]
fn a_manifest_with_an_anchor_still_parses() {
    let text = format!(
        "bindings:\n  - actor: {ACTOR}\n    capability: wascc:keyvalue\n    values: &redis {{URL: \"redis://db:6379/\", POOL: 4}}\n  - actor: {OTHER_ACTOR}\n    capability: wascc:keyvalue\n    values: *redis\n"
    );
    let m = parse(&text).expect("parses");
    let expected = map(&[("URL", "redis://db:6379/"), ("POOL", "4")]);
    assert_eq!(m.bindings[0].values, expected);
    assert_eq!(m.bindings[1].values, expected);
}

/// The classic "billion laughs": every level repeats the one before it
/// nine times, 9^9 copies in all.
#[test]
fn billion_laughs_are_refused_fast() {
    let mut text = "labels:\n  l0: &l0 lol\n".to_owned();
    for level in 1..=9 {
        let before = vec![format!("*l{}", level - 1); 9].join(", ");
        text += &format!("  l{level}: &l{level} [{before}]\n");
    }
    let (err, elapsed) = refuse_timed(&text, Format::Yaml);
    // Refused by what the aliases repeat before their number runs out.
    assert_too_complex(&err, "aliases (`*name`) up to here may repeat");
    assert!(elapsed < FAST, "{elapsed:?}");
}

/// Many aliases of a tiny anchor repeat little, but each costs the decoder
/// a step.
#[test]
fn too_many_aliases_are_refused_fast() {
    let aliases = vec!["*a"; 300_000].join(",");
    let text = format!("labels: {{a: &a x}}\nactors: [{aliases}]\n");
    let (err, elapsed) = refuse_timed(&text, Format::Yaml);
    assert_too_complex(&err, &format!("more than {MAX_ALIASES} aliases"));
    assert!(elapsed < FAST, "{elapsed:?}");
}

/// Few aliases, each of one large scalar: a 1 MiB file that would decode
/// to tens of megabytes.
#[test]
fn aliases_of_a_large_scalar_are_refused_fast() {
    let big = "x".repeat(MAX_MANIFEST_BYTES - 4096);
    let aliases = vec!["*big"; 60].join(", ");
    let text = format!("labels: {{big: &big {big}}}\nactors: [{aliases}]\n");
    let (err, elapsed) = refuse_timed(&text, Format::Yaml);
    assert_too_complex(&err, "the aliases (`*name`) up to here may repeat");
    assert!(elapsed < FAST, "{elapsed:?}");
}

/// Nested anchors that stay under the alias count: 3 levels of 20.
#[test]
fn few_nested_aliases_repeating_much_are_refused() {
    let big = "x".repeat(10_000);
    let twenty = |name: &str| vec![format!("*{name}"); 20].join(", ");
    let text = format!(
        "labels: {{big: &big {big}}}\nbindings:\n  - &b {{actor: a, capability: b:c, values: &v {{{}}}}}\n{}",
        (0..20).map(|i| format!("k{i}: *big")).collect::<Vec<_>>().join(", "),
        twenty("b").replace("*b", "  - *b\n").replace(", ", ""),
    );
    let (err, elapsed) = refuse_timed(&text, Format::Yaml);
    assert_too_complex(&err, "may repeat");
    assert!(elapsed < FAST, "{elapsed:?}");
}

/// 200 KB of nesting in shapes the parser takes quadratic time over
/// (tens of seconds to minutes).
#[test]
fn deep_flow_nesting_is_refused_fast() {
    let texts = [
        (format!("actors: {}", "[".repeat(200_000)), Format::Yaml),
        (format!("labels: {}", "{a: ".repeat(50_000)), Format::Yaml),
        (
            format!("{{\"actors\": {}", "[\"]\", ".repeat(40_000)),
            Format::Json,
        ),
    ];
    for (text, format) in texts {
        let (err, elapsed) = refuse_timed(&text, format);
        let limit = format!("nested 33 deep here, more than the limit of {MAX_NESTING_DEPTH}");
        assert_too_complex(&err, &limit);
        assert_eq!(err.to_string().split(':').nth(1), Some("1"), "{err}");
        assert!(elapsed < FAST, "{elapsed:?}");
    }
}

#[test]
fn deep_block_nesting_is_refused() {
    let text = "- ".repeat(100_000);
    let (err, elapsed) = refuse_timed(&text, Format::Yaml);
    assert_too_complex(&err, "nested 33 deep");
    assert!(elapsed < FAST, "{elapsed:?}");
}

#[test]
fn the_example_manifests_are_within_the_limits() {
    let examples = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples");
    let lattice = examples.join("lattice");
    let mut checked = 0;
    for dir in [&examples, &lattice] {
        for entry in fs::read_dir(dir).expect("examples") {
            let path = entry.expect("entry").path();
            if path.extension().is_some_and(|e| e == "yaml") {
                // Unset variables may fail a manifest; the limits must not.
                let loaded = Manifest::load_with_env(&path, &no_env);
                assert!(
                    !matches!(
                        loaded,
                        Err(ManifestError::TooLarge { .. } | ManifestError::TooComplex { .. })
                    ),
                    "{}: {loaded:?}",
                    path.display()
                );
                checked += 1;
            }
        }
    }
    assert!(checked >= 5, "{checked}");
}
