# shellcheck shell=bash
# Part of scripts/test-databases (sourced, not run): the four OpenSSH servers of the SSH-tunnel
# tests (SSH_BASTION, SSH_JUMP, SSH_NOFORWARD, SSH_PASSWORD_SERVER in tests/servers.env), their
# login user, host and client keys, and one check per server.
#
# Each is its own /usr/sbin/sshd (Debian's openssh-server) with its own configuration, ed25519 host
# key, pid file and log under $SSH_DIR/NAME; the machine's own ssh service is never started or
# changed. What the tests read from $SSH_DIR: NAME.fingerprint (the host key's SHA256:…, to pin),
# known_hosts_NAME (bench/src/cmd/ssh.rs), and the client keys client/id_* with their .pub, whose
# public halves the servers accept.

readonly SSHD=/usr/sbin/sshd
readonly SSH_DIR=$JACKAL_TEST_SSH_DIR
readonly SSH_CLIENT_DIR=$SSH_DIR/client SSH_HOSTKEY_DIR=$SSH_DIR/hostkeys
readonly SSH_HOME=$SSH_DIR/home
readonly SSH_AUTHORIZED_KEYS=$SSH_HOME/.ssh/authorized_keys
readonly SSH_USER=$JACKAL_TEST_SSH_USER SSH_USER_PASSWORD=$JACKAL_TEST_SSH_PASSWORD
readonly SSH_KEY_PASSPHRASE=$JACKAL_TEST_SSH_KEY_PASSPHRASE
# NAME LABEL (its address: JACKAL_TEST_LABEL) AUTH(publickey|password) FORWARDING(yes|no)
readonly SSH_INSTANCES=(
    "bastion SSH_BASTION publickey yes"
    "jump SSH_JUMP publickey yes"
    "noforward SSH_NOFORWARD publickey no"
    "password SSH_PASSWORD_SERVER password yes"
)
# ssh_port LABEL: the port of that server in tests/servers.env.
ssh_port() {
    local address=JACKAL_TEST_$1
    echo "${!address##*:}"
}
SSH_PORTS=()
for spec in "${SSH_INSTANCES[@]}"; do
    read -r _ label _ <<<"$spec"
    SSH_PORTS+=("$(ssh_port "$label")")
done
readonly SSH_PORTS   # (used by scripts/test-databases)
# The client keys, one of each kind the tests log in with:
# FILE TYPE BITS FORMAT(-m, or - for OpenSSH's own) FIRST-LINE(-----BEGIN X PRIVATE KEY-----: X,
# or - for none) PASSPHRASE(- for none)
readonly SSH_CLIENT_KEYS=(
    "id_ed25519 ed25519 256 - OPENSSH -"
    "id_ecdsa ecdsa 256 - OPENSSH -"
    "id_rsa rsa 3072 PEM RSA -"
    "id_rsa_pkcs8 rsa 2048 PKCS8 - -"
    "id_ed25519_pass ed25519 256 - OPENSSH $SSH_KEY_PASSPHRASE"
)

# --- keys and files ------------------------------------------------------------------------------
KEY_FINGERPRINT=""
# key_ok FILE TYPE BITS FIRST-LINE: FILE is a private key of that format and FILE.pub a public key
# of that type and size; sets KEY_FINGERPRINT.
key_ok() {
    local file=$1 type=$2 bits=$3 first=$4 line listed header="-----BEGIN PRIVATE KEY-----"
    [[ $first == - ]] || header="-----BEGIN $first PRIVATE KEY-----"
    [[ -s $file && -s $file.pub ]] || return 1
    IFS= read -r line <"$file" && [[ $line == "$header" ]] || return 1
    listed=$(ssh-keygen -l -f "$file.pub" 2>/dev/null) || return 1
    [[ $listed =~ ^$bits\ (SHA256:[^ ]+)\ .*\(${type^^}\)$ ]] || return 1
    KEY_FINGERPRINT=${BASH_REMATCH[1]}
}

