//! Jackal: a server for the JackDB v2 REST API.
//!
//! `main.rs` is thin; everything a test needs to start a real server on port 0 lives here.

pub mod api;
pub mod app;
pub mod cli_client;
pub mod clock;
pub mod config;
pub mod domain;
pub mod fleet_cli;
pub mod listen_address;
pub mod metrics;
pub mod probe_pool;
pub mod protocol_errors;
pub mod secrets;
pub mod startup;
pub mod store;
pub mod telemetry;
pub mod tls;
pub mod ui;
