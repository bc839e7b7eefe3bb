//! Pastes that arrive as keys. A terminal without bracketed paste (or with it
//! turned off) types pasted text as key presses, a line end as Enter, so the
//! first line would be sent on its own. The input thread reads keys that come
//! faster than anyone types as one burst, and [`events`] turns a burst of
//! text keys back into one paste, its Enters into line ends.
use std::time::Duration;

use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyEventKind, KeyModifiers};

use super::app::Event;

/// Keys that follow each other within this time belong to one burst. A fast
/// typist leaves 30 ms or more between keys, key repeat about as much;
/// a terminal delivers a paste within microseconds.
pub const BURST_GAP: Duration = Duration::from_millis(4);
/// Fewer key presses than this are never a paste: two keys pressed at once
/// (or a key and Enter) stay keys.
pub const MIN_PASTE_KEYS: usize = 3;
/// Most keys gathered into one burst; a longer paste comes in several.
pub const MAX_BURST_KEYS: usize = 16 * 1024;

/// A key that a paste can type: text, a line end or a tab.
fn pasted_text(key: &KeyEvent) -> Option<char> {
    let other = key.modifiers - KeyModifiers::SHIFT;
    if !other.is_empty() {
        return None;
    }
    match key.code {
        KeyCode::Char(c) => Some(c),
        KeyCode::Enter => Some('\n'),
        KeyCode::Tab => Some('\t'),
        _ => None,
    }
}

/// The events for a burst of keys read back to back: one [`Event::Paste`]
/// when it is text of [`MIN_PASTE_KEYS`] presses or more, or else the keys
/// as they came. An Enter that ends the burst stays a key, so it sends: only
/// an Enter with more input right behind it is a line end. (Keys typed while
/// the input thread was not scheduled arrive as a burst too; their Enter
/// still sends.)
pub fn events(mut burst: Vec<KeyEvent>) -> Vec<Event> {
    let last_press = burst.iter().rposition(|k| k.kind != KeyEventKind::Release);
    let tail = match last_press {
        Some(i) if burst[i].code == KeyCode::Enter && burst[i].modifiers.is_empty() => {
            burst.split_off(i)
        }
        _ => Vec::new(),
    };
    let presses = burst.iter().filter(|k| k.kind != KeyEventKind::Release);
    let text: Option<String> = presses.clone().map(pasted_text).collect();
    let mut out = match text {
        Some(text) if presses.count() >= MIN_PASTE_KEYS => vec![Event::Paste(text)],
        _ => burst.into_iter().map(Event::Key).collect(),
    };
    out.extend(tail.into_iter().map(Event::Key));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn press(code: KeyCode) -> KeyEvent {
        KeyEvent::new(code, KeyModifiers::NONE)
    }

    fn typed(text: &str) -> Vec<KeyEvent> {
        text.chars()
            .map(|c| match c {
                '\r' => press(KeyCode::Enter),
                c if c.is_uppercase() => KeyEvent::new(KeyCode::Char(c), KeyModifiers::SHIFT),
                c => press(KeyCode::Char(c)),
            })
            .collect()
    }

    #[test]
    fn a_burst_of_text_with_enters_is_one_paste_with_line_ends() {
        assert_eq!(
            events(typed("My paste\rsecond line")),
            [Event::Paste("My paste\nsecond line".into())]
        );
    }

    #[test]
    fn an_enter_that_ends_a_burst_still_sends() {
        assert_eq!(
            events(typed("/quit\r")),
            [
                Event::Paste("/quit".into()),
                Event::Key(press(KeyCode::Enter))
            ]
        );
        assert_eq!(
            events(typed("a\rb\r")),
            [
                Event::Paste("a\nb".into()),
                Event::Key(press(KeyCode::Enter))
            ]
        );
    }

    #[test]
    fn key_releases_do_not_break_a_paste() {
        let mut burst = Vec::new();
        for key in typed("a\rb") {
            burst.push(key);
            let mut release = key;
            release.kind = KeyEventKind::Release;
            burst.push(release);
        }
        assert_eq!(events(burst), [Event::Paste("a\nb".into())]);
    }

    #[test]
    fn single_keys_and_short_bursts_stay_keys() {
        assert_eq!(events(typed("x")), [Event::Key(press(KeyCode::Char('x')))]);
        // A letter and Enter pressed together still send.
        assert_eq!(
            events(typed("o\r")),
            [
                Event::Key(press(KeyCode::Char('o'))),
                Event::Key(press(KeyCode::Enter))
            ]
        );
    }

    #[test]
    fn bursts_with_other_keys_stay_keys() {
        let burst = vec![
            press(KeyCode::Char('a')),
            press(KeyCode::Up),
            press(KeyCode::Enter),
        ];
        assert_eq!(
            events(burst.clone()),
            burst.into_iter().map(Event::Key).collect::<Vec<_>>()
        );
        let ctrl_c = KeyEvent::new(KeyCode::Char('c'), KeyModifiers::CONTROL);
        let burst = vec![ctrl_c, press(KeyCode::Char('b')), press(KeyCode::Char('c'))];
        assert_eq!(events(burst)[0], Event::Key(ctrl_c));
    }
}
