//! A batch made, written and read back as a stream holds one token at a
//! time: measured with a counting allocator (one test in this file, so
//! that no other test's allocations are counted).
#![allow(clippy::unwrap_used, reason = "tests")]

use std::{
    alloc::{GlobalAlloc, Layout, System},
    io::{BufReader, BufWriter, Write as _},
    sync::atomic::{AtomicUsize, Ordering},
};

use otp_provision::{PreSharedKey, PskcLimits, read_pskc_records};
use otp_token::Factory;

struct Counting;

static CURRENT: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

// SAFETY: forwards every call unchanged to the system allocator; the only
// addition is counting, which allocates nothing itself.
#[allow(
    unsafe_code,
    reason = "a GlobalAlloc impl is unsafe by definition; it only forwards"
)]
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: the caller's contract is the system allocator's.
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() {
            let now = CURRENT.fetch_add(layout.size(), Ordering::SeqCst) + layout.size();
            PEAK.fetch_max(now, Ordering::SeqCst);
        }
        p
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: as above.
        unsafe { System.dealloc(ptr, layout) };
        CURRENT.fetch_sub(layout.size(), Ordering::SeqCst);
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// Bytes allocated at the peak of `f`, above what was allocated before.
fn peak_during<T>(f: impl FnOnce() -> T) -> (T, usize) {
    let base = CURRENT.load(Ordering::SeqCst);
    PEAK.store(base, Ordering::SeqCst);
    let out = f();
    (out, PEAK.load(Ordering::SeqCst) - base)
}

/// Makes `count` tokens into an encrypted seed file and reads it back;
/// returns the file's size and the records read.
fn round_trip(count: usize, path: &std::path::Path) -> (u64, usize) {
    let psk = PreSharedKey::new([8; 16]);
    let mut factory = Factory::deterministic_for_tests([8; 32]);
    let file = BufWriter::new(std::fs::File::create(path).unwrap());
    let mut writer = factory.seed_file_writer(file, Some(&psk)).unwrap();
    for made in factory.manufacture_iter(count, 1_790_000_000).unwrap() {
        let (_token, record) = made.unwrap();
        writer.write(&record).unwrap();
    }
    writer.finish().unwrap().flush().unwrap();
    let size = std::fs::metadata(path).unwrap().len();
    let limits = PskcLimits::default()
        .with_max_bytes(usize::try_from(size).unwrap())
        .with_max_key_packages(count);
    let input = BufReader::new(std::fs::File::open(path).unwrap());
    let mut last = String::new();
    let read = read_pskc_records(input, Some(&psk), &limits, |record| {
        last = record.serial;
        Ok(())
    })
    .unwrap();
    assert_eq!(last, format!("VT{:010}", count - 1));
    (size, read)
}

/// 10,000 tokens (a 16 MB encrypted seed file) are made, written and read
/// back in some 20 KB, as are 1,000: memory does not grow
/// with the batch. (Held whole, as a `Batch` and its file, it is some
/// 20 MB.)
#[test]
fn a_streamed_batch_takes_the_same_small_memory_at_any_size() {
    let path = std::env::temp_dir().join(format!("otp-stream-memory-{}.pskc", std::process::id()));
    let ((small_size, small), small_peak) = peak_during(|| round_trip(1_000, &path));
    let ((size, read), peak) = peak_during(|| round_trip(10_000, &path));
    std::fs::remove_file(&path).unwrap();
    assert_eq!((small, read), (1_000, 10_000));
    assert!(size > 9 * small_size, "{size} vs {small_size}");
    assert!(size > 15_000_000, "{size}");
    assert!(peak < 64 * 1024, "peak {peak} bytes for 10,000 tokens");
    assert!(
        peak < small_peak + 16 * 1024,
        "peak {peak} bytes for 10,000 tokens, {small_peak} for 1,000"
    );
}
