//! Defect 6, measured: how much memory a hostile seed file makes the
//! reader allocate. A counting allocator records the peak; this file holds
//! one test so that no other test's allocations are counted.
#![allow(clippy::unwrap_used, reason = "tests")]

use std::{
    alloc::{GlobalAlloc, Layout, System},
    sync::atomic::{AtomicUsize, Ordering},
};

use otp_provision::{Inventory, PskcError, PskcKeyInfo, read_pskc_keys};

struct Counting;

static CURRENT: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

// SAFETY: forwards every call unchanged to the system allocator; the only
// addition is counting, which allocates nothing itself. (`realloc` is the
// default: a new block, a copy, the old one freed, both counted.)
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

/// The reported file: 39 MB of empty `<KeyPackage/>` elements (3,000,000),
/// which took 1.38 GB. An import now holds one key package at a time and
/// stops at the first (it has no algorithm); the public listing stops at the
/// cap, having held at most the cap's worth of `PskcKeyInfo`.
#[test]
fn a_file_of_empty_key_packages_allocates_little() {
    let mut xml =
        String::from(r#"<KeyContainer Version="1.0" xmlns="urn:ietf:params:xml:ns:keyprov:pskc">"#);
    for _ in 0..3_000_000 {
        xml.push_str("<KeyPackage/>");
    }
    xml.push_str("</KeyContainer>");
    assert!(xml.len() > 39_000_000);

    let (result, peak) = peak_during(|| Inventory::from_pskc(&xml, None).map(|i| i.len()));
    assert_eq!(
        result,
        Err(PskcError::UnsupportedAlgorithm {
            package: 1,
            algorithm: String::new()
        })
    );
    assert!(peak < 64 * 1024, "import peak {peak} bytes");

    let (result, peak) = peak_during(|| read_pskc_keys(&xml, None).map(|k| k.len()));
    assert_eq!(
        result,
        Err(PskcError::TooManyKeyPackages { max: 1_000_000 })
    );
    // The listing's vector (capacity up to 2^20) while it grows: at most
    // the old and the new buffer at once, plus a little.
    let vector = (1 << 20) * size_of::<PskcKeyInfo>();
    assert!(
        peak < vector + vector / 2 + 1024 * 1024,
        "listing peak {peak} bytes (vector {vector})"
    );
}
