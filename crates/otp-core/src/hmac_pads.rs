//! HMAC (RFC 2104) over an 8-byte counter with the key pads absorbed
//! once ([`HmacPads`]), on the block functions of SHA-1, SHA-256 and
//! SHA-512 ([`BlockHash`]), and RFC 4226's dynamic truncation without a
//! secret-dependent index ([`truncate`]). [`crate::Key`] holds the pads.

use sha1::Digest as _;
use subtle::{ConditionallySelectable as _, ConstantTimeEq as _};
use zeroize::Zeroize;

use crate::lockstep;

/// The part of a MAC that dynamic truncation reads: its first 20 bytes as
/// five big-endian words (the offset is at most 15, so bytes 0..=18 are
/// all it can reach), and its last byte, whose low nibble is the offset.
pub(crate) struct TruncationInput {
    pub(crate) words: [u32; 5],
    pub(crate) last: u8,
}

/// RFC 4226 §5.3 dynamic truncation without a secret-dependent memory
/// index or branch: the 8-byte pair of words that holds bytes
/// `offset..offset + 4` is picked with constant-time selects, then shifted
/// by a variable amount (a constant-time instruction).
#[inline]
pub(crate) fn truncate(mac: &TruncationInput) -> u32 {
    let offset = mac.last & 0x0f;
    let w = &mac.words;
    let pairs = [
        (u64::from(w[0]) << 32) | u64::from(w[1]),
        (u64::from(w[1]) << 32) | u64::from(w[2]),
        (u64::from(w[2]) << 32) | u64::from(w[3]),
        (u64::from(w[3]) << 32) | u64::from(w[4]),
    ];
    let word_index = offset >> 2;
    let mut pair = 0u64;
    for (i, p) in (0u8..).zip(pairs) {
        pair.conditional_assign(&p, i.ct_eq(&word_index));
    }
    let shifted = pair << (u32::from(offset & 3) * 8);
    // The top 32 bits of the shifted pair; the cast keeps exactly those.
    #[allow(
        clippy::cast_possible_truncation,
        reason = "takes the high word on purpose"
    )]
    let value = (shifted >> 32) as u32;
    value & 0x7fff_ffff
}

/// The block function of one hash, as used by HMAC over an 8-byte message.
pub(crate) trait BlockHash {
    /// The chaining state.
    type State: Copy + Zeroize;
    /// One input block.
    type Block: Copy + AsRef<[u8]> + AsMut<[u8]>;
    /// The digest bytes.
    type Out: Copy + AsRef<[u8]> + AsMut<[u8]>;
    const IV: Self::State;
    const ZERO_BLOCK: Self::Block;
    const ZERO_OUT: Self::Out;
    fn compress(state: &mut Self::State, block: &Self::Block);
    fn digest_bytes(state: &Self::State) -> Self::Out;
    /// What dynamic truncation reads of the digest in `state`.
    fn truncation_input(state: &Self::State) -> TruncationInput;
    /// HMAC's treatment of a key longer than a block: hash it.
    fn hash(data: &[u8]) -> Self::Out;
    /// The HMACs (the outer hash's final states) of `N` messages whose
    /// inner hash is at `state` before its last block, each of `blocks`
    /// one such block, padded: hashed in lockstep with the CPU's SHA
    /// extensions. `None` for a hash or a CPU without that path (the
    /// caller then compresses one by one).
    fn lockstep_last_blocks<const N: usize>(
        _state: &Self::State,
        _outer: &Self::State,
        _blocks: &[Self::Block; N],
    ) -> Option<[Self::State; N]> {
        None
    }
}

/// A 64-byte block as sixteen big-endian words.
fn block_words(block: &[u8; 64]) -> [u32; 16] {
    let (words, _) = block.as_chunks::<4>();
    core::array::from_fn(|i| words.get(i).map_or(0, |w| u32::from_be_bytes(*w)))
}

