# shellcheck shell=bash
# Part of scripts/test-databases (sourced, not run), run by the PostgreSQL part once PG_MAIN is up:
#
#   PGBOUNCER  127.0.0.1:56432  Debian's pgbouncer in front of PG_MAIN, session pooling, trust for
#                               the user postgres (as PG_MAIN itself)
#
# A pooler answers the start-up and forwards the queries: the tests through it show that a real
# PostgreSQL behind one is still reported as itself (drivers/tests/postgres.rs). Its own files,
# pid and log under $PGB_DIR; the machine's pgbouncer service is never started or changed.

readonly PGBOUNCER=/usr/sbin/pgbouncer
readonly PGB_PORT=56432
readonly PGB_DIR=$BASE/pgbouncer
readonly PGB_INI=$PGB_DIR/pgbouncer.ini PGB_USERS=$PGB_DIR/userlist.txt
readonly PGB_LOG=$PGB_DIR/pgbouncer.log PGB_PID=$PGB_DIR/pgbouncer.pid

pgb_running() {
    local pid
    [[ -r $PGB_PID ]] && read -r pid <"$PGB_PID" && [[ $pid =~ ^[0-9]+$ ]] || return 1
    [[ /proc/$pid/exe -ef $PGBOUNCER ]]
}

ensure_pgbouncer() {
    ensure_packages PGBOUNCER "$PGBOUNCER" pgbouncer
    LOG_HINT=$PGB_LOG
    install -d -o postgres -g postgres -m 0750 "$PGB_DIR"
    CHANGED=0
    write_file "$PGB_INI" postgres:postgres 0640 <<END
[databases]
* = host=127.0.0.1 port=5432

[pgbouncer]
listen_addr = 127.0.0.1
listen_port = $PGB_PORT
unix_socket_dir =
auth_type = trust
auth_file = $PGB_USERS
pool_mode = session
logfile = $PGB_LOG
pidfile = $PGB_PID
END
    write_file "$PGB_USERS" postgres:postgres 0640 <<<'"postgres" ""'
    if pgb_running; then
        (( CHANGED )) || return 0
        say "PGBOUNCER: configuration changed; restarting it"
        kill "$(<"$PGB_PID")"
        local deadline=$((SECONDS + WAIT_SECONDS))
        while pgb_running; do
            (( SECONDS < deadline )) || die "PGBOUNCER: did not stop after ${WAIT_SECONDS}s"
            sleep 0.1
        done
    fi
    # The daemon must not inherit the run's lock (fd 9) or the package lock (fd 8): it would hold
    # them for its whole life, and the next run would wait for it.
    run_logged "PGBOUNCER: could not start $PGBOUNCER -d $PGB_INI" \
        runuser -u postgres -- "$PGBOUNCER" -d "$PGB_INI" 8>&- 9>&-
    wait_port PGBOUNCER "$PGB_PORT" "$PGB_LOG"
}

verify_pgbouncer() {
    local direct through version
    LOG_HINT=$PGB_LOG
    direct=$(runuser -u postgres -- psql -X -At -h 127.0.0.1 -p 5432 -d postgres -c 'SELECT version()') \
        || die "PGBOUNCER: PG_MAIN does not answer SELECT version()"
    through=$(runuser -u postgres -- psql -X -At -h 127.0.0.1 -p "$PGB_PORT" -d postgres -c 'SELECT version()') \
        || die "PGBOUNCER: SELECT version() through 127.0.0.1:$PGB_PORT failed"
    [[ $through == "$direct" ]] || die "PGBOUNCER: answers '$through', PG_MAIN '$direct'"
    version=$("$PGBOUNCER" --version | head -n 1)
    SUMMARY+=("PGBOUNCER     127.0.0.1:$PGB_PORT  $version in front of PG_MAIN (session pooling, trust for postgres); SELECT version() through it matches PG_MAIN's")
}
