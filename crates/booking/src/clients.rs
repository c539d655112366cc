//! Client onboarding records: what the operator agreed with each API client when it was
//! onboarded. An aggregator's application developers are clients of their own (their own
//! client ids, their own records). Every field left unset falls back to the gateway's
//! defaults, and a client without a record gets the defaults alone.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

/// Requests per second and burst of one operation for one client (`per_second` 0: no limit).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientRate {
    pub per_second: u32,
    pub burst: u32,
}

/// Per-operation request rates overriding the defaults; `None`: the default rate.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ClientRates {
    pub create: Option<ClientRate>,
    pub read: Option<ClientRate>,
    pub delete: Option<ClientRate>,
    pub retrieve: Option<ClientRate>,
}

/// Where the gateway obtains the access token for a client's sink when the client chose
/// PRIVATE_KEY_JWT (RFC 7523): the client's authorization server, the gateway's client id
/// there, and the key the assertion is signed with (a file, e.g. mounted from a Secret; the
/// key itself is never in a record).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PrivateKeyJwt {
    pub token_endpoint: String,
    pub client_id: String,
    pub key_file: String,
    /// `RS256`, `PS256`, `ES256` or `EdDSA`.
    pub algorithm: String,
    pub key_id: Option<String>,
    pub scope: Option<String>,
}

/// One API client's onboarding record.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ClientRecord {
    pub client_id: String,
    /// The QoS profiles this client may book; `None`: every bookable profile.
    pub profiles: Option<Vec<String>>,
    /// Most live bookings at once; `None`: the default quota (0: none allowed).
    pub max_live_bookings: Option<u32>,
    pub rates: ClientRates,
    /// URL prefixes the client's sinks must start with; `None`: any sink the policy allows.
    pub sinks: Option<Vec<String>>,
    pub private_key_jwt: Option<PrivateKeyJwt>,
}

impl ClientRecord {
    pub fn may_book(&self, profile: &str) -> bool {
        self.profiles.as_ref().is_none_or(|p| p.iter().any(|n| n == profile))
    }

    pub fn may_notify(&self, sink: &str) -> bool {
        self.sinks
            .as_ref()
            .is_none_or(|allowed| allowed.iter().any(|prefix| sink.starts_with(prefix.as_str())))
    }
}

/// The onboarding records in force, read on every request without waiting: a snapshot that
/// whatever keeps the records (the configuration file, the shared store) replaces whole.
#[derive(Debug, Default)]
pub struct ClientBook {
    records: RwLock<Arc<HashMap<String, Arc<ClientRecord>>>>,
}

impl ClientBook {
    pub fn new(records: Vec<ClientRecord>) -> Self {
        let book = Self::default();
        book.replace(records);
        book
    }

    pub fn get(&self, client_id: &str) -> Option<Arc<ClientRecord>> {
        self.snapshot().get(client_id).cloned()
    }

    /// Every record, by client id.
    pub fn snapshot(&self) -> Arc<HashMap<String, Arc<ClientRecord>>> {
        self.records.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Puts `records` in force in place of the current ones.
    pub fn replace(&self, records: Vec<ClientRecord>) {
        let map = records
            .into_iter()
            .map(|r| (r.client_id.clone(), Arc::new(r)))
            .collect();
        *self.records.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(map);
    }

    /// Whether the client's record says where PRIVATE_KEY_JWT tokens come from.
    pub fn private_key_jwt(&self, client_id: &str) -> bool {
        self.get(client_id).is_some_and(|r| r.private_key_jwt.is_some())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unset_fields_allow_what_the_defaults_allow() {
        let open = ClientRecord::default();
        assert!(open.may_book("QOS_L") && open.may_notify("https://any/x"));
        let narrow = ClientRecord {
            profiles: Some(vec!["QOS_S".into()]),
            sinks: Some(vec!["https://app.example.com/".into()]),
            ..ClientRecord::default()
        };
        assert!(narrow.may_book("QOS_S") && !narrow.may_book("QOS_L"));
        assert!(narrow.may_notify("https://app.example.com/cb"));
        assert!(!narrow.may_notify("https://app.example.com.evil/cb"));
        let book = ClientBook::new(vec![ClientRecord {
            client_id: "a".into(),
            ..narrow
        }]);
        assert!(book.get("a").is_some() && book.get("b").is_none());
        book.replace(Vec::new());
        assert!(book.get("a").is_none());
    }
}
