//! Colour for what the settings commands print on standard output: the
//! plan table's status letters, the "understood:" line and the "applied"
//! line. The words are the same with colour and without it (`--color`
//! decides, see `context::resolve_color`): `settings::render` writes plain
//! text, and colour is added here, around whole rows it recognises.
use crate::settings::plan::Plan;
use crate::settings::render::status_letter;

/// SGR codes. Only the terminal's own palette (no RGB), as the chat
/// interface's theme does, so light and dark terminals both read well.
const RESET: &str = "\x1b[0m";
const BOLD: &str = "\x1b[1m";
const DIM: &str = "\x1b[2m";
const RED: &str = "\x1b[31m";
const GREEN: &str = "\x1b[32m";
const YELLOW: &str = "\x1b[33m";
const MAGENTA: &str = "\x1b[35m";
const BOLD_RED: &str = "\x1b[1;31m";

/// Adds colour when `on`, and nothing otherwise.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Paint {
    on: bool,
}

impl Paint {
    pub fn new(on: bool) -> Paint {
        Paint { on }
    }

    fn wrap(&self, sgr: &str, text: &str) -> String {
        if self.on {
            format!("{sgr}{text}{RESET}")
        } else {
            text.to_string()
        }
    }

    /// A headline ("understood: ...").
    pub fn bold(&self, text: &str) -> String {
        self.wrap(BOLD, text)
    }

    /// A success ("applied 2 changes ...").
    pub fn ok(&self, text: &str) -> String {
        self.wrap(GREEN, text)
    }

    /// `table` (`render_plan` of `plan`) with the status letter of each row
    /// coloured: a row is recognised by its letter and setting id, in plan
    /// order, so no other line (a note, an argv) is ever touched.
    pub fn plan(&self, plan: &Plan, table: &str) -> String {
        let rows = plan
            .actions
            .iter()
            .map(|a| (status_letter(a), a.setting.as_str()))
            .chain(plan.skipped.iter().map(|s| ('-', s.setting.as_str())));
        self.rows(rows, table)
    }

    /// `table` with the letter of each of `rows` (status letter, setting
    /// id), met in this order, coloured.
    fn rows<'a>(&self, rows: impl Iterator<Item = (char, &'a str)>, table: &str) -> String {
        if !self.on {
            return table.to_string();
        }
        let mut rows = rows.peekable();
        let mut out = String::with_capacity(table.len() + 64);
        for line in table.split_inclusive('\n') {
            let next = rows.next_if(|&(letter, id)| {
                line.strip_prefix(letter)
                    .and_then(|rest| rest.strip_prefix(' '))
                    .and_then(|rest| rest.strip_prefix(id))
                    .is_some_and(|rest| rest.is_empty() || rest.starts_with([' ', '\n']))
            });
            match next {
                Some((letter, _)) => {
                    out.push_str(&self.wrap(letter_color(letter), &letter.to_string()));
                    out.push_str(&line[letter.len_utf8()..]);
                }
                None => out.push_str(line),
            }
        }
        out
    }
}

/// The colour of a status letter (see `render::LEGEND`).
fn letter_color(letter: char) -> &'static str {
    match letter {
        'M' => YELLOW,
        'A' => GREEN,
        'D' => RED,
        '?' => MAGENTA,
        '!' => BOLD_RED,
        _ => DIM,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn off_adds_nothing_and_on_wraps_in_sgr() {
        assert_eq!(Paint::new(false).bold("understood"), "understood");
        assert_eq!(
            Paint::new(true).bold("understood"),
            "\x1b[1munderstood\x1b[0m"
        );
        assert_eq!(Paint::new(true).ok("applied"), "\x1b[32mapplied\x1b[0m");
    }

    #[test]
    fn only_rows_of_the_plan_get_a_coloured_letter() {
        let rows = [('M', "text.size"), ('-', "sound.volume")];
        // A note or an id that only starts like a row is left alone.
        let table = "M text.size  1.0 -> 1.1\n  note: M text.size\n- sound.volumes x\n- sound.volume  no mapping\n";
        assert_eq!(
            Paint::new(true).rows(rows.into_iter(), table),
            "\x1b[33mM\x1b[0m text.size  1.0 -> 1.1\n  note: M text.size\n- sound.volumes x\n\x1b[2m-\x1b[0m sound.volume  no mapping\n"
        );
        assert_eq!(Paint::new(false).rows(rows.into_iter(), table), table);
    }
}
