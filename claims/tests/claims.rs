//! End-to-end tests of signing and verifying real (hand-assembled) modules.

use data_encoding::BASE64URL_NOPAD;
use trellis_claims::nkeys::KeyPair;
use trellis_claims::{
    code_hash, read, sign, verify, verify_with, ClaimsError, Policy, SigningRequest,
};

/// A module with one function `() -> ()` whose body is `i32.const 7; drop`,
/// plus a `name`-like custom section that must survive signing.
const MODULE: &[u8] = &[
    0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00, // preamble
    0x01, 0x04, 0x01, 0x60, 0x00, 0x00, // type section: one func type () -> ()
    0x03, 0x02, 0x01, 0x00, // function section: func 0 has type 0
    0x0a, 0x07, 0x01, 0x05, 0x00, 0x41, 0x07, 0x1a, 0x0b, // code: i32.const 7; drop; end
    0x00, 0x06, 0x04, b'n', b'o', b't', b'e', b'!', // custom section "note" = "!"
];

/// Offset of the `7` immediate in [`MODULE`]'s function body.
const CODE_BYTE: usize = 25;

const NOW: u64 = 1_700_000_000;

fn request() -> SigningRequest {
    SigningRequest {
        name: Some("Echo".into()),
        caps: vec!["wascc:http_server".into(), "wascc:logging".into()],
        tags: vec!["demo".into()],
        rev: Some(3),
        ver: Some("0.3.0".into()),
        ..Default::default()
    }
}

fn signed_with(request: &SigningRequest) -> (Vec<u8>, KeyPair, KeyPair) {
    let issuer = KeyPair::new_account();
    let actor = KeyPair::new_module();
    let signed = sign(MODULE, request, &issuer, &actor).expect("signs");
    (signed, issuer, actor)
}

/// Encodes a custom section by hand, independently of the crate's encoder.
fn custom_section(name: &str, data: &[u8]) -> Vec<u8> {
    let mut contents = vec![u8::try_from(name.len()).expect("short name")];
    contents.extend_from_slice(name.as_bytes());
    contents.extend_from_slice(data);
    let mut section = vec![0x00];
    let mut size = contents.len();
    loop {
        let low = (size & 0x7f) as u8;
        size >>= 7;
        if size == 0 {
            section.push(low);
            break;
        }
        section.push(low | 0x80);
    }
    section.extend_from_slice(&contents);
    section
}

/// [`MODULE`] with `token` in a `jwt` section at the end.
fn module_with_token(token: &str) -> Vec<u8> {
    let mut module = MODULE.to_vec();
    module.extend(custom_section("jwt", token.as_bytes()));
    module
}

