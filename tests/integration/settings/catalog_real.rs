//! The shipped catalog against the real tools: every GNOME gsettings and KDE
//! kconfig mapping whose key exists on this machine is planned, applied as
//! one plan, read back (re-planning changes nothing) and undone, in a
//! sandbox. Keys that do not exist here (a GNOME extension's schema that is
//! not installed) are counted, and most keys must exist.
use knob::settings::apply::Outcome;
use knob::settings::backend::{parse_read, read_argv, Current, Tools};
use knob::settings::catalog::Target;
use knob::settings::load::{load, shipped_files};
use knob::settings::system::Output;
use knob::settings::value::Kind;
use knob::settings::{
    apply, plan, read_current, undo, CachedReads, Catalog, Journal, Platform, System, Value,
};

use crate::support::{read_back, require_tool, Sandbox, IFACE};

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

/// Counts the commands that reach a system.
struct Counting<'a> {
    inner: &'a (dyn System + Sync),
    log: std::sync::Mutex<Vec<Vec<String>>>,
}

impl Counting<'_> {
    fn count(&self, verb: &str) -> usize {
        self.log
            .lock()
            .unwrap()
            .iter()
            .filter(|a| a[1] == verb)
            .count()
    }
}

impl System for Counting<'_> {
    fn has_program(&self, program: &str) -> bool {
        self.inner.has_program(program)
    }
    fn read(&self, argv: &[String]) -> std::io::Result<Output> {
        self.log.lock().unwrap().push(argv.to_vec());
        self.inner.read(argv)
    }
    fn write(&self, argv: &[String]) -> std::io::Result<Output> {
        self.log.lock().unwrap().push(argv.to_vec());
        self.inner.write(argv)
    }
}

/// Every shipped GNOME key read through the batch's cache and through a
/// `gsettings get` of its own gives the same output and the same value.
fn assert_cached_reads_match(cat: &Catalog, cache: &dyn System, sys: &dyn System) -> usize {
    let tools = Tools::detect(sys);
    let mut seen: Vec<Vec<String>> = Vec::new();
    for s in cat.settings() {
        let Some(m) = s.mapping(Platform::Gnome) else {
            continue;
        };
        for key in std::iter::once(&m.primary).chain(&m.also) {
            let argv = read_argv(key, &tools);
            if argv[0] != "gsettings" || seen.contains(&argv) {
                continue;
            }
            let (cached, direct) = (cache.read(&argv).unwrap(), sys.read(&argv).unwrap());
            assert_eq!(
                (cached.success, &cached.stdout),
                (direct.success, &direct.stdout),
                "{argv:?}"
            );
            assert_eq!(
                parse_read(key, &cached),
                parse_read(key, &direct),
                "{argv:?}"
            );
            seen.push(argv);
        }
    }
    seen.len()
}

#[test]
fn cached_reads_equal_per_key_reads_for_every_shipped_gnome_key_before_and_after_an_apply() {
    require_tool("gsettings");
    let cat = load(&shipped_files(), &[]).unwrap();
    let sb = Sandbox::new();
    // Values printed with escapes and annotations.
    sb.gsettings_set(IFACE, "font-name", r#""Noto Sans 'Ünï' 11""#);
    sb.gsettings_set(IFACE, "monospace-font-name", r"'Fira \\ Code\n 12'");
    let sys = sb.system();
    let counting = Counting {
        inner: &sys,
        log: Default::default(),
    };
    let cache = CachedReads::with_max_age(&counting, std::time::Duration::MAX);
    let keys = assert_cached_reads_match(&cat, &cache, &sys);
    assert!(keys >= 80, "only {keys} gsettings keys");
    assert_eq!(counting.count("list-recursively"), 1, "one listing for all");
    let unlisted = counting.count("get");
    assert!(unlisted < keys / 4, "{unlisted} of {keys} keys not listed");

    // Apply another value of every gsettings setting through the cache:
    // no read after it may show the value before it.
    let mut requests = Vec::new();
    let mut used: Vec<String> = Vec::new();
    for s in cat.settings() {
        let Some(m) = s.mapping(Platform::Gnome) else {
            continue;
        };
        let keys: Vec<_> = std::iter::once(&m.primary).chain(&m.also).collect();
        if !keys
            .iter()
            .all(|k| matches!(k.target, Target::Gsettings { .. }))
        {
            continue;
        }
        let labels: Vec<String> = keys.iter().map(|k| k.label()).collect();
        let reading = read_current(&cat, &s.id, Platform::Gnome, &cache)
            .unwrap()
            .unwrap();
        if matches!(reading.current, Current::Unknown(_)) || labels.iter().any(|l| used.contains(l))
        {
            continue;
        }
        used.extend(labels);
        let current = reading.value.unwrap_or(Value::Text(String::new()));
        if let Some(v) = other_value(&cat, &s.id, Platform::Gnome, &current) {
            requests.push((s.id.clone(), v));
        }
    }
    let mut p = plan(&cat, &requests, Platform::Gnome, &cache).unwrap();
    p.actions.retain(|a| {
        a.writes
            .iter()
            .all(|w| !matches!(w.current, Current::Unknown(_)))
    });
    assert!(p.changes().count() >= 60, "{} changes", p.changes().count());
    match apply(&p, &cache, None, "through the cache").unwrap() {
        Outcome::Applied { .. } => {}
        other => panic!("{other:?}"),
    }
    let listed = counting.count("list-recursively");
    assert_cached_reads_match(&cat, &cache, &sys);
    assert_eq!(
        counting.count("list-recursively"),
        listed + 1,
        "listed again after the apply, once"
    );
    let again = plan(&cat, &requests, Platform::Gnome, &cache).unwrap();
    let kept: Vec<&str> = p.actions.iter().map(|a| a.setting.as_str()).collect();
    let stale: Vec<String> = again
        .changes()
        .filter(|a| kept.contains(&a.setting.as_str()))
        .map(|a| format!("{} (read {})", a.setting, a.primary().current.display()))
        .collect();
    assert!(stale.is_empty(), "stale after the apply: {stale:?}");
}
