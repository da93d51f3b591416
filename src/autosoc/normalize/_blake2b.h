/*
 * _blake2b.h -- BLAKE2b (RFC 7693), scalar and its compression in two, four or eight lanes (SSE2,
 * AVX2, AVX-512): the content ids of autosoc.normalize._columns and _decode (through _rowbuf.h) and
 * the signal ids of autosoc.detect.sigma._lines.  Included (each module gets its own static copy), never compiled on
 * its own.
 */
#ifndef AUTOSOC_BLAKE2B_H
#define AUTOSOC_BLAKE2B_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#if defined(__GNUC__) || defined(__clang__)
#define B2_UNUSED __attribute__((unused))
#else
#define B2_UNUSED
#endif

static const uint64_t b2_iv[8] = {
    0x6A09E667F3BCC908ULL, 0xBB67AE8584CAA73BULL, 0x3C6EF372FE94F82BULL, 0xA54FF53A5F1D36F1ULL,
    0x510E527FADE682D1ULL, 0x9B05688C2B3E6C1FULL, 0x1F83D9ABFB41BD6BULL, 0x5BE0CD19137E2179ULL,
};

/* the twelve rounds, each as B2_ROUND is defined where this is used (scalar or two lanes) */
#define B2_ROUNDS()                                                                                          \
    do {                                                                                                     \
        B2_ROUND(0); B2_ROUND(1); B2_ROUND(2); B2_ROUND(3); B2_ROUND(4); B2_ROUND(5);                        \
        B2_ROUND(6); B2_ROUND(7); B2_ROUND(8); B2_ROUND(9); B2_ROUND(10); B2_ROUND(11);                      \
    } while (0)

static const uint8_t b2_sigma[12][16] = { /* constant indexes once the rounds are unrolled */
    {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15},
    {14, 10, 4, 8, 9, 15, 13, 6, 1, 12, 0, 2, 11, 7, 5, 3},
    {11, 8, 12, 0, 5, 2, 15, 13, 10, 14, 3, 6, 7, 1, 9, 4},
    {7, 9, 3, 1, 13, 12, 11, 14, 2, 6, 5, 10, 4, 0, 15, 8},
    {9, 0, 5, 7, 2, 4, 10, 15, 14, 1, 11, 12, 6, 8, 3, 13},
    {2, 12, 6, 10, 0, 11, 8, 3, 4, 13, 7, 5, 15, 14, 1, 9},
    {12, 5, 1, 15, 14, 13, 4, 10, 0, 7, 6, 3, 9, 2, 8, 11},
    {13, 11, 7, 14, 12, 1, 3, 9, 5, 0, 15, 4, 8, 6, 2, 10},
    {6, 15, 14, 9, 11, 3, 0, 8, 12, 2, 13, 7, 1, 4, 10, 5},
    {10, 2, 8, 4, 7, 6, 1, 5, 15, 11, 9, 14, 3, 12, 13, 0},
    {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15},
    {14, 10, 4, 8, 9, 15, 13, 6, 1, 12, 0, 2, 11, 7, 5, 3},
};

#define ROTR64(x, n) (((x) >> (n)) | ((x) << (64 - (n))))
#define B2_G(a, b, c, d, x, y)                                                                               \
    do {                                                                                                     \
        v[a] = v[a] + v[b] + (x);                                                                            \
        v[d] = ROTR64(v[d] ^ v[a], 32);                                                                      \
        v[c] = v[c] + v[d];                                                                                  \
        v[b] = ROTR64(v[b] ^ v[c], 24);                                                                      \
        v[a] = v[a] + v[b] + (y);                                                                            \
        v[d] = ROTR64(v[d] ^ v[a], 16);                                                                      \
        v[c] = v[c] + v[d];                                                                                  \
        v[b] = ROTR64(v[b] ^ v[c], 63);                                                                      \
    } while (0)

