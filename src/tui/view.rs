//! Drawing: a pure function of [`State`]. Nothing here changes the state.
use ratatui::layout::{Constraint, Layout, Position, Rect};
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;
use ratatui::Frame;
use unicode_segmentation::UnicodeSegmentation;

use super::state::{Card, CardStatus, Entry, Focus, State};
use super::wrap::{self, wrap, wrap_text, WrapCache};

/// The input grows with its text up to this many rows, then scrolls.
const MAX_INPUT_ROWS: usize = 8;
const PROMPT: &str = "› ";

/// Draws the whole screen; `cache` keeps wrapped transcript rows from one
/// frame to the next (the runtime owns it, the state does not).
pub fn draw(frame: &mut Frame, state: &State, cache: &mut WrapCache) {
    let [transcript, rule, input, status] = areas(state, frame.area());
    draw_transcript(frame, state, transcript, cache);
    draw_rule(frame, state, rule);
    draw_input(frame, state, input);
    draw_status(frame, state, status);
}

fn areas(state: &State, area: Rect) -> [Rect; 4] {
    let input_rows = input_layout(state, area.width as usize).0.len();
    let max = (area.height as usize / 2).clamp(1, MAX_INPUT_ROWS);
    let input_height = input_rows.clamp(1, max) as u16;
    Layout::vertical([
        Constraint::Min(0),
        Constraint::Length(1),
        Constraint::Length(input_height),
        Constraint::Length(1),
    ])
    .areas(area)
}

/// Rows of the transcript area at the current terminal size.
pub fn transcript_area_height(state: &State) -> usize {
    let area = Rect::new(0, 0, state.size.0, state.size.1);
    areas(state, area)[0].height as usize
}

/// Rows the whole transcript takes at the current terminal width.
pub fn transcript_height(state: &State) -> usize {
    // Only on scroll keys: wrapping afresh keeps the cache out of the state.
    with_rows(
        state,
        state.size.0 as usize,
        &mut WrapCache::default(),
        |rows| rows.len(),
    )
}

fn draw_transcript(frame: &mut Frame, state: &State, area: Rect, cache: &mut WrapCache) {
    let visible = area.height as usize;
    let (shown, hidden_below) = with_rows(state, area.width as usize, cache, |rows| {
        let bottom_top = rows.len().saturating_sub(visible);
        let top = state.scroll_top.map_or(bottom_top, |t| t.min(bottom_top));
        let shown: Vec<Line> = rows
            .iter()
            .skip(top)
            .take(visible)
            .map(|l| (*l).clone())
            .collect();
        (shown, bottom_top - top)
    });
    frame.render_widget(Paragraph::new(shown), area);
    if hidden_below > 0 && area.width > 0 && area.height > 0 {
        let more = Span::styled(
            format!(" ↓ {hidden_below} more (PgDn) "),
            state.theme.notice(),
        );
        let width = more.width() as u16;
        let at = Rect::new(
            area.right().saturating_sub(width),
            area.bottom() - 1,
            width.min(area.width),
            1,
        );
        frame.render_widget(Paragraph::new(Line::from(more)), at);
    }
}

/// Calls `f` with the transcript as rows of `width` columns, oldest first,
/// wrapping only the entries that changed since `cache` last saw them.
fn with_rows<R>(
    state: &State,
    width: usize,
    cache: &mut WrapCache,
    f: impl FnOnce(&[&Line<'static>]) -> R,
) -> R {
    if state.entries.is_empty() {
        let welcome = wrap_text(
            "knob: ask to change a setting (\"turn on dark mode\"), or chat with a model. /help lists the keys and commands.",
            state.theme.dim(),
            width,
            &[],
            &[],
        );
        return f(&welcome.iter().collect::<Vec<_>>());
    }
    let keys: Vec<u64> = (state.entries.iter().enumerate())
        .map(|(index, entry)| {
            fingerprint(entry, state.focus == Focus::Card(index), state.theme.color)
        })
        .collect();
    let rows = cache.rows(width, &keys, |index| {
        let focused = state.focus == Focus::Card(index);
        entry_lines(state, &state.entries[index], focused, width)
    });
    f(&rows)
}

fn fingerprint(entry: &Entry, focused: bool, color: bool) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    (focused, color).hash(&mut h);
    std::mem::discriminant(entry).hash(&mut h);
    match entry {
        Entry::User(t) | Entry::Info(t) | Entry::Error(t) => t.hash(&mut h),
        Entry::Answer { text, cancelled } => (text, cancelled).hash(&mut h),
        Entry::Card(card) => {
            // PlanCard holds an f32, so it has no Hash; its Debug text is small.
            format!("{card:?}").hash(&mut h);
        }
        Entry::Suggestions { hits, hint } => {
            for (id, title, score) in hits {
                (id, title, score.to_bits()).hash(&mut h);
            }
            hint.hash(&mut h);
        }
    }
    h.finish()
}

/// The transcript as rows of `width` columns, oldest first.
pub fn transcript_lines(state: &State, width: usize) -> Vec<Line<'static>> {
    with_rows(state, width, &mut WrapCache::default(), |rows| {
        rows.iter().map(|l| (*l).clone()).collect()
    })
}

