# shellcheck shell=bash
# Part of scripts/test-databases (sourced, not run): the three PostgreSQL clusters, the test role and their checks.

pg_log() { echo "/var/log/postgresql/postgresql-$PG_VER-$1.log"; }
pg_running() { pg_ctlcluster --skip-systemctl-redirect "$PG_VER" "$1" status >/dev/null 2>&1; }
# pg_admin PORT PSQL-ARGS...: psql as the postgres superuser over the Unix socket.
pg_admin() {
    local port=$1
    shift
    runuser -u postgres -- psql -X -q -v ON_ERROR_STOP=1 -p "$port" -d postgres "$@"
}

ensure_pg_main() {
    LOG_HINT=$(pg_log main)
    if ! port_open "$PG_MAIN_PORT"; then
        if pg_running main; then
            say "PG_MAIN: cluster $PG_VER/main is running but not accepting TCP yet; waiting"
        else
            say "PG_MAIN: cluster $PG_VER/main is down; starting it"
            pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql)" main start 9>&- \
                || die "could not start PostgreSQL cluster $PG_VER/main"
        fi
    fi
    wait_port PG_MAIN "$PG_MAIN_PORT" "$LOG_HINT"
}

# ensure_pg_cluster NAME LABEL PORT SSL(on|off)
ensure_pg_cluster() {
    local name=$1 label=$2 port=$3 ssl=$4
    local etc=/etc/postgresql/$PG_VER/$name data=/var/lib/postgresql/$PG_VER/$name
    LOG_HINT=$(pg_log "$name")

    if [[ -f $etc/postgresql.conf && ! -f $data/PG_VERSION ]]; then
        say "$label: cluster $PG_VER/$name has a configuration but no data; re-creating it"
        run_logged "dropping the broken cluster $PG_VER/$name" pg_dropcluster --stop "$PG_VER" "$name"
    fi
    if [[ ! -f $etc/postgresql.conf ]]; then
        [[ ! -e $data ]] || die "$data exists but $etc does not; remove one of them by hand"
        say "$label: creating cluster $PG_VER/$name on port $port"
        run_logged "creating cluster $PG_VER/$name" \
            pg_createcluster --encoding=UTF8 --locale=C.UTF-8 -p "$port" "$PG_VER" "$name" \
            -- --auth-local=peer --auth-host=scram-sha-256
    fi

    CHANGED=0
    # SSL: off, on (TLS with the test CA's certificate), or cert (on, and the client must present
    # a certificate of the test CA: ssl_ca_file, and `hostssl … cert` in pg_hba.conf).
    local ssl_conf="ssl = off" hba_host="host    all       all       127.0.0.1/32   scram-sha-256"
    if [[ $ssl == on || $ssl == cert ]]; then
        sync_file "$SERVER_PEM" "$etc/jackal-test-server.crt" postgres:postgres 0644
        sync_file "$SERVER_KEY" "$etc/jackal-test-server.key" postgres:postgres 0600
        ssl_conf="ssl = on
ssl_cert_file = '$etc/jackal-test-server.crt'
ssl_key_file = '$etc/jackal-test-server.key'"
    fi
    if [[ $ssl == cert ]]; then
        sync_file "$CA_PEM" "$etc/jackal-test-ca.crt" postgres:postgres 0644
        ssl_conf+="
ssl_ca_file = '$etc/jackal-test-ca.crt'"
        hba_host="hostssl all       all       127.0.0.1/32   cert"
    fi
    write_file "$etc/conf.d/90-jackal-test.conf" postgres:postgres 0644 <<EOF
# Written by scripts/test-databases ($label); changes are overwritten.
port = $port
listen_addresses = '127.0.0.1'
password_encryption = 'scram-sha-256'
shared_buffers = 16MB
max_connections = 200
$ssl_conf
EOF
    write_file "$etc/pg_hba.conf" postgres:postgres 0640 <<EOF
# Written by scripts/test-databases ($label); changes are overwritten.
# TYPE  DATABASE  USER      ADDRESS        METHOD
local   all       postgres                 peer
local   all       all                      peer
$hba_host
EOF
    # conf.d must have the last word on the settings it manages: comment them out wherever else
    # postgresql.conf sets them (pg_createcluster puts port and ssl there; a later line wins).
    local managed='port|listen_addresses|password_encryption|shared_buffers|max_connections|ssl|ssl_cert_file|ssl_key_file|ssl_ca_file'
    if grep -Eq "^[[:space:]]*($managed)[[:space:]]*=" "$etc/postgresql.conf"; then
        sed -Ei "s/^([[:space:]]*($managed)[[:space:]]*=)/#(set in conf.d\/90-jackal-test.conf) \1/" "$etc/postgresql.conf"
        CHANGED=1
    fi

    if ! port_open "$port"; then
        if pg_running "$name"; then
            say "$label: restarting cluster $PG_VER/$name (running but not accepting TCP)"
            pg_ctlcluster --skip-systemctl-redirect "$PG_VER" "$name" restart 9>&- \
                || die "could not restart cluster $PG_VER/$name"
        else
            say "$label: starting cluster $PG_VER/$name"
            pg_ctlcluster --skip-systemctl-redirect "$PG_VER" "$name" start 9>&- \
                || die "could not start cluster $PG_VER/$name"
        fi
    elif (( CHANGED )); then
        say "$label: configuration changed; restarting cluster $PG_VER/$name"
        pg_ctlcluster --skip-systemctl-redirect "$PG_VER" "$name" restart 9>&- \
            || die "could not restart cluster $PG_VER/$name"
    fi
    wait_port "$label" "$port" "$LOG_HINT"

    # ALTER SYSTEM (postgresql.auto.conf) would override conf.d too.
    local key
    for key in $(grep -Eo "^[[:space:]]*($managed)[[:space:]]*=" "$data/postgresql.auto.conf" | tr -d ' \t=' || true); do
        say "$label: removing the ALTER SYSTEM override of $key"
        pg_admin "$port" -c "ALTER SYSTEM RESET $key" || die "$label: ALTER SYSTEM RESET $key failed"
    done

    # The server on the port must be this cluster, running with these settings.
    local want="$port|127.0.0.1|${ssl/cert/on}|16MB|200|scram-sha-256|$data" got query
    query="SELECT concat_ws('|', current_setting('port'), current_setting('listen_addresses'),
        current_setting('ssl'), current_setting('shared_buffers'), current_setting('max_connections'),
        current_setting('password_encryption'), current_setting('data_directory'))"
    got=$(pg_admin "$port" -At -c "$query") || die "$label: cannot query the server on port $port as postgres"
    if [[ $got != "$want" ]]; then
        say "$label: live settings are '$got', want '$want'; restarting cluster $PG_VER/$name"
        pg_ctlcluster --skip-systemctl-redirect "$PG_VER" "$name" restart 9>&- \
            || die "could not restart cluster $PG_VER/$name"
        wait_port "$label" "$port" "$LOG_HINT"
        got=$(pg_admin "$port" -At -c "$query") || die "$label: cannot query the server on port $port"
        [[ $got == "$want" ]] || die "$label: live settings are still '$got' (want '$want')"
    fi
}

