//! Load time of large user profiles: `cargo bench --bench profile_load`.
//!
//! Generates profiles of 5,000, 10,000 and 20,000 settings and prints how
//! long the catalog takes to load them (the median of a few runs). Loading
//! is linear in the size of the files, so the time per setting stays flat:
//! each size prints its time per setting as a ratio to the 5,000-setting
//! run measured in the same process (quadratic loading showed 4x at 20,000).
//! The 20,000-setting profile has a stated budget and the bench exits with
//! status 1 when its median goes over it. An argument sets the number of
//! runs (default 5).
use std::time::{Duration, Instant};

use knob::settings::load::{load, shipped_files, SourceFile};

const SIZES: [usize; 3] = [5_000, 10_000, 20_000];
/// What 20,000 settings may take on a slow machine (it was 17.9 s when every
/// setting's line number was counted from the start of its file).
const BUDGET_20K: Duration = Duration::from_secs(3);

/// One setting, as a user would write it: a value table and two platforms.
fn setting(i: usize) -> String {
    format!(
        r#"
[[setting]]
id = "bench.setting_{i}"
title = "Bench setting {i}"
description = "A generated setting for the load benchmark."
synonyms = ["bench {i}", "generated {i}"]
examples = ["set bench {i} to 5"]

[setting.value]
type = "int"
min = 0
max = 100
step = 5
unit = "percent"

[setting.gnome]
backend = "gsettings"
schema = "org.example.bench"
key = "setting-{i}"
type = "i"

[setting.linux]
backend = "command"
name = "bench-tool"
read = ["bench-tool", "get", "setting-{i}"]
write = ["bench-tool", "set", "setting-{i}", "{{value}}"]
parse = '^([0-9]+)$'
"#
    )
}

fn profile(n: usize) -> SourceFile {
    SourceFile {
        name: format!("bench-{n}.toml"),
        text: (0..n).map(setting).collect(),
    }
}

fn main() {
    let runs = std::env::args()
        .skip(1)
        .find(|a| !a.starts_with('-'))
        .and_then(|a| a.parse::<usize>().ok())
        .unwrap_or(5)
        .max(1);
    let shipped = shipped_files();
    let mut over_budget = false;
    let mut base_per = None;
    for n in SIZES {
        let user = [profile(n)];
        let mut times = Vec::with_capacity(runs);
        for _ in 0..runs {
            let t0 = Instant::now();
            let catalog = load(&shipped, &user).expect("the generated profile loads");
            times.push(t0.elapsed());
            assert!(catalog
                .setting(&format!("bench.setting_{}", n - 1))
                .is_some());
        }
        times.sort_unstable();
        let median = times[times.len() / 2];
        let per = median.as_secs_f64() * 1e6 / n as f64;
        let ratio = per / *base_per.get_or_insert(per);
        println!(
            "{n:>6} settings ({:>5.1} MB): median {:>8.1} ms of {runs}, {per:.1} µs per setting, {ratio:.2}x the 5k run's per setting",
            user[0].text.len() as f64 / 1e6,
            median.as_secs_f64() * 1e3
        );
        if n == 20_000 && median > BUDGET_20K {
            over_budget = true;
            println!("  over the budget of {} s", BUDGET_20K.as_secs_f64());
        }
    }
    if over_budget {
        std::process::exit(1);
    }
}
