//! `jackal-bench`: Jackal's benchmarks, each figure a ratio to a floor measured in the same run.
//! One subcommand per benchmark; `bench/run-bench SUBCOMMAND` builds Jackal and this program in
//! release mode and runs it.

use std::process::ExitCode;

use clap::{CommandFactory, FromArgMatches, Parser, Subcommand};

mod cmd;

#[derive(Parser, Debug)]
#[command(name = "jackal-bench", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Endpoints, start-up and list scaling beside a bare actix-web floor, with wrk (needs wrk).
    Api(cmd::api::Args),
    /// Connection tests beside a direct tokio-postgres floor, and GETs during a flood of hanging
    /// tests.
    Run(cmd::run::Args),
    /// One `POST /test-run` of 1,000 data sources beside the ideal schedule of the same run.
    Fleet(cmd::fleet::Args),
    /// Peak memory while `GET /data-source` answers 100,000 data sources.
    Lists(cmd::lists::Args),
    /// GET latency beside two ~1 MiB request bodies of distinct fields.
    Bodies(cmd::bodies::Args),
    /// A connection test through an SSH tunnel beside russh and OpenSSH floors.
    Ssh(cmd::ssh::Args),
    /// SIGKILLs jackal amid a stream of creates and checks that every answered create survived.
    Crash(cmd::crash::Args),
    /// Mixed traffic for minutes, sampling the server's memory; fails on any 5xx.
    Load(cmd::load::Args),
    /// The floor server `api` and `run` start as a process of their own.
    #[command(hide = true)]
    Floor(cmd::floor::Args),
}

/// The command line, where an option given twice takes its last value: `bench/run-bench` passes
/// `--jackal` before the caller's arguments, which may name another build.
fn parse() -> Cli {
    let matches = Cli::command()
        .mut_subcommands(|sub| sub.args_override_self(true))
        .get_matches();
    Cli::from_arg_matches(&matches).unwrap_or_else(|e| e.exit())
}

fn main() -> ExitCode {
    match parse().command {
        Command::Api(args) => cmd::api::run(args),
        Command::Run(args) => cmd::run::run(args),
        Command::Fleet(args) => cmd::fleet::run(args),
        Command::Lists(args) => cmd::lists::run(args),
        Command::Bodies(args) => cmd::bodies::run(args),
        Command::Ssh(args) => cmd::ssh::run(args),
        Command::Crash(args) => cmd::crash::run(args),
        Command::Load(args) => cmd::load::run(args),
        Command::Floor(args) => cmd::floor::run(args),
    }
}
