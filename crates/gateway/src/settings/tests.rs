use super::*;

/// The real environment source, fed from a map instead of the process environment.
fn env_with(pairs: &[(&str, &str)]) -> config::Environment {
    environment().source(Some(
        pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect(),
    ))
}

#[test]
fn defaults_parse_and_pass_checks() {
    let s = Settings::defaults().unwrap();
    s.check().unwrap();
    use camara_api::Version::{V0_1, V0_2};
    assert_eq!(
        s.base_paths(),
        vec![
            ("/qos-booking/v0.2".to_owned(), V0_2),
            ("/qos-booking/vwip".to_owned(), V0_2),
            ("/qos-booking/v0.1".to_owned(), V0_1)
        ]
    );
    assert!(s.profiles.iter().any(|p| p.name == "QCI_1_voice"));
}

#[test]
fn every_flow_encoding_name_of_the_documentation_parses() {
    for (name, want) in [
        ("compact", FlowEncoding::Compact),
        ("strict-29214", FlowEncoding::Strict29214),
        ("per-port-pair", FlowEncoding::PerPortPair),
    ] {
        let env = env_with(&[("QOSGW__SOUTHBOUND__MAPPING__FLOW_ENCODING", name)]);
        assert_eq!(
            Settings::load_from(None, env).unwrap().southbound.mapping.flow_encoding,
            want
        );
    }
}

#[test]
fn file_and_environment_overlay_the_defaults() {
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("c.yaml");
    std::fs::write(
        &f,
        "server:\n  api_version: v0.2rc1\nbooking:\n  retention_seconds: 400\n",
    )
    .unwrap();
    let env = env_with(&[
        ("QOSGW__BOOKING__RETENTION_SECONDS", "500"),
        ("QOSGW__STORE__REDIS__URLS", "redis://a:1,redis://b:2"),
    ]);
    let s = Settings::load_from(Some(&f), env).unwrap();
    assert_eq!(s.server.api_version, "v0.2rc1");
    assert_eq!(s.booking.retention, std::time::Duration::from_secs(500));
    assert_eq!(s.store.redis.urls, vec!["redis://a:1", "redis://b:2"]);
    let bad = env_with(&[("QOSGW__BOOKING__RETENTION_SECONDS", "10")]);
    assert!(Settings::load_from(None, bad).is_err());
}

/// A bad value fails the load, and the error names the key.
#[test]
fn values_are_typed_at_load_and_errors_name_the_key() {
    for (var, value, key) in [
        (
            "QOSGW__SOUTHBOUND__NEF__API_ROOT",
            "nef.example/root",
            "southbound.nef.api_root",
        ),
        (
            "QOSGW__NOTIFICATIONS__SINK_ALLOW",
            "10.0.0.0/33",
            "notifications.sink_allow",
        ),
        ("QOSGW__AUTH__ALGORITHMS", "RS256,XX999", "auth.algorithms"),
        ("QOSGW__SERVER__PUBLIC_URL", "not a url", "server.public_url"),
        ("QOSGW__SCHEDULER__LEASE_SECONDS", "-5", "scheduler.lease_seconds"),
        ("QOSGW__SERVER__REQUEST_TIMEOUT_MS", "soon", "server.request_timeout_ms"),
        // A misspelled key is an error, not silently ignored.
        ("QOSGW__SERVER__SHUTDOWN_DELAY", "5000", "shutdown_delay"),
        ("QOSGW__SOUTHBOUND__NEF__READINESS", "true", "readiness"),
    ] {
        let err = Settings::load_from(None, env_with(&[(var, value)])).unwrap_err();
        let chain = format!("{err:#}");
        assert!(chain.contains(key), "{var}={value}: {chain}");
    }
    let env = env_with(&[
        ("QOSGW__NOTIFICATIONS__SINK_DENY", "10.9.0.0/16,Blocked.Example."),
        ("QOSGW__SOUTHBOUND__NEF__API_ROOT", "https://nef.example/root"),
    ]);
    let s = Settings::load_from(None, env).unwrap();
    assert_eq!(
        s.notifications.sink_deny,
        vec![
            SinkDeny::Net("10.9.0.0/16".parse().unwrap()),
            SinkDeny::Host("blocked.example".into())
        ]
    );
    assert_eq!(s.southbound.nef.api_root.unwrap().as_str(), "https://nef.example/root");
    assert_eq!(s.auth.jwks_url, None, "unset (~) is None, not an empty string");
    let s = Settings::load_from(None, env_with(&[("QOSGW__SCHEDULER__RETRY_BASE_MS", "250")])).unwrap();
    assert_eq!(s.scheduler.retry_base, std::time::Duration::from_millis(250));
}

