//! The polarity guard. A reversed action (Bluetooth off when the user said
//! "don't turn off Bluetooth") is the worst answer knob can give, so when the
//! n-best list holds the best program's mirror image (the same actions with
//! one boolean flipped, or `inc` for `dec`) and the best program does not
//! clearly win the pair, knob asks instead of planning.
//!
//! The margin was chosen on the training data's calibration split
//! (`eval.jsonl` of `knobtrain.prepare`, never an evaluation file): see
//! docs/agent.md.
use super::grammar::{Action, ActionValue, Program};

/// The share of the pair's probability the best program needs to be
/// planned.
pub const DEFAULT_POLARITY_MARGIN: f32 = 0.95;

/// The best program and its mirror image both in the n-best list.
#[derive(Debug, Clone, PartialEq)]
pub struct Doubt {
    /// The action the two programs disagree on, as the best one has it.
    pub action: Action,
    /// The best program's share of the pair's probability.
    pub share: f32,
}

/// Whether `a` and `b` do opposite things to one setting.
pub fn mirrored(a: &Action, b: &Action) -> bool {
    match (a, b) {
        (
            Action::Set {
                setting: s,
                value: ActionValue::Bool(x),
            },
            Action::Set {
                setting: t,
                value: ActionValue::Bool(y),
            },
        ) => s == t && x != y,
        (Action::Inc { setting: s, .. }, Action::Dec { setting: t, .. })
        | (Action::Dec { setting: s, .. }, Action::Inc { setting: t, .. }) => s == t,
        _ => false,
    }
}

/// The action on which `other` mirrors `best`, when they differ in exactly
/// that one action.
fn mirror_of(best: &[Action], other: &[Action]) -> Option<Action> {
    if best.len() != other.len() {
        return None;
    }
    let mut differ = best.iter().zip(other).filter(|(a, b)| a != b);
    match (differ.next(), differ.next()) {
        (Some((a, b)), None) if mirrored(a, b) => Some(a.clone()),
        _ => None,
    }
}

/// The doubt about `best` (probability `p_best`) given the other programs
/// of the n-best list, or `None` when its mirror image is not among them.
pub fn doubt<'a>(
    best: &[Action],
    p_best: f32,
    others: impl IntoIterator<Item = (&'a Program, f32)>,
) -> Option<Doubt> {
    let mut found: Option<(Action, f32)> = None;
    for (program, p) in others {
        let Program::Actions(other) = program else {
            continue;
        };
        if let Some(action) = mirror_of(best, other) {
            if found.as_ref().is_none_or(|(_, q)| p > *q) {
                found = Some((action, p));
            }
        }
    }
    let (action, p_twin) = found?;
    Some(Doubt {
        action,
        share: p_best / (p_best + p_twin).max(f32::MIN_POSITIVE),
    })
}

/// Whether `got` reverses an action of `want`: the right setting, the
/// opposite value or direction (how `knob eval` counts polarity flips).
pub fn reverses(want: &Program, got: &Program) -> bool {
    match (want, got) {
        (Program::Actions(w), Program::Actions(g)) => {
            w.iter().any(|a| g.iter().any(|b| mirrored(a, b)))
        }
        _ => false,
    }
}

/// What the user is told instead of a plan: which way is in doubt, in the
/// setting's own words.
pub fn question(doubt: &Doubt, title: &str) -> String {
    let (ways, leaning) = match &doubt.action {
        Action::Set {
            value: ActionValue::Bool(true),
            ..
        } => ("on or off", "on"),
        Action::Set { .. } => ("on or off", "off"),
        Action::Inc { .. } => ("up or down", "up"),
        _ => ("up or down", "down"),
    };
    format!(
        "not planned: knob cannot tell whether you want {} {ways} ({:.0}% {leaning}); say which",
        title.to_lowercase(),
        100.0 * doubt.share
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(setting: &str, on: bool) -> Action {
        Action::Set {
            setting: setting.into(),
            value: ActionValue::Bool(on),
        }
    }

    fn actions(a: Vec<Action>) -> Program {
        Program::Actions(a)
    }

    #[test]
    fn a_flipped_boolean_in_the_list_is_a_doubt() {
        let best = vec![set("bluetooth.enabled", false)];
        let other = actions(vec![set("bluetooth.enabled", true)]);
        let chat = Program::Chat;
        let d = doubt(&best, 0.6, [(&chat, 0.3), (&other, 0.2)]).unwrap();
        assert_eq!(d.action, best[0]);
        assert!((d.share - 0.75).abs() < 1e-6);
        assert_eq!(
            question(&d, "Bluetooth"),
            "not planned: knob cannot tell whether you want bluetooth on or off (75% off); say which"
        );
    }

    #[test]
    fn inc_and_dec_of_one_setting_mirror_each_other() {
        let best = vec![Action::Inc {
            setting: "lock.idle_lock_timeout".into(),
            amount: None,
        }];
        let other = actions(vec![Action::Dec {
            setting: "lock.idle_lock_timeout".into(),
            amount: Some(5.0),
        }]);
        let d = doubt(&best, 0.5, [(&other, 0.5)]).unwrap();
        assert!((d.share - 0.5).abs() < 1e-6);
        assert!(question(&d, "Screen lock delay").contains("up or down (50% up)"));
    }

    #[test]
    fn other_differences_are_no_doubt() {
        let best = vec![set("bluetooth.enabled", false), set("network.wifi", true)];
        // Another setting, two flips, a different length, the same program.
        let another = actions(vec![
            set("bluetooth.enabled", false),
            set("network.airplane_mode", false),
        ]);
        let two = actions(vec![
            set("bluetooth.enabled", true),
            set("network.wifi", false),
        ]);
        let shorter = actions(vec![set("bluetooth.enabled", true)]);
        let same = actions(best.clone());
        assert_eq!(
            doubt(
                &best,
                0.4,
                [(&another, 0.3), (&two, 0.2), (&shorter, 0.1), (&same, 0.1)]
            ),
            None
        );
        // One flip among equal actions is.
        let one = actions(vec![
            set("bluetooth.enabled", false),
            set("network.wifi", false),
        ]);
        assert!(doubt(&best, 0.4, [(&one, 0.4)]).is_some());
    }

    #[test]
    fn reversal_is_a_mirrored_action_anywhere_in_the_program() {
        let want = actions(vec![
            set("bluetooth.enabled", true),
            set("network.wifi", true),
        ]);
        let flipped = actions(vec![set("network.wifi", false)]);
        let other = actions(vec![
            set("network.wifi", true),
            set("bluetooth.enabled", true),
        ]);
        assert!(reverses(&want, &flipped));
        assert!(!reverses(&want, &other));
        assert!(!reverses(&want, &Program::Chat));
        assert!(!reverses(&Program::None, &flipped));
    }

    #[test]
    fn the_likeliest_mirror_counts() {
        let best = vec![Action::Inc {
            setting: "sound.volume".into(),
            amount: None,
        }];
        let small = actions(vec![Action::Dec {
            setting: "sound.volume".into(),
            amount: Some(5.0),
        }]);
        let big = actions(vec![Action::Dec {
            setting: "sound.volume".into(),
            amount: None,
        }]);
        let d = doubt(&best, 0.6, [(&small, 0.1), (&big, 0.2)]).unwrap();
        assert!((d.share - 0.75).abs() < 1e-6);
    }
}
