# shellcheck shell=bash
# Part of scripts/test-databases (sourced, not run): four OpenSSH servers for the SSH-tunnel tests,
# their login user, host and client keys, and their checks.
#
#   SSH_BASTION    127.0.0.1:52222  public key only; TCP forwarding to anywhere
#   SSH_JUMP       127.0.0.1:52223  public key only; TCP forwarding (ProxyJump to the bastion)
#   SSH_NOFORWARD  127.0.0.1:52224  public key only; TCP forwarding refused
#   SSH_PASSWORD   127.0.0.1:52225  password only; TCP forwarding to anywhere
#
# Each is its own /usr/sbin/sshd (Debian's openssh-server) with its own configuration, ed25519 host
# key, pid file and log under $SSH_DIR; the machine's own ssh service is never started or changed.
# Login user jackal_ssh, password jackal-ssh-pw-1 (re-set on every run), accepting the public keys
# of $SSH_CLIENT_DIR (id_ed25519_pass has the passphrase jackal-key-pass-1). Each host key's public
# half is in $SSH_DIR/NAME.pub, its fingerprint in $SSH_DIR/NAME.fingerprint and a known_hosts line
# for it in $SSH_DIR/known_hosts_NAME.

readonly SSHD=/usr/sbin/sshd
readonly SSH_DIR=$BASE/ssh
readonly SSH_CLIENT_DIR=$SSH_DIR/client SSH_HOSTKEY_DIR=$SSH_DIR/hostkeys
readonly SSH_HOME=$SSH_DIR/home
readonly SSH_AUTHORIZED_KEYS=$SSH_HOME/.ssh/authorized_keys
readonly SSH_USER=jackal_ssh SSH_USER_PASSWORD=jackal-ssh-pw-1 SSH_KEY_PASSPHRASE=jackal-key-pass-1
readonly SSH_BASTION_PORT=52222 SSH_JUMP_PORT=52223 SSH_NOFORWARD_PORT=52224 SSH_PASSWORD_PORT=52225
# shellcheck disable=SC2034  # used by scripts/test-databases
readonly SSH_PORTS=("$SSH_BASTION_PORT" "$SSH_JUMP_PORT" "$SSH_NOFORWARD_PORT" "$SSH_PASSWORD_PORT")
# NAME LABEL PORT AUTH(publickey|password) FORWARDING(yes|no)
readonly SSH_INSTANCES=(
    "bastion SSH_BASTION $SSH_BASTION_PORT publickey yes"
    "jump SSH_JUMP $SSH_JUMP_PORT publickey yes"
    "noforward SSH_NOFORWARD $SSH_NOFORWARD_PORT publickey no"
    "password SSH_PASSWORD $SSH_PASSWORD_PORT password yes"
)
# The client keys: FILE TYPE BITS FORMAT(-m, or - for OpenSSH's own) FIRST-LINE PASSPHRASE(- for none)
readonly SSH_CLIENT_KEYS=(
    "id_ed25519 ed25519 256 - OPENSSH -"
    "id_ecdsa ecdsa 256 - OPENSSH -"
    "id_rsa rsa 3072 PEM RSA -"
    "id_rsa_pkcs8 rsa 2048 PKCS8 PKCS8 -"
    "id_ed25519_pass ed25519 256 - OPENSSH $SSH_KEY_PASSPHRASE"
)
# --- installation --------------------------------------------------------------------------------
# Debian's openssh-server, openssh-client and sshpass (for the password check); no service is
# started (see ensure_packages).
ensure_sshd_installed() {
    ensure_packages SSH "$SSHD /usr/bin/ssh /usr/bin/ssh-keygen /usr/bin/sshpass" \
        openssh-server openssh-client sshpass
}


# --- files and keys ------------------------------------------------------------------------------
# (Run on every start of scripts/test, so the steps below avoid needless processes.)

# atomic_file DEST MODE CONTENT: makes DEST (root's) hold CONTENT, replaced in one rename and only
# when it differs; sets CHANGED=1 when it did.
atomic_file() {
    local dst=$1 mode=$2 content=$3 tmp
    if [[ -f $dst && ! -L $dst ]] && [[ $(<"$dst") == "${content%$'\n'}" ]] \
        && [[ $(stat -c '%U:%G %a' "$dst") == "root:root ${mode#0}" ]]; then
        return 0
    fi
    tmp=$(mktemp "${dst%/*}/.${dst##*/}.XXXXXX")
    printf '%s' "$content" >"$tmp"
    chmod "$mode" "$tmp"
    mv -f "$tmp" "$dst"
    CHANGED=1
}