macro_rules! words_to_be {
    ($state:expr, $out:ty, $word:ty) => {{
        let mut out = <$out>::default();
        for (chunk, w) in out.chunks_exact_mut(size_of::<$word>()).zip($state.iter()) {
            chunk.copy_from_slice(&w.to_be_bytes());
        }
        out
    }};
}

pub(crate) struct Sha1;
impl BlockHash for Sha1 {
    type State = [u32; 5];
    type Block = [u8; 64];
    type Out = [u8; 20];
    const IV: [u32; 5] = [
        0x6745_2301,
        0xEFCD_AB89,
        0x98BA_DCFE,
        0x1032_5476,
        0xC3D2_E1F0,
    ];
    const ZERO_BLOCK: [u8; 64] = [0; 64];
    const ZERO_OUT: [u8; 20] = [0; 20];
    fn compress(state: &mut [u32; 5], block: &[u8; 64]) {
        sha1::block_api::compress(state, core::slice::from_ref(block));
    }
    fn digest_bytes(state: &[u32; 5]) -> [u8; 20] {
        words_to_be!(state, [u8; 20], u32)
    }
    #[allow(clippy::cast_possible_truncation, reason = "the low byte on purpose")]
    fn truncation_input(s: &[u32; 5]) -> TruncationInput {
        TruncationInput {
            words: *s,
            last: s[4] as u8,
        }
    }
    fn hash(data: &[u8]) -> [u8; 20] {
        sha1::Sha1::digest(data).into()
    }
    fn lockstep_last_blocks<const N: usize>(
        state: &[u32; 5],
        outer: &[u32; 5],
        blocks: &[[u8; 64]; N],
    ) -> Option<[[u32; 5]; N]> {
        // By reference: no copy of the blocks (which can hold a password
        // hash) is left behind.
        let mut words = blocks.each_ref().map(block_words);
        let states = lockstep::hmac_sha1_blocks(state, outer, &words);
        words.zeroize();
        states
    }
}

pub(crate) struct Sha256;
impl BlockHash for Sha256 {
    type State = [u32; 8];
    type Block = [u8; 64];
    type Out = [u8; 32];
    const IV: [u32; 8] = [
        0x6a09_e667,
        0xbb67_ae85,
        0x3c6e_f372,
        0xa54f_f53a,
        0x510e_527f,
        0x9b05_688c,
        0x1f83_d9ab,
        0x5be0_cd19,
    ];
    const ZERO_BLOCK: [u8; 64] = [0; 64];
    const ZERO_OUT: [u8; 32] = [0; 32];
    fn compress(state: &mut [u32; 8], block: &[u8; 64]) {
        sha2::block_api::compress256(state, core::slice::from_ref(block));
    }
    fn digest_bytes(state: &[u32; 8]) -> [u8; 32] {
        words_to_be!(state, [u8; 32], u32)
    }
    #[allow(clippy::cast_possible_truncation, reason = "the low byte on purpose")]
    fn truncation_input(s: &[u32; 8]) -> TruncationInput {
        TruncationInput {
            words: [s[0], s[1], s[2], s[3], s[4]],
            last: s[7] as u8,
        }
    }
    fn hash(data: &[u8]) -> [u8; 32] {
        sha2::Sha256::digest(data).into()
    }
    fn lockstep_last_blocks<const N: usize>(
        state: &[u32; 8],
        outer: &[u32; 8],
        blocks: &[[u8; 64]; N],
    ) -> Option<[[u32; 8]; N]> {
        // By reference: no copy of the blocks (which can hold a password
        // hash) is left behind.
        let mut words = blocks.each_ref().map(block_words);
        let states = lockstep::hmac_sha256_blocks(state, outer, &words);
        words.zeroize();
        states
    }
}

