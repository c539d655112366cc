//! `charging.kind: file`: final usage records as JSON Lines in a directory, for operators who
//! bill in batch. Records go to `usage-<opened>.jsonl.open`; at the rotation time or size the
//! file is synced and renamed to `usage-<opened>.jsonl`, which is then complete and never
//! written again (collectors take only `*.jsonl`). Every write is synced before the store's
//! marker moves past it. After a crash the open file is the truth: a torn last line is cut
//! off, and the positions in its records say where each shard got to, so a restart neither
//! skips nor repeats a record.

use crate::export::{ExportError, Sink};
use crate::record::{Renderer, UsageRecord};
use async_trait::async_trait;
use booking::usage::{LedgerEntry, LedgerPosition};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use time::{Duration, OffsetDateTime};
use tokio::io::AsyncWriteExt;
use tokio::sync::Mutex;

const OPEN_SUFFIX: &str = ".jsonl.open";

#[derive(Debug, Clone)]
pub struct FileSettings {
    pub dir: PathBuf,
    /// A file is closed this long after it was opened...
    pub rotate_every: Duration,
    /// ...or once it holds this many bytes.
    pub max_bytes: u64,
}

pub struct FileSink {
    renderer: Arc<Renderer>,
    settings: FileSettings,
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    recovered: bool,
    open: Option<OpenFile>,
    /// The last position written per shard (of the open file, after recovery).
    written: HashMap<u16, LedgerPosition>,
}

struct OpenFile {
    path: PathBuf,
    file: tokio::fs::File,
    opened_at: OffsetDateTime,
    bytes: u64,
}

fn io(what: &str, e: std::io::Error) -> ExportError {
    ExportError::Destination(format!("{what}: {e}"))
}

impl FileSink {
    pub fn new(renderer: Arc<Renderer>, settings: FileSettings) -> Self {
        Self {
            renderer,
            settings,
            state: Mutex::new(State::default()),
        }
    }

    /// The open file left by an earlier run, if any (the newest by name).
    async fn left_open(&self) -> Result<Option<PathBuf>, ExportError> {
        let mut dir = tokio::fs::read_dir(&self.settings.dir)
            .await
            .map_err(|e| io("cannot read the usage directory", e))?;
        let mut newest: Option<PathBuf> = None;
        while let Some(entry) = dir
            .next_entry()
            .await
            .map_err(|e| io("cannot read the usage directory", e))?
        {
            let path = entry.path();
            let open = path
                .file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.ends_with(OPEN_SUFFIX));
            if open && newest.as_ref().is_none_or(|n| path > *n) {
                newest = Some(path);
            }
        }
        Ok(newest)
    }

    /// Once per process: takes over an open file left by a crash, cut to its last whole line.
    async fn recover(&self, state: &mut State) -> Result<(), ExportError> {
        if state.recovered {
            return Ok(());
        }
        tokio::fs::create_dir_all(&self.settings.dir)
            .await
            .map_err(|e| io("cannot create the usage directory", e))?;
        if let Some(path) = self.left_open().await? {
            let bytes = tokio::fs::read(&path)
                .await
                .map_err(|e| io("cannot read the open usage file", e))?;
            let whole = bytes.iter().rposition(|&b| b == b'\n').map_or(0, |p| p + 1);
            for line in bytes[..whole].split(|&b| b == b'\n').filter(|l| !l.is_empty()) {
                let r: UsageRecord = serde_json::from_slice(line).map_err(|e| {
                    ExportError::Destination(format!(
                        "{} holds a line that is not a usage record: {e}",
                        path.display()
                    ))
                })?;
                if let Some(p) = LedgerPosition::parse(&r.ledger.position) {
                    let w = state.written.entry(r.ledger.shard).or_default();
                    *w = (*w).max(p);
                }
            }
            let file = tokio::fs::OpenOptions::new()
                .write(true)
                .open(&path)
                .await
                .map_err(|e| io("cannot open the usage file", e))?;
            let whole = u64::try_from(whole).unwrap_or(u64::MAX);
            file.set_len(whole)
                .await
                .map_err(|e| io("cannot cut the torn usage line", e))?;
            file.sync_all().await.map_err(|e| io("cannot sync the usage file", e))?;
            let mut file = file;
            use tokio::io::AsyncSeekExt;
            file.seek(std::io::SeekFrom::End(0))
                .await
                .map_err(|e| io("cannot seek the usage file", e))?;
            let opened_at = opened_at_of(&path).unwrap_or(OffsetDateTime::UNIX_EPOCH);
            state.open = Some(OpenFile {
                path,
                file,
                opened_at,
                bytes: whole,
            });
        }
        state.recovered = true;
        Ok(())
    }

    /// Closes the open file if it is due for rotation (or `force`).
    async fn rotate(&self, state: &mut State, now: OffsetDateTime, force: bool) -> Result<(), ExportError> {
        let due = state.open.as_ref().is_some_and(|f| {
            force || f.bytes >= self.settings.max_bytes || now - f.opened_at >= self.settings.rotate_every
        });
        if !due {
            return Ok(());
        }
        if let Some(f) = state.open.take() {
            f.file
                .sync_all()
                .await
                .map_err(|e| io("cannot sync the usage file", e))?;
            drop(f.file);
            let closed = closed_name(&f.path);
            tokio::fs::rename(&f.path, &closed)
                .await
                .map_err(|e| io("cannot close the usage file", e))?;
            sync_dir(&self.settings.dir).await?;
            state.written.clear();
        }
        Ok(())
    }

    async fn open(&self, state: &mut State, now: OffsetDateTime) -> Result<(), ExportError> {
        if state.open.is_some() {
            return Ok(());
        }
        let stamp = stamp(now);
        let mut n = 0;
        let (path, file) = loop {
            let path = self.settings.dir.join(format!("usage-{stamp}-{n}{OPEN_SUFFIX}"));
            let taken = tokio::fs::try_exists(&path).await.unwrap_or(false)
                || tokio::fs::try_exists(closed_name(&path)).await.unwrap_or(false);
            if !taken {
                let file = tokio::fs::OpenOptions::new()
                    .create_new(true)
                    .append(true)
                    .open(&path)
                    .await
                    .map_err(|e| io("cannot create a usage file", e))?;
                break (path, file);
            }
            n += 1;
        };
        sync_dir(&self.settings.dir).await?;
        state.open = Some(OpenFile {
            path,
            file,
            opened_at: now,
            bytes: 0,
        });
        Ok(())
    }

    /// Closes the open file now (shutdown, tests).
    pub async fn close(&self, now: OffsetDateTime) -> Result<(), ExportError> {
        let mut state = self.state.lock().await;
        self.recover(&mut state).await?;
        self.rotate(&mut state, now, true).await
    }
}

