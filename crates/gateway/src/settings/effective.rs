//! `gateway check-config`: the configuration as it takes effect (the built-in defaults, then
//! the file, then `QOSGW__*` variables), after the same checks as at start. Secrets never sit
//! in it by design (it names the variables that hold them, `*_env`); what could still carry
//! one is redacted: a password in a URL (`redis://:pw@host`), and any key named as a secret.

use super::{Settings, environment, layered};
use anyhow::Context;
use serde_json::Value;
use std::path::Path;

const REDACTED: &str = "<redacted>";

impl Settings {
    /// The merged configuration tree, redacted; an error (naming the key) if it would not
    /// start.
    pub fn effective(file: Option<&Path>) -> anyhow::Result<Value> {
        Self::load(file)?;
        let tree: Value = layered(file, environment())?
            .try_deserialize()
            .context("invalid configuration")?;
        Ok(redact(tree))
    }
}

fn secret_key(key: &str) -> bool {
    let k = key.to_ascii_lowercase();
    !k.ends_with("_env") && ["password", "secret", "passphrase"].iter().any(|s| k.contains(s))
}

fn redact(v: Value) -> Value {
    match v {
        // Keys sorted: the layers' maps have no order, and a diff of two outputs should show
        // only what changed.
        Value::Object(map) => Value::Object(
            map.into_iter()
                .collect::<std::collections::BTreeMap<_, _>>()
                .into_iter()
                .map(|(k, v)| {
                    let v = if secret_key(&k) && !v.is_null() {
                        Value::from(REDACTED)
                    } else {
                        redact(v)
                    };
                    (k, v)
                })
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.into_iter().map(redact).collect()),
        Value::String(s) => Value::String(without_url_password(s)),
        other => other,
    }
}

/// A URL's password replaced; anything else as it was.
fn without_url_password(s: String) -> String {
    match url::Url::parse(&s) {
        Ok(mut u) if u.password().is_some() => {
            let _ = u.set_password(Some(REDACTED));
            u.to_string()
        }
        _ => s,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn passwords_in_urls_and_secret_keys_are_redacted_and_variable_names_kept() {
        let v = redact(json!({
            "store": {"redis": {"urls": ["redis://:hunter2@10.0.0.1:6379", "redis://10.0.0.2"],
                "password_env": "QOSGW_REDIS_PASSWORD"}},
            "x": {"client_secret": "s3cret", "port": 8080}
        }));
        assert_eq!(v["store"]["redis"]["urls"][0], "redis://:%3Credacted%3E@10.0.0.1:6379");
        assert_eq!(v["store"]["redis"]["urls"][1], "redis://10.0.0.2");
        assert_eq!(v["store"]["redis"]["password_env"], "QOSGW_REDIS_PASSWORD");
        assert_eq!(v["x"]["client_secret"], REDACTED);
        assert_eq!(v["x"]["port"], 8080);
    }
}