pub(crate) struct Sha512;
impl BlockHash for Sha512 {
    type State = [u64; 8];
    type Block = [u8; 128];
    type Out = [u8; 64];
    const IV: [u64; 8] = [
        0x6a09_e667_f3bc_c908,
        0xbb67_ae85_84ca_a73b,
        0x3c6e_f372_fe94_f82b,
        0xa54f_f53a_5f1d_36f1,
        0x510e_527f_ade6_82d1,
        0x9b05_688c_2b3e_6c1f,
        0x1f83_d9ab_fb41_bd6b,
        0x5be0_cd19_137e_2179,
    ];
    const ZERO_BLOCK: [u8; 128] = [0; 128];
    const ZERO_OUT: [u8; 64] = [0; 64];
    fn compress(state: &mut [u64; 8], block: &[u8; 128]) {
        sha2::block_api::compress512(state, core::slice::from_ref(block));
    }
    fn digest_bytes(state: &[u64; 8]) -> [u8; 64] {
        let mut out = [0u8; 64];
        for (chunk, w) in out.chunks_exact_mut(8).zip(state.iter()) {
            chunk.copy_from_slice(&w.to_be_bytes());
        }
        out
    }
    #[allow(
        clippy::cast_possible_truncation,
        reason = "splits u64 words on purpose"
    )]
    fn truncation_input(s: &[u64; 8]) -> TruncationInput {
        TruncationInput {
            words: [
                (s[0] >> 32) as u32,
                s[0] as u32,
                (s[1] >> 32) as u32,
                s[1] as u32,
                (s[2] >> 32) as u32,
            ],
            last: s[7] as u8,
        }
    }
    fn hash(data: &[u8]) -> [u8; 64] {
        sha2::Sha512::digest(data).into()
    }
}

/// HMAC (RFC 2104) with the pads absorbed: `inner = H(IV, K ^ ipad)`,
/// `outer = H(IV, K ^ opad)`.
pub(crate) struct HmacPads<H: BlockHash> {
    pub(crate) inner: H::State,
    pub(crate) outer: H::State,
}

impl<H: BlockHash> HmacPads<H> {
    pub(crate) fn new(secret: &[u8]) -> Self {
        let mut block = H::ZERO_BLOCK;
        let mut hashed = H::ZERO_OUT;
        let key: &[u8] = if secret.len() > block.as_ref().len() {
            hashed = H::hash(secret);
            hashed.as_ref()
        } else {
            secret
        };
        for (b, k) in block.as_mut().iter_mut().zip(key) {
            *b = *k;
        }
        let pad = |byte: u8| {
            let mut padded = block;
            for b in padded.as_mut() {
                *b ^= byte;
            }
            let mut state = H::IV;
            H::compress(&mut state, &padded);
            padded.as_mut().zeroize();
            state
        };
        let pads = Self {
            inner: pad(0x36),
            outer: pad(0x5c),
        };
        block.as_mut().zeroize();
        hashed.as_mut().zeroize();
        pads
    }

    /// HMAC of the 8-byte big-endian counter, as the outer hash's final
    /// state: two compressions.
    #[inline]
    pub(crate) fn mac_state(&self, counter: u64) -> H::State {
        let mut state = self.inner;
        H::compress(&mut state, &message_block::<H>(&counter.to_be_bytes()));
        let inner = H::digest_bytes(&state);
        let mut state = self.outer;
        H::compress(&mut state, &message_block::<H>(inner.as_ref()));
        state
    }

    /// HMAC of the 8-byte big-endian counter, as bytes.
    pub(crate) fn mac(&self, counter: u64) -> H::Out {
        H::digest_bytes(&self.mac_state(counter))
    }

    /// The dynamic-truncation value of the counter's HMAC.
    #[inline]
    pub(crate) fn truncated(&self, counter: u64) -> u32 {
        truncate(&H::truncation_input(&self.mac_state(counter)))
    }

    pub(crate) fn wipe(&mut self) {
        self.inner.zeroize();
        self.outer.zeroize();
    }
}