static inline uint64_t
load64_le(const uint8_t *p)
{
    return (uint64_t)p[0] | (uint64_t)p[1] << 8 | (uint64_t)p[2] << 16 | (uint64_t)p[3] << 24 |
           (uint64_t)p[4] << 32 | (uint64_t)p[5] << 40 | (uint64_t)p[6] << 48 | (uint64_t)p[7] << 56;
}

static void
b2_compress(uint64_t h[8], const uint8_t block[128], uint64_t counter, int last)
{
    uint64_t v[16], m[16];
    for (int i = 0; i < 8; i++) {
        v[i] = h[i];
        v[i + 8] = b2_iv[i];
    }
    v[12] ^= counter; /* the high half of the 128-bit counter stays 0: no message here is 2^64 bytes */
    if (last)
        v[14] = ~v[14];
    for (int i = 0; i < 16; i++)
        m[i] = load64_le(block + 8 * i);
    /* every round spelled out, so that the message words are picked by constant indexes */
#define B2_ROUND(r)                                                                                          \
    do {                                                                                                     \
        B2_G(0, 4, 8, 12, m[b2_sigma[r][0]], m[b2_sigma[r][1]]);                                             \
        B2_G(1, 5, 9, 13, m[b2_sigma[r][2]], m[b2_sigma[r][3]]);                                             \
        B2_G(2, 6, 10, 14, m[b2_sigma[r][4]], m[b2_sigma[r][5]]);                                            \
        B2_G(3, 7, 11, 15, m[b2_sigma[r][6]], m[b2_sigma[r][7]]);                                            \
        B2_G(0, 5, 10, 15, m[b2_sigma[r][8]], m[b2_sigma[r][9]]);                                            \
        B2_G(1, 6, 11, 12, m[b2_sigma[r][10]], m[b2_sigma[r][11]]);                                          \
        B2_G(2, 7, 8, 13, m[b2_sigma[r][12]], m[b2_sigma[r][13]]);                                           \
        B2_G(3, 4, 9, 14, m[b2_sigma[r][14]], m[b2_sigma[r][15]]);                                           \
    } while (0)
    B2_ROUNDS();
#undef B2_ROUND
    for (int i = 0; i < 8; i++)
        h[i] ^= v[i] ^ v[i + 8];
}

#define B2_PARAMS (0x01010000ULL ^ 16) /* digest length 16, no key, fanout 1, depth 1 */

/* the 32 hex digits of the first 16 bytes of h (h[0], h[1]) */
static B2_UNUSED void
b2_hex(const uint64_t *h, char out[32])
{
    static const char hex[] = "0123456789abcdef";
    for (int i = 0; i < 16; i++) {
        uint8_t byte = (uint8_t)(h[i / 8] >> (8 * (i % 8)));
        out[2 * i] = hex[byte >> 4];
        out[2 * i + 1] = hex[byte & 15];
    }
}

/* the rest of a hash whose first `done` bytes are in h (done: a multiple of 128, below len unless
 * both are 0), its hex digest to out[32] */
static B2_UNUSED void
b2_finish(uint64_t h[8], const uint8_t *data, size_t len, size_t done, char out[32])
{
    uint8_t block[128];
    while (len - done > 128) {
        b2_compress(h, data + done, (uint64_t)(done + 128), 0);
        done += 128;
    }
    memset(block, 0, sizeof(block));
    memcpy(block, data + done, len - done);
    b2_compress(h, block, (uint64_t)len, 1);
    b2_hex(h, out);
}

/* hashlib.blake2b(data, digest_size=16).hexdigest(), written to out[32] */
static B2_UNUSED void
blake2b_128_hex(const uint8_t *data, size_t len, char out[32])
{
    uint64_t h[8];
    memcpy(h, b2_iv, sizeof(h));
    h[0] ^= B2_PARAMS;
    b2_finish(h, data, len, 0, out);
}


/* the unkeyed BLAKE2b digest (outlen bytes, 1-64) of the concatenated parts, without copying them
 * together: hashlib.blake2b(b"".join(parts), digest_size=outlen).digest() */
