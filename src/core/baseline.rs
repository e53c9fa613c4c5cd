//! What each identity was seen with: the networks, tools (user agents) and regions of its
//! calls, and what a new call says against that history. A workload credential (an instance
//! profile, a Lambda function's or an ECS task's role session, a pod's token, a CI job's
//! federated session) is made to be used by its workload alone: used with an interactive tool,
//! or from another network with another tool than its workload's, it was taken out of its
//! workload, which is what GuardDuty calls `InstanceCredentialExfiltration`. A credential used
//! with a tool or in a region its history does not show is unusual, once there is a history.
//!
//! Cold start is honest: until an identity has been seen `LEARNING_EVENTS` times nothing is
//! "new", and a workload credential judged on its first call says that there was nothing to
//! compare it with.
//!
//! Pure: the core calls [`Baseline::observe`] for every event and records what it returns.

use thin_vec::ThinVec;

use crate::core::model::Signal;

/// Calls an identity makes before a tool or region it has not used counts as unusual.
pub const LEARNING_EVENTS: u32 = 8;
/// Distinct tools and regions remembered per identity (hashes: four bytes each).
const MAX_REMEMBERED: usize = 8;
/// Longest user agent quoted in a reason.
const UA_QUOTE: usize = 48;

/// A client as its user agent names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tool {
    /// `aws-cli`, `boto3`, `aws-sdk-go-v2`, `terraform`, `console`, `browser`, `kubectl`,
    /// `aws-service`, or the first product token.
    pub family: String,
    /// The workstation system it runs on, when the agent says (`Darwin`, `Windows`, `Kali`).
    pub workstation: Option<&'static str>,
    /// The AWS runtime the SDK reported (`exec-env/AWS_Lambda_…`, `exec-env/AWS_ECS_…`).
    pub exec_env: Option<&'static str>,
}

impl Tool {
    /// A tool a person drives: the console, a browser, or any client on a workstation's system.
    pub fn is_interactive(&self) -> bool {
        matches!(self.family.as_str(), "console" | "browser") || self.workstation.is_some()
    }

    /// What a baseline tells tools apart by: the family, and the workstation it runs on.
    fn key(&self) -> String {
        match self.workstation {
            Some(os) => format!("{} on {os}", self.family),
            None => self.family.clone(),
        }
    }
}

/// The tool a user agent names.
pub fn tool_of(ua: &str) -> Tool {
    let trimmed = ua.trim().trim_start_matches('[');
    let l = trimmed.to_ascii_lowercase();
    let workstation = if l.contains("amazon-ssm-agent") || l.contains("amzn") {
        None
    } else if l.contains("kali") {
        Some("Kali")
    } else if l.contains("darwin") || l.contains("mac os x") || l.contains("macintosh") {
        Some("Darwin")
    } else if l.contains("windows") {
        Some("Windows")
    } else {
        None
    };
    let exec_env = if l.contains("exec-env/aws_lambda") {
        Some("lambda")
    } else if l.contains("exec-env/aws_ecs") {
        Some("ecs")
    } else {
        None
    };
    let family = if l.contains("amazon-ssm-agent") {
        "amazon-ssm-agent".to_string()
    } else if l.starts_with("aws-cli/") {
        "aws-cli".into()
    } else if l.contains("terraform") {
        "terraform".into()
    } else if l.starts_with("console.")
        || l == "signin.amazonaws.com"
        || l.contains("aws-console")
        || l.contains("aws-internal")
        || l.contains("consolefrontend")
    {
        "console".into()
    } else if l.ends_with(".amazonaws.com") || l == "aws internal" {
        "aws-service".into()
    } else if l.starts_with("mozilla/") {
        "browser".into()
    } else if l.contains("boto3/") {
        "boto3".into()
    } else {
        l.split(['/', ' ', '(']).next().unwrap_or("").to_string()
    };
    Tool {
        family,
        workstation,
        exec_env,
    }
}

/// A user agent cut to quote in a reason.
pub fn quote_ua(ua: &str) -> String {
    let ua = ua.trim().trim_start_matches('[');
    match ua.char_indices().nth(UA_QUOTE) {
        Some((i, _)) => format!("{}…", &ua[..i]),
        None => ua.to_string(),
    }
}

/// One call as the baseline sees it.
#[derive(Debug, Clone, Copy, Default)]
pub struct Call<'a> {
    pub ip: Option<&'a str>,
    pub user_agent: Option<&'a str>,
    pub region: Option<&'a str>,
    /// Made by an AWS service on the identity's behalf: not an address or a tool of its own.
    pub by_service: bool,
    pub succeeded: bool,
}

