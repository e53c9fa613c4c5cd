//! The console in a real pseudo-terminal that goes away, as when an SSH session drops: the
//! terminal hanging up (its other end closed) or SIGHUP ends the console at once with exit 1
//! and a message on stderr, instead of leaving it running (at 100% of a core, reading a dead
//! terminal).
#![cfg(unix)]

mod common;

use std::io::Read;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::process::{Child, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use common::*;

/// A pseudo-terminal of 80×24: (the side a terminal emulator holds, the side the program gets).
fn pty() -> (OwnedFd, OwnedFd) {
    let (mut master, mut slave) = (0, 0);
    let size = libc::winsize {
        ws_row: 24,
        ws_col: 80,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    // SAFETY: openpty fills the two descriptors; no name buffer or termios is passed.
    let r = unsafe {
        libc::openpty(
            &mut master,
            &mut slave,
            std::ptr::null_mut(),
            std::ptr::null(),
            &size,
        )
    };
    assert_eq!(r, 0, "openpty: {}", std::io::Error::last_os_error());
    // Not inherited by the console (or by another test's child): only the ends given to it.
    for fd in [master, slave] {
        // SAFETY: setting a flag on a descriptor just opened.
        unsafe { libc::fcntl(fd, libc::F_SETFD, libc::FD_CLOEXEC) };
    }
    // SAFETY: both descriptors were just opened and are owned here only.
    unsafe { (OwnedFd::from_raw_fd(master), OwnedFd::from_raw_fd(slave)) }
}

/// The terminal emulator's side of the pty: drains what the console draws, until `hang_up`
/// closes it.
struct Screen {
    stop: Arc<AtomicBool>,
    reader: std::thread::JoinHandle<()>,
}

impl Screen {
    /// Close the emulator's side, as sshd does when the connection drops.
    fn hang_up(self) {
        self.stop.store(true, Ordering::SeqCst);
        self.reader.join().unwrap();
    }
}

/// The console on the demo fleet, its terminal the pty, its stderr a pipe; the screen drawn
/// (read from the pty) before it returns.
fn console_in(slave: OwnedFd, master: OwnedFd) -> (Child, Screen) {
    let home = tempfile::tempdir().unwrap().keep();
    let mut c = bd_in(&home);
    c.arg("demo")
        .env("TERM", "xterm-256color")
        .stdin(Stdio::from(slave.try_clone().unwrap()))
        .stdout(Stdio::from(slave))
        .stderr(Stdio::piped());
    let child = c.spawn().unwrap();
    drop(c);
    let stop = Arc::new(AtomicBool::new(false));
    let (tx, rx) = std::sync::mpsc::channel();
    let flag = stop.clone();
    let reader = std::thread::spawn(move || {
        let mut screen = std::fs::File::from(master);
        let mut seen = Vec::new();
        let mut buf = [0u8; 4096];
        while !flag.load(Ordering::SeqCst) {
            let mut p = libc::pollfd {
                fd: screen.as_raw_fd(),
                events: libc::POLLIN,
                revents: 0,
            };
            // SAFETY: one valid pollfd.
            if unsafe { libc::poll(&mut p, 1, 50) } <= 0 {
                continue;
            }
            match screen.read(&mut buf) {
                Ok(n) if n > 0 => seen.extend_from_slice(&buf[..n]),
                _ => break,
            }
            if String::from_utf8_lossy(&seen).contains("BLASTDOOR") {
                let _ = tx.send(());
                seen.clear();
            }
        }
        // The emulator's side closes here.
    });
    rx.recv_timeout(Duration::from_secs(30))
        .expect("the console drew its screen");
    (child, Screen { stop, reader })
}

/// The exit code and stderr, or a failure if the console is still running after `limit`.
fn ends_within(mut child: Child, limit: Duration) -> (i32, String) {
    let t0 = Instant::now();
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            let mut err = String::new();
            child
                .stderr
                .take()
                .unwrap()
                .read_to_string(&mut err)
                .unwrap();
            return (status.code().unwrap_or(-1), err);
        }
        if t0.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            panic!("the console was still running {limit:?} after its terminal went away");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn a_terminal_that_hangs_up_ends_the_console_with_exit_1_and_a_message() {
    let (master, slave) = pty();
    let (child, screen) = console_in(slave, master);
    // No SIGHUP here: the pty is not the console's controlling terminal, so only its input
    // tells that it went away.
    screen.hang_up();
    let (code, err) = ends_within(child, Duration::from_secs(10));
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("terminal went away"), "{err}");
}

#[test]
fn sighup_ends_the_console_with_exit_1_and_a_message() {
    let (master, slave) = pty();
    let (child, screen) = console_in(slave, master);
    // SAFETY: signalling our own child by its pid.
    unsafe { libc::kill(child.id() as i32, libc::SIGHUP) };
    let (code, err) = ends_within(child, Duration::from_secs(10));
    screen.hang_up();
    assert_eq!(code, 1, "{err}");
    assert!(
        err.contains("terminal went away") && err.contains("SIGHUP"),
        "{err}"
    );
}
