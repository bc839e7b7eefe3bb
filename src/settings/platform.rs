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

/// Detects the platform of this machine. `desktop` is the value of
/// `XDG_CURRENT_DESKTOP` (a colon-separated list such as `ubuntu:GNOME`).
pub fn detect(desktop: Option<&str>) -> Result<Platform, String> {
    if cfg!(target_os = "macos") {
        return Ok(Platform::Macos);
    }
    if cfg!(windows) {
        return Ok(Platform::Windows);
    }
    detect_desktop(desktop)
}

/// The Linux part of `detect`, testable on any machine.
pub fn detect_desktop(desktop: Option<&str>) -> Result<Platform, String> {
    let desktop = desktop.unwrap_or("");
    for part in desktop.split(':') {
        match part.to_ascii_uppercase().as_str() {
            "GNOME" | "GNOME-FLASHBACK" | "GNOME-CLASSIC" | "UNITY" | "BUDGIE" | "POP" => {
                return Ok(Platform::Gnome)
            }
            "KDE" | "PLASMA" => return Ok(Platform::Kde),
            _ => {}
        }
    }
    if desktop.is_empty() {
        Err("cannot tell which desktop this is: XDG_CURRENT_DESKTOP is not set; pass --platform gnome|kde|macos|windows".into())
    } else {
        Err(format!(
            "the desktop '{desktop}' (XDG_CURRENT_DESKTOP) is not one knob knows; pass --platform gnome|kde|macos|windows"
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detects_desktops() {
        assert_eq!(detect_desktop(Some("ubuntu:GNOME")), Ok(Platform::Gnome));
        assert_eq!(detect_desktop(Some("KDE")), Ok(Platform::Kde));
        assert!(detect_desktop(None)
            .unwrap_err()
            .contains("XDG_CURRENT_DESKTOP is not set"));
        assert!(detect_desktop(Some("XFCE")).unwrap_err().contains("'XFCE'"));
        assert_eq!("Windows".parse::<Platform>(), Ok(Platform::Windows));
        assert!("beos".parse::<Platform>().is_err());
    }
}