/// What the baseline found in one call: signals, each with the note that says why.
pub type Findings = Vec<(Signal, String)>;

/// An identity's history: what its calls came from.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Baseline {
    /// Calls that taught it (service calls on its behalf excluded).
    pub calls: u32,
    // `ThinVec`s: one pointer each, nothing allocated while empty.
    tools: ThinVec<u32>,
    regions: ThinVec<u32>,
    /// Networks besides its home's that a workload was seen calling from with its own tool.
    nets: ThinVec<u32>,
    /// Where and with what a workload credential was first used: its workload.
    home: Option<Box<Home>>,
    /// What the last user agent seen says (most calls repeat it).
    memo: Facts,
    /// Calls it was refused (hashes of `service:Operation`), to see a session of it do them.
    denied: ThinVec<u32>,
}

/// Where a workload calls from, and with what.
#[derive(Debug, Clone, PartialEq)]
struct Home {
    ip: String,
    user_agent: String,
    /// `hash` of its tool's key.
    tool: u32,
}

/// What a user agent says, as the baseline needs it.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
struct Facts {
    /// `hash` of the user agent itself.
    ua: u32,
    /// `hash` of its tool's key (family and workstation); 0 before any reading.
    key: u32,
    interactive: bool,
    exec_env: Option<&'static str>,
    /// An AWS service calling on the identity's behalf.
    service: bool,
}

impl Facts {
    fn of(ua: &str, ua_hash: u32) -> Facts {
        let t = tool_of(ua);
        Facts {
            ua: ua_hash,
            key: hash(&t.key()).max(1),
            interactive: t.is_interactive(),
            exec_env: t.exec_env,
            service: t.family == "aws-service",
        }
    }
}

fn hash(s: &str) -> u32 {
    // FNV-1a: stable across runs and builds, which a baseline kept in memory does not need,
    // but tests and figures do.
    let mut h: u32 = 0x811c_9dc5;
    for b in s.bytes() {
        h ^= u32::from(b);
        h = h.wrapping_mul(0x0100_0193);
    }
    h
}

fn remember(list: &mut ThinVec<u32>, h: u32) {
    if list.len() < MAX_REMEMBERED && !list.contains(&h) {
        list.push(h);
    }
}

impl Baseline {
    /// Whether it has seen enough to call something new.
    pub fn learned(&self) -> bool {
        self.calls >= LEARNING_EVENTS
    }

    /// How many distinct tools and regions it has seen.
    pub fn tools_and_regions(&self) -> (usize, usize) {
        (self.tools.len(), self.regions.len())
    }

    /// Remember a call it was refused.
    pub fn refused(&mut self, call: &str, cap: usize) {
        let h = hash(call);
        if self.denied.len() < cap && !self.denied.contains(&h) {
            self.denied.push(h);
        }
    }

    /// Whether it was refused this call.
    pub fn was_refused(&self, call: &str) -> bool {
        !self.denied.is_empty() && self.denied.contains(&hash(call))
    }

    /// The address and user agent its workload calls from, once known.
    pub fn home(&self) -> Option<(&str, &str)> {
        self.home
            .as_deref()
            .map(|h| (h.ip.as_str(), h.user_agent.as_str()))
    }

