//! A running `jackal-bench floor`: the bare actix-web server benchmarks measure Jackal against.

use std::ffi::OsString;
use std::io::BufRead;
use std::process::{Child, Command, Stdio};

use crate::Result;

/// A running `jackal-bench floor`. Dropping it kills the process.
pub struct Floor {
    child: Child,
    /// `http://127.0.0.1:PORT/api/v2`.
    pub base: String,
}

impl Drop for Floor {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Floor {
    /// Starts `jackal-bench floor` (this program, in a process of its own so that its work is
    /// not measured with the benchmark's) answering requests that carry `authorization`, with
    /// its other `args` (`--route`, `--pg`, `--workers`), and waits for the port it prints.
    pub fn start(authorization: &str, args: &[OsString]) -> Result<Floor> {
        let binary = std::env::current_exe()?;
        let mut child = Command::new(&binary)
            .arg("floor")
            .arg("--authorization")
            .arg(authorization)
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| format!("starting {}: {e}", binary.display()))?;
        let mut line = String::new();
        std::io::BufReader::new(child.stdout.take().expect("piped")).read_line(&mut line)?;
        let port = line
            .trim()
            .strip_prefix("listening on ")
            .ok_or_else(|| format!("floor printed {line:?}"))?
            .to_owned();
        Ok(Floor {
            child,
            base: format!("http://127.0.0.1:{port}/api/v2"),
        })
    }
}
