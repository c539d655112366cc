//! Acknowledgements in batches. Each delivery still waits for its own acknowledgement before
//! it sends the booking's next event (so order and the claim's release are as before), but
//! the acknowledgements of the replica's deliveries that end meanwhile go to the store in one
//! call per part of the store (`BookingStore::ack_events`, a Redis shard each) instead of
//! one call each. No timer holds them:
//! those that arrive while a call is under way make the next call, so under light load an
//! acknowledgement goes at once and under heavy load the calls grow.

use booking::{BookingStore, Chain, EventAck};
use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};
use tokio::sync::{mpsc, oneshot};
use tracing::warn;

/// The most acknowledgements one call carries (the store splits them further as it needs).
const MAX_BATCH: usize = 1024;

type Pending = (EventAck, oneshot::Sender<bool>);

/// One sender task per part of the store ([`BookingStore::part_of`], a Redis shard): a part
/// that stops answering (its primary failing over) holds up only the deliveries of its own
/// bookings, not those of every shard the batch would otherwise have mixed in.
pub(crate) struct Acks {
    store: OnceLock<Arc<dyn BookingStore>>,
    /// Each part's sender, started on its first acknowledgement; a lane's task ends when its
    /// sender here is dropped (with these `Acks`).
    lanes: Mutex<HashMap<usize, mpsc::UnboundedSender<Pending>>>,
}

impl Acks {
    pub(crate) fn new() -> Self {
        Self {
            store: OnceLock::new(),
            lanes: Mutex::new(HashMap::new()),
        }
    }

    /// Sends acknowledgements to `store` from now on (the first call wins).
    pub(crate) fn start(&self, store: Arc<dyn BookingStore>) {
        let _ = self.store.set(store);
    }

    /// Acknowledges `ack`; true once the store holds it. False: not acknowledged (the event
    /// comes back after its lease, with the same id).
    pub(crate) async fn ack(&self, ack: EventAck) -> bool {
        let Some(store) = self.store.get() else {
            return false;
        };
        let (done, answer) = oneshot::channel();
        let part = store.part_of(ack.booking);
        let sent = {
            let mut lanes = self.lanes.lock().unwrap_or_else(|p| p.into_inner());
            // A lane whose task is gone (it panicked) is started again.
            let lane = lanes.entry(part).or_insert_with(|| start_lane(store));
            if lane.is_closed() {
                *lane = start_lane(store);
            }
            lane.send((ack, done)).is_ok()
        };
        sent && answer.await.unwrap_or(false)
    }
}

fn start_lane(store: &Arc<dyn BookingStore>) -> mpsc::UnboundedSender<Pending> {
    let (tx, rx) = mpsc::unbounded_channel();
    tokio::spawn(send(rx, store.clone()));
    tx
}

/// One lane: acknowledgements that arrive while a call is under way make the next call.
async fn send(mut rx: mpsc::UnboundedReceiver<Pending>, store: Arc<dyn BookingStore>) {
    let mut batch: Vec<Pending> = Vec::new();
    while rx.recv_many(&mut batch, MAX_BATCH).await > 0 {
        let (acks, done): (Vec<EventAck>, Vec<_>) = batch.drain(..).unzip();
        let stored = match store.ack_events(&acks).await {
            Ok(stored) => stored,
            Err(e) => {
                warn!(events = acks.len(), error = %Chain(&e), "could not acknowledge delivered events");
                Vec::new()
            }
        };
        for (i, done) in done.into_iter().enumerate() {
            let _ = done.send(stored.get(i).copied().unwrap_or(false));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn before_start_nothing_counts_as_acknowledged() {
        let acks = Acks::new();
        let ack = EventAck {
            booking: booking::BookingId::new(),
            event_id: "e".into(),
            release: true,
        };
        assert!(!acks.ack(ack).await);
    }
}
