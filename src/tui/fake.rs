//! The demo and test assistant. It runs no model at all.
//!
//! It answers a few settings requests ("dark mode", "night light", "bigger
//! text") with plan cards over an in-memory set of values, and streams one
//! fixed chat answer token by token with a fixed delay, so that the TUI can be
//! tried and tested end to end without model files. `knob chat` uses it when
//! `KNOB_TUI_FAKE=1`, and its name in the status bar says what it is.
use std::collections::HashMap;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::Sender;
use std::thread;
use std::time::{Duration, Instant};

use super::backend::{Assistant, GenStats, PlanCard, PlanRow, WorkerEvent};

/// The chat answer, streamed a word at a time.
pub const CANNED_ANSWER: &str = "This is knob's demo assistant: it runs no model and always streams this same answer, so that the interface can be tried and tested.\n\nA code block looks like this:\n```sh\nknob ask \"turn on dark mode\"\n```\nAsk for a setting, such as \"turn on dark mode\", to see a plan card.";

/// Tokens the pretend settings agent "decodes" before showing its plan.
const PLAN_TOKENS: usize = 12;

struct FakeSetting {
    id: &'static str,
    title: &'static str,
    words: &'static [&'static str],
    notes: &'static [&'static str],
}

const SETTINGS: &[FakeSetting] = &[
    FakeSetting {
        id: "appearance.dark-mode",
        title: "Dark mode",
        words: &["dark", "theme"],
        notes: &["Some GTK 3 apps follow after a restart"],
    },
    FakeSetting {
        id: "display.night-light",
        title: "Night light",
        words: &["night", "warm", "blue"],
        notes: &[],
    },
    FakeSetting {
        id: "accessibility.text-scale",
        title: "Text size",
        words: &["text", "font", "bigger", "larger"],
        notes: &[],
    },
];

/// A deterministic stand-in for the settings agent and the chat model.
pub struct FakeAssistant {
    token_delay: Duration,
    /// Whether "a chat model is loaded": otherwise non-settings requests get suggestions.
    chat: Option<String>,
    platform: String,
    threads: usize,
    values: HashMap<&'static str, String>,
    plans: HashMap<u64, PlanCard>,
    next_plan: u64,
    /// Applied plans, newest last: (id, title, before, after) per setting.
    journal: Vec<Vec<(&'static str, String, String, String)>>,
}

impl FakeAssistant {
    /// A fake with a pretend chat model, streaming one token per `token_delay`.
    pub fn new(token_delay: Duration) -> Self {
        FakeAssistant {
            token_delay,
            chat: Some("demo".into()),
            platform: "gnome".into(),
            threads: 2,
            values: HashMap::from([
                ("appearance.dark-mode", "light".to_string()),
                ("display.night-light", "off".to_string()),
                ("accessibility.text-scale", "1.0".to_string()),
            ]),
            plans: HashMap::new(),
            next_plan: 1,
            journal: Vec::new(),
        }
    }

    /// A fake with no chat model: requests that are not about settings get suggestions.
    pub fn without_chat(token_delay: Duration) -> Self {
        FakeAssistant {
            chat: None,
            ..FakeAssistant::new(token_delay)
        }
    }

    fn target(setting: &FakeSetting, request: &str) -> &'static str {
        match setting.id {
            "appearance.dark-mode" if request.contains("light") && !request.contains("dark") => {
                "light"
            }
            "appearance.dark-mode" => "dark",
            "display.night-light" if request.contains("off") => "off",
            "display.night-light" => "on",
            _ if request.contains("smaller") => "1.0",
            _ => "1.25",
        }
    }

