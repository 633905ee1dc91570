//! Threads of the server's own for CPU-heavy work (password hashes, photo variants), below the
//! request workers' scheduling priority, so that a burst of such work never stalls requests: a
//! request worker that wakes up preempts them (see `priority`).
//!
//! Work is queued first come, first served and runs on a fixed number of threads, so at most
//! that many pieces run (and hold their memory) at once. Each thread keeps a state of its own
//! between jobs (password hashing keeps its 19 MiB block buffer there). Work whose caller
//! stopped waiting before a thread took it (the client went away) is skipped; a panic is an
//! error for its caller, and the thread goes on.
//!
//! The threads are not tokio's blocking pool because the priority cannot be put back: an
//! unprivileged thread may lower its priority but not raise it again, so a blocking-pool thread
//! lowered for one job would run every later file read and write at the lowered priority too.

use std::future::Future;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::{Arc, Mutex, PoisonError, mpsc};

use tokio::sync::oneshot;

use crate::error::{Result, ServiceError};

/// How much the threads lower their priority (their nice value) below that of the thread that
/// started them, up to the lowest priority (nice 19). At +10 a job gets about a tenth of a core
/// that a request worker also wants (scheduler weights 110 against 1024).
pub(crate) const NICE_INCREMENT: i32 = 10;

/// Work for a thread, given the thread's state.
type Job<S> = Box<dyn FnOnce(&mut S) + Send>;

/// Threads that run queued work at a lowered priority, each with a state `S` of its own.
/// Dropping the pool ends the threads once the queued work is done.
pub(crate) struct Workers<S> {
    /// What the work is, for messages (`"password hashing"`).
    what: &'static str,
    jobs: mpsc::Sender<Job<S>>,
}

impl<S: 'static> Workers<S> {
    /// Starts `threads` threads named `<name>-<n>`; each makes its state with `state` before its
    /// first job. A thread that cannot be started is logged and left out; with none, every job
    /// fails.
    pub(crate) fn start(what: &'static str, name: &str, threads: usize, state: fn() -> S) -> Self {
        let (jobs, queue) = mpsc::channel::<Job<S>>();
        let queue = Arc::new(Mutex::new(queue));
        for index in 0..threads {
            let queue = queue.clone();
            let started = std::thread::Builder::new()
                .name(format!("{name}-{index}"))
                .spawn(move || work(what, &queue, state));
            if let Err(error) = started {
                tracing::error!(%error, "could not start a thread for {what}");
            }
        }
        Workers { what, jobs }
    }

    /// Queues `job` for the next free thread and returns its result. The job is queued at
    /// once, before the returned future is first polled; if that future is dropped before a
    /// thread takes the job, the job is skipped.
    pub(crate) fn run<T, W>(&self, job: W) -> impl Future<Output = Result<T>> + use<T, W, S>
    where
        T: Send + 'static,
        W: FnOnce(&mut S) -> Result<T> + Send + 'static,
    {
        let what = self.what;
        let (reply, answer) = oneshot::channel();
        let job: Job<S> = Box::new(move |state| {
            if reply.is_closed() {
                return; // nobody waits for this any more
            }
            let result = catch_unwind(AssertUnwindSafe(|| job(state)))
                .unwrap_or_else(|_| Err(internal(what, "panicked")));
            let _ = reply.send(result);
        });
        let queued = self
            .jobs
            .send(job)
            .map_err(|_| internal(what, "has no thread running"));
        async move {
            queued?;
            answer.await.map_err(|_| internal(what, "lost a thread"))?
        }
    }
}

/// The cores but one, at least one: how many threads a pool gets unless configured.
pub(crate) fn cores_but_one() -> usize {
    let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
    cores.saturating_sub(1).max(1)
}

/// A pool's thread: lowers its priority, then runs queued jobs with its state (made at the
/// first job) until the queue is closed.
fn work<S>(what: &str, queue: &Mutex<mpsc::Receiver<Job<S>>>, state: fn() -> S) {
    if let Err(error) = crate::priority::lower_thread_priority(NICE_INCREMENT) {
        tracing::warn!(%error, "{what} runs at the request workers' priority");
    }
    let mut kept: Option<S> = None;
    loop {
        let next = queue.lock().unwrap_or_else(PoisonError::into_inner).recv();
        let Ok(job) = next else {
            return;
        };
        job(kept.get_or_insert_with(state));
    }
}

fn internal(what: &str, happened: &str) -> ServiceError {
    ServiceError::Internal(format!("{what} {happened}").into())
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::{Arc, mpsc};

    use super::{NICE_INCREMENT, Workers};
    use crate::Result;

    #[tokio::test]
    async fn each_thread_keeps_its_state_between_jobs() {
        let workers = Workers::start("counting", "count", 1, || 0u32);
        for expected in 1..=3 {
            let seen = workers.run(|count: &mut u32| {
                *count += 1;
                Ok(*count)
            });
            assert_eq!(seen.await.unwrap(), expected);
        }
    }

    #[tokio::test]
    async fn jobs_nobody_waits_for_are_skipped_and_panics_are_errors() {
        let workers = Workers::start("testing", "test", 1, || ());
        let (started, running) = mpsc::channel();
        let (release, gate) = mpsc::channel::<()>();
        let busy = workers.run(move |_| {
            started.send(()).unwrap();
            gate.recv().unwrap();
            Ok(())
        });
        running.recv().unwrap();
        let ran = Arc::new(AtomicBool::new(false));
        let abandoned = workers.run({
            let ran = ran.clone();
            move |_| {
                ran.store(true, Ordering::SeqCst);
                Ok(())
            }
        });
        drop(abandoned);
        release.send(()).unwrap();
        busy.await.unwrap();
        let error = workers
            .run(|_| -> Result<()> { panic!("boom") })
            .await
            .unwrap_err();
        let reason = std::error::Error::source(&error).unwrap().to_string();
        assert!(reason.contains("testing panicked"), "{reason}");
        // The thread lived on, and ran its queue in order: the abandoned job came and went.
        workers.run(|_| Ok(())).await.unwrap();
        assert!(!ran.load(Ordering::SeqCst));
    }

    #[cfg(target_os = "linux")]
    #[tokio::test]
    async fn jobs_run_below_the_priority_of_the_thread_that_started_them() {
        use crate::priority::thread_nice as nice;
        let ours = nice();
        let workers = Workers::start("nice check", "nice", 1, || ());
        let theirs = workers.run(move |_| Ok(nice())).await.unwrap();
        let again = workers.run(move |_| Ok(nice())).await.unwrap();
        assert_eq!(theirs, (ours + NICE_INCREMENT).min(19));
        assert_eq!(again, theirs, "the thread stays lowered");
        assert_eq!(nice(), ours, "the calling thread keeps its priority");
    }
}
