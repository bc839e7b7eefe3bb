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
//!   back-to-back steps of one forward pass do not pay a wake each), then
//!   park on a condition variable: an idle pool uses no CPU.

use std::panic::{self, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// How long an idle worker (or the caller waiting for workers) spins before it
/// parks: long enough to stay awake through every pause inside one forward
/// pass. A parked worker's core may sleep, and waking it can take longer
/// than the pause was; with 50 us, a 64-token prefill on 2 threads of an
/// otherwise idle 2-vCPU VM ran at 1268-2493 tok/s from run to run, with
/// 0.5 or 2 ms at 2360-2460 (`knob bench model`, which now lets the cores
/// go quiet before each run).
pub const SPIN_BEFORE_PARK: Duration = Duration::from_millis(2);

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

/// Piece `t` of `per` elements of a slice of `len`, clipped to it.
fn piece(t: usize, per: usize, len: usize) -> std::ops::Range<usize> {
    let start = t.saturating_mul(per).min(len);
    start..start.saturating_add(per).min(len)
}

/// A raw pointer that tasks share; each task touches only its own piece.
pub(crate) struct SharedMut<T>(pub(crate) *mut T);
// SAFETY: only used by pool jobs whose tasks write disjoint pieces of
// slices borrowed mutably for the whole job, and T: Send.
unsafe impl<T: Send> Send for SharedMut<T> {}
// SAFETY: as for Send: tasks sharing it touch disjoint elements only.
unsafe impl<T: Send> Sync for SharedMut<T> {}

/// A task of [`ThreadPool::run_split`]: its index and its two pieces.
pub type SplitTask<'f, A, B> = dyn Fn(usize, &mut [A], &mut [B]) + Sync + 'f;

impl ThreadPool {
    /// Cuts `a` into pieces of `a_per` elements and `b` into pieces of
    /// `b_per` (the last of each may be shorter or empty) and calls
    /// `f(t, a_piece_t, b_piece_t)` for every piece `t` of `a`, spread over
    /// the pool's threads as [`Self::run`] does. The pieces are disjoint, so
    /// each task may write its own: the safe way to fill one output (and one
    /// scratch buffer per task) from several threads.
    pub fn run_split<A: Send, B: Send>(
        &self,
        a: &mut [A],
        a_per: usize,
        b: &mut [B],
        b_per: usize,
        f: &SplitTask<'_, A, B>,
    ) {
        assert!(a_per > 0, "run_split: a_per must be positive");
        let tasks = a.len().div_ceil(a_per);
        let a_len = a.len();
        self.run_ranges(tasks, a, &|t| piece(t, a_per, a_len), b, b_per, f);
    }

    /// As [`Self::run_split`], with `a`'s pieces of any sizes: piece `t`
    /// ends at `a_ends[t]` and starts where the one before ends (0 for the
    /// first). Panics unless `a_ends` is non-decreasing and within `a`.
    pub fn run_split_at<A: Send, B: Send>(
        &self,
        a: &mut [A],
        a_ends: &[usize],
        b: &mut [B],
        b_per: usize,
        f: &SplitTask<'_, A, B>,
    ) {
        assert!(
            a_ends.windows(2).all(|w| w[0] <= w[1]) && a_ends.last().is_none_or(|&e| e <= a.len()),
            "run_split_at: piece ends must not decrease or pass the end of the slice"
        );
        let start = |t: usize| if t == 0 { 0 } else { a_ends[t - 1] };
        self.run_ranges(a_ends.len(), a, &|t| start(t)..a_ends[t], b, b_per, f);
    }

    /// The shared part of the split runs: `a_range(t)` must be in bounds
    /// and disjoint between tasks (the callers' checks make it so).
    fn run_ranges<A: Send, B: Send>(
        &self,
        tasks: usize,
        a: &mut [A],
        a_range: &(dyn Fn(usize) -> std::ops::Range<usize> + Sync),
        b: &mut [B],
        b_per: usize,
        f: &SplitTask<'_, A, B>,
    ) {
        let b_len = b.len();
        let (ap, bp) = (SharedMut(a.as_mut_ptr()), SharedMut(b.as_mut_ptr()));
        self.run(tasks, &|t| {
            let (ra, rb) = (a_range(t), piece(t, b_per, b_len));
            let (ap, bp) = (&ap, &bp);
            // SAFETY: task t alone gets ranges ra and rb, which are in bounds
            // and disjoint from every other task's (callers' checks, and
            // `piece`); `a` and `b` stay mutably borrowed until run() has
            // returned, after every task.
            let (pa, pb) = unsafe {
                (
                    std::slice::from_raw_parts_mut(ap.0.add(ra.start), ra.len()),
                    std::slice::from_raw_parts_mut(bp.0.add(rb.start), rb.len()),
                )
            };
            f(t, pa, pb);
        });
    }

    /// [`Self::run_split`] over one buffer: `f(t, piece_t)` for the pieces
    /// of `per` elements of `data`.
    pub fn run_pieces<T: Send>(
        &self,
        data: &mut [T],
        per: usize,
        f: &(dyn Fn(usize, &mut [T]) + Sync),
    ) {
        self.run_split(data, per, &mut [] as &mut [()], 0, &|t, piece, _| {
            f(t, piece)
        });
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
    fn run_split_hands_each_task_its_own_pieces() {
        for threads in [1, 2, 3] {
            let pool = ThreadPool::new(threads);
            for (len, per) in [(0, 3), (1, 3), (10, 3), (12, 4), (7, 7), (5, 1)] {
                let mut a = vec![usize::MAX; len];
                let mut b = vec![0usize; 2 * len.div_ceil(per)];
                pool.run_split(&mut a, per, &mut b, 2, &|t, pa, pb| {
                    assert_eq!(pb.len(), 2, "scratch piece of task {t}");
                    for (i, v) in pa.iter_mut().enumerate() {
                        *v = t * per + i;
                    }
                    pb.fill(t + 1);
                });
                let want: Vec<usize> = (0..len).collect();
                assert_eq!(a, want, "threads {threads} len {len} per {per}");
                let want_b: Vec<usize> = (0..b.len()).map(|i| i / 2 + 1).collect();
                assert_eq!(b, want_b, "threads {threads} len {len} per {per}");
            }
            let mut c = vec![0u8; 9];
            pool.run_pieces(&mut c, 4, &|t, p| p.fill(t as u8 + 1));
            assert_eq!(c, [1, 1, 1, 1, 2, 2, 2, 2, 3]);
            // Uneven pieces, an empty one among them, and the tail left alone.
            let mut d = vec![0u8; 10];
            let mut sc = vec![0u8; 8];
            pool.run_split_at(&mut d, &[3, 3, 4, 8], &mut sc, 2, &|t, p, s| {
                p.fill(t as u8 + 1);
                s.fill(t as u8 + 1);
            });
            assert_eq!(d, [1, 1, 1, 3, 4, 4, 4, 4, 0, 0]);
            assert_eq!(sc, [1, 1, 2, 2, 3, 3, 4, 4]);
        }
    }

    #[test]
    #[should_panic(expected = "run_split_at")]
    fn run_split_at_rejects_overlapping_pieces() {
        ThreadPool::new(2).run_split_at(
            &mut [0u8; 8],
            &[5, 3, 8],
            &mut [] as &mut [()],
            0,
            &|_, _, _| {},
        );
    }

    #[test]
    #[should_panic(expected = "run_split_at")]
    fn run_split_at_rejects_pieces_past_the_end() {
        ThreadPool::new(2).run_split_at(
            &mut [0u8; 8],
            &[4, 9],
            &mut [] as &mut [()],
            0,
            &|_, _, _| {},
        );
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
