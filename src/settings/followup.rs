//! Follow-up commands that depend on the value. Plasma regenerates its
//! colours from an accent only when the accent is passed to it
//! (`plasma-apply-colorscheme --accent-color`), spelled as Qt reads colours,
//! while kdeglobals keeps `R,G,B`: `after` names it `{color}`, a whole argv
//! element, so the text is never spliced into anything. Baloo starts or
//! stops only when told (`balooctl6 enable|disable`): `after_value` picks
//! the argv by value. Undo runs them for the value it put back.

use super::system::System;

/// The placeholder: the colour the mapping's key holds after the writes.
pub const COLOR: &str = "{color}";

/// Whether `argv` names the key's value (and so differs per value).
pub fn names_value(argv: &[String]) -> bool {
    argv.iter().any(|a| a == COLOR)
}

/// A placeholder-like element that is not `{color}`: `{colour}`, `x{color}`.
/// `{}` alone is an argument (gdbus's empty dictionary), not a placeholder.
pub fn unknown_placeholder(argv: &[String]) -> Option<&str> {
    argv.iter()
        .map(String::as_str)
        .find(|a| *a != COLOR && a.contains('{') && a.contains('}') && *a != "{}")
}

/// Qt's name for the colour a kconfig key holds. KConfig writes a colour as
/// `R,G,B` (`R,G,B,A` with alpha); Qt's parser takes `#rrggbb` and
/// `#aarrggbb`. An absent or empty key (`None`, `""`) is `transparent`,
/// which plasma-apply-colorscheme takes as "no accent": the colour scheme's
/// own colours. A `#hex` or a plain colour name is passed on as it is.
/// `None` for text that is no colour.
pub fn qt_color(text: Option<&str>) -> Option<String> {
    let text = text.map(str::trim).unwrap_or("");
    if text.is_empty() {
        return Some("transparent".to_string());
    }
    if text.contains(',') {
        let parts: Vec<u8> = text
            .split(',')
            .map(|p| p.trim().parse::<u8>().ok())
            .collect::<Option<_>>()?;
        return match parts[..] {
            [r, g, b] => Some(format!("#{r:02x}{g:02x}{b:02x}")),
            [r, g, b, a] => Some(format!("#{a:02x}{r:02x}{g:02x}{b:02x}")),
            _ => None,
        };
    }
    let hex = text.strip_prefix('#').is_some_and(|h| {
        matches!(h.len(), 3 | 6 | 8 | 9 | 12) && h.chars().all(|c| c.is_ascii_hexdigit())
    });
    let name = text.chars().all(|c| c.is_ascii_alphabetic());
    (hex || name).then(|| text.to_string())
}

/// KDE tools renamed for Frameworks 6, and their Frameworks 5 names.
const FRAMEWORKS5_NAMES: &[(&str, &str)] = &[("balooctl6", "balooctl")];

/// `argv` with its program under the Frameworks 5 name where only that one
/// is installed (Plasma 5), so a catalog can name the Plasma 6 tool first.
pub fn installed_name(argv: &[String], sys: &dyn System) -> Vec<String> {
    let mut out = argv.to_vec();
    let Some(program) = argv.first() else {
        return out;
    };
    if let Some((_, old)) = FRAMEWORKS5_NAMES.iter().find(|(new, _)| program == new) {
        if !sys.has_program(program) && sys.has_program(old) {
            out[0] = old.to_string();
        }
    }
    out
}

/// `argv` with `{color}` replaced by `color`.
pub fn render(argv: &[String], color: &str) -> Vec<String> {
    argv.iter()
        .map(|a| {
            if a == COLOR {
                color.to_string()
            } else {
                a.clone()
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(a: &[&str]) -> Vec<String> {
        a.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn kconfig_colours_become_qt_names() {
        assert_eq!(qt_color(Some("53,132,228")).as_deref(), Some("#3584e4"));
        assert_eq!(qt_color(Some("0, 0, 0")).as_deref(), Some("#000000"));
        assert_eq!(qt_color(Some("255,0,0,128")).as_deref(), Some("#80ff0000"));
        assert_eq!(qt_color(Some("#3daee9")).as_deref(), Some("#3daee9"));
        assert_eq!(qt_color(Some("red")).as_deref(), Some("red"));
    }

    #[test]
    fn no_accent_is_transparent() {
        assert_eq!(qt_color(None).as_deref(), Some("transparent"));
        assert_eq!(qt_color(Some("")).as_deref(), Some("transparent"));
        assert_eq!(qt_color(Some("  ")).as_deref(), Some("transparent"));
    }

    #[test]
    fn text_that_is_no_colour_gives_none() {
        for bad in [
            "256,0,0",
            "1,2",
            "1,2,3,4,5",
            "a,b,c",
            "#12345",
            "#xyzxyz",
            "-x",
            "red;rm",
        ] {
            assert_eq!(qt_color(Some(bad)), None, "{bad}");
        }
    }

    #[test]
    fn plasma5_tools_stand_in_for_plasma6_names() {
        use crate::settings::FakeSystem;
        let argv = v(&["balooctl6", "enable"]);
        let plasma5 = FakeSystem::with_programs(&["balooctl"]);
        assert_eq!(installed_name(&argv, &plasma5), v(&["balooctl", "enable"]));
        let plasma6 = FakeSystem::with_programs(&["balooctl6", "balooctl"]);
        assert_eq!(installed_name(&argv, &plasma6), argv);
        // Neither: the Plasma 6 name stays, and its failure names it.
        assert_eq!(installed_name(&argv, &FakeSystem::with_programs(&[])), argv);
        let other = v(&["dbus-send", "x"]);
        assert_eq!(installed_name(&other, &plasma5), other);
    }

    #[test]
    fn only_whole_elements_are_replaced() {
        let t = v(&["plasma-apply-colorscheme", "--accent-color", COLOR]);
        assert!(names_value(&t));
        assert_eq!(
            render(&t, "#3584e4"),
            v(&["plasma-apply-colorscheme", "--accent-color", "#3584e4"])
        );
        assert!(!names_value(&v(&["gdbus", "call", "{}"])));
        assert_eq!(unknown_placeholder(&v(&["gdbus", "{}"])), None);
        assert_eq!(unknown_placeholder(&t), None);
        assert_eq!(
            unknown_placeholder(&v(&["x", "{colour}"])),
            Some("{colour}")
        );
        assert_eq!(
            unknown_placeholder(&v(&["x", "a{color}"])),
            Some("a{color}")
        );
    }
}