# ensure_key FILE TYPE BITS FORMAT FIRST-LINE PASSPHRASE COMMENT: generated once and kept; made
# again (CHANGED=1) only when missing or not of that kind.
ensure_key() {
    local file=$1 type=$2 bits=$3 format=$4 first=$5 pass=$6 comment=$7
    key_ok "$file" "$type" "$bits" "$first" && return 0
    local args=(-q -t "$type" -b "$bits" -N "$pass" -C "$comment" -f "$file")
    if [[ $format != - ]]; then args+=(-m "$format"); fi
    say "SSH: generating $type key $file"
    rm -f "$file" "$file.pub"
    run_logged "SSH: ssh-keygen for $file" ssh-keygen "${args[@]}"
    key_ok "$file" "$type" "$bits" "$first" || die "SSH: ssh-keygen made $file, but not as expected"
    CHANGED=1
}

ensure_ssh_files() {
    ensure_packages SSH "$SSHD /usr/bin/ssh /usr/bin/ssh-keygen /usr/bin/sshpass" \
        openssh-server openssh-client sshpass
    local spec dirs=("$SSH_DIR" "$SSH_CLIENT_DIR")
    for spec in "${SSH_INSTANCES[@]}"; do dirs+=("$SSH_DIR/${spec%% *}"); done
    install -d -m 0755 "${dirs[@]}"
    install -d -m 0700 "$SSH_HOSTKEY_DIR"
    # The privilege separation directory (on tmpfs: gone after a reboot).
    install -d -m 0755 /run/sshd

    # The login user: no PAM, so sshd checks the hash in /etc/shadow (re-set on every run). Its
    # home is its own, .ssh and authorized_keys root's: StrictModes accepts both.
    if ! getent passwd "$SSH_USER" >/dev/null; then
        say "SSH: creating the login user $SSH_USER"
        run_logged "SSH: useradd $SSH_USER" useradd --system --user-group --no-create-home \
            --home-dir "$SSH_HOME" --shell /bin/bash --comment "Jackal SSH tunnel tests" "$SSH_USER"
    fi
    printf '%s:%s\n' "$SSH_USER" "$SSH_USER_PASSWORD" | chpasswd || die "SSH: chpasswd for $SSH_USER failed"
    install -d -o "$SSH_USER" -g "$SSH_USER" -m 0755 "$SSH_HOME"
    install -d -o root -g root -m 0755 "$SSH_HOME/.ssh"

    local file type bits format first pass line authorized
    authorized="# Written by scripts/test-databases (SSH); changes are overwritten."$'\n'
    for spec in "${SSH_CLIENT_KEYS[@]}"; do
        read -r file type bits format first pass <<<"$spec"
        [[ $pass != - ]] || pass=""
        file=$SSH_CLIENT_DIR/$file
        ensure_key "$file" "$type" "$bits" "$format" "$first" "$pass" "jackal-test-client-${file##*/}"
        # Test material, read by the (non-root) test process.
        chmod 0644 "$file" "$file.pub"
        IFS= read -r line <"$file.pub"
        authorized+=$line$'\n'
    done
    printf '%s' "$authorized" | write_file "$SSH_AUTHORIZED_KEYS" root:root 0644
}

# --- the servers ---------------------------------------------------------------------------------
SSHD_PID=""
# sshd_running NAME: a live sshd started with NAME's configuration is named by its pid file; sets
# SSHD_PID.
sshd_running() {
    local pid argv
    SSHD_PID=""
    [[ -r $SSH_DIR/$1/sshd.pid ]] && read -r pid <"$SSH_DIR/$1/sshd.pid" || return 1
    [[ $pid =~ ^[0-9]+$ ]] || return 1
    # (The listener rewrites its title, keeping the command line in it.)
    mapfile -d '' -t argv <"/proc/$pid/cmdline" 2>/dev/null || return 1
    [[ " ${argv[*]} " == *" -f $SSH_DIR/$1/sshd_config "* ]] || return 1
    SSHD_PID=$pid
}

