/*
 * _blake2b.h -- scalar BLAKE2b (RFC 7693): the content ids of autosoc.normalize._columns and _decode
 * (through _rowbuf.h, which adds the many-lane versions) and the signal ids of
 * autosoc.detect.sigma._lines.  Included (each module gets its own static copy), never compiled on
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

#endif /* AUTOSOC_BLAKE2B_H */
