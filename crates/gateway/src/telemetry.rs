//! Logging setup: one global subscriber, text or JSON (`auto`: JSON when stdout is not a
//! terminal, as collectors want it), filtered by `RUST_LOG` or the config.

use tracing_subscriber::EnvFilter;

pub fn init(format: &str, filter: &str) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(filter));
    // Colours only on a terminal: log files and collectors get plain text.
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stdout());
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_target(false)
        .with_ansi(ansi);
    // try_init: a second call (tests) keeps the first subscriber.
    let json = format == "json" || (format == "auto" && !ansi);
    let _ = if json {
        builder.json().try_init()
    } else {
        builder.try_init()
    };
}
