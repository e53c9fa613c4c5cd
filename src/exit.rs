//! Exit codes of INTERFACE.md as error types, so every face reports failures the same way:
//! `0` done · `1` runtime failure · `2` usage or configuration · `3` verification failed ·
//! `4` refused by policy or approval rules.

use std::fmt;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Code {
    Runtime = 1,
    Usage = 2,
    Verify = 3,
    Refused = 4,
}

/// An error that carries the exit code it must end the process with.
#[derive(Debug)]
pub struct Failure {
    pub code: Code,
    pub message: String,
}

impl Failure {
    pub fn usage(message: impl Into<String>) -> anyhow::Error {
        Failure {
            code: Code::Usage,
            message: message.into(),
        }
        .into()
    }
    pub fn verify(message: impl Into<String>) -> anyhow::Error {
        Failure {
            code: Code::Verify,
            message: message.into(),
        }
        .into()
    }
    pub fn refused(message: impl Into<String>) -> anyhow::Error {
        Failure {
            code: Code::Refused,
            message: message.into(),
        }
        .into()
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Failure {}

/// The exit code an error ends the process with.
pub fn code_of(e: &anyhow::Error) -> u8 {
    e.chain()
        .find_map(|c| c.downcast_ref::<Failure>())
        .map(|f| f.code as u8)
        .unwrap_or(Code::Runtime as u8)
}
