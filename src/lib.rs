//! blastdoor: an incident-response console for rogue machine identities.
//! `core` is pure (the permission graph, `core::graph`, is part of it); `ingest` decodes and
//! sanitises; `engine` runs the async world; `agent`, `tui` and `headless` are built on top. Arrows point downward only.

pub mod agent;
pub mod auth;
pub mod config;
pub mod core;
pub mod engine;
pub mod exit;
pub mod headless;
pub mod ingest;
pub mod mcp;
pub mod problem;
pub mod respond;
pub mod store;
pub mod tui;
