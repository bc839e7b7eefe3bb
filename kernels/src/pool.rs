//! A small fixed thread pool for splitting one kernel call over threads.
//!
//! - The caller sets the thread count; the calling thread is one of them, so
//!   `ThreadPool::new(1)` starts no thread and runs everything inline.
//! - Tasks are claimed from a shared counter, so whoever is running does the
//!   work: the caller never waits for a worker that has not started (on a
//!   busy machine a parked worker can take hundreds of microseconds to be
//!   scheduled). A worker joins a job only while it is open; the caller
//!   closes it when the tasks run out and waits just for workers that joined.
//! - Workers that find no work spin for at most [`SPIN_BEFORE_PARK`] (so the
//!   back-to-back matrix products of one decode step do not pay a futex wake
//!   each), then park on a condition variable: an idle pool uses no CPU.

use std::panic::{self, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// How long an idle worker (or the caller waiting for workers) spins before it
/// parks.
pub const SPIN_BEFORE_PARK: Duration = Duration::from_micros(50);

type Job = dyn Fn(usize) + Sync;

/// A job with its lifetime erased; only dereferenced by workers that joined
/// the job while it was open (see the SAFETY notes in `run`).
#[derive(Clone, Copy)]
struct JobPtr(*const Job);
// SAFETY: the pointee is `Sync`, and the pointer is only used while the
// borrow it came from is alive (run() waits for every joined worker).
unsafe impl Send for JobPtr {}

/// `state` layout: job generation in the high 32 bits, [`CLOSED`], and the
/// number of workers inside the job in the low bits.
const CLOSED: u64 = 1 << 31;
const COUNT: u64 = CLOSED - 1;

struct Shared {
    /// The latest published generation; workers compare it with the last
    /// one they saw.
    generation: AtomicU64,
    /// The current job: pointer, task count, generation.
    job: Mutex<Option<(JobPtr, usize, u64)>>,
    wake: Condvar,
    /// Next task index to hand out.
    next: AtomicUsize,
    /// Generation, CLOSED flag and joined-worker count of the current job.
    state: AtomicU64,
    done_lock: Mutex<()>,
    done: Condvar,
    panicked: AtomicBool,
    shutdown: AtomicBool,
}

/// A pool of `threads - 1` worker threads plus the calling thread.
pub struct ThreadPool {
    threads: usize,
    shared: Arc<Shared>,
    workers: Vec<JoinHandle<()>>,
    /// Serializes `run` calls from different threads; holds the last
    /// generation used.
    submit: Mutex<u64>,
}

impl std::fmt::Debug for ThreadPool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ThreadPool")
            .field("threads", &self.threads)
            .finish()
    }
}

impl ThreadPool {
    /// A pool that runs kernels on `threads` threads (the caller included);
    /// 0 is treated as 1.
    pub fn new(threads: usize) -> Self {
        let threads = threads.max(1);
        let shared = Arc::new(Shared {
            generation: AtomicU64::new(0),
            job: Mutex::new(None),
            wake: Condvar::new(),
            next: AtomicUsize::new(0),
            state: AtomicU64::new(CLOSED),
            done_lock: Mutex::new(()),
            done: Condvar::new(),
            panicked: AtomicBool::new(false),
            shutdown: AtomicBool::new(false),
        });
        let workers = (1..threads)
            .map(|i| {
                let shared = Arc::clone(&shared);
                std::thread::Builder::new()
                    .name(format!("knob-kernels-{i}"))
                    .spawn(move || worker(&shared))
                    .expect("knob-kernels: cannot spawn a worker thread")
            })
            .collect();
        ThreadPool {
            threads,
            shared,
            workers,
            submit: Mutex::new(0),
        }
    }

    /// The number of threads kernels run on, the caller included.
    pub fn threads(&self) -> usize {
        self.threads
    }

