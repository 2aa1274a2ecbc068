//! Where the caller's raw pointers become slices and outputs are written,
//! each checked for NULL and length first. Each helper is an `unsafe fn`:
//! a NULL check cannot tell a dangling pointer from a good one, so the
//! helpers pass the C caller's contract (the exported functions' `# Safety`
//! sections, docs/ffi.md) on instead of claiming to be safe.

#![allow(
    unsafe_code,
    reason = "a C ABI receives raw pointers; this module is where they become slices, each with a SAFETY comment"
)]

use crate::{OTP_BAD_LENGTH, OTP_BUFFER_TOO_SMALL, OTP_NULL_POINTER};

/// The longest input buffer any function accepts (keys, questions,
/// sessions, codes are all far shorter): a larger length is a caller's bug
/// (say, a negative length cast to `size_t`), refused before it is used.
pub(crate) const MAX_INPUT_LEN: usize = 4096;

/// A required input: `ptr` must not be NULL, `len` at most
/// [`MAX_INPUT_LEN`]; `len == 0` gives an empty slice.
///
/// # Safety
///
/// `ptr`, when not NULL, points to `len` readable bytes that stay valid
/// and unchanged while the returned slice lives.
pub(crate) unsafe fn slice_from<'a>(ptr: *const u8, len: usize) -> Result<&'a [u8], i32> {
    if ptr.is_null() {
        return Err(OTP_NULL_POINTER);
    }
    if len > MAX_INPUT_LEN {
        return Err(OTP_BAD_LENGTH);
    }
    // SAFETY: `ptr` is not NULL, and the C contract (docs/ffi.md, otp.h)
    // is that it points to `len` readable bytes that stay valid and
    // unmodified for the duration of the call; the slice does not outlive
    // the call (the caller's functions copy what they keep).
    Ok(unsafe { core::slice::from_raw_parts(ptr, len) })
}

/// An optional input: NULL means absent (`None`), whatever `len` says.
///
/// # Safety
///
/// As [`slice_from`] when `ptr` is not NULL.
pub(crate) unsafe fn optional_slice<'a>(
    ptr: *const u8,
    len: usize,
) -> Result<Option<&'a [u8]>, i32> {
    if ptr.is_null() {
        Ok(None)
    } else {
        // SAFETY: forwarded: this function's contract is `slice_from`'s.
        unsafe { slice_from(ptr, len) }.map(Some)
    }
}

/// A fixed-size input array (the token state): copied, so that the same
/// buffer may be passed as input and output.
///
/// # Safety
///
/// `ptr`, when not NULL, points to `N` readable bytes.
pub(crate) unsafe fn read_array<const N: usize>(ptr: *const u8) -> Result<[u8; N], i32> {
    let mut out = [0u8; N];
    // SAFETY: forwarded: `ptr` points to `N` readable bytes.
    out.copy_from_slice(unsafe { slice_from(ptr, N) }?);
    Ok(out)
}

/// An optional `const uint64_t *`: NULL means absent.
///
/// # Safety
///
/// `ptr`, when not NULL, points to a readable `uint64_t`.
pub(crate) unsafe fn optional_u64(ptr: *const u64) -> Option<u64> {
    if ptr.is_null() {
        None
    } else {
        // SAFETY: not NULL; the C contract is that a non-NULL pointer
        // points to a readable `uint64_t`. `read_unaligned` asks no
        // alignment of the caller.
        Some(unsafe { ptr.read_unaligned() })
    }
}

/// Writes `bytes` then a NUL into the caller's buffer of `cap` bytes.
///
/// # Safety
///
/// `out`, when not NULL, points to `cap` writable bytes that nothing
/// else reads or writes during the call.
pub(crate) unsafe fn write_cstr(out: *mut u8, cap: usize, bytes: &[u8]) -> Result<(), i32> {
    if out.is_null() {
        return Err(OTP_NULL_POINTER);
    }
    if cap > MAX_INPUT_LEN.saturating_mul(16) {
        return Err(OTP_BAD_LENGTH);
    }
    let needed = bytes.len().saturating_add(1);
    if cap < needed {
        return Err(OTP_BUFFER_TOO_SMALL);
    }
    // SAFETY: `out` is not NULL and the C contract is that it points to
    // `cap` writable bytes; `needed <= cap` bytes are written, and nothing
    // else holds a reference into the buffer during the call.
    let buf = unsafe { core::slice::from_raw_parts_mut(out, needed) };
    let (text, nul) = buf.split_at_mut(bytes.len());
    text.copy_from_slice(bytes);
    nul.fill(0);
    Ok(())
}

/// Writes a fixed-size output array (the token state).
///
/// # Safety
///
/// `out`, when not NULL, points to `N` writable bytes that nothing else
/// reads or writes during the call.
pub(crate) unsafe fn write_array<const N: usize>(out: *mut u8, bytes: &[u8; N]) -> Result<(), i32> {
    if out.is_null() {
        return Err(OTP_NULL_POINTER);
    }
    // SAFETY: not NULL; the C contract is that it points to `N` writable
    // bytes (`OTP_STATE_LEN` for the state). Any input slice of the same
    // buffer was copied (`read_array`) before this write.
    unsafe { core::ptr::copy_nonoverlapping(bytes.as_ptr(), out, N) };
    Ok(())
}

