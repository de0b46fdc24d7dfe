# shellcheck shell=bash
# Part of scripts/test-databases (sourced, not run): the test CA and the servers' certificate,
# made by scripts/test-certs (which tests/docker-compose.yml uses too), owned by root.

ensure_tls() {
    install -d -m 0755 "$TLS_DIR"
    local out
    out=$("$SCRIPTS/test-certs" "$TLS_DIR" 2>&1) || die "preparing the TLS material in $TLS_DIR: $out"
    [[ -z $out ]] || while IFS= read -r line; do say "TLS: ${line#test-certs: }"; done <<<"$out"
    chown root:root "$CA_PEM" "$CA_KEY" "$SERVER_PEM" "$SERVER_KEY"
    chmod 0644 "$CA_PEM" "$SERVER_PEM"
    chmod 0600 "$CA_KEY" "$SERVER_KEY"
}
