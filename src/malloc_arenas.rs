//! `jackal serve` runs with glibc's malloc limited to two arenas (`MALLOC_ARENA_MAX=2`).
//!
//! glibc gives each thread that allocates its own arena, up to 8 per core, and every arena
//! keeps memory it has freed. Under the 10-minute load test (`bench/load-test`) that showed as
//! resident memory creeping for minutes while the live heap stayed under 7 MiB (heaptrack):
//! +8.5% to +12.9% after warm-up in four runs with glibc's default, against +6.9% and +8.8%,
//! about 4 MiB lower and with the same throughput, with two arenas.
//!
//! glibc reads the variable once, when the process starts, and `mallopt` would need `unsafe`,
//! which this workspace forbids. So `serve` re-executes its own binary once with the variable
//! set: same process id, same arguments, same environment otherwise. An administrator who sets
//! `MALLOC_ARENA_MAX` (to any value) keeps theirs, and nothing is re-executed.

use std::ffi::OsString;

/// The variable glibc reads at start-up.
pub const VARIABLE: &str = "MALLOC_ARENA_MAX";
/// What `serve` sets when the environment does not say.
pub const ARENAS: &str = "2";

/// Whether a process with this value of [`VARIABLE`] should re-execute itself to set it.
pub fn needs_limit(current: Option<&OsString>) -> bool {
    cfg!(all(target_os = "linux", target_env = "gnu")) && current.is_none()
}

/// Replaces this process with the same binary, arguments and environment plus
/// `MALLOC_ARENA_MAX=2`, when the environment does not set it. Returns only when nothing was
/// executed: `Ok(())` when no re-execution is needed, else why it failed (the binary was
/// replaced or deleted since it started, say), in which case the caller goes on as it is.
pub fn limit() -> Result<(), String> {
    if !needs_limit(std::env::var_os(VARIABLE).as_ref()) {
        return Ok(());
    }
    reexec()
}

#[cfg(unix)]
fn reexec() -> Result<(), String> {
    use std::os::unix::process::CommandExt;

    let exe = std::env::current_exe().map_err(|e| format!("the running binary: {e}"))?;
    let mut args = std::env::args_os();
    let arg0 = args.next().unwrap_or_else(|| exe.clone().into_os_string());
    // `exec` only returns on failure.
    let error = std::process::Command::new(&exe)
        .arg0(arg0)
        .args(args)
        .env(VARIABLE, ARENAS)
        .exec();
    Err(format!(
        "running {} again with {VARIABLE}={ARENAS}: {error}",
        exe.display()
    ))
}

#[cfg(not(unix))]
fn reexec() -> Result<(), String> {
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_an_unset_variable_is_set() {
        let on_glibc = cfg!(all(target_os = "linux", target_env = "gnu"));
        assert_eq!(needs_limit(None), on_glibc);
        assert!(!needs_limit(Some(&OsString::from("8"))));
        assert!(!needs_limit(Some(&OsString::from(""))));
    }
}
