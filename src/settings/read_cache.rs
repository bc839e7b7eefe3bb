//! Reads shared by a whole run (`knob batch`, `knob bench agent`), instead
//! of a process per key and request: every `gsettings get SCHEMA KEY` is
//! answered from one `gsettings list-recursively` of all schemas, and any
//! other read (kreadconfig, a command target's read, a key the listing
//! lacks) runs once and is kept. One cache serves every worker thread.
//!
//! A cached read is the read it stands for: the listing prints each value
//! as `gsettings get` does (GLib's `g_variant_print` with type annotations),
//! and the answer is that text as `get` prints it; a read that is not in
//! the listing is the read's own output.
//!
//! Every write through the cache drops everything read before it, so a
//! value read after knob's own change is read again; an answer older than
//! the cache's maximum age is read again too, so a long-running batch sees
//! changes made outside knob within that time.
use std::collections::HashMap;
use std::io;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use super::system::{Output, System};

/// How long an answer stands in a run: short enough that a change made
/// outside knob shows up within a second, long enough that a batch lists
/// the schemas about once a second.
pub const MAX_AGE: Duration = Duration::from_secs(1);

/// The read that lists every installed (non-relocatable) schema's values.
const LIST_ALL: [&str; 2] = ["gsettings", "list-recursively"];

#[derive(Debug)]
enum Answer {
    /// `(schema, key)` -> the value as `gsettings get` prints it (without
    /// the newline).
    Listing(HashMap<(String, String), String>),
    /// A read's own output.
    Output(Output),
}

#[derive(Debug)]
struct Entry {
    answer: Arc<Answer>,
    /// When the read started: the answer holds nothing older than this.
    at: Instant,
    /// The write count when the read started.
    generation: u64,
}

/// One read's answer. Its lock is held while the read runs, so two threads
/// that want the same read run it once between them, and other reads go on.
#[derive(Debug, Default)]
struct Slot(Mutex<Option<Entry>>);

/// A [`System`] that answers reads from earlier reads of the same run (see
/// the module's comment) and passes writes to the system it wraps. `Sync`:
/// one cache serves every worker of a batch.
pub struct CachedReads<'a> {
    inner: &'a (dyn System + Sync),
    max_age: Duration,
    /// By argv. Locked only to find a slot, never while a read runs.
    slots: Mutex<HashMap<Vec<String>, Arc<Slot>>>,
    /// Writes so far: an answer read before the last write is not used.
    generation: AtomicU64,
}