#[async_trait]
impl Sink for FileSink {
    fn name(&self) -> &str {
        "file"
    }

    async fn taken_over(&self) -> Result<(), ExportError> {
        // Whatever another replica wrote to a shared directory is read again.
        *self.state.lock().await = State::default();
        Ok(())
    }

    async fn resume_point(&self, shard: u16) -> Result<Option<LedgerPosition>, ExportError> {
        let mut state = self.state.lock().await;
        self.recover(&mut state).await?;
        Ok(state.written.get(&shard).copied())
    }

    async fn put(&self, shard: u16, entries: &[LedgerEntry], now: OffsetDateTime) -> Result<(), ExportError> {
        let mut lines = Vec::new();
        let mut last = None;
        for e in entries {
            if let Some(r) = self.renderer.record(e) {
                serde_json::to_writer(&mut lines, &r).map_err(|e| ExportError::Destination(e.to_string()))?;
                lines.push(b'\n');
                last = Some(e.position);
            }
        }
        let Some(last) = last else {
            return Ok(()); // starts only: nothing to bill in a file
        };
        let mut state = self.state.lock().await;
        self.recover(&mut state).await?;
        // Rotation only between batches: an unmarked batch is always in the open file.
        self.rotate(&mut state, now, false).await?;
        self.open(&mut state, now).await?;
        let Some(f) = state.open.as_mut() else {
            return Err(ExportError::Destination("no open usage file".into()));
        };
        f.file
            .write_all(&lines)
            .await
            .map_err(|e| io("cannot write the usage file", e))?;
        f.file
            .sync_data()
            .await
            .map_err(|e| io("cannot sync the usage file", e))?;
        f.bytes += u64::try_from(lines.len()).unwrap_or(u64::MAX);
        let w = state.written.entry(shard).or_default();
        *w = (*w).max(last);
        Ok(())
    }

    async fn tick(&self, now: OffsetDateTime) -> Result<(), ExportError> {
        let mut state = self.state.lock().await;
        self.recover(&mut state).await?;
        self.rotate(&mut state, now, false).await
    }
}

fn closed_name(open: &Path) -> PathBuf {
    let name = open.file_name().and_then(|n| n.to_str()).unwrap_or_default();
    open.with_file_name(name.trim_end_matches(".open"))
}

fn stamp(t: OffsetDateTime) -> String {
    let t = t.to_offset(time::UtcOffset::UTC);
    format!(
        "{:04}{:02}{:02}T{:02}{:02}{:02}Z",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second()
    )
}

/// The time in a file's name (`usage-<stamp>-<n>...`).
fn opened_at_of(path: &Path) -> Option<OffsetDateTime> {
    let name = path.file_name()?.to_str()?;
    let stamp = name.strip_prefix("usage-")?.get(..16)?;
    let format = time::macros::format_description!("[year][month][day]T[hour][minute][second]Z");
    time::PrimitiveDateTime::parse(stamp, &format)
        .ok()
        .map(|t| t.assume_utc())
}

/// A rename or a new file is durable once its directory is synced.
async fn sync_dir(dir: &Path) -> Result<(), ExportError> {
    let d = tokio::fs::File::open(dir)
        .await
        .map_err(|e| io("cannot open the usage directory", e))?;
    d.sync_all().await.map_err(|e| io("cannot sync the usage directory", e))
}

#[cfg(test)]
mod tests;
