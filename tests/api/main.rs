//! Black-box tests: the real server on port 0, a fresh store each, real HTTP.

mod audit;
mod bad_inputs;
mod cli;
mod compose;
mod connection_test;
mod conventions;
mod data_source;
mod helpers;
mod https;
mod limits;
mod mode;
mod openapi;
mod operations;
mod permission;
mod person;
mod races;
mod restart;
mod role;
mod rotation;
mod schema;
mod secrets_at_rest;
mod store_lock;
mod story;
mod two_servers;
