//! The file export end to end on the memory store: every final record once, across
//! restarts, torn writes and rotations.

use super::*;
use crate::export::{ExportSettings, Exporter};
use crate::record::DeviceIdentity;
use crate::testing::{T0, TestFront, served};
use booking::{BookingStore, Clock, ManualClock, StatusInfo};
use store::MemoryStore;

struct Fixture {
    store: Arc<MemoryStore>,
    clock: Arc<ManualClock>,
    dir: tempfile::TempDir,
}

impl Fixture {
    fn new() -> Self {
        Self {
            store: Arc::new(MemoryStore::new()),
            clock: Arc::new(ManualClock::new(T0)),
            dir: tempfile::tempdir().unwrap(),
        }
    }

    fn sink(&self, max_bytes: u64) -> Arc<FileSink> {
        let renderer = Arc::new(Renderer::new(TestFront, DeviceIdentity::Clear));
        Arc::new(FileSink::new(
            renderer,
            FileSettings {
                dir: self.dir.path().to_owned(),
                rotate_every: Duration::hours(1),
                max_bytes,
            },
        ))
    }

    fn exporter(&self, sink: Arc<FileSink>) -> Exporter {
        Exporter::new(
            self.store.clone(),
            sink,
            self.clock.clone(),
            ExportSettings {
                holder: "replica-a".into(),
                lease: Duration::seconds(30),
                poll: std::time::Duration::from_millis(10),
                batch: 7,
            },
        )
    }

    /// `n` bookings that were in place and ended, each through the store as the service does.
    async fn lives(&self, from: u32, n: u32) {
        for i in from..from + n {
            let (active, ended) = served("c1", i, 60 + i64::from(i), StatusInfo::DurationExpired);
            let mut scheduled = active.clone();
            scheduled.status = booking::BookingStatus::Scheduled;
            scheduled.started_at = None;
            scheduled.version = active.version - 1;
            self.store.create(&scheduled, None, None).await.unwrap();
            assert!(self.store.update(&active, None, None).await.unwrap());
            assert!(self.store.update(&ended, None, None).await.unwrap());
        }
    }

    /// Every record in every file of the directory (open or closed), with its file's name.
    fn written(&self) -> Vec<(String, UsageRecord)> {
        let mut out = Vec::new();
        let mut names: Vec<_> = std::fs::read_dir(self.dir.path())
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        names.sort();
        for path in names {
            let text = std::fs::read_to_string(&path).unwrap();
            for line in text.lines() {
                let name = path.file_name().unwrap().to_string_lossy().into_owned();
                out.push((name, serde_json::from_str(line).unwrap()));
            }
        }
        out
    }
}

fn ids(records: &[(String, UsageRecord)]) -> Vec<String> {
    let mut ids: Vec<String> = records.iter().map(|(_, r)| r.booking_id.clone()).collect();
    ids.sort();
    ids
}

#[tokio::test]
async fn every_final_record_is_written_once_and_a_second_pass_adds_nothing() {
    let f = Fixture::new();
    f.lives(0, 20).await;
    let exporter = f.exporter(f.sink(u64::MAX));
    // 40 entries: 20 starts (not written to files) and 20 ends.
    assert_eq!(exporter.pass().await.unwrap(), 40);
    assert_eq!(exporter.pass().await.unwrap(), 0);
    let written = f.written();
    assert_eq!(written.len(), 20);
    let mut unique = ids(&written);
    unique.dedup();
    assert_eq!(unique.len(), 20);
    let seconds: u64 = written.iter().map(|(_, r)| r.in_place_seconds).sum();
    assert_eq!(seconds, (0..20).map(|i| 60 + i).sum::<u64>());
}

