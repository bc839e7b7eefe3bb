//! Styles that read on light and dark terminals, and none at all with
//! `--color never` (or NO_COLOR; `commands::resolve_color` decides).
//!
//! Only the terminal's own palette colours are used (never fixed RGB, never a
//! background colour of our own), plus bold, dim and reverse, so the user's
//! colour scheme decides how they look on a light or a dark background.
use ratatui::style::{Color, Modifier, Style};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Theme {
    /// False with `--color never` or NO_COLOR: modifiers only.
    pub color: bool,
}

impl Theme {
    fn fg(&self, color: Color) -> Style {
        if self.color {
            Style::new().fg(color)
        } else {
            Style::new()
        }
    }

    pub fn user(&self) -> Style {
        self.fg(Color::Cyan).add_modifier(Modifier::BOLD)
    }
    pub fn code(&self) -> Style {
        self.fg(Color::Yellow)
    }
    pub fn dim(&self) -> Style {
        Style::new().add_modifier(Modifier::DIM)
    }
    pub fn frame(&self) -> Style {
        self.fg(Color::Blue)
    }
    pub fn title(&self) -> Style {
        Style::new().add_modifier(Modifier::BOLD)
    }
    pub fn new_value(&self) -> Style {
        self.fg(Color::Green).add_modifier(Modifier::BOLD)
    }
    pub fn ok(&self) -> Style {
        self.fg(Color::Green)
    }
    pub fn error(&self) -> Style {
        self.fg(Color::Red).add_modifier(Modifier::BOLD)
    }
    pub fn keys(&self) -> Style {
        self.fg(Color::Magenta).add_modifier(Modifier::BOLD)
    }
    pub fn notice(&self) -> Style {
        self.fg(Color::Magenta)
    }
    /// The status bar: reversed, so it stands out on any background.
    pub fn status(&self) -> Style {
        Style::new().add_modifier(Modifier::REVERSED)
    }
    pub fn status_live(&self) -> Style {
        self.status().add_modifier(Modifier::BOLD)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_color_means_modifiers_only() {
        let plain = Theme { color: false };
        assert_eq!(plain.error().fg, None);
        assert!(plain.error().add_modifier.contains(Modifier::BOLD));
        assert_eq!(Theme { color: true }.error().fg, Some(Color::Red));
    }
}