/// One entry's rows.
fn entry_lines(state: &State, entry: &Entry, focused: bool, width: usize) -> Vec<Line<'static>> {
    let theme = &state.theme;
    let mut out = Vec::new();
    match entry {
        Entry::User(text) => {
            let first = [Span::styled(PROMPT, theme.user())];
            let rest = [Span::raw("  ")];
            out.extend(wrap_text(text, theme.user(), width, &first, &rest));
        }
        Entry::Answer { text, cancelled } => {
            answer_lines(state, text, width, &mut out);
            if *cancelled {
                out.push(Line::styled("[stopped]", theme.dim()));
            }
        }
        Entry::Card(card) => card_lines(state, card, focused, width, &mut out),
        Entry::Suggestions { hits, hint } => {
            // One message: the hint, when there is one, says what the
            // request was taken for; the list follows it.
            let heading = match (hint, hits.is_empty()) {
                (Some(hint), true) => hint.clone(),
                (Some(hint), false) => format!("{hint} Closest settings:"),
                (None, true) => "No matching setting found.".to_string(),
                (None, false) => {
                    "Not understood as a settings request. Closest settings:".to_string()
                }
            };
            out.extend(wrap_text(&heading, Style::new(), width, &[], &[]));
            for (id, title, _score) in hits {
                let pieces = [
                    (title.clone(), theme.title()),
                    (format!(" ({id})"), theme.dim()),
                ];
                out.extend(wrap(
                    &pieces,
                    width,
                    &[Span::raw("  • ")],
                    &[Span::raw("    ")],
                ));
            }
        }
        Entry::Info(text) => out.extend(wrap_text(text, theme.dim(), width, &[], &[])),
        Entry::Error(text) => {
            let first = [Span::styled("error: ", theme.error())];
            out.extend(wrap_text(
                text,
                Style::new(),
                width,
                &first,
                &[Span::raw("       ")],
            ));
        }
    }
    out
}

/// A chat answer: prose wrapped at words, code blocks set apart by a gutter.
fn answer_lines(state: &State, text: &str, width: usize, out: &mut Vec<Line<'static>>) {
    let theme = &state.theme;
    let gutter = [Span::styled("│ ", theme.dim())];
    let mut in_code = false;
    for line in text.split('\n') {
        if let Some(lang) = line.trim_start().strip_prefix("```") {
            if in_code {
                out.push(Line::styled("└─", theme.dim()));
            } else {
                let label = if lang.trim().is_empty() {
                    "┌─".to_string()
                } else {
                    format!("┌─ {}", lang.trim())
                };
                out.push(Line::styled(label, theme.dim()));
            }
            in_code = !in_code;
        } else if in_code {
            out.extend(wrap_text(line, theme.code(), width, &gutter, &gutter));
        } else {
            out.extend(wrap_text(line, Style::new(), width, &[], &[]));
        }
    }
}

