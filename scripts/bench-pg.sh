#!/usr/bin/env bash
# PostgreSQL at the engine's speed? `otp bench --store postgres` (a whole
# `Bank::login`: reads, compare-and-set of the token state, ID lock, audit
# record) side by side with pgbench running the same-shape transaction
# (UPDATE one row + INSERT one row in one transaction, prepared mode) on
# the same server, over the same URL, at the same number of clients.
#
#   export OTP_POSTGRES_URL='postgresql://...'     # e.g. "$OTP_TEST_PG_URL"
#   bash scripts/bench-pg.sh                       # clients 1 8 32, 5 s each
#   OTP_BENCH_CLIENTS="1 2 8" OTP_BENCH_SECONDS=10 bash scripts/bench-pg.sh
#
# The URL is read from $OTP_POSTGRES_URL only, never put on a command line
# (it may hold a password): pgbench gets it through $PGDATABASE, which it
# expands as a connection string (so TLS settings such as
# sslmode=verify-full&sslrootcert=... apply to it as to otp). pgbench's
# tables live in a throwaway schema (otp_pgbench_<random>, chosen with
# PGOPTIONS=-c search_path=...), dropped at the end; otp bench makes and
# drops its own schema. Builds `cargo build --release -p otp-cli` once
# (skip with OTP_BENCH_NO_BUILD=1 when target/release/otp is fresh).
# Output: one table, tps of each and the ratio otp/pgbench.
set -euo pipefail

say() { printf 'bench-pg: %s\n' "$*" >&2; }

if [[ -z "${OTP_POSTGRES_URL:-}" ]]; then
    say "set OTP_POSTGRES_URL (e.g. export OTP_POSTGRES_URL=\"\$OTP_TEST_PG_URL\")"
    exit 2
fi
root="$(cd "$(dirname "$0")/.." && pwd)"
clients="${OTP_BENCH_CLIENTS:-1 8 32}"
seconds="${OTP_BENCH_SECONDS:-5}"

pgbench="$(command -v pgbench || true)"
if [[ -z "$pgbench" ]]; then
    pgbench="$(ls -d /usr/lib/postgresql/*/bin/pgbench 2>/dev/null | sort -V | tail -n 1 || true)"
fi
[[ -x "$pgbench" ]] || { say "pgbench not found (Debian: postgresql-client)"; exit 1; }

if [[ "${OTP_BENCH_NO_BUILD:-0}" != 1 ]]; then
    say "cargo build --release -p otp-cli"
    (cd "$root" && cargo build --release -p otp-cli >&2)
fi
otp="$root/target/release/otp"

work="$(mktemp -d)"
schema="otp_pgbench_$(od -An -N6 -tx1 /dev/urandom | tr -d ' \n')"
export PGDATABASE="$OTP_POSTGRES_URL"
unset PGSERVICE
pgb() { PGOPTIONS="-c search_path=$schema" "$pgbench" "$@"; }
cleanup() {
    printf 'DROP SCHEMA IF EXISTS %s CASCADE;\n' "$schema" >"$work/drop.sql"
    "$pgbench" -n -t 1 -f "$work/drop.sql" >/dev/null 2>&1 || say "could not drop schema $schema"
    rm -rf "$work"
}
trap cleanup EXIT

# The tables: a token-like row updated in place (1,000 of them, as the
# bench's tokens), an audit table appended to (seq, time, target, a body
# and two 32-byte hashes, as otp_audit).
cat >"$work/setup.sql" <<SQL
CREATE SCHEMA $schema;
CREATE TABLE $schema.tok (id INT PRIMARY KEY, floor BIGINT NOT NULL, failures BIGINT NOT NULL);
INSERT INTO $schema.tok SELECT g, 0, 0 FROM generate_series(1, 1000) g;
CREATE TABLE $schema.audit (seq BIGSERIAL PRIMARY KEY, at BIGINT NOT NULL, target TEXT, body TEXT NOT NULL, prev_hash BYTEA NOT NULL, hash BYTEA NOT NULL);
SQL
"$pgbench" -n -t 1 -f "$work/setup.sql" >/dev/null

cat >"$work/shape.sql" <<'SQL'
\set id random(1, 1000)
BEGIN;
UPDATE tok SET floor = floor + 1, failures = 0 WHERE id = :id;
INSERT INTO audit (at, target, body, prev_hash, hash) VALUES (:id, 'user-' || :id, 'verification accepted: token serial, window, drift, floor; the same length as a record', '\x00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff', '\xffeeddccbbaa99887766554433221100ffeeddccbbaa99887766554433221100');
END;
SQL

printf '%8s %14s %14s %8s %12s %12s\n' clients pgbench_tps otp_tps ratio otp_p50_us otp_p99_us
for n in $clients; do
    jobs=$((n < 2 ? n : 2))
    pg_out="$(pgb -n -M prepared -c "$n" -j "$jobs" -T "$seconds" -f "$work/shape.sql" 2>&1)" \
        || { say "pgbench failed: $pg_out"; exit 1; }
    pg_tps="$(printf '%s\n' "$pg_out" | sed -n 's/^tps = \([0-9.]*\).*/\1/p' | head -n 1)"
    otp_out="$("$otp" bench --store postgres --threads "$n" --seconds "$seconds" --json)" \
        || { say "otp bench failed"; exit 1; }
    otp_tps="$(printf '%s\n' "$otp_out" | sed -n 's/.*"verifications_per_second": *\([0-9.]*\).*/\1/p' | head -n 1)"
    p50="$(printf '%s\n' "$otp_out" | sed -n 's/.*"p50_ns": *\([0-9]*\).*/\1/p' | head -n 1)"
    p99="$(printf '%s\n' "$otp_out" | sed -n 's/.*"p99_ns": *\([0-9]*\).*/\1/p' | head -n 1)"
    ratio="$(awk -v a="$otp_tps" -v b="$pg_tps" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "-" }')"
    printf '%8s %14.0f %14.0f %8s %12s %12s\n' "$n" "$pg_tps" "$otp_tps" "$ratio" \
        "$((${p50:-0} / 1000))" "$((${p99:-0} / 1000))"
done
