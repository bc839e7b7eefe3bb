//! Where a string value came from. The decoder can write any text inside a
//! quoted value, and a small model sometimes writes a value it saw in training
//! ("Europe/Madrid", "/home/ben/Pictures/dog2.png") instead of the one the user
//! gave. A string value is planned only when it is in the request, compared
//! leniently (below), or follows from the request by one of the documented
//! normalizations; otherwise the request gets suggestions and the reason.
//!
//! Enum values, numbers and booleans are not checked here: the grammar only
//! lets the decoder write catalog values and ranges for those.
//!
//! The comparison ignores:
//! - letter case, except in POSIX paths (`/home/bob` and `/home/Bob` are two
//!   directories; a Windows path compares without case);
//! - quotes around the value and runs of whitespace;
//! - path separators: `\` and `/` are the same and a run counts as one
//!   (the model writes `C:\\Users`), and a trailing separator;
//! - `~` for the home directory.
//!
//! The value must stand on its own in the request: "/tmp/a" is not in
//! "/tmp/ab.png", "Cantarell 11" is not in "Cantarell 110".
//!
//! Documented normalizations (each needs the request to name the value):
//! - a resolution `WxH`: "W x H", "W by H", or a name: 720p, 1080p, full hd,
//!   fhd, 1440p, qhd, 2160p, 4k, uhd;
//! - a time zone `Area/City`: the city ("Tokyo" for Asia/Tokyo, "New York"
//!   for America/New_York);
//! - a locale `ll_CC.UTF-8`: `ll_CC` or `ll-CC`, or the country CC by name or
//!   adjective ("British", "Germany", "Canadian");
//! - an app id `NAME.desktop`: every distinctive word of NAME ("edge" for
//!   microsoft-edge.desktop, "konqueror" for org.kde.konqueror.desktop).
use std::sync::OnceLock;

use regex::Regex;

use super::grammar::{Action, ActionValue, Program};

/// A string value of the model's program that the request does not contain.
#[derive(Debug, Clone, PartialEq)]
pub struct UnsaidValue {
    pub setting: String,
    pub value: String,
}

/// The first string value in `program` that does not come from `request`.
/// `home` is the user's home directory, for `~`.
pub fn unsaid_value(program: &Program, request: &str, home: Option<&str>) -> Option<UnsaidValue> {
    let Program::Actions(actions) = program else {
        return None;
    };
    actions.iter().find_map(|a| match a {
        Action::Set {
            setting,
            value: ActionValue::Str(value),
        } if !comes_from(value, request, home) => Some(UnsaidValue {
            setting: setting.clone(),
            value: value.clone(),
        }),
        _ => None,
    })
}

/// Whether the string `value` is in `request` or follows from it by a
/// documented normalization (see the module comment).
pub fn comes_from(value: &str, request: &str, home: Option<&str>) -> bool {
    let value = value.trim().trim_matches(QUOTES).trim();
    if value.is_empty() {
        return false;
    }
    said_verbatim(value, request)
        || home_relative(value, home).is_some_and(|v| said_verbatim(&v, request))
        || resolution_named(value, request)
        || time_zone_city_named(value, request)
        || locale_named(value, request)
        || app_named(value, request)
}

const QUOTES: &[char] = &['"', '\'', '`', '‘', '’', '“', '”'];

/// A POSIX path is case-sensitive; anything else (a font, a theme, a Windows
/// path) is compared without case.
fn case_sensitive(value: &str) -> bool {
    value.starts_with('/')
}

/// Case folded (unless `keep_case`), whitespace runs as one space, `\` and `/`
/// runs as one `/`.
fn normalize(s: &str, keep_case: bool) -> String {
    let mut out = String::with_capacity(s.len());
    let mut last: Option<char> = None;
    for c in s.trim().chars() {
        let c = match c {
            '\\' | '/' => '/',
            c if c.is_whitespace() => ' ',
            c => c,
        };
        if (c == '/' || c == ' ') && last == Some(c) {
            continue;
        }
        last = Some(c);
        if keep_case {
            out.push(c);
        } else {
            out.extend(c.to_lowercase());
        }
    }
    out
}

/// Characters that continue a value: a match next to one of them is part of
/// a longer value ("/tmp/a" in "/tmp/ab", "Vimix" in "Bibata-Vimix").
fn continues_value(c: char) -> bool {
    c.is_alphanumeric() || matches!(c, '_' | '-' | '.' | '/' | '+' | '~')
}

