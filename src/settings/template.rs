//! Command argv templates (the `write` of a command mapping): where the value
//! goes and how it is escaped there. A value is never spliced into script
//! text as it is: it is either a whole argv element (`{value}`), or it sits
//! inside a string literal of the script, escaped for that language
//! (`{value:js}`, `{value:ps}`, `{value:gvariant}`). The loader checks the
//! templates with `check`; planning renders them with `render`.
use std::ops::Range;

/// How a placeholder embeds the value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Escape {
    /// `{value}`: the text as it is.
    Plain,
    /// `{value:js}`: inside a '...' or "..." JavaScript string literal
    /// (qdbus evaluateScript).
    Js,
    /// `{value:ps}`: inside a '...' PowerShell verbatim string.
    Ps,
    /// `{value:gvariant}`: inside a '...' or "..." GVariant string.
    Gvariant,
}

impl Escape {
    pub fn placeholder(self) -> &'static str {
        match self {
            Escape::Plain => "{value}",
            Escape::Js => "{value:js}",
            Escape::Ps => "{value:ps}",
            Escape::Gvariant => "{value:gvariant}",
        }
    }

    /// The name used in `{value:NAME}` and in a command table's `unescape`
    /// (empty for the plain form).
    pub fn name(self) -> &'static str {
        match self {
            Escape::Plain => "",
            Escape::Js => "js",
            Escape::Ps => "ps",
            Escape::Gvariant => "gvariant",
        }
    }

    /// The inverse of `name`, for the escaped forms.
    pub fn parse(name: &str) -> Option<Escape> {
        Some(match name {
            "js" => Escape::Js,
            "ps" => Escape::Ps,
            "gvariant" => Escape::Gvariant,
            _ => return None,
        })
    }

    /// The text to put between the literal's quotes.
    pub fn apply(self, text: &str) -> String {
        match self {
            Escape::Plain => text.to_string(),
            Escape::Js => js_escape(text),
            Escape::Ps => ps_escape(text),
            Escape::Gvariant => gvariant_escape(text),
        }
    }
}

/// One placeholder in one template element.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Slot {
    /// Byte range of the placeholder in the element.
    pub range: Range<usize>,
    pub escape: Escape,
}

/// Finds the placeholders of one element. `Err` names an unknown form.
pub fn slots(element: &str) -> Result<Vec<Slot>, String> {
    let mut out = Vec::new();
    let mut from = 0;
    while let Some(i) = element[from..].find("{value") {
        let start = from + i;
        let Some(len) = element[start..].find('}') else {
            return Err(format!("'{}' has no closing '}}'", &element[start..]));
        };
        let end = start + len + 1;
        let escape = match &element[start..end] {
            "{value}" => Escape::Plain,
            other => match other
                .strip_prefix("{value:")
                .and_then(|n| n.strip_suffix('}'))
                .and_then(Escape::parse)
            {
                Some(e) => e,
                None => {
                    return Err(format!(
                        "unknown placeholder {other} (expected {{value}}, {{value:js}}, {{value:ps}} or {{value:gvariant}})"
                    ))
                }
            },
        };
        out.push(Slot {
            range: start..end,
            escape,
        });
        from = end;
    }
    Ok(out)
}

/// Programs whose arguments are script text: a plain `{value}` may only be
/// a whole argument there (an osascript `argv` item after `--`).
const SCRIPT_HOSTS: &[&str] = &[
    "osascript",
    "powershell",
    "pwsh",
    "qdbus",
    "qdbus6",
    "qdbus-qt5",
    "qdbus-qt6",
    "cmd",
    "sh",
    "bash",
    "zsh",
    "node",
    "python",
    "python3",
    "perl",
];

fn program_name(argv0: &str) -> String {
    let base = argv0.rsplit(['/', '\\']).next().unwrap_or(argv0);
    let base = base.to_ascii_lowercase();
    base.strip_suffix(".exe").unwrap_or(&base).to_string()
}

/// A template error: the element it is in (`None`: the whole template) and
/// the message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TemplateProblem {
    pub element: Option<usize>,
    pub message: String,
}

