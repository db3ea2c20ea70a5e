//! `trellis claims sign|inspect`: embed and show an actor's signed claims.

use anyhow::Context;
use clap::Subcommand;
use std::path::{Path, PathBuf};
use trellis_claims::nkeys::KeyPair;
use trellis_claims::{Claims, SigningRequest};

#[derive(Debug, Subcommand)]
// Parsed once per run: the size difference between variants costs nothing.
#[allow(clippy::large_enum_variant)]
pub enum ClaimsCommand {
    /// Sign a module: embed claims naming its identity and the capabilities it may call.
    Sign {
        /// The module to sign.
        module: PathBuf,
        /// The issuing account's seed (SA…), or a file that holds it.
        #[arg(long, value_name = "SEED|FILE")]
        issuer: String,
        /// The actor's module seed (SM…), or a file that holds it. Its public key is the actor's id.
        #[arg(long, value_name = "SEED|FILE")]
        subject: String,
        /// A capability the actor may call, e.g. wascc:http_server; repeat for several.
        #[arg(long = "cap", value_name = "ID")]
        caps: Vec<String>,
        /// A friendly name.
        #[arg(long)]
        name: Option<String>,
        /// A tag; repeat for several.
        #[arg(long = "tag")]
        tags: Vec<String>,
        /// Valid for this many seconds from now (default: no expiry).
        #[arg(long, value_name = "SECONDS", allow_negative_numbers = true)]
        expires: Option<i64>,
        /// Not valid until this many seconds from now.
        #[arg(long, value_name = "SECONDS", allow_negative_numbers = true)]
        not_before: Option<i64>,
        /// Revision number.
        #[arg(long)]
        rev: Option<i32>,
        /// Human-readable version, e.g. 1.0.0.
        #[arg(long)]
        ver: Option<String>,
        /// Where to write the signed module (default: MODULE with `_s` added, e.g. echo_s.wasm).
        #[arg(short, long, value_name = "FILE")]
        output: Option<PathBuf>,
    },
    /// Show the claims embedded in a module (verifying nothing but the format).
    Inspect {
        /// The module.
        module: PathBuf,
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
}

pub fn run(command: ClaimsCommand) -> anyhow::Result<()> {
    match command {
        ClaimsCommand::Sign {
            module,
            issuer,
            subject,
            caps,
            name,
            tags,
            expires,
            not_before,
            rev,
            ver,
            output,
        } => {
            let bytes = read(&module)?;
            let issuer = key_from(&issuer).context("--issuer")?;
            let subject = key_from(&subject).context("--subject")?;
            let now = trellis_claims::now_secs();
            let request = SigningRequest {
                name,
                caps,
                tags,
                rev,
                ver,
                expires: expires.map(|s| now.saturating_add_signed(s)),
                not_before: not_before.map(|s| now.saturating_add_signed(s)),
            };
            let signed = trellis_claims::sign(&bytes, &request, &issuer, &subject)
                .with_context(|| format!("{}: cannot sign", module.display()))?;
            let output = output.unwrap_or_else(|| signed_name(&module));
            std::fs::write(&output, signed)
                .with_context(|| format!("cannot write {}", output.display()))?;
            eprintln!(
                "signed {} as actor {} → {}",
                module.display(),
                subject.public_key(),
                output.display()
            );
            Ok(())
        }
        ClaimsCommand::Inspect { module, json } => {
            let token = trellis_claims::read(&read(&module)?)
                .with_context(|| format!("{}: cannot read claims", module.display()))?;
            if json {
                println!("{}", serde_json::to_string_pretty(&token.claims)?);
            } else {
                print!("{}", table(&token.claims));
            }
            Ok(())
        }
    }
}

fn read(path: &Path) -> anyhow::Result<Vec<u8>> {
    std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))
}

/// A seed given inline, or a file that holds one: the key file of the
/// examples, or what `trellis keys gen` printed (`Seed: S…`).
fn key_from(seed_or_file: &str) -> anyhow::Result<KeyPair> {
    if seed_or_file.starts_with('S') && !Path::new(seed_or_file).exists() {
        return KeyPair::from_seed(seed_or_file)
            .map_err(|e| anyhow::anyhow!("not a valid seed: {e}"));
    }
    let text = std::fs::read_to_string(seed_or_file)
        .with_context(|| format!("{seed_or_file} is neither a seed (S…) nor a readable file"))?;
    text.lines()
        .filter(|line| !line.trim_start().starts_with('#'))
        .flat_map(str::split_whitespace)
        .filter(|word| word.starts_with('S'))
        .find_map(|word| KeyPair::from_seed(word).ok())
        .ok_or_else(|| anyhow::anyhow!("{seed_or_file} holds no valid seed (S…)"))
}

fn signed_name(module: &Path) -> PathBuf {
    let stem = module
        .file_stem()
        .and_then(|s| s.to_str())
        .unwrap_or("module");
    module.with_file_name(format!("{stem}_s.wasm"))
}

fn table(c: &Claims) -> String {
    let m = &c.metadata;
    let time = |t: Option<u64>| {
        t.map(trellis_claims::rfc3339)
            .unwrap_or_else(|| "never".into())
    };
    let rows = [
        ("Actor", c.subject.clone()),
        ("Name", m.name.clone().unwrap_or_default()),
        ("Issuer", c.issuer.clone()),
        ("Issued at", trellis_claims::rfc3339(c.issued_at)),
        ("Expires", time(c.expires)),
        (
            "Not before",
            c.not_before
                .map(trellis_claims::rfc3339)
                .unwrap_or_else(|| "immediately".into()),
        ),
        ("Capabilities", m.caps.join(", ")),
        ("Tags", m.tags.join(", ")),
        ("Version", m.ver.clone().unwrap_or_default()),
        ("Revision", m.rev.map(|r| r.to_string()).unwrap_or_default()),
        ("Code hash", m.hash.clone()),
    ];
    rows.iter().map(|(k, v)| format!("{k:<13} {v}\n")).collect()
}
