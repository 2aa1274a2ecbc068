//! HMAC-SHA-1 of up to four counters hashed in lockstep with the x86 SHA
//! extensions (SHA-NI).
//!
//! This is the one module of the workspace that uses `unsafe`: it calls the
//! `core::arch` SHA intrinsics, which exist only on CPUs with the `sha`,
//! `sse2`, `ssse3` and `sse4.1` features. Justification: a verification
//! window hashes several independent counters, and interleaving their SHA-1
//! compressions lets the CPU overlap them (about 22 ns per block instead of
//! 30–42 ns), which is the difference between 2.1x and 1.4x the hashing
//! floor. Safety argument: the only `unsafe` operation is calling the
//! `#[target_feature]` function, and it happens only after `cpufeatures`
//! has confirmed at run time that the CPU has every feature it enables.
//! The function itself does no pointer arithmetic and touches memory only
//! through references to arrays. The differential tests at the end of this
//! file and in `tests/lockstep.rs` compare it with the portable path on
//! every lane count.
#![cfg_attr(
    not(feature = "portable"),
    allow(unsafe_code, reason = "SHA-NI intrinsics; see the module docs")
)]

/// HMAC-SHA-1 digests (as five big-endian words each) of the 8-byte
/// big-endian `counters`, from the absorbed pads; `None` when the CPU lacks
/// the SHA extensions (the caller then takes the portable path).
#[inline]
pub(crate) fn hmac_sha1<const N: usize>(
    inner: &[u32; 5],
    outer: &[u32; 5],
    counters: &[u64; N],
) -> Option<[[u32; 5]; N]> {
    imp::hmac_sha1(inner, outer, counters)
}

/// Whether the lockstep path is in use on this CPU.
pub(crate) fn available() -> bool {
    imp::available()
}

