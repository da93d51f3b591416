/*
 * _json_escape.h -- JSON strings as orjson writes them (\" \\ \b \f \n \r \t, other controls
 * \u00xx, the rest as it is), for autosoc.normalize._columns and _decode (through _rowbuf.h) and
 * autosoc.detect.sigma._lines.  Call init_escapes() once (module init).  Included, never compiled
 * on its own.
 */
#ifndef AUTOSOC_JSON_ESCAPE_H
#define AUTOSOC_JSON_ESCAPE_H

#include <Python.h>
#include <stdint.h>
#include <string.h>
#if defined(__SSE2__) || defined(_M_X64)
#include <emmintrin.h>
#define JSON_ESCAPE_SSE2 1
#endif

/* n bytes from s to o; short ones (most values and keys) without a call into the C library */
static inline char *
copy_bytes(char *o, const char *s, Py_ssize_t n)
{
    if (n >= 8 && n <= 16) { /* two overlapping words */
        uint64_t x, y;
        memcpy(&x, s, 8);
        memcpy(&y, s + n - 8, 8);
        memcpy(o, &x, 8);
        memcpy(o + n - 8, &y, 8);
    }
    else if (n >= 4 && n < 8) {
        uint32_t x, y;
        memcpy(&x, s, 4);
        memcpy(&y, s + n - 4, 4);
        memcpy(o, &x, 4);
        memcpy(o + n - 4, &y, 4);
    }
    else if (n < 4) {
        for (Py_ssize_t i = 0; i < n; i++)
            o[i] = s[i];
    }
    else if (n <= 32) { /* two overlapping blocks of 16 (most paths, names and GUIDs) */
        unsigned char x[16], y[16];
        memcpy(x, s, 16);
        memcpy(y, s + n - 16, 16);
        memcpy(o, x, 16);
        memcpy(o + n - 16, y, 16);
    }
    else if (n <= 64) { /* four */
        unsigned char x[32], y[32];
        memcpy(x, s, 32);
        memcpy(y, s + n - 32, 32);
        memcpy(o, x, 32);
        memcpy(o + n - 32, y, 32);
    }
    else {
        memcpy(o, s, (size_t)n);
    }
    return o + n;
}

/* JSON string escapes as orjson writes them: \" \\ \b \f \n \r \t, other controls \u00xx */
static unsigned char escape_kind[256]; /* 0: as is; 'u': \u00xx; else the letter after the backslash */

static void
init_escapes(void)
{
    for (int c = 0; c < 0x20; c++)
        escape_kind[c] = 'u';
    escape_kind['\b'] = 'b';
    escape_kind['\f'] = 'f';
    escape_kind['\n'] = 'n';
    escape_kind['\r'] = 'r';
    escape_kind['\t'] = 't';
    escape_kind['"'] = '"';
    escape_kind['\\'] = '\\';
}

#define ONES 0x0101010101010101ULL
#define HIGHS 0x8080808080808080ULL
#define HAS_ZERO_BYTE(v) (((v) - ONES) & ~(v) & HIGHS)

/* whether any of the eight bytes in w is a control character, '"' or '\\' (bytes >= 0x80 are not) */
static inline int
needs_escape8(uint64_t w)
{
    return ((w - 0x2020202020202020ULL) & ~w & HIGHS) || HAS_ZERO_BYTE(w ^ (ONES * '"')) ||
           HAS_ZERO_BYTE(w ^ (ONES * '\\'));
}

/* the most json_escape writes for n bytes */
#define JSON_BOUND(n) ((n) * 6 + 2)

/* s with JSON escapes at o, without the quotes (room for JSON_BOUND(n)); returns the end */
static inline char *
json_escape_body(char *o, const char *s, Py_ssize_t n)
{
    static const char hex[] = "0123456789abcdef";
    Py_ssize_t run = 0, i = 0;
    while (i < n) {
#ifdef JSON_ESCAPE_SSE2
        if (i + 16 <= n) { /* sixteen bytes at once (every x86-64 has SSE2), on to the first that
                            * needs an escape: Windows paths hold a backslash every few bytes */
            __m128i x = _mm_loadu_si128((const __m128i *)(s + i));
            __m128i bad = _mm_or_si128(
                _mm_cmpeq_epi8(_mm_max_epu8(x, _mm_set1_epi8(0x1f)), _mm_set1_epi8(0x1f)), /* below 0x20 */
                _mm_or_si128(_mm_cmpeq_epi8(x, _mm_set1_epi8('"')), _mm_cmpeq_epi8(x, _mm_set1_epi8('\\'))));
            int mask = _mm_movemask_epi8(bad);
            if (!mask) {
                i += 16;
                continue;
            }
            i += __builtin_ctz((unsigned)mask);
        }
        else
#endif
        if (i + 8 <= n) { /* eight bytes at once while none needs an escape */
            uint64_t w;
            memcpy(&w, s + i, 8);
            if (!needs_escape8(w)) {
                i += 8;
                continue;
            }
        }
        unsigned char c = (unsigned char)s[i];
        unsigned char k = escape_kind[c];
        if (k != 0) {
            o = copy_bytes(o, s + run, i - run);
            run = i + 1;
            *o++ = '\\';
            if (k == 'u') {
                *o++ = 'u';
                *o++ = '0';
                *o++ = '0';
                *o++ = hex[c >> 4];
                *o++ = hex[c & 15];
            }
            else {
                *o++ = (char)k;
            }
        }
        i++;
    }
    return copy_bytes(o, s + run, n - run);
}

/* "s" with JSON escapes at o (room for JSON_BOUND(n)); returns the end */
static inline char *
json_escape(char *o, const char *s, Py_ssize_t n)
{
    *o++ = '"';
    o = json_escape_body(o, s, n);
    *o++ = '"';
    return o;
}

#endif /* AUTOSOC_JSON_ESCAPE_H */
