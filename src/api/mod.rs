//! The HTTP API: routes, one module per resource, and the shared conventions.

pub mod args;
pub mod audit;
pub mod body;
pub mod connection_test;
pub mod conventions;
pub mod data_source;
pub mod docs;
pub mod error;
pub mod gate;
pub mod limits;
pub mod mode;
pub mod openapi;
pub mod operations;
pub mod page;
pub mod path_normalize;
pub mod permission;
pub mod person;
pub mod query;
pub mod reply;
pub mod request_log;
pub mod role;
pub mod routes;
pub mod schema;
mod secret_args;
pub mod test_history;
pub mod test_run;
pub mod whoami;
