//! blastdoor's native NDJSON: one core `Event` per line, optionally with the agent's `cursor`
//! (so a stream can resume), and the native inventory file `{"identities": [...]}`.

use serde::{Deserialize, Serialize};

use crate::core::{Event, IdentityRecord};

/// One line of the native stream / agent protocol.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct NativeLine {
    /// Position in the agent's stream; resume with `?since=CURSOR` or `Last-Event-ID`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cursor: Option<u64>,
    #[serde(flatten)]
    pub event: Event,
}

/// The native inventory document (also what `GET /v1/inventory` answers).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Inventory {
    pub identities: Vec<IdentityRecord>,
}

/// Does this JSON value look like a native event line?
pub fn looks_native(v: &serde_json::Value) -> bool {
    v.get("actor").and_then(|a| a.get("principal")).is_some() && v.get("time").is_some()
}

pub fn decode_line(line: &str) -> Result<NativeLine, serde_json::Error> {
    serde_json::from_str(line)
}

pub fn encode_line(cursor: Option<u64>, event: &Event) -> String {
    #[derive(Serialize)]
    struct Out<'a> {
        #[serde(skip_serializing_if = "Option::is_none")]
        cursor: Option<u64>,
        #[serde(flatten)]
        event: &'a Event,
    }
    serde_json::to_string(&Out { cursor, event }).unwrap_or_default()
}