/// Writes an optional `uint64_t *` output: NULL means "not wanted".
///
/// # Safety
///
/// `out`, when not NULL, points to a writable `uint64_t`.
pub(crate) unsafe fn write_optional_u64(out: *mut u64, value: u64) {
    if !out.is_null() {
        // SAFETY: not NULL; the C contract is that a non-NULL pointer
        // points to a writable `uint64_t`; unaligned is fine.
        unsafe { out.write_unaligned(value) };
    }
}

#[cfg(test)]
#[allow(
    clippy::undocumented_unsafe_blocks,
    reason = "tests: every pointer is to a local of the stated length, or NULL"
)]
mod tests {
    use super::*;

    #[test]
    fn slice_from_refuses_null_and_overlong_and_accepts_empty() {
        // SAFETY: every pointer is to a local buffer of the length given, or NULL.
        unsafe {
            assert_eq!(slice_from(core::ptr::null(), 4), Err(OTP_NULL_POINTER));
            assert_eq!(slice_from(core::ptr::null(), 0), Err(OTP_NULL_POINTER));
            let data = [1u8, 2, 3];
            assert_eq!(slice_from(data.as_ptr(), 0), Ok(&[][..]));
            assert_eq!(slice_from(data.as_ptr(), 3), Ok(&data[..]));
            // The length is checked before the pointer is used.
            assert_eq!(
                slice_from(data.as_ptr(), MAX_INPUT_LEN + 1),
                Err(OTP_BAD_LENGTH)
            );
            assert_eq!(slice_from(data.as_ptr(), usize::MAX), Err(OTP_BAD_LENGTH));
        }
    }

    #[test]
    fn optional_slice_is_none_for_null() {
        // SAFETY: every pointer is to a local buffer of the length given, or NULL.
        unsafe {
            assert_eq!(optional_slice(core::ptr::null(), 99), Ok(None));
            let data = [7u8];
            assert_eq!(optional_slice(data.as_ptr(), 1), Ok(Some(&data[..])));
            assert_eq!(
                optional_slice(data.as_ptr(), usize::MAX),
                Err(OTP_BAD_LENGTH)
            );
        }
    }

    #[test]
    fn read_array_copies_and_refuses_null() {
        // SAFETY: every pointer is to a local buffer of the length given, or NULL.
        unsafe {
            let data = [9u8; 4];
            assert_eq!(read_array::<4>(data.as_ptr()), Ok([9u8; 4]));
            assert_eq!(read_array::<4>(core::ptr::null()), Err(OTP_NULL_POINTER));
        }
    }

    #[test]
    fn optional_u64_reads_or_is_none() {
        // SAFETY: every pointer is to a local buffer of the length given, or NULL.
        unsafe {
            let v = 0x0123_4567_89ab_cdefu64;
            assert_eq!(optional_u64(&v), Some(v));
            assert_eq!(optional_u64(core::ptr::null()), None);
        }
    }

    #[test]
    fn write_cstr_writes_nul_and_refuses_small_or_null() {
        // SAFETY: every pointer is to a local buffer of the length given, or NULL.
        unsafe {
            let mut buf = [0xffu8; 8];
            assert_eq!(write_cstr(buf.as_mut_ptr(), 8, b"1234"), Ok(()));
            assert_eq!(&buf[..6], b"1234\0\xff");
            // Exactly the text and its NUL fits.
            let mut exact = [0xffu8; 5];
            assert_eq!(write_cstr(exact.as_mut_ptr(), 5, b"1234"), Ok(()));
            assert_eq!(&exact, b"1234\0");
            let mut small = [0xffu8; 4];
            assert_eq!(
                write_cstr(small.as_mut_ptr(), 4, b"1234"),
                Err(OTP_BUFFER_TOO_SMALL)
            );
            assert_eq!(small, [0xff; 4], "nothing written on refusal");
            assert_eq!(
                write_cstr(small.as_mut_ptr(), 0, b""),
                Err(OTP_BUFFER_TOO_SMALL)
            );
            assert_eq!(
                write_cstr(core::ptr::null_mut(), 8, b"1"),
                Err(OTP_NULL_POINTER)
            );
            assert_eq!(
                write_cstr(small.as_mut_ptr(), usize::MAX, b"1"),
                Err(OTP_BAD_LENGTH)
            );
        }
    }

    #[test]
    fn write_array_and_optional_u64() {
        // SAFETY: every pointer is to a local buffer of the length given, or NULL.
        unsafe {
            let mut out = [0u8; 3];
            assert_eq!(write_array(out.as_mut_ptr(), &[1, 2, 3]), Ok(()));
            assert_eq!(out, [1, 2, 3]);
            assert_eq!(
                write_array(core::ptr::null_mut(), &[1, 2, 3]),
                Err(OTP_NULL_POINTER)
            );
            let mut v = 0u64;
            write_optional_u64(&mut v, 42);
            assert_eq!(v, 42);
            write_optional_u64(core::ptr::null_mut(), 42);
        }
    }
}