/// Checks a `write` template. `free_text`: the value is text the user chose
/// (a string setting without a map), not a number or a catalog name.
/// `can_start_with_dash`: the setting can produce text that starts with `-`
/// (a number whose range allows negatives, a map text or enum name with `-`).
pub fn check(
    write: &[String],
    free_text: bool,
    can_start_with_dash: bool,
) -> Result<(), TemplateProblem> {
    let problem = |element, message: String| {
        Err(TemplateProblem {
            element: Some(element),
            message,
        })
    };
    let script_host = write
        .first()
        .is_some_and(|p| SCRIPT_HOSTS.contains(&program_name(p).as_str()));
    let mut any = false;
    for (i, element) in write.iter().enumerate() {
        let found = match slots(element) {
            Ok(s) => s,
            Err(m) => return problem(i, m),
        };
        if i == 0 && !found.is_empty() {
            return problem(i, "the program name must not contain the value".into());
        }
        for slot in &found {
            any = true;
            let whole = slot.range == (0..element.len());
            match slot.escape {
                Escape::Plain if whole => {
                    let after_dashes = write[..i].iter().any(|a| a == "--");
                    if script_host && !after_dashes {
                        return problem(
                            i,
                            format!(
                                "{} passes {{value}} to a script: put it after \"--\" as a script argument (osascript: on run argv)",
                                write[0]
                            ),
                        );
                    }
                    if can_start_with_dash && !after_dashes {
                        return problem(
                            i,
                            format!(
                                "this setting's values can start with '-', which {} would read as an option: put \"--\" before {{value}}",
                                write[0]
                            ),
                        );
                    }
                }
                Escape::Plain => {
                    if script_host {
                        return problem(
                            i,
                            format!(
                                "{{value}} inside {} script text would be spliced into the script: pass it as an argument, or use {{value:js}}, {{value:ps}} or {{value:gvariant}} inside a string literal",
                                write[0]
                            ),
                        );
                    }
                    if free_text {
                        return problem(
                            i,
                            "{value} of a free-text setting must be a whole argument, or escaped with {value:js}, {value:ps} or {value:gvariant} inside a string literal".into(),
                        );
                    }
                    if can_start_with_dash && slot.range.start == 0 {
                        return problem(
                            i,
                            format!(
                                "this setting's values can start with '-', and this argument starts with {{value}}: {} would read it as an option",
                                write[0]
                            ),
                        );
                    }
                }
                escape => {
                    if let Err(m) = inside_string(element, slot.range.start, escape) {
                        return problem(i, m);
                    }
                }
            }
        }
    }
    if !any {
        return Err(TemplateProblem {
            element: None,
            message: "'write' must contain {value}".into(),
        });
    }
    Ok(())
}

/// Whether byte `at` of `element` is inside a string literal whose quotes
/// the escape is made for. Strings, escapes and comments are scanned the
/// way the language reads them.
fn inside_string(element: &str, at: usize, escape: Escape) -> Result<(), String> {
    let name = escape.placeholder();
    // (quote chars that open a string the escape may sit in, those it may not)
    let (allowed, other): (&[char], &[char]) = match escape {
        Escape::Js => (&['\'', '"'], &['`']),
        Escape::Gvariant => (&['\'', '"'], &[]),
        // PowerShell reads the curly quotes U+2018..U+201B as single quotes
        // and U+201C..U+201E as double quotes.
        Escape::Ps => (
            &['\'', '\u{2018}', '\u{2019}', '\u{201A}', '\u{201B}'],
            &['"', '\u{201C}', '\u{201D}', '\u{201E}'],
        ),
        Escape::Plain => return Ok(()),
    };
    let ps = escape == Escape::Ps;
    let js = escape == Escape::Js;
    let mut open: Option<char> = None;
    let mut chars = element.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        if i >= at {
            break;
        }
        match open {
            None => {
                if allowed.contains(&c) || other.contains(&c) {
                    open = Some(c);
                } else {
                    // `//` or `/*` in JavaScript, `#` (and `<#`) in PowerShell:
                    // everything after it is a comment as far as knob cares.
                    let next = chars.peek().map(|(_, n)| *n);
                    let comment =
                        (js && c == '/' && matches!(next, Some('/' | '*'))) || (ps && c == '#');
                    if comment {
                        return Err(format!("{name} is in a comment"));
                    }
                }
            }
            Some(q) => {
                let single_ps = ps && allowed.contains(&q);
                if single_ps {
                    // '' (any two single quotes) is one quote; one ends the string.
                    if allowed.contains(&c) {
                        if chars.peek().is_some_and(|(_, n)| allowed.contains(n)) {
                            chars.next();
                        } else {
                            open = None;
                        }
                    }
                } else if ps {
                    if c == '`' {
                        chars.next();
                    } else if other.contains(&c) {
                        open = None;
                    }
                } else if c == '\\' {
                    chars.next();
                } else if c == q {
                    open = None;
                }
            }
        }
    }
    match open {
        Some(q) if allowed.contains(&q) => Ok(()),
        _ => Err(format!(
            "{name} must sit inside a {} string literal",
            match escape {
                Escape::Ps => "single-quoted ('...')",
                _ => "'...' or \"...\"",
            }
        )),
    }
}

