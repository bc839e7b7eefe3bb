//! Permissions a mapping needs beyond the user's own rights, found from
//! what it runs, so that the plan says so before anything runs (a mapping
//! cannot forget to): macOS privacy protection (TCC) stops `defaults` on
//! com.apple.universalaccess without Full Disk Access, and an osascript
//! that scripts another application without Automation permission.
use super::catalog::{Key, Mapping, Target};

/// The defaults domain macOS protects (since 10.14).
const PROTECTED_DOMAIN: &str = "com.apple.universalaccess";

/// One note per permission the mapping needs, in the plan's words.
pub fn notes(mapping: &Mapping) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let mut add = |note: String| {
        if !out.contains(&note) {
            out.push(note);
        }
    };
    for key in std::iter::once(&mapping.primary).chain(&mapping.also) {
        if let Target::Defaults { domain, .. } = &key.target {
            if domain == PROTECTED_DOMAIN {
                add(format!(
                    "needs Full Disk Access: macOS protects {PROTECTED_DOMAIN}, so the app that runs knob (your terminal) must be allowed in System Settings > Privacy & Security > Full Disk Access, or the change fails with \"Could not write domain\""
                ));
            }
        }
        for app in scripted_apps(key, &mapping.after) {
            add(format!(
                "needs Automation permission for {app}: macOS asks the first time; if it was refused, allow the app that runs knob under System Settings > Privacy & Security > Automation, or the change fails (error -1743)"
            ));
        }
    }
    out
}

/// The applications an osascript of `key` (read or write) or of the
/// mapping's `after` commands tells something: `tell application "X"`.
fn scripted_apps(key: &Key, after: &[Vec<String>]) -> Vec<String> {
    let mut argvs: Vec<&Vec<String>> = after.iter().collect();
    if let Target::Command { read, write, .. } = &key.target {
        argvs.push(read);
        argvs.push(write);
    }
    let mut apps: Vec<String> = Vec::new();
    for argv in argvs {
        if argv.first().map(String::as_str) != Some("osascript") {
            continue;
        }
        for arg in argv {
            for app in told_apps(arg) {
                if !apps.contains(&app) {
                    apps.push(app);
                }
            }
        }
    }
    apps
}

/// `tell application "System Events" to ...` -> `System Events`.
fn told_apps(script: &str) -> Vec<String> {
    const TELL: &str = "tell application \"";
    let mut out = Vec::new();
    let mut rest = script;
    while let Some(at) = rest.find(TELL) {
        rest = &rest[at + TELL.len()..];
        if let Some(end) = rest.find('"') {
            out.push(rest[..end].to_string());
            rest = &rest[end..];
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mapping(primary: Target) -> Mapping {
        Mapping {
            primary: Key {
                target: primary,
                vtype: "bool".into(),
                map: None,
                scale: 1.0,
            },
            also: Vec::new(),
            notes: Vec::new(),
            admin: false,
            after: Vec::new(),
            after_value: Default::default(),
            partial_map: None,
        }
    }

    fn argv(a: &[&str]) -> Vec<String> {
        a.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn universal_access_needs_full_disk_access() {
        let m = mapping(Target::Defaults {
            domain: "com.apple.universalaccess".into(),
            key: "reduceMotion".into(),
        });
        let n = notes(&m);
        assert_eq!(n.len(), 1);
        assert!(n[0].starts_with("needs Full Disk Access"), "{n:?}");
        let other = mapping(Target::Defaults {
            domain: "NSGlobalDomain".into(),
            key: "AppleShowAllExtensions".into(),
        });
        assert!(notes(&other).is_empty());
    }

    #[test]
    fn osascript_telling_an_app_needs_automation() {
        let m = mapping(Target::Command {
            name: "dark".into(),
            read: argv(&[
                "osascript",
                "-e",
                "tell application \"System Events\" to tell appearance preferences to get dark mode",
            ]),
            parse: regex::Regex::new("(true|false)").unwrap(),
            write: argv(&["osascript", "-e", "on run argv", "-e", "tell application \"System Events\" to set x to 1", "-e", "end run", "--", "{value}"]),
            unescape: None,
        });
        let n = notes(&m);
        assert_eq!(n.len(), 1, "{n:?}");
        assert!(n[0].starts_with("needs Automation permission for System Events"));
        // `set volume` is a scripting addition: no other app is told anything.
        let volume = mapping(Target::Command {
            name: "volume".into(),
            read: argv(&["osascript", "-e", "output volume of (get volume settings)"]),
            parse: regex::Regex::new("([0-9]+)").unwrap(),
            write: argv(&[
                "osascript",
                "-e",
                "on run argv",
                "-e",
                "set volume output volume (item 1 of argv as integer)",
                "-e",
                "end run",
                "--",
                "{value}",
            ]),
            unescape: None,
        });
        assert!(notes(&volume).is_empty());
    }
}