    /// How many jobs have been handed to the workers (wrapping at 2^32): a
    /// job that runs inline (one thread, one task) wakes nobody and does not
    /// count. `knob bench model --profile` counts wake-ups with it.
    pub fn jobs_run(&self) -> u64 {
        *self.submit.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Calls `f(t)` once for every `t < tasks`, spread over the pool's threads,
    /// and returns when all calls have returned. A panic in any call is
    /// re-raised here after every thread has stopped using `f`.
    pub fn run(&self, tasks: usize, f: &(dyn Fn(usize) + Sync)) {
        if self.workers.is_empty() || tasks <= 1 {
            (0..tasks).for_each(f);
            return;
        }
        let mut last = self.submit.lock().unwrap_or_else(|e| e.into_inner());
        let gen = (*last + 1) & 0xffff_ffff;
        *last = gen;
        let sh = &*self.shared;
        // SAFETY: this erases the lifetime of `f`. A worker dereferences the
        // pointer only after joining this generation's job while it is open,
        // and `CloseAndWait` below (also on unwind) closes the job and does
        // not let this function return until every joined worker has left,
        // so `f` outlives every use.
        let ptr: *const Job =
            unsafe { std::mem::transmute::<*const (dyn Fn(usize) + Sync + '_), *const Job>(f) };
        sh.next.store(0, Ordering::Relaxed);
        sh.state.store(gen << 32, Ordering::SeqCst);
        {
            let mut job = sh.job.lock().unwrap_or_else(|e| e.into_inner());
            *job = Some((JobPtr(ptr), tasks, gen));
            sh.generation.store(gen, Ordering::Release);
        }
        sh.wake.notify_all();
        let guard = CloseAndWait(sh);
        take_tasks(sh, f, tasks);
        drop(guard);
        if sh.panicked.swap(false, Ordering::Relaxed) {
            panic!("knob-kernels: a worker thread panicked");
        }
    }
}

fn take_tasks(sh: &Shared, f: &(dyn Fn(usize) + Sync + '_), tasks: usize) {
    loop {
        let t = sh.next.fetch_add(1, Ordering::Relaxed);
        if t >= tasks {
            break;
        }
        f(t);
    }
}

/// Closes the current job and waits (on drop, so also while unwinding) until
/// no joined worker is still inside it.
struct CloseAndWait<'a>(&'a Shared);

impl Drop for CloseAndWait<'_> {
    fn drop(&mut self) {
        let sh = self.0;
        sh.state.fetch_or(CLOSED, Ordering::AcqRel);
        let start = Instant::now();
        while sh.state.load(Ordering::Acquire) & COUNT != 0 {
            if start.elapsed() < SPIN_BEFORE_PARK {
                std::hint::spin_loop();
                continue;
            }
            let lock = sh.done_lock.lock().unwrap_or_else(|e| e.into_inner());
            if sh.state.load(Ordering::Acquire) & COUNT != 0 {
                // The timeout covers a wake that raced with this check.
                let _ = sh.done.wait_timeout(lock, Duration::from_millis(1));
            }
        }
        *sh.job.lock().unwrap_or_else(|e| e.into_inner()) = None;
    }
}

/// Joins job `gen` if it is still open.
fn join(sh: &Shared, gen: u64) -> bool {
    let mut s = sh.state.load(Ordering::Acquire);
    loop {
        if s >> 32 != gen || s & CLOSED != 0 {
            return false;
        }
        match sh
            .state
            .compare_exchange_weak(s, s + 1, Ordering::AcqRel, Ordering::Acquire)
        {
            Ok(_) => return true,
            Err(now) => s = now,
        }
    }
}

fn worker(sh: &Shared) {
    let mut seen = 0u64;
    loop {
        // Spin briefly, then park until a new generation is published.
        let start = Instant::now();
        let mut spins = 0u32;
        while sh.generation.load(Ordering::Acquire) == seen && !sh.shutdown.load(Ordering::Relaxed)
        {
            spins += 1;
            if !spins.is_multiple_of(64) || start.elapsed() < SPIN_BEFORE_PARK {
                std::hint::spin_loop();
                continue;
            }
            let mut job = sh.job.lock().unwrap_or_else(|e| e.into_inner());
            while sh.generation.load(Ordering::Acquire) == seen
                && !sh.shutdown.load(Ordering::Relaxed)
            {
                job = sh.wake.wait(job).unwrap_or_else(|e| e.into_inner());
            }
            break;
        }
        if sh.shutdown.load(Ordering::Relaxed) {
            return;
        }
        let (ptr, tasks, gen) = {
            let job = sh.job.lock().unwrap_or_else(|e| e.into_inner());
            seen = sh.generation.load(Ordering::Acquire);
            match *job {
                Some(j) if j.2 == seen => j,
                _ => continue,
            }
        };
        if !join(sh, gen) {
            continue;
        }
        // SAFETY: we joined job `gen` while it was open, so `run` is still
        // waiting in CloseAndWait and `f` is alive; we leave (decrement the
        // count) only after the last use of `ptr` below.
        let f: &Job = unsafe { &*ptr.0 };
        if panic::catch_unwind(AssertUnwindSafe(|| take_tasks(sh, f, tasks))).is_err() {
            sh.panicked.store(true, Ordering::Relaxed);
        }
        let prev = sh.state.fetch_sub(1, Ordering::AcqRel);
        if prev & CLOSED != 0 && prev & COUNT == 1 {
            let _lock = sh.done_lock.lock().unwrap_or_else(|e| e.into_inner());
            sh.done.notify_all();
        }
    }
}

impl Drop for ThreadPool {
    fn drop(&mut self) {
        self.shared.shutdown.store(true, Ordering::Relaxed);
        {
            let _job = self.shared.job.lock().unwrap_or_else(|e| e.into_inner());
            self.shared.wake.notify_all();
        }
        for w in self.workers.drain(..) {
            let _ = w.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runs_every_task_once() {
        for threads in [1, 2, 3] {
            let pool = ThreadPool::new(threads);
            for tasks in [0, 1, 2, 5, 64] {
                let counts: Vec<AtomicUsize> = (0..tasks).map(|_| AtomicUsize::new(0)).collect();
                pool.run(tasks, &|t| {
                    counts[t].fetch_add(1, Ordering::Relaxed);
                });
                assert!(
                    counts.iter().all(|c| c.load(Ordering::Relaxed) == 1),
                    "threads {threads} tasks {tasks}"
                );
            }
        }
    }

    #[test]
    fn workers_really_run_tasks_and_park_when_idle() {
        let pool = ThreadPool::new(2);
        let ids = Mutex::new(std::collections::HashSet::new());
        for _ in 0..50 {
            pool.run(2, &|_| {
                std::thread::sleep(Duration::from_millis(1));
                ids.lock().unwrap().insert(std::thread::current().id());
            });
        }
        assert_eq!(
            ids.lock().unwrap().len(),
            2,
            "both threads should take tasks"
        );
        // After the spin window the worker is parked: its job slot is empty and
        // a later job still runs.
        std::thread::sleep(SPIN_BEFORE_PARK * 4);
        let n = AtomicUsize::new(0);
        pool.run(4, &|_| {
            n.fetch_add(1, Ordering::Relaxed);
        });
        assert_eq!(n.load(Ordering::Relaxed), 4);
    }

    #[test]
    fn a_panicking_task_is_reported_to_the_caller() {
        let pool = ThreadPool::new(2);
        let r = panic::catch_unwind(AssertUnwindSafe(|| {
            pool.run(8, &|t| {
                if t == 5 {
                    panic!("task 5");
                }
            })
        }));
        assert!(r.is_err());
        // The pool still works afterwards.
        let n = AtomicUsize::new(0);
        pool.run(3, &|_| {
            n.fetch_add(1, Ordering::Relaxed);
        });
        assert_eq!(n.load(Ordering::Relaxed), 3);
    }
}