/// HMAC over a message of any length, fed in pieces: the inner hash
/// continues from the absorbed key pad, one block buffered. Used by OCRA,
/// whose message (the DataInput) runs from about 200 to 770 bytes. The
/// buffered block and the chaining state are zeroized on drop: the message
/// can hold a password hash.
pub(crate) struct HmacStream<H: BlockHash> {
    state: H::State,
    block: H::Block,
    /// Bytes buffered in `block`, always below the block length.
    filled: usize,
    /// Bytes hashed so far by the inner hash, the key pad block included.
    total: u64,
}

impl<H: BlockHash> Clone for HmacStream<H> {
    fn clone(&self) -> Self {
        Self {
            state: self.state,
            block: self.block,
            filled: self.filled,
            total: self.total,
        }
    }
}

impl<H: BlockHash> Drop for HmacStream<H> {
    fn drop(&mut self) {
        self.state.zeroize();
        self.block.as_mut().zeroize();
    }
}

impl<H: BlockHash> HmacPads<H> {
    /// An HMAC computation with nothing absorbed yet.
    pub(crate) fn stream(&self) -> HmacStream<H> {
        let block = H::ZERO_BLOCK;
        let block_len = block.as_ref().len() as u64;
        HmacStream {
            state: self.inner,
            block,
            filled: 0,
            total: block_len,
        }
    }

    /// Ends `stream` and returns the HMAC as the outer hash's final state.
    pub(crate) fn finish(&self, mut stream: HmacStream<H>) -> H::State {
        let block_len = stream.block.as_ref().len();
        // SHA-1 and SHA-256 end a message with its 64-bit length in bits,
        // SHA-512 with a 128-bit one: an eighth of the block either way.
        // (The message here is far below 2^61 bytes, so the upper half of
        // SHA-512's field is zero and only the last 8 bytes are written.)
        let length_field = block_len / 8;
        let bits = stream.total.wrapping_mul(8);
        let filled = stream.filled;
        {
            let bytes = stream.block.as_mut();
            if let Some(b) = bytes.get_mut(filled) {
                *b = 0x80;
            }
            for b in bytes.iter_mut().skip(filled.saturating_add(1)) {
                *b = 0;
            }
        }
        if filled.saturating_add(1) > block_len.saturating_sub(length_field) {
            H::compress(&mut stream.state, &stream.block);
            stream.block.as_mut().fill(0);
        }
        if let Some(tail) = stream.block.as_mut().get_mut(block_len.saturating_sub(8)..) {
            tail.copy_from_slice(&bits.to_be_bytes());
        }
        H::compress(&mut stream.state, &stream.block);
        let mut inner = H::digest_bytes(&stream.state);
        let mut state = self.outer;
        H::compress(&mut state, &message_block::<H>(inner.as_ref()));
        inner.as_mut().zeroize();
        state
    }

    /// [`finish`](Self::finish) of `N` copies of `stream`, each continued
    /// with its own 8-byte `tails` entry (OCRA's time steps after one
    /// question), the copies hashed in lockstep. `None` when the hash or
    /// the CPU has no lockstep path, or when a tail and the padding do not
    /// end the message in the block `stream` has buffered.
    pub(crate) fn finish_lockstep<const N: usize>(
        &self,
        stream: &HmacStream<H>,
        tails: &[[u8; 8]; N],
    ) -> Option<[H::State; N]> {
        let block_len = stream.block.as_ref().len();
        let end = stream.filled.saturating_add(8);
        // The 0x80 byte and the length field (an eighth of the block).
        if end.saturating_add(1).saturating_add(block_len / 8) > block_len {
            return None;
        }
        let bits = stream.total.wrapping_add(8).wrapping_mul(8);
        let mut blocks = [stream.block; N];
        for (block, tail) in blocks.iter_mut().zip(tails) {
            let bytes = block.as_mut();
            if let Some(dst) = bytes.get_mut(stream.filled..end) {
                dst.copy_from_slice(tail);
            }
            for b in bytes.iter_mut().skip(end) {
                *b = 0;
            }
            if let Some(b) = bytes.get_mut(end) {
                *b = 0x80;
            }
            if let Some(field) = bytes.get_mut(block_len.saturating_sub(8)..) {
                field.copy_from_slice(&bits.to_be_bytes());
            }
        }
        let states = H::lockstep_last_blocks(&stream.state, &self.outer, &blocks);
        for block in &mut blocks {
            block.as_mut().zeroize();
        }
        states
    }
}