# sshd_stop LABEL NAME: stops the listener only; sessions (its children) go on to their end.
sshd_stop() {
    sshd_running "$2" || return 0
    start-stop-daemon --stop --quiet --oknodo --pid "$SSHD_PID" --retry TERM/10/KILL/5 \
        || die "$1: could not stop sshd (pid $SSHD_PID)" "$SSH_DIR/$2/sshd.log"
}

# pid_alive PIDFILE: the process it names exists and has not ended (is no zombie).
pid_alive() {
    local pid state
    read -r pid <"$1" 2>/dev/null && [[ $pid =~ ^[0-9]+$ ]] || return 1
    read -r _ _ state _ <"/proc/$pid/stat" 2>/dev/null && [[ $state != Z ]]
}

# sshd_start LABEL NAME PORT
sshd_start() {
    local label=$1 name=$2 port=$3 dir=$SSH_DIR/$2
    local config=$dir/sshd_config log=$dir/sshd.log spawned=$dir/sshd.spawned.pid deadline
    run_logged "$label: sshd -t rejects $config" "$SSHD" -t -f "$config"
    # Keep the log (LogLevel VERBOSE, lines for every test connection) from growing without end.
    if [[ -f $log ]] && (( $(stat -c %s "$log") > 20 * 1024 * 1024 )); then mv -f "$log" "$log.1"; fi
    rm -f "$dir/sshd.pid" "$spawned"
    # A daemonizing sshd forks before it binds, so it reports no failure to bind: run it with -D
    # in a session of its own instead, its pid noted in $spawned, and watch that it lives until it
    # has written its PidFile (once it listens).
    start-stop-daemon --start --quiet --background --make-pidfile --pidfile "$spawned" \
        --exec "$SSHD" -- -D -f "$config" -E "$log" 9>&- \
        || die "$label: start-stop-daemon could not start sshd" "$log"
    deadline=$((SECONDS + WAIT_SECONDS))
    until sshd_running "$name" && port_open "$port"; do
        if [[ -s $spawned ]] && ! pid_alive "$spawned"; then
            die "$label: sshd ended right after its start (is 127.0.0.1:$port taken? see its log)" "$log"
        fi
        (( SECONDS < deadline )) || die "$label: sshd does not accept TCP on 127.0.0.1:$port after ${WAIT_SECONDS}s" "$log"
        sleep 0.1
    done
}

# ensure_sshd_instance NAME LABEL AUTH FORWARDING
ensure_sshd_instance() {
    local name=$1 label=$2 auth=$3 forwarding=$4 port dir=$SSH_DIR/$1
    local hostkey=$SSH_HOSTKEY_DIR/${1}_ed25519 config=$SSH_DIR/$1/sshd_config
    port=$(ssh_port "$label")
    LOG_HINT=$dir/sshd.log

    CHANGED=0
    ensure_key "$hostkey" ed25519 256 - OPENSSH "" "jackal-test-$name-host-key"
    local fingerprint=$KEY_FINGERPRINT pubkey_auth=yes password_auth=no
    if [[ $auth == password ]]; then pubkey_auth=no password_auth=yes; fi
    write_file "$config" root:root 0644 <<END
# Written by scripts/test-databases ($label); changes are overwritten.
# Runs as: $SSHD -D -f $config -E $LOG_HINT (started by start-stop-daemon --background)
ListenAddress 127.0.0.1:$port
AddressFamily inet
HostKey $hostkey
PidFile $dir/sshd.pid
LogLevel VERBOSE
UseDNS no

UsePAM no
PermitRootLogin no
AllowUsers $SSH_USER
StrictModes yes
AuthorizedKeysFile $SSH_AUTHORIZED_KEYS
PubkeyAuthentication $pubkey_auth
PasswordAuthentication $password_auth
PermitEmptyPasswords no
KbdInteractiveAuthentication no
HostbasedAuthentication no
GSSAPIAuthentication no
LoginGraceTime 60

AllowTcpForwarding $forwarding
PermitOpen any
GatewayPorts no
AllowAgentForwarding no
AllowStreamLocalForwarding no
PermitTunnel no
X11Forwarding no
PermitTTY no
PermitUserRC no
PrintMotd no
PrintLastLog no

# Many tests at once.
MaxStartups 200:30:400
MaxSessions 100
END

    local why=""
    if sshd_running "$name"; then
        if (( CHANGED )); then why="configuration or host key changed"
        elif [[ ! /proc/$SSHD_PID/exe -ef $SSHD ]]; then why="sshd (pid $SSHD_PID) runs a replaced binary"
        elif ! port_open "$port"; then why="sshd (pid $SSHD_PID) does not accept TCP on 127.0.0.1:$port"
        fi
    fi
    if [[ -n $why ]]; then
        say "$label: $why; restarting sshd"
        sshd_stop "$label" "$name"
    fi
    if ! sshd_running "$name"; then
        say "$label: starting sshd on 127.0.0.1:$port"
        sshd_start "$label" "$name" "$port"
    fi

    # For the tests to pin.
    local key_type key_blob
    read -r key_type key_blob _ <"$hostkey.pub"
    write_file "$SSH_DIR/$name.fingerprint" root:root 0644 <<<"$fingerprint"
    write_file "$SSH_DIR/known_hosts_$name" root:root 0644 <<<"[127.0.0.1]:$port $key_type $key_blob"
}

