//! The one path from a request to a response: understand it, resolve the
//! program into changes, plan them (each key read once), and record what
//! running the plan did. `knob ask`, `knob batch`, the chat interface and
//! `knob set`/`knob apply` all build a [`Response`] here; `--json` prints
//! [`Response::json`], typed, instead of objects built key by key.
use serde::Serialize;

use super::grammar::Program;
use super::pipeline::{Agent, AgentError, Intent, Understanding, UnderstandingJson};
use super::resolve::resolve;
use crate::settings::apply::{DryRun, Failure, Outcome};
use crate::settings::backend::Current;
use crate::settings::render::PlanJson;
use crate::settings::{
    plan_changes, read_current, Catalog, Change, Plan, PlanError, Platform, System, Value,
};

/// What planning needs: the catalog, the platform and the system that every
/// read (and, later, every write) goes through.
#[derive(Clone, Copy)]
pub struct Env<'a> {
    pub catalog: &'a Catalog,
    pub platform: Platform,
    pub system: &'a dyn System,
}

/// What was done with a plan.
#[derive(Debug)]
pub enum Execution {
    /// The plan went through apply on the dry-run system; `Err` is apply's
    /// refusal (a missing tool, another platform).
    DryRun(Result<DryRun, String>),
    /// The plan was applied for real.
    Applied(Outcome),
    /// Applying could not start (the journal could not be written).
    Failed(String),
}

/// A chat model's answer to a request that is not about a setting.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct ChatAnswer {
    pub answer: String,
    pub chat_model: String,
    pub stats: crate::generate::Stats,
}

/// Everything knob made of one request, from understanding to outcome.
#[derive(Debug, Default)]
pub struct Response {
    /// The model's reading; `None` for `knob set` and `knob apply`, whose
    /// changes are given exactly.
    pub understanding: Option<Understanding>,
    /// The platform planned for, once planning started.
    pub platform: Option<Platform>,
    /// Resolving's notes (an unknown preset) and the relative changes that
    /// could not be made.
    pub notes: Vec<String>,
    pub plan: Option<Plan>,
    /// The current values a question asked for, read once each.
    pub answers: Vec<Answer>,
    /// Why no plan could be made (a value out of range).
    pub error: Option<PlanError>,
    pub execution: Option<Execution>,
    pub chat: Option<ChatAnswer>,
}

