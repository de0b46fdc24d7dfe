# shellcheck shell=bash
# Part of scripts/test-databases (sourced, not run): the two MariaDB servers, the test user and their checks.

my_main_root() { mariadb --no-defaults --protocol=TCP -h127.0.0.1 -P"$MY_MAIN_PORT" -uroot "$@"; }
my_tls_root() { mariadb --no-defaults --protocol=SOCKET --socket="$MY_TLS_SOCK" -uroot "$@"; }

# Prints the pid of our second mariadbd if it is running (its pid file names a live mariadbd
# started with our defaults file).
my_tls_pid() {
    local pid
    [[ -r $MY_TLS_PID ]] || return 1
    pid=$(<"$MY_TLS_PID")
    [[ $pid =~ ^[0-9]+$ ]] || return 1
    [[ -r /proc/$pid/cmdline ]] || return 1
    tr '\0' ' ' <"/proc/$pid/cmdline" | grep -qF -- "--defaults-file=$MY_TLS_CNF" || return 1
    echo "$pid"
}

my_tls_stop() {
    local pid
    pid=$(my_tls_pid) || return 0
    start-stop-daemon --stop --quiet --oknodo --pid "$pid" --exec "$MARIADBD" --retry TERM/60/KILL/5 \
        || die "MARIADB_TLS: could not stop mariadbd (pid $pid)" "$MY_TLS_LOG"
}

my_tls_start() {
    local pid
    if ! pid=$(my_tls_pid); then
        rm -f "$MY_TLS_PID"
        start-stop-daemon --start --oknodo --background --pidfile "$MY_TLS_PID" --exec "$MARIADBD" \
            -- --defaults-file="$MY_TLS_CNF" 9>&- \
            || die "MARIADB_TLS: start-stop-daemon failed" "$MY_TLS_LOG"
    fi
    wait_port MARIADB_TLS "$MY_TLS_PORT" "$MY_TLS_LOG"
}

ensure_mariadb_main() {
    LOG_HINT=$MY_MAIN_LOG
    if ! port_open "$MY_MAIN_PORT"; then
        # start-stop-daemon --exec matches ANY /usr/sbin/mariadbd, so our second instance would make
        # it believe the main one is running: stop ours first (it is started again later).
        if my_tls_pid >/dev/null; then
            say "MARIADB_PLAIN: down; stopping MARIADB_TLS first so that start-stop-daemon does not mistake it for the main server"
            my_tls_stop
        fi
        say "MARIADB_PLAIN: the machine's mariadbd is down; starting it"
        install -d -o mysql -g mysql -m 0755 /run/mysqld
        start-stop-daemon --start --oknodo --background --exec /usr/sbin/mariadbd 9>&- \
            || die "could not start the machine's mariadbd"
    fi
    wait_port MARIADB_PLAIN "$MY_MAIN_PORT" "$LOG_HINT"
}