/// Builds a 2020-style token from raw payload JSON, signed by `signer`.
fn token_from_json(payload: &str, signer: &KeyPair) -> String {
    let header = BASE64URL_NOPAD.encode(br#"{"typ":"jwt","alg":"Ed25519"}"#);
    let signed = format!("{header}.{}", BASE64URL_NOPAD.encode(payload.as_bytes()));
    let signature = signer.sign(signed.as_bytes()).expect("signs");
    format!("{signed}.{}", BASE64URL_NOPAD.encode(&signature))
}

fn count_jwt_sections(module: &[u8]) -> usize {
    wasmparser::Parser::new(0)
        .parse_all(module)
        .filter(|payload| {
            matches!(payload, Ok(wasmparser::Payload::CustomSection(c)) if c.name() == "jwt")
        })
        .count()
}

#[test]
fn sign_then_verify_roundtrips() {
    let (signed, issuer, actor) = signed_with(&request());
    let claims = verify(&signed, NOW).expect("verifies");

    assert_eq!(claims.issuer, issuer.public_key());
    assert_eq!(claims.subject, actor.public_key());
    assert_eq!(claims.metadata.name.as_deref(), Some("Echo"));
    assert_eq!(claims.metadata.caps, ["wascc:http_server", "wascc:logging"]);
    assert_eq!(claims.metadata.tags, ["demo"]);
    assert_eq!(claims.metadata.rev, Some(3));
    assert_eq!(claims.metadata.ver.as_deref(), Some("0.3.0"));
    assert!(!claims.metadata.provider);
    assert_eq!(claims.metadata.hash, code_hash(MODULE).expect("hashes"));
    assert_eq!(claims.id.len(), 24);
    assert!(claims.issued_at > 1_577_836_800);
    // The original module is kept byte for byte in front of the token.
    assert_eq!(&signed[..MODULE.len()], MODULE);
    assert_eq!(count_jwt_sections(&signed), 1);
    // Both the fixture and the signed module are valid wasm, not just framed.
    wasmparser::validate(MODULE).expect("fixture is valid wasm");
    wasmparser::validate(&signed).expect("signed module is valid wasm");
}

#[test]
fn token_ids_differ_between_signings() {
    let (first, ..) = signed_with(&request());
    let (second, ..) = signed_with(&request());
    let id = |module: &[u8]| read(module).expect("reads").claims.id;
    assert_ne!(id(&first), id(&second));
}

#[test]
fn token_header_is_the_2020_one() {
    let (signed, ..) = signed_with(&request());
    let raw = read(&signed).expect("reads").raw;
    let header = raw.split('.').next().expect("has a header");
    let header = BASE64URL_NOPAD
        .decode(header.as_bytes())
        .expect("base64url");
    let header: serde_json::Value = serde_json::from_slice(&header).expect("json");
    assert_eq!(header, serde_json::json!({"typ": "jwt", "alg": "Ed25519"}));
}

#[test]
fn unsigned_module_has_no_token() {
    assert_eq!(verify(MODULE, NOW), Err(ClaimsError::NoToken));
    assert_eq!(read(MODULE), Err(ClaimsError::NoToken));
    let message = ClaimsError::NoToken.to_string();
    assert!(message.contains("trellis claims sign"), "{message}");
}

#[test]
fn changed_code_is_a_hash_mismatch() {
    let (mut signed, ..) = signed_with(&request());
    signed[CODE_BYTE] = 0x08; // i32.const 7 -> i32.const 8
    match verify(&signed, NOW) {
        Err(ClaimsError::HashMismatch { expected, actual }) => {
            assert_eq!(expected, code_hash(MODULE).expect("hashes"));
            assert_eq!(actual, code_hash(&signed).expect("hashes"));
            assert_ne!(expected, actual);
        }
        other => panic!("expected HashMismatch, got {other:?}"),
    }
}

#[test]
fn token_signed_by_another_key_is_refused() {
    let (signed, issuer, _) = signed_with(&request());
    let raw = read(&signed).expect("reads").raw;
    let (header_and_payload, _) = raw.rsplit_once('.').expect("three parts");
    // Keep `iss` naming the real issuer, but sign with an impostor.
    let impostor = KeyPair::new_account();
    let signature = impostor.sign(header_and_payload.as_bytes()).expect("signs");
    let forged = format!(
        "{header_and_payload}.{}",
        BASE64URL_NOPAD.encode(&signature)
    );

    let error = verify(&module_with_token(&forged), NOW).expect_err("refused");
    assert_eq!(
        error,
        ClaimsError::BadSignature {
            issuer: issuer.public_key()
        }
    );
    assert!(error.to_string().contains(&issuer.public_key()));
}

#[test]
fn corrupted_signature_is_refused() {
    let (signed, ..) = signed_with(&request());
    let raw = read(&signed).expect("reads").raw;
    let (head, signature) = raw.rsplit_once('.').expect("three parts");
    let mut bytes = BASE64URL_NOPAD
        .decode(signature.as_bytes())
        .expect("base64url");
    bytes[0] ^= 0x01;
    let corrupted = format!("{head}.{}", BASE64URL_NOPAD.encode(&bytes));
    assert!(matches!(
        verify(&module_with_token(&corrupted), NOW),
        Err(ClaimsError::BadSignature { .. })
    ));
}

#[test]
fn edited_payload_is_refused() {
    let (signed, ..) = signed_with(&request());
    let raw = read(&signed).expect("reads").raw;
    let parts: Vec<&str> = raw.split('.').collect();
    let payload = BASE64URL_NOPAD
        .decode(parts[1].as_bytes())
        .expect("base64url");
    let payload = String::from_utf8(payload)
        .expect("utf8")
        .replace("wascc:logging", "wascc:keyvalue");
    let edited = format!(
        "{}.{}.{}",
        parts[0],
        BASE64URL_NOPAD.encode(payload.as_bytes()),
        parts[2]
    );
    assert!(matches!(
        verify(&module_with_token(&edited), NOW),
        Err(ClaimsError::BadSignature { .. })
    ));
}

#[test]
fn expired_token_is_refused() {
    let expires = NOW - 60;
    let (signed, ..) = signed_with(&SigningRequest {
        expires: Some(expires),
        ..request()
    });
    let error = verify(&signed, NOW).expect_err("expired");
    assert_eq!(error, ClaimsError::Expired { at: expires });
    assert!(
        error.to_string().contains("2023-11-14 22:12:20 UTC"),
        "{error}"
    );
    // Valid just before expiry; `read` never checks time.
    assert!(verify(&signed, expires - 1).is_ok());
    assert!(read(&signed).is_ok());
}

#[test]
fn not_yet_valid_token_is_refused() {
    let not_before = NOW + 3600;
    let (signed, ..) = signed_with(&SigningRequest {
        not_before: Some(not_before),
        ..request()
    });
    assert_eq!(
        verify(&signed, NOW),
        Err(ClaimsError::NotYetValid { at: not_before })
    );
    assert!(verify(&signed, not_before).is_ok());
}

#[test]
fn issuer_allow_list_is_enforced() {
    let (signed, issuer, _) = signed_with(&request());
    let other = KeyPair::new_account().public_key();

    let refusing = Policy {
        now: NOW,
        allowed_issuers: Some(vec![other.clone()]),
    };
    assert_eq!(
        verify_with(&signed, &refusing),
        Err(ClaimsError::IssuerNotAllowed(issuer.public_key()))
    );

    let accepting = Policy {
        now: NOW,
        allowed_issuers: Some(vec![other, issuer.public_key()]),
    };
    assert!(verify_with(&signed, &accepting).is_ok());
}

#[test]
fn signing_twice_replaces_the_token() {
    let (once, ..) = signed_with(&request());
    let issuer = KeyPair::new_account();
    let actor = KeyPair::new_module();
    let twice_request = SigningRequest {
        name: Some("Renamed".into()),
        ..request()
    };
    let twice = sign(&once, &twice_request, &issuer, &actor).expect("re-signs");

    assert_eq!(count_jwt_sections(&twice), 1);
    assert_eq!(&twice[..MODULE.len()], MODULE);
    let claims = verify(&twice, NOW).expect("verifies");
    assert_eq!(claims.subject, actor.public_key());
    assert_eq!(claims.metadata.name.as_deref(), Some("Renamed"));
    assert_eq!(claims.metadata.hash, code_hash(MODULE).expect("hashes"));
}

#[test]
fn code_hash_ignores_the_token() {
    let before = code_hash(MODULE).expect("hashes");
    let (signed, ..) = signed_with(&request());
    assert_eq!(code_hash(&signed).expect("hashes"), before);
    assert_eq!(before.len(), 64);
    assert!(before
        .chars()
        .all(|c| c.is_ascii_digit() || c.is_ascii_uppercase()));
}

#[test]
fn non_wasm_bytes_are_refused() {
    let issuer = KeyPair::new_account();
    let actor = KeyPair::new_module();
    for bytes in [&b""[..], b"not wasm at all", b"\0asm\x01\0\0\0\x01\x05"] {
        assert_eq!(verify(bytes, NOW), Err(ClaimsError::NotWasm));
        assert_eq!(read(bytes), Err(ClaimsError::NotWasm));
        assert_eq!(code_hash(bytes), Err(ClaimsError::NotWasm));
        assert_eq!(
            sign(bytes, &request(), &issuer, &actor),
            Err(ClaimsError::NotWasm)
        );
    }
}

#[test]
fn wrong_key_kinds_are_refused_on_sign() {
    let account = KeyPair::new_account();
    let module = KeyPair::new_module();
    let server = KeyPair::new_server();

    assert_eq!(
        sign(MODULE, &request(), &module, &module),
        Err(ClaimsError::NotAnAccountKey(module.public_key()))
    );
    assert_eq!(
        sign(MODULE, &request(), &server, &module),
        Err(ClaimsError::NotAnAccountKey(server.public_key()))
    );
    assert_eq!(
        sign(MODULE, &request(), &account, &account),
        Err(ClaimsError::NotAModuleKey(account.public_key()))
    );
    // An issuer without its seed cannot sign.
    let public_only = KeyPair::from_public_key(&account.public_key()).expect("parses");
    assert!(matches!(
        sign(MODULE, &request(), &public_only, &module),
        Err(ClaimsError::Key(_))
    ));
    // The subject only needs its public half.
    let actor_public = KeyPair::from_public_key(&module.public_key()).expect("parses");
    assert!(sign(MODULE, &request(), &account, &actor_public).is_ok());
}

#[test]
fn wrong_key_kinds_in_a_token_are_refused() {
    let issuer = KeyPair::new_account();
    let hash = code_hash(MODULE).expect("hashes");
    let payload = |iss: &str, sub: &str| {
        format!(
            r#"{{"jti":"x","iat":1,"iss":"{iss}","sub":"{sub}","wascap":{{"hash":"{hash}","prov":false}}}}"#
        )
    };
    // Subject is an account key, not a module key.
    let token = token_from_json(
        &payload(&issuer.public_key(), &issuer.public_key()),
        &issuer,
    );
    assert_eq!(
        verify(&module_with_token(&token), NOW),
        Err(ClaimsError::NotAModuleKey(issuer.public_key()))
    );
    // Issuer is a module key, even though it signed the token itself.
    let module_key = KeyPair::new_module();
    let token = token_from_json(
        &payload(&module_key.public_key(), &module_key.public_key()),
        &module_key,
    );
    assert_eq!(
        verify(&module_with_token(&token), NOW),
        Err(ClaimsError::NotAnAccountKey(module_key.public_key()))
    );
}

#[test]
fn other_algorithms_are_refused() {
    let issuer = KeyPair::new_account();
    let header = BASE64URL_NOPAD.encode(br#"{"typ":"JWT","alg":"HS256"}"#);
    let payload = BASE64URL_NOPAD.encode(b"{}");
    let token = format!("{header}.{payload}.AAAA");
    // The payload is not even valid claims: refuse on what we know first.
    assert!(matches!(
        verify(&module_with_token(&token), NOW),
        Err(ClaimsError::MalformedToken(_))
    ));

    let claims = format!(
        r#"{{"jti":"x","iat":1,"iss":"{}","sub":"M","wascap":{{"hash":"H"}}}}"#,
        issuer.public_key()
    );
    let token = format!(
        "{header}.{}.AAAA",
        BASE64URL_NOPAD.encode(claims.as_bytes())
    );
    assert_eq!(
        verify(&module_with_token(&token), NOW),
        Err(ClaimsError::UnsupportedAlgorithm("HS256".into()))
    );
}

#[test]
fn malformed_tokens_are_refused() {
    for token in ["", "abc", "a.b", "!!.??.**", "e30.e30.AAAA"] {
        assert!(
            matches!(
                verify(&module_with_token(token), NOW),
                Err(ClaimsError::MalformedToken(_))
            ),
            "token {token:?}"
        );
    }
}

#[test]
fn decodes_a_2020_layout_token() {
    let issuer = KeyPair::new_account();
    let actor = KeyPair::new_module();
    let hash = code_hash(MODULE).expect("hashes");
    // Field order, optional-field omission and the extra unknown field are
    // as a 2020 waSCC signer could have written them.
    let payload = format!(
        r#"{{"jti":"Yc8PmpnqbvcaVoGOwSlafN","iat":1590969600,"iss":"{}","sub":"{}","wascap":{{"name":"Echo","hash":"{hash}","tags":[],"caps":["wascc:http_server"],"prov":false}},"extra":1}}"#,
        issuer.public_key(),
        actor.public_key()
    );
    let module = module_with_token(&token_from_json(&payload, &issuer));

    let claims = verify(&module, NOW).expect("verifies");
    assert_eq!(claims.id, "Yc8PmpnqbvcaVoGOwSlafN");
    assert_eq!(claims.issued_at, 1_590_969_600);
    assert_eq!(claims.issuer, issuer.public_key());
    assert_eq!(claims.subject, actor.public_key());
    assert_eq!(claims.expires, None);
    assert_eq!(claims.not_before, None);
    assert_eq!(claims.metadata.name.as_deref(), Some("Echo"));
    assert_eq!(claims.metadata.hash, hash);
    assert!(claims.metadata.tags.is_empty());
    assert_eq!(claims.metadata.rev, None);
    assert_eq!(claims.metadata.ver, None);
    assert!(!claims.metadata.provider);
    assert!(claims.allows("wascc:http_server"));
    assert_eq!(read(&module).expect("reads").claims, claims);
}

#[test]
fn decodes_minimal_wascap_block() {
    let issuer = KeyPair::new_account();
    let actor = KeyPair::new_module();
    let hash = code_hash(MODULE).expect("hashes");
    let payload = format!(
        r#"{{"jti":"j","iat":1,"iss":"{}","sub":"{}","wascap":{{"hash":"{hash}","tags":null}}}}"#,
        issuer.public_key(),
        actor.public_key()
    );
    let claims =
        verify(&module_with_token(&token_from_json(&payload, &issuer)), NOW).expect("verifies");
    assert!(claims.metadata.caps.is_empty());
    assert!(claims.metadata.tags.is_empty());
    assert!(!claims.metadata.provider);
}

#[test]
fn allows_checks_granted_capabilities_exactly() {
    let (signed, ..) = signed_with(&request());
    let claims = verify(&signed, NOW).expect("verifies");
    assert!(claims.allows("wascc:http_server"));
    assert!(claims.allows("wascc:logging"));
    assert!(!claims.allows("wascc:keyvalue"));
    assert!(!claims.allows("wascc:http"));
    assert!(!claims.allows(""));
}

#[test]
fn claims_serialize_in_the_2020_layout() {
    let (signed, ..) = signed_with(&request());
    let claims = read(&signed).expect("reads").claims;
    let json = serde_json::to_value(&claims).expect("serializes");
    for field in ["jti", "iat", "iss", "sub", "wascap"] {
        assert!(json.get(field).is_some(), "missing {field}");
    }
    assert!(json.get("exp").is_none());
    let wascap = &json["wascap"];
    assert_eq!(wascap["prov"], serde_json::json!(false));
    assert_eq!(
        wascap["caps"],
        serde_json::json!(["wascc:http_server", "wascc:logging"])
    );
    assert_eq!(wascap["hash"], serde_json::json!(claims.metadata.hash));
}
