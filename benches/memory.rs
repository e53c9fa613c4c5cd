//! Resident memory per identity: N synthetic IAM users, each seen in one CloudTrail record
//! (an ARN, an access key, a source address, an observed permission), decoded and applied to the
//! core as `blastdoor rank` does. Each N runs in a fresh process, and the figure is the growth
//! of VmRSS over the process's baseline, divided by N (VmHWM, the peak, printed beside it).
//!
//! It runs with the allocator the binary ships with (mimalloc), and prints the size of the
//! structures kept per identity beside the figure.
//!
//!   cargo bench --bench memory                 # 100k and 1M
//!   cargo bench --bench memory -- 250000       # one N
use blastdoor::core::{Core, Msg, SortKey};
use blastdoor::ingest;

// The allocator `blastdoor` itself runs with (src/main.rs), so the figure is the product's.
#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn status(field: &str) -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .unwrap_or_default()
        .lines()
        .find(|l| l.starts_with(field))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|k| k.parse::<u64>().ok())
        .unwrap_or(0)
        * 1024
}

fn record(i: usize) -> String {
    format!(
        r#"{{"eventVersion":"1.08","userIdentity":{{"type":"IAMUser","principalId":"AIDA{i:016}","arn":"arn:aws:iam::123456789012:user/svc-{i}","accountId":"123456789012","accessKeyId":"AKIA{i:016}","userName":"svc-{i}"}},"eventTime":"2026-11-26T03:{:02}:{:02}Z","eventSource":"s3.amazonaws.com","eventName":"GetObject","awsRegion":"us-east-1","sourceIPAddress":"198.51.{}.{}","userAgent":"aws-sdk-go/1.44","requestParameters":{{"bucketName":"data-{}","key":"k"}},"responseElements":null,"eventID":"{i}","eventType":"AwsApiCall","recipientAccountId":"123456789012"}}"#,
        (i / 60) % 60,
        i % 60,
        (i / 256) % 256,
        i % 256,
        i % 100
    )
}

fn measure(n: usize) {
    let base = status("VmRSS:");
    let mut core = Core::new();
    let mut i = 0;
    while i < n {
        let mut events = Vec::with_capacity(4096);
        let mut changes = Vec::new();
        for j in i..(i + 4096).min(n) {
            let d = ingest::decode_record(&record(j)).expect("synthetic record decodes");
            events.extend(d.events);
            changes.extend(d.changes);
        }
        core.update(Msg::Events { events, now: 0 });
        if !changes.is_empty() {
            core.update(Msg::Changes { changes, now: 0 });
        }
        i += 4096;
    }
    let top = core.top(10, SortKey::Risk);
    assert_eq!(core.len(), n);
    assert!(!top.is_empty());
    let rss = status("VmRSS:");
    let hwm = status("VmHWM:");
    let grown = rss.saturating_sub(base);
    let per = grown as f64 / n as f64;
    println!(
        "memory: {n} identities: resident {:.1} MiB over a {:.1} MiB baseline, {per:.0} bytes/identity (peak {:.1} MiB){}",
        grown as f64 / 1048576.0,
        base as f64 / 1048576.0,
        hwm as f64 / 1048576.0,
        if per <= 1024.0 {
            ""
        } else {
            "  OVER the 1 KiB budget"
        }
    );
    std::hint::black_box(core);
}

fn main() {
    // `cargo bench` passes `--bench`; any plain number is an N to measure in this process.
    let ns: Vec<usize> = std::env::args()
        .skip(1)
        .filter_map(|a| a.replace('_', "").parse().ok())
        .collect();
    if let [n] = ns[..] {
        measure(n);
        return;
    }
    let ns = if ns.is_empty() {
        vec![100_000, 1_000_000]
    } else {
        ns
    };
    use std::mem::size_of;
    println!(
        "sizes: IdentityState {} B, NodeInfo {} B, graph Item {} B, Permission {} B, Credential {} B",
        size_of::<blastdoor::core::state::IdentityState>(),
        size_of::<blastdoor::core::graph::NodeInfo>(),
        size_of::<blastdoor::core::graph::Item>(),
        size_of::<blastdoor::core::Permission>(),
        size_of::<blastdoor::core::Credential>(),
    );
    let exe = std::env::current_exe().expect("own path");
    for n in ns {
        let st = std::process::Command::new(&exe)
            .arg(n.to_string())
            .status()
            .expect("run a fresh process");
        assert!(st.success());
    }
}
