//! The pure core: model, scores, ranking and (later) the action workflow. No tokio, no terminal,
//! no HTTP, no clock: time arrives inside each `Msg`.

pub mod baseline;
pub mod containment;
pub mod explain;
pub mod graph;
pub mod k8s_baseline;
pub mod keyindex;
pub mod label;
pub mod model;
pub mod playbook;
pub mod policy;
pub mod ranking;
pub mod reason;
pub mod score;
pub mod state;
pub mod text;
pub mod workflow;

pub use model::*;
pub use ranking::{Ranking, SortKey};
pub use state::{Core, Effect as CoreEffect, Msg, RankedIdentity};
pub use text::SafeText;
