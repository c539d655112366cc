//! Per-sink isolation. Each sink (its scheme, host and port) gets a bounded share of the
//! replica's deliveries: at most `per_sink` requests in flight and at most `queue` claimed
//! bookings, so a slow, refusing or blackholed sink holds a few slots and never the
//! replica's whole budget. A sink whose attempt failed (no connection, a timeout, 5xx, 429)
//! is backed off as a whole: its other bookings are not tried but handed back to the outbox
//! until the backoff ends, while the failing delivery goes on with its own retries (the
//! probe). A success clears the backoff.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::Semaphore;

/// The longest a sink is backed off after repeated failures.
const MAX_BACKOFF: Duration = Duration::from_secs(30);
/// Bounds of how long a booking of a busy (not failing) sink waits before its next claim.
const MIN_BUSY_DEFER: Duration = Duration::from_millis(10);
const MAX_BUSY_DEFER: Duration = Duration::from_secs(5);
/// The answer time assumed of a sink before it answered (ms).
const MIN_ANSWER_MS: f64 = 1.0;
/// How much slower than `per_sink` answers at a time a busy sink's backlog is taken to go.
const MAX_PACE_OVER_BEST: f64 = 4.0;
/// Idle gates are forgotten once this many sinks are known.
const PRUNE_AT: usize = 4096;

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

pub(crate) struct Gates {
    gates: Mutex<HashMap<String, Arc<Gate>>>,
    per_sink: usize,
    queue: usize,
    initial_backoff: Duration,
}

pub(crate) struct Gate {
    /// Requests in flight to this sink.
    pub(crate) permits: Semaphore,
    state: Mutex<State>,
    initial_backoff: Duration,
}

#[derive(Default)]
struct State {
    /// Bookings of this sink claimed by this replica.
    claimed: usize,
    failures: u32,
    blocked_until: Option<Instant>,
    /// Smoothed time of one answer (ms), for how long a busy sink's backlog takes.
    answer_ms: f64,
    /// When the last booking handed back as busy is due its turn.
    last_turn: Option<Instant>,
    /// While bookings handed back wait their turn: when one of its bookings was last done
    /// with, and the smoothed time between two (ms): the pace this replica really gets
    /// through the sink's backlog at (its answers, and the claims, sends and
    /// acknowledgements around them).
    done_at: Option<Instant>,
    pace_ms: f64,
}

impl State {
    /// How long a booking of this busy sink waits before its next claim. The sink takes about
    /// `per_sink` bookings per answer time, so the bookings it holds go first and each one
    /// handed back gets the turn after the one handed back before it: its backlog comes back
    /// at the rate the sink takes it. (All at the same time, most of them would only be
    /// claimed to be handed back again, several times over.)
    fn turn(&mut self, now: Instant, per_sink: usize) -> Duration {
        // Before a pace is known, `per_sink` answers at a time (the sink's best case). A pace
        // far slower than that is not trusted: turns too far apart would leave the sink idle,
        // and an idle sink's slow pace would only spread the next turns further.
        let best = self.answer_ms.max(MIN_ANSWER_MS) / per_sink as f64;
        let ms = if self.pace_ms > 0.0 {
            self.pace_ms.min(best * MAX_PACE_OVER_BEST)
        } else {
            best
        };
        let each = Duration::from_secs_f64(ms / 1000.0);
        let held = now + each.saturating_mul(u32::try_from(self.claimed).unwrap_or(u32::MAX));
        let turn = (self.last_turn.filter(|t| *t > held).unwrap_or(held) + each).min(now + MAX_BUSY_DEFER);
        self.last_turn = Some(turn);
        (turn - now).clamp(MIN_BUSY_DEFER, MAX_BUSY_DEFER)
    }
}

/// What to do with a claimed booking.
pub(crate) enum Admit {
    /// Deliver now; release the gate when done.
    Go(Arc<Gate>),
    /// Hand it back to the outbox, due again after this.
    Defer(Duration),
}

/// The part of a sink URL its connections are shared by (`scheme://host:port`).
fn origin(sink: &str) -> String {
    match reqwest::Url::parse(sink) {
        Ok(u) => format!(
            "{}://{}:{}",
            u.scheme(),
            u.host_str().unwrap_or_default(),
            u.port_or_known_default().unwrap_or(0)
        ),
        Err(_) => sink.to_owned(),
    }
}

impl Gates {
    pub(crate) fn new(per_sink: usize, queue: usize, initial_backoff: Duration) -> Self {
        Self {
            gates: Mutex::default(),
            per_sink: per_sink.max(1),
            queue: queue.max(per_sink.max(1)),
            initial_backoff,
        }
    }