KEY_FINGERPRINT=""   # set by keypair_ok
# keypair_ok FILE TYPE BITS FIRST-LINE PASSPHRASE: FILE and FILE.pub are a matching pair of that
# kind (private key format by its first line: OPENSSH, RSA = PKCS#1 PEM, PKCS8 = unencrypted PKCS#8).
keypair_ok() {
    local file=$1 type=$2 bits=$3 first=$4 pass=$5 header line listed derived
    [[ -s $file && -s $file.pub ]] || return 1
    case $first in
        OPENSSH) header="-----BEGIN OPENSSH PRIVATE KEY-----" ;;
        RSA) header="-----BEGIN RSA PRIVATE KEY-----" ;;
        PKCS8) header="-----BEGIN PRIVATE KEY-----" ;;
    esac
    IFS= read -r line <"$file" && [[ $line == "$header" ]] || return 1
    listed=$(ssh-keygen -l -f "$file.pub" 2>/dev/null) || return 1
    [[ $listed =~ ^$bits\ (SHA256:[^ ]+)\ .*\(${type^^}\)$ ]] || return 1
    KEY_FINGERPRINT=${BASH_REMATCH[1]}
    # ssh-keygen refuses to read a private key of root's that others may read (our client keys).
    install -m 0600 "$file" "$TMP/key"
    derived=$(ssh-keygen -y -P "$pass" -f "$TMP/key" 2>/dev/null) || return 1
    local d_type d_blob p_type p_blob
    read -r d_type d_blob _ <<<"$derived"
    read -r p_type p_blob _ <"$file.pub"
    [[ $d_type == "$p_type" && $d_blob == "$p_blob" ]]
}

# ensure_keypair FILE TYPE BITS FORMAT FIRST-LINE PASSPHRASE COMMENT: generated once, kept after;
# made again only when missing or not of that kind. Sets CHANGED=1 when it made one.
ensure_keypair() {
    local file=$1 type=$2 bits=$3 format=$4 first=$5 pass=$6 comment=$7
    keypair_ok "$file" "$type" "$bits" "$first" "$pass" && return 0
    # Only the public half lost: derive it, so that the key stays the same.
    local derived key_type key_blob
    if [[ -s $file && ! -s $file.pub ]]; then
        install -m 0600 "$file" "$TMP/key"
        if derived=$(ssh-keygen -y -P "$pass" -f "$TMP/key" 2>/dev/null); then
            read -r key_type key_blob _ <<<"$derived"
            printf '%s %s %s\n' "$key_type" "$key_blob" "$comment" >"$file.pub"
            chmod 0644 "$file.pub"
            if keypair_ok "$file" "$type" "$bits" "$first" "$pass"; then
                say "SSH: restored $file.pub from $file"
                return 0
            fi
        fi
    fi
    local args=(-q -t "$type" -b "$bits" -N "$pass" -C "$comment" -f "$file")
    if [[ $format != - ]]; then args+=(-m "$format"); fi
    say "SSH: generating $type key $file"
    rm -f "$file" "$file.pub"
    run_logged "SSH: ssh-keygen for $file" ssh-keygen "${args[@]}"
    keypair_ok "$file" "$type" "$bits" "$first" "$pass" || die "SSH: ssh-keygen made $file, but not as expected"
    CHANGED=1
}

ensure_ssh_dirs() {
    local dirs=("$SSH_DIR" "$SSH_CLIENT_DIR") spec
    for spec in "${SSH_INSTANCES[@]}"; do dirs+=("$SSH_DIR/${spec%% *}"); done
    install -d -m 0755 "${dirs[@]}"
    install -d -m 0700 "$SSH_HOSTKEY_DIR"
    # The privilege separation directory (on tmpfs: gone after a reboot).
    [[ -d /run/sshd ]] || install -d -o root -g root -m 0755 /run/sshd
}

