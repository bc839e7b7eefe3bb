//! The settings engine: the catalog of settings and presets, planning
//! (current -> new through each platform's backend), applying with a
//! write-ahead journal and rollback, and undo.
//!
//! Library API for the agent:
//! - [`load_catalog`] (shipped + user profiles), [`Catalog::setting`], [`Catalog::preset`];
//! - [`plan::plan`] for `(id, Value)` pairs on a platform through a [`System`];
//! - [`plan::read_current`] for a typed current value (relative changes with
//!   [`ValueSpec::relative`]);
//! - [`apply::apply`] and [`apply::undo`].
pub mod apply;
pub mod backend;
pub mod catalog;
pub mod export;
pub mod followup;
pub mod journal;
pub mod load;
pub mod lock;
pub mod paths;
pub mod permissions;
pub mod plan;
pub mod platform;
pub mod policy;
pub mod preset_conflicts;
pub mod profile;
pub mod read_cache;
pub mod render;
pub mod system;
pub mod template;
pub mod value;

pub use apply::{apply, undo, ApplyError, Outcome, UndoOptions, UndoReport};
pub use catalog::{Catalog, Preset, Setting};
pub use journal::Journal;
pub use lock::{JournalLock, LockError};
pub use plan::{plan, plan_changes, read_current, Change, Plan, PlanError, RelativeError};
pub use platform::Platform;
pub use profile::{ProfileError, ProfileErrors};
pub use read_cache::CachedReads;
pub use system::{DryRunSystem, FakeSystem, RealSystem, System};
pub use value::{Relative, Value, ValueSpec};

/// The shipped catalog extended by the user's `<config>/knob/profiles`.
pub fn load_catalog() -> Result<Catalog, ProfileErrors> {
    load::load_with_user_dir(paths::profiles_dir().as_deref())
}
