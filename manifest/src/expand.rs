//! `${NAME}` / `${NAME:default}` expansion of the raw manifest text.
//!
//! Expansion happens on the text, before parsing, so a reference works
//! anywhere (a key, a value, part of a path) and the YAML/JSON parser sees the
//! final document. Substituted values are inserted verbatim and are not
//! expanded again.

use std::path::Path;

use crate::ManifestError;

/// Replaces every `${NAME}` and `${NAME:default}` in `text`.
///
/// `env` answers the value of a variable, `None` meaning "not set". The
/// default is used only when the variable is not set; a variable set to the
/// empty string expands to the empty string, as in a shell's `${NAME-default}`.
/// A bare `$NAME` is left alone, and so are full-line comments (lines whose
/// first non-blank character is `#`), so that commenting out a line holding
/// an unset variable does not make the manifest fail.
pub(crate) fn expand(
    text: &str,
    source: &Path,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<String, ManifestError> {
    let mut out = String::with_capacity(text.len());
    // split_inclusive keeps the line endings, so line numbers and layout of
    // the expanded text match the original for the parser's error locations.
    for (index, line) in text.split_inclusive('\n').enumerate() {
        if line.trim_start().starts_with('#') {
            out.push_str(line);
        } else {
            let at = Location {
                source,
                line: index + 1,
            };
            expand_line(line, &at, env, &mut out)?;
        }
    }
    Ok(out)
}

/// Where a reference sits, for error messages.
struct Location<'a> {
    source: &'a Path,
    line: usize,
}

fn expand_line(
    line: &str,
    at: &Location<'_>,
    env: &dyn Fn(&str) -> Option<String>,
    out: &mut String,
) -> Result<(), ManifestError> {
    let mut rest = line;
    while let Some(start) = rest.find("${") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        // A reference never spans lines: an unclosed `${` is almost certainly
        // a typo, and reporting it beats swallowing the rest of the document.
        let end = after.find('}').ok_or_else(|| {
            malformed(at, "`${` is not closed by `}` on the same line".to_owned())
        })?;
        out.push_str(&lookup(&after[..end], at, env)?);
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    Ok(())
}

/// Resolves the inside of one `${...}`: `NAME` or `NAME:default`.
fn lookup(
    reference: &str,
    at: &Location<'_>,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<String, ManifestError> {
    // Split at the first ':' only, so defaults such as URLs keep theirs.
    let (name, default) = match reference.split_once(':') {
        Some((name, default)) => (name, Some(default)),
        None => (reference, None),
    };
    if !is_variable_name(name) {
        return Err(malformed(
            at,
            format!(
                "`${{{reference}}}` does not name an environment variable \
                 (expected letters, digits and '_', not starting with a digit)"
            ),
        ));
    }
    match (env(name), default) {
        (Some(value), _) => Ok(value),
        (None, Some(default)) => Ok(default.to_owned()),
        (None, None) => Err(ManifestError::UnknownVariable {
            path: at.source.to_path_buf(),
            name: name.to_owned(),
            line: at.line,
        }),
    }
}

/// True for portable environment variable names: `[A-Za-z_][A-Za-z0-9_]*`.
fn is_variable_name(name: &str) -> bool {
    let mut chars = name.chars();
    let first_ok = chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_');
    first_ok && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

fn malformed(at: &Location<'_>, message: String) -> ManifestError {
    ManifestError::Syntax {
        path: at.source.to_path_buf(),
        message: format!("line {}: {message}", at.line),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(name: &str) -> Option<String> {
        match name {
            "PORT" => Some("8081".to_owned()),
            "EMPTY" => Some(String::new()),
            _ => None,
        }
    }

    fn run(text: &str) -> Result<String, ManifestError> {
        expand(text, Path::new("m.yaml"), &env)
    }

    #[test]
    fn expands_set_variables_and_defaults() {
        let text = "a: ${PORT}\nb: ${HOST:localhost}\nc: ${PORT:9}-${EMPTY:x}\n";
        let expected = "a: 8081\nb: localhost\nc: 8081-\n";
        assert_eq!(run(text).expect("expands"), expected);
    }

    #[test]
    fn default_keeps_later_colons() {
        let out = run("u: ${URL:http://localhost:8080/x}").expect("expands");
        assert_eq!(out, "u: http://localhost:8080/x");
    }

    #[test]
    fn leaves_bare_dollar_and_comments_alone() {
        let text = "a: $PORT\n  # b: ${MISSING}\nc: $ {PORT}\n";
        assert_eq!(run(text).expect("expands"), text);
    }

    #[test]
    fn unknown_variable_names_variable_and_line() {
        let err = run("a: 1\nb: ${NOPE}\n").expect_err("must fail");
        match err {
            ManifestError::UnknownVariable { name, line, .. } => {
                assert_eq!((name.as_str(), line), ("NOPE", 2));
            }
            other => panic!("unexpected error: {other}"),
        }
    }

    #[test]
    fn unclosed_reference_is_reported_with_line() {
        let err = run("a: 1\n\nb: ${PORT\n").expect_err("must fail");
        let text = err.to_string();
        assert!(text.starts_with("m.yaml: line 3: "), "{text}");
        assert!(text.contains("not closed"), "{text}");
    }

    #[test]
    fn invalid_names_are_reported() {
        for bad in ["${}", "${1A}", "${A B}", "${:x}"] {
            let err = run(bad).expect_err(bad);
            assert!(
                err.to_string()
                    .contains("does not name an environment variable"),
                "{bad}: {err}"
            );
        }
    }

    #[test]
    fn substituted_values_are_not_expanded_again() {
        let env = |name: &str| (name == "A").then(|| "${B}".to_owned());
        let out = expand("${A}", Path::new("m"), &env).expect("expands");
        assert_eq!(out, "${B}");
    }
}
