# shellcheck shell=bash
# Part of scripts/test-databases (sourced, not run), run by the PostgreSQL part once PG_MAIN is up:
#
#   PGBOUNCER       Debian's pgbouncer in front of PG_MAIN, session pooling,
#                   trust for the user postgres (as PG_MAIN itself)
#   PGBOUNCER_CERT  the same, but clients must use TLS (the test CA's server certificate) and
#                   present a certificate of the test CA (client_tls_sslmode = verify-full):
#                   without one, the TLS connection is refused with the certificate_required alert
#
# (Their addresses: tests/servers.env.)
#
# A pooler answers the start-up and forwards the queries: the tests through PGBOUNCER show that a
# real PostgreSQL behind one is still reported as itself, and PGBOUNCER_CERT is a real server
# that demands a client certificate at the TLS level (drivers/tests/postgres.rs). Each instance
# has its own files, pid and log under $PGB_DIR/NAME; the machine's pgbouncer service is never
# started or changed.

readonly PGBOUNCER=/usr/sbin/pgbouncer
readonly PGB_DIR=$BASE/pgbouncer

# pgb_running NAME: the instance's pid file names a live pgbouncer.
pgb_running() {
    local pid pidfile=$PGB_DIR/$1/pgbouncer.pid
    [[ -r $pidfile ]] && read -r pid <"$pidfile" && [[ $pid =~ ^[0-9]+$ ]] || return 1
    [[ /proc/$pid/exe -ef $PGBOUNCER ]]
}

# ensure_pgbouncer_instance NAME LABEL PORT EXTRA-SETTINGS
ensure_pgbouncer_instance() {
    local name=$1 label=$2 port=$3 extra=$4 dir=$PGB_DIR/$1
    LOG_HINT=$dir/pgbouncer.log
    install -d -o postgres -g postgres -m 0750 "$dir"
    CHANGED=0
    write_file "$dir/pgbouncer.ini" postgres:postgres 0640 <<END
[databases]
* = host=127.0.0.1 port=$PG_MAIN_PORT

[pgbouncer]
listen_addr = 127.0.0.1
listen_port = $port
unix_socket_dir =
auth_type = trust
auth_file = $dir/userlist.txt
pool_mode = session
logfile = $dir/pgbouncer.log
pidfile = $dir/pgbouncer.pid
$extra
END
    write_file "$dir/userlist.txt" postgres:postgres 0640 <<<'"postgres" ""'
    if pgb_running "$name"; then
        (( CHANGED )) || return 0
        say "$label: configuration changed; restarting it"
        kill "$(<"$dir/pgbouncer.pid")"
        local deadline=$((SECONDS + WAIT_SECONDS))
        while pgb_running "$name"; do
            (( SECONDS < deadline )) || die "$label: did not stop after ${WAIT_SECONDS}s"
            sleep 0.1
        done
    fi
    # The daemon must not inherit the run's lock (fd 9) or the package lock (fd 8): it would hold
    # them for its whole life, and the next run would wait for it.
    run_logged "$label: could not start $PGBOUNCER -d $dir/pgbouncer.ini" \
        runuser -u postgres -- "$PGBOUNCER" -d "$dir/pgbouncer.ini" 8>&- 9>&-
    wait_port "$label" "$port" "$LOG_HINT"
}

ensure_pgbouncer() {
    ensure_packages PGBOUNCER "$PGBOUNCER" pgbouncer
    # The one instance of an earlier layout ($PGB_DIR/pgbouncer.pid) holds PGBOUNCER's port.
    local old pid
    old=$PGB_DIR/pgbouncer.pid
    if [[ -r $old ]] && read -r pid <"$old" && [[ $pid =~ ^[0-9]+$ && /proc/$pid/exe -ef $PGBOUNCER ]]; then
        say "PGBOUNCER: stopping the instance of the earlier layout (pid $pid)"
        kill "$pid"
        local deadline=$((SECONDS + WAIT_SECONDS))
        while [[ -e /proc/$pid ]]; do
            (( SECONDS < deadline )) || die "PGBOUNCER: the earlier instance (pid $pid) did not stop"
            sleep 0.1
        done
    fi
    rm -f "$old" "$PGB_DIR/pgbouncer.ini" "$PGB_DIR/userlist.txt"
    ensure_pgbouncer_instance pgbouncer PGBOUNCER "$PGB_PORT" ""
    local tls=$PGB_DIR/pgbouncer_cert/tls
    install -d -o postgres -g postgres -m 0750 "$PGB_DIR/pgbouncer_cert" "$tls"
    sync_file "$SERVER_PEM" "$tls/server.crt" postgres:postgres 0644
    sync_file "$SERVER_KEY" "$tls/server.key" postgres:postgres 0600
    sync_file "$CA_PEM" "$tls/ca.crt" postgres:postgres 0644
    ensure_pgbouncer_instance pgbouncer_cert PGBOUNCER_CERT "$PGB_CERT_PORT" "client_tls_sslmode = verify-full
client_tls_cert_file = $tls/server.crt
client_tls_key_file = $tls/server.key
client_tls_ca_file = $tls/ca.crt"
}

verify_pgbouncer() {
    local direct through version out
    LOG_HINT=$PGB_DIR/pgbouncer/pgbouncer.log
    direct=$(runuser -u postgres -- psql -X -At -h 127.0.0.1 -p "$PG_MAIN_PORT" -d postgres -c 'SELECT version()') \
        || die "PGBOUNCER: PG_MAIN does not answer SELECT version()"
    through=$(runuser -u postgres -- psql -X -At -h 127.0.0.1 -p "$PGB_PORT" -d postgres -c 'SELECT version()') \
        || die "PGBOUNCER: SELECT version() through 127.0.0.1:$PGB_PORT failed"
    [[ $through == "$direct" ]] || die "PGBOUNCER: answers '$through', PG_MAIN '$direct'"
    version=$("$PGBOUNCER" --version | head -n 1)
    SUMMARY+=("PGBOUNCER     127.0.0.1:$PGB_PORT  $version in front of PG_MAIN (session pooling, trust for postgres); SELECT version() through it matches PG_MAIN's")

    LOG_HINT=$PGB_DIR/pgbouncer_cert/pgbouncer.log
    if out=$(PGSSLMODE=verify-full PGSSLROOTCERT=$CA_PEM PGCONNECT_TIMEOUT=10 \
        psql -X -w -At -h 127.0.0.1 -p "$PGB_CERT_PORT" -U postgres -d postgres -c 'SELECT 1' 2>&1); then
        die "PGBOUNCER_CERT: a TLS login without a client certificate was accepted"
    fi
    [[ $out == *"certificate required"* ]] \
        || die "PGBOUNCER_CERT: a login without a client certificate failed, but not with the certificate_required alert: $out"
    SUMMARY+=("PGBOUNCER_CERT 127.0.0.1:$PGB_CERT_PORT pgbouncer with client_tls_sslmode=verify-full; a TLS login without a client certificate refused (alert certificate required)")
}
