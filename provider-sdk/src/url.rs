//! Showing connection URLs in messages without their secrets.

/// The URL with its password (or lone token) replaced by `***`:
/// `redis://user:secret@host/` → `redis://user:***@host/`,
/// `nats://token@host` → `nats://***@host`. Anything else is unchanged.
///
/// ```
/// use trellis_provider_sdk::mask_password;
/// assert_eq!(mask_password("nats://u:pw@h:4222"), "nats://u:***@h:4222");
/// ```
pub fn mask_password(url: &str) -> String {
    let Some(scheme_end) = url.find("://").map(|i| i + 3) else {
        return url.to_owned();
    };
    let rest = &url[scheme_end..];
    // The authority ends at the path, the query or the fragment: an `@` in
    // those is not a user's.
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let Some(at) = rest[..authority_end].rfind('@') else {
        return url.to_owned();
    };
    match rest[..at].find(':') {
        Some(colon) => format!(
            "{}{}:***{}",
            &url[..scheme_end],
            &rest[..colon],
            &rest[at..]
        ),
        // A token alone is a secret too.
        None if at > 0 => format!("{}***{}", &url[..scheme_end], &rest[at..]),
        None => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::mask_password;

    #[test]
    fn passwords_and_tokens_are_masked() {
        assert_eq!(
            mask_password("redis://127.0.0.1:6379"),
            "redis://127.0.0.1:6379"
        );
        assert_eq!(
            mask_password("redis://user:secret@host:1/0"),
            "redis://user:***@host:1/0"
        );
        assert_eq!(mask_password("redis://:secret@host/"), "redis://:***@host/");
        assert_eq!(mask_password("nats://token@h:4222"), "nats://***@h:4222");
        assert_eq!(mask_password("nats://h:4222"), "nats://h:4222");
        assert_eq!(mask_password("not a url"), "not a url");
    }

    #[test]
    fn an_at_sign_after_the_authority_is_not_a_password() {
        assert_eq!(
            mask_password("redis://user:pw@h:6379/0"),
            "redis://user:***@h:6379/0"
        );
        assert_eq!(mask_password("nats://tok@h"), "nats://***@h");
        assert_eq!(mask_password("http://h?next=a:b@c"), "http://h?next=a:b@c");
        assert_eq!(mask_password("http://h#a:b@c"), "http://h#a:b@c");
        assert_eq!(mask_password("nats://u:pw@h?x=1@2"), "nats://u:***@h?x=1@2");
    }
}
