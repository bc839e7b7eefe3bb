//! Word wrapping of styled text by display width (CJK and emoji take two
//! columns), and the cache of wrapped transcript entries kept between frames.
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use unicode_segmentation::UnicodeSegmentation;
use unicode_width::UnicodeWidthStr;

/// Display width of a string in terminal columns.
pub fn width(s: &str) -> usize {
    UnicodeWidthStr::width(s)
}

/// A grapheme as the terminal will show it, or `None` for one that must not be
/// written at all (control characters would move the cursor or start escapes).
/// A line end is kept: [`wrap`] starts a new row there.
fn printable(g: &str) -> Option<&str> {
    if g == "\n" || g == "\r\n" {
        return Some("\n");
    }
    if g == "\t" {
        return Some("    ");
    }
    if g.chars().any(|c| c.is_control()) {
        return None;
    }
    Some(g)
}

struct Cell<'a> {
    text: &'a str,
    style: Style,
    width: usize,
}

/// Wraps one logical line of styled pieces to `width` columns.
///
/// Breaks after spaces where it can, inside a word only when the word is
/// longer than the line, and always at a line end in the text (a pasted
/// request of several lines keeps them). Every row starts with `first` (the first row) or
/// `rest` (the following rows), e.g. a gutter or an indent. Always returns at
/// least one row, so empty lines keep their place.
pub fn wrap(
    pieces: &[(String, Style)],
    width: usize,
    first: &[Span<'static>],
    rest: &[Span<'static>],
) -> Vec<Line<'static>> {
    let prefix_width = |p: &[Span<'static>]| p.iter().map(|s| s.width()).sum::<usize>();
    let cells: Vec<Cell> = pieces
        .iter()
        .flat_map(|(text, style)| {
            text.graphemes(true).filter_map(move |g| {
                let shown = printable(g)?;
                Some(Cell {
                    text: shown,
                    style: *style,
                    width: self::width(shown),
                })
            })
        })
        .collect();

    let mut rows: Vec<Vec<&Cell>> = Vec::new();
    let mut row: Vec<&Cell> = Vec::new();
    let mut row_width = 0;
    // Index in `row` just after the last space: where the row may be broken.
    let mut last_break: Option<usize> = None;
    for cell in &cells {
        if cell.text == "\n" {
            rows.push(std::mem::take(&mut row));
            row_width = 0;
            last_break = None;
            continue;
        }
        let avail = width
            .saturating_sub(prefix_width(if rows.is_empty() { first } else { rest }))
            .max(1);
        if row_width + cell.width > avail && !row.is_empty() {
            if cell.text == " " {
                rows.push(std::mem::take(&mut row));
                row_width = 0;
                last_break = None;
                continue;
            }
            match last_break {
                Some(at) if at < row.len() => {
                    let carry = row.split_off(at);
                    rows.push(std::mem::take(&mut row));
                    row = carry;
                }
                _ => rows.push(std::mem::take(&mut row)),
            }
            row_width = row.iter().map(|c| c.width).sum();
            last_break = None;
        }
        row.push(cell);
        row_width += cell.width;
        if cell.text == " " {
            last_break = Some(row.len());
        }
    }
    rows.push(row);

    rows.into_iter()
        .enumerate()
        .map(|(i, row)| {
            let prefix = if i == 0 { first } else { rest };
            let mut spans: Vec<Span<'static>> = prefix.to_vec();
            // Spaces at the end of a row are invisible; dropping them keeps the
            // row inside the width.
            let end = row.iter().rposition(|c| c.text != " ").map_or(0, |p| p + 1);
            for cell in &row[..end] {
                // Merge into the previous text span, never into the prefix.
                let mergeable = spans.len() > prefix.len();
                match spans.last_mut() {
                    Some(last) if mergeable && last.style == cell.style => {
                        last.content.to_mut().push_str(cell.text);
                    }
                    _ => spans.push(Span::styled(cell.text.to_string(), cell.style)),
                }
            }
            Line::from(spans)
        })
        .collect()
}

/// Wraps plain text with one style; `\n` starts a new line.
pub fn wrap_text(
    text: &str,
    style: Style,
    width: usize,
    first: &[Span<'static>],
    rest: &[Span<'static>],
) -> Vec<Line<'static>> {
    let mut out = Vec::new();
    for (i, line) in text.split('\n').enumerate() {
        let lead = if i == 0 { first } else { rest };
        out.extend(wrap(&[(line.to_string(), style)], width, lead, rest));
    }
    out
}

/// Wrapped rows of each transcript entry, kept between frames by the
/// runtime (not part of the app's state: it only remembers the view's work).
///
/// An entry is wrapped again when its fingerprint (its content, whether it has
/// the focus, the theme) or the width changes, so a frame during a stream
/// re-wraps the growing answer and nothing else.
#[derive(Debug, Clone, Default)]
pub struct WrapCache {
    width: usize,
    entries: Vec<Option<(u64, Vec<Line<'static>>)>>,
}

impl WrapCache {
    /// The rows of the entries whose fingerprints are `keys`, at `width`
    /// columns, oldest first, with a blank row between entries. Entry `i` is
    /// wrapped by `wrap_entry(i)` when it is new or its key or the width changed.
    pub fn rows(
        &mut self,
        width: usize,
        keys: &[u64],
        mut wrap_entry: impl FnMut(usize) -> Vec<Line<'static>>,
    ) -> Vec<&Line<'static>> {
        if self.width != width {
            self.entries.clear();
            self.width = width;
        }
        self.entries.resize(keys.len(), None);
        for (index, &key) in keys.iter().enumerate() {
            if !matches!(&self.entries[index], Some((k, _)) if *k == key) {
                self.entries[index] = Some((key, wrap_entry(index)));
            }
        }
        let mut rows = Vec::new();
        for (index, cached) in self.entries.iter().enumerate() {
            if index > 0 {
                rows.push(&BLANK);
            }
            if let Some((_, lines)) = cached {
                rows.extend(lines.iter());
            }
        }
        rows
    }
}

static BLANK: Line<'static> = Line {
    style: Style::new(),
    alignment: None,
    spans: Vec::new(),
};

#[cfg(test)]
mod tests {
    use super::*;

    fn rows(text: &str, width: usize) -> Vec<String> {
        wrap_text(text, Style::default(), width, &[], &[])
            .iter()
            .map(|l| l.spans.iter().map(|s| s.content.as_ref()).collect())
            .collect()
    }

    #[test]
    fn the_cache_wraps_only_new_or_changed_entries() {
        let mut cache = WrapCache::default();
        let mut wrapped = Vec::new();
        let mut run = |cache: &mut WrapCache, width: usize, keys: &[u64]| {
            let rows = cache
                .rows(width, keys, |i| {
                    wrapped.push(i);
                    vec![Line::raw(format!("entry {i}"))]
                })
                .len();
            (rows, std::mem::take(&mut wrapped))
        };
        // Two entries and the blank row between them.
        assert_eq!(run(&mut cache, 40, &[1, 2]), (3, vec![0, 1]));
        assert_eq!(run(&mut cache, 40, &[1, 2]), (3, vec![]));
        assert_eq!(run(&mut cache, 40, &[1, 3, 4]), (5, vec![1, 2]));
        assert_eq!(run(&mut cache, 30, &[1, 3, 4]), (5, vec![0, 1, 2]));
        assert_eq!(run(&mut cache, 30, &[1]), (1, vec![]));
    }

    #[test]
    fn wraps_at_spaces() {
        assert_eq!(
            rows("turn on dark mode now", 9),
            ["turn on", "dark mode", "now"]
        );
    }

    #[test]
    fn breaks_long_words() {
        assert_eq!(rows("abcdefghij", 4), ["abcd", "efgh", "ij"]);
    }

    #[test]
    fn cjk_takes_two_columns() {
        let r = rows("日本語のテキスト", 6);
        assert_eq!(r, ["日本語", "のテキ", "スト"]);
        assert!(r.iter().all(|row| width(row) <= 6));
    }

    #[test]
    fn wide_char_never_straddles_the_edge() {
        let r = rows("a日本", 4);
        assert_eq!(r, ["a日", "本"]);
    }

    #[test]
    fn emoji_width() {
        let r = rows("👍👍👍", 5);
        assert_eq!(r, ["👍👍", "👍"]);
    }

    #[test]
    fn control_characters_never_reach_the_terminal() {
        assert_eq!(rows("a\u{1b}[31mb", 20), ["a[31mb"]);
    }

    #[test]
    fn keeps_empty_lines_and_prefixes() {
        let gutter = [Span::raw("│ ")];
        let lines = wrap_text("ab\n\ncd", Style::default(), 10, &gutter, &gutter);
        assert_eq!(lines.len(), 3);
        assert_eq!(lines[1].spans.len(), 1);
        assert_eq!(lines[2].spans[1].content, "cd");
    }
}
