//! The real assistant behind the chat interface: the settings agent on the
//! embedded model, the settings engine for plans, apply, undo and history,
//! and an optional GGUF chat model for everything else.
use std::collections::HashMap;
use std::path::Path;
use std::sync::atomic::AtomicBool;
use std::sync::mpsc::Sender;
use std::sync::Arc;

use crate::agent::pipeline::{Agent, Intent, Understanding};
use crate::agent::respond::{Env, Response};
use crate::chat::{ChatModel, ChatSession};
use crate::generate::{Stats, StopReason};
use crate::model::kv_cache::KvType;
use crate::settings::apply::{self, ApplyError, Outcome};
use crate::settings::render::{action_details, format_argv};
use crate::settings::{
    plan, Catalog, Journal, JournalLock, LockError, Plan, Platform, System, Value,
};
use crate::tui::backend::{Assistant, GenStats, PlanCard, PlanRow, WorkerEvent};

pub struct RealAssistant {
    catalog: Catalog,
    agent: Agent,
    platform: Platform,
    /// The command line's system: every read and write goes through it.
    system: Arc<dyn System + Send + Sync>,
    journal: Option<Journal>,
    /// The chat model and the conversation with it, once loaded.
    chat: Option<ChatSession>,
    threads: usize,
    /// the chat model's KV cache type (`--kv`)
    kv: KvType,
    plans: HashMap<u64, Plan>,
    next_plan: u64,
    /// Said once, with the first answer (e.g. the desktop was not detected).
    note: Option<String>,
}

impl RealAssistant {
    pub fn new(
        catalog: Catalog,
        agent: Agent,
        platform: Platform,
        system: Arc<dyn System + Send + Sync>,
        journal: Option<Journal>,
        threads: usize,
    ) -> Self {
        RealAssistant {
            catalog,
            agent,
            platform,
            system,
            journal,
            chat: None,
            threads: threads.max(1),
            kv: KvType::default(),
            plans: HashMap::new(),
            next_plan: 1,
            note: None,
        }
    }

    /// The chat model's KV cache type (default f16).
    pub fn with_kv(mut self, kv: KvType) -> Self {
        self.kv = kv;
        self
    }

    pub fn with_note(mut self, note: String) -> Self {
        self.note = Some(note);
        self
    }

    /// The settings agent's figures: its decoder tokens per second of decoding.
    fn agent_stats(u: &Understanding, prompt_tokens: usize) -> GenStats {
        let secs = u.timing.decode_ms / 1000.0;
        GenStats {
            prompt_tokens,
            generated: u.timing.tokens,
            ttft_ms: Some(u.timing.encode_ms),
            tokens_per_s: if secs > 0.0 {
                u.timing.tokens as f64 / secs
            } else {
                0.0
            },
        }
    }