impl<'a> CachedReads<'a> {
    /// Caches reads through `inner` for at most [`MAX_AGE`].
    pub fn new(inner: &'a (dyn System + Sync)) -> CachedReads<'a> {
        CachedReads::with_max_age(inner, MAX_AGE)
    }

    /// Caches reads through `inner` for at most `max_age` (tests).
    pub fn with_max_age(inner: &'a (dyn System + Sync), max_age: Duration) -> CachedReads<'a> {
        CachedReads {
            inner,
            max_age,
            slots: Mutex::new(HashMap::new()),
            generation: AtomicU64::new(0),
        }
    }

    /// The answer to `argv`: a recent one, or `run`'s now.
    fn answer(
        &self,
        argv: &[String],
        run: impl FnOnce() -> io::Result<Answer>,
    ) -> io::Result<Arc<Answer>> {
        let slot = Arc::clone(lock(&self.slots).entry(argv.to_vec()).or_default());
        let mut entry = lock(&slot.0);
        let generation = self.generation.load(Ordering::SeqCst);
        if let Some(e) = entry
            .as_ref()
            .filter(|e| e.generation == generation && e.at.elapsed() < self.max_age)
        {
            return Ok(Arc::clone(&e.answer));
        }
        let at = Instant::now();
        let answer = Arc::new(run()?);
        *entry = Some(Entry {
            answer: Arc::clone(&answer),
            at,
            generation,
        });
        Ok(answer)
    }

    /// Every listed `gsettings` value. A listing that fails lists nothing,
    /// and each key is then read on its own.
    fn listing(&self) -> io::Result<Arc<Answer>> {
        let argv: Vec<String> = LIST_ALL.iter().map(|s| s.to_string()).collect();
        self.answer(&argv, || {
            Ok(Answer::Listing(match self.inner.read(&argv) {
                Ok(out) if out.success => parse_listing(&out.stdout),
                _ => HashMap::new(),
            }))
        })
    }

    fn gsettings_get(&self, schema: &str, key: &str) -> io::Result<Option<Output>> {
        let listing = self.listing()?;
        let Answer::Listing(values) = &*listing else {
            return Ok(None);
        };
        Ok(values
            .get(&(schema.to_string(), key.to_string()))
            .map(|value| Output::ok(format!("{value}\n"))))
    }
}

/// `(schema, key)` -> value text for each line of a `list-recursively`
/// output (`SCHEMA KEY VALUE`). Neither schema ids nor keys hold spaces,
/// and `g_variant_print` escapes newlines inside strings, so a line is a key.
fn parse_listing(stdout: &str) -> HashMap<(String, String), String> {
    stdout
        .lines()
        .filter_map(|line| {
            let (schema, rest) = line.split_once(' ')?;
            let (key, value) = rest.split_once(' ')?;
            Some(((schema.to_string(), key.to_string()), value.to_string()))
        })
        .collect()
}

impl System for CachedReads<'_> {
    fn has_program(&self, program: &str) -> bool {
        self.inner.has_program(program)
    }

    fn read(&self, argv: &[String]) -> io::Result<Output> {
        if let [program, verb, schema, key] = argv {
            if program == "gsettings" && verb == "get" {
                if let Some(out) = self.gsettings_get(schema, key)? {
                    return Ok(out);
                }
            }
        }
        // Not listed (another backend, a schema not installed, a
        // relocatable one): the read itself, once.
        let answer = self.answer(argv, || self.inner.read(argv).map(Answer::Output))?;
        match &*answer {
            Answer::Output(out) => Ok(out.clone()),
            Answer::Listing(_) => self.inner.read(argv),
        }
    }

    fn write(&self, argv: &[String]) -> io::Result<Output> {
        let result = self.inner.write(argv);
        // After the write, whatever its result (a failed write may have
        // changed something): reads in flight count as before it.
        self.generation.fetch_add(1, Ordering::SeqCst);
        result
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::settings::FakeSystem;

    const IFACE: &str = "org.gnome.desktop.interface";

    fn v(a: &[&str]) -> Vec<String> {
        a.iter().map(|s| s.to_string()).collect()
    }

    fn gnome() -> FakeSystem {
        let fake = FakeSystem::with_programs(&["gsettings"]);
        fake.set(&format!("gsettings {IFACE} color-scheme"), "'default'");
        fake.set(&format!("gsettings {IFACE} gtk-theme"), "'Adwaita'");
        fake.set(&format!("gsettings {IFACE} scaling-factor"), "uint32 0");
        fake.set("gsettings org.gnome.desktop.sound event-sounds", "true");
        fake
    }

    fn get(sys: &dyn System, key: &str) -> Output {
        sys.read(&v(&["gsettings", "get", IFACE, key])).unwrap()
    }

    fn runs(fake: &FakeSystem, verb: &str) -> usize {
        fake.log().iter().filter(|a| a[1] == verb).count()
    }

    #[test]
    fn one_listing_answers_every_key_as_get_does() {
        let fake = gnome();
        let cache = CachedReads::with_max_age(&fake, Duration::MAX);
        for key in [
            "color-scheme",
            "gtk-theme",
            "scaling-factor",
            "color-scheme",
        ] {
            assert_eq!(get(&cache, key), get(&fake, key), "{key}");
        }
        let sound = v(&[
            "gsettings",
            "get",
            "org.gnome.desktop.sound",
            "event-sounds",
        ]);
        assert_eq!(cache.read(&sound).unwrap(), fake.read(&sound).unwrap());
        assert_eq!(runs(&fake, "list-recursively"), 1, "{:?}", fake.log());
        assert_eq!(
            runs(&fake, "get"),
            5,
            "only the direct reads above: {:?}",
            fake.log()
        );
    }

    #[test]
    fn a_write_through_the_cache_is_read_back_never_the_value_before_it() {
        let fake = gnome();
        let cache = CachedReads::with_max_age(&fake, Duration::MAX);
        assert_eq!(get(&cache, "color-scheme").stdout, "'default'\n");
        cache
            .write(&v(&[
                "gsettings",
                "set",
                IFACE,
                "color-scheme",
                "'prefer-dark'",
            ]))
            .unwrap();
        assert_eq!(get(&cache, "color-scheme").stdout, "'prefer-dark'\n");
        assert_eq!(runs(&fake, "list-recursively"), 2, "{:?}", fake.log());
    }

    #[test]
    fn any_write_drops_every_kept_read() {
        let fake = gnome().script(
            &["wpctl", "get-volume", "@X@"],
            Output::ok("Volume: 0.40\n"),
        );
        let cache = CachedReads::with_max_age(&fake, Duration::MAX);
        let volume = v(&["wpctl", "get-volume", "@X@"]);
        get(&cache, "gtk-theme");
        cache.read(&volume).unwrap();
        // A command knob does not understand may have changed anything.
        cache.write(&v(&["dconf", "reset", "-f", "/"])).unwrap();
        fake.set(&format!("gsettings {IFACE} gtk-theme"), "'HighContrast'");
        assert_eq!(get(&cache, "gtk-theme").stdout, "'HighContrast'\n");
        cache.read(&volume).unwrap();
        assert_eq!(runs(&fake, "list-recursively"), 2, "{:?}", fake.log());
        assert_eq!(runs(&fake, "get-volume"), 2, "{:?}", fake.log());
    }

    #[test]
    fn an_answer_older_than_the_maximum_age_is_read_again() {
        let fake = gnome();
        let cache = CachedReads::with_max_age(&fake, Duration::ZERO);
        get(&cache, "gtk-theme");
        // Changed outside knob.
        fake.set(&format!("gsettings {IFACE} gtk-theme"), "'HighContrast'");
        assert_eq!(get(&cache, "gtk-theme").stdout, "'HighContrast'\n");
        assert_eq!(runs(&fake, "list-recursively"), 2);
    }

    #[test]
    fn unlisted_keys_are_read_once_each_as_they_are() {
        let fake = gnome();
        let cache = CachedReads::with_max_age(&fake, Duration::MAX);
        let missing = v(&["gsettings", "get", "org.example.none", "k"]);
        for _ in 0..3 {
            assert_eq!(cache.read(&missing).unwrap(), fake.read(&missing).unwrap());
            assert_eq!(get(&cache, "no-such-key"), get(&fake, "no-such-key"));
        }
        assert!(!fake.read(&missing).unwrap().success);
        assert_eq!(runs(&fake, "list-recursively"), 1);
        assert_eq!(runs(&fake, "get"), 3 + 3 + 1 + 2, "{:?}", fake.log());
    }

    #[test]
    fn a_listing_that_fails_leaves_each_key_to_its_own_read() {
        let fake = gnome().script(
            &["gsettings", "list-recursively"],
            Output::fail(1, "something went wrong\n"),
        );
        let cache = CachedReads::with_max_age(&fake, Duration::MAX);
        assert_eq!(get(&cache, "gtk-theme").stdout, "'Adwaita'\n");
        assert_eq!(get(&cache, "gtk-theme").stdout, "'Adwaita'\n");
        assert_eq!(runs(&fake, "get"), 1);
    }

    #[test]
    fn listing_lines() {
        let out = "a.b k1 'x y'\na.b k2 @as []\na.b.child k1 1\na.b k3 uint32 7\n";
        let keys = parse_listing(out);
        let at = |s: &str, k: &str| keys[&(s.to_string(), k.to_string())].as_str();
        assert_eq!(keys.len(), 4);
        assert_eq!(at("a.b", "k1"), "'x y'");
        assert_eq!(at("a.b", "k2"), "@as []");
        assert_eq!(at("a.b.child", "k1"), "1");
        assert_eq!(at("a.b", "k3"), "uint32 7");
    }

    #[test]
    fn threads_share_one_listing() {
        let fake = gnome();
        let cache = CachedReads::with_max_age(&fake, Duration::MAX);
        std::thread::scope(|s| {
            for _ in 0..4 {
                s.spawn(|| {
                    for _ in 0..50 {
                        assert_eq!(get(&cache, "gtk-theme").stdout, "'Adwaita'\n");
                    }
                });
            }
        });
        assert_eq!(runs(&fake, "list-recursively"), 1);
    }
}