/// Whether the request text before a match ends there. A colon continues a
/// value only as a drive letter's ("/Users/x" is not in "C:/Users/x"; it is
/// in "wallpaper:/Users/x").
fn starts_value(before: &str) -> bool {
    let mut back = before.chars().rev();
    match back.next() {
        None => true,
        Some(':') => {
            let drive = back.next().is_some_and(|c| c.is_ascii_alphabetic());
            !(drive && back.next().is_none_or(|c| !c.is_alphanumeric()))
        }
        Some(c) => !continues_value(c),
    }
}

fn said_verbatim(value: &str, request: &str) -> bool {
    let keep_case = case_sensitive(value);
    let mut v = normalize(value, keep_case);
    if v.len() > 1 {
        // A trailing separator names the same directory.
        v.truncate(v.trim_end_matches('/').len());
    }
    let r = normalize(request, keep_case);
    r.match_indices(v.as_str())
        .any(|(at, m)| starts_value(&r[..at]) && ends_value(&r[at + m.len()..]))
}

/// Whether the request text after a match ends the value: nothing, a space,
/// or punctuation (a trailing `/`, a full stop, a closing quote) that is
/// not followed by more of the value.
fn ends_value(after: &str) -> bool {
    let mut chars = after.chars();
    match chars.next() {
        None => true,
        Some(c) if !continues_value(c) => true,
        Some('.' | '/' | ':') => chars.next().is_none_or(|c| !continues_value(c)),
        Some(_) => false,
    }
}

/// `~/rest` for a value under the home directory.
fn home_relative(value: &str, home: Option<&str>) -> Option<String> {
    let home = home?.trim_end_matches('/');
    if home.is_empty() {
        return None;
    }
    let rest = value.strip_prefix(home)?;
    (rest.is_empty() || rest.starts_with('/')).then(|| format!("~{rest}"))
}

/// Lower-case words of the request, joined by single spaces, with a space at
/// each end so a phrase can be found as " new york ".
fn words(request: &str) -> String {
    let mut out = String::from(" ");
    for w in request
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
    {
        out.push_str(&w.to_lowercase());
        out.push(' ');
    }
    out
}

fn has_phrase(words: &str, phrase: &str) -> bool {
    words.contains(&format!(" {phrase} "))
}