ensure_mariadb_tls() {
    LOG_HINT=$MY_TLS_LOG
    install -d -o mysql -g mysql -m 0755 "$MY_TLS_RUN"
    install -d -o mysql -g mysql -m 0700 "$MY_TLS_SSL"
    CHANGED=0
    sync_file "$CA_PEM" "$MY_TLS_SSL/ca.pem" mysql:mysql 0644
    sync_file "$SERVER_PEM" "$MY_TLS_SSL/server.pem" mysql:mysql 0644
    sync_file "$SERVER_KEY" "$MY_TLS_SSL/server-key.pem" mysql:mysql 0600
    write_file "$MY_TLS_CNF" root:root 0644 <<EOF
# Written by scripts/test-databases (MARIADB_TLS); changes are overwritten.
[mysqld]
user = mysql
basedir = /usr
datadir = $MY_TLS_DATADIR
socket = $MY_TLS_SOCK
pid-file = $MY_TLS_PID
log-error = $MY_TLS_LOG
port = $MY_TLS_PORT
bind-address = 127.0.0.1
skip-name-resolve
innodb_buffer_pool_size = 16M
performance_schema = OFF
character-set-server = utf8mb4
collation-server = utf8mb4_general_ci
ssl_ca = $MY_TLS_SSL/ca.pem
ssl_cert = $MY_TLS_SSL/server.pem
ssl_key = $MY_TLS_SSL/server-key.pem
require_secure_transport = OFF

[client]
socket = $MY_TLS_SOCK
port = $MY_TLS_PORT
EOF

    if [[ ! -f $MY_TLS_INITIALIZED ]]; then
        my_tls_stop
        say "MARIADB_TLS: initializing datadir $MY_TLS_DATADIR"
        rm -rf "$MY_TLS_DATADIR"
        install -d -o mysql -g mysql -m 0750 "$MY_TLS_DATADIR"
        run_logged "MARIADB_TLS: mariadb-install-db" \
            mariadb-install-db --defaults-file="$MY_TLS_CNF" --user=mysql --datadir="$MY_TLS_DATADIR" \
            --skip-test-db --auth-root-authentication-method=socket
        touch "$MY_TLS_INITIALIZED"
    fi

    if (( CHANGED )) && my_tls_pid >/dev/null; then
        say "MARIADB_TLS: configuration or certificates changed; restarting"
        my_tls_stop
    fi
    if ! my_tls_pid >/dev/null; then
        say "MARIADB_TLS: starting mariadbd on 127.0.0.1:$MY_TLS_PORT"
    fi
    my_tls_start

    local want="$MY_TLS_PORT|127.0.0.1|YES|$MY_TLS_DATADIR/|16777216|OFF|OFF|ON" got query
    query="SELECT CONCAT_WS('|', @@port, @@bind_address, @@have_ssl, @@datadir,
        @@innodb_buffer_pool_size, @@performance_schema, @@require_secure_transport, @@skip_name_resolve)"
    got=$(my_tls_root -N -B -e "$query") || die "MARIADB_TLS: cannot query the server as root"
    if [[ $got != "$want" ]]; then
        say "MARIADB_TLS: live settings are '$got', want '$want'; restarting"
        my_tls_stop
        my_tls_start
        got=$(my_tls_root -N -B -e "$query") || die "MARIADB_TLS: cannot query the server as root"
        [[ $got == "$want" ]] || die "MARIADB_TLS: live settings are still '$got' (want '$want')"
    fi
}