static B2_UNUSED void
blake2b_parts(const uint8_t *const *parts, const size_t *lens, int nparts, uint8_t *out, int outlen)
{
    uint64_t h[8];
    uint8_t block[128];
    size_t fill = 0;
    uint64_t counter = 0;
    memcpy(h, b2_iv, sizeof(h));
    h[0] ^= 0x01010000ULL ^ (uint64_t)outlen;
    for (int k = 0; k < nparts; k++) {
        const uint8_t *p = parts[k];
        size_t n = lens[k];
        while (n > 0) {
            if (fill == 128) { /* a full block is compressed only once more input follows it */
                counter += 128;
                b2_compress(h, block, counter, 0);
                fill = 0;
            }
            size_t take = 128 - fill < n ? 128 - fill : n;
            memcpy(block + fill, p, take);
            fill += take;
            p += take;
            n -= take;
        }
    }
    counter += (uint64_t)fill;
    memset(block + fill, 0, 128 - fill);
    b2_compress(h, block, counter, 1);
    for (int i = 0; i < outlen; i++)
        out[i] = (uint8_t)(h[i / 8] >> (8 * (i % 8)));
}

/* BLAKE2b's compression of block[k] into lane k of h (h[i][k]: word i of message k's state) for
 * the first 4 or 8 lanes, as many as the instruction set has; last[k] all ones on a message's
 * last block */
typedef void (*B2CompressN)(uint64_t h[8][8], const uint8_t *const block[8], const uint64_t counter[8],
                            const uint64_t last[8]);

/* Two messages at once, one in each 64-bit lane of SSE2 (every x86-64 has it): BLAKE2b's words
 * are 64 bits, so a lane does what the scalar code does, and the scalar code (four G at a time at
 * best, one dependent step after the other) leaves the vector units idle.  A third of the time
 * the hashing took, on rows of ~1.2 kB. */
#if defined(__SSE2__) || defined(_M_X64) || (defined(_M_IX86_FP) && _M_IX86_FP >= 2)
#include <emmintrin.h>
#define B2_TWO_LANES 1

#define X2_ROT32(x) _mm_shuffle_epi32((x), _MM_SHUFFLE(2, 3, 0, 1))
#define X2_ROT24(x) _mm_xor_si128(_mm_srli_epi64((x), 24), _mm_slli_epi64((x), 40))
#define X2_ROT16(x) _mm_shufflehi_epi16(_mm_shufflelo_epi16((x), _MM_SHUFFLE(0, 3, 2, 1)), _MM_SHUFFLE(0, 3, 2, 1))
#define X2_ROT63(x) _mm_xor_si128(_mm_srli_epi64((x), 63), _mm_add_epi64((x), (x)))
#define X2_G(a, b, c, d, x, y)                                                                               \
    do {                                                                                                     \
        v[a] = _mm_add_epi64(_mm_add_epi64(v[a], v[b]), m[x]);                                               \
        v[d] = X2_ROT32(_mm_xor_si128(v[d], v[a]));                                                          \
        v[c] = _mm_add_epi64(v[c], v[d]);                                                                    \
        v[b] = X2_ROT24(_mm_xor_si128(v[b], v[c]));                                                          \
        v[a] = _mm_add_epi64(_mm_add_epi64(v[a], v[b]), m[y]);                                               \
        v[d] = X2_ROT16(_mm_xor_si128(v[d], v[a]));                                                          \
        v[c] = _mm_add_epi64(v[c], v[d]);                                                                    \
        v[b] = X2_ROT63(_mm_xor_si128(v[b], v[c]));                                                          \
    } while (0)