/// Why a value cannot go into a command's argv.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ArgvError {
    #[error("'{value}' starts with '-', which {program} would read as an option")]
    OptionLike { value: String, program: String },
    #[error("invalid command template: {0}")]
    Template(String),
}

/// The argv a template gives for `text` (the value's backend text).
pub fn render(write: &[String], text: &str) -> Result<Vec<String>, ArgvError> {
    let mut out = Vec::with_capacity(write.len());
    for (i, element) in write.iter().enumerate() {
        let found = slots(element).map_err(ArgvError::Template)?;
        let mut rendered = String::with_capacity(element.len() + text.len());
        let mut last = 0;
        for slot in &found {
            rendered.push_str(&element[last..slot.range.start]);
            rendered.push_str(&slot.escape.apply(text));
            last = slot.range.end;
        }
        rendered.push_str(&element[last..]);
        let starts_with_value = found
            .first()
            .is_some_and(|s| s.range.start == 0 && s.escape == Escape::Plain);
        if starts_with_value && rendered.starts_with('-') && !write[..i].iter().any(|a| a == "--") {
            return Err(ArgvError::OptionLike {
                value: text.to_string(),
                program: write[0].clone(),
            });
        }
        out.push(rendered);
    }
    Ok(out)
}

/// The escape of the first placeholder of a template.
pub fn first_escape(write: &[String]) -> Option<Escape> {
    write
        .iter()
        .find_map(|e| slots(e).ok().and_then(|s| s.first().map(|s| s.escape)))
}

/// JavaScript string contents, valid between either quote: serde_json's
/// escaping (backslash, double quote, control characters), plus `'` and the
/// line separators U+2028/U+2029, which end a string in older engines.
pub fn js_escape(text: &str) -> String {
    let json = serde_json::to_string(text).unwrap_or_default();
    let inner = &json[1..json.len() - 1];
    inner
        .replace('\'', "\\u0027")
        .replace('\u{2028}', "\\u2028")
        .replace('\u{2029}', "\\u2029")
}

/// PowerShell verbatim-string contents: every single-quote character,
/// including the curly ones PowerShell also treats as quotes, is doubled.
/// Nothing else is special between single quotes (no `$` or backtick
/// expansion), which is why the ps form must sit in '...'.
pub fn ps_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    for c in text.chars() {
        if is_ps_single_quote(c) {
            out.push(c);
        }
        out.push(c);
    }
    out
}

fn is_ps_single_quote(c: char) -> bool {
    matches!(c, '\'' | '\u{2018}'..='\u{201B}')
}

/// The inverse of `ps_escape`; `None` when a lone quote would end the string.
pub fn ps_unescape(text: &str) -> Option<String> {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if is_ps_single_quote(c) {
            let next = chars.next()?;
            if !is_ps_single_quote(next) {
                return None;
            }
            out.push(next);
        } else {
            out.push(c);
        }
    }
    Some(out)
}

/// GVariant string contents, valid between either quote: `\`, `'` and `"`
/// get a backslash, control characters are written `\uXXXX`.
pub fn gvariant_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    for c in text.chars() {
        match c {
            '\\' | '\'' | '"' => {
                out.push('\\');
                out.push(c);
            }
            c if c.is_control() && (c as u32) <= 0xFFFF => {
                out.push_str(&format!("\\u{:04x}", c as u32))
            }
            c => out.push(c),
        }
    }
    out
}

