# shellcheck shell=bash
# Part of scripts/test-databases (sourced, not run): failure reporting and small helpers.

# --- failure reporting -----------------------------------------------------------------------
LOG_HINT=""     # the server log relevant to the current step, dumped on failure
FAILED_AT=""    # the last failing command, recorded by the ERR trap
DIED=0
TMP=""

dump_log() {
    local log=$1
    if [[ -r $log ]]; then
        printf 'test-databases: --- last 40 lines of %s ---\n' "$log" >&2
        tail -n 40 "$log" | sed 's/^/  | /' >&2
        printf 'test-databases: --- end of %s ---\n' "$log" >&2
    elif [[ -n $log ]]; then
        printf 'test-databases: (no readable log at %s)\n' "$log" >&2
    fi
}

# die MESSAGE [LOG]: reports the failure, dumps the log tail, and exits 1.
die() {
    DIED=1
    printf 'test-databases: FAILED: %s\n' "$1" >&2
    dump_log "${2:-$LOG_HINT}"
    exit 1
}

on_exit() {
    local rc=$?
    if (( rc != 0 )); then
        if (( ! DIED )); then
            printf 'test-databases: FAILED: %s\n' "${FAILED_AT:-exit status $rc}" >&2
            dump_log "$LOG_HINT"
        fi
        rm -f "$READY" 2>/dev/null || true
    fi
    if [[ -n $TMP ]]; then rm -rf "$TMP"; fi
}
trap 'FAILED_AT="line $LINENO: $BASH_COMMAND (exit $?)"' ERR
trap on_exit EXIT

# run_logged DESCRIPTION COMMAND...: runs quietly; on failure shows the output and dies.
run_logged() {
    local desc=$1 out
    shift
    out=$(mktemp "$TMP/out.XXXXXX")
    if ! "$@" >"$out" 2>&1; then
        sed 's/^/  | /' "$out" >&2
        die "$desc (command: $*)"
    fi
}

# --- small helpers -----------------------------------------------------------------------------
# shellcheck disable=SC2016  # $1 is expanded by the inner bash
port_open() { timeout 2 bash -c 'exec 3<>"/dev/tcp/127.0.0.1/$1"' _ "$1" 2>/dev/null; }

# wait_port NAME PORT LOG: waits (bounded) until 127.0.0.1:PORT accepts TCP.
wait_port() {
    local name=$1 port=$2 log=$3 deadline=$((SECONDS + WAIT_SECONDS))
    until port_open "$port"; do
        if (( SECONDS >= deadline )); then
            die "$name does not accept TCP on 127.0.0.1:$port after ${WAIT_SECONDS}s" "$log"
        fi
        sleep 0.2
    done
}

CHANGED=0
# sync_file SRC DEST OWNER:GROUP MODE: makes DEST a copy of SRC; sets CHANGED=1 if it was not.
sync_file() {
    local src=$1 dst=$2 owner=$3 mode=$4
    if [[ -f $dst ]] && cmp -s "$src" "$dst" && [[ $(stat -c '%U:%G %a' "$dst") == "$owner ${mode#0}" ]]; then
        return 0
    fi
    install -o "${owner%%:*}" -g "${owner##*:}" -m "$mode" "$src" "$dst"
    CHANGED=1
}

# write_file DEST OWNER:GROUP MODE < CONTENT
write_file() {
    local tmp
    tmp=$(mktemp "$TMP/file.XXXXXX")
    cat >"$tmp"
    sync_file "$tmp" "$1" "$2" "$3"
}


# --- Debian packages ---------------------------------------------------------------------------
readonly POLICY_RC=/usr/sbin/policy-rc.d
readonly POLICY_MARK="# Written by scripts/test-databases while installing"

apt_install() {
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
        -o DPkg::Lock::Timeout=300 "$@" 8>&- 9>&-
}

# ensure_packages LABEL "TOOL..." PACKAGE...: installs Debian's PACKAGEs when one of the TOOLs (paths)
# is missing. While installing, a policy-rc.d denies every service start, so a package cannot
# start the machine's own service (one already there is left as it is). One part installs at a
# time ($BASE/.apt-lock): parts run side by side, and one must not remove the policy-rc.d while
# another still installs under it.
ensure_packages() {
    local label=$1 tools=$2 tool missing=()
    shift 2
    # shellcheck disable=SC2086  # a list of paths
    for tool in $tools; do [[ -x $tool ]] || missing+=("$tool"); done
    (( ${#missing[@]} )) || return 0
    exec 8>"$BASE/.apt-lock"
    flock -w 600 8 || die "$label: could not take $BASE/.apt-lock within 10 min"
    # A policy-rc.d of ours left behind by an interrupted run.
    if [[ -f $POLICY_RC ]] && grep -qF "$POLICY_MARK" "$POLICY_RC"; then rm -f "$POLICY_RC"; fi
    local ours=0 rc=0 out
    say "$label: ${missing[*]} missing; installing Debian's $* (service starts denied meanwhile)"
    if [[ ! -e $POLICY_RC ]]; then
        printf '#!/bin/sh\n%s packages; no service may start.\nexit 101\n' "$POLICY_MARK" >"$POLICY_RC"
        chmod 0755 "$POLICY_RC"
        ours=1
    fi
    out=$(mktemp "$TMP/out.XXXXXX")
    if ! apt_install "$@" >"$out" 2>&1; then
        say "$label: apt-get install failed; running apt-get update and trying again"
        { apt-get update -q 8>&- 9>&- && apt_install "$@"; } >"$out" 2>&1 || rc=$?
    fi
    if (( ours )); then rm -f "$POLICY_RC"; fi
    exec 8>&-
    if (( rc != 0 )); then
        sed 's/^/  | /' "$out" >&2
        die "$label: could not install $*"
    fi
    for tool in "${missing[@]}"; do
        [[ -x $tool ]] || die "$label: $tool is still missing after installing $*"
    done
}