impl<H: BlockHash> HmacStream<H> {
    /// Absorbs `data`, compressing each block as it fills.
    pub(crate) fn update(&mut self, data: &[u8]) {
        let block_len = self.block.as_ref().len();
        let mut rest = data;
        while !rest.is_empty() {
            let room = block_len.saturating_sub(self.filled);
            let (now, later) = rest.split_at(room.min(rest.len()));
            let end = self.filled.saturating_add(now.len());
            if let Some(dst) = self.block.as_mut().get_mut(self.filled..end) {
                dst.copy_from_slice(now);
            }
            self.filled = end;
            if self.filled == block_len {
                H::compress(&mut self.state, &self.block);
                self.filled = 0;
            }
            rest = later;
        }
        self.total = self.total.wrapping_add(data.len() as u64);
    }
}

/// The one padded block that follows the key pad: `message || 0x80 || 0…
/// || bit length`, where the length counts the pad block too.
#[inline]
pub(crate) fn message_block<H: BlockHash>(message: &[u8]) -> H::Block {
    let mut block = H::ZERO_BLOCK;
    let bytes = block.as_mut();
    let block_len = bytes.len();
    for (b, m) in bytes.iter_mut().zip(message) {
        *b = *m;
    }
    if let Some(b) = bytes.get_mut(message.len()) {
        *b = 0x80;
    }
    let bits = (block_len.wrapping_add(message.len()) as u64).wrapping_mul(8);
    if let Some(tail) = bytes.get_mut(block_len.saturating_sub(8)..) {
        tail.copy_from_slice(&bits.to_be_bytes());
    }
    block
}

#[cfg(test)]
#[allow(
    clippy::cast_possible_truncation,
    clippy::arithmetic_side_effects,
    reason = "test data built from small loop indices"
)]
mod tests {
    use super::*;
    use crate::Digits;
    use crate::lockstep;

    #[test]
    fn lockstep_lanes_match_the_portable_path() {
        if !lockstep::available() {
            eprintln!("SHA-NI not available: the lockstep path is not in use on this CPU");
            return;
        }
        fn check<const N: usize>(pads: &HmacPads<Sha1>, first: u64) {
            let counters: [u64; N] = core::array::from_fn(|i| first.wrapping_add(i as u64));
            let lanes = lockstep::hmac_sha1(&pads.inner, &pads.outer, &counters).unwrap();
            for (c, words) in counters.iter().zip(lanes) {
                assert_eq!(
                    Sha1::digest_bytes(&words),
                    pads.mac(*c),
                    "N={N} counter {c}"
                );
            }
        }
        for seed in 0u8..50 {
            let secret: [u8; 20] =
                core::array::from_fn(|i| seed.wrapping_mul(97).wrapping_add(i as u8));
            let pads = HmacPads::<Sha1>::new(&secret);
            for first in [0, 1, u64::from(seed) << 40, u64::MAX - 3] {
                check::<1>(&pads, first);
                check::<2>(&pads, first);
                check::<3>(&pads, first);
                check::<4>(&pads, first);
            }
        }
    }

