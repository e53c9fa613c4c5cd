//! Each decoder in turn: the first byte picks a format, the rest is JSON whose object gets the
//! keys that make detection choose that format, so the fuzzer explores every decoder's body
//! rather than stopping at "unrecognised format". Each value is also read from its text, and
//! the two reads must agree (CloudTrail's typed read against the general path).
#![no_main]
use libfuzzer_sys::fuzz_target;
use serde_json::{Value, json};

fn force(format: u8, mut v: Value) -> Value {
    let Value::Object(ref mut m) = v else {
        return v;
    };
    let mut set = |k: &str, x: Value| {
        m.entry(k.to_string()).or_insert(x);
    };
    match format % 12 {
        0 => {
            set("eventName", json!("CreateAccessKey"));
            set("eventSource", json!("iam.amazonaws.com"));
        }
        1 => {
            set("kind", json!("Event"));
            set("verb", json!("create"));
        }
        2 => {
            set("rule", json!("r"));
            set("priority", json!("Critical"));
            set("output", json!("o"));
        }
        3 => {
            let inner = m.remove("p").unwrap_or(json!({}));
            m.insert("process_kprobe".into(), inner);
        }
        4 => {
            set("type", json!("response"));
            set("auth", json!({}));
        }
        5 => set("class_uid", json!(6003)),
        6 => {
            set("action", json!("org.add_member"));
            set("actor", json!("a"));
        }
        7 => set("protoPayload", json!({})),
        8 => set("UserDetailList", json!([])),
        9 => {
            set("kind", json!("List"));
            set("items", json!([]));
        }
        10 => {
            let inner = std::mem::take(m);
            return json!({"Records": [Value::Object(inner)]});
        }
        _ => {
            let inner = std::mem::take(m);
            return json!({"detail-type": "AWS API Call via CloudTrail", "detail": Value::Object(inner)});
        }
    }
    v
}

fuzz_target!(|data: &[u8]| {
    let Some((&format, rest)) = data.split_first() else {
        return;
    };
    let Ok(text) = std::str::from_utf8(rest) else {
        return;
    };
    let Ok(v) = serde_json::from_str::<Value>(text) else {
        return;
    };
    let v = force(format, v);
    // Differential: the typed read of the text (CloudTrail is read without a `Value` tree)
    // must give exactly what the general path gives for the same value, or the same error.
    // Both from the text: a float printed and parsed again may come back one ulp apart.
    let text = v.to_string();
    let general = blastdoor::ingest::parse_json(&text).and_then(|v| {
        let mut out = blastdoor::ingest::Decoded::default();
        blastdoor::ingest::decode_value(v, &mut out).map(|_| out)
    });
    match (blastdoor::ingest::decode_record(&text), general) {
        (Ok(a), Ok(b)) => {
            assert!(
                a.events == b.events && a.changes == b.changes && a.inventory == b.inventory,
                "the typed and the general read differ on {text}"
            );
        }
        (Err(a), Err(b)) => assert_eq!(a.to_string(), b.to_string(), "{text}"),
        (a, b) => panic!(
            "one read failed on {text}: typed {:?}, general {:?}",
            a.err(),
            b.err()
        ),
    }
});