#[cfg(all(
    any(target_arch = "x86", target_arch = "x86_64"),
    not(feature = "portable")
))]
mod imp {
    #![allow(
        clippy::indexing_slicing,
        reason = "every index ranges over 0..N on [_; N] arrays, or is a constant below 4"
    )]
    #![allow(
        clippy::cast_possible_truncation,
        clippy::cast_possible_wrap,
        clippy::cast_sign_loss,
        clippy::arithmetic_side_effects,
        reason = "bit-for-bit moves between u32/u64 words and SIMD lanes; index arithmetic mod 4 on constants"
    )]

    #[cfg(target_arch = "x86")]
    use core::arch::x86::{
        __m128i, _mm_add_epi32, _mm_extract_epi32, _mm_or_si128, _mm_set_epi32, _mm_setzero_si128,
        _mm_sha1msg1_epu32, _mm_sha1msg2_epu32, _mm_sha1nexte_epu32, _mm_sha1rnds4_epu32,
        _mm_xor_si128,
    };
    #[cfg(target_arch = "x86_64")]
    use core::arch::x86_64::{
        __m128i, _mm_add_epi32, _mm_extract_epi32, _mm_or_si128, _mm_set_epi32, _mm_setzero_si128,
        _mm_sha1msg1_epu32, _mm_sha1msg2_epu32, _mm_sha1nexte_epu32, _mm_sha1rnds4_epu32,
        _mm_xor_si128,
    };

    cpufeatures::new!(shani, "sha", "sse2", "ssse3", "sse4.1");

    pub(super) fn available() -> bool {
        shani::get()
    }

    #[inline]
    pub(super) fn hmac_sha1<const N: usize>(
        inner: &[u32; 5],
        outer: &[u32; 5],
        counters: &[u64; N],
    ) -> Option<[[u32; 5]; N]> {
        if shani::get() {
            // SAFETY: `shani::get()` has just confirmed that this CPU has
            // every target feature that `hmac_sha1_shani` enables.
            Some(unsafe { hmac_sha1_shani(inner, outer, counters) })
        } else {
            None
        }
    }

    /// The message schedule and working state of `N` independent blocks.
    struct Lanes<const N: usize> {
        abcd: [__m128i; N],
        /// ABCD before the previous group of four rounds: the source of E.
        prev: [__m128i; N],
        /// The last four message words of each lane, indexed by group mod 4.
        w: [[__m128i; N]; 4],
    }

    /// Kept out of line: inlining SHA-NI code into a caller that has just
    /// used 256-bit AVX cost 25x here (an AVX/SSE transition penalty, see
    /// PERF-NOTES), and the call costs nothing next to 160 rounds.
    #[inline(never)]
    #[target_feature(enable = "sha,sse2,ssse3,sse4.1")]
    fn hmac_sha1_shani<const N: usize>(
        inner: &[u32; 5],
        outer: &[u32; 5],
        counters: &[u64; N],
    ) -> [[u32; 5]; N] {
        let zero = _mm_setzero_si128();
        // Inner block: counter (8 bytes) || 0x80 || 0... || bit length 576.
        let mut w = [[zero; N]; 4];
        for (lane, c) in counters.iter().enumerate() {
            w[0][lane] = _mm_set_epi32((c >> 32) as i32, *c as i32, 0x8000_0000_u32 as i32, 0);
        }
        w[3] = [_mm_set_epi32(0, 0, 0, 576); N];
        let (abcd, e) = compress(inner, w);

        // Outer block: inner digest (20 bytes) || 0x80 || 0... || 672.
        // After `compress`, E sits in the top lane with zeros below it.
        let mut w = [[zero; N]; 4];
        w[0] = abcd;
        for lane in 0..N {
            w[1][lane] = _mm_or_si128(e[lane], _mm_set_epi32(0, 0x8000_0000_u32 as i32, 0, 0));
        }
        w[3] = [_mm_set_epi32(0, 0, 0, 672); N];
        let (abcd, e) = compress(outer, w);

        core::array::from_fn(|lane| {
            [
                _mm_extract_epi32::<3>(abcd[lane]) as u32,
                _mm_extract_epi32::<2>(abcd[lane]) as u32,
                _mm_extract_epi32::<1>(abcd[lane]) as u32,
                _mm_extract_epi32::<0>(abcd[lane]) as u32,
                _mm_extract_epi32::<3>(e[lane]) as u32,
            ]
        })
    }

    /// One SHA-1 compression of `N` blocks, all from the same `state`.
    /// Message words are big-endian dwords, W0 in the top lane of `w[0]`.
    /// Returns ABCD (A in the top lane) and E (top lane, zeros below).
    #[inline]
    #[target_feature(enable = "sha,sse2,ssse3,sse4.1")]
    fn compress<const N: usize>(
        state: &[u32; 5],
        w: [[__m128i; N]; 4],
    ) -> ([__m128i; N], [__m128i; N]) {
        let abcd0 = _mm_set_epi32(
            state[0] as i32,
            state[1] as i32,
            state[2] as i32,
            state[3] as i32,
        );
        let e0 = _mm_set_epi32(state[4] as i32, 0, 0, 0);
        let mut s = Lanes {
            abcd: [abcd0; N],
            prev: [abcd0; N],
            w,
        };
        // Rounds 0-3 take E from the state; later groups derive it.
        for lane in 0..N {
            let ew = _mm_add_epi32(e0, s.w[0][lane]);
            s.abcd[lane] = _mm_sha1rnds4_epu32::<0>(s.abcd[lane], ew);
        }
        group::<N, 0>(&mut s, 1);
        group::<N, 0>(&mut s, 2);
        group::<N, 0>(&mut s, 3);
        group::<N, 0>(&mut s, 4);
        group::<N, 1>(&mut s, 5);
        group::<N, 1>(&mut s, 6);
        group::<N, 1>(&mut s, 7);
        group::<N, 1>(&mut s, 8);
        group::<N, 1>(&mut s, 9);
        group::<N, 2>(&mut s, 10);
        group::<N, 2>(&mut s, 11);
        group::<N, 2>(&mut s, 12);
        group::<N, 2>(&mut s, 13);
        group::<N, 2>(&mut s, 14);
        group::<N, 3>(&mut s, 15);
        group::<N, 3>(&mut s, 16);
        group::<N, 3>(&mut s, 17);
        group::<N, 3>(&mut s, 18);
        group::<N, 3>(&mut s, 19);
        let abcd = core::array::from_fn(|lane| _mm_add_epi32(s.abcd[lane], abcd0));
        let e = core::array::from_fn(|lane| _mm_sha1nexte_epu32(s.prev[lane], e0));
        (abcd, e)
    }

    /// Four rounds (group `g` of 20, `g >= 1`) with round function `F`,
    /// extending the message schedule from group 4 on:
    /// `W(g) = msg2(msg1(W(g-4), W(g-3)) ^ W(g-2), W(g-1))`.
    #[inline]
    #[target_feature(enable = "sha,sse2,ssse3,sse4.1")]
    fn group<const N: usize, const F: i32>(s: &mut Lanes<N>, g: usize) {
        let i = g % 4;
        if g >= 4 {
            for lane in 0..N {
                let m = _mm_sha1msg1_epu32(s.w[i][lane], s.w[(i + 1) % 4][lane]);
                let m = _mm_xor_si128(m, s.w[(i + 2) % 4][lane]);
                s.w[i][lane] = _mm_sha1msg2_epu32(m, s.w[(i + 3) % 4][lane]);
            }
        }
        for lane in 0..N {
            let ew = _mm_sha1nexte_epu32(s.prev[lane], s.w[i][lane]);
            s.prev[lane] = s.abcd[lane];
            s.abcd[lane] = _mm_sha1rnds4_epu32::<F>(s.abcd[lane], ew);
        }
    }
}

#[cfg(not(all(
    any(target_arch = "x86", target_arch = "x86_64"),
    not(feature = "portable")
)))]
mod imp {
    pub(super) fn available() -> bool {
        false
    }

    #[inline]
    pub(super) fn hmac_sha1<const N: usize>(
        _inner: &[u32; 5],
        _outer: &[u32; 5],
        _counters: &[u64; N],
    ) -> Option<[[u32; 5]; N]> {
        None
    }
}