/* b2_compress of block[0] into lane 0 of h and of block[1] into lane 1 */
static B2_UNUSED void
b2_compress2(__m128i h[8], const uint8_t *block[2], const uint64_t counter[2], const int last[2])
{
    __m128i v[16], m[16];
    for (int i = 0; i < 8; i++) {
        __m128i x = _mm_loadu_si128((const __m128i *)(block[0] + 16 * i));
        __m128i y = _mm_loadu_si128((const __m128i *)(block[1] + 16 * i));
        m[2 * i] = _mm_unpacklo_epi64(x, y);
        m[2 * i + 1] = _mm_unpackhi_epi64(x, y);
        v[i] = h[i];
        v[i + 8] = _mm_set1_epi64x((long long)b2_iv[i]);
    }
    v[12] = _mm_xor_si128(v[12], _mm_set_epi64x((long long)counter[1], (long long)counter[0]));
    v[14] = _mm_xor_si128(v[14], _mm_set_epi64x(last[1] ? -1LL : 0, last[0] ? -1LL : 0));
#define B2_ROUND(r)                                                                                          \
    do {                                                                                                     \
        X2_G(0, 4, 8, 12, b2_sigma[r][0], b2_sigma[r][1]);                                                   \
        X2_G(1, 5, 9, 13, b2_sigma[r][2], b2_sigma[r][3]);                                                   \
        X2_G(2, 6, 10, 14, b2_sigma[r][4], b2_sigma[r][5]);                                                  \
        X2_G(3, 7, 11, 15, b2_sigma[r][6], b2_sigma[r][7]);                                                  \
        X2_G(0, 5, 10, 15, b2_sigma[r][8], b2_sigma[r][9]);                                                  \
        X2_G(1, 6, 11, 12, b2_sigma[r][10], b2_sigma[r][11]);                                                \
        X2_G(2, 7, 8, 13, b2_sigma[r][12], b2_sigma[r][13]);                                                 \
        X2_G(3, 4, 9, 14, b2_sigma[r][14], b2_sigma[r][15]);                                                 \
    } while (0)
    B2_ROUNDS();
#undef B2_ROUND
    for (int i = 0; i < 8; i++)
        h[i] = _mm_xor_si128(h[i], _mm_xor_si128(v[i], v[i + 8]));
}
#endif

/* Four messages at once in the 64-bit lanes of AVX2, or eight in those of AVX-512, when the
 * processor has them (asked at run time, so that the module still runs on any x86-64): two or
 * four times the two lanes of SSE2 for about the same instructions.  The hashing was a quarter of
 * windows_lines' time with two lanes. */
#if defined(B2_TWO_LANES) && defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>
#define B2_WIDE_LANES 1

#define X4_ROT32(x) _mm256_shuffle_epi32((x), _MM_SHUFFLE(2, 3, 0, 1))
#define X4_ROT24(x) _mm256_shuffle_epi8((x), r24)
#define X4_ROT16(x) _mm256_shuffle_epi8((x), r16)
#define X4_ROT63(x) _mm256_xor_si256(_mm256_srli_epi64((x), 63), _mm256_add_epi64((x), (x)))
#define X4_G(a, b, c, d, x, y)                                                                               \
    do {                                                                                                     \
        v[a] = _mm256_add_epi64(_mm256_add_epi64(v[a], v[b]), m[x]);                                         \
        v[d] = X4_ROT32(_mm256_xor_si256(v[d], v[a]));                                                       \
        v[c] = _mm256_add_epi64(v[c], v[d]);                                                                 \
        v[b] = X4_ROT24(_mm256_xor_si256(v[b], v[c]));                                                       \
        v[a] = _mm256_add_epi64(_mm256_add_epi64(v[a], v[b]), m[y]);                                         \
        v[d] = X4_ROT16(_mm256_xor_si256(v[d], v[a]));                                                       \
        v[c] = _mm256_add_epi64(v[c], v[d]);                                                                 \
        v[b] = X4_ROT63(_mm256_xor_si256(v[b], v[c]));                                                       \
    } while (0)

