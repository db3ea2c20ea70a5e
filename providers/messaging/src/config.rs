//! The binding values: which NATS server, which subject to subscribe to, in
//! which queue group, and whether the lattice's subjects may be used.

use crate::lattice::LatticeGuard;
use crate::MessagingError;
use std::collections::HashMap;

/// The binding value naming the NATS server.
pub const URL_KEY: &str = "URL";
/// The binding value naming the subject to subscribe to.
pub const SUBSCRIPTION_KEY: &str = "SUBSCRIPTION";
/// The binding value naming the queue group of the subscription.
pub const QUEUE_GROUP_KEY: &str = "QUEUE_GROUP";
/// The binding value that, set to `true`, lets the actor use the lattice's
/// subjects (see [`LATTICE_ROOT`](crate::LATTICE_ROOT)); `false` by default.
pub const ALLOW_LATTICE_SUBJECTS_KEY: &str = "ALLOW_LATTICE_SUBJECTS";
/// The server used when a binding has no `URL`.
pub const DEFAULT_URL: &str = "nats://127.0.0.1:4222";

/// What a binding's values ask for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Config {
    /// The server's URL, password and all.
    pub(crate) url: String,
    /// The subject whose messages go to the actor, if any.
    pub(crate) subscription: Option<String>,
    /// The queue group the subscription joins, if any.
    pub(crate) queue_group: Option<String>,
    /// Whether the lattice's subjects are refused.
    pub(crate) lattice: LatticeGuard,
}

impl Config {
    /// Reads and checks a binding's values.
    pub(crate) fn from_values(values: &HashMap<String, String>) -> Result<Config, MessagingError> {
        let url = match values.get(URL_KEY).map(|u| u.trim()) {
            None => DEFAULT_URL.to_owned(),
            Some("") => {
                return Err(MessagingError::BadBinding(format!(
                    "{URL_KEY} is empty (leave it out for {DEFAULT_URL})"
                )))
            }
            Some(url) => url.to_owned(),
        };
        let non_empty = |key: &str| {
            values
                .get(key)
                .map(|v| v.trim())
                .filter(|v| !v.is_empty())
                .map(str::to_owned)
        };
        let subscription = non_empty(SUBSCRIPTION_KEY);
        let queue_group = non_empty(QUEUE_GROUP_KEY);
        if queue_group.is_some() && subscription.is_none() {
            return Err(MessagingError::BadBinding(format!(
                "{QUEUE_GROUP_KEY} needs a {SUBSCRIPTION_KEY} to subscribe with"
            )));
        }
        Ok(Config {
            url,
            subscription,
            queue_group,
            lattice: LatticeGuard {
                allowed: allow_lattice_subjects(values)?,
            },
        })
    }
}

/// The `ALLOW_LATTICE_SUBJECTS` value: `true` or `false`, `false` when absent.
fn allow_lattice_subjects(values: &HashMap<String, String>) -> Result<bool, MessagingError> {
    match values.get(ALLOW_LATTICE_SUBJECTS_KEY).map(|v| v.trim()) {
        None | Some("false") => Ok(false),
        Some("true") => Ok(true),
        Some(other) => Err(MessagingError::BadBinding(format!(
            "{ALLOW_LATTICE_SUBJECTS_KEY} must be true or false, not '{other}'"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use trellis_provider_sdk::ActorBinding;

    #[test]
    fn config_defaults_and_checks() {
        let config =
            Config::from_values(&ActorBinding::new("MACTOR", &[("__wascc_name", "x")]).values)
                .unwrap();
        assert_eq!(config.url, DEFAULT_URL);
        assert_eq!(config.subscription, None);
        assert_eq!(config.queue_group, None);
        assert!(!config.lattice.allowed);
        let config = Config::from_values(
            &ActorBinding::new(
                "MACTOR",
                &[
                    ("URL", " nats://h:1 "),
                    ("SUBSCRIPTION", "a.>"),
                    ("QUEUE_GROUP", "g"),
                ],
            )
            .values,
        )
        .unwrap();
        assert_eq!(config.url, "nats://h:1");
        assert_eq!(config.subscription.as_deref(), Some("a.>"));
        assert_eq!(config.queue_group.as_deref(), Some("g"));
        let e =
            Config::from_values(&ActorBinding::new("MACTOR", &[("URL", "")]).values).unwrap_err();
        assert_eq!(
            e.to_string(),
            "URL is empty (leave it out for nats://127.0.0.1:4222)"
        );
        let e = Config::from_values(&ActorBinding::new("MACTOR", &[("QUEUE_GROUP", "g")]).values)
            .unwrap_err();
        assert_eq!(
            e.to_string(),
            "QUEUE_GROUP needs a SUBSCRIPTION to subscribe with"
        );
    }

    #[test]
    fn allow_lattice_subjects_is_true_or_false() {
        let allowed = |value: &str| {
            Config::from_values(
                &ActorBinding::new("MACTOR", &[("ALLOW_LATTICE_SUBJECTS", value)]).values,
            )
            .map(|config| config.lattice.allowed)
        };
        assert_eq!(allowed("true"), Ok(true));
        assert_eq!(allowed(" false "), Ok(false));
        for bad in ["yes", "TRUE", "1", ""] {
            assert_eq!(
                allowed(bad).unwrap_err().to_string(),
                format!("ALLOW_LATTICE_SUBJECTS must be true or false, not '{bad}'")
            );
        }
    }
}
