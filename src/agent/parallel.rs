//! Running requests on several workers while keeping input order: a feeder
//! thread reads items into a bounded queue, each worker owns its own state
//! (an [`Agent`](super::Agent)), and the caller's thread receives results
//! in input order. Memory is bounded by the queue, whatever the input length.
use std::collections::BTreeMap;
use std::sync::mpsc::{sync_channel, Receiver};
use std::sync::{Arc, Mutex};

/// Items waiting per worker; enough to keep workers busy, small enough to
/// keep memory constant.
const QUEUE_PER_WORKER: usize = 16;

/// Applies `work` to every item on `threads` workers, each made by
/// `make_worker`, and hands the results to `sink` in input order. Stops at the
/// first error from `make_worker` or `sink`.
pub fn map_ordered<I, T, R, W, E>(
    items: I,
    threads: usize,
    make_worker: impl Fn() -> Result<W, E> + Sync,
    work: impl Fn(&mut W, T) -> R + Sync,
    mut sink: impl FnMut(R) -> Result<(), E>,
) -> Result<(), E>
where
    I: Iterator<Item = T> + Send,
    T: Send,
    R: Send,
    E: Send,
{
    let threads = threads.max(1);
    if threads == 1 {
        // No pool at all for one thread.
        let mut worker = make_worker()?;
        for item in items {
            sink(work(&mut worker, item))?;
        }
        return Ok(());
    }
    std::thread::scope(|scope| {
        let (item_tx, item_rx) = sync_channel::<(u64, T)>(threads * QUEUE_PER_WORKER);
        let (result_tx, result_rx) =
            sync_channel::<Result<(u64, R), E>>(threads * QUEUE_PER_WORKER);
        // Only the workers hold the item queue's receiver: once they have all
        // stopped, the feeder's next send fails and it stops too.
        let item_rx = Arc::new(Mutex::new(item_rx));
        let (make_worker, work) = (&make_worker, &work);
        for _ in 0..threads {
            let result_tx = result_tx.clone();
            let item_rx = Arc::clone(&item_rx);
            scope.spawn(move || {
                let mut worker = match make_worker() {
                    Ok(w) => w,
                    Err(e) => {
                        let _ = result_tx.send(Err(e));
                        return;
                    }
                };
                loop {
                    // The lock is held only while taking one item.
                    let next = item_rx.lock().map(|rx| rx.recv());
                    let Ok(Ok((seq, item))) = next else { return };
                    if result_tx.send(Ok((seq, work(&mut worker, item)))).is_err() {
                        return;
                    }
                }
            });
        }
        drop(result_tx);
        drop(item_rx);
        scope.spawn(move || {
            for (seq, item) in (0u64..).zip(items) {
                if item_tx.send((seq, item)).is_err() {
                    return;
                }
            }
        });
        // Returning drops the result receiver: on an early stop, workers fail
        // their next send and stop, and then the feeder stops.
        collect_in_order(result_rx, &mut sink)
    })
}

fn collect_in_order<R, E>(
    results: Receiver<Result<(u64, R), E>>,
    sink: &mut impl FnMut(R) -> Result<(), E>,
) -> Result<(), E> {
    let mut pending: BTreeMap<u64, R> = BTreeMap::new();
    let mut next = 0u64;
    for result in results.iter() {
        let (seq, r) = result?;
        pending.insert(seq, r);
        while let Some(r) = pending.remove(&next) {
            sink(r)?;
            next += 1;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn results_come_back_in_input_order_on_any_thread_count() {
        for threads in [1, 2, 4] {
            let mut out = Vec::new();
            let r: Result<(), String> = map_ordered(
                0..500u64,
                threads,
                || Ok(0u64),
                |count, x| {
                    *count += 1;
                    // Uneven work so workers finish out of order.
                    std::thread::sleep(std::time::Duration::from_micros((x * 7919) % 50));
                    x * 2
                },
                |y| {
                    out.push(y);
                    Ok(())
                },
            );
            r.unwrap();
            assert_eq!(
                out,
                (0..500).map(|x| x * 2).collect::<Vec<_>>(),
                "threads {threads}"
            );
        }
    }

    #[test]
    fn a_sink_error_stops_the_run_without_hanging() {
        let mut seen = 0;
        let r: Result<(), String> = map_ordered(
            0..100_000u64,
            3,
            || Ok(()),
            |_, x| x,
            |x| {
                seen += 1;
                if x == 10 {
                    Err("stop".into())
                } else {
                    Ok(())
                }
            },
        );
        assert_eq!(r, Err("stop".to_string()));
        assert_eq!(seen, 11);
    }

    #[test]
    fn a_worker_that_cannot_start_is_an_error() {
        let r: Result<(), String> = map_ordered(
            0..10u64,
            2,
            || Err::<(), _>("no model".to_string()),
            |_, x| x,
            |_| Ok(()),
        );
        assert_eq!(r, Err("no model".to_string()));
    }
}