/* AVX2, four lanes: the rotations by 16, 24 and 32 one byte shuffle each */
__attribute__((target("avx2"))) static void
b2_compress4_avx2(uint64_t h[8][8], const uint8_t *const block[8], const uint64_t counter[8], const uint64_t last[8])
{
    /* byte shuffles rotating every 64-bit word right by 3 and by 2 bytes */
    const __m256i r24 = _mm256_setr_epi8(3, 4, 5, 6, 7, 0, 1, 2, 11, 12, 13, 14, 15, 8, 9, 10,
                                         3, 4, 5, 6, 7, 0, 1, 2, 11, 12, 13, 14, 15, 8, 9, 10);
    const __m256i r16 = _mm256_setr_epi8(2, 3, 4, 5, 6, 7, 0, 1, 10, 11, 12, 13, 14, 15, 8, 9,
                                         2, 3, 4, 5, 6, 7, 0, 1, 10, 11, 12, 13, 14, 15, 8, 9);
    __m256i v[16], m[16];
    /* the message words transposed four by four: m[i] holds word i of each block */
    for (int i = 0; i < 16; i += 4) {
        __m256i a = _mm256_loadu_si256((const __m256i *)(block[0] + 8 * i));
        __m256i b = _mm256_loadu_si256((const __m256i *)(block[1] + 8 * i));
        __m256i c = _mm256_loadu_si256((const __m256i *)(block[2] + 8 * i));
        __m256i d = _mm256_loadu_si256((const __m256i *)(block[3] + 8 * i));
        __m256i ab_lo = _mm256_unpacklo_epi64(a, b), ab_hi = _mm256_unpackhi_epi64(a, b); /* a0 b0 a2 b2, a1 b1 a3 b3 */
        __m256i cd_lo = _mm256_unpacklo_epi64(c, d), cd_hi = _mm256_unpackhi_epi64(c, d);
        m[i] = _mm256_permute2x128_si256(ab_lo, cd_lo, 0x20);
        m[i + 1] = _mm256_permute2x128_si256(ab_hi, cd_hi, 0x20);
        m[i + 2] = _mm256_permute2x128_si256(ab_lo, cd_lo, 0x31);
        m[i + 3] = _mm256_permute2x128_si256(ab_hi, cd_hi, 0x31);
    }
    for (int i = 0; i < 8; i++) {
        v[i] = _mm256_loadu_si256((const __m256i *)h[i]);
        v[i + 8] = _mm256_set1_epi64x((long long)b2_iv[i]);
    }
    v[12] = _mm256_xor_si256(v[12], _mm256_loadu_si256((const __m256i *)counter));
    v[14] = _mm256_xor_si256(v[14], _mm256_loadu_si256((const __m256i *)last));
#define B2_ROUND(r)                                                                                          \
    do {                                                                                                     \
        X4_G(0, 4, 8, 12, b2_sigma[r][0], b2_sigma[r][1]);                                                   \
        X4_G(1, 5, 9, 13, b2_sigma[r][2], b2_sigma[r][3]);                                                   \
        X4_G(2, 6, 10, 14, b2_sigma[r][4], b2_sigma[r][5]);                                                  \
        X4_G(3, 7, 11, 15, b2_sigma[r][6], b2_sigma[r][7]);                                                  \
        X4_G(0, 5, 10, 15, b2_sigma[r][8], b2_sigma[r][9]);                                                  \
        X4_G(1, 6, 11, 12, b2_sigma[r][10], b2_sigma[r][11]);                                                \
        X4_G(2, 7, 8, 13, b2_sigma[r][12], b2_sigma[r][13]);                                                 \
        X4_G(3, 4, 9, 14, b2_sigma[r][14], b2_sigma[r][15]);                                                 \
    } while (0)
    B2_ROUNDS();
#undef B2_ROUND
    for (int i = 0; i < 8; i++) {
        __m256i x = _mm256_xor_si256(_mm256_loadu_si256((const __m256i *)h[i]), _mm256_xor_si256(v[i], v[i + 8]));
        _mm256_storeu_si256((__m256i *)h[i], x);
    }
}

/* AVX-512, eight lanes: a rotation is one instruction, and the message words are gathered from
 * the eight blocks (a fifth less time per message than AVX2's four lanes on the machine this
 * was measured on, clock changes of the core for 512-bit work included) */
