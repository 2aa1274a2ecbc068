#!/usr/bin/env bash
# A throwaway PostgreSQL server for otp-store's tests and benchmarks.
#
#   eval "$(bash scripts/pg-test-server.sh start)"   # prints: export OTP_TEST_PG_URL=...
#   cargo test -p otp-store -- --ignored
#   bash scripts/pg-test-server.sh stop
#
# `start` installs Debian's `postgresql` package if no server binaries are
# found (apt-get, as root), initialises a fresh cluster in a temporary
# directory with initdb (trust authentication, C locale), starts it on a
# loopback port as the `postgres` OS user (initdb refuses root), creates
# the database `otp_test`, and prints the export line on stdout (progress
# goes to stderr). An earlier cluster in the same directory is stopped and
# removed first. Settings: OTP_PG_PORT (default 54329), OTP_PG_DIR
# (default /tmp/otp-pg-test), OTP_PG_DURABLE (default `on`).
#
# OTP_PG_DURABLE=off starts the server without fsync (`fsync`,
# `synchronous_commit` and `full_page_writes` off): a commit is then as
# durable as the OS page cache, which survives the client processes the
# tests kill but not a power cut. `.ci/run` uses it for the test suites,
# whose thousands of rounds each wait for commits on one audit chain (on a
# VM whose fsync takes milliseconds, that was most of CI's time). Never
# for a benchmark: `scripts/bench-pg.sh` and `otp bench` figures are of a
# durable server.
#
# The server speaks TLS only: `start` makes a throwaway CA ($dir/tls/ca.pem)
# and a server certificate it signs for `localhost` and 127.0.0.1 (openssl,
# P-256, 2 days), turns `ssl` on, and its pg_hba.conf has `hostssl` lines
# only, so a TCP connection in clear is refused ("no encryption"). The URL
# printed says `sslmode=verify-full&sslrootcert=$dir/tls/ca.pem`: the whole
# suite runs over verified TLS, and a silent fallback to plaintext fails it.
# The Unix socket ($dir) stays open without TLS for the script's own psql.
set -euo pipefail

port="${OTP_PG_PORT:-54329}"
dir="${OTP_PG_DIR:-/tmp/otp-pg-test}"
durable="${OTP_PG_DURABLE:-on}"
say() { printf 'pg-test-server: %s\n' "$*" >&2; }

find_bin() {
    local d
    d="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)"
    if [[ -n "$d" && -x "$d/initdb" ]]; then
        echo "$d"
    elif command -v initdb >/dev/null 2>&1; then
        dirname "$(command -v initdb)"
    fi
}

# Runs a command as the server's owner: `postgres` when we are root.
as_owner() {
    if [[ "$(id -u)" == 0 ]]; then
        (cd / && runuser -u postgres -- "$@")
    else
        "$@"
    fi
}

stop() {
    local bin="$1"
    if [[ -f "$dir/data/postmaster.pid" ]]; then
        as_owner "$bin/pg_ctl" -D "$dir/data" -m immediate -w stop >&2 || true
    fi
}

bin="$(find_bin)"
case "${1:-start}" in
start)
    if [[ -z "$bin" ]]; then
        if [[ "$(id -u)" != 0 ]]; then
            say "PostgreSQL is not installed and we are not root: apt-get install postgresql first"
            exit 1
        fi
        say "installing Debian's postgresql package"
        export DEBIAN_FRONTEND=noninteractive
        apt-get update -qq >&2
        apt-get install -y -qq postgresql >&2
        bin="$(find_bin)"
        [[ -n "$bin" ]] || { say "postgresql installed but initdb not found"; exit 1; }
    fi
    stop "$bin"
    rm -rf "$dir"
    mkdir -p "$dir"
    if [[ "$(id -u)" == 0 ]]; then
        id postgres >/dev/null 2>&1 || useradd --system --home-dir "$dir" postgres
        chown postgres "$dir"
    fi
    say "initdb in $dir/data ($bin)"
    as_owner "$bin/initdb" -D "$dir/data" -U postgres --auth=trust --locale=C --encoding=UTF8 >/dev/null
    if ! command -v openssl >/dev/null 2>&1; then
        # Debian's postgresql pulls it in (ssl-cert); a server installed
        # some other way may not have.
        if [[ "$(id -u)" == 0 ]]; then
            say "installing Debian's openssl package (for the test certificates)"
            DEBIAN_FRONTEND=noninteractive apt-get install -y -qq openssl >&2 \
                || { apt-get update -qq >&2 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq openssl >&2; }
        fi
        command -v openssl >/dev/null 2>&1 || { say "openssl is needed for the test certificates"; exit 1; }
    fi
    say "a throwaway CA and a server certificate for localhost and 127.0.0.1 in $dir/tls"
    tls="$dir/tls"
    mkdir -p "$tls"
    (
        umask 077
        openssl req -x509 -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
            -keyout "$tls/ca.key" -out "$tls/ca.pem" -days 2 -subj "/CN=otp-store test CA" \
            -addext "basicConstraints=critical,CA:TRUE" \
            -addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null
        openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
            -keyout "$tls/server.key" -out "$tls/server.csr" -subj "/CN=localhost" 2>/dev/null
        printf '%s\n' "basicConstraints=critical,CA:FALSE" \
            "keyUsage=critical,digitalSignature" "extendedKeyUsage=serverAuth" \
            "subjectAltName=DNS:localhost,IP:127.0.0.1" >"$tls/server.ext"
        openssl x509 -req -in "$tls/server.csr" -CA "$tls/ca.pem" -CAkey "$tls/ca.key" \
            -CAcreateserial -days 2 -extfile "$tls/server.ext" -out "$tls/server.pem" 2>/dev/null
    )
    rm -f "$tls/ca.key" "$tls/server.csr" "$tls/server.ext" "$tls/ca.srl"
    chmod 644 "$tls/ca.pem" "$tls/server.pem"
    chmod 755 "$tls"
    if [[ "$(id -u)" == 0 ]]; then
        chown postgres "$tls/server.key"
    fi
    # TLS only over TCP: `hostssl`, and no `host` line to fall back to.
    cat >"$dir/data/pg_hba.conf" <<HBA
local   all  all                 trust
hostssl all  all  127.0.0.1/32   trust
hostssl all  all  ::1/128        trust
HBA
    case "$durable" in
    on) no_fsync="" ;;
    off) no_fsync="-c fsync=off -c synchronous_commit=off -c full_page_writes=off" ;;
    *) say "OTP_PG_DURABLE must be on or off, not '$durable'"; exit 2 ;;
    esac
    say "starting on 127.0.0.1:$port (TLS only; durable: $durable)"
    as_owner "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 \
        -o "-c listen_addresses=127.0.0.1 -c port=$port -c unix_socket_directories=$dir -c max_connections=200 -c ssl=on -c ssl_cert_file=$tls/server.pem -c ssl_key_file=$tls/server.key $no_fsync" \
        start >&2
    as_owner "$bin/psql" -h "$dir" -p "$port" -U postgres -d postgres -v ON_ERROR_STOP=1 -q \
        -c "CREATE DATABASE otp_test" >&2
    echo "export OTP_TEST_PG_URL='postgresql://postgres@127.0.0.1:$port/otp_test?sslmode=verify-full&sslrootcert=$tls/ca.pem'"
    ;;
stop)
    [[ -n "$bin" ]] && stop "$bin"
    rm -rf "$dir"
    say "stopped"
    ;;
*)
    say "usage: $0 [start|stop]"
    exit 2
    ;;
esac
