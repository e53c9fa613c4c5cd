//! The console: a terminal face on the engine. `keymap` and `theme` come from TOML files (see
//! `crate::config`); the app loop and its views follow.

pub mod keymap;
pub mod theme;

pub use keymap::{Action, KeyChord, Keymap};
pub use theme::{ColorMode, Theme};
