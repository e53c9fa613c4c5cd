//! CloudTrail is read from its text into typed fields, without a `Value` tree; everything else
//! is parsed and detected. For records of any shape (each field the typed read looks at absent,
//! a string, a number, `null`, an object or an array; keys that make another format win; hostile
//! strings), alone on a line or in a delivery file, compact or pretty, the typed read must give
//! exactly what the general path gives, or the same error.

use blastdoor::ingest::{self, DecodeError, Decoded};
use proptest::prelude::*;
use serde_json::{Map, Value, json};

fn general(text: &str) -> Result<Decoded, DecodeError> {
    let v = ingest::parse_json(text)?;
    let mut out = Decoded::default();
    ingest::decode_value(v, &mut out)?;
    Ok(out)
}

fn same(text: &str) {
    match (ingest::decode_record(text), general(text)) {
        (Ok(a), Ok(b)) => {
            assert_eq!(a.events, b.events, "{text}");
            assert_eq!(a.changes, b.changes, "{text}");
            assert_eq!(a.inventory, b.inventory, "{text}");
        }
        (Err(a), Err(b)) => assert_eq!(a.to_string(), b.to_string(), "{text}"),
        (a, b) => panic!("{text}: typed {:?}, general {:?}", a.err(), b.err()),
    }
}

fn text() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(json!("")),
        Just(json!("ListBuckets")),
        Just(json!("ConsoleLogin")),
        Just(json!("CreateAccessKey")),
        Just(json!("AttachUserPolicy")),
        Just(json!("AssumedRole")),
        Just(json!("IAMUser")),
        Just(json!("Root")),
        Just(json!("AccessDenied")),
        Just(json!("Failure")),
        Just(json!("No")),
        Just(json!("iam.amazonaws.com")),
        Just(json!("arn:aws:iam::123456789012:user/alice")),
        Just(json!(
            "arn:aws:sts::123456789012:assumed-role/r/i-0abc12345678"
        )),
        Just(json!("arn:aws:iam::aws:policy/AdministratorAccess")),
        Just(json!("AKIAEXAMPLE000000001")),
        Just(json!("2026-11-26T03:00:00Z")),
        Just(json!("Mozilla (Windows NT 10.0)")),
        Just(json!("evil\u{1b}[2J\u{202e}\"\\/\n")),
        "[a-zA-Z0-9:/._-]{0,12}".prop_map(Value::from),
    ]
}

fn scalar() -> impl Strategy<Value = Option<Value>> {
    prop_oneof![
        3 => Just(None),
        6 => text().prop_map(Some),
        1 => any::<i32>().prop_map(|n| Some(json!(n))),
        1 => Just(Some(json!(1688989500.5))),
        1 => Just(Some(Value::Null)),
        1 => any::<bool>().prop_map(|b| Some(json!(b))),
        1 => Just(Some(json!({"x": "y"}))),
        1 => Just(Some(json!(["a", 1]))),
    ]
}

fn object(keys: &'static [&'static str], depth: u32) -> BoxedStrategy<Option<Value>> {
    let fields = proptest::collection::vec(
        if depth == 0 {
            scalar().boxed()
        } else {
            prop_oneof![
                4 => scalar(),
                1 => object(keys, depth - 1),
            ]
            .boxed()
        },
        keys.len(),
    );
    prop_oneof![
        1 => scalar(),
        3 => fields.prop_map(move |vals| {
            let mut m = Map::new();
            for (k, v) in keys.iter().zip(vals) {
                if let Some(v) = v {
                    m.insert(k.to_string(), v);
                }
            }
            Some(Value::Object(m))
        }),
    ]
    .boxed()
}

const TOP: &[&str] = &[
    "eventName",
    "eventSource",
    "eventTime",
    "@timestamp",
    "recipientAccountId",
    "sourceIPAddress",
    "errorCode",
    "userAgent",
    "extra",
];
const IDENTITY: &[&str] = &[
    "type",
    "accountId",
    "arn",
    "userName",
    "principalId",
    "invokedBy",
    "identityProvider",
    "accessKeyId",
    "sessionContext",
    "sessionIssuer",
];
const PARAMS: &[&str] = &[
    "userName",
    "roleName",
    "groupName",
    "policyArn",
    "policyName",
    "instanceId",
    "name",
    "ConsoleLogin",
    "MFAUsed",
    "accessKey",
    "accessKeyId",
    "ARN",
    "type",
];
/// Keys that make `detect` choose another format before CloudTrail.
const OTHERS: &[&str] = &[
    "identities",
    "actor",
    "Records",
    "detail-type",
    "rule_id",
    "properties",
];

fn record() -> impl Strategy<Value = Value> {
    (
        proptest::collection::vec(scalar(), TOP.len()),
        object(IDENTITY, 2),
        object(PARAMS, 1),
        object(PARAMS, 1),
        object(PARAMS, 1),
        prop_oneof![
            2 => Just(None),
            1 => proptest::collection::vec(object(PARAMS, 0), 0..4)
                .prop_map(|v| Some(Value::Array(v.into_iter().map(|x| x.unwrap_or(Value::Null)).collect()))),
            1 => scalar(),
        ],
        prop_oneof![8 => Just(None), 1 => proptest::sample::select(OTHERS).prop_map(Some)],
    )
        .prop_map(|(top, ident, req, resp, extra, resources, other)| {
            let mut m = Map::new();
            for (k, v) in TOP.iter().zip(top) {
                if let Some(v) = v {
                    m.insert(k.to_string(), v);
                }
            }
            for (k, v) in [
                ("userIdentity", ident),
                ("requestParameters", req),
                ("responseElements", resp),
                ("additionalEventData", extra),
                ("resources", resources),
            ] {
                if let Some(v) = v {
                    m.insert(k.to_string(), v);
                }
            }
            // What makes each other format win, so a typed read that missed it would differ.
            let inner = json!({"eventName": "Inner", "eventSource": "s3.amazonaws.com"});
            match other {
                Some("identities") => {
                    m.insert("identities".into(), json!([]));
                }
                Some("actor") => {
                    m.insert("actor".into(), json!({"principal": "p"}));
                    m.insert("time".into(), json!(1));
                }
                Some("Records") => {
                    m.insert("Records".into(), json!([inner]));
                }
                Some("detail-type") => {
                    m.insert("detail-type".into(), json!("AWS API Call via CloudTrail"));
                    m.insert("detail".into(), inner);
                }
                Some("rule_id") => {
                    m.insert("rule_id".into(), json!("r"));
                    m.insert("log".into(), inner);
                }
                Some(_) => {
                    m.insert("properties".into(), json!({"log": inner.to_string()}));
                    m.insert("category".into(), json!("kube-audit"));
                }
                None => {}
            }
            Value::Object(m)
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(600))]

    #[test]
    fn a_record_alone_reads_as_the_general_path_reads_it(r in record(), pretty in any::<bool>()) {
        let text = if pretty { serde_json::to_string_pretty(&r).unwrap() } else { r.to_string() };
        same(&text);
    }

    #[test]
    fn a_delivery_file_reads_as_the_general_path_reads_it(
        rs in proptest::collection::vec(record(), 0..4),
        before in proptest::option::of(scalar()),
        pretty in any::<bool>(),
    ) {
        let mut file = Map::new();
        if let Some(Some(v)) = before {
            file.insert("eventVersion".into(), v);
        }
        file.insert("Records".into(), Value::Array(rs));
        let file = Value::Object(file);
        let text = if pretty { serde_json::to_string_pretty(&file).unwrap() } else { file.to_string() };
        same(&text);
    }
}