# --- checks --------------------------------------------------------------------------------------
# One real OpenSSH client connection per server, showing what its tests rely on: a login, and a
# channel to MariaDB (PG_MAIN's and MARIADB_PLAIN's ports are what the tests tunnel to) opened or
# refused. The tests themselves cover each key type and each failure. They run at once, each with
# its exit status, stdout and `ssh -v` log kept in $SSH_VERIFY/NAME.{rc,out,err}.
SSH_VERIFY=""
SSH_JOBS=()

# ssh_job NAME COMMAND...: starts COMMAND (bounded, without the caller's agent) in the background.
ssh_job() {
    local job=$1
    shift
    {
        local rc=0
        env -u SSH_AUTH_SOCK timeout 20 "$@" </dev/null >"$SSH_VERIFY/$job.out" 2>"$SSH_VERIFY/$job.err" || rc=$?
        echo "$rc" >"$SSH_VERIFY/$job.rc"
    } &
    SSH_JOBS+=("$!")
}

# job_failure LABEL NAME WHAT: dies, showing the end of the client's log.
job_failure() {
    grep -v '^debug' "$SSH_VERIFY/$2.err" | tail -n 15 | sed 's/^/  | /' >&2 || true
    die "$1: $3 (ssh exit status $(cat "$SSH_VERIFY/$2.rc"); its messages above)"
}
# job_logins NAME: how many times the client authenticated (once per host on the way).
job_logins() { grep -c '^Authenticated to 127\.0\.0\.1 ' "$SSH_VERIFY/$1.err" || true; }
# expect_mariadb LABEL NAME [LOGINS]: the job logged in LOGINS (1) times and MariaDB's greeting came back.
expect_mariadb() {
    local logins=${3:-1}
    [[ $(cat "$SSH_VERIFY/$2.rc") == 0 && $(job_logins "$2") == "$logins" ]] \
        || job_failure "$1" "$2" "$logins login(s) with ssh -W to MARIADB_PLAIN failed"
    grep -aqi mariadb "$SSH_VERIFY/$2.out" \
        || job_failure "$1" "$2" "ssh -W 127.0.0.1:$MY_MAIN_PORT did not bring MariaDB's greeting"
}