    fn plan_card(&mut self, request: &str, u: Understanding, events: &Sender<WorkerEvent>) {
        let confidence = u.confidence;
        let mut response = Response::understood(u);
        response.plan_in(&Env {
            catalog: &self.catalog,
            platform: self.platform,
            system: self.system.as_ref(),
        });
        let Some(program) = response.program().map(ToString::to_string) else {
            return;
        };
        // A question is answered in the transcript; it never becomes a card
        // that Enter could apply.
        for a in &response.answers {
            let _ = events.send(WorkerEvent::Info(a.sentence()));
        }
        if response.plan.is_none() && response.error.is_none() && !response.answers.is_empty() {
            return;
        }
        if let Some(e) = &response.error {
            let _ = events.send(WorkerEvent::Error(e.to_string()));
            return;
        }
        let nothing_planned = response.nothing_planned();
        let Some(plan) = response.plan.take().filter(|_| !nothing_planned) else {
            let why = if response.notes.is_empty() {
                "nothing to plan".to_string()
            } else {
                response.notes.join("; ")
            };
            let _ = events.send(WorkerEvent::Error(format!(
                "understood `{program}`, but {why}"
            )));
            return;
        };
        let sys = self.system.as_ref();
        let platform = self.platform.name().to_string();
        let mut rows: Vec<PlanRow> = plan
            .actions
            .iter()
            .map(|a| PlanRow {
                id: a.setting.clone(),
                title: a.title.clone(),
                current: a
                    .current_value
                    .as_ref()
                    .map_or_else(|| a.writes[0].current.display(), |v| v.to_string()),
                new: a.value.to_string(),
                changed: a.changed(),
                platform: platform.clone(),
                notes: a.notes.clone(),
                commands: action_details(a),
            })
            .collect();
        for s in &plan.skipped {
            rows.push(PlanRow {
                id: s.setting.clone(),
                title: self
                    .catalog
                    .setting(&s.setting)
                    .map_or_else(|| s.setting.clone(), |x| x.title.clone()),
                current: "-".into(),
                new: "-".into(),
                changed: false,
                platform: platform.clone(),
                notes: vec![s.reason.clone()],
                commands: Vec::new(),
            });
        }
        if let (Some(first), false) = (rows.first_mut(), response.notes.is_empty()) {
            first.notes.extend(response.notes.iter().cloned());
        }
        // The card is the dry run: the same apply as `a` runs, writes recorded.
        match apply::dry_run(&plan, sys, &format!("chat: {request}")) {
            Err(ApplyError::Refused(reason)) => {
                if let Some(first) = rows.first_mut() {
                    first
                        .notes
                        .push(format!("cannot be applied here: {reason}"));
                }
            }
            Err(e) => {
                let _ = events.send(WorkerEvent::Error(e.to_string()));
                return;
            }
            Ok(_) => {}
        }
        let id = self.next_plan;
        self.next_plan += 1;
        let then = plan
            .after()
            .iter()
            .map(|argv| format!("$ {}", format_argv(argv)))
            .collect();
        self.plans.insert(id, plan);
        let _ = events.send(WorkerEvent::Plan(PlanCard {
            id,
            request: request.to_string(),
            rows,
            confidence,
            then,
        }));
    }

    /// Answers with the chat model. Ends with its own `Finished`, so that
    /// the status bar keeps the reply's figures, not the settings agent's.
    fn chat_reply(&mut self, request: &str, events: &Sender<WorkerEvent>, cancel: &AtomicBool) {
        let Some(chat) = self.chat.as_mut() else {
            return;
        };
        let to_gen = |s: &Stats| GenStats {
            prompt_tokens: s.prompt_tokens,
            generated: s.generated_tokens,
            ttft_ms: (s.generated_tokens > 0).then_some(s.time_to_first_token_secs * 1000.0),
            tokens_per_s: s.decode_tokens_per_sec(),
        };
        let result = chat.reply(request, cancel, &mut |piece, stats| {
            let _ = events.send(WorkerEvent::Token {
                text: piece.to_string(),
                stats: to_gen(stats),
            });
        });
        match result {
            Ok(reply) => {
                if let Some(limit) = reply.limit {
                    let _ = events.send(WorkerEvent::Info(limit));
                }
                let g = reply.generation;
                let _ = events.send(WorkerEvent::Finished {
                    stats: to_gen(&g.stats),
                    cancelled: g.stop == StopReason::Cancelled,
                });
            }
            Err(e) => {
                let _ = events.send(WorkerEvent::Error(format!("{e:#}")));
            }
        }
    }

    /// Applies `plan` (made under the writers' lock) and says what happened.
    fn apply_locked(&self, plan: &mut Plan) -> Result<String, String> {
        if let Some(reason) = plan.refusal() {
            // Nothing was attempted, so nothing was rolled back.
            return Err(format!("{reason}; nothing was changed"));
        }
        let summary: Vec<String> = plan
            .actions
            .iter()
            .map(|a| format!("set {} {}", a.setting, a.value))
            .collect();
        match apply::apply(
            plan,
            self.system.as_ref(),
            self.journal.as_ref(),
            &format!("chat: {}", summary.join("; ")),
        ) {
            Ok(Outcome::NothingToDo) => Ok("nothing to change".to_string()),
            Ok(Outcome::Applied {
                journal_id,
                after_failures,
            }) => {
                plan.applied = true;
                let changed: Vec<String> = plan
                    .changes()
                    .map(|a| format!("{}: {}", a.title, a.value))
                    .collect();
                let mut msg = format!("applied {}", changed.join(", "));
                if let Some(id) = journal_id {
                    msg.push_str(&format!(" (plan {id}; u or /undo reverts it)"));
                }
                for f in after_failures {
                    msg.push_str(&format!(
                        "; warning: {} failed: {}",
                        f.argv.join(" "),
                        f.reason
                    ));
                }
                Ok(msg)
            }
            Ok(Outcome::RolledBack {
                failed,
                rolled_back,
                ..
            }) => Err(format!(
                "{} failed ({}); rolled back: {}",
                failed.setting,
                failed.reason,
                if rolled_back.is_empty() {
                    "nothing had changed".to_string()
                } else {
                    rolled_back.join(", ")
                }
            )),
            Err(e) => Err(e.to_string()),
        }
    }
}

