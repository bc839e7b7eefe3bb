//! The settings agent: from a request to validated actions and a plan.
pub mod batch_input;
pub mod beam;
pub mod grammar;
pub mod request;
pub mod search;
