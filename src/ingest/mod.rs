//! Ingest: decode records, detect their format, normalise them into the core model, and
//! sanitise every untrusted string on the way in. One file per format.

pub mod native;
pub mod sanitize;

use crate::core::{Event, IdentityRecord};

/// What one record or document turned into.
#[derive(Debug)]
pub enum Decoded {
    Events(Vec<Event>),
    Inventory(Vec<IdentityRecord>),
}

/// Why a record was rejected, said so that a responder can find and fix it.
#[derive(Debug, thiserror::Error)]
pub enum DecodeError {
    #[error("not JSON: {0}")]
    Json(#[from] serde_json::Error),
    #[error(
        "unrecognised record format (expected blastdoor native NDJSON: an object with \"time\" and \"actor\")"
    )]
    Unknown,
    #[error("native record: {0}")]
    Native(serde_json::Error),
}

/// Decode one line of NDJSON, detecting its format.
pub fn decode_record(line: &str) -> Result<Decoded, DecodeError> {
    let v: serde_json::Value = serde_json::from_str(line)?;
    decode_value(v)
}

/// Decode a whole document: an object, an array of records, or an inventory.
pub fn decode_document(text: &str) -> Result<Decoded, DecodeError> {
    let v: serde_json::Value = serde_json::from_str(text)?;
    if let serde_json::Value::Array(items) = v {
        let mut out = Vec::with_capacity(items.len());
        for item in items {
            match decode_value(item)? {
                Decoded::Events(evs) => out.extend(evs),
                Decoded::Inventory(_) => return Err(DecodeError::Unknown),
            }
        }
        return Ok(Decoded::Events(out));
    }
    decode_value(v)
}

fn decode_value(v: serde_json::Value) -> Result<Decoded, DecodeError> {
    if v.get("identities").is_some_and(|i| i.is_array()) {
        let inv: native::Inventory = serde_json::from_value(v).map_err(DecodeError::Native)?;
        return Ok(Decoded::Inventory(inv.identities));
    }
    if native::looks_native(&v) {
        let line: native::NativeLine = serde_json::from_value(v).map_err(DecodeError::Native)?;
        return Ok(Decoded::Events(vec![line.event]));
    }
    Err(DecodeError::Unknown)
}