/// The journal's writers' lock; while another knob holds it, says so in the
/// chat and waits.
fn lock_journal(journal: &Journal, events: &Sender<WorkerEvent>) -> Result<JournalLock, String> {
    match journal.try_lock() {
        Err(LockError::Busy { path }) => {
            let _ = events.send(WorkerEvent::Info(format!(
                "waiting for another knob to finish applying or undoing (lock {})...",
                path.display()
            )));
            journal.lock().map_err(|e| e.to_string())
        }
        result => result.map_err(|e| e.to_string()),
    }
}

impl Assistant for RealAssistant {
    fn handle(&mut self, request: &str, events: &Sender<WorkerEvent>, cancel: &AtomicBool) {
        if let Some(note) = self.note.take() {
            let _ = events.send(WorkerEvent::Info(note));
        }
        let u = match self.agent.understand(request) {
            Ok(u) => u,
            Err(e) => {
                let _ = events.send(WorkerEvent::Error(e.to_string()));
                return;
            }
        };
        let prompt_tokens = u.query.split_whitespace().count();
        let _ = events.send(WorkerEvent::Stats(Self::agent_stats(&u, prompt_tokens)));
        for n in &u.notices {
            let _ = events.send(WorkerEvent::Info(n.clone()));
        }
        let finished = Self::agent_stats(&u, prompt_tokens);
        let chat = self.chat.is_some()
            && match u.intent {
                Intent::Chat => true,
                // An older model says `none` for chat too.
                Intent::None => !self.agent.knows_questions(),
                _ => false,
            };
        match u.intent {
            Intent::Change | Intent::Preset | Intent::Get => self.plan_card(request, u, events),
            // The reply sends its own `Finished`, with its own figures.
            _ if chat => return self.chat_reply(request, events, cancel),
            intent => {
                let hits = u
                    .suggestions
                    .iter()
                    .map(|s| (s.setting.clone(), s.title.clone(), s.score))
                    .collect();
                let hint = match intent {
                    // The guard's question, already shown, says what to do.
                    Intent::Search if u.asks_which_way => None,
                    Intent::Search => Some("Not sure what to change: pick a setting and say what you want, e.g. \"turn it on\" or \"set it to 50\".".to_string()),
                    _ if self.chat.is_none() => Some("That does not look like a settings request, and no chat model is loaded to answer it: /model PATH loads one (knob chat --model FILE at start-up).".to_string()),
                    _ => None,
                };
                let _ = events.send(WorkerEvent::Suggestions { hits, hint });
            }
        }
        let _ = events.send(WorkerEvent::Finished {
            stats: finished,
            cancelled: false,
        });
    }

    fn apply(&mut self, plan_id: u64, events: &Sender<WorkerEvent>) {
        let Some(mut plan) = self.plans.remove(&plan_id) else {
            let _ = events.send(WorkerEvent::Applied {
                plan_id,
                result: Err(format!("no plan {plan_id} to apply")),
            });
            return;
        };
        // The card was planned when it was shown; under the lock the same
        // values are planned again, so the journal records the values
        // before as they are now.
        let lock = match self.journal.as_ref().map(|j| lock_journal(j, events)) {
            Some(Err(e)) => {
                let _ = events.send(WorkerEvent::Applied {
                    plan_id,
                    result: Err(e),
                });
                return;
            }
            Some(Ok(lock)) => Some(lock),
            None => None,
        };
        let requests: Vec<(String, Value)> = plan
            .actions
            .iter()
            .map(|a| (a.setting.clone(), a.value.clone()))
            .collect();
        let replanned = plan::plan(
            &self.catalog,
            &requests,
            plan.platform,
            self.system.as_ref(),
        );
        let result = match replanned {
            Err(e) => Err(e.to_string()),
            Ok(p) => {
                plan = p;
                self.apply_locked(&mut plan)
            }
        };
        drop(lock);
        let _ = events.send(WorkerEvent::Applied { plan_id, result });
    }