ensure_ssh_user() {
    local entry shell=/bin/bash
    if ! entry=$(getent passwd "$SSH_USER"); then
        say "SSH: creating the login user $SSH_USER"
        run_logged "SSH: useradd $SSH_USER" useradd --system --user-group --no-create-home \
            --home-dir "$SSH_HOME" --shell "$shell" --comment "Jackal SSH tunnel tests" "$SSH_USER"
        entry=$(getent passwd "$SSH_USER")
    fi
    local home login_shell
    IFS=: read -r _ _ _ _ _ home login_shell <<<"$entry"
    if [[ $home != "$SSH_HOME" || $login_shell != "$shell" ]]; then
        say "SSH: $SSH_USER has home $home and shell $login_shell; setting $SSH_HOME and $shell"
        run_logged "SSH: usermod $SSH_USER" usermod --home "$SSH_HOME" --shell "$shell" "$SSH_USER"
    fi
    # Password authentication without PAM reads the hash in /etc/shadow; a new hash also unlocks.
    printf '%s:%s\n' "$SSH_USER" "$SSH_USER_PASSWORD" | chpasswd || die "SSH: chpasswd for $SSH_USER failed"
    local max inactive expire
    IFS=: read -r _ _ _ _ max _ inactive expire _ <<<"$(getent shadow "$SSH_USER")"
    if [[ -n $max$inactive$expire ]]; then
        run_logged "SSH: clearing the password aging of $SSH_USER" \
            chage --expiredate -1 --maxdays -1 --inactive -1 "$SSH_USER"
    fi
    # Home owned by the user, .ssh and authorized_keys by root: StrictModes accepts both, and the
    # user cannot change them.
    install -d -o "$SSH_USER" -g "$SSH_USER" -m 0755 "$SSH_HOME"
    install -d -o root -g root -m 0755 "$SSH_HOME/.ssh"
}

ensure_ssh_client_keys() {
    local spec file type bits format first pass files=() line
    local authorized="# Written by scripts/test-databases (SSH); changes are overwritten."$'\n'
    for spec in "${SSH_CLIENT_KEYS[@]}"; do
        read -r file type bits format first pass <<<"$spec"
        [[ $pass != - ]] || pass=""
        ensure_keypair "$SSH_CLIENT_DIR/$file" "$type" "$bits" "$format" "$first" "$pass" "jackal-test-client-$file"
        files+=("$SSH_CLIENT_DIR/$file" "$SSH_CLIENT_DIR/$file.pub")
        IFS= read -r line <"$SSH_CLIENT_DIR/$file.pub"
        authorized+=$line$'\n'
    done
    # Test material, read by the (non-root) test process.
    chmod 0644 "${files[@]}"
    atomic_file "$SSH_AUTHORIZED_KEYS" 0644 "$authorized"
}

# --- the servers ---------------------------------------------------------------------------------
SSHD_PID=""
# sshd_running NAME: instance NAME's listener runs (its pid file names a live sshd started with its
# configuration); sets SSHD_PID.
sshd_running() {
    local pid argv
    SSHD_PID=""
    [[ -r $SSH_DIR/$1/sshd.pid ]] || return 1
    read -r pid <"$SSH_DIR/$1/sshd.pid" || return 1
    [[ $pid =~ ^[0-9]+$ && -r /proc/$pid/cmdline ]] || return 1
    # (The listener rewrites its title, keeping the command line in it.)
    mapfile -d '' -t argv <"/proc/$pid/cmdline" 2>/dev/null || return 1
    [[ " ${argv[*]} " == *" -f $SSH_DIR/$1/sshd_config "* ]] || return 1
    SSHD_PID=$pid
}

sshd_stop() {
    local label=$1 name=$2
    sshd_running "$name" || return 0
    # The listener only: sessions (its children) go on to their end.
    start-stop-daemon --stop --quiet --oknodo --pid "$SSHD_PID" --retry TERM/10/KILL/5 \
        || die "$label: could not stop sshd (pid $SSHD_PID)" "$SSH_DIR/$name/sshd.log"
}

# pid_alive PIDFILE: the process it names exists and has not ended (is no zombie).
pid_alive() {
    local pid state
    read -r pid <"$1" 2>/dev/null && [[ $pid =~ ^[0-9]+$ ]] || return 1
    read -r _ _ state _ <"/proc/$pid/stat" 2>/dev/null && [[ $state != Z ]]
}