fn card_lines(
    state: &State,
    card: &Card,
    focused: bool,
    width: usize,
    out: &mut Vec<Line<'static>>,
) {
    let theme = &state.theme;
    let plan = &card.plan;
    if card.status == CardStatus::Dismissed {
        let pieces = [(format!("Plan dismissed: {}", plan.request), theme.dim())];
        out.extend(wrap(&pieces, width, &[], &[]));
        return;
    }
    let bar = [Span::styled("│ ", theme.frame())];
    let deeper = [Span::styled("│ ", theme.frame()), Span::raw("    ")];
    let head = [
        ("┌─ Plan: ".to_string(), theme.frame()),
        (plan.request.clone(), theme.title()),
    ];
    out.extend(wrap(&head, width, &[], &bar));
    for row in &plan.rows {
        let title = [
            (row.title.clone(), theme.title()),
            (format!(" ({})", row.id), theme.dim()),
        ];
        out.extend(wrap(&title, width, &bar, &bar));
        let change: Vec<(String, Style)> = if row.changed {
            vec![
                (row.current.clone(), Style::new()),
                (" -> ".into(), theme.dim()),
                (row.new.clone(), theme.new_value()),
                (format!("  [{}]", row.platform), theme.dim()),
            ]
        } else {
            vec![
                (row.current.clone(), Style::new()),
                (" (already set)".into(), theme.dim()),
                (format!("  [{}]", row.platform), theme.dim()),
            ]
        };
        let indent = [Span::styled("│ ", theme.frame()), Span::raw("  ")];
        out.extend(wrap(&change, width, &indent, &deeper));
        for note in &row.notes {
            let pieces = [(format!("note: {note}"), theme.dim())];
            out.extend(wrap(&pieces, width, &indent, &deeper));
        }
        if card.show_commands {
            for command in &row.commands {
                let pieces = [(command.clone(), theme.code())];
                out.extend(wrap(&pieces, width, &indent, &deeper));
            }
        }
    }
    if card.show_commands && !plan.then.is_empty() {
        out.extend(wrap(&[("then:".into(), theme.dim())], width, &bar, &bar));
        for command in &plan.then {
            let pieces = [(command.clone(), theme.code())];
            let indent = [Span::styled("│ ", theme.frame()), Span::raw("  ")];
            out.extend(wrap(&pieces, width, &indent, &deeper));
        }
    }
    let changes = plan.rows.iter().filter(|r| r.changed).count();
    let summary = format!(
        "{changes} change{} · confidence {:.0}%",
        if changes == 1 { "" } else { "s" },
        (plan.confidence * 100.0).clamp(0.0, 100.0)
    );
    out.extend(wrap(&[(summary, theme.dim())], width, &bar, &bar));
    let status: Vec<(String, Style)> = match &card.status {
        CardStatus::Pending => vec![
            ("Enter".into(), theme.keys()),
            ("/".into(), theme.dim()),
            ("a".into(), theme.keys()),
            (" apply · ".into(), Style::new()),
            ("d".into(), theme.keys()),
            (" dry run · ".into(), Style::new()),
            ("v".into(), theme.keys()),
            (
                if card.show_commands {
                    " hide commands · "
                } else {
                    " commands · "
                }
                .into(),
                Style::new(),
            ),
            ("Esc".into(), theme.keys()),
            (" dismiss".into(), Style::new()),
        ],
        CardStatus::DryRun => vec![("Dry run: nothing was changed.".into(), theme.dim())],
        CardStatus::Dismissed => Vec::new(),
        CardStatus::Applying => vec![("Applying…".into(), theme.dim())],
        CardStatus::Applied(summary) => {
            let mut v = vec![(format!("✓ Applied: {summary}"), theme.ok())];
            if focused {
                v.push((" · ".into(), theme.dim()));
                v.push(("u".into(), theme.keys()));
                v.push((" undo".into(), Style::new()));
            } else {
                v.push((" · /undo reverts it".into(), theme.dim()));
            }
            v
        }
        CardStatus::Failed(error) => vec![
            ("✗ Not applied: ".into(), theme.error()),
            (error.clone(), Style::new()),
        ],
        CardStatus::Undoing => vec![("Undoing…".into(), theme.dim())],
        CardStatus::Undone(summary) => vec![(format!("↶ Undone: {summary}"), theme.ok())],
        CardStatus::UndoFailed(error) => vec![
            ("✗ Undo failed: ".into(), theme.error()),
            (error.clone(), Style::new()),
        ],
    };
    out.extend(wrap(&status, width, &bar, &bar));
    out.push(Line::styled("└─", theme.frame()));
}

fn draw_rule(frame: &mut Frame, state: &State, area: Rect) {
    let theme = &state.theme;
    let focused_card = match state.focus {
        Focus::Card(i) => match state.entries.get(i) {
            Some(Entry::Card(card)) => Some(&card.status),
            _ => None,
        },
        Focus::Input => None,
    };
    let text = if let Some(notice) = &state.notice {
        Some((notice.clone(), theme.notice()))
    } else if focused_card == Some(&CardStatus::Pending) {
        Some((
            "Enter/a apply · d dry run · v commands · Esc dismiss".to_string(),
            theme.notice(),
        ))
    } else if matches!(focused_card, Some(CardStatus::Applied(_))) {
        Some(("u undo · any other key goes on".to_string(), theme.notice()))
    } else if state.generating && !state.stopping {
        Some(("Ctrl-C stops the answer".to_string(), theme.dim()))
    } else {
        None
    };
    let mut spans = vec![Span::styled("──", theme.dim())];
    let mut used = 2;
    if let Some((text, style)) = text {
        let label = format!(" {text} ");
        used += wrap::width(&label);
        spans.push(Span::styled(label, style));
    }
    spans.push(Span::styled(
        "─".repeat((area.width as usize).saturating_sub(used)),
        theme.dim(),
    ));
    frame.render_widget(Paragraph::new(Line::from(spans)), area);
}

