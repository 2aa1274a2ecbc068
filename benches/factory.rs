//! Manufacturing and importing 100,000 tokens (plain and encrypted PSKC).
//!
//! Run with `cargo bench -p otp-benches --bench factory`.

use core::hint::black_box;
use core::time::Duration;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use otp_provision::{Inventory, PreSharedKey, PskcLimits};
use otp_token::Factory;

const TOKENS: usize = 100_000;
const AT: u64 = 1_790_000_000;

fn bench(c: &mut Criterion) {
    let key = PreSharedKey::new(*b"bank-vendor-2026");
    let mut batch = Factory::deterministic_for_tests([1; 32])
        .manufacture(TOKENS, AT)
        .unwrap_or_else(|e| unreachable_bench(&e));
    let plain = batch
        .seed_file(None)
        .unwrap_or_else(|e| unreachable_bench(&e));
    let encrypted = batch
        .seed_file(Some(&key))
        .unwrap_or_else(|e| unreachable_bench(&e));

    // 100,000 encrypted tokens are more than the default 64 MiB cap.
    let limits = PskcLimits::default().with_max_bytes(encrypted.len().max(plain.len()));
    for (file, k) in [(&plain, None), (&encrypted, Some(&key))] {
        if let Err(e) = Inventory::from_pskc_with_limits(file, k, &limits) {
            unreachable_bench(&e);
        }
    }

    let mut group = c.benchmark_group("factory_100k");
    group.sample_size(10);
    group.warm_up_time(Duration::from_secs(1));
    group.measurement_time(Duration::from_secs(5));
    group.throughput(Throughput::Elements(TOKENS as u64));
    group.bench_function("manufacture", |b| {
        let mut factory = Factory::deterministic_for_tests([2; 32]);
        b.iter(|| black_box(factory.manufacture(TOKENS, AT).map(|b| b.len())));
    });
    group.bench_function("write_pskc_plain", |b| {
        b.iter(|| black_box(batch.seed_file(None).map(|s| s.len())));
    });
    group.bench_function("write_pskc_encrypted", |b| {
        b.iter(|| black_box(batch.seed_file(Some(&key)).map(|s| s.len())));
    });
    group.bench_function("import_pskc_plain", |b| {
        b.iter(|| {
            black_box(
                Inventory::from_pskc_with_limits(black_box(&plain), None, &limits).map(|i| i.len()),
            )
        });
    });
    group.bench_function("import_pskc_encrypted", |b| {
        b.iter(|| {
            black_box(
                Inventory::from_pskc_with_limits(black_box(&encrypted), Some(&key), &limits)
                    .map(|i| i.len()),
            )
        });
    });
    group.finish();
}

#[allow(clippy::panic, reason = "a bench with broken set-up must stop")]
fn unreachable_bench(e: &dyn core::fmt::Display) -> ! {
    panic!("bench set-up failed: {e}")
}

criterion_group!(benches, bench);
criterion_main!(benches);