# ensure_pg_role LABEL PORT: the role (password re-set) and its database.
ensure_pg_role() {
    local label=$1 port=$2
    pg_admin "$port" >/dev/null <<EOF || die "$label: could not create/update role and database $DB_NAME"
SELECT 'CREATE ROLE $DB_USER LOGIN'
 WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '$DB_USER') \gexec
ALTER ROLE $DB_USER WITH LOGIN PASSWORD '$DB_PASSWORD';
SELECT 'CREATE DATABASE $DB_NAME OWNER $DB_USER ENCODING ''UTF8'' LOCALE ''C.UTF-8'' TEMPLATE template0'
 WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = '$DB_NAME') \gexec
ALTER DATABASE $DB_NAME OWNER TO $DB_USER;
GRANT ALL PRIVILEGES ON DATABASE $DB_NAME TO $DB_USER;
\connect $DB_NAME
GRANT ALL ON SCHEMA public TO $DB_USER;
EOF
}

# pg_try PORT SSLMODE PASSWORD SQL: connects over TCP as the test user; prints the result or error.
# The test CA is given only for verify-*: libpq also checks against a given root certificate in
# the weaker modes, and with 'prefer' it silently falls back to plain TCP when that check fails.
pg_try() {
    local vars=(PGPASSFILE=/dev/null PGCONNECT_TIMEOUT=10 "PGSSLMODE=$2" "PGPASSWORD=$3")
    if [[ $2 == verify-* ]]; then vars+=("PGSSLROOTCERT=$CA_PEM"); fi
    env "${vars[@]}" psql -X -w -At -h 127.0.0.1 -p "$1" -U "$DB_USER" -d "$DB_NAME" -c "$4" 2>&1
}

