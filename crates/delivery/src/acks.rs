//! Acknowledgements in batches. Each delivery still waits for its own acknowledgement before
//! it sends the booking's next event (so order and the claim's release are as before), but
//! the acknowledgements of every delivery of the replica that end meanwhile go to the store
//! in one call (`BookingStore::ack_events`) instead of one call each. No timer holds them:
//! those that arrive while a call is under way make the next call, so under light load an
//! acknowledgement goes at once and under heavy load the calls grow.

use booking::{BookingStore, Chain, EventAck};
use std::sync::{Arc, Mutex};
use tokio::sync::{mpsc, oneshot};
use tracing::warn;

/// The most acknowledgements one call carries (the store splits them further as it needs).
const MAX_BATCH: usize = 1024;

type Pending = (EventAck, oneshot::Sender<bool>);

pub(crate) struct Acks {
    tx: mpsc::UnboundedSender<Pending>,
    /// Taken by the task that sends them, started with the worker.
    rx: Mutex<Option<mpsc::UnboundedReceiver<Pending>>>,
}

impl Acks {
    pub(crate) fn new() -> Self {
        let (tx, rx) = mpsc::unbounded_channel();
        Self {
            tx,
            rx: Mutex::new(Some(rx)),
        }
    }

    /// Starts sending acknowledgements to `store` (once; later calls do nothing). The task
    /// ends when the last handle to these `Acks` is gone.
    pub(crate) fn start(&self, store: Arc<dyn BookingStore>) {
        let Some(rx) = self.rx.lock().unwrap_or_else(|p| p.into_inner()).take() else {
            return;
        };
        tokio::spawn(send(rx, store));
    }

    /// Acknowledges `ack`; true once the store holds it. False: not acknowledged (the event
    /// comes back after its lease, with the same id).
    pub(crate) async fn ack(&self, ack: EventAck) -> bool {
        let (done, answer) = oneshot::channel();
        if self.tx.send((ack, done)).is_err() {
            return false;
        }
        answer.await.unwrap_or(false)
    }
}

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
    async fn without_a_running_sender_nothing_counts_as_acknowledged() {
        let acks = Acks::new();
        drop(acks.rx.lock().unwrap().take());
        let ack = EventAck {
            booking: booking::BookingId::new(),
            event_id: "e".into(),
            release: true,
        };
        assert!(!acks.ack(ack).await);
    }
}
