#!/usr/bin/env python3
"""Prints the verify group's criterion results as the tables in
docs/benchmarks.md. Run after `cargo bench -p otp-benches --bench verify`."""
import glob
import json

rows = {}
for f in glob.glob("target/criterion/verify/**/new/estimates.json", recursive=True):
    bench = json.load(open(f.replace("estimates.json", "benchmark.json")))
    rows[bench["full_id"].removeprefix("verify/")] = json.load(open(f))["mean"]["point_estimate"]

ALGS = ["SHA1", "SHA256", "SHA512"]


def fmt(ns):
    return f"{ns / 1000:.2f} µs" if ns >= 1000 else f"{ns:.0f} ns"


def line(label, key):
    print(f"| {label} | " + " | ".join(fmt(rows[key.format(a)]) for a in ALGS) + " |")


print("| operation | SHA-1 | SHA-256 | SHA-512 |\n|---|---|---|---|")
line("floor: 6 independent compressions", "floor/{} 6 compressions")
line("otp-core generate", "otp-core/generate/{}")
for who, what in [("otp-core", "verify"), ("totp-rs 6.0", "check"), ("totp-rfc 0.1", "verify_window")]:
    prefix = who.split(" ")[0]
    for w in ["1", "10"]:
        for r in ["right", "wrong"]:
            line(f"{who} {what} ±{w}, {r} code", f"{prefix}/{what} ±{w} {r}/{{}}")

for w, label in [("QN08-T1M ±1", "±1 minute"), ("C-QN08 +10", "counter +10")]:
    for r in ["right", "wrong"]:
        line(f"otp-core OCRA {w.split(' ')[0]} {label}, {r} response", f"otp-core/ocra {w} {r}/{{}}")

print("\n| ratio | SHA-1 | SHA-256 | SHA-512 |\n|---|---|---|---|")


def ratio(label, num, den, scale=1):
    print(f"| {label} | " + " | ".join(
        f"{rows[num.format(a)] / (scale * rows[den.format(a)]):.2f}x" for a in ALGS) + " |")


ratio("otp-core ±1 wrong ÷ floor (6 compressions)", "otp-core/verify ±1 wrong/{}", "floor/{} 6 compressions")
ratio("otp-core ±10 wrong ÷ floor (42 compressions)", "otp-core/verify ±10 wrong/{}", "floor/{} 6 compressions", 7)
ratio("totp-rs ±1 wrong ÷ otp-core ±1 wrong", "totp-rs/check ±1 wrong/{}", "otp-core/verify ±1 wrong/{}")
ratio("totp-rs ±10 wrong ÷ otp-core ±10 wrong", "totp-rs/check ±10 wrong/{}", "otp-core/verify ±10 wrong/{}")
ratio("totp-rfc ±1 wrong ÷ otp-core ±1 wrong", "totp-rfc/verify_window ±1 wrong/{}", "otp-core/verify ±1 wrong/{}")
ratio("otp-core OCRA QN08-T1M ±1 wrong ÷ TOTP ±1 wrong", "otp-core/ocra QN08-T1M ±1 wrong/{}", "otp-core/verify ±1 wrong/{}")


def ocra_compressions(alg, suite, counter, candidates):
    """The compressions an OCRA verification cannot avoid, from RFC 6287's
    DataInput (suite || 0x00 || C || Q (128 bytes) || T) after the key pad:
    the blocks before the first byte that differs between candidates once,
    then per candidate the rest of the inner hash and the outer block."""
    block, length_field = (128, 16) if alg == "SHA512" else (64, 8)
    head = len(suite) + 1
    shared = head if counter else head + 128
    total = head + (8 if counter else 0) + 128 + (0 if counter else 8)
    inner = -(-(total + 1 + length_field) // block)
    return shared // block + candidates * (inner - shared // block + 1)


def ocra_ratio(label, bench, suite, counter, candidates):
    counts = {a: ocra_compressions(a, suite.format(a), counter, candidates) for a in ALGS}
    print(f"| {label} | " + " | ".join(
        f"{rows[bench.format(a)] / (counts[a] / 6 * rows[f'floor/{a} 6 compressions']):.2f}x ({counts[a]})"
        for a in ALGS) + " |")


ocra_ratio("otp-core OCRA QN08-T1M ±1 wrong ÷ floor (its compressions)",
           "otp-core/ocra QN08-T1M ±1 wrong/{}", "OCRA-1:HOTP-{}-6:QN08-T1M", False, 3)
ocra_ratio("otp-core OCRA C-QN08 +10 wrong ÷ floor (its compressions)",
           "otp-core/ocra C-QN08 +10 wrong/{}", "OCRA-1:HOTP-{}-6:C-QN08", True, 11)