#define X8_ROT(x, n) _mm512_ror_epi64((x), (n))
#define X8_G(a, b, c, d, x, y)                                                                               \
    do {                                                                                                     \
        v[a] = _mm512_add_epi64(_mm512_add_epi64(v[a], v[b]), m[x]);                                         \
        v[d] = X8_ROT(_mm512_xor_si512(v[d], v[a]), 32);                                                     \
        v[c] = _mm512_add_epi64(v[c], v[d]);                                                                 \
        v[b] = X8_ROT(_mm512_xor_si512(v[b], v[c]), 24);                                                     \
        v[a] = _mm512_add_epi64(_mm512_add_epi64(v[a], v[b]), m[y]);                                         \
        v[d] = X8_ROT(_mm512_xor_si512(v[d], v[a]), 16);                                                     \
        v[c] = _mm512_add_epi64(v[c], v[d]);                                                                 \
        v[b] = X8_ROT(_mm512_xor_si512(v[b], v[c]), 63);                                                     \
    } while (0)

__attribute__((target("avx512f"))) static void
b2_compress8_avx512(uint64_t h[8][8], const uint8_t *const block[8], const uint64_t counter[8], const uint64_t last[8])
{
    __m512i v[16], m[16];
    __m512i at = _mm512_loadu_si512((const void *)block); /* the eight addresses */
    for (int i = 0; i < 16; i++)
        m[i] = _mm512_i64gather_epi64(_mm512_add_epi64(at, _mm512_set1_epi64(8 * i)), NULL, 1);
    for (int i = 0; i < 8; i++) {
        v[i] = _mm512_loadu_si512((const void *)h[i]);
        v[i + 8] = _mm512_set1_epi64((long long)b2_iv[i]);
    }
    v[12] = _mm512_xor_si512(v[12], _mm512_loadu_si512((const void *)counter));
    v[14] = _mm512_xor_si512(v[14], _mm512_loadu_si512((const void *)last));
#define B2_ROUND(r)                                                                                          \
    do {                                                                                                     \
        X8_G(0, 4, 8, 12, b2_sigma[r][0], b2_sigma[r][1]);                                                   \
        X8_G(1, 5, 9, 13, b2_sigma[r][2], b2_sigma[r][3]);                                                   \
        X8_G(2, 6, 10, 14, b2_sigma[r][4], b2_sigma[r][5]);                                                  \
        X8_G(3, 7, 11, 15, b2_sigma[r][6], b2_sigma[r][7]);                                                  \
        X8_G(0, 5, 10, 15, b2_sigma[r][8], b2_sigma[r][9]);                                                  \
        X8_G(1, 6, 11, 12, b2_sigma[r][10], b2_sigma[r][11]);                                                \
        X8_G(2, 7, 8, 13, b2_sigma[r][12], b2_sigma[r][13]);                                                 \
        X8_G(3, 4, 9, 14, b2_sigma[r][14], b2_sigma[r][15]);                                                 \
    } while (0)
    B2_ROUNDS();
#undef B2_ROUND
    for (int i = 0; i < 8; i++)
        _mm512_storeu_si512((void *)h[i],
                            _mm512_xor_si512(_mm512_loadu_si512((const void *)h[i]), _mm512_xor_si512(v[i], v[i + 8])));
}

/* the compression this processor runs, with its lanes (NULL: none, then SSE2's two lanes);
 * asked once, by b2_wide */
static B2CompressN b2_compress_n;
static int b2_lanes, b2_asked;

/* the wide compression of this processor (AVX-512's eight lanes, else AVX2's four), its lanes in
 * *lanes; NULL without either */
static B2_UNUSED B2CompressN
b2_wide(int *lanes)
{
    if (!b2_asked) {
        b2_asked = 1;
        if (__builtin_cpu_supports("avx512f")) {
            b2_compress_n = b2_compress8_avx512;
            b2_lanes = 8;
        }
        else if (__builtin_cpu_supports("avx2")) {
            b2_compress_n = b2_compress4_avx2;
            b2_lanes = 4;
        }
    }
    *lanes = b2_lanes;
    return b2_compress_n;
}

#endif /* B2_WIDE_LANES */

#endif /* AUTOSOC_BLAKE2B_H */
