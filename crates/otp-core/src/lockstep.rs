//! HMAC-SHA-1 and HMAC-SHA-256 of up to four counters (HOTP/TOTP), or of
//! up to four last blocks after a shared inner state (an OCRA time suite's
//! steps), hashed in lockstep with the x86 SHA extensions (SHA-NI).
//!
//! This is the one module of `otp-core` that uses `unsafe`: it calls the
//! `core::arch` SHA intrinsics, which exist only on CPUs with the `sha`,
//! `sse2`, `ssse3` and `sse4.1` features. Justification: a verification
//! window hashes several independent counters, and interleaving their SHA-1
//! compressions lets the CPU overlap them (about 22 ns per block instead of
//! 30–42 ns), which is the difference between 2.1x and 1.4x the hashing
//! floor. Safety argument: the only `unsafe` operation is calling the
//! `#[target_feature]` function, and it happens only after `cpufeatures`
//! has confirmed at run time that the CPU has every feature it enables.
//! The function itself does no pointer arithmetic and touches memory only
//! through references to arrays. The differential tests in
//! `hmac_pads.rs` (every lane count for counters; every fill of the last
//! block for OCRA's steps) compare it with the portable path.
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

/// HMAC-SHA-256 digests (as eight big-endian words each) of the 8-byte
/// big-endian `counters`, from the absorbed pads; `None` without SHA-NI.
#[inline]
pub(crate) fn hmac_sha256<const N: usize>(
    inner: &[u32; 8],
    outer: &[u32; 8],
    counters: &[u64; N],
) -> Option<[[u32; 8]; N]> {
    imp::hmac_sha256(inner, outer, counters)
}

/// HMAC-SHA-1 digests of `N` messages that share everything but their
/// last inner block: `state` is the inner hash before it, each of `blocks`
/// that block, padded and as sixteen big-endian words (OCRA's time steps
/// over one question). `None` without SHA-NI.
#[inline]
pub(crate) fn hmac_sha1_blocks<const N: usize>(
    state: &[u32; 5],
    outer: &[u32; 5],
    blocks: &[[u32; 16]; N],
) -> Option<[[u32; 5]; N]> {
    imp::hmac_sha1_blocks(state, outer, blocks)
}

