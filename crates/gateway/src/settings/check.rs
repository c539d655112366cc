//! The checks across keys that types alone cannot state, run once at load.

use super::{AuthMode, PcfDiscovery, Settings, SouthboundKind, StoreKind};
use jsonwebtoken::Algorithm;
use std::time::Duration;

impl Settings {
    pub(super) fn check(&self) -> anyhow::Result<()> {
        anyhow::ensure!(
            self.booking.retention >= Duration::from_secs(360),
            "booking.retention_seconds must be at least 360 (CAMARA)"
        );
        anyhow::ensure!(
            self.scheduler.lease >= Duration::from_secs(1),
            "scheduler.lease_seconds must be at least 1"
        );
        anyhow::ensure!(
            !self.server.api_version.contains('/'),
            "server.api_version is one path segment, e.g. v0.2"
        );
        anyhow::ensure!(
            !(self.server.serve_v0_1 && self.server.api_version == "v0.1"),
            "server.api_version v0.1 is the r1.2 shape's path: serve it with server.serve_v0_1 instead"
        );
        for c in &self.clients {
            c.check(self.notifications.allow_insecure_sinks)?;
        }
        anyhow::ensure!(
            !self.charging.kind.contains(&super::ChargingKind::Chf) || self.charging.chf.api_root.is_some(),
            "charging.kind chf needs charging.chf.api_root (or kind chf-sim for the simulator)"
        );
        anyhow::ensure!(
            !(self.charging.kind.contains(&super::ChargingKind::Chf)
                && self.charging.kind.contains(&super::ChargingKind::ChfSim)),
            "charging.kind: chf and chf-sim are the same export; name one"
        );
        anyhow::ensure!(
            self.charging.chf.interim >= Duration::from_secs(60),
            "charging.chf.interim_seconds must be at least 60"
        );
        let mut ids: Vec<&str> = self.clients.iter().map(|c| c.client_id.as_str()).collect();
        ids.sort_unstable();
        if let Some(w) = ids.windows(2).find(|w| w[0] == w[1]) {
            anyhow::bail!("clients: client_id {} appears twice", w[0]);
        }
        let prefix = &self.server.base_path;
        anyhow::ensure!(
            prefix.is_empty()
                || (prefix.starts_with('/')
                    && !prefix.ends_with('/')
                    && !prefix.contains("//")
                    && prefix
                        .bytes()
                        .all(|c| c.is_ascii_alphanumeric() || b"/-._~".contains(&c))),
            "server.base_path must be empty or a path like /camara (no trailing slash)"
        );
        // In production (Redis behind a real identity provider) the key of device hashes must
        // be the operator's own secret, the same on every replica: the built-in default is
        // public, and one replica with another key would not find the others' bookings.
        if self.store.kind == StoreKind::Redis && self.auth.mode == AuthMode::Jwks {
            let var = &self.store.redis.key_secret_env;
            anyhow::ensure!(
                std::env::var(var).is_ok_and(|v| !v.is_empty()),
                "store.redis.key_secret_env: the environment variable {var} is not set (required with store kind redis and auth mode jwks; the same secret on every replica)"
            );
        }
        for p in &self.profiles {
            let name_ok = (3..=256).contains(&p.name.len())
                && p.name.bytes().all(|b| b.is_ascii_alphanumeric() || b"_.-".contains(&b));
            anyhow::ensure!(
                name_ok,
                "profiles: '{}' is not a QoS profile name ([a-zA-Z0-9_.-], 3-256)",
                p.name
            );
            anyhow::ensure!(
                p.min_duration >= 1 && p.min_duration <= p.max_duration,
                "profiles.{}: min_duration must be 1 or more and at most max_duration",
                p.name
            );
            anyhow::ensure!(
                p.priority.is_none_or(|x| (1..=100).contains(&x)),
                "profiles.{}.priority must be 1..100",
                p.name
            );
            anyhow::ensure!(
                p.packet_error_loss_rate.is_none_or(|x| (1..=10).contains(&x)),
                "profiles.{}.packet_error_loss_rate must be 1..10",
                p.name
            );
            let rates = [
                p.target_min_upstream_rate,
                p.max_upstream_rate,
                p.target_min_downstream_rate,
                p.max_downstream_rate,
            ];
            anyhow::ensure!(
                rates.iter().flatten().all(|r| r.value <= 1024),
                "profiles.{}: a rate's value must be at most 1024 (use a larger unit)",
                p.name
            );
            anyhow::ensure!(
                p.description.as_ref().is_none_or(|d| d.chars().count() <= 1024),
                "profiles.{}.description is longer than 1024 characters",
                p.name
            );
        }
        anyhow::ensure!(
            !self.auth.operator_audience.is_empty() && self.auth.operator_audience != self.auth.audience,
            "auth.operator_audience must be set and differ from auth.audience (client tokens must not reach the admin API)"
        );
        if self.capacity.network_admission == super::NetworkAdmissionKind::Pdtq {
            let p = &self.capacity.pdtq;
            anyhow::ensure!(!p.asp_id.is_empty(), "capacity.pdtq.asp_id must be set");
            anyhow::ensure!(
                !p.answer_within.is_zero(),
                "capacity.pdtq.answer_within_ms must be more than 0"
            );
            if let Some(missing) = self.api.area_names.iter().find(|n| !p.areas.contains_key(*n)) {
                anyhow::bail!("capacity.pdtq.areas: area name {missing} (in api.area_names) has no location for PDTQ");
            }
            // A mistyped key reads as nothing (3GPP's JSON is open): an empty area would be
            // refused by the NEF at every booking.
            if let Some((name, _)) = p.areas.iter().find(|(_, a)| {
                let nw_empty = a
                    .nw_area_info
                    .as_ref()
                    .is_none_or(|v| v.as_object().is_some_and(serde_json::Map::is_empty));
                a.geographic_areas.is_empty() && a.civic_addresses.is_empty() && nw_empty
            }) {
                anyhow::bail!(
                    "capacity.pdtq.areas.{name}: names no place (geographicAreas, civicAddresses or nwAreaInfo)"
                );
            }
            anyhow::ensure!(
                p.api_root.is_some()
                    || matches!(
                        self.southbound.kind,
                        super::SouthboundKind::Nef | super::SouthboundKind::NefSim
                    ),
                "capacity.pdtq.api_root is required unless the southbound is a NEF (kind nef or nef-sim)"
            );
        }
        let mut pool_names = std::collections::HashSet::new();
        for pool in &self.capacity.pools {
            anyhow::ensure!(
                !pool.name.is_empty() && pool_names.insert(pool.name.as_str()),
                "capacity.pools: pool names must be present and unique ('{}')",
                pool.name
            );
            anyhow::ensure!(
                !pool.area_names.is_empty() || !pool.regions.is_empty(),
                "capacity.pools.{}: give area_names or regions",
                pool.name
            );
            for profile in pool.profiles.keys() {
                anyhow::ensure!(
                    self.profiles.iter().any(|p| &p.name == profile),
                    "capacity.pools.{}: unknown profile {profile}",
                    pool.name
                );
            }
            for name in &pool.area_names {
                anyhow::ensure!(
                    self.api.area_names.contains(name),
                    "capacity.pools.{}: area name {name} is not in api.area_names",
                    pool.name
                );
            }
            for w in &pool.windows {
                anyhow::ensure!(
                    booking::capacity::minutes_of(&w.from).is_some() && booking::capacity::minutes_of(&w.to).is_some(),
                    "capacity.pools.{}.windows: from and to are HH:MM (UTC)",
                    pool.name
                );
                for profile in w.profiles.keys() {
                    anyhow::ensure!(
                        self.profiles.iter().any(|p| &p.name == profile),
                        "capacity.pools.{}.windows: unknown profile {profile}",
                        pool.name
                    );
                }
            }
            anyhow::ensure!(
                pool.blackouts.iter().all(|b| b.start < b.end),
                "capacity.pools.{}: a blackout must end after it starts",
                pool.name
            );
        }
        let tls = &self.server.tls;
        anyhow::ensure!(
            tls.cert_file.is_some() == tls.key_file.is_some(),
            "server.tls.cert_file and server.tls.key_file go together"
        );
        anyhow::ensure!(
            tls.client_ca_file.is_none() || tls.cert_file.is_some(),
            "server.tls.client_ca_file needs server.tls.cert_file and key_file"
        );
        anyhow::ensure!(
            matches!(self.southbound.release, 17 | 18),
            "southbound.release must be 17 or 18"
        );
        let proto = &self.southbound.mapping.protocol;
        anyhow::ensure!(
            proto == "ip" || proto.parse::<u8>().is_ok(),
            "southbound.mapping.protocol must be `ip` or 0..255"
        );
        anyhow::ensure!(
            !self.southbound.mapping.address_preference.is_empty(),
            "southbound.mapping.address_preference is empty"
        );
        if self.auth.mode == AuthMode::Jwks {
            let sources = [
                self.auth.jwks_url.is_some(),
                self.auth.discovery_url.is_some(),
                self.auth.jwks_file.is_some(),
            ];
            anyhow::ensure!(
                sources.iter().filter(|set| **set).count() == 1,
                "auth.mode jwks needs exactly one of auth.jwks_url, auth.discovery_url, auth.jwks_file"
            );
        }
        anyhow::ensure!(
            !(self.auth.mode == AuthMode::Dev
                && self.store.kind == StoreKind::Redis
                && !self.auth.allow_dev_with_redis),
            "auth.mode dev signs tokens with a key of this process only and is for development: \
             with store kind redis connect an identity provider (auth.mode jwks), or set \
             auth.allow_dev_with_redis to force it"
        );
        for a in &self.auth.algorithms {
            anyhow::ensure!(
                !matches!(a, Algorithm::HS256 | Algorithm::HS384 | Algorithm::HS512),
                "auth.algorithms: {a:?} is symmetric; only public-key algorithms are accepted"
            );
        }
        if self.store.kind == StoreKind::Redis {
            let sentinel = &self.store.redis.sentinel;
            match &sentinel.master_name {
                Some(name) => {
                    anyhow::ensure!(!name.is_empty(), "store.redis.sentinel.master_name is empty");
                    anyhow::ensure!(
                        !sentinel.addresses.is_empty(),
                        "store.redis.sentinel.addresses: name at least one sentinel (host:port)"
                    );
                    anyhow::ensure!(
                        !self.store.redis.cluster,
                        "store.redis: sentinel and cluster exclude each other"
                    );
                    for a in &sentinel.addresses {
                        anyhow::ensure!(
                            a.rsplit_once(':')
                                .is_some_and(|(h, p)| !h.is_empty() && p.parse::<u16>().is_ok()),
                            "store.redis.sentinel.addresses: {a} is not host:port"
                        );
                    }
                }
                None => anyhow::ensure!(!self.store.redis.urls.is_empty(), "store.redis.urls is empty"),
            }
            anyhow::ensure!(self.store.redis.shards >= 1, "store.redis.shards must be at least 1");
        }
        // Claims are renewed while their NEF call runs (every third of the lease), so the
        // lease need not outlast the slowest call.
        anyhow::ensure!(
            self.scheduler.max_in_flight >= 1,
            "scheduler.max_in_flight must be at least 1"
        );
        if self.southbound.kind == SouthboundKind::Pcf {
            let p = &self.southbound.pcf;
            let (root, name) = match p.discovery {
                PcfDiscovery::Static => (&p.api_root, "api_root"),
                PcfDiscovery::Nrf => (&p.nrf_api_root, "nrf_api_root"),
                PcfDiscovery::Bsf => (&p.bsf_api_root, "bsf_api_root"),
            };
            anyhow::ensure!(
                root.is_some(),
                "southbound.pcf.{name} is required with kind pcf and discovery {:?}",
                p.discovery
            );
            anyhow::ensure!(
                !p.access_tokens || p.token_url.is_some() || p.nrf_api_root.is_some(),
                "southbound.pcf.access_tokens needs southbound.pcf.token_url or nrf_api_root"
            );
            anyhow::ensure!(
                matches!(p.bsf_pcf_scheme.as_str(), "http" | "https"),
                "southbound.pcf.bsf_pcf_scheme must be http or https"
            );
        }
        if matches!(self.southbound.kind, SouthboundKind::Pcf | SouthboundKind::PcfSim) {
            for (name, form) in &self.southbound.pcf.profiles {
                for (what, rate) in [
                    ("mar_bw_dl", &form.mar_bw_dl),
                    ("mar_bw_ul", &form.mar_bw_ul),
                    ("mir_bw_dl", &form.mir_bw_dl),
                    ("mir_bw_ul", &form.mir_bw_ul),
                ] {
                    if let Some(r) = rate {
                        anyhow::ensure!(
                            qos_mapping::n5::is_bit_rate(r),
                            "southbound.pcf.profiles.{name}.{what}: {r:?} is not a BitRate such as \"10 Mbps\""
                        );
                    }
                }
            }
        }
        if self.southbound.kind == SouthboundKind::Nef {
            anyhow::ensure!(
                self.southbound.nef.api_root.is_some(),
                "southbound.nef.api_root is required with kind nef"
            );
        }
        for p in &self.profiles {
            anyhow::ensure!(
                p.min_duration <= p.max_duration,
                "profile {}: min_duration > max_duration",
                p.name
            );
        }
        Ok(())
    }
}