MY_USER_SQL="
CREATE DATABASE IF NOT EXISTS \`$DB_NAME\` CHARACTER SET utf8mb4;"
for host in 127.0.0.1 localhost ::1; do
    MY_USER_SQL+="
CREATE USER IF NOT EXISTS '$DB_USER'@'$host' IDENTIFIED BY '$DB_PASSWORD';
ALTER USER '$DB_USER'@'$host' IDENTIFIED BY '$DB_PASSWORD' ACCOUNT UNLOCK;
GRANT ALL PRIVILEGES ON \`$DB_NAME\`.* TO '$DB_USER'@'$host';"
done
# The account of the mutual-TLS tests: its password, and a client certificate of the test CA
# whose subject is the test user's (scripts/test-certs: client-*.pem). Useless on the plain server.
MY_USER_SQL+="
CREATE USER IF NOT EXISTS '$MY_CERT_USER'@'127.0.0.1' IDENTIFIED BY '$DB_PASSWORD';
ALTER USER '$MY_CERT_USER'@'127.0.0.1' IDENTIFIED BY '$DB_PASSWORD'
    REQUIRE SUBJECT '/CN=$DB_USER' AND ISSUER '/CN=Jackal test CA' ACCOUNT UNLOCK;
GRANT ALL PRIVILEGES ON \`$DB_NAME\`.* TO '$MY_CERT_USER'@'127.0.0.1';"

# my_try PORT PASSWORD [CLIENT-ARGS...] -- runs over TCP as the test user; prints result or error.
my_try() {
    local port=$1 password=$2
    shift 2
    mariadb --no-defaults --protocol=TCP -h127.0.0.1 -P"$port" -u"$DB_USER" -p"$password" \
        --connect-timeout=10 -N -B "$DB_NAME" "$@" 2>&1
}

# my_expect_refused LABEL PORT
my_expect_refused() {
    local out
    if out=$(my_try "$2" wrong-password -e 'SELECT 1'); then
        die "$1: a wrong password was accepted"
    fi
    [[ $out == *"Access denied"* ]] || die "$1: a wrong password failed, but not with 'Access denied': $out"
}

verify_mariadb() {
    local out ssl version
    LOG_HINT=$MY_MAIN_LOG
    out=$(my_try "$MY_MAIN_PORT" "$DB_PASSWORD" -e "SELECT CONCAT('MariaDB ', VERSION(), ' have_ssl=', @@have_ssl)") \
        || die "MARIADB_PLAIN: test user cannot log in: $out"
    my_expect_refused MARIADB_PLAIN "$MY_MAIN_PORT"
    SUMMARY+=("MARIADB_PLAIN 127.0.0.1:$MY_MAIN_PORT   $out (TLS left off); wrong password refused")

    LOG_HINT=$MY_TLS_LOG
    # TLS must really be offered.
    ssl=$(mariadb -h127.0.0.1 -P"$MY_TLS_PORT" -u"$DB_USER" -p"$DB_PASSWORD" --ssl -e "SHOW STATUS LIKE 'Ssl_version'" 2>&1) \
        || die "MARIADB_TLS: TLS login failed: $ssl"
    ssl=$(awk '$1 == "Ssl_version" {print $2}' <<<"$ssl")
    [[ $ssl == TLS* ]] || die "MARIADB_TLS: no TLS version reported (Ssl_version='$ssl')"
    # And the certificate chains to the test CA and matches 127.0.0.1.
    out=$(my_try "$MY_TLS_PORT" "$DB_PASSWORD" --ssl --ssl-ca="$CA_PEM" --ssl-verify-server-cert \
        -e "SHOW STATUS LIKE 'Ssl_version'") \
        || die "MARIADB_TLS: TLS login verifying the server certificate against $CA_PEM failed: $out"
    version=$(my_try "$MY_TLS_PORT" "$DB_PASSWORD" -e "SELECT CONCAT('MariaDB ', VERSION())") \
        || die "MARIADB_TLS: plain (non-TLS) login failed: $version"
    my_expect_refused MARIADB_TLS "$MY_TLS_PORT"
    # The certificate account: in with the test user's client certificate, refused without it.
    out=$(mariadb --no-defaults --protocol=TCP -h127.0.0.1 -P"$MY_TLS_PORT" -u"$MY_CERT_USER" \
        -p"$DB_PASSWORD" --ssl --ssl-ca="$CA_PEM" --ssl-cert="$TLS_DIR/client-pkcs8.pem" \
        --ssl-key="$TLS_DIR/client-pkcs8-key.pem" -N -B "$DB_NAME" -e 'SELECT CURRENT_USER()' 2>&1) \
        || die "MARIADB_TLS: $MY_CERT_USER cannot log in with the client certificate: $out"
    if out=$(mariadb --no-defaults --protocol=TCP -h127.0.0.1 -P"$MY_TLS_PORT" -u"$MY_CERT_USER" \
        -p"$DB_PASSWORD" --ssl -N -B "$DB_NAME" -e 'SELECT 1' 2>&1); then
        die "MARIADB_TLS: $MY_CERT_USER logged in without a client certificate"
    fi
    SUMMARY+=("MARIADB_TLS   127.0.0.1:$MY_TLS_PORT  $version $ssl (verified against the test CA), plain TCP also ok; wrong password refused; $MY_CERT_USER needs a client certificate (REQUIRE SUBJECT '/CN=$DB_USER')")
}