# pg_expect_refused LABEL PORT SSLMODE PASSWORD PATTERN WHAT
pg_expect_refused() {
    local out
    if out=$(pg_try "$2" "$3" "$4" 'SELECT 1'); then
        die "$1: $6 was accepted (expected a refusal)"
    fi
    [[ $out == *"$5"* ]] || die "$1: $6 failed, but not with '$5': $out"
}

PG_SSL_QUERY="SELECT concat_ws(' ', 'PostgreSQL', current_setting('server_version'),
    CASE WHEN ssl THEN version ELSE 'no-TLS' END) FROM pg_stat_ssl WHERE pid = pg_backend_pid()"

verify_pg() {
    local out plain tls
    LOG_HINT=$(pg_log main)
    out=$(pg_try "$PG_MAIN_PORT" prefer "$DB_PASSWORD" "$PG_SSL_QUERY") || die "PG_MAIN: test user cannot log in: $out"
    SUMMARY+=("PG_MAIN       127.0.0.1:$PG_MAIN_PORT   $out; own cluster $PG_VER/main (auth and TLS as configured there); $DB_USER/$DB_NAME ok")

    LOG_HINT=$(pg_log jackal_tls)
    tls=$(pg_try "$PG_TLS_PORT" verify-full "$DB_PASSWORD" "$PG_SSL_QUERY") \
        || die "PG_TLS: TLS login (sslmode=verify-full, test CA) failed: $tls"
    [[ $tls == *TLS* ]] || die "PG_TLS: the connection is not encrypted: $tls"
    plain=$(pg_try "$PG_TLS_PORT" disable "$DB_PASSWORD" "$PG_SSL_QUERY") \
        || die "PG_TLS: plain (non-TLS) login failed: $plain"
    pg_expect_refused PG_TLS "$PG_TLS_PORT" prefer wrong-password "password authentication failed" "a wrong password"
    SUMMARY+=("PG_TLS        127.0.0.1:$PG_TLS_PORT  $tls (verify-full against the test CA), plain TCP also ok; scram-sha-256, wrong password refused")

    LOG_HINT=$(pg_log jackal_plain)
    plain=$(pg_try "$PG_PLAIN_PORT" disable "$DB_PASSWORD" "$PG_SSL_QUERY") \
        || die "PG_PLAIN: login failed: $plain"
    pg_expect_refused PG_PLAIN "$PG_PLAIN_PORT" require "$DB_PASSWORD" "server does not support SSL" "a client requiring TLS"
    pg_expect_refused PG_PLAIN "$PG_PLAIN_PORT" disable wrong-password "password authentication failed" "a wrong password"
    SUMMARY+=("PG_PLAIN      127.0.0.1:$PG_PLAIN_PORT  $plain; sslmode=require refused (server answers N); scram-sha-256, wrong password refused")

    LOG_HINT=$(pg_log jackal_cert)
    pg_expect_refused PG_CERT "$PG_CERT_PORT" verify-full "$DB_PASSWORD" \
        "connection requires a valid client certificate" "a TLS login without a client certificate"
    pg_expect_refused PG_CERT "$PG_CERT_PORT" disable "$DB_PASSWORD" "no encryption" "a login without TLS"
    # In with the test user's client certificate (scripts/test-certs: CN=$DB_USER, the test CA).
    out=$(PGSSLCERT=$TLS_DIR/client-pkcs8.pem PGSSLKEY=$TLS_DIR/client-pkcs8-key.pem \
        pg_try "$PG_CERT_PORT" verify-full "$DB_PASSWORD" 'SELECT current_user') \
        || die "PG_CERT: a login with the client certificate $TLS_DIR/client-pkcs8.pem failed: $out"
    [[ $out == "$DB_USER" ]] || die "PG_CERT: logged in with the client certificate as '$out', not $DB_USER"
    SUMMARY+=("PG_CERT       127.0.0.1:$PG_CERT_PORT  TLS (test CA) and a client certificate required (hostssl … cert): in with CN=$DB_USER's, refused without one, refused without TLS")
}

