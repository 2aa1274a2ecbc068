#!/usr/bin/env python3
"""otp-ffi's C ABI from Python through ctypes (standard library only).

Loads target/debug/libotp_ffi.so (build it first: `cargo build -p
otp-ffi`; another path with OTP_FFI_LIB), checks RFC 4226, RFC 6238 and
RFC 6287 vectors, verifies a HOTP code with the state buffer and sees its
replay refused. Exits nonzero on any mismatch.

    python3 examples/python/verify.py
"""

import ctypes
import os
import sys
from ctypes import POINTER, c_char_p, c_int32, c_size_t, c_uint8, c_uint16, c_uint32, c_uint64

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
LIB = os.environ.get("OTP_FFI_LIB", os.path.join(ROOT, "target", "debug", "libotp_ffi.so"))

# The values of otp.h's constants (crates/otp-ffi/include/otp.h).
OTP_OK = 0
OTP_BUFFER_TOO_SMALL = 12
OTP_REJECTED_REPLAYED = 21
OTP_ALG_SHA1, OTP_ALG_SHA256, OTP_ALG_SHA512 = 1, 2, 3
OTP_MODE_HOTP = 1
OTP_STATE_LEN = 32
OTP_MAX_OUTPUT_LEN = 129

lib = ctypes.CDLL(LIB)
lib.otp_hotp.argtypes = [c_uint32, c_char_p, c_size_t, c_uint64, c_uint8, c_char_p, c_size_t]
lib.otp_hotp.restype = c_int32
lib.otp_totp.argtypes = [c_uint32, c_char_p, c_size_t, c_uint64, c_uint64, c_uint64, c_uint8,
                         c_char_p, c_size_t]
lib.otp_totp.restype = c_int32
lib.otp_state_init.argtypes = [c_uint64, c_char_p]
lib.otp_state_init.restype = c_int32
lib.otp_verify.argtypes = [c_uint32, c_uint32, c_char_p, c_size_t, c_uint8, c_uint64, c_uint64,
                           c_char_p, c_char_p, c_size_t, c_uint64, c_uint16, c_uint16, c_uint32,
                           c_char_p, POINTER(c_uint64)]
lib.otp_verify.restype = c_int32
lib.otp_ocra.argtypes = [c_char_p, c_size_t, c_char_p, c_size_t, c_char_p, c_size_t,
                         c_char_p, c_size_t, POINTER(c_uint64), c_char_p, c_size_t,
                         c_char_p, c_size_t, POINTER(c_uint64), c_char_p, c_size_t]
lib.otp_ocra.restype = c_int32

KEY20 = b"12345678901234567890"
KEY32 = b"12345678901234567890123456789012"
KEY64 = b"1234567890123456789012345678901234567890123456789012345678901234"
PIN_SHA1 = bytes.fromhex("7110eda4d09e062aa5e4a390b0a572ac0d2c0220")

failures = 0


def check(what, got, want):
    global failures
    if got != want:
        print(f"FAIL {what}: got {got!r}, want {want!r}", file=sys.stderr)
        failures += 1


def hotp(key, counter, digits=6):
    out = ctypes.create_string_buffer(OTP_MAX_OUTPUT_LEN)
    status = lib.otp_hotp(OTP_ALG_SHA1, key, len(key), counter, digits, out, len(out))
    return status, out.value.decode()


def totp(alg, key, time, digits=8):
    out = ctypes.create_string_buffer(OTP_MAX_OUTPUT_LEN)
    status = lib.otp_totp(alg, key, len(key), time, 30, 0, digits, out, len(out))
    return status, out.value.decode()


def ocra(suite, key, question, counter=None, pin=None, time_step=None):
    out = ctypes.create_string_buffer(OTP_MAX_OUTPUT_LEN)
    c = ctypes.byref(c_uint64(counter)) if counter is not None else None
    t = ctypes.byref(c_uint64(time_step)) if time_step is not None else None
    status = lib.otp_ocra(suite, len(suite), key, len(key), question, len(question), None, 0,
                          c, pin, len(pin) if pin else 0, None, 0, t, out, len(out))
    return status, out.value.decode()


# RFC 4226 Appendix D.
for count, want in enumerate(["755224", "287082", "359152", "969429", "338314",
                              "254676", "287922", "162583", "399871", "520489"]):
    check(f"RFC 4226 count {count}", hotp(KEY20, count), (OTP_OK, want))

# RFC 6238 Appendix B (a row of each algorithm).
check("RFC 6238 SHA1 at 59", totp(OTP_ALG_SHA1, KEY20, 59), (OTP_OK, "94287082"))
check("RFC 6238 SHA256 at 1111111109", totp(OTP_ALG_SHA256, KEY32, 1111111109), (OTP_OK, "68084774"))
check("RFC 6238 SHA512 at 20000000000", totp(OTP_ALG_SHA512, KEY64, 20000000000), (OTP_OK, "47863826"))

# RFC 6287 Appendix C.
check("RFC 6287 QN08", ocra(b"OCRA-1:HOTP-SHA1-6:QN08", KEY20, b"00000000"), (OTP_OK, "237653"))
check("RFC 6287 C-QN08-PSHA1 C=1",
      ocra(b"OCRA-1:HOTP-SHA256-8:C-QN08-PSHA1", KEY32, b"12345678", counter=1, pin=PIN_SHA1),
      (OTP_OK, "86775851"))
check("RFC 6287 QA10-T1M signature",
      ocra(b"OCRA-1:HOTP-SHA512-8:QA10-T1M", KEY64, b"SIG1000000", time_step=0x132d0b6),
      (OTP_OK, "77537423"))

# A caller error: no room for the NUL.
small = ctypes.create_string_buffer(6)
check("buffer too small", lib.otp_hotp(OTP_ALG_SHA1, KEY20, 20, 0, 6, small, 6), OTP_BUFFER_TOO_SMALL)

# Verification with the state buffer the bank stores: accepted, then replayed.
state = ctypes.create_string_buffer(OTP_STATE_LEN)
check("state init", lib.otp_state_init(0, state), OTP_OK)
position = c_uint64(0)
for want in (OTP_OK, OTP_REJECTED_REPLAYED):
    status = lib.otp_verify(OTP_MODE_HOTP, OTP_ALG_SHA1, KEY20, 20, 6, 0, 0, state.raw,
                            b"287082", 6, 0, 1, 10, 6, state, ctypes.byref(position))
    check("HOTP verify count 1" if want == OTP_OK else "HOTP replay", status, want)
check("accepted position", position.value, 1)
check("state floor", int.from_bytes(state.raw[1:9], "little"), 2)

if failures:
    print(f"{failures} check(s) failed", file=sys.stderr)
    sys.exit(1)
print("otp-ffi Python example: RFC 4226, 6238 and 6287 vectors and the state checks passed")
