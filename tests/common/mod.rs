//! Helpers shared by the tests that drive the real binary: a command with the user's config,
//! state, policy and agent kept out, a free loopback port, and a child killed on drop.
#![allow(dead_code)]

use std::path::Path;
use std::process::Command;

/// `blastdoor` with HOME and the XDG dirs under `home`, and no BLASTDOOR_* or ssh-agent from
/// the environment.
pub fn bd(home: &Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_blastdoor"));
    for v in [
        "BLASTDOOR_CONFIG",
        "BLASTDOOR_STATE",
        "BLASTDOOR_POLICY",
        "NO_COLOR",
        "SSH_AUTH_SOCK",
    ] {
        c.env_remove(v);
    }
    c.env("HOME", home)
        .env("XDG_CONFIG_HOME", home.join("config"))
        .env("XDG_DATA_HOME", home.join("data"));
    c
}

/// A loopback port nobody listens on right now.
pub fn free_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}

/// A child process killed (and reaped) when the test ends, pass or fail.
pub struct KillOnDrop(pub std::process::Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}