#[test]
fn redis_behind_a_real_identity_provider_needs_the_key_secret() {
    let env = env_with(&[
        ("QOSGW__STORE__KIND", "redis"),
        ("QOSGW__STORE__REDIS__KEY_SECRET_ENV", "QOSGW_TEST_NEVER_SET_7F3A"),
        ("QOSGW__AUTH__MODE", "jwks"),
        ("QOSGW__AUTH__JWKS_URL", "https://idp.example/jwks"),
    ]);
    let err = Settings::load_from(None, env).unwrap_err();
    assert!(format!("{err:#}").contains("QOSGW_TEST_NEVER_SET_7F3A"), "{err:#}");
}

#[test]
fn charging_kinds_read_as_one_or_a_list_and_chf_needs_its_root() {
    use super::ChargingKind::{ChfSim, File};
    let kinds = |v: &str| {
        Settings::load_from(None, env_with(&[("QOSGW__CHARGING__KIND", v)]))
            .map(|s| s.charging.kind)
            .map_err(|e| format!("{e:#}"))
    };
    assert_eq!(Settings::defaults().unwrap().charging.kind, vec![]);
    assert_eq!(kinds("file"), Ok(vec![File]));
    assert_eq!(kinds("chf-sim,file"), Ok(vec![ChfSim, File]));
    assert_eq!(kinds("none"), Ok(vec![]));
    let e = kinds("chf").unwrap_err();
    assert!(e.contains("charging.chf.api_root"), "{e}");
    assert!(kinds("ftp").is_err());
}

#[test]
fn pdtq_areas_keep_3gpp_names_and_every_area_name_needs_one() {
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("c.yaml");
    let area = "{nwAreaInfo: {tais: [{plmnId: {mcc: \"262\", mnc: \"01\"}, tac: \"00A1B2\"}]}}";
    std::fs::write(
        &f,
        format!(
            "capacity:\n  network_admission: pdtq\n  pdtq:\n    areas:\n      city-center: {area}\n      \
             stadium-north: {{civicAddresses: [{{country: DE, A3: Frankfurt}}]}}\n      harbour: {area}\n"
        ),
    )
    .unwrap();
    let s = Settings::load_from(Some(&f), env_with(&[])).unwrap();
    s.check().unwrap();
    let areas = &s.capacity.pdtq.areas;
    let tai = &areas["city-center"].nw_area_info.as_ref().unwrap()["tais"][0];
    assert_eq!(tai["plmnId"]["mcc"], "262", "3GPP's names kept as written: {tai}");
    assert_eq!(areas["stadium-north"].civic_addresses[0]["A3"], "Frankfurt");

    // An area name without a location: refused at start, not at the first booking.
    std::fs::write(
        &f,
        format!("capacity:\n  network_admission: pdtq\n  pdtq:\n    areas:\n      city-center: {area}\n"),
    )
    .unwrap();
    let err = Settings::load_from(Some(&f), env_with(&[])).unwrap_err();
    assert!(err.to_string().contains("has no location for PDTQ"), "{err}");
    // A mistyped key names no place.
    std::fs::write(
        &f,
        format!(
            "capacity:\n  network_admission: pdtq\n  pdtq:\n    areas:\n      city-center: {area}\n      \
             stadium-north: {{nwAreaInfo: {{}}}}\n      harbour: {area}\n"
        ),
    )
    .unwrap();
    let err = Settings::load_from(Some(&f), env_with(&[])).unwrap_err();
    assert!(err.to_string().contains("names no place"), "{err}");
}
