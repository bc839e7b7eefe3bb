//! The shipped catalog against the real tools: every GNOME gsettings and KDE
//! kconfig mapping whose key exists on this machine is planned, applied as
//! one plan, read back (re-planning changes nothing) and undone, in a
//! sandbox. Keys that do not exist here (a GNOME extension's schema that is
//! not installed) are counted, and most keys must exist.
use knob::settings::apply::Outcome;
use knob::settings::backend::Current;
use knob::settings::catalog::Target;
use knob::settings::load::{load, shipped_files};
use knob::settings::value::Kind;
use knob::settings::{apply, plan, read_current, undo, Catalog, Journal, Platform, Value};

use crate::support::{read_back, require_tool, Sandbox};

/// A value different from `current` that the mapping can write.
fn other_value(cat: &Catalog, id: &str, platform: Platform, current: &Value) -> Option<Value> {
    let s = cat.setting(id)?;
    let m = s.mapping(platform)?;
    let candidates: Vec<Value> = match (&m.primary.map, s.value.kind) {
        (Some(map), _) => map
            .keys()
            .filter_map(|k| s.value.parse_text(k).ok())
            .collect(),
        (None, Kind::Bool) => vec![Value::Bool(true), Value::Bool(false)],
        (None, Kind::Enum) => s
            .value
            .values
            .iter()
            .map(|v| Value::Text(v.clone()))
            .collect(),
        (None, Kind::Int | Kind::Float) => [s.value.max, s.value.min]
            .into_iter()
            .flatten()
            .filter_map(|n| s.value.check(&Value::Float(n)).ok())
            .collect(),
        (None, Kind::String) => Vec::new(),
    };
    candidates.into_iter().find(|c| c != current)
}

/// Round-trips this part of the catalog (settings `part`, `part + parts`,
/// ...) in its own sandbox. Returns how many settings went through, and the
/// ones whose keys do not exist here.
fn round_trip(
    cat: &Catalog,
    platform: Platform,
    is_backend: fn(&Target) -> bool,
    part: usize,
    parts: usize,
) -> (usize, Vec<String>) {
    let sb = Sandbox::new();
    let sys = sb.system();
    let mut requests = Vec::new();
    let mut absent_here = Vec::new();
    let mut originals = Vec::new();
    let mut used: Vec<String> = Vec::new();
    for s in cat.settings().iter().skip(part).step_by(parts) {
        let Some(m) = s.mapping(platform) else {
            continue;
        };
        if !std::iter::once(&m.primary)
            .chain(&m.also)
            .all(|k| is_backend(&k.target))
        {
            continue;
        }
        let reading = read_current(cat, &s.id, platform, &sys).unwrap().unwrap();
        if let Current::Unknown(_) = reading.current {
            absent_here.push(s.id.clone());
            continue;
        }
        // Two settings may share a key (large text and text scale); a plan
        // may not write it twice, so keep the first.
        let labels: Vec<String> = std::iter::once(&m.primary)
            .chain(&m.also)
            .map(|k| k.label())
            .collect();
        if labels.iter().any(|l| used.contains(l)) {
            continue;
        }
        used.extend(labels);
        let current = reading.value.clone().unwrap_or(Value::Text(String::new()));
        if let Some(v) = other_value(cat, &s.id, platform, &current) {
            originals.push((s.id.clone(), reading.current.clone()));
            requests.push((s.id.clone(), v));
        }
    }
    let mut p = plan(cat, &requests, platform, &sys).unwrap();
    // An `also` key of a schema that is not installed makes a whole action fail.
    let unknown: Vec<String> = p
        .actions
        .iter()
        .filter(|a| {
            a.writes
                .iter()
                .any(|w| matches!(w.current, Current::Unknown(_)))
        })
        .map(|a| a.setting.clone())
        .collect();
    p.actions.retain(|a| !unknown.contains(&a.setting));
    absent_here.extend(unknown);
    let journal = Journal::new(sb.journal_dir());
    match apply(&p, &sys, Some(&journal), "catalog round trip").unwrap() {
        Outcome::Applied { .. } => {}
        other => panic!("{platform}: {other:?}"),
    }
    let kept: Vec<(String, Value)> = requests
        .iter()
        .filter(|(id, _)| p.actions.iter().any(|a| &a.setting == id))
        .cloned()
        .collect();
    let again = plan(cat, &kept, platform, &sys).unwrap();
    let still: Vec<String> = again
        .changes()
        .map(|a| format!("{} (now {})", a.setting, a.primary().current.display()))
        .collect();
    assert!(
        still.is_empty(),
        "{platform}: values not read back as written: {still:?}"
    );
    let report = undo(&journal, None, &sys, read_back(cat)).unwrap();
    assert!(
        report.failures.is_empty(),
        "{platform}: {:?}",
        report.failures
    );
    assert!(
        report.left.is_empty(),
        "{platform}: values knob wrote not read back as written by undo: {:?}",
        report.left
    );
    for (id, before) in &originals {
        if !kept.iter().any(|(k, _)| k == id) {
            continue;
        }
        let now = read_current(cat, id, platform, &sys)
            .unwrap()
            .unwrap()
            .current;
        assert_eq!(&now, before, "{platform}: {id} not restored by undo");
    }
    (kept.len(), absent_here)
}

/// Runs the round trip in parallel parts (separate sandboxes, so no two
/// processes write one config file) and adds up the results.
fn round_trip_all(platform: Platform, is_backend: fn(&Target) -> bool) -> (usize, Vec<String>) {
    const PARTS: usize = 4;
    let cat = load(&shipped_files(), &[]).unwrap();
    let results: Vec<(usize, Vec<String>)> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..PARTS)
            .map(|part| {
                let cat = &cat;
                scope.spawn(move || round_trip(cat, platform, is_backend, part, PARTS))
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("a part panicked"))
            .collect()
    });
    results
        .into_iter()
        .fold((0, Vec::new()), |(n, mut absent), (m, a)| {
            absent.extend(a);
            (n + m, absent)
        })
}

#[test]
fn shipped_gnome_settings_round_trip_with_real_gsettings() {
    require_tool("gsettings");
    let (n, absent) = round_trip_all(Platform::Gnome, |t| matches!(t, Target::Gsettings { .. }));
    assert!(
        n >= 80,
        "only {n} GNOME settings round-tripped; not on this machine: {absent:?}"
    );
}

#[test]
fn shipped_kde_settings_round_trip_with_real_kconfig() {
    require_tool("kwriteconfig5");
    require_tool("kreadconfig5");
    // Keys written through Plasma's own tool (plasma-apply-colorscheme) need
    // a Plasma session; kconfig::write_tool_mappings_read_their_default
    // covers their reads.
    let (n, absent) = round_trip_all(Platform::Kde, |t| {
        matches!(t, Target::Kconfig { write: None, .. })
    });
    assert!(
        n >= 50,
        "only {n} KDE settings round-tripped; not readable: {absent:?}"
    );
}
