//! A score's reason, shared by the threat scores (`score.rs`) and the permission graph
//! (`graph/`), which both explain what they count. Below both, so neither imports the other
//! for it.

use serde::{Deserialize, Serialize};

/// One factor behind a score: what it is, in words, and how much it weighs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Reason {
    pub factor: String,
    pub detail: String,
    pub weight: f64,
}

/// Scores are shown and compared to one decimal.
pub fn round1(x: f64) -> f64 {
    (x * 10.0).round() / 10.0
}