/// GVariant string contents as `gsettings get` prints them, unescaped:
/// `\uXXXX`, `\UXXXXXXXX`, `\n`-style escapes, and a backslash before any
/// other character. `None` for a malformed escape.
pub fn gvariant_unescape(text: &str) -> Option<String> {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        let e = chars.next()?;
        let hex = |n: usize, chars: &mut std::str::Chars| -> Option<char> {
            let digits: String = chars.by_ref().take(n).collect();
            if digits.len() != n {
                return None;
            }
            char::from_u32(u32::from_str_radix(&digits, 16).ok()?)
        };
        out.push(match e {
            'u' => hex(4, &mut chars)?,
            'U' => hex(8, &mut chars)?,
            'n' => '\n',
            't' => '\t',
            'r' => '\r',
            'a' => '\u{7}',
            'b' => '\u{8}',
            'f' => '\u{c}',
            'v' => '\u{b}',
            other => other,
        });
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(items: &[&str]) -> Vec<String> {
        items.iter().map(|s| s.to_string()).collect()
    }

    const NASTY: &[&str] = &[
        "plain",
        "it's",
        "say \"hi\"",
        r"back\slash",
        "line\nbreak",
        "\u{2028}sep",
        "‘curly’ ‚quotes‛",
        "$(Remove-Item x) `whoami`",
        "\"; do shell script \"touch /tmp/x\" --\"",
        "'); evil(); ('",
    ];

    #[test]
    fn js_escape_round_trips_through_a_json_parser() {
        for text in NASTY {
            let e = js_escape(text);
            assert!(!e.contains('\'') && !e.contains('\u{2028}'), "{e}");
            let back: String = serde_json::from_str(&format!("\"{e}\"")).unwrap();
            assert_eq!(&back, text);
        }
    }

    #[test]
    fn ps_escape_doubles_every_single_quote_kind() {
        assert_eq!(ps_escape("it's"), "it''s");
        assert_eq!(ps_escape("a\u{2019}b"), "a\u{2019}\u{2019}b");
        for text in NASTY {
            assert_eq!(ps_unescape(&ps_escape(text)).as_deref(), Some(*text));
        }
        assert_eq!(ps_unescape("a'b"), None, "a lone quote ends the string");
    }

    #[test]
    fn gvariant_escape_round_trips() {
        assert_eq!(gvariant_escape(r#"a'b"c\d"#), r#"a\'b\"c\\d"#);
        for text in NASTY {
            assert_eq!(
                gvariant_unescape(&gvariant_escape(text)).as_deref(),
                Some(*text)
            );
        }
        assert_eq!(gvariant_unescape(r"\u00e9\x").as_deref(), Some("éx"));
        assert_eq!(gvariant_unescape("a\\"), None);
    }

    #[test]
    fn render_places_and_escapes_the_value() {
        let t = v(&["qdbus", "s", "/p", "m", "x = '{value:js}';"]);
        assert_eq!(render(&t, "it's").unwrap()[4], r"x = 'it\u0027s';");
        let t = v(&["pactl", "set-default-sink", "{value}"]);
        assert_eq!(
            render(&t, "--help").unwrap_err(),
            ArgvError::OptionLike {
                value: "--help".into(),
                program: "pactl".into()
            }
        );
        let t = v(&["timedatectl", "set-timezone", "--", "{value}"]);
        assert_eq!(render(&t, "-x").unwrap()[3], "-x");
        let t = v(&["brightnessctl", "set", "{value}%"]);
        assert!(render(&t, "-5").is_err());
        assert_eq!(render(&t, "5").unwrap()[2], "5%");
    }

    #[test]
    fn check_refuses_spliced_values() {
        let err = |t: &[&str], free: bool| check(&v(t), free, false).unwrap_err().message;
        assert!(err(&["osascript", "-e", "set volume {value}"], false).contains("spliced"));
        assert!(err(&["osascript", "-e", "x", "{value}"], false).contains("after \"--\""));
        assert!(err(&["tool", "--name={value}"], true).contains("free-text"));
        assert!(err(&["qdbus", "a", "x = {value:js};"], false).contains("inside a"));
        assert!(err(&["qdbus", "a", "x = `{value:js}`;"], false).contains("inside a"));
        assert!(err(&["qdbus", "a", "// '{value:js}'"], false).contains("comment"));
        assert!(err(&["pwsh", "-Command", "\"{value:ps}\""], false).contains("single-quoted"));
        assert!(err(&["pwsh", "-Command", "'a'{value:ps}"], false).contains("single-quoted"));
        assert!(err(&["t", "{value:sh}"], false).contains("unknown placeholder"));
        assert!(err(&["t", "x"], false).contains("must contain {value}"));
        assert!(check(&v(&["wpctl", "set", "{value}"]), false, true)
            .unwrap_err()
            .message
            .contains("put \"--\" before"));
        for ok in [
            &[
                "osascript",
                "-e",
                "on run argv",
                "-e",
                "end run",
                "--",
                "{value}",
            ][..],
            &["qdbus", "a", "x = \"{value:js}\"; y = 'a\\'{value:js}';"],
            &["pwsh", "-Command", "& { param([int]$v) $v } '{value:ps}'"],
            &["gsettings", "set", "s", "k", "'file://{value:gvariant}'"],
            &["pwsh", "-Command", "'a''{value:ps}'"],
        ] {
            check(&v(ok), true, false).unwrap_or_else(|p| panic!("{ok:?}: {p:?}"));
        }
        // A number or a catalog name may be part of an argument of a tool
        // that is not a script host.
        check(&v(&["brightnessctl", "set", "{value}%"]), false, false).unwrap();
    }
}