    /// Judge one call against the history, then learn from it. `workload` is the kind of
    /// workload the credential belongs to (`ec2`, `lambda`, …), when it is one; `network` gives
    /// the network an address belongs to (what a move between networks is measured by).
    pub fn observe(
        &mut self,
        workload: Option<&str>,
        call: Call<'_>,
        network: impl Fn(&str) -> String,
    ) -> Findings {
        let mut out = Findings::new();
        if call.by_service {
            return out;
        }
        // Most calls come with the user agent of the one before: its reading is kept.
        let facts = call.user_agent.map(|ua| {
            let h = hash(ua);
            if self.memo.ua != h || self.memo.key == 0 {
                self.memo = Facts::of(ua, h);
            }
            self.memo
        });
        let ua_note = || call.user_agent.map_or_else(|| "?".to_string(), quote_ua);
        let from = || call.ip.map(|ip| format!("from {ip}")).unwrap_or_default();
        if let Some(kind) = workload {
            let interactive = facts.is_some_and(|f| f.interactive);
            let wrong_runtime = match (kind, facts) {
                ("lambda" | "ecs", Some(f)) => f.exec_env != Some(kind) && !f.service,
                _ => false,
            };
            if interactive || wrong_runtime {
                let what = if interactive {
                    "an interactive tool"
                } else {
                    "not its runtime's SDK"
                };
                let cold = if self.calls == 0 {
                    "; no earlier use of this credential to compare with"
                } else {
                    ""
                };
                let used = match call.ip {
                    Some(ip) => format!("used from {ip}"),
                    None => "used".to_string(),
                };
                out.push((
                    Signal::CredentialOutsideWorkload,
                    format!("{kind} credential {used} with {} ({what}){cold}", ua_note()),
                ));
            } else if let (Some(home), Some(ip)) = (self.home.as_deref(), call.ip)
                && ip != home.ip
            {
                let net = network(ip);
                let moved = net != network(&home.ip) && !self.nets.contains(&hash(&net));
                let other_tool = facts.is_some_and(|f| f.key != home.tool);
                if moved && other_tool {
                    out.push((
                        Signal::CredentialOutsideWorkload,
                        format!(
                            "{kind} credential used {} with {}; its workload calls from {} with {}",
                            from(),
                            ua_note(),
                            home.ip,
                            quote_ua(&home.user_agent)
                        )
                        .replace("used  with", "used with"),
                    ));
                }
                if moved {
                    out.push((
                        Signal::NewNetwork,
                        format!("{}; its workload calls from {}", from(), home.ip),
                    ));
                }
                // The workload's own tool from another network (a NAT gateway, a VPC
                // endpoint) is new once, then one of its networks; another tool there stays
                // outside.
                if moved && !other_tool && self.nets.len() < MAX_REMEMBERED {
                    self.nets.push(hash(&net));
                }
            }
            if self.home.is_none()
                && let Some(ip) = call.ip
                && !interactive
                && !wrong_runtime
            {
                self.home = Some(Box::new(Home {
                    ip: ip.to_string(),
                    user_agent: call.user_agent.unwrap_or("").to_string(),
                    tool: facts.map_or(0, |f| f.key),
                }));
            }
        }
        if let Some(f) = facts {
            // A service's own calls are no tool of the identity's; and once the list is full
            // nothing more can be called new.
            if self.learned()
                && call.succeeded
                && !f.service
                && self.tools.len() < MAX_REMEMBERED
                && !self.tools.contains(&f.key)
            {
                out.push((Signal::UnusualUse, format!("first use with {}", ua_note())));
            }
            remember(&mut self.tools, f.key);
        }
        if let Some(r) = call.region.filter(|r| !r.is_empty()) {
            let h = hash(r);
            if self.learned()
                && call.succeeded
                && self.regions.len() < MAX_REMEMBERED
                && !self.regions.contains(&h)
            {
                out.push((Signal::UnusualUse, format!("first call in {r}")));
            }
            remember(&mut self.regions, h);
        }
        self.calls = self.calls.saturating_add(1);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn net(ip: &str) -> String {
        if ip.starts_with("10.") || ip.starts_with("192.168.") {
            "internal".into()
        } else {
            ip.rsplit_once('.')
                .map(|(n, _)| n.to_string())
                .unwrap_or_default()
        }
    }

    fn call<'a>(ip: &'a str, ua: &'a str) -> Call<'a> {
        Call {
            ip: Some(ip),
            user_agent: Some(ua),
            region: Some("us-east-1"),
            by_service: false,
            succeeded: true,
        }
    }

    const SSM: &str = "aws-sdk-go/1.41.4 (go1.18.3; linux; amd64) amazon-ssm-agent/3.2";
    const CLI_MAC: &str = "[aws-cli/1.18.136 Python/3.8.5 Darwin/19.5.0 botocore/1.17.59]";
    const LAMBDA: &str = "Boto3/1.26.90 Python/3.9.16 Linux/4.14.255 exec-env/AWS_Lambda_python3.9";

    #[test]
    fn tools_are_told_apart_by_family_and_workstation() {
        assert_eq!(tool_of(SSM).family, "amazon-ssm-agent");
        let cli = tool_of(CLI_MAC);
        assert_eq!(
            (cli.family.as_str(), cli.workstation),
            ("aws-cli", Some("Darwin"))
        );
        assert!(cli.is_interactive());
        assert!(
            !tool_of("aws-cli/2.13.0 Python/3.11.4 Linux/5.10.0-amzn2 exe/x86_64.amzn.2")
                .is_interactive()
        );
        assert_eq!(tool_of(LAMBDA).exec_env, Some("lambda"));
        assert_eq!(tool_of("console.ec2.amazonaws.com").family, "console");
        assert_eq!(tool_of("ec2.amazonaws.com").family, "aws-service");
        assert_eq!(
            tool_of("APN/1.0 HashiCorp/1.0 Terraform/1.1.2").family,
            "terraform"
        );
    }

    #[test]
    fn a_workload_credential_on_a_workstation_is_outside_its_workload_even_on_first_sight() {
        let mut b = Baseline::default();
        let f = b.observe(Some("ec2"), call("1.2.3.4", CLI_MAC), net);
        assert_eq!(f.len(), 1, "{f:?}");
        assert_eq!(f[0].0, Signal::CredentialOutsideWorkload);
        assert!(f[0].1.contains("from 1.2.3.4"), "{}", f[0].1);
        assert!(
            f[0].1.contains("no earlier use"),
            "cold start said: {}",
            f[0].1
        );
    }

    #[test]
    fn another_network_and_another_tool_take_a_workload_credential_out_of_its_workload() {
        let mut b = Baseline::default();
        for _ in 0..3 {
            assert!(
                b.observe(Some("ec2"), call("3.225.16.109", SSM), net)
                    .is_empty()
            );
        }
        // Another address in the same network, same tool: nothing.
        assert!(
            b.observe(Some("ec2"), call("3.225.16.110", SSM), net)
                .is_empty()
        );
        // Its own tool through a VPC endpoint: a new network once, then one of its own.
        let f = b.observe(Some("ec2"), call("10.0.3.9", SSM), net);
        assert_eq!(
            f.iter().map(|(s, _)| *s).collect::<Vec<_>>(),
            [Signal::NewNetwork]
        );
        assert!(
            b.observe(Some("ec2"), call("10.0.3.9", SSM), net)
                .is_empty()
        );
        let f = b.observe(
            Some("ec2"),
            call("198.51.100.20", "aws-sdk-go-v2/1.17.0 os/linux"),
            net,
        );
        let signals: Vec<Signal> = f.iter().map(|(s, _)| *s).collect();
        assert_eq!(
            signals,
            [Signal::CredentialOutsideWorkload, Signal::NewNetwork]
        );
        assert!(
            f[0].1
                .contains("used from 198.51.100.20 with aws-sdk-go-v2")
                && f[0]
                    .1
                    .contains("its workload calls from 3.225.16.109 with aws-sdk-go/1.41.4"),
            "{}",
            f[0].1
        );
    }

    #[test]
    fn a_lambda_credential_without_its_runtime_is_outside_and_with_it_is_not() {
        let mut b = Baseline::default();
        assert!(
            b.observe(Some("lambda"), call("52.1.1.1", LAMBDA), net)
                .is_empty()
        );
        let f = b.observe(
            Some("lambda"),
            call(
                "52.1.1.1",
                "aws-cli/2.13.0 Python/3.11.4 Linux/6.1 exe/x86_64.ubuntu.22",
            ),
            net,
        );
        assert_eq!(f[0].0, Signal::CredentialOutsideWorkload, "{f:?}");
        assert!(f[0].1.contains("not its runtime's SDK"));
    }

    #[test]
    fn a_new_tool_or_region_is_unusual_only_after_learning() {
        let mut b = Baseline::default();
        let mut first = call("10.0.0.1", "Boto3/1.26 Python/3.9 Linux/5.10");
        first.region = Some("eu-west-1");
        assert!(
            b.observe(None, first, net).is_empty(),
            "nothing is new on a first call"
        );
        for _ in 1..LEARNING_EVENTS {
            b.observe(None, first, net);
        }
        let mut later = call("10.0.0.1", "aws-cli/2.13.0 Python/3.11.4 Linux/5.10");
        later.region = Some("ap-southeast-2");
        let f = b.observe(None, later, net);
        assert_eq!(f.len(), 2, "{f:?}");
        assert!(f.iter().all(|(s, _)| *s == Signal::UnusualUse));
        assert!(f[1].1.contains("ap-southeast-2"));
    }

    #[test]
    fn calls_services_make_on_its_behalf_teach_nothing() {
        let mut b = Baseline::default();
        let mut c = call("ec2.amazonaws.com", "ec2.amazonaws.com");
        c.by_service = true;
        assert!(b.observe(Some("ec2"), c, net).is_empty());
        assert_eq!(b.calls, 0);
        assert!(b.home().is_none());
    }
}
