#!/usr/bin/env bash
# The JSON API checked by schemathesis against a running server (CI).
#
#   bash scripts/api-check.sh
#
# Makes (once) a Python venv in target/api-venv with the schemathesis
# pinned in scripts/api-check-requirements.txt, builds `otp`, starts
# `otp serve --demo` on 127.0.0.1 (a free port chosen by the system,
# rate limits raised so that schemathesis's thousands of calls are not
# answered 429 — which every operation documents anyway), reads the two
# throwaway API keys the demo prints, and runs `schemathesis run` on
# every operation of GET /api/v1/openapi.json with every check
# (`--checks all`: no server errors, response schema, status code,
# content type and header conformance, negative data rejected, positive
# data accepted, unsupported methods answered 405, ignored
# authentication ...; `--include-path-regex '^/'` because without a
# filter schemathesis leaves out GET /api/v1/openapi.json itself): once
# with the admin-scope key, once with the validate-scope key; then again
# on a demo server whose rate limits are 1, so that the 429 answers are
# checked too. Each server is stopped when done with, and at the end
# whatever happens (trap).
# Settings: OTP_API_CHECK_EXAMPLES (examples per operation, default 100),
# OTP_API_CHECK_SEED (schemathesis --seed, default random: printed).
set -euo pipefail
cd "$(dirname "$0")/.."

say() { printf 'api-check: %s\n' "$*" >&2; }

venv=target/api-venv
requirements=scripts/api-check-requirements.txt
# The venv is rebuilt when the pin changes.
if ! cmp -s "$requirements" "$venv/requirements.txt" 2>/dev/null; then
    say "making $venv with $(grep -v '^#' "$requirements" | tr '\n' ' ')"
    command -v python3 >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3 python3-venv; }
    python3 -m venv --help >/dev/null 2>&1 && python3 -c 'import ensurepip' 2>/dev/null \
        || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv; }
    rm -rf "$venv"
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet --disable-pip-version-check -r "$requirements"
    cp "$requirements" "$venv/requirements.txt"
fi
"$venv/bin/schemathesis" --version >&2

cargo build -p otp-cli --bin otp --locked
otp="${CARGO_TARGET_DIR:-target}/debug/otp"
work="$(mktemp -d)"
server_pid=
session=
stop_server() {
    if [[ -n "$server_pid" ]] && kill -0 "$server_pid" 2>/dev/null; then
        kill -TERM "$server_pid" 2>/dev/null || true
        wait "$server_pid" 2>/dev/null || true
    fi
    server_pid=
}
trap 'stop_server; rm -rf "$work"' EXIT

# Starts `otp serve --demo` with the rate limits given (port 0: the
# system picks a free port, and the banner says which); sets base,
# admin_key and validate_key from its banner.
start_server() {
    "$otp" serve --demo --listen 127.0.0.1:0 "$@" >"$work/banner" 2>"$work/server.log" &
    server_pid=$!
    for _ in $(seq 1 600); do
        grep -q '^Ctrl-C stops the server' "$work/banner" && break
        kill -0 "$server_pid" 2>/dev/null || { cat "$work/server.log" >&2; say "the demo server did not start"; exit 1; }
        sleep 0.1
    done
    grep -q '^Ctrl-C stops the server' "$work/banner" || { say "the demo server printed no banner in 60 s"; exit 1; }
    base="$(sed -n 's|^  open *\(http://127\.0\.0\.1:[0-9]*\)/login.*|\1|p' "$work/banner")"
    admin_key="$(sed -n 's|^    admin scope *\(otpk_[0-9a-f]*_[A-Za-z0-9_-]*\)$|\1|p' "$work/banner")"
    validate_key="$(sed -n 's|^    validate scope *\(otpk_[0-9a-f]*_[A-Za-z0-9_-]*\)$|\1|p' "$work/banner")"
    admin_id="$(sed -n 's|^  sign in as *\([A-Z0-9]*\) (administrator), token \([A-Z0-9]*\)$|\1|p' "$work/banner")"
    admin_serial="$(sed -n 's|^  sign in as *\([A-Z0-9]*\) (administrator), token \([A-Z0-9]*\)$|\2|p' "$work/banner")"
    login_password="$(sed -n 's|^  login password (demo fixture, every user): \(.*\)$|\1|p' "$work/banner")"
    approval_password="$(sed -n 's|^  approval password (demo fixture): \(.*\)$|\1|p' "$work/banner")"
    [[ -n "$base" && -n "$admin_key" && -n "$validate_key" && -n "$admin_serial" && -n "$login_password" && -n "$approval_password" ]] \
        || { say "cannot read the address, the API keys, the administrator's token and the passwords from the demo's banner"; exit 1; }
    say "the demo server at $base ($*)"
}

# The demo's administrator signs in through the API (login password and
# a code from the demo's tokens page): the admin session schemathesis
# sends, so that the admin operations are tested beyond their 401.
sign_in() {
    OTP_API_KEY="$admin_key" OTP_LOGIN_PASSWORD="$login_password" \
        python3 scripts/api-admin-session.py "$base" "$admin_id" "$admin_serial"
}

examples="${OTP_API_CHECK_EXAMPLES:-100}"
seed=()
[[ -n "${OTP_API_CHECK_SEED:-}" ]] && seed=(--seed "$OTP_API_CHECK_SEED")

# schemathesis on every operation with every check, with the key in
# OTP_API_KEY (it reaches schemathesis through the config file's header,
# never its command line); reports under target/api-check/NAME.
check() {
    local name="$1" paths="$2"
    OTP_API_KEY="$key" OTP_ADMIN_SESSION="$session" "$venv/bin/schemathesis" --config-file scripts/api-check.toml \
        run "$base/api/v1/openapi.json" \
        --include-path-regex "$paths" \
        --checks all \
        --max-examples "$examples" \
        --workers 2 \
        --report junit --report-dir "target/api-check/$name" \
        "${seed[@]}"
}

# A bank system in Python walks the manual's exchange through the API
# (examples/python/api_client.py), on a demo of its own.
start_server
say "examples/python/api_client.py: the manual's exchange through the API"
OTP_API_KEY="$admin_key" OTP_LOGIN_PASSWORD="$login_password" OTP_APPROVAL_PASSWORD="$approval_password" \
    python3 examples/python/api_client.py --url "$base" --demo --admin-serial "$admin_serial"
stop_server

# The operations' logic: limits high enough never to answer 429. With
# the admin key and an administrator's session: every operation (without
# a filter schemathesis leaves out GET /api/v1/openapi.json itself, hence
# '^/'). With the validate key: what it may call (that it is refused on
# every admin operation is the Rust test
# a_validate_key_is_refused_on_every_admin_route).
start_server --api-key-rate 1000000 --api-user-rate 1000000
key="$admin_key"
session="$(sign_in)"
say "schemathesis: every operation, every check, with the demo's admin key and W0001's admin session"
check admin '^/'
key="$validate_key"
say "schemathesis: validate, the transactions and the document, every check, with the demo's validate-scope key"
check validate '^/api/v1/(validate|transactions/(challenge|sign)|openapi\.json)$'
stop_server

# The 429 answers: limits of 1, so that most calls are over them; each
# 429 must be as documented (a rate_limited problem with Retry-After).
# (schemathesis warns that the operations' logic went untested here:
# the runs above test it.)
start_server --api-key-rate 1 --api-user-rate 1
key="$admin_key"
session="$(sign_in)"
say "schemathesis: every operation, every check, at rate limits of 1 (the 429 answers)"
check rate-limited '^/'
say "schemathesis found nothing"
