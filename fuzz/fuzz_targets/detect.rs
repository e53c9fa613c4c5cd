//! Any bytes through detection and whichever decoder it picks, as a line and as a document.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = blastdoor::ingest::decode_record(text);
        let _ = blastdoor::ingest::decode_document(text);
        if let Ok(v) = serde_json::from_str::<serde_json::Value>(text) {
            let _ = blastdoor::ingest::detect(&v);
        }
    }
});