/// A current value, read to answer a question ("is dark mode on?").
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct Answer {
    pub setting: String,
    pub title: String,
    /// The value in the catalog's terms; null when it cannot be told.
    pub value: Option<Value>,
    /// The setting's unit, if it has one (`minutes`, `percent`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unit: Option<String>,
    /// What the system holds, as read.
    pub current: Option<String>,
    /// `set`, `absent`, `unknown`, or `unavailable` (no mapping here).
    pub state: &'static str,
    /// Why the value is unknown or unavailable.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

impl Answer {
    /// The answer in the user's terms: "Dark mode: on".
    pub fn sentence(&self) -> String {
        let shown = match (&self.value, &self.reason) {
            (Some(Value::Bool(b)), _) => (if *b { "on" } else { "off" }).to_string(),
            (Some(v), _) => match self.unit.as_deref() {
                Some("percent") => format!("{v}%"),
                Some("factor") => format!("{v}×"),
                Some("kelvin") => format!("{v} K"),
                Some("count") | None => v.to_string(),
                Some(unit) => format!("{v} {}", unit.replace('_', " ")),
            },
            // Already in the user's terms: "not available on kde: ...".
            (None, Some(reason)) if self.state == "unavailable" => reason.clone(),
            (None, Some(reason)) => format!("unknown ({reason})"),
            (None, None) => match &self.current {
                Some(raw) => format!("{raw} (not a value knob knows)"),
                None => "unknown".to_string(),
            },
        };
        format!("{}: {shown}", self.title)
    }
}

/// Reads one setting's current value for a question.
fn answer(id: &str, env: &Env) -> Answer {
    let setting = env.catalog.setting(id);
    let mut a = Answer {
        setting: id.to_string(),
        title: setting.map_or_else(|| id.to_string(), |s| s.title.clone()),
        value: None,
        unit: setting.and_then(|s| s.value.unit.clone()),
        current: None,
        state: "unknown",
        reason: None,
    };
    match read_current(env.catalog, id, env.platform, env.system) {
        Ok(Some(reading)) => {
            a.value = reading.value;
            a.current = reading.current.text().map(str::to_string);
            a.state = reading.current.state();
            if let Current::Unknown(reason) = &reading.current {
                a.reason = Some(reason.clone());
            }
        }
        Ok(None) => {
            a.state = "unavailable";
            a.reason = setting.and_then(|s| s.unavailable_reason(env.platform));
        }
        Err(e) => a.reason = Some(e.to_string()),
    }
    a
}

/// Understands `request` and, for a change or a preset, plans it.
pub fn respond(agent: &mut Agent, request: &str, env: &Env) -> Result<Response, AgentError> {
    let mut response = Response::understood(agent.understand(request)?);
    response.plan_in(env);
    Ok(response)
}

impl Response {
    /// A response that has understood `u` and planned nothing yet.
    pub fn understood(u: Understanding) -> Response {
        Response {
            understanding: Some(u),
            ..Response::default()
        }
    }

    /// The plan for changes given exactly (`knob set`, a preset).
    pub fn for_changes(changes: &[(String, Change)], env: &Env) -> Response {
        let mut response = Response::default();
        response.plan_changes(changes, env);
        response
    }

    /// The program to plan: a change's or a preset's, once understood.
    pub fn program(&self) -> Option<&Program> {
        let u = self.understanding.as_ref()?;
        match u.intent {
            Intent::Change | Intent::Preset | Intent::Get => u.program.as_ref(),
            _ => None,
        }
    }

    /// Resolves and plans the understood program, if there is one. The
    /// caller takes the writers' lock first when it will apply.
    pub fn plan_in(&mut self, env: &Env) {
        let Some(program) = self.program() else {
            return;
        };
        let resolved = resolve(program, env.catalog);
        self.notes.extend(resolved.notes);
        self.platform = Some(env.platform);
        self.answers = resolved.gets.iter().map(|id| answer(id, env)).collect();
        // A question alone plans nothing: there is nothing to apply.
        if !resolved.changes.is_empty() || resolved.gets.is_empty() {
            self.plan_changes(&resolved.changes, env);
        }
    }

    fn plan_changes(&mut self, changes: &[(String, Change)], env: &Env) {
        self.platform = Some(env.platform);
        match plan_changes(env.catalog, changes, env.platform, env.system) {
            Ok(plan) => {
                self.notes
                    .extend(plan.unresolved.iter().map(ToString::to_string));
                self.plan = Some(plan);
            }
            Err(e) => self.error = Some(e),
        }
    }

    /// True when a program was planned but nothing in it could be: every
    /// change was relative to a value that could not be read.
    pub fn nothing_planned(&self) -> bool {
        self.plan
            .as_ref()
            .is_some_and(|p| p.actions.is_empty() && p.skipped.is_empty())
            && !self.notes.is_empty()
    }

    /// The intent to report: a chat answer to a request of no intent is chat.
    pub fn intent(&self) -> Option<Intent> {
        let u = self.understanding.as_ref()?;
        Some(if self.chat.is_some() {
            Intent::Chat
        } else {
            u.intent
        })
    }

    /// The `--json` view; `explain` adds the n-best list.
    pub fn json(&self, explain: bool) -> ResponseJson<'_> {
        let plan = match &self.plan {
            Some(plan) => {
                let mut json = plan.to_json();
                if let Some(Execution::Applied(outcome)) = &self.execution {
                    fill_outcome(&mut json, outcome);
                }
                json
            }
            None => PlanJson::empty(self.platform),
        };
        let dry_run_writes = match &self.execution {
            Some(Execution::DryRun(dry)) => {
                Some(dry.as_ref().map(|d| d.writes.clone()).unwrap_or_default())
            }
            _ => None,
        };
        ResponseJson {
            plan,
            program: self.program().map(ToString::to_string),
            understanding: self
                .understanding
                .as_ref()
                .map(|u| u.json(self.intent().unwrap_or(u.intent), explain)),
            answers: &self.answers,
            notes: &self.notes,
            error: match (&self.error, &self.execution) {
                (Some(e), _) => Some(e.to_string()),
                (None, Some(Execution::Failed(e))) => Some(e.clone()),
                _ => None,
            },
            dry_run_writes,
            chat: self.chat.as_ref(),
        }
    }
}

