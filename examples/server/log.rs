//! The server's log output: each line is appended to a shared buffer, and a thread of its own
//! writes what has gathered out in one write, a few milliseconds after the first line of a batch
//! arrived. A request's worker thus pays one uncontended lock for its log line, and the writing
//! thread wakes once per batch, not once per line.
//!
//! (tracing-appender's `non_blocking`, used before, hands each line over a channel whose receiver
//! spins and yields before it sleeps: under `loadgen small` its thread took 13 % of the server's
//! CPU, most of it spinning; see BENCHMARKS.md.) Nothing is dropped: when the buffer is full a
//! worker waits for the writer, so memory stays bounded.

use std::io::{self, Write};
use std::mem;
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::thread::JoinHandle;
use std::time::Duration;

use tracing_subscriber::fmt::MakeWriter;

/// How long a batch gathers after its first line before it is written.
const GATHER: Duration = Duration::from_millis(5);
/// A buffer this full is written at once.
const WRITE_NOW: usize = 256 * 1024;
/// A buffer this full makes workers wait for the writer (nothing is dropped).
const FULL: usize = 8 * 1024 * 1024;

/// The log's writer (give it to `tracing_subscriber::fmt().with_writer`); cheap to clone.
#[derive(Clone)]
pub struct BatchedLog {
    shared: Arc<Shared>,
}

/// Writes out what is left and stops the writing thread when dropped.
pub struct Flushed {
    shared: Arc<Shared>,
    thread: Option<JoinHandle<()>>,
}

struct Shared {
    state: Mutex<State>,
    /// Signalled when a batch starts (or the buffer is to be written at once, or the log closes).
    batch: Condvar,
    /// Signalled when the buffer has been taken by the writer.
    taken: Condvar,
}

#[derive(Default)]
struct State {
    buffer: Vec<u8>,
    closed: bool,
}

impl Shared {
    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// A log whose lines go to `out`, written by a thread named `log`.
pub fn batched(mut out: impl Write + Send + 'static) -> io::Result<(BatchedLog, Flushed)> {
    let shared = Arc::new(Shared {
        state: Mutex::new(State::default()),
        batch: Condvar::new(),
        taken: Condvar::new(),
    });
    let writer = shared.clone();
    let thread = std::thread::Builder::new()
        .name("log".into())
        .spawn(move || {
            let mut spare = Vec::new();
            loop {
                let mut state = writer.state();
                while state.buffer.is_empty() && !state.closed {
                    state = writer
                        .batch
                        .wait(state)
                        .unwrap_or_else(PoisonError::into_inner);
                }
                if state.buffer.is_empty() {
                    return; // closed, and everything written
                }
                if state.buffer.len() < WRITE_NOW && !state.closed {
                    // Let the batch gather: lines keep arriving meanwhile.
                    drop(state);
                    std::thread::sleep(GATHER);
                    state = writer.state();
                }
                mem::swap(&mut state.buffer, &mut spare);
                drop(state);
                writer.taken.notify_all();
                // A failed write (stdout closed) loses these lines; the server goes on.
                let _ = out.write_all(&spare).and_then(|()| out.flush());
                spare.clear();
            }
        })?;
    let log = BatchedLog {
        shared: shared.clone(),
    };
    Ok((
        log,
        Flushed {
            shared,
            thread: Some(thread),
        },
    ))
}

impl Drop for Flushed {
    fn drop(&mut self) {
        self.shared.state().closed = true;
        self.shared.batch.notify_one();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// One line being written (what [`BatchedLog::make_writer`] returns).
pub struct LineWriter<'a> {
    shared: &'a Shared,
}

impl Write for LineWriter<'_> {
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        let mut state = self.shared.state();
        while state.buffer.len() >= FULL && !state.closed {
            state = self
                .shared
                .taken
                .wait(state)
                .unwrap_or_else(PoisonError::into_inner);
        }
        let starts_batch = state.buffer.is_empty();
        state.buffer.extend_from_slice(bytes);
        let write_now = state.buffer.len() >= WRITE_NOW;
        drop(state);
        if starts_batch || write_now {
            self.shared.batch.notify_one();
        }
        Ok(bytes.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl<'a> MakeWriter<'a> for BatchedLog {
    type Writer = LineWriter<'a>;

    fn make_writer(&'a self) -> Self::Writer {
        LineWriter {
            shared: &self.shared,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A `Write` that keeps what it is given, shared with the test.
    #[derive(Clone, Default)]
    struct Kept(Arc<Mutex<Vec<u8>>>);

    impl Write for Kept {
        fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(bytes);
            Ok(bytes.len())
        }

        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn every_line_from_every_thread_is_written_whole_by_the_end() {
        let kept = Kept::default();
        let (log, flushed) = batched(kept.clone()).unwrap();
        std::thread::scope(|scope| {
            for thread in 0..4 {
                let log = log.clone();
                scope.spawn(move || {
                    for line in 0..5000 {
                        let text = format!("thread {thread} line {line}\n");
                        log.make_writer().write_all(text.as_bytes()).unwrap();
                    }
                });
            }
        });
        drop(flushed);
        let text = String::from_utf8(kept.0.lock().unwrap().clone()).unwrap();
        assert_eq!(text.lines().count(), 20_000);
        for thread in 0..4 {
            let lines: Vec<&str> = text
                .lines()
                .filter(|l| l.starts_with(&format!("thread {thread} ")))
                .collect();
            let expected: Vec<String> = (0..5000)
                .map(|line| format!("thread {thread} line {line}"))
                .collect();
            assert_eq!(lines, expected, "each thread's lines whole and in order");
        }
    }

    #[test]
    fn a_line_is_written_soon_without_more_lines_or_a_close() {
        let kept = Kept::default();
        let (log, _flushed) = batched(kept.clone()).unwrap();
        log.make_writer().write_all(b"alone\n").unwrap();
        let deadline = std::time::Instant::now() + Duration::from_secs(5);
        while kept.0.lock().unwrap().is_empty() {
            assert!(std::time::Instant::now() < deadline, "never written");
            std::thread::sleep(Duration::from_millis(1));
        }
        assert_eq!(kept.0.lock().unwrap().as_slice(), b"alone\n");
    }
}