    fn matches(request: &str) -> Vec<&'static FakeSetting> {
        SETTINGS
            .iter()
            .filter(|s| {
                s.words.iter().any(|w| {
                    request
                        .split(|c: char| !c.is_alphanumeric())
                        .any(|t| t == *w)
                })
            })
            .collect()
    }

    fn stats(
        prompt_tokens: usize,
        generated: usize,
        start: Instant,
        first: Option<Instant>,
    ) -> GenStats {
        let now = Instant::now();
        let tokens_per_s = match first {
            Some(first) if generated > 1 => {
                let secs = now.duration_since(first).as_secs_f64();
                if secs > 0.0 {
                    (generated - 1) as f64 / secs
                } else {
                    0.0
                }
            }
            _ => 0.0,
        };
        GenStats {
            prompt_tokens,
            generated,
            ttft_ms: first.map(|f| f.duration_since(start).as_secs_f64() * 1000.0),
            tokens_per_s,
        }
    }

    fn plan(
        &mut self,
        request: &str,
        settings: &[&'static FakeSetting],
        events: &Sender<WorkerEvent>,
        cancel: &AtomicBool,
    ) {
        let start = Instant::now();
        let prompt_tokens = request.split_whitespace().count() + 4;
        let mut first = None;
        for generated in 1..=PLAN_TOKENS {
            if cancel.load(Ordering::Relaxed) {
                let _ = events.send(WorkerEvent::Finished {
                    stats: Self::stats(prompt_tokens, generated - 1, start, first),
                    cancelled: true,
                });
                return;
            }
            thread::sleep(self.token_delay / 2);
            first.get_or_insert_with(Instant::now);
            let _ = events.send(WorkerEvent::Stats(Self::stats(
                prompt_tokens,
                generated,
                start,
                first,
            )));
        }
        let lower = request.to_lowercase();
        let rows = settings
            .iter()
            .map(|s| {
                let current = self.values.get(s.id).cloned().unwrap_or_default();
                let new = Self::target(s, &lower).to_string();
                PlanRow {
                    id: s.id.into(),
                    title: s.title.into(),
                    changed: current != new,
                    commands: vec![format!("(demo: nothing runs) set {} {new}", s.id)],
                    current,
                    new,
                    platform: self.platform.clone(),
                    notes: s.notes.iter().map(|n| n.to_string()).collect(),
                }
            })
            .collect();
        let plan = PlanCard {
            id: self.next_plan,
            request: request.to_string(),
            rows,
            confidence: 0.92,
            then: Vec::new(),
        };
        self.next_plan += 1;
        self.plans.insert(plan.id, plan.clone());
        let _ = events.send(WorkerEvent::Plan(plan));
        let _ = events.send(WorkerEvent::Finished {
            stats: Self::stats(prompt_tokens, PLAN_TOKENS, start, first),
            cancelled: false,
        });
    }

    fn chat(&mut self, request: &str, events: &Sender<WorkerEvent>, cancel: &AtomicBool) {
        let start = Instant::now();
        let prompt_tokens = request.split_whitespace().count() + 16;
        let mut first = None;
        let mut generated = 0;
        for piece in CANNED_ANSWER.split_inclusive([' ', '\n']) {
            if cancel.load(Ordering::Relaxed) {
                let _ = events.send(WorkerEvent::Finished {
                    stats: Self::stats(prompt_tokens, generated, start, first),
                    cancelled: true,
                });
                return;
            }
            thread::sleep(self.token_delay);
            first.get_or_insert_with(Instant::now);
            generated += 1;
            let stats = Self::stats(prompt_tokens, generated, start, first);
            let _ = events.send(WorkerEvent::Token {
                text: piece.to_string(),
                stats,
            });
        }
        let _ = events.send(WorkerEvent::Finished {
            stats: Self::stats(prompt_tokens, generated, start, first),
            cancelled: false,
        });
    }
}

impl Assistant for FakeAssistant {
    fn handle(&mut self, request: &str, events: &Sender<WorkerEvent>, cancel: &AtomicBool) {
        let lower = request.to_lowercase();
        let settings = Self::matches(&lower);
        if !settings.is_empty() {
            self.plan(request, &settings, events, cancel);
        } else if self.chat.is_some() {
            self.chat(request, events, cancel);
        } else {
            let hits = SETTINGS
                .iter()
                .map(|s| (s.id.to_string(), s.title.to_string(), 0.1))
                .collect();
            let hint = Some("No chat model is loaded: /model PATH loads a GGUF chat model (or start with knob chat --model FILE).".to_string());
            let _ = events.send(WorkerEvent::Suggestions { hits, hint });
        }
    }

    fn apply(&mut self, plan_id: u64, events: &Sender<WorkerEvent>) {
        let Some(plan) = self.plans.remove(&plan_id) else {
            let _ = events.send(WorkerEvent::Applied {
                plan_id,
                result: Err(format!("no plan {plan_id} to apply")),
            });
            return;
        };
        let mut record = Vec::new();
        for row in plan.rows.iter().filter(|r| r.changed) {
            if let Some(s) = SETTINGS.iter().find(|s| s.id == row.id) {
                let before = self
                    .values
                    .insert(s.id, row.new.clone())
                    .unwrap_or_default();
                record.push((s.id, s.title.to_string(), before, row.new.clone()));
            }
        }
        let summary = if record.is_empty() {
            "nothing to change".to_string()
        } else {
            record
                .iter()
                .map(|(_, t, b, a)| format!("{t}: {b} -> {a}"))
                .collect::<Vec<_>>()
                .join(", ")
        };
        self.journal.push(record);
        let _ = events.send(WorkerEvent::Applied {
            plan_id,
            result: Ok(summary),
        });
    }

    fn undo(&mut self, events: &Sender<WorkerEvent>) {
        let result = match self.journal.pop() {
            None => Err("nothing to undo".to_string()),
            Some(record) => {
                for (id, _, before, _) in &record {
                    self.values.insert(id, before.clone());
                }
                Ok(record
                    .iter()
                    .map(|(_, t, b, a)| format!("{t}: {a} -> {b}"))
                    .collect::<Vec<_>>()
                    .join(", "))
            }
        };
        let _ = events.send(WorkerEvent::Undone { result });
    }