fn regex(cell: &'static OnceLock<Regex>, pattern: &str) -> &'static Regex {
    cell.get_or_init(|| Regex::new(pattern).expect("a valid built-in pattern"))
}

const RESOLUTION_NAMES: &[(&str, &str)] = &[
    ("720p", "1280x720"),
    ("1080p", "1920x1080"),
    ("full hd", "1920x1080"),
    ("fhd", "1920x1080"),
    ("1440p", "2560x1440"),
    ("qhd", "2560x1440"),
    ("2160p", "3840x2160"),
    ("4k", "3840x2160"),
    ("uhd", "3840x2160"),
];

fn resolution_named(value: &str, request: &str) -> bool {
    static SHAPE: OnceLock<Regex> = OnceLock::new();
    static IN_REQUEST: OnceLock<Regex> = OnceLock::new();
    let Some(c) = regex(&SHAPE, r"^([0-9]{3,5})x([0-9]{3,5})$").captures(value) else {
        return false;
    };
    let (w, h) = (&c[1], &c[2]);
    let pairs = regex(
        &IN_REQUEST,
        r"(?i)(?:^|[^0-9])([0-9]{3,5})\s*(?:x|×|\*|by)\s*([0-9]{3,5})(?:[^0-9]|$)",
    );
    if pairs
        .captures_iter(request)
        .any(|p| &p[1] == w && &p[2] == h)
    {
        return true;
    }
    let words = words(request);
    RESOLUTION_NAMES
        .iter()
        .any(|(name, res)| *res == value && has_phrase(&words, name))
}

fn time_zone_city_named(value: &str, request: &str) -> bool {
    static SHAPE: OnceLock<Regex> = OnceLock::new();
    if !regex(&SHAPE, r"^[A-Z][A-Za-z_]+(/[A-Z][A-Za-z0-9_+-]+){1,2}$").is_match(value) {
        return false;
    }
    let city = value.rsplit('/').next().unwrap_or(value);
    let city = words(&city.replace(['_', '-'], " "));
    has_phrase(&words(request), city.trim())
}

/// Country codes of the locales people ask for, by the names and adjectives
/// they use for them. "US" is matched in capitals only ("us" is a word).
const COUNTRIES: &[(&str, &[&str])] = &[
    ("AT", &["austria", "austrian"]),
    ("AU", &["australia", "australian"]),
    ("BE", &["belgium", "belgian"]),
    ("BR", &["brazil", "brazilian"]),
    ("CA", &["canada", "canadian"]),
    ("CH", &["switzerland", "swiss"]),
    ("CN", &["china", "chinese"]),
    ("CZ", &["czechia", "czech"]),
    ("DE", &["germany", "german"]),
    ("DK", &["denmark", "danish"]),
    ("ES", &["spain", "spanish"]),
    ("FI", &["finland", "finnish"]),
    ("FR", &["france", "french"]),
    (
        "GB",
        &["uk", "britain", "british", "united kingdom", "england"],
    ),
    ("IE", &["ireland", "irish"]),
    ("IN", &["india", "indian"]),
    ("IT", &["italy", "italian"]),
    ("JP", &["japan", "japanese"]),
    ("KR", &["korea", "korean"]),
    ("MX", &["mexico", "mexican"]),
    ("NL", &["netherlands", "dutch", "holland"]),
    ("NO", &["norway", "norwegian"]),
    ("NZ", &["new zealand"]),
    ("PL", &["poland", "polish"]),
    ("PT", &["portugal", "portuguese"]),
    ("RU", &["russia", "russian"]),
    ("SE", &["sweden", "swedish"]),
    ("TR", &["turkey", "turkish"]),
    ("UA", &["ukraine", "ukrainian"]),
    (
        "US",
        &["usa", "united states", "america", "american", "states"],
    ),
];

fn locale_named(value: &str, request: &str) -> bool {
    static SHAPE: OnceLock<Regex> = OnceLock::new();
    let Some(c) = regex(&SHAPE, r"^([a-z]{2,3})_([A-Z]{2})\.UTF-8$").captures(value) else {
        return false;
    };
    let (lang, country) = (&c[1], &c[2]);
    if said_verbatim(&format!("{lang}_{country}"), request)
        || said_verbatim(&format!("{lang}-{country}"), request)
    {
        return true;
    }
    if country == "US"
        && request
            .split(|c: char| !c.is_alphanumeric())
            .any(|w| w == "US")
    {
        return true;
    }
    let words = words(request);
    COUNTRIES
        .iter()
        .filter(|(code, _)| *code == country)
        .flat_map(|(_, names)| names.iter())
        .any(|name| has_phrase(&words, name))
}

/// Words of an app id that say nothing about which app it is.
const GENERIC_APP_WORDS: &[&str] = &[
    "org",
    "com",
    "net",
    "io",
    "kde",
    "gnome",
    "desktop",
    "stable",
    "browser",
    "microsoft",
    "google",
    "mozilla",
    "app",
];

fn app_named(value: &str, request: &str) -> bool {
    let Some(stem) = value.strip_suffix(".desktop") else {
        return false;
    };
    let distinctive: Vec<String> = stem
        .split(['.', '-', '_'])
        .map(str::to_lowercase)
        .filter(|w| !w.is_empty() && !GENERIC_APP_WORDS.contains(&w.as_str()))
        .collect();
    let words = words(request);
    !distinctive.is_empty() && distinctive.iter().all(|w| has_phrase(&words, w))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// (value, request, comes from it)
    const TABLE: &[(&str, &str, bool)] = &[
        // the issue's examples
        ("Europe/Zurich", "set timezone to Europe/Zurich", true),
        ("Europe/Madrid", "set timezone to Europe/Zurich", false),
        (
            "/home/bob/Pictures/dog.png",
            "set the wallpaper to /home/bob/Pictures/dog.png",
            true,
        ),
        (
            "/home/ben/Pictures/dog2.png",
            "set the wallpaper to /home/bob/Pictures/dog.png",
            false,
        ),
        ("/tmp/a b c.png", "set wallpaper to /tmp/a b c.png", true),
        (
            "/tmp/tmp/aurora.png",
            "set wallpaper to /tmp/a b c.png",
            false,
        ),
        (
            "Cantarell 11",
            "set the font to 'Cantarell 11'; rm -rf ~",
            true,
        ),
        // case: ignored except in POSIX paths
        ("Europe/Zurich", "set timezone to europe/zurich", true),
        ("JetBrains Mono 12", "use jetbrains mono 12 for code", true),
        (
            "/home/bob/Pictures/dog.png",
            "wallpaper /home/bob/pictures/dog.png",
            false,
        ),
        (
            "C:\\Users\\Maria\\Pictures",
            "save screenshots in c:\\users\\maria\\pictures",
            true,
        ),
        // quotes around the value, in the request or in the model's value
        (
            "Noto Sans 11",
            "use \"Noto Sans 11\" as the interface font",
            true,
        ),
        (
            "'Noto Sans 11'",
            "use Noto Sans 11 as the interface font",
            true,
        ),
        (
            "Noto Sans 11",
            "use “Noto Sans 11” as the interface font",
            true,
        ),
        // whitespace runs
        ("Noto Sans 11", "use Noto   Sans\t11 please", true),
        // the value must stand on its own
        ("Cantarell 1", "set the font to Cantarell 11", false),
        ("/tmp/a", "set wallpaper to /tmp/ab.png", false),
        ("/tmp/a", "set wallpaper to /tmp/a/b.png", false),
        ("Vimix", "icon theme Bibata-Vimix", false),
        ("UTC", "time zone UTC+2", false),
        (
            "/Users/maria/x.png",
            "wallpaper C:\\Users\\maria\\x.png",
            false,
        ),
        ("/Users/maria/x.png", "wallpaper:/Users/maria/x.png", true),
        ("Europe/Zurich", "tz:Europe/Zurich", true),
        ("Noto Sans 11", "font: Noto Sans 11.", true),
        // trailing separators
        (
            "/home/pat/shots",
            "save screenshots to /home/pat/shots/",
            true,
        ),
        (
            "/home/pat/shots/",
            "save screenshots to /home/pat/shots",
            true,
        ),
        // Windows backslashes, doubled as the model writes them, or slashes
        (
            "C:\\\\Users\\\\maria\\\\Downloads",
            "use C:\\Users\\maria\\Downloads for screenshots",
            true,
        ),
        (
            "C:/Users/maria/Downloads",
            "use C:\\Users\\maria\\Downloads for screenshots",
            true,
        ),
        (
            "C:\\\\Users\\\\mario\\\\Downloads",
            "use C:\\Users\\maria\\Downloads for screenshots",
            false,
        ),
        // documented normalizations
        ("1920x1080", "switch the display to 1080p", true),
        ("1920x1080", "use full hd resolution", true),
        ("3840x2160", "4k please", true),
        ("1920x1200", "my monitor is 1920 x 1200, use that", true),
        ("1920x1080", "switch the display to 1440p", false),
        ("1920x1200", "my monitor is 1920 x 1080", false),
        (
            "Asia/Tokyo",
            "I just moved to Tokyo, update the timezone",
            true,
        ),
        ("America/New_York", "set the clock to New York time", true),
        ("America/New_York", "set the clock to York time", false),
        ("en_GB.UTF-8", "use British formats", true),
        ("en_GB.UTF-8", "use en_GB for formats", true),
        ("en_US.UTF-8", "switch formats back to US", true),
        ("en_US.UTF-8", "let us use the formats of my country", false),
        ("de_DE.UTF-8", "use British formats", false),
        ("microsoft-edge.desktop", "use edge as browser", true),
        (
            "org.kde.konqueror.desktop",
            "preferred browser: konqueror",
            true,
        ),
        ("google-chrome.desktop", "make chrome my browser", true),
        ("chromium.desktop", "make chrome my browser", false),
        ("firefox.desktop", "set browser to librewolf", false),
        // nothing to go on
        ("", "set the font", false),
    ];

    #[test]
    fn a_value_comes_from_the_request_or_a_documented_normalization() {
        let wrong: Vec<String> = TABLE
            .iter()
            .filter(|(v, r, want)| comes_from(v, r, None) != *want)
            .map(|(v, r, want)| format!("{v:?} in {r:?}: expected {want}"))
            .collect();
        assert!(wrong.is_empty(), "{wrong:#?}");
    }

    #[test]
    fn tilde_stands_for_the_home_directory_only() {
        let home = Some("/home/bob");
        let request = "set the wallpaper to ~/Pictures/dog.png";
        assert!(comes_from("/home/bob/Pictures/dog.png", request, home));
        assert!(!comes_from("/home/ben/Pictures/dog.png", request, home));
        assert!(!comes_from("/home/bob/Pictures/dog.png", request, None));
        assert!(!comes_from(
            "/home/bobby/Pictures/dog.png",
            "set the wallpaper to ~by/Pictures/dog.png",
            home
        ));
    }

    #[test]
    fn the_first_unsaid_string_value_of_a_program_is_named() {
        let catalog = crate::settings::load_catalog().unwrap();
        let g = crate::agent::grammar::grammar_catalog(&catalog);
        let program = crate::agent::grammar::parse(
            "set appearance.dark_mode true ; set time.timezone \"Europe/Madrid\"",
            &g,
        )
        .unwrap();
        assert_eq!(
            unsaid_value(&program, "dark mode and timezone Europe/Zurich", None),
            Some(UnsaidValue {
                setting: "time.timezone".into(),
                value: "Europe/Madrid".into()
            })
        );
        assert_eq!(
            unsaid_value(&program, "dark mode and timezone Europe/Madrid", None),
            None
        );
    }
}