/// An applied plan's JSON: applied, the journal id, and what failed.
fn fill_outcome(json: &mut PlanJson, outcome: &Outcome) {
    match outcome {
        Outcome::NothingToDo => {}
        Outcome::Applied {
            journal_id,
            after_failures,
        } => {
            json.applied = true;
            json.journal_id = *journal_id;
            json.errors = after_failures.clone();
        }
        Outcome::RolledBack {
            journal_id,
            failed,
            rolled_back,
            rollback_failures,
        } => {
            json.journal_id = *journal_id;
            json.failed = Some(Failure::clone(failed));
            json.rolled_back = rolled_back.clone();
            json.errors = rollback_failures.clone();
        }
    }
}

/// A response as `--json` prints it: the plan's fields, then the
/// understanding's, then what resolving and running added.
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct ResponseJson<'a> {
    /// The plan's fields; empty when nothing was planned.
    #[serde(flatten)]
    pub plan: PlanJson,
    /// The program planned, in the action grammar.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub program: Option<String>,
    #[serde(flatten)]
    pub understanding: Option<UnderstandingJson<'a>>,
    /// The current values a question asked for.
    #[serde(skip_serializing_if = "<[Answer]>::is_empty")]
    pub answers: &'a [Answer],
    #[serde(skip_serializing_if = "<[String]>::is_empty")]
    pub notes: &'a [String],
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// The argv the dry run recorded, in order.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dry_run_writes: Option<Vec<Vec<String>>>,
    #[serde(flatten)]
    pub chat: Option<&'a ChatAnswer>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::agent::grammar::grammar_catalog;
    use crate::agent::grammar::parse;
    use crate::agent::pipeline::Timing;
    use crate::settings::{load_catalog, FakeSystem};

    /// The response to a request the model understood as `program`.
    fn planned(program: &str, platform: Platform, sys: &FakeSystem) -> Response {
        let catalog = load_catalog().expect("the shipped catalog loads");
        let program =
            parse(program, &grammar_catalog(&catalog)).unwrap_or_else(|e| panic!("{program}: {e}"));
        let mut response = Response::understood(Understanding {
            query: "a request".to_string(),
            intent: Intent::Change,
            program: Some(program),
            confidence: 1.0,
            candidates: Vec::new(),
            suggestions: Vec::new(),
            notices: Vec::new(),
            asks_which_way: false,
            timing: Timing::default(),
        });
        response.plan_in(&Env {
            catalog: &catalog,
            platform,
            system: sys,
        });
        response
    }

    /// The planned values, in order.
    fn values(response: &Response) -> Vec<(String, Value)> {
        let plan = response.plan.as_ref().expect("a plan");
        plan.actions
            .iter()
            .map(|a| (a.setting.clone(), a.value.clone()))
            .collect()
    }

    fn gnome(values: &[(&str, &str)]) -> FakeSystem {
        let sys = FakeSystem::with_programs(&["gsettings"]);
        for (k, v) in values {
            sys.set(k, v);
        }
        sys
    }

    const CURSOR: &str = "gsettings org.gnome.desktop.interface cursor-size";
    const TEXT: &str = "gsettings org.gnome.desktop.interface text-scaling-factor";
    const SCHEME: &str = "gsettings org.gnome.desktop.interface color-scheme";

    #[test]
    fn increases_use_the_step_or_the_amount_and_stop_at_the_range_edges() {
        let cursor = |v: i64| vec![("a11y.cursor_size".to_string(), Value::Int(v))];
        let sys = gnome(&[(CURSOR, "48")]);
        assert_eq!(
            values(&planned("inc a11y.cursor_size", Platform::Gnome, &sys)),
            cursor(56)
        );
        assert_eq!(
            values(&planned("dec a11y.cursor_size 16", Platform::Gnome, &sys)),
            cursor(32)
        );
        // Past the top of the range: clamped to 96, not refused.
        let sys = gnome(&[(CURSOR, "90")]);
        assert_eq!(
            values(&planned("inc a11y.cursor_size 50", Platform::Gnome, &sys)),
            cursor(96)
        );
        let sys = gnome(&[(CURSOR, "24")]);
        assert_eq!(
            values(&planned("dec a11y.cursor_size", Platform::Gnome, &sys)),
            cursor(24)
        );
        // Floats keep their fraction.
        let sys = gnome(&[(TEXT, "1.25")]);
        let r = values(&planned("inc text.size", Platform::Gnome, &sys));
        let [(_, Value::Float(v))] = r.as_slice() else {
            panic!("{r:?}")
        };
        assert!((v - 1.35).abs() < 1e-9, "{v}");
    }

    #[test]
    fn toggle_flips_the_current_value() {
        let dark = |b: bool| vec![("appearance.dark_mode".to_string(), Value::Bool(b))];
        let sys = gnome(&[(SCHEME, "'prefer-dark'")]);
        assert_eq!(
            values(&planned(
                "toggle appearance.dark_mode",
                Platform::Gnome,
                &sys
            )),
            dark(false)
        );
        let sys = gnome(&[(SCHEME, "'default'")]);
        assert_eq!(
            values(&planned(
                "toggle appearance.dark_mode",
                Platform::Gnome,
                &sys
            )),
            dark(true)
        );
    }

    #[test]
    fn each_key_is_read_once_and_the_relative_value_comes_from_that_read() {
        // Before, a relative setting was read by the resolver and again by
        // the plan: two reads, and a value changed between them made the
        // plan show a "current" value the new one was not computed from.
        let sys = gnome(&[(CURSOR, "32"), (SCHEME, "'default'")]);
        let r = planned(
            "inc a11y.cursor_size ; set appearance.dark_mode true",
            Platform::Gnome,
            &sys,
        );
        assert_eq!(
            values(&r),
            vec![
                ("a11y.cursor_size".to_string(), Value::Int(40)),
                ("appearance.dark_mode".to_string(), Value::Bool(true)),
            ]
        );
        let plan = r.plan.as_ref().expect("a plan");
        assert_eq!(plan.actions[0].current_value, Some(Value::Int(32)));
        let reads = |key: &str| {
            let argv: Vec<String> = std::iter::once("gsettings".to_string())
                .chain(std::iter::once("get".to_string()))
                .chain(key.split(' ').skip(1).map(str::to_string))
                .collect();
            sys.log().iter().filter(|c| **c == argv).count()
        };
        assert_eq!(reads(CURSOR), 1, "{:?}", sys.log());
        assert_eq!(reads(SCHEME), 1, "{:?}", sys.log());
    }

    #[test]
    fn a_step_on_a_key_with_fixed_values_goes_to_the_next_value_it_has() {
        // GNOME stores the repeat interval, so only some rates exist there:
        // 33/s (30 ms) + 5 would be 38, which GNOME cannot store.
        const INTERVAL: &str = "gsettings org.gnome.desktop.peripherals.keyboard repeat-interval";
        let rate = |v: i64| vec![("keyboard.repeat_rate".to_string(), Value::Int(v))];
        let sys = gnome(&[(INTERVAL, "uint32 30")]);
        let r = planned("inc keyboard.repeat_rate", Platform::Gnome, &sys);
        assert_eq!(values(&r), rate(40), "{:?}", r.notes);
        assert_eq!(
            values(&planned("dec keyboard.repeat_rate", Platform::Gnome, &sys)),
            rate(30)
        );
        // An amount goes to the value there nearest to the one asked for.
        assert_eq!(
            values(&planned(
                "inc keyboard.repeat_rate 20",
                Platform::Gnome,
                &sys
            )),
            rate(50)
        );
        // At the top, it stays.
        let sys = gnome(&[(INTERVAL, "uint32 10")]);
        assert_eq!(
            values(&planned("inc keyboard.repeat_rate", Platform::Gnome, &sys)),
            rate(100)
        );
        assert_eq!(
            values(&planned(
                "dec keyboard.repeat_rate 1",
                Platform::Gnome,
                &sys
            )),
            rate(60)
        );
        // Past the last value there is, the last one.
        let sys = gnome(&[(INTERVAL, "uint32 17")]);
        assert_eq!(
            values(&planned(
                "inc keyboard.repeat_rate 80",
                Platform::Gnome,
                &sys
            )),
            rate(100)
        );
    }

    #[test]
    fn a_relative_change_on_a_key_that_is_not_set_says_so_once() {
        // A fresh KDE user: kreadconfig finds no key, the desktop's default applies.
        let sys = FakeSystem::with_programs(&["kreadconfig6", "kwriteconfig6"]);
        let r = planned("inc keyboard.repeat_rate", Platform::Kde, &sys);
        assert_eq!(r.notes.len(), 1, "{:?}", r.notes);
        let note = &r.notes[0];
        assert!(
            note.contains("cannot increase keyboard.repeat_rate on kde"),
            "{note}"
        );
        assert!(note.contains("(the key is not set here"), "{note}");
        assert!(!note.contains("(("), "{note}");
    }

    #[test]
    fn a_relative_change_without_a_readable_value_is_a_note_not_a_guess() {
        // Planning for Windows on Linux: reg is not here, so nothing can be read.
        let sys = FakeSystem::with_programs(&[]);
        let r = planned(
            "inc a11y.cursor_size ; set appearance.dark_mode true",
            Platform::Windows,
            &sys,
        );
        assert_eq!(
            values(&r),
            vec![("appearance.dark_mode".to_string(), Value::Bool(true))]
        );
        assert_eq!(r.notes.len(), 1, "{:?}", r.notes);
        let note = &r.notes[0];
        assert!(
            note.contains("cannot increase a11y.cursor_size on windows"),
            "{note}"
        );
        assert!(note.contains("say the value you want"), "{note}");
        // The reason itself, once, not "((unknown))".
        assert!(note.contains("(reg not found on this machine)"), "{note}");
        assert!(!r.nothing_planned());
        let json = serde_json::to_value(r.json(false)).expect("serializes");
        assert_eq!(json["notes"][0], note.as_str());
        assert_eq!(
            json["program"],
            "inc a11y.cursor_size ; set appearance.dark_mode true"
        );
        assert_eq!(json["actions"].as_array().map(Vec::len), Some(1));
    }

    #[test]
    fn a_question_reads_its_settings_once_and_plans_nothing() {
        let sys = gnome(&[(SCHEME, "'prefer-dark'"), (TEXT, "1.25")]);
        let r = planned(
            "get appearance.dark_mode ; get text.size",
            Platform::Gnome,
            &sys,
        );
        assert!(r.plan.is_none(), "a question is never a plan to apply");
        let said: Vec<String> = r.answers.iter().map(Answer::sentence).collect();
        assert_eq!(said.len(), 2, "{said:?}");
        assert!(said[0].ends_with(": on"), "{said:?}");
        assert!(said[1].ends_with(": 1.25×"), "{said:?}");
        assert_eq!(r.answers[0].value, Some(Value::Bool(true)));
        assert_eq!(sys.log().len(), 2, "one read each: {:?}", sys.log());
        let json = serde_json::to_value(r.json(false)).expect("serializes");
        assert_eq!(json["answers"][0]["setting"], "appearance.dark_mode");
        assert_eq!(json["answers"][0]["value"], true);
        assert_eq!(json["answers"][1]["state"], "set");
        assert_eq!(json["actions"], serde_json::json!([]));
        // On a platform where it cannot be read, the answer says why.
        let none = FakeSystem::with_programs(&[]);
        let r = planned("get appearance.dark_mode", Platform::Windows, &none);
        assert!(r.plan.is_none());
        assert!(
            r.answers[0].sentence().contains("unknown (reg not found"),
            "{:?}",
            r.answers
        );
    }

    #[test]
    fn a_question_with_a_change_answers_and_plans_the_change() {
        let sys = gnome(&[(SCHEME, "'default'"), (TEXT, "1.0")]);
        let r = planned(
            "get text.size ; set appearance.dark_mode true",
            Platform::Gnome,
            &sys,
        );
        assert_eq!(r.answers.len(), 1);
        assert_eq!(
            values(&r),
            vec![("appearance.dark_mode".to_string(), Value::Bool(true))]
        );
    }

    #[test]
    fn a_response_without_a_plan_still_has_the_plan_fields() {
        let catalog = load_catalog().expect("the shipped catalog loads");
        let sys = FakeSystem::with_programs(&[]);
        let mut r = Response::understood(Understanding {
            query: "hello".to_string(),
            intent: Intent::None,
            program: None,
            confidence: 0.9,
            candidates: Vec::new(),
            suggestions: Vec::new(),
            notices: Vec::new(),
            asks_which_way: false,
            timing: Timing::default(),
        });
        r.plan_in(&Env {
            catalog: &catalog,
            platform: Platform::Gnome,
            system: &sys,
        });
        assert!(r.plan.is_none());
        assert!(sys.log().is_empty(), "nothing is read for a non-change");
        let json = serde_json::to_value(r.json(false)).expect("serializes");
        assert_eq!(json["actions"], serde_json::json!([]));
        assert_eq!(json["applied"], false);
        assert_eq!(json["intent"], "none");
        assert!(json.get("program").is_none(), "{json}");
    }
}
