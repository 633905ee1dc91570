//! Background work below the request workers' priority: threads that hash (passwords,
//! uploads) lower their own scheduling priority when they start, so that a request worker that
//! wakes up preempts them, and small reads keep their latency while hashes wait a little.
//!
//! On Linux a thread's nice value is its own (`setpriority` on a thread id). An unprivileged
//! thread may lower its priority but not raise it again, so only threads that do nothing else
//! call [`lower_thread_priority`]: never a blocking-pool thread, which would run every later
//! file read and write at the lowered priority too. Elsewhere `setpriority` names whole
//! processes, and threads keep the normal priority.

/// Lowers the calling thread's scheduling priority by `increment` nice levels (at most to nice
/// 19); returns the new nice value. Only the calling thread changes.
#[cfg(target_os = "linux")]
pub(crate) fn lower_thread_priority(increment: i32) -> std::io::Result<i32> {
    use rustix::process::{getpriority_process, setpriority_process};
    let me = Some(rustix::thread::gettid());
    let nice = (getpriority_process(me)? + increment).min(19);
    setpriority_process(me, nice)?;
    Ok(nice)
}

/// Elsewhere the thread keeps its priority (see the module documentation).
#[cfg(not(target_os = "linux"))]
pub(crate) fn lower_thread_priority(_increment: i32) -> std::io::Result<i32> {
    Err(std::io::Error::new(
        std::io::ErrorKind::Unsupported,
        "per-thread priorities are set on Linux only",
    ))
}

/// The calling thread's nice value (for tests).
#[cfg(all(test, target_os = "linux"))]
pub(crate) fn thread_nice() -> i32 {
    rustix::process::getpriority_process(Some(rustix::thread::gettid())).unwrap()
}
