//! The settings agent: from a request to validated actions and a plan.
pub mod grammar;
pub mod search;