#[tokio::test]
async fn a_crash_after_writing_and_before_the_marker_neither_skips_nor_repeats() {
    let f = Fixture::new();
    f.lives(0, 10).await;
    // A first process writes a batch, then dies before the store's marker moves...
    let first = f.sink(u64::MAX);
    let entries = f.store.ledger(0, Default::default(), 12).await.unwrap();
    first.put(0, &entries, T0).await.unwrap();
    drop(first);
    // ...and its last line was torn by the crash (half a record, no newline).
    let open = std::fs::read_dir(f.dir.path()).unwrap().next().unwrap().unwrap().path();
    let mut bytes = std::fs::read(&open).unwrap();
    let whole = bytes.len();
    bytes.extend_from_slice(b"{\"recordVersion\":1,\"recordId\":\"tor");
    std::fs::write(&open, &bytes).unwrap();

    f.lives(10, 5).await;
    let exporter = f.exporter(f.sink(u64::MAX));
    exporter.pass().await.unwrap();
    let written = f.written();
    assert_eq!(written.len(), 15, "every record once: {:?}", ids(&written));
    let mut unique = ids(&written);
    unique.dedup();
    assert_eq!(unique.len(), 15);
    assert!(std::fs::read(&open).unwrap().len() > whole, "appended after the cut");
}

#[tokio::test]
async fn files_rotate_by_size_and_time_and_closed_files_are_complete() {
    let f = Fixture::new();
    f.lives(0, 30).await;
    let sink = f.sink(2_000);
    let exporter = f.exporter(sink.clone());
    exporter.pass().await.unwrap();
    f.clock.advance(Duration::minutes(61));
    sink.tick(f.clock.now()).await.unwrap();
    let written = f.written();
    assert_eq!(written.len(), 30);
    let files: std::collections::BTreeSet<_> = written.iter().map(|(n, _)| n.clone()).collect();
    assert!(files.len() > 1, "rotated by size: {files:?}");
    assert!(
        files.iter().all(|n| n.ends_with(".jsonl")),
        "all closed after the hour: {files:?}"
    );
    // New records after the rotation go to a new file.
    f.lives(30, 1).await;
    exporter.pass().await.unwrap();
    assert!(f.written().iter().any(|(n, _)| n.ends_with(".jsonl.open")));
}

#[tokio::test]
async fn only_the_lease_holder_exports() {
    let f = Fixture::new();
    f.lives(0, 3).await;
    assert!(
        f.store
            .lease("file", "replica-b", Duration::seconds(30))
            .await
            .unwrap()
            .held()
    );
    let exporter = f.exporter(f.sink(u64::MAX));
    assert_eq!(exporter.pass().await.unwrap(), 0);
    assert!(f.written().is_empty());
}

#[tokio::test]
async fn a_replica_taking_the_lease_back_in_a_shared_directory_neither_skips_nor_repeats() {
    let f = Fixture::new();
    f.lives(0, 6).await;
    let short = |holder: &str, sink: Arc<FileSink>| {
        Exporter::new(
            f.store.clone(),
            sink,
            f.clock.clone(),
            ExportSettings {
                holder: holder.into(),
                lease: Duration::milliseconds(100),
                poll: std::time::Duration::from_millis(10),
                batch: 7,
            },
        )
    };
    // Replica b exports first (its file open, its positions remembered)...
    let b = short("replica-b", f.sink(u64::MAX));
    assert_eq!(b.pass().await.unwrap(), 12);
    tokio::time::sleep(std::time::Duration::from_millis(150)).await;
    // ...then a holds the lease, appends a batch to the same open file and dies before its
    // marker moves.
    f.lives(6, 4).await;
    assert!(
        f.store
            .lease("file", "replica-a", Duration::milliseconds(100))
            .await
            .unwrap()
            .held()
    );
    let a_sink = f.sink(u64::MAX);
    let unmarked = f
        .store
        .ledger(0, f.store.ledger_marker("file", 0).await.unwrap(), 100)
        .await
        .unwrap();
    assert_eq!(unmarked.len(), 8);
    a_sink.put(0, &unmarked, T0).await.unwrap();
    drop(a_sink);
    tokio::time::sleep(std::time::Duration::from_millis(150)).await;
    // b takes the lease back: it reads the directory again, so nothing is written twice and
    // nothing of a's is overwritten.
    f.lives(10, 2).await;
    b.pass().await.unwrap();
    let written = f.written();
    let mut unique = ids(&written);
    unique.dedup();
    assert_eq!((written.len(), unique.len()), (12, 12), "{:?}", ids(&written));
}