impl super::ClientSettings {
    /// The checks of one onboarding record (from the configuration or the admin API);
    /// `insecure`: http is allowed (development, `notifications.allow_insecure_sinks`).
    pub fn check(&self, insecure: bool) -> anyhow::Result<()> {
        let id = &self.client_id;
        anyhow::ensure!(!id.is_empty(), "clients: a record without client_id");
        let scheme_ok = |u: &url::Url| u.scheme() == "https" || (insecure && u.scheme() == "http");
        for prefix in self.sinks.iter().flatten() {
            // A whole origin and path: `https://app.example.com` alone would also match
            // `https://app.example.com.evil.net/`.
            let ok = url::Url::parse(prefix).is_ok_and(|u| {
                scheme_ok(&u) && u.host().is_some() && u.username().is_empty() && u.password().is_none()
            }) && prefix.ends_with('/');
            anyhow::ensure!(
                ok,
                "clients[{id}].sinks: {prefix} must be an https URL of a host and path ending with /"
            );
        }
        if let Some(p) = &self.private_key_jwt {
            anyhow::ensure!(
                ["RS256", "PS256", "ES256", "EdDSA"].contains(&p.algorithm.as_str()),
                "clients[{id}].private_key_jwt.algorithm must be RS256, PS256, ES256 or EdDSA"
            );
            anyhow::ensure!(
                scheme_ok(&p.token_endpoint),
                "clients[{id}].private_key_jwt.token_endpoint must be https"
            );
        }
        Ok(())
    }
}
