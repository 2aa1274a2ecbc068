/* Checks the C ABI of otp-ffi against the RFCs' own test vectors, linked
 * statically: RFC 4226 Appendix D (HOTP), RFC 6238 Appendix B (TOTP,
 * SHA-1/256/512, 8 digits), RFC 6287 Appendix C (OCRA: one-way, mutual,
 * signature), then a verification through the state buffer with a replay
 * refused. Exits nonzero on any mismatch. Build and run: make run */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "otp.h"

static int failures = 0;

static void check(const char *what, int32_t status, int32_t want_status,
                  const char *got, const char *want) {
    if (status != want_status || (want != NULL && strcmp(got, want) != 0)) {
        fprintf(stderr, "FAIL %s: status %d (want %d), got \"%s\" want \"%s\"\n",
                what, status, want_status, got, want ? want : "");
        failures++;
    }
}

#define KEY20 "12345678901234567890"
#define KEY32 "12345678901234567890123456789012"
#define KEY64 "1234567890123456789012345678901234567890123456789012345678901234"

/* SHA-1 of the PIN "1234" (RFC 6287 Appendix C). */
static const uint8_t PIN_SHA1[20] = {0x71, 0x10, 0xed, 0xa4, 0xd0, 0x9e, 0x06, 0x2a, 0xa5, 0xe4,
                                     0xa3, 0x90, 0xb0, 0xa5, 0x72, 0xac, 0x0d, 0x2c, 0x02, 0x20};

static const char *const HOTP[10] = {"755224", "287082", "359152", "969429", "338314",
                                     "254676", "287922", "162583", "399871", "520489"};

static const struct {
    uint64_t time;
    uint32_t alg;
    const char *totp;
} TOTP[] = {
    {59ULL, OTP_ALG_SHA1, "94287082"},          {59ULL, OTP_ALG_SHA256, "46119246"},
    {59ULL, OTP_ALG_SHA512, "90693936"},        {1111111109ULL, OTP_ALG_SHA1, "07081804"},
    {1111111109ULL, OTP_ALG_SHA256, "68084774"}, {1111111109ULL, OTP_ALG_SHA512, "25091201"},
    {1111111111ULL, OTP_ALG_SHA1, "14050471"},  {1111111111ULL, OTP_ALG_SHA256, "67062674"},
    {1111111111ULL, OTP_ALG_SHA512, "99943326"}, {1234567890ULL, OTP_ALG_SHA1, "89005924"},
    {1234567890ULL, OTP_ALG_SHA256, "91819424"}, {1234567890ULL, OTP_ALG_SHA512, "93441116"},
    {2000000000ULL, OTP_ALG_SHA1, "69279037"},  {2000000000ULL, OTP_ALG_SHA256, "90698825"},
    {2000000000ULL, OTP_ALG_SHA512, "38618901"}, {20000000000ULL, OTP_ALG_SHA1, "65353130"},
    {20000000000ULL, OTP_ALG_SHA256, "77737706"}, {20000000000ULL, OTP_ALG_SHA512, "47863826"},
};

static const char *seed_for(uint32_t alg) {
    return alg == OTP_ALG_SHA1 ? KEY20 : alg == OTP_ALG_SHA256 ? KEY32 : KEY64;
}

static const struct {
    const char *suite, *key, *q, *q2; /* q2 NULL: one question */
    int has_counter;
    uint64_t counter;
    int pin;
    int has_time;
    uint64_t time_step;
    const char *ocra;
} OCRA[] = {
    /* C.1 one-way challenge-response */
    {"OCRA-1:HOTP-SHA1-6:QN08", KEY20, "00000000", NULL, 0, 0, 0, 0, 0, "237653"},
    {"OCRA-1:HOTP-SHA256-8:C-QN08-PSHA1", KEY32, "12345678", NULL, 1, 0, 1, 0, 0, "65347737"},
    {"OCRA-1:HOTP-SHA256-8:QN08-PSHA1", KEY32, "00000000", NULL, 0, 0, 1, 0, 0, "83238735"},
    {"OCRA-1:HOTP-SHA512-8:C-QN08", KEY64, "00000000", NULL, 1, 0, 0, 0, 0, "07016083"},
    {"OCRA-1:HOTP-SHA512-8:QN08-T1M", KEY64, "00000000", NULL, 0, 0, 0, 1, 0x132d0b6, "95209754"},
    /* C.2 mutual challenge-response: server, then client */
    {"OCRA-1:HOTP-SHA256-8:QA08", KEY32, "CLI22220", "SRV11110", 0, 0, 0, 0, 0, "28247970"},
    {"OCRA-1:HOTP-SHA256-8:QA08", KEY32, "SRV11110", "CLI22220", 0, 0, 0, 0, 0, "15510767"},
    {"OCRA-1:HOTP-SHA512-8:QA08-PSHA1", KEY64, "SRV11110", "CLI22220", 0, 0, 1, 0, 0, "18806276"},
    /* C.3 plain signature */
    {"OCRA-1:HOTP-SHA256-8:QA08", KEY32, "SIG10000", NULL, 0, 0, 0, 0, 0, "53095496"},
    {"OCRA-1:HOTP-SHA512-8:QA10-T1M", KEY64, "SIG1000000", NULL, 0, 0, 0, 1, 0x132d0b6, "77537423"},
};

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))
#define BYTES(s) (const uint8_t *)(s), strlen(s)

