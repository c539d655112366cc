//! The command lines of the binaries the workspace ships, run as a user runs them: `--help`
//! lists every option (`qosctl` against a running gateway: tests/qosctl.rs), `--version` names the version (the gateway's also its git revision
//! and build date), and `gateway check-config` prints the effective configuration, redacted,
//! or fails naming the key.

use e2e_tests::binary;
use std::process::{Command, Output};

fn run(name: &str, args: &[&str], env: &[(&str, &str)]) -> Output {
    Command::new(binary(name))
        .args(args)
        .envs(env.iter().copied())
        .env_remove("RUST_BACKTRACE")
        .output()
        .unwrap()
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

#[test]
fn every_binary_answers_help_and_version() {
    let flags: [(&str, &[&str]); 5] = [
        ("gateway", &["serve", "check-config", "--config"]),
        (
            "nef-sim",
            &[
                "--listen",
                "--release",
                "--notify-on-create",
                "--oauth",
                "--token-ttl",
                "--latency-ms",
                "--error-rate",
                "--error-status",
            ],
        ),
        (
            "pcf-sim",
            &[
                "--listen",
                "--notify-on-create",
                "--latency-ms",
                "--no-see-other",
                "--unattached",
                "--no-session",
                "--access-tokens",
                "--tls-cert",
                "--tls-key",
                "--tls-client-ca",
            ],
        ),
        (
            "bench",
            &["api", "timers", "delivery", "memory", "startup", "soak", "baseline"],
        ),
        (
            "qosctl",
            &[
                "bookings",
                "capacity",
                "calendar",
                "clients",
                "completions",
                "--url",
                "--token-file",
                "--json",
            ],
        ),
    ];
    for (name, expected) in flags {
        let help = run(name, &["--help"], &[]);
        assert!(help.status.success(), "{name} --help: {}", text(&help.stderr));
        let out = text(&help.stdout);
        for f in expected {
            assert!(out.contains(f), "{name} --help does not list {f}:\n{out}");
        }
        let version = run(name, &["--version"], &[]);
        assert!(version.status.success(), "{name} --version");
        assert!(
            text(&version.stdout).starts_with(&format!("{name} {}", env!("CARGO_PKG_VERSION"))),
            "{name} --version: {}",
            text(&version.stdout)
        );
        let wrong = run(name, &["--no-such-flag"], &[]);
        assert!(!wrong.status.success(), "{name} took an unknown flag");
    }
    let v = text(&run("gateway", &["--version"], &[]).stdout);
    assert!(v.contains("(rev ") && v.contains(", built 20"), "{v}");
}

#[test]
fn check_config_prints_the_effective_configuration_redacted_or_names_the_bad_key() {
    let ok = run(
        "gateway",
        &["check-config"],
        &[
            ("QOSGW__STORE__REDIS__URLS", "redis://:hunter2@10.0.0.1:6379"),
            ("QOSGW__SERVER__BASE_PATH", "/camara"),
        ],
    );
    assert!(ok.status.success(), "{}", text(&ok.stderr));
    let tree: serde_json::Value = serde_json::from_slice(&ok.stdout).unwrap();
    assert_eq!(tree["server"]["base_path"], "/camara", "the environment is applied");
    assert_eq!(
        tree["store"]["redis"]["urls"][0],
        "redis://:%3Credacted%3E@10.0.0.1:6379"
    );
    assert!(!text(&ok.stdout).contains("hunter2"));
    assert_eq!(
        tree["southbound"]["nef"]["client_secret_env"],
        "QOSGW_NEF_CLIENT_SECRET"
    );

    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.yaml");
    std::fs::write(&bad, "server:\n  bogus_key: 1\n").unwrap();
    let refused = run("gateway", &["check-config", "--config", bad.to_str().unwrap()], &[]);
    assert!(!refused.status.success());
    let err = text(&refused.stderr);
    assert!(err.contains("bogus_key") && err.contains("server"), "{err}");
    // The old flag still works for scripts.
    assert!(run("gateway", &["--check"], &[]).status.success());
}
