//! Stamps the binary with what `gateway --version` reports: the git revision it was built
//! from (`unknown` outside a checkout, e.g. a container build without `.git`) and the build
//! date (from `SOURCE_DATE_EPOCH` when set, for reproducible builds).

use std::process::Command;
use std::time::{SystemTime, UNIX_EPOCH};

#[allow(clippy::disallowed_methods, reason = "the build date is the build's wall-clock time")]
fn main() {
    let rev = Command::new("git")
        .args(["rev-parse", "--short=12", "HEAD"])
        .output()
        .ok()
        .filter(|o| o.status.success())
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .map(|s| s.trim().to_owned())
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "unknown".to_owned());
    let secs = std::env::var("SOURCE_DATE_EPOCH")
        .ok()
        .and_then(|s| s.parse::<u64>().ok())
        .unwrap_or_else(|| SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs()));
    println!("cargo:rustc-env=QOSGW_GIT_REV={rev}");
    println!("cargo:rustc-env=QOSGW_BUILD_DATE={}", civil_date(secs / 86_400));
    println!("cargo:rerun-if-env-changed=SOURCE_DATE_EPOCH");
    println!("cargo:rerun-if-changed=../../.git/HEAD");
    println!("cargo:rerun-if-changed=../../.git/refs/heads");
}

/// `YYYY-MM-DD` of a day count since 1970-01-01 (the proleptic Gregorian calendar, H. Hinnant's
/// days-to-civil algorithm).
fn civil_date(days: u64) -> String {
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!("{year:04}-{month:02}-{day:02}")
}