int main(void) {
    char out[OTP_MAX_OUTPUT_LEN];
    char what[96];

    for (uint64_t count = 0; count < COUNT(HOTP); count++) {
        int32_t status = otp_hotp(OTP_ALG_SHA1, BYTES(KEY20), count, 6, (uint8_t *)out, sizeof out);
        snprintf(what, sizeof what, "RFC 4226 HOTP count %llu", (unsigned long long)count);
        check(what, status, OTP_OK, out, HOTP[count]);
    }

    for (size_t i = 0; i < COUNT(TOTP); i++) {
        int32_t status = otp_totp(TOTP[i].alg, BYTES(seed_for(TOTP[i].alg)), TOTP[i].time, 30, 0, 8,
                                  (uint8_t *)out, sizeof out);
        snprintf(what, sizeof what, "RFC 6238 TOTP alg %u at %llu", TOTP[i].alg,
                 (unsigned long long)TOTP[i].time);
        check(what, status, OTP_OK, out, TOTP[i].totp);
    }

    for (size_t i = 0; i < COUNT(OCRA); i++) {
        const char *q2 = OCRA[i].q2;
        int32_t status = otp_ocra(BYTES(OCRA[i].suite), BYTES(OCRA[i].key), BYTES(OCRA[i].q),
                                  (const uint8_t *)q2, q2 ? strlen(q2) : 0,
                                  OCRA[i].has_counter ? &OCRA[i].counter : NULL,
                                  OCRA[i].pin ? PIN_SHA1 : NULL, OCRA[i].pin ? sizeof PIN_SHA1 : 0,
                                  NULL, 0, OCRA[i].has_time ? &OCRA[i].time_step : NULL,
                                  (uint8_t *)out, sizeof out);
        snprintf(what, sizeof what, "RFC 6287 %s q=%s", OCRA[i].suite, OCRA[i].q);
        check(what, status, OTP_OK, out, OCRA[i].ocra);
    }

    /* Verification: the bank stores the OTP_STATE_LEN-byte state (a column
     * of the token's row) and passes it back each time; the same buffer
     * may be input and output. */
    uint8_t state[OTP_STATE_LEN];
    uint64_t position = 0;
    check("state init", otp_state_init(0, state), OTP_OK, "", NULL);
    int32_t status = otp_verify(OTP_MODE_HOTP, OTP_ALG_SHA1, BYTES(KEY20), 6, 0, 0, state,
                                BYTES("287082"), 0, 1, 10, 6, state, &position);
    check("HOTP verify count 1", status, OTP_OK, "", NULL);
    if (position != 1) {
        fprintf(stderr, "FAIL HOTP verify: position %llu, want 1\n", (unsigned long long)position);
        failures++;
    }
    status = otp_verify(OTP_MODE_HOTP, OTP_ALG_SHA1, BYTES(KEY20), 6, 0, 0, state, BYTES("287082"),
                        0, 1, 10, 6, state, &position);
    check("HOTP replay refused", status, OTP_REJECTED_REPLAYED, "", NULL);
    status = otp_verify(OTP_MODE_HOTP, OTP_ALG_SHA1, BYTES(KEY20), 6, 0, 0, state, BYTES("359152"),
                        0, 1, 10, 6, state, &position);
    check("HOTP verify count 2", status, OTP_OK, "", NULL);

    /* OCRA signature with a counter: C = 0 of RFC 6287 C.1, then its replay. */
    uint8_t ocra_state[OTP_STATE_LEN];
    uint64_t counter = UINT64_MAX;
    check("OCRA state init", otp_state_init(0, ocra_state), OTP_OK, "", NULL);
    for (int round = 0; round < 2; round++) {
        status = otp_ocra_verify(BYTES("OCRA-1:HOTP-SHA256-8:C-QN08-PSHA1"), BYTES(KEY32),
                                 BYTES("12345678"), NULL, 0, PIN_SHA1, sizeof PIN_SHA1, NULL, 0,
                                 BYTES("65347737"), 0, 1, 10, 0, 0, 6, ocra_state, ocra_state,
                                 &counter, NULL);
        check(round == 0 ? "OCRA verify C = 0" : "OCRA replay refused", status,
              round == 0 ? OTP_OK : OTP_REJECTED_REPLAYED, "", NULL);
    }
    if (counter != 0) {
        fprintf(stderr, "FAIL OCRA verify: counter %llu, want 0\n", (unsigned long long)counter);
        failures++;
    }

    /* A caller error: an output buffer without room for the NUL. */
    char small[6];
    status = otp_hotp(OTP_ALG_SHA1, BYTES(KEY20), 0, 6, (uint8_t *)small, sizeof small);
    check("buffer too small", status, OTP_BUFFER_TOO_SMALL, "", NULL);

    if (failures != 0) {
        fprintf(stderr, "%d check(s) failed\n", failures);
        return 1;
    }
    printf("otp-ffi C example: %zu HOTP, %zu TOTP, %zu OCRA vectors and the state checks passed\n",
           COUNT(HOTP), COUNT(TOTP), COUNT(OCRA));
    return 0;
}