    fn undo(&mut self, events: &Sender<WorkerEvent>) {
        let result = match &self.journal {
            None => Err("no journal directory: nothing can be undone".to_string()),
            Some(j) => match lock_journal(j, events) {
                Err(e) => Err(e),
                Ok(_lock) => match apply::undo(
                    j,
                    None,
                    self.system.as_ref(),
                    apply::UndoOptions {
                        catalog: Some(&self.catalog),
                        force: false,
                    },
                ) {
                    Ok(r) if r.failures.is_empty() && r.left.is_empty() => Ok(format!(
                        "undid plan {} ({}): restored {}",
                        r.id,
                        r.summary,
                        r.restored.join(", ")
                    )),
                    Ok(r) if r.failures.is_empty() => Err(format!(
                        "plan {}: restored {}; left as it is: {} (`knob undo --force` restores it)",
                        r.id,
                        if r.restored.is_empty() {
                            "nothing".to_string()
                        } else {
                            r.restored.join(", ")
                        },
                        r.left
                            .iter()
                            .map(|l| l.finding())
                            .collect::<Vec<_>>()
                            .join("; ")
                    )),
                    Ok(r) => Err(format!(
                        "plan {}: restored {}; failed: {}",
                        r.id,
                        r.restored.join(", "),
                        r.failures
                            .iter()
                            .map(|f| format!("{} ({})", f.setting, f.reason))
                            .collect::<Vec<_>>()
                            .join(", ")
                    )),
                    Err(e) => Err(e.to_string()),
                },
            },
        };
        let _ = events.send(WorkerEvent::Undone { result });
    }

    fn history(&mut self, events: &Sender<WorkerEvent>) {
        let text = match self.journal.as_ref().map(Journal::list) {
            None => "no journal directory".to_string(),
            Some(Err(e)) => format!("cannot read the journal: {e}"),
            Some(Ok(list)) if list.is_empty() => "no plans applied yet".to_string(),
            Some(Ok(list)) => list
                .iter()
                .rev()
                .take(10)
                .map(|l| match &l.entry {
                    Ok(e) => format!("{:>4}  {:<10} {}", e.id, e.state.name(), e.summary),
                    Err(err) => format!("{:>4}  unreadable: {err}", l.id),
                })
                .collect::<Vec<_>>()
                .join("\n"),
        };
        let _ = events.send(WorkerEvent::Info(text));
    }

    fn clear(&mut self, _events: &Sender<WorkerEvent>) {
        if let Some(chat) = self.chat.as_mut() {
            chat.clear();
        }
    }

    fn set_model(&mut self, path: &Path, events: &Sender<WorkerEvent>) {
        let _ = events.send(WorkerEvent::Info(format!("loading {} ...", path.display())));
        match ChatModel::load(path, self.threads, self.kv) {
            Ok(m) => {
                let _ = events.send(WorkerEvent::Info(format!("chat model {} loaded", m.name)));
                self.chat = Some(ChatSession::new(m));
            }
            Err(e) => {
                let _ = events.send(WorkerEvent::Error(format!("{e:#}")));
            }
        }
    }

    fn set_platform(&mut self, name: &str, events: &Sender<WorkerEvent>) {
        match name.parse::<Platform>() {
            Ok(p) => {
                self.platform = p;
                let _ = events.send(WorkerEvent::Info(format!("planning for {p} now")));
            }
            Err(e) => {
                let _ = events.send(WorkerEvent::Error(e.to_string()));
            }
        }
    }

    fn set_threads(&mut self, n: usize, events: &Sender<WorkerEvent>) {
        self.threads = n.max(1);
        if let Some(path) = self.chat.as_ref().map(|c| c.model.path.clone()) {
            // The kernels' pool is sized at load, so the chat model is reloaded.
            self.set_model(&path, events);
        }
    }

    fn model_name(&self) -> String {
        match &self.chat {
            Some(c) => format!("{} + {}", self.agent.model_name(), c.model.name),
            None => self.agent.model_name().to_string(),
        }
    }

    fn threads(&self) -> usize {
        self.threads
    }
}
