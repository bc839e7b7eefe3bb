//! The platforms knob plans for, and their detection.
use std::fmt;
use std::str::FromStr;

use serde::Serialize;

#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, schemars::JsonSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum Platform {
    Gnome,
    Kde,
    Macos,
    Windows,
}

impl Platform {
    pub const ALL: [Platform; 4] = [
        Platform::Gnome,
        Platform::Kde,
        Platform::Macos,
        Platform::Windows,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Platform::Gnome => "gnome",
            Platform::Kde => "kde",
            Platform::Macos => "macos",
            Platform::Windows => "windows",
        }
    }

    /// Whether the catalog's `[setting.linux]` table serves this platform.
    pub fn is_linux(self) -> bool {
        matches!(self, Platform::Gnome | Platform::Kde)
    }
}

impl fmt::Display for Platform {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Platform {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Platform::ALL
            .into_iter()
            .find(|p| p.name().eq_ignore_ascii_case(s))
            .ok_or_else(|| {
                format!("unknown platform '{s}' (expected gnome, kde, macos or windows)")
            })
    }
}

/// Session variables that name the desktop, in the order they are trusted.
/// `XDG_CURRENT_DESKTOP` is a colon-separated list (`ubuntu:GNOME`);
/// `DESKTOP_SESSION` may be a path (`/usr/share/xsessions/plasma`).
pub const SESSION_VARS: [&str; 3] = [
    "XDG_CURRENT_DESKTOP",
    "XDG_SESSION_DESKTOP",
    "DESKTOP_SESSION",
];

/// The GSettings schema whose presence means GNOME's settings can be used.
pub const GNOME_SCHEMA: &str = "org.gnome.desktop.interface";

/// The KDE tools that mean Plasma's settings can be used, preferred first.
pub const KDE_TOOLS: [&str; 2] = ["kreadconfig6", "kreadconfig5"];

/// What platform detection looks at. The real machine is
/// `commands::ThisMachine`; tests pass a table of their own, so that
/// [`detect`] depends on nothing else.
pub trait Surroundings {
    /// The operating system, as `std::env::consts::OS` names it.
    fn os(&self) -> &str;
    /// An environment variable; `None` when unset.
    fn var(&self, name: &str) -> Option<String>;
    /// Whether a program is on the PATH.
    fn has_program(&self, program: &str) -> bool;
    /// Whether gsettings knows this schema (asked only when gsettings is installed).
    fn has_gsettings_schema(&self, schema: &str) -> bool;
}

/// The platform knob plans for when none is chosen, and whether it is a guess.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Detection {
    pub platform: Platform,
    /// Why the platform was assumed, when nothing on the machine says which
    /// it is (no desktop session): "no desktop session; assuming gnome
    /// (gsettings is installed)". `None` when the OS or the session decides.
    pub assumed: Option<String>,
}

impl Detection {
    fn certain(platform: Platform) -> Detection {
        Detection {
            platform,
            assumed: None,
        }
    }
}

/// The desktop a session name stands for; `None` for one knob does not know.
fn desktop_named(name: &str) -> Option<Platform> {
    match name.to_ascii_uppercase().as_str() {
        "GNOME" | "GNOME-FLASHBACK" | "GNOME-CLASSIC" | "GNOME-XORG" | "GNOME-WAYLAND"
        | "UBUNTU" | "UBUNTU-WAYLAND" | "UBUNTU-XORG" | "UNITY" | "BUDGIE" | "BUDGIE-DESKTOP"
        | "POP" => Some(Platform::Gnome),
        "KDE" | "PLASMA" | "PLASMAWAYLAND" | "PLASMAX11" => Some(Platform::Kde),
        _ => None,
    }
}