/// The input's rows, and the cursor's (row, column) in them.
///
/// The input wraps at any grapheme, not at words, so that the cursor position
/// is simple to find and the text never jumps while typing.
fn input_layout(state: &State, width: usize) -> (Vec<Line<'static>>, (usize, usize)) {
    let theme = &state.theme;
    let text = state.input.text();
    let prefix = wrap::width(PROMPT);
    let avail = width.saturating_sub(prefix).max(1);
    let mut rows: Vec<String> = vec![String::new()];
    let mut col = 0;
    let mut cursor = (0, 0);
    for (offset, g) in text.grapheme_indices(true) {
        if offset == state.input.cursor() {
            cursor = (rows.len() - 1, col);
        }
        if g == "\n" {
            rows.push(String::new());
            col = 0;
            continue;
        }
        let w = wrap::width(g);
        if col + w > avail {
            rows.push(String::new());
            col = 0;
            if offset == state.input.cursor() {
                cursor = (rows.len() - 1, 0);
            }
        }
        if let Some(row) = rows.last_mut() {
            row.push_str(g);
        }
        col += w;
    }
    if state.input.cursor() >= text.len() {
        if col >= avail {
            rows.push(String::new());
            col = 0;
        }
        cursor = (rows.len() - 1, col);
    }
    let lines = rows
        .into_iter()
        .enumerate()
        .map(|(i, row)| {
            let lead = if i == 0 {
                Span::styled(PROMPT, theme.user())
            } else {
                Span::raw("  ")
            };
            Line::from(vec![lead, Span::raw(row)])
        })
        .collect();
    (lines, (cursor.0, cursor.1 + prefix))
}

fn draw_input(frame: &mut Frame, state: &State, area: Rect) {
    let (lines, (row, col)) = input_layout(state, area.width as usize);
    let height = area.height as usize;
    let top = (row + 1).saturating_sub(height);
    let shown: Vec<Line> = lines.into_iter().skip(top).take(height).collect();
    frame.render_widget(Paragraph::new(shown), area);
    if state.focus == Focus::Input && area.height > 0 {
        let x = area.x + (col as u16).min(area.width.saturating_sub(1));
        let y = area.y + (row - top) as u16;
        frame.set_cursor_position(Position::new(x, y));
    }
}

/// The right side of the status bar: live figures while generating, final ones after.
pub fn meter_text(state: &State) -> Vec<String> {
    let Some(meter) = &state.meter else {
        return Vec::new();
    };
    let stats = &meter.stats;
    if !state.generating && stats.generated == 0 {
        // Nothing was generated (suggestions, an error): no figures to show.
        return Vec::new();
    }
    let mut parts = Vec::new();
    if state.stopping {
        parts.push("stopping".to_string());
    } else if state.generating && stats.generated == 0 {
        parts.push("thinking".to_string());
    }
    parts.push(match meter.rate {
        Some(rate) => format!("{rate:.1} tok/s"),
        None => "– tok/s".to_string(),
    });
    parts.push(match stats.ttft_ms {
        Some(ms) => format!("TTFT {ms:.0} ms"),
        None => "TTFT –".to_string(),
    });
    parts.push(format!("{} tok", stats.generated));
    parts
}

fn draw_status(frame: &mut Frame, state: &State, area: Rect) {
    let theme = &state.theme;
    let width = area.width as usize;
    let left_full = format!(
        " {} · {} thread{}",
        state.model,
        state.threads,
        if state.threads == 1 { "" } else { "s" }
    );
    // Keep at least this much of the model name before showing every figure.
    let left_min = wrap::width(&left_full).min(16);
    let mut parts = meter_text(state);
    let right_of = |parts: &[String]| {
        if parts.is_empty() {
            String::new()
        } else {
            format!(" {} ", parts.join(" · "))
        }
    };
    // Drop figures from the end until they fit, keeping tokens/s longest.
    while parts.len() > 1 && wrap::width(&right_of(&parts)) + left_min > width {
        parts.pop();
    }
    let mut right = right_of(&parts);
    if wrap::width(&right) > width {
        right.clear();
    }
    let left = truncate(&left_full, width.saturating_sub(wrap::width(&right)));
    let fill = width.saturating_sub(wrap::width(&left) + wrap::width(&right));
    let style = if state.generating {
        theme.status_live()
    } else {
        theme.status()
    };
    let line = Line::from(vec![
        Span::styled(left, theme.status()),
        Span::styled(" ".repeat(fill), theme.status()),
        Span::styled(right, style),
    ]);
    frame.render_widget(Paragraph::new(line), area);
}

/// Cuts `s` to at most `width` columns, marking the cut with `…`.
fn truncate(s: &str, width: usize) -> String {
    if wrap::width(s) <= width {
        return s.to_string();
    }
    let mut out = String::new();
    let mut used = 0;
    for g in s.graphemes(true) {
        let w = wrap::width(g);
        if used + w + 1 > width {
            break;
        }
        out.push_str(g);
        used += w;
    }
    if width > 0 {
        out.push('…');
    }
    out
}
