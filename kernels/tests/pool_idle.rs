//! An idle pool parks its workers. Alone in its own test binary, so the
//! process's CPU time is the pool's.
#![cfg(target_os = "linux")]

use std::time::Duration;

use knob_kernels::ThreadPool;

/// User + system CPU time of this process in clock ticks.
fn cpu_ticks() -> u64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap();
    // utime and stime are fields 14 and 15; count from the ")" that ends
    // the command name (which may contain spaces).
    let rest = &stat[stat.rfind(')').unwrap() + 2..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    f[11].parse::<u64>().unwrap() + f[12].parse::<u64>().unwrap()
}

#[test]
fn an_idle_pool_does_not_burn_cpu() {
    let pool = ThreadPool::new(3);
    let n = std::sync::atomic::AtomicUsize::new(0);
    pool.run(6, &|_| {
        n.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    });
    assert_eq!(n.into_inner(), 6);
    std::thread::sleep(Duration::from_millis(20));
    let before = cpu_ticks();
    std::thread::sleep(Duration::from_millis(400));
    let used = cpu_ticks() - before;
    // Two spinning workers would use ~80 ticks (at 100 Hz) in 400 ms.
    assert!(used < 10, "idle pool used {used} clock ticks in 400 ms");
}
