#!/usr/bin/env bash
# Fuzz smoke run: builds every cargo-fuzz target in fuzz/ once (nightly,
# AddressSanitizer, debug assertions so that overflow panics) and runs each
# for FUZZ_SECONDS seconds (default 20) from a scratch copy of its committed
# seed corpus. Fails on any crash, property violation, timeout or leak.
#
#   bash scripts/fuzz-smoke.sh                  # every target, 20 s each
#   FUZZ_SECONDS=5 bash scripts/fuzz-smoke.sh   # shorter
#   bash scripts/fuzz-smoke.sh verifier exchange
#
# Installs cargo-fuzz (`cargo install cargo-fuzz --locked`) if absent. Needs
# a nightly toolchain (`rustup toolchain install nightly`); set
# FUZZ_TOOLCHAIN to use another one (default `nightly`).
set -euo pipefail
cd "$(dirname "$0")/.."

seconds="${FUZZ_SECONDS:-20}"
toolchain="${FUZZ_TOOLCHAIN:-nightly}"
targets=("$@")
build_all=false
if [ ${#targets[@]} -eq 0 ]; then
    targets=(code_parser serial_parser otpauth_uri pskc_import verifier exchange ocra)
    build_all=true
fi

if ! rustup run "$toolchain" rustc --version >/dev/null 2>&1; then
    echo "fuzz-smoke: the '$toolchain' toolchain is missing: rustup toolchain install $toolchain" >&2
    exit 1
fi
if ! cargo fuzz --version >/dev/null 2>&1; then
    echo "fuzz-smoke: installing cargo-fuzz"
    cargo install cargo-fuzz --locked
fi

# The fuzz workspace's own lock file must be current, like the root one's.
cargo "+$toolchain" fetch --manifest-path fuzz/Cargo.toml --locked >/dev/null

start=$(date +%s)
echo "fuzz-smoke: building ${#targets[@]} targets"
if $build_all; then
    cargo "+$toolchain" fuzz build --debug-assertions
else
    for t in "${targets[@]}"; do
        cargo "+$toolchain" fuzz build --debug-assertions "$t"
    done
fi

scratch="$(mktemp -d)"
trap 'rm -rf "$scratch"' EXIT
failed=()
for t in "${targets[@]}"; do
    # New inputs go to the scratch copy; the committed corpus stays small.
    mkdir -p "$scratch/$t"
    cp -r "fuzz/corpus/$t/." "$scratch/$t/"
    log="$scratch/$t.log"
    printf 'fuzz-smoke: %-14s %3ss ... ' "$t" "$seconds"
    if timeout "$((seconds + 120))" cargo "+$toolchain" fuzz run --debug-assertions "$t" "$scratch/$t" -- \
        -max_total_time="$seconds" -timeout=30 -print_final_stats=1 >"$log" 2>&1; then
        runs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' || echo '?')
        echo "ok ($runs runs)"
    else
        echo "FAILED"
        grep -E -A12 'panicked at|ERROR: libFuzzer|ERROR: AddressSanitizer' "$log" | head -40 >&2 || tail -40 "$log" >&2
        echo "fuzz-smoke: reproduce with: cargo +$toolchain fuzz run --debug-assertions $t fuzz/artifacts/$t/<crash file>" >&2
        failed+=("$t")
    fi
done

echo "fuzz-smoke: $(( $(date +%s) - start )) s in all"
if [ ${#failed[@]} -gt 0 ]; then
    echo "fuzz-smoke: FAILED: ${failed[*]}" >&2
    exit 1
fi
echo "fuzz-smoke: every target ran clean"