    #[test]
    fn lockstep_last_blocks_match_finish_at_every_fill() {
        fn check<H: BlockHash>(key: &[u8]) {
            let pads = HmacPads::<H>::new(key);
            let message: [u8; 300] = core::array::from_fn(|i| (i as u8).wrapping_mul(29));
            let block_len = H::ZERO_BLOCK.as_ref().len();
            for len in 0..300 {
                let mut stream = pads.stream();
                stream.update(&message[..len]);
                let tails: [[u8; 8]; 4] =
                    core::array::from_fn(|i| (u64::MAX - 3 * i as u64).to_be_bytes());
                let fits = len % block_len + 8 + 1 + block_len / 8 <= block_len;
                match pads.finish_lockstep(&stream, &tails) {
                    Some(states) => {
                        assert!(fits, "length {len}: lockstep past the buffered block");
                        for (tail, state) in tails.iter().zip(&states) {
                            let mut one = stream.clone();
                            one.update(tail);
                            let want = H::digest_bytes(&pads.finish(one));
                            assert_eq!(
                                H::digest_bytes(state).as_ref(),
                                want.as_ref(),
                                "length {len}"
                            );
                        }
                    }
                    None => assert!(
                        !fits || !lockstep::available() || block_len != 64,
                        "length {len}: no lockstep where it fits"
                    ),
                }
            }
        }
        check::<Sha1>(b"12345678901234567890");
        check::<Sha256>(b"12345678901234567890123456789012");
        check::<Sha512>(&[7; 64]);
    }

    #[test]
    fn truncation_reads_the_offset_from_the_last_nibble() {
        // RFC 4226 §5.4 example.
        let mac = hex::decode("1f8698690e02ca16618550ef7f19da8e945b555a").unwrap();
        let words: [u32; 5] =
            core::array::from_fn(|i| u32::from_be_bytes(mac[4 * i..4 * i + 4].try_into().unwrap()));
        let input = TruncationInput {
            words,
            last: mac[19],
        };
        assert_eq!(truncate(&input), 0x50ef_7f19);
        assert_eq!(Digits::Six.reduce(truncate(&input)), 872_921);
        // Every offset, against the RFC's byte-indexed definition.
        for offset in 0u8..16 {
            let mut words = words;
            words[4] = (words[4] & !0x0f) | u32::from(offset);
            let mut bytes = [0u8; 20];
            for (c, w) in bytes.chunks_exact_mut(4).zip(words) {
                c.copy_from_slice(&w.to_be_bytes());
            }
            let o = usize::from(offset);
            let want = u32::from_be_bytes(bytes[o..o + 4].try_into().unwrap()) & 0x7fff_ffff;
            assert_eq!(
                truncate(&TruncationInput {
                    words,
                    last: bytes[19]
                }),
                want,
                "offset {offset}"
            );
        }
    }

    #[test]
    fn streaming_hmac_matches_the_hmac_crate_at_every_length() {
        use hmac::{KeyInit as _, Mac as _};
        fn check<H: BlockHash, M: hmac::Mac + hmac::KeyInit>(key: &[u8], message: &[u8]) {
            let pads = HmacPads::<H>::new(key);
            // Fed in uneven pieces, across block boundaries.
            let mut stream = pads.stream();
            for piece in message.chunks(37) {
                stream.update(piece);
            }
            let ours = H::digest_bytes(&pads.finish(stream));
            let mut theirs = <M as hmac::KeyInit>::new_from_slice(key).unwrap();
            theirs.update(message);
            assert_eq!(
                ours.as_ref(),
                &theirs.finalize().into_bytes()[..],
                "length {}",
                message.len()
            );
        }
        let message: [u8; 800] = core::array::from_fn(|i| (i as u8).wrapping_mul(13));
        for key_len in [16usize, 64, 100, 130] {
            let key: [u8; 130] = core::array::from_fn(|i| i as u8);
            let key = &key[..key_len];
            for len in (0..300).chain([447, 448, 500, 767, 800]) {
                check::<Sha1, hmac::Hmac<sha1::Sha1>>(key, &message[..len]);
                check::<Sha256, hmac::Hmac<sha2::Sha256>>(key, &message[..len]);
                check::<Sha512, hmac::Hmac<sha2::Sha512>>(key, &message[..len]);
            }
        }
        let _ = hmac::Hmac::<sha1::Sha1>::new_from_slice(b"k").map(|m| m.finalize());
    }
}