/// As [`hmac_sha1_blocks`], for HMAC-SHA-256.
#[inline]
pub(crate) fn hmac_sha256_blocks<const N: usize>(
    state: &[u32; 8],
    outer: &[u32; 8],
    blocks: &[[u32; 16]; N],
) -> Option<[[u32; 8]; N]> {
    imp::hmac_sha256_blocks(state, outer, blocks)
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
        clippy::needless_range_loop,
        reason = "bit-for-bit moves between u32/u64 words and SIMD lanes; index arithmetic mod 4 on constants; lanes are indexed across several arrays at once"
    )]

    #[cfg(target_arch = "x86")]
    use core::arch::x86::{
        __m128i, _mm_add_epi32, _mm_alignr_epi8, _mm_extract_epi32, _mm_or_si128, _mm_set_epi32,
        _mm_setzero_si128, _mm_sha1msg1_epu32, _mm_sha1msg2_epu32, _mm_sha1nexte_epu32,
        _mm_sha1rnds4_epu32, _mm_sha256msg1_epu32, _mm_sha256msg2_epu32, _mm_sha256rnds2_epu32,
        _mm_shuffle_epi32, _mm_xor_si128,
    };
    #[cfg(target_arch = "x86_64")]
    use core::arch::x86_64::{
        __m128i, _mm_add_epi32, _mm_alignr_epi8, _mm_extract_epi32, _mm_or_si128, _mm_set_epi32,
        _mm_setzero_si128, _mm_sha1msg1_epu32, _mm_sha1msg2_epu32, _mm_sha1nexte_epu32,
        _mm_sha1rnds4_epu32, _mm_sha256msg1_epu32, _mm_sha256msg2_epu32, _mm_sha256rnds2_epu32,
        _mm_shuffle_epi32, _mm_xor_si128,
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

    #[inline]
    pub(super) fn hmac_sha256<const N: usize>(
        inner: &[u32; 8],
        outer: &[u32; 8],
        counters: &[u64; N],
    ) -> Option<[[u32; 8]; N]> {
        if shani::get() {
            // SAFETY: `shani::get()` has just confirmed that this CPU has
            // every target feature that `hmac_sha256_shani` enables.
            Some(unsafe { hmac_sha256_shani(inner, outer, counters) })
        } else {
            None
        }
    }

    #[inline]
    pub(super) fn hmac_sha1_blocks<const N: usize>(
        state: &[u32; 5],
        outer: &[u32; 5],
        blocks: &[[u32; 16]; N],
    ) -> Option<[[u32; 5]; N]> {
        if shani::get() {
            // SAFETY: `shani::get()` has just confirmed that this CPU has
            // every target feature that `hmac_sha1_blocks_shani` enables.
            Some(unsafe { hmac_sha1_blocks_shani(state, outer, blocks) })
        } else {
            None
        }
    }

    #[inline]
    pub(super) fn hmac_sha256_blocks<const N: usize>(
        state: &[u32; 8],
        outer: &[u32; 8],
        blocks: &[[u32; 16]; N],
    ) -> Option<[[u32; 8]; N]> {
        if shani::get() {
            // SAFETY: `shani::get()` has just confirmed that this CPU has
            // every target feature that `hmac_sha256_blocks_shani` enables.
            Some(unsafe { hmac_sha256_blocks_shani(state, outer, blocks) })
        } else {
            None
        }
    }

    /// SHA-256's round constants (FIPS 180-4 §4.2.2).
    const K256: [u32; 64] = [
        0x428a_2f98,
        0x7137_4491,
        0xb5c0_fbcf,
        0xe9b5_dba5,
        0x3956_c25b,
        0x59f1_11f1,
        0x923f_82a4,
        0xab1c_5ed5,
        0xd807_aa98,
        0x1283_5b01,
        0x2431_85be,
        0x550c_7dc3,
        0x72be_5d74,
        0x80de_b1fe,
        0x9bdc_06a7,
        0xc19b_f174,
        0xe49b_69c1,
        0xefbe_4786,
        0x0fc1_9dc6,
        0x240c_a1cc,
        0x2de9_2c6f,
        0x4a74_84aa,
        0x5cb0_a9dc,
        0x76f9_88da,
        0x983e_5152,
        0xa831_c66d,
        0xb003_27c8,
        0xbf59_7fc7,
        0xc6e0_0bf3,
        0xd5a7_9147,
        0x06ca_6351,
        0x1429_2967,
        0x27b7_0a85,
        0x2e1b_2138,
        0x4d2c_6dfc,
        0x5338_0d13,
        0x650a_7354,
        0x766a_0abb,
        0x81c2_c92e,
        0x9272_2c85,
        0xa2bf_e8a1,
        0xa81a_664b,
        0xc24b_8b70,
        0xc76c_51a3,
        0xd192_e819,
        0xd699_0624,
        0xf40e_3585,
        0x106a_a070,
        0x19a4_c116,
        0x1e37_6c08,
        0x2748_774c,
        0x34b0_bcb5,
        0x391c_0cb3,
        0x4ed8_aa4a,
        0x5b9c_ca4f,
        0x682e_6ff3,
        0x748f_82ee,
        0x78a5_636f,
        0x84c8_7814,
        0x8cc7_0208,
        0x90be_fffa,
        0xa450_6ceb,
        0xbef9_a3f7,
        0xc671_78f2,
    ];

    /// As `hmac_sha1_shani`, for SHA-256; kept out of line for the same
    /// reason.
    #[inline(never)]
    #[target_feature(enable = "sha,sse2,ssse3,sse4.1")]
    fn hmac_sha256_shani<const N: usize>(
        inner: &[u32; 8],
        outer: &[u32; 8],
        counters: &[u64; N],
    ) -> [[u32; 8]; N] {
        let zero = _mm_setzero_si128();
        // Inner block: counter (8 bytes) || 0x80 || 0... || bit length 576.
        // W0 in the lowest lane.
        let mut w = [[zero; N]; 4];
        for (lane, c) in counters.iter().enumerate() {
            w[0][lane] = _mm_set_epi32(0, 0x8000_0000_u32 as i32, *c as i32, (c >> 32) as i32);
        }
        w[3] = [_mm_set_epi32(576, 0, 0, 0); N];
        let digest = compress256(inner, w);
        outer256(outer, &digest)
    }

    /// As `hmac_sha256_shani`, the inner hash's last block given whole.
    #[inline(never)]
    #[target_feature(enable = "sha,sse2,ssse3,sse4.1")]
    fn hmac_sha256_blocks_shani<const N: usize>(
        state: &[u32; 8],
        outer: &[u32; 8],
        blocks: &[[u32; 16]; N],
    ) -> [[u32; 8]; N] {
        // W0 in the lowest lane.
        let w: [[__m128i; N]; 4] = core::array::from_fn(|i| {
            core::array::from_fn(|lane| {
                let b = &blocks[lane];
                _mm_set_epi32(
                    b[4 * i + 3] as i32,
                    b[4 * i + 2] as i32,
                    b[4 * i + 1] as i32,
                    b[4 * i] as i32,
                )
            })
        });
        let digest = compress256(state, w);
        outer256(outer, &digest)
    }

    /// HMAC-SHA-256's outer hash of `N` inner digests.
    #[inline]
    #[target_feature(enable = "sha,sse2,ssse3,sse4.1")]
    fn outer256<const N: usize>(outer: &[u32; 8], digest: &[[u32; 8]; N]) -> [[u32; 8]; N] {
        let zero = _mm_setzero_si128();
        // Outer block: inner digest (32 bytes) || 0x80 || 0... || 768.
        let mut w = [[zero; N]; 4];
        for (lane, d) in digest.iter().enumerate() {
            w[0][lane] = _mm_set_epi32(d[3] as i32, d[2] as i32, d[1] as i32, d[0] as i32);
            w[1][lane] = _mm_set_epi32(d[7] as i32, d[6] as i32, d[5] as i32, d[4] as i32);
        }
        w[2] = [_mm_set_epi32(0, 0, 0, 0x8000_0000_u32 as i32); N];
        w[3] = [_mm_set_epi32(768, 0, 0, 0); N];
        compress256(outer, w)
    }

    /// One SHA-256 compression of `N` blocks from the same `state`; message
    /// words W0..W15 in four vectors, W(4i) in the lowest lane of `w[i]`.
    /// The SHA-NI state layout is ABEF / CDGH (A in the top lane).
    #[inline]
    #[target_feature(enable = "sha,sse2,ssse3,sse4.1")]
    fn compress256<const N: usize>(state: &[u32; 8], w: [[__m128i; N]; 4]) -> [[u32; 8]; N] {
        let [a, b, c, d, e, f, g, h] = state.map(|x| x as i32);
        let abef0 = _mm_set_epi32(a, b, e, f);
        let cdgh0 = _mm_set_epi32(c, d, g, h);
        let mut abef = [abef0; N];
        let mut cdgh = [cdgh0; N];
        let mut w = w;
        for group in 0..16 {
            let i = group % 4;
            if group >= 4 {
                // W(g) = msg2(msg1(W(g-4), W(g-3)) + [W(g-2), W(g-1)] >> 1 word, W(g-1))
                for lane in 0..N {
                    let m = _mm_sha256msg1_epu32(w[i][lane], w[(i + 1) % 4][lane]);
                    let t = _mm_alignr_epi8::<4>(w[(i + 3) % 4][lane], w[(i + 2) % 4][lane]);
                    let m = _mm_add_epi32(m, t);
                    w[i][lane] = _mm_sha256msg2_epu32(m, w[(i + 3) % 4][lane]);
                }
            }
            let k = _mm_set_epi32(
                K256[4 * group + 3] as i32,
                K256[4 * group + 2] as i32,
                K256[4 * group + 1] as i32,
                K256[4 * group] as i32,
            );
            for lane in 0..N {
                let m = _mm_add_epi32(w[i][lane], k);
                cdgh[lane] = _mm_sha256rnds2_epu32(cdgh[lane], abef[lane], m);
                let m = _mm_shuffle_epi32::<0x0E>(m);
                abef[lane] = _mm_sha256rnds2_epu32(abef[lane], cdgh[lane], m);
            }
        }
        core::array::from_fn(|lane| {
            let s0 = _mm_add_epi32(abef[lane], abef0);
            let s1 = _mm_add_epi32(cdgh[lane], cdgh0);
            [
                _mm_extract_epi32::<3>(s0) as u32,
                _mm_extract_epi32::<2>(s0) as u32,
                _mm_extract_epi32::<3>(s1) as u32,
                _mm_extract_epi32::<2>(s1) as u32,
                _mm_extract_epi32::<1>(s0) as u32,
                _mm_extract_epi32::<0>(s0) as u32,
                _mm_extract_epi32::<1>(s1) as u32,
                _mm_extract_epi32::<0>(s1) as u32,
            ]
        })
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
        outer1(outer, abcd, e)
    }

    /// As `hmac_sha1_shani`, the inner hash's last block given whole.
    #[inline(never)]
    #[target_feature(enable = "sha,sse2,ssse3,sse4.1")]
    fn hmac_sha1_blocks_shani<const N: usize>(
        state: &[u32; 5],
        outer: &[u32; 5],
        blocks: &[[u32; 16]; N],
    ) -> [[u32; 5]; N] {
        // W0 in the top lane.
        let w: [[__m128i; N]; 4] = core::array::from_fn(|i| {
            core::array::from_fn(|lane| {
                let b = &blocks[lane];
                _mm_set_epi32(
                    b[4 * i] as i32,
                    b[4 * i + 1] as i32,
                    b[4 * i + 2] as i32,
                    b[4 * i + 3] as i32,
                )
            })
        });
        let (abcd, e) = compress(state, w);
        outer1(outer, abcd, e)
    }

    /// HMAC-SHA-1's outer hash of `N` inner digests, as `compress` leaves
    /// them (ABCD, and E in the top lane with zeros below it).
    #[inline]
    #[target_feature(enable = "sha,sse2,ssse3,sse4.1")]
    fn outer1<const N: usize>(
        outer: &[u32; 5],
        abcd: [__m128i; N],
        e: [__m128i; N],
    ) -> [[u32; 5]; N] {
        let zero = _mm_setzero_si128();
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

    #[inline]
    pub(super) fn hmac_sha256<const N: usize>(
        _inner: &[u32; 8],
        _outer: &[u32; 8],
        _counters: &[u64; N],
    ) -> Option<[[u32; 8]; N]> {
        None
    }

    #[inline]
    pub(super) fn hmac_sha1_blocks<const N: usize>(
        _state: &[u32; 5],
        _outer: &[u32; 5],
        _blocks: &[[u32; 16]; N],
    ) -> Option<[[u32; 5]; N]> {
        None
    }

    #[inline]
    pub(super) fn hmac_sha256_blocks<const N: usize>(
        _state: &[u32; 8],
        _outer: &[u32; 8],
        _blocks: &[[u32; 16]; N],
    ) -> Option<[[u32; 8]; N]> {
        None
    }
}