    /// Takes a claimed booking of `sink` in, or says when to hand it back.
    pub(crate) fn admit(&self, sink: &str) -> Admit {
        let mut gates = lock(&self.gates);
        if gates.len() >= PRUNE_AT {
            gates.retain(|_, g| !g.idle());
        }
        let gate = gates
            .entry(origin(sink))
            .or_insert_with(|| {
                Arc::new(Gate {
                    permits: Semaphore::new(self.per_sink),
                    state: Mutex::default(),
                    initial_backoff: self.initial_backoff,
                })
            })
            .clone();
        drop(gates);
        let mut st = lock(&gate.state);
        let now = Instant::now();
        if let Some(until) = st.blocked_until.filter(|u| *u > now) {
            return Admit::Defer(until - now);
        }
        if st.claimed >= self.queue {
            return Admit::Defer(st.turn(now, self.per_sink));
        }
        st.claimed += 1;
        drop(st);
        Admit::Go(gate)
    }
}

impl Gate {
    fn idle(&self) -> bool {
        let st = lock(&self.state);
        st.claimed == 0 && st.blocked_until.is_none_or(|u| u <= Instant::now())
    }

    /// A claimed booking is done with (delivered, deferred or given up).
    pub(crate) fn release(&self) {
        let mut st = lock(&self.state);
        st.claimed = st.claimed.saturating_sub(1);
        let now = Instant::now();
        if st.last_turn.is_some_and(|t| t > now) {
            // One gap of more than an answer time is a stall of this replica, not the pace.
            let answer = st.answer_ms.max(MIN_ANSWER_MS);
            if let Some(gap) = st.done_at.map(|at| ((now - at).as_secs_f64() * 1000.0).min(answer)) {
                st.pace_ms = if st.pace_ms > 0.0 {
                    0.9 * st.pace_ms + 0.1 * gap
                } else {
                    gap
                };
            }
            st.done_at = Some(now);
        } else {
            // No backlog waiting: the time to the next one done says nothing of the pace.
            st.done_at = None;
        }
    }

    /// How long the sink is still backed off, if it is.
    pub(crate) fn blocked_for(&self) -> Option<Duration> {
        let now = Instant::now();
        lock(&self.state).blocked_until.filter(|u| *u > now).map(|u| u - now)
    }

    pub(crate) fn succeeded(&self, took: Duration) {
        let mut st = lock(&self.state);
        st.failures = 0;
        st.blocked_until = None;
        st.answer_ms = 0.8 * st.answer_ms + 0.2 * took.as_secs_f64() * 1000.0;
    }

    /// An attempt failed in a way that says the sink is in trouble: back the sink off,
    /// doubling with each failure in a row.
    pub(crate) fn failed(&self, took: Duration) {
        let mut st = lock(&self.state);
        st.failures = st.failures.saturating_add(1);
        let backoff = self
            .initial_backoff
            .saturating_mul(1 << st.failures.saturating_sub(1).min(16))
            .min(MAX_BACKOFF);
        st.blocked_until = Some(Instant::now() + backoff);
        st.answer_ms = 0.8 * st.answer_ms + 0.2 * took.as_secs_f64() * 1000.0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn go(a: Admit) -> Arc<Gate> {
        match a {
            Admit::Go(g) => g,
            Admit::Defer(d) => panic!("deferred by {d:?}"),
        }
    }

    #[test]
    fn one_sink_holds_at_most_its_queue_and_the_others_are_not_touched() {
        let gates = Gates::new(2, 3, Duration::from_millis(500));
        let held: Vec<_> = (0..3).map(|_| go(gates.admit("http://slow.example:8080/a"))).collect();
        // Same origin, other path: the same sink.
        assert!(matches!(gates.admit("http://slow.example:8080/b"), Admit::Defer(_)));
        go(gates.admit("http://other.example/a"));
        held[0].release();
        go(gates.admit("http://slow.example:8080/a"));
        assert_eq!(
            held[0].permits.available_permits(),
            2,
            "permits are taken per request, not per claim"
        );
    }

    #[test]
    fn a_failure_backs_the_sink_off_doubling_and_a_success_clears_it() {
        let gates = Gates::new(4, 8, Duration::from_millis(400));
        let g = go(gates.admit("https://hook.example/x"));
        g.failed(Duration::from_millis(1));
        let Admit::Defer(first) = gates.admit("https://hook.example/y") else {
            panic!("a failed sink must be backed off")
        };
        assert!(
            first > Duration::from_millis(300) && first <= Duration::from_millis(400),
            "{first:?}"
        );
        g.failed(Duration::from_millis(1));
        assert!(g.blocked_for().is_some_and(|d| d > Duration::from_millis(700)));
        for _ in 0..40 {
            g.failed(Duration::from_millis(1));
        }
        assert!(g.blocked_for().is_some_and(|d| d <= MAX_BACKOFF));
        g.succeeded(Duration::from_millis(1));
        assert!(g.blocked_for().is_none());
        go(gates.admit("https://hook.example/z"));
    }
}
