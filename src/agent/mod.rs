//! The settings agent: from a request to validated actions and a plan.
pub mod batch_input;
pub mod beam;
pub mod grammar;
pub mod keyword;
pub mod parallel;
pub mod pipeline;
pub mod polarity;
pub mod provenance;
pub mod request;
pub mod resolve;
pub mod respond;
pub mod search;
pub mod semantic;
pub mod settings_model;
pub mod vector_cache;

pub use pipeline::{Agent, AgentError, Intent, Understanding};