verify_sshd() {
    SSH_VERIFY=$(mktemp -d "$TMP/ssh-verify.XXXXXX")
    local key=$SSH_VERIFY/id_ed25519 config=$SSH_VERIFY/ssh_config target=127.0.0.1:$MY_MAIN_PORT
    local spec name label auth forwarding
    # A copy with mode 0600: the OpenSSH client refuses our 0644 keys as root.
    install -m 0600 "$SSH_CLIENT_DIR/id_ed25519" "$key"
    # Each server by its NAME, pinned to its host key (ssh -J reads this file for the jump too). The
    # key exchange is curve25519: the default sntrup761 hybrid costs ~0.1 s of CPU per connection.
    {
        for spec in "${SSH_INSTANCES[@]}"; do
            read -r name label _ <<<"$spec"
            printf 'Host %s\n    Port %s\n    UserKnownHostsFile %s\n' \
                "$name" "$(ssh_port "$label")" "$SSH_DIR/known_hosts_$name"
        done
        cat <<END
Host *
    HostName 127.0.0.1
    User $SSH_USER
    IdentityFile $key
    IdentitiesOnly yes
    GlobalKnownHostsFile /dev/null
    StrictHostKeyChecking yes
    BatchMode yes
    ConnectTimeout 5
    KexAlgorithms curve25519-sha256
END
    } >"$config"
    # The channels reach MariaDB, which the other part starts.
    wait_port MARIADB_PLAIN "$MY_MAIN_PORT" "$MY_MAIN_LOG"

    local ssh=(ssh -v -F "$config")
    SSH_JOBS=()
    ssh_job bastion "${ssh[@]}" -W "$target" bastion
    ssh_job jump "${ssh[@]}" -J jump -W "$target" bastion
    ssh_job noforward "${ssh[@]}" -W "$target" noforward
    ssh_job password env SSHPASS="$SSH_USER_PASSWORD" sshpass -e "${ssh[@]}" -o BatchMode=no \
        -o PubkeyAuthentication=no -o PreferredAuthentications=password -o NumberOfPasswordPrompts=1 \
        -W "$target" password
    wait "${SSH_JOBS[@]}"

    LOG_HINT=$SSH_DIR/bastion/sshd.log
    expect_mariadb SSH_BASTION bastion
    LOG_HINT=$SSH_DIR/jump/sshd.log
    expect_mariadb SSH_JUMP jump 2
    LOG_HINT=$SSH_DIR/noforward/sshd.log
    if [[ $(job_logins noforward) != 1 || $(cat "$SSH_VERIFY/noforward.rc") == 0 ]] \
        || ! grep -q "administratively prohibited" "$SSH_VERIFY/noforward.err"; then
        job_failure SSH_NOFORWARD noforward "the login failed, or ssh -W was not refused as 'administratively prohibited'"
    fi
    LOG_HINT=$SSH_DIR/password/sshd.log
    expect_mariadb SSH_PASSWORD_SERVER password

    local server what
    for spec in "${SSH_INSTANCES[@]}"; do
        read -r name label auth forwarding <<<"$spec"
        # (A client with a terminal, as under sshpass, ends its log lines with \r\n.)
        server=$(tr -d '\r' <"$SSH_VERIFY/$name.err" \
            | sed -n 's/^debug1: Remote protocol version 2\.0, remote software version //p' | head -n 1)
        case $name in
            bastion) what="-W to MARIADB_PLAIN ok" ;;
            jump) what="ssh -J through it to SSH_BASTION and -W to MARIADB_PLAIN ok" ;;
            noforward) what="login ok, ssh -W refused (administratively prohibited)" ;;
            password) what="$SSH_USER's password ok, with -W to MARIADB_PLAIN" ;;
        esac
        SUMMARY+=("$(printf '%-20s%-17s%s, ed25519 host key %s; %s only; %s' "$label" \
            "127.0.0.1:$(ssh_port "$label")" "$server" "$(<"$SSH_DIR/$name.fingerprint")" "$auth" "$what")")
    done
}

prepare_sshd() {
    LOG_HINT=""
    ensure_ssh_files
    local spec
    for spec in "${SSH_INSTANCES[@]}"; do
        # shellcheck disable=SC2086  # NAME LABEL AUTH FORWARDING
        ensure_sshd_instance $spec
    done
    verify_sshd
}