/// The platform of the machine `s` describes. One rule for every command:
/// 1. macOS and Windows are what the OS says;
/// 2. else the session variables ([`SESSION_VARS`], then `KDE_FULL_SESSION`
///    and `GNOME_DESKTOP_SESSION_ID`) name the desktop;
/// 3. else (ssh, tmux, a VM without a desktop, an unknown desktop) the tools
///    that are installed make a guess: gsettings with GNOME's schema means
///    gnome, kreadconfig6/5 means kde, both or neither mean gnome.
///
/// A guess says so in [`Detection::assumed`].
pub fn detect(s: &dyn Surroundings) -> Detection {
    match s.os() {
        "macos" => return Detection::certain(Platform::Macos),
        "windows" => return Detection::certain(Platform::Windows),
        _ => {}
    }
    let mut unknown = None;
    for var in SESSION_VARS {
        let Some(value) = s.var(var).filter(|v| !v.trim().is_empty()) else {
            continue;
        };
        // DESKTOP_SESSION can be the path of the session file.
        let value = value.trim();
        let name = value.rsplit('/').next().unwrap_or(value);
        if let Some(p) = name.split(':').find_map(desktop_named) {
            return Detection::certain(p);
        }
        unknown.get_or_insert((var, value.to_string()));
    }
    if s.var("KDE_FULL_SESSION")
        .is_some_and(|v| v.trim() == "true")
    {
        return Detection::certain(Platform::Kde);
    }
    if s.var("GNOME_DESKTOP_SESSION_ID")
        .is_some_and(|v| !v.trim().is_empty())
    {
        return Detection::certain(Platform::Gnome);
    }
    let session = match unknown {
        Some((var, value)) => format!("the desktop '{value}' ({var}) is not one knob knows"),
        None => "no desktop session".to_string(),
    };
    let gnome = s.has_program("gsettings") && s.has_gsettings_schema(GNOME_SCHEMA);
    let kde = KDE_TOOLS.into_iter().find(|t| s.has_program(t));
    let (platform, why) = match (gnome, kde) {
        (true, None) => (Platform::Gnome, "gsettings is installed".to_string()),
        (false, Some(tool)) => (Platform::Kde, format!("{tool} is installed")),
        (true, Some(tool)) => (
            Platform::Gnome,
            format!("gsettings and {tool} are both installed"),
        ),
        (false, None) => (
            Platform::Gnome,
            "no desktop's tools are installed either".to_string(),
        ),
    };
    Detection {
        platform,
        assumed: Some(format!("{session}; assuming {platform} ({why})")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    /// A machine described by a table.
    #[derive(Default)]
    struct Machine {
        os: &'static str,
        vars: BTreeMap<&'static str, &'static str>,
        programs: Vec<&'static str>,
        schemas: Vec<&'static str>,
    }

    impl Surroundings for Machine {
        fn os(&self) -> &str {
            self.os
        }
        fn var(&self, name: &str) -> Option<String> {
            self.vars.get(name).map(|v| v.to_string())
        }
        fn has_program(&self, program: &str) -> bool {
            self.programs.contains(&program)
        }
        fn has_gsettings_schema(&self, schema: &str) -> bool {
            self.schemas.contains(&schema)
        }
    }

    fn linux(vars: &[(&'static str, &'static str)], programs: &[&'static str]) -> Machine {
        Machine {
            os: "linux",
            vars: vars.iter().copied().collect(),
            programs: programs.to_vec(),
            schemas: vec![GNOME_SCHEMA],
        }
    }

    fn certain(p: Platform) -> Detection {
        Detection {
            platform: p,
            assumed: None,
        }
    }

    #[test]
    fn the_session_names_the_desktop() {
        let cases: &[(&str, &str, Platform)] = &[
            ("XDG_CURRENT_DESKTOP", "ubuntu:GNOME", Platform::Gnome),
            ("XDG_CURRENT_DESKTOP", "KDE", Platform::Kde),
            ("XDG_CURRENT_DESKTOP", "Budgie:GNOME", Platform::Gnome),
            ("XDG_SESSION_DESKTOP", "KDE", Platform::Kde),
            ("DESKTOP_SESSION", "ubuntu", Platform::Gnome),
            (
                "DESKTOP_SESSION",
                "/usr/share/xsessions/plasma",
                Platform::Kde,
            ),
            ("KDE_FULL_SESSION", "true", Platform::Kde),
            (
                "GNOME_DESKTOP_SESSION_ID",
                "this-is-deprecated",
                Platform::Gnome,
            ),
        ];
        for &(var, value, want) in cases {
            // The tools point the other way: the session wins.
            let m = linux(&[(var, value)], &["gsettings", "kreadconfig6"]);
            assert_eq!(detect(&m), certain(want), "{var}={value}");
        }
    }

    #[test]
    fn the_os_decides_on_macos_and_windows() {
        for (os, want) in [("macos", Platform::Macos), ("windows", Platform::Windows)] {
            let mut m = linux(&[("XDG_CURRENT_DESKTOP", "KDE")], &["gsettings"]);
            m.os = os;
            assert_eq!(detect(&m), certain(want));
        }
    }

    #[test]
    fn without_a_session_the_tools_make_a_guess_that_says_so() {
        let guess = |vars: &[(&'static str, &'static str)], programs: &[&'static str]| {
            let d = detect(&linux(vars, programs));
            (d.platform, d.assumed.expect("a guess"))
        };
        assert_eq!(
            guess(&[], &["gsettings"]),
            (
                Platform::Gnome,
                "no desktop session; assuming gnome (gsettings is installed)".to_string()
            )
        );
        assert_eq!(
            guess(&[], &["kreadconfig5"]),
            (
                Platform::Kde,
                "no desktop session; assuming kde (kreadconfig5 is installed)".to_string()
            )
        );
        assert_eq!(
            guess(&[], &["gsettings", "kreadconfig5", "kreadconfig6"]).1,
            "no desktop session; assuming gnome (gsettings and kreadconfig6 are both installed)"
        );
        assert_eq!(
            guess(&[], &[]),
            (
                Platform::Gnome,
                "no desktop session; assuming gnome (no desktop's tools are installed either)"
                    .to_string()
            )
        );
        // An empty variable is no session.
        assert_eq!(
            guess(&[("XDG_CURRENT_DESKTOP", "")], &["kreadconfig6"]).0,
            Platform::Kde
        );
        assert_eq!(
            guess(&[("XDG_CURRENT_DESKTOP", "XFCE")], &["kreadconfig6"]).1,
            "the desktop 'XFCE' (XDG_CURRENT_DESKTOP) is not one knob knows; assuming kde (kreadconfig6 is installed)"
        );
    }

    #[test]
    fn gsettings_without_gnomes_schema_is_not_gnome() {
        let mut m = linux(&[], &["gsettings", "kreadconfig6"]);
        m.schemas.clear();
        assert_eq!(detect(&m).platform, Platform::Kde);
        m.programs = vec!["gsettings"];
        assert_eq!(
            detect(&m).assumed.as_deref(),
            Some("no desktop session; assuming gnome (no desktop's tools are installed either)")
        );
    }

    #[test]
    fn platform_names_parse() {
        assert_eq!("Windows".parse::<Platform>(), Ok(Platform::Windows));
        assert!("beos".parse::<Platform>().is_err());
    }
}