    fn history(&mut self, events: &Sender<WorkerEvent>) {
        let text = if self.journal.is_empty() {
            "No changes applied in this session.".to_string()
        } else {
            self.journal
                .iter()
                .enumerate()
                .map(|(i, record)| {
                    let changes: Vec<String> = record
                        .iter()
                        .map(|(_, t, b, a)| format!("{t}: {b} -> {a}"))
                        .collect();
                    format!("{}. {}", i + 1, changes.join(", "))
                })
                .collect::<Vec<_>>()
                .join("\n")
        };
        let _ = events.send(WorkerEvent::Info(text));
    }

    /// Its chat answer never depends on earlier turns: nothing to forget.
    fn clear(&mut self, _events: &Sender<WorkerEvent>) {}

    fn set_model(&mut self, path: &Path, events: &Sender<WorkerEvent>) {
        match std::fs::metadata(path) {
            Ok(meta) if meta.is_file() => {
                let name = path.file_name().map_or_else(
                    || path.display().to_string(),
                    |n| n.to_string_lossy().into_owned(),
                );
                self.chat = Some(name.clone());
                let _ = events.send(WorkerEvent::Info(format!(
                    "Demo assistant: {name} is noted but not loaded; answers stay canned."
                )));
            }
            Ok(_) => {
                let _ = events.send(WorkerEvent::Error(format!(
                    "{} is not a file",
                    path.display()
                )));
            }
            Err(e) => {
                let _ = events.send(WorkerEvent::Error(format!(
                    "cannot open {}: {e}",
                    path.display()
                )));
            }
        }
    }

    fn set_platform(&mut self, name: &str, events: &Sender<WorkerEvent>) {
        self.platform = name.to_string();
        let _ = events.send(WorkerEvent::Info(format!("Platform: {name}")));
    }

    fn set_threads(&mut self, n: usize, events: &Sender<WorkerEvent>) {
        self.threads = n;
        let _ = events.send(WorkerEvent::Info(format!("Threads: {n}")));
    }

    fn model_name(&self) -> String {
        match &self.chat {
            Some(name) if name != "demo" => format!("demo assistant, no model ({name} noted)"),
            Some(_) => "demo assistant, no model".to_string(),
            None => "demo assistant, no chat model".to_string(),
        }
    }

    fn threads(&self) -> usize {
        self.threads
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::mpsc::channel;

    fn run(fake: &mut FakeAssistant, request: &str) -> Vec<WorkerEvent> {
        let (tx, rx) = channel();
        fake.handle(request, &tx, &AtomicBool::new(false));
        drop(tx);
        rx.iter().collect()
    }

    #[test]
    fn settings_request_gives_a_plan_after_stats() {
        let mut fake = FakeAssistant::new(Duration::ZERO);
        let events = run(&mut fake, "turn on dark mode");
        assert!(matches!(events[0], WorkerEvent::Stats(_)));
        let plan = events
            .iter()
            .find_map(|e| match e {
                WorkerEvent::Plan(p) => Some(p.clone()),
                _ => None,
            })
            .expect("a plan");
        assert_eq!(plan.rows[0].current, "light");
        assert_eq!(plan.rows[0].new, "dark");
        assert!(plan.rows[0].changed);
        assert!(matches!(
            events.last(),
            Some(WorkerEvent::Finished {
                cancelled: false,
                ..
            })
        ));
    }

    #[test]
    fn apply_then_undo_round_trips() {
        let mut fake = FakeAssistant::new(Duration::ZERO);
        run(&mut fake, "dark mode please");
        let (tx, rx) = channel();
        fake.apply(1, &tx);
        fake.undo(&tx);
        fake.undo(&tx);
        drop(tx);
        let events: Vec<_> = rx.iter().collect();
        assert_eq!(
            events[0],
            WorkerEvent::Applied {
                plan_id: 1,
                result: Ok("Dark mode: light -> dark".into())
            }
        );
        assert_eq!(
            events[1],
            WorkerEvent::Undone {
                result: Ok("Dark mode: dark -> light".into())
            }
        );
        assert_eq!(
            events[2],
            WorkerEvent::Undone {
                result: Err("nothing to undo".into())
            }
        );
    }

    #[test]
    fn chat_streams_the_whole_answer_or_stops_on_cancel() {
        let mut fake = FakeAssistant::new(Duration::ZERO);
        let events = run(&mut fake, "hello");
        let text: String = events
            .iter()
            .filter_map(|e| match e {
                WorkerEvent::Token { text, .. } => Some(text.as_str()),
                _ => None,
            })
            .collect();
        assert_eq!(text, CANNED_ANSWER);
        let (tx, rx) = channel();
        fake.handle("hello", &tx, &AtomicBool::new(true));
        drop(tx);
        let events: Vec<_> = rx.iter().collect();
        assert!(matches!(
            events.as_slice(),
            [WorkerEvent::Finished {
                cancelled: true,
                ..
            }]
        ));
    }

    #[test]
    fn without_chat_suggests_and_hints_at_a_model() {
        let mut fake = FakeAssistant::without_chat(Duration::ZERO);
        let events = run(&mut fake, "what is the capital of France");
        assert!(
            matches!(&events[0], WorkerEvent::Suggestions { hint: Some(h), .. } if h.contains("/model"))
        );
    }
}