sshd_start() {
    local label=$1 name=$2 port=$3 config=$SSH_DIR/$2/sshd_config log=$SSH_DIR/$2/sshd.log
    local pidfile=$SSH_DIR/$2/sshd.pid spawned=$SSH_DIR/$2/sshd.spawned.pid deadline
    run_logged "$label: sshd -t rejects $config" "$SSHD" -t -f "$config"
    # Keep the log (LogLevel VERBOSE, lines for every test connection) from growing without end.
    if [[ -f $log ]] && (( $(stat -c %s "$log") > 20 * 1024 * 1024 )); then mv -f "$log" "$log.1"; fi
    rm -f "$pidfile" "$spawned"
    # A daemonizing sshd forks into the background before it binds, so it reports no failure to
    # bind: start it with -D (not detaching) in a session of its own instead, its pid noted at once
    # in $spawned, and watch that it lives until it has written its PidFile (which it does once it
    # listens). -E sends its log (and its sessions' logs) to the file.
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

# ensure_sshd_instance NAME LABEL PORT AUTH FORWARDING
ensure_sshd_instance() {
    local name=$1 label=$2 port=$3 auth=$4 forwarding=$5
    local dir=$SSH_DIR/$1 hostkey=$SSH_HOSTKEY_DIR/${1}_ed25519
    local config=$dir/sshd_config
    LOG_HINT=$dir/sshd.log

    CHANGED=0
    ensure_keypair "$hostkey" ed25519 256 - OPENSSH "" "jackal-test-$name-host-key"
    local fingerprint=$KEY_FINGERPRINT
    [[ $(stat -c %a "$hostkey" "$hostkey.pub") == $'600\n644' ]] || { chmod 0600 "$hostkey"; chmod 0644 "$hostkey.pub"; }

    local pubkey_auth=yes password_auth=no
    if [[ $auth == password ]]; then pubkey_auth=no password_auth=yes; fi
    atomic_file "$config" 0644 "# Written by scripts/test-databases ($label); changes are overwritten.
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
"

    if sshd_running "$name"; then
        if (( CHANGED )); then
            say "$label: configuration or host key changed; restarting sshd"
            sshd_stop "$label" "$name"
        elif [[ ! /proc/$SSHD_PID/exe -ef $SSHD ]]; then
            say "$label: sshd (pid $SSHD_PID) runs a replaced binary; restarting it"
            sshd_stop "$label" "$name"
        elif ! port_open "$port"; then
            say "$label: sshd (pid $SSHD_PID) does not accept TCP on 127.0.0.1:$port; restarting it"
            sshd_stop "$label" "$name"
        fi
    fi
    if ! sshd_running "$name"; then
        say "$label: starting sshd on 127.0.0.1:$port"
        sshd_start "$label" "$name" "$port"
    fi

    # For the tests to pin: the host key, its fingerprint, a known_hosts line.
    local pubkey key_type key_blob
    IFS= read -r pubkey <"$hostkey.pub"
    read -r key_type key_blob _ <<<"$pubkey"
    atomic_file "$SSH_DIR/$name.pub" 0644 "$pubkey"$'\n'
    atomic_file "$SSH_DIR/$name.fingerprint" 0644 "$fingerprint"$'\n'
    atomic_file "$SSH_DIR/known_hosts_$name" 0644 "[127.0.0.1]:$port $key_type $key_blob"$'\n'
}

# --- checks --------------------------------------------------------------------------------------
# Every check is a real OpenSSH client connection (each costs a key exchange and a fresh sshd
# process): they run all at once, each as a job whose exit status, stdout and `ssh -v` log are kept
# in $SSH_VERIFY/JOB.{rc,out,err}, and are judged when all have ended.
SSH_VERIFY=""
SSH_JOBS=()
SSH_ARGS=()
readonly SSH_DEST=$SSH_USER@127.0.0.1

# ssh_args NAME PORT: sets SSH_ARGS to the client options for an instance, pinned to its host key.
# Options of one's own go before them (with ssh, the first value given wins). The key exchange is
# curve25519: the default sntrup761 hybrid costs the client ~0.1 s of CPU per connection.
ssh_args() {
    SSH_ARGS=(-v -F /dev/null -p "$2" -o UserKnownHostsFile="$SSH_DIR/known_hosts_$1"
        -o GlobalKnownHostsFile=/dev/null -o StrictHostKeyChecking=yes -o BatchMode=yes
        -o IdentitiesOnly=yes -o ConnectTimeout=5 -o KexAlgorithms=curve25519-sha256)
}

# ssh_job JOB STDIN COMMAND...: starts COMMAND (bounded, without the caller's agent) in the background.
ssh_job() {
    local job=$1 input=$2
    shift 2
    {
        local rc=0
        env -u SSH_AUTH_SOCK timeout 20 "$@" <"$input" >"$SSH_VERIFY/$job.out" 2>"$SSH_VERIFY/$job.err" || rc=$?
        echo "$rc" >"$SSH_VERIFY/$job.rc"
    } &
    SSH_JOBS+=("$!")
}

job_rc() { cat "$SSH_VERIFY/$1.rc"; }
# job_failure LABEL JOB WHAT: dies, showing the end of the client's log.
job_failure() {
    local rc
    rc=$(cat "$SSH_VERIFY/$2.rc" 2>/dev/null || echo '?')
    grep -v '^debug' "$SSH_VERIFY/$2.err" | tail -n 15 | sed 's/^/  | /' >&2 || true
    die "$1: $3 (ssh exit status $rc; its messages above)"
}
# job_logins JOB: how many times the client authenticated (once per host on the way).
job_logins() { grep -c '^Authenticated to 127\.0\.0\.1 ' "$SSH_VERIFY/$1.err" || true; }
# job_methods JOB: the authentication methods the server(s) offered, as the client logged them.
# (A client with a terminal, as under sshpass, ends its log lines with \r\n.)
job_methods() {
    tr -d '\r' <"$SSH_VERIFY/$1.err" | sed -n 's/^debug1: Authentications that can continue: //p' | sort -u | paste -sd' '
}
# job_server JOB: the server's software version, as the client logged it.
job_server() {
    tr -d '\r' <"$SSH_VERIFY/$1.err" | sed -n 's/^debug1: Remote protocol version 2\.0, remote software version //p' | head -n 1
}

# expect_login LABEL JOB WHAT METHODS: the job succeeded and the server offered only METHODS.
expect_login() {
    local label=$1 job=$2 what=$3 methods=$4 offered
    if [[ $(job_rc "$job") != 0 ]] || (( $(job_logins "$job") == 0 )); then
        job_failure "$label" "$job" "$what failed"
    fi
    offered=$(job_methods "$job")
    [[ -z $offered || $offered == "$methods" ]] \
        || die "$label: the server offers the authentication methods '$offered', want '$methods' only"
}
# expect_mariadb LABEL JOB: MariaDB's greeting came back through the tunnel.
expect_mariadb() {
    grep -aqi mariadb "$SSH_VERIFY/$2.out" \
        || job_failure "$1" "$2" "ssh -W 127.0.0.1:3306 did not bring MariaDB's greeting ('$(tr -c '[:print:]' . <"$SSH_VERIFY/$2.out" | head -c 80)')"
}

verify_sshd() {
    SSH_VERIFY=$(mktemp -d "$TMP/ssh-verify.XXXXXX")
    local keydir=$SSH_VERIFY/keys spec file name label port auth forwarding files=()
    # Copies with mode 0600: the OpenSSH client refuses our 0644 keys as root.
    for spec in "${SSH_CLIENT_KEYS[@]}"; do files+=("$SSH_CLIENT_DIR/${spec%% *}"); done
    install -d -m 0700 "$keydir"
    install -m 0600 -t "$keydir" "${files[@]}"
    # A PostgreSQL StartupMessage (protocol 3.0): any server answers it at once, with an
    # authentication request ('R') or an error ('E'); a client that then just goes is not logged
    # (an SSLRequest would be, as a failed TLS handshake, when the server has TLS).
    local params=(user "$DB_USER" database "$DB_NAME" application_name jackal-test-databases) param length=9 be32
    for param in "${params[@]}"; do length=$((length + ${#param} + 1)); done
    printf -v be32 '\\x%02x' $((length >> 24)) $((length >> 16 & 255)) $((length >> 8 & 255)) $((length & 255))
    # shellcheck disable=SC2059  # be32 is the length, as escapes
    { printf "$be32"; printf '\x00\x03\x00\x00'; printf '%s\0' "${params[@]}"; printf '\0'; } >"$SSH_VERIFY/pg-startup"
    local config=$SSH_VERIFY/ssh_config
    cat >"$config" <<END
Host jackal-jump
    HostName 127.0.0.1
    Port $SSH_JUMP_PORT
    UserKnownHostsFile $SSH_DIR/known_hosts_jump
Host jackal-bastion
    HostName 127.0.0.1
    Port $SSH_BASTION_PORT
    UserKnownHostsFile $SSH_DIR/known_hosts_bastion
Host *
    User $SSH_USER
    IdentityFile $keydir/id_ed25519
    IdentitiesOnly yes
    GlobalKnownHostsFile /dev/null
    StrictHostKeyChecking yes
    BatchMode yes
    ConnectTimeout 5
    KexAlgorithms curve25519-sha256
END
    # The forwarding checks reach the plain MariaDB and PostgreSQL, which the other parts start.
    wait_port MARIADB_PLAIN 3306 "$MY_MAIN_LOG"
    wait_port PG_MAIN 5432 "${PG_VER:+$(pg_log main)}"

    local nopass=(-o PasswordAuthentication=no -o KbdInteractiveAuthentication=no)
    local pw_opts=(-o BatchMode=no -o PubkeyAuthentication=no -o PreferredAuthentications=password
        -o NumberOfPasswordPrompts=1)
    SSH_JOBS=()
    # Bastion: a login with each client key; two of them forward to the databases.
    ssh_args bastion "$SSH_BASTION_PORT"
    ssh_job bastion-ed25519 /dev/null ssh -i "$keydir/id_ed25519" "${SSH_ARGS[@]}" -W 127.0.0.1:3306 "$SSH_DEST"
    ssh_job bastion-ecdsa "$SSH_VERIFY/pg-startup" ssh -i "$keydir/id_ecdsa" "${SSH_ARGS[@]}" -W 127.0.0.1:5432 "$SSH_DEST"
    ssh_job bastion-rsa /dev/null ssh -i "$keydir/id_rsa" "${SSH_ARGS[@]}" "$SSH_DEST" true
    ssh_job bastion-rsa_pkcs8 /dev/null ssh -i "$keydir/id_rsa_pkcs8" "${SSH_ARGS[@]}" "$SSH_DEST" true
    ssh_job bastion-ed25519_pass /dev/null env SSHPASS="$SSH_KEY_PASSPHRASE" sshpass -e -P "passphrase for key" \
        ssh -i "$keydir/id_ed25519_pass" -o BatchMode=no "${nopass[@]}" "${SSH_ARGS[@]}" "$SSH_DEST" true
    # Jump: ProxyJump through it to the bastion, and on to MariaDB.
    ssh_job jump /dev/null ssh -v -F "$config" -J jackal-jump -W 127.0.0.1:3306 jackal-bastion
    # No forwarding: the login works, the channel is refused.
    ssh_args noforward "$SSH_NOFORWARD_PORT"
    ssh_job noforward /dev/null ssh -i "$keydir/id_ed25519" "${SSH_ARGS[@]}" -W 127.0.0.1:3306 "$SSH_DEST"
    # Password: the right one (and forwarding), a wrong one.
    ssh_args password "$SSH_PASSWORD_PORT"
    ssh_job password /dev/null env SSHPASS="$SSH_USER_PASSWORD" sshpass -e \
        ssh "${pw_opts[@]}" "${SSH_ARGS[@]}" -W 127.0.0.1:3306 "$SSH_DEST"
    ssh_job password-wrong /dev/null env SSHPASS=wrong-password sshpass -e \
        ssh "${pw_opts[@]}" "${SSH_ARGS[@]}" "$SSH_DEST" true
    wait "${SSH_JOBS[@]}"

    LOG_HINT=$SSH_DIR/bastion/sshd.log
    local ok_keys=() pg_answer
    for spec in "${SSH_CLIENT_KEYS[@]}"; do
        file=${spec%% *}
        expect_login SSH_BASTION "bastion-${file#id_}" "a login with $file" publickey
        ok_keys+=("${file#id_}")
    done
    expect_mariadb SSH_BASTION bastion-ed25519
    pg_answer=$(head -c 1 "$SSH_VERIFY/bastion-ecdsa.out" | tr -c '[:print:]' .)
    [[ $pg_answer == R || $pg_answer == E ]] \
        || job_failure SSH_BASTION bastion-ecdsa "ssh -W 127.0.0.1:5432 did not bring PostgreSQL's answer to a StartupMessage ('$pg_answer')"

    LOG_HINT=$SSH_DIR/jump/sshd.log
    expect_login SSH_JUMP jump "ssh -J jump bastion -W 127.0.0.1:3306" publickey
    (( $(job_logins jump) == 2 )) || job_failure SSH_JUMP jump "ssh -J did not log in on both the jump host and the bastion"
    expect_mariadb SSH_JUMP jump

    LOG_HINT=$SSH_DIR/noforward/sshd.log
    (( $(job_logins noforward) == 1 )) || job_failure SSH_NOFORWARD noforward "a login failed"
    [[ $(job_methods noforward) == publickey ]] \
        || die "SSH_NOFORWARD: the server offers the authentication methods '$(job_methods noforward)', want 'publickey' only"
    if [[ $(job_rc noforward) == 0 ]] || ! grep -q "administratively prohibited" "$SSH_VERIFY/noforward.err"; then
        job_failure SSH_NOFORWARD noforward "ssh -W 127.0.0.1:3306 was not refused with 'administratively prohibited'"
    fi
    [[ ! -s $SSH_VERIFY/noforward.out ]] || die "SSH_NOFORWARD: data came back through a refused channel"

    LOG_HINT=$SSH_DIR/password/sshd.log
    expect_login SSH_PASSWORD password "a login with the password" password
    expect_mariadb SSH_PASSWORD password
    if [[ $(job_rc password-wrong) == 0 ]] || (( $(job_logins password-wrong) > 0 )); then
        die "SSH_PASSWORD: a wrong password was accepted"
    fi
    grep -q "Permission denied" "$SSH_VERIFY/password-wrong.err" \
        || job_failure SSH_PASSWORD password-wrong "a wrong password failed, but not with 'Permission denied'"

    # The server's version as one client of each instance saw it.
    declare -A seen_by=([bastion]=bastion-rsa [jump]=jump [noforward]=noforward [password]=password)
    local head fingerprint server
    for spec in "${SSH_INSTANCES[@]}"; do
        read -r name label port auth forwarding <<<"$spec"
        IFS= read -r fingerprint <"$SSH_DIR/$name.fingerprint"
        server=$(job_server "${seen_by[$name]}")
        [[ $server == OpenSSH_* ]] || die "$label: the server on 127.0.0.1:$port says it is '$server', not OpenSSH"
        printf -v head '%-14s%-17s%s, ed25519 host key %s; %s only' \
            "$label" "127.0.0.1:$port" "$server" "$fingerprint" "$auth"
        case $name in
            bastion) SUMMARY+=("$head (keys ${ok_keys[*]} ok; the passphrase one via sshpass); -W to MariaDB 3306 and PostgreSQL 5432 (StartupMessage answered '$pg_answer') ok") ;;
            jump) SUMMARY+=("$head; ssh -J through it to SSH_BASTION and on to MariaDB 3306 ok") ;;
            noforward) SUMMARY+=("$head; login ok, ssh -W refused (administratively prohibited)") ;;
            password) SUMMARY+=("$head; $SSH_USER/$SSH_USER_PASSWORD ok with -W to MariaDB 3306; wrong password refused") ;;
        esac
    done
}

prepare_sshd() {
    LOG_HINT=""
    ensure_sshd_installed
    ensure_ssh_dirs
    ensure_ssh_user
    ensure_ssh_client_keys
    local spec
    for spec in "${SSH_INSTANCES[@]}"; do
        # shellcheck disable=SC2086  # NAME LABEL PORT AUTH FORWARDING
        ensure_sshd_instance $spec
    done
    verify_sshd
}
