/*
 * autosoc.normalize._decode -- JSON lines of Windows events straight to the raw frame's buffers.
 *
 * windows_lines(lines, keep_json, keep_text) gives exactly what
 *
 *     _columns.build([flatten_windows(orjson.loads(line)) for line in lines], keep_json,
 *                    columns._other_forms, keep_text)
 *
 * gives, or None when it will not say (the caller then takes that slow way): no Python object is
 * made per event or per field.  Each line is parsed here into a tape of nodes (strings point into
 * the line, or into a scratch copy when they hold escapes; their JSON for the row is the line's
 * own bytes unless an escape is spelled otherwise than orjson writes it), flattened as
 * _py_flatten_windows flattens the nested evtx-JSON shape into a small ordered map of (name,
 * value) that mimics the dict's assignment (first position, last value) and setdefault, and
 * written out by the code shared with _columns (_rowbuf.h): columns, keyword text, sorted JSON
 * and its BLAKE2b-128 id.
 *
 * A call is accepted only when every line is; a line only when
 *   - it is strict JSON as orjson reads it (valid UTF-8, no raw control characters in strings, no
 *     lone surrogate escapes, no NaN, no trailing commas; whitespace around it is fine), an
 *     object, nested at most MAX_DEPTH deep, with no key twice in any object, and with no float
 *     and no int outside -2^63 .. 2^64-1 anywhere;
 *   - "Event" is an object holding "System" or "EventData" (the first branch of the reference);
 *   - what the flattening meets is one of the cases below, and the flat row is not empty.
 * Implemented as the reference does them (anything else refuses the call):
 *   System (an object; anything else is ignored, as by the reference): values str, int, bool,
 *     null (kept); objects {"#attributes": {scalars}} (Key_attr); other objects as
 *     _attr_children does (#attributes, #text as scalar() text, other '#' keys ignored, children
 *     Key_child, nested objects recursively), with scalar leaves only; lists refuse.
 *   EventData and UserData (_event_data): null (nothing); str / int / bool scalars ("Data" as
 *     scalar() text); objects whose values are str, int, bool or null (also without spaces,
 *     setdefault, where the key has any), '#' keys skipped, "#text" refused, nested objects
 *     ({"#text": scalar} with at most one more key: the scalar; otherwise their members,
 *     recursively), lists refused.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "_rowbuf.h"

#define MAX_DEPTH 64

/* ------------------------------------------------------------------------ the tape */

enum { T_OBJ, T_ARR, T_STR, T_INT, T_TRUE, T_FALSE, T_NULL };

/* A JSON value.  An object is its node, then for every member the key (a T_STR node) and the
 * value's nodes; an array its node and the elements' nodes. */
typedef struct {
    const char *s;    /* T_STR: the decoded UTF-8; T_INT: the decimal digits */
    const char *json; /* T_STR: the string's JSON as orjson writes it (quotes and all), in the line,
                       * or NULL when its escapes are spelled otherwise (then it is escaped anew) */
    uint64_t hash;    /* T_STR keys: key_hash(s) */
    uint32_t len;     /* T_STR, T_INT: bytes; T_OBJ, T_ARR: members / elements */
    uint32_t end;     /* the node after this value's */
    uint32_t jlen;    /* T_STR: the length of json */
    uint8_t type;
} Node;

/* the refusal of a line: not an error, only "not here" */
#define REFUSE 1
#define FAIL (-1)

#if defined(__GNUC__) || defined(__clang__)
#define LIKELY(x) __builtin_expect(!!(x), 1)
#define UNLIKELY(x) __builtin_expect(!!(x), 0)
#define NOINLINE __attribute__((noinline, cold))
#define OUT_OF_LINE __attribute__((noinline))
#else
#define LIKELY(x) (x)
#define UNLIKELY(x) (x)
#define NOINLINE
#define OUT_OF_LINE
#endif

/* the bytes a decoded string may write past its end (whole 16-byte blocks copied at once) */
#define SCRATCH_SLACK 16

typedef struct {
    const unsigned char *p, *end;
    Node *nodes;
    uint32_t count, cap;
    char *scratch; /* decoded strings with escapes (never longer than the line, + SCRATCH_SLACK) */
    Py_ssize_t scratch_len, scratch_cap;
    uint32_t *dup; /* an index of keys, for duplicates in large objects */
    uint32_t dup_cap;
} Parser;

/* a hash of a key's bytes (only ever compared with others made here: not a stable value) */
static inline uint64_t
key_hash(const char *s, size_t n)
{
    uint64_t h = 0x9E3779B97F4A7C15ULL ^ (uint64_t)n;
    while (n >= 8) {
        uint64_t w;
        memcpy(&w, s, 8);
        h = (h ^ w) * 0xFF51AFD7ED558CCDULL;
        h ^= h >> 32;
        s += 8;
        n -= 8;
    }
    if (n) { /* the last 1 .. 7 bytes, without a call to memcpy of a variable length */
        uint64_t w;
        if (n >= 4) { /* two words of four, overlapping */
            uint32_t x, y;
            memcpy(&x, s, 4);
            memcpy(&y, s + n - 4, 4);
            w = (uint64_t)x | (uint64_t)y << 32;
        }
        else { /* every byte of 1 .. 3 */
            w = (uint64_t)(unsigned char)s[0] | (uint64_t)(unsigned char)s[n >> 1] << 8 |
                (uint64_t)(unsigned char)s[n - 1] << 16;
        }
        h = (h ^ w) * 0xC4CEB9FE1A85EC53ULL;
    }
    h ^= h >> 33;
    h *= 0xFF51AFD7ED558CCDULL;
    h ^= h >> 29;
    return h;
}

/* memcmp(a, b, n) == 0 for the short names compared here (lookups in the row, the shapes'
 * names): words compared inline, without a call into the C library per name */
static inline int
same_bytes(const char *a, const char *b, size_t n)
{
    if (n >= 8) {
        uint64_t x, y;
        for (size_t i = 0; i + 8 < n; i += 8) {
            memcpy(&x, a + i, 8);
            memcpy(&y, b + i, 8);
            if (x != y)
                return 0;
        }
        memcpy(&x, a + n - 8, 8); /* the last eight, overlapping */
        memcpy(&y, b + n - 8, 8);
        return x == y;
    }
    if (n >= 4) {
        uint32_t x0, x1, y0, y1;
        memcpy(&x0, a, 4);
        memcpy(&x1, a + n - 4, 4);
        memcpy(&y0, b, 4);
        memcpy(&y1, b + n - 4, 4);
        return ((x0 ^ y0) | (x1 ^ y1)) == 0;
    }
    for (size_t i = 0; i < n; i++)
        if (a[i] != b[i])
            return 0;
    return 1;
}

/* memchr(s, ' ', n) != NULL, inline (keys are short) */
static inline int
has_space(const char *s, size_t n)
{
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        uint64_t w;
        memcpy(&w, s + i, 8);
        if (HAS_ZERO_BYTE(w ^ (ONES * ' ')))
            return 1;
    }
    for (; i < n; i++)
        if (s[i] == ' ')
            return 1;
    return 0;
}

/* the tape grown (out of line: it happens a few times per call, not per node) */
static NOINLINE int
grow_nodes(Parser *ps)
{
    uint32_t cap = ps->cap ? ps->cap * 2 : 256;
    if (cap < ps->cap) /* (past 2^31 nodes) */
        return REFUSE;
    Node *nodes = PyMem_Realloc(ps->nodes, (size_t)cap * sizeof(Node));
    if (nodes == NULL) {
        PyErr_NoMemory();
        return FAIL;
    }
    ps->nodes = nodes;
    ps->cap = cap;
    return 0;
}

/* a new node of `type` at the tape's end: its index to *at */
static inline int
push_node(Parser *ps, uint8_t type, uint32_t *at)
{
    if (UNLIKELY(ps->count == ps->cap)) {
        int r = grow_nodes(ps);
        if (r)
            return r;
    }
    *at = ps->count++;
    ps->nodes[*at].type = type;
    return 0;
}

/* The whitespace at ps->p skipped.  Here and in the containers' loops the byte at ps->end is
 * read without a test of the end: it is the NUL after a bytes object's bytes, which stops every
 * loop and fails every test of a token. */
static inline void
skip_ws(Parser *ps)
{
    const unsigned char *p = ps->p;
    while (*p == ' ' || *p == '\n' || *p == '\r' || *p == '\t')
        p++;
    ps->p = p;
}

/* skip_ws for where whitespace is rare (every line of evtx_dump's): one test when there is none */
#define SKIP_WS(ps)                                                                                          \
    do {                                                                                                     \
        if (*(ps)->p <= ' ')                                                                                 \
            skip_ws(ps);                                                                                     \
    } while (0)

/* the length of the valid UTF-8 sequence of a non-ASCII lead byte at p, or 0 */
static inline int
utf8_seq(const unsigned char *p, const unsigned char *end)
{
    unsigned char c = p[0];
    if (c >= 0xC2 && c <= 0xDF)
        return end - p >= 2 && (p[1] & 0xC0) == 0x80 ? 2 : 0;
    if (c >= 0xE0 && c <= 0xEF) {
        if (end - p < 3 || (p[2] & 0xC0) != 0x80)
            return 0;
        unsigned char lo = c == 0xE0 ? 0xA0 : 0x80, hi = c == 0xED ? 0x9F : 0xBF;
        return p[1] >= lo && p[1] <= hi ? 3 : 0;
    }
    if (c >= 0xF0 && c <= 0xF4) {
        if (end - p < 4 || (p[2] & 0xC0) != 0x80 || (p[3] & 0xC0) != 0x80)
            return 0;
        unsigned char lo = c == 0xF0 ? 0x90 : 0x80, hi = c == 0xF4 ? 0x8F : 0xBF;
        return p[1] >= lo && p[1] <= hi ? 4 : 0;
    }
    return 0;
}

static inline int
hex4(const unsigned char *p, unsigned *out)
{
    unsigned v = 0;
    for (int i = 0; i < 4; i++) {
        unsigned char c = p[i];
        unsigned d;
        if (c >= '0' && c <= '9')
            d = c - '0';
        else if (c >= 'a' && c <= 'f')
            d = c - 'a' + 10;
        else if (c >= 'A' && c <= 'F')
            d = c - 'A' + 10;
        else
            return -1;
        v = v << 4 | d;
    }
    *out = v;
    return 0;
}

/* whether any of the eight bytes is a control character, '"', '\\' or not ASCII */
static inline int
string_stop8(uint64_t w)
{
    return (w & HIGHS) || needs_escape8(w);
}

#ifdef B2_TWO_LANES /* SSE2 (emmintrin.h came with the hashing) */
/* a mask of the bytes of the 16 at p that are a control character, '"', '\\' or not ASCII */
static inline unsigned
string_stops16(const unsigned char *p)
{
    __m128i x = _mm_loadu_si128((const __m128i *)p);
    /* signed: bytes from 0x80 up are negative, so below 0x20 as well */
    __m128i stop = _mm_or_si128(_mm_cmplt_epi8(x, _mm_set1_epi8(0x20)),
                                _mm_or_si128(_mm_cmpeq_epi8(x, _mm_set1_epi8('"')), _mm_cmpeq_epi8(x, _mm_set1_epi8('\\'))));
    return (unsigned)_mm_movemask_epi8(stop);
}
#endif

/* the first byte from p on (before end) that is a control character, '"', '\\' or not ASCII,
 * or end */
static inline const unsigned char *
plain_end(const unsigned char *p, const unsigned char *end)
{
#ifdef B2_TWO_LANES
    while (end - p >= 16) {
        unsigned mask = string_stops16(p);
        if (mask)
            return p + __builtin_ctz(mask);
        p += 16;
    }
#endif
    while (end - p >= 8) {
        uint64_t w;
        memcpy(&w, p, 8);
        if (string_stop8(w))
            break;
        p += 8;
    }
    while (p < end && *p >= 0x20 && *p < 0x80 && *p != '"' && *p != '\\')
        p++;
    return p;
}

/* plain_end(*p, end), the bytes before it copied to *o: both moved on.  Whole blocks are
 * copied, stops and all, and written over next (o has SCRATCH_SLACK bytes to spare), so that
 * finding and copying is one pass. */
static inline void
copy_plain(const unsigned char **pp, char **oo, const unsigned char *end)
{
    const unsigned char *p = *pp;
    char *o = *oo;
#ifdef B2_TWO_LANES
    while (end - p >= 16) {
        __m128i x = _mm_loadu_si128((const __m128i *)p);
        _mm_storeu_si128((__m128i *)o, x);
        unsigned mask = string_stops16(p);
        if (mask) {
            unsigned run = (unsigned)__builtin_ctz(mask);
            *pp = p + run;
            *oo = o + run;
            return;
        }
        p += 16;
        o += 16;
    }
#endif
    const unsigned char *q = plain_end(p, end);
    memcpy(o, p, (size_t)(q - p));
    *pp = q;
    *oo = o + (q - p);
}

/* A string, ps->p just after its opening quote: its text to n->s, n->len, its JSON to n->json.
 *
 * Without escapes the text is in the line, and so is the JSON (the quotes around it).  With
 * them the text is decoded into the scratch buffer; the JSON is the line's bytes all the same
 * when every escape is spelled as orjson writes it (\" \\ \b \f \n \r \t, \u00xx in lowercase
 * for the other controls: the paths of Windows events are full of \\), so that only strings
 * with other escapes (\/, \u0041, \u00E9 ...) are escaped anew for the row's JSON.
 *
 * (parse_string below does the usual strings, kept apart so that it is small enough to inline.) */
static OUT_OF_LINE int
parse_string_slow(Parser *ps, Node *n)
{
    const unsigned char *p = ps->p, *end = ps->end, *start = p;
    for (;;) {
        p = plain_end(p, end);
        if (UNLIKELY(p >= end))
            return REFUSE;
        unsigned char c = *p;
        if (LIKELY(c == '"'))
            break;
        if (c == '\\')
            goto escaped;
        if (c < 0x20)
            return REFUSE;
        int k = utf8_seq(p, end); /* (not ASCII) */
        if (k == 0)
            return REFUSE;
        p += k;
    }
    if (p - start > UINT32_MAX / 2)
        return REFUSE;
    n->s = (const char *)start;
    n->len = (uint32_t)(p - start);
    n->json = (const char *)start - 1;
    n->jlen = n->len + 2;
    ps->p = p + 1;
    return 0;
escaped: {
    /* the rest decoded into the scratch buffer (big enough: decoding never lengthens) */
    char *o0 = ps->scratch + ps->scratch_len, *o = o0;
    int same = 1; /* every escape so far as orjson writes it */
    memcpy(o, start, (size_t)(p - start));
    o += p - start;
    for (;;) {
        copy_plain(&p, &o, end);
        if (UNLIKELY(p >= end))
            return REFUSE;
        unsigned char c = *p;
        if (c == '"')
            break;
        if (c == '\\') {
            if (end - p < 2)
                return REFUSE;
            unsigned char e = p[1];
            p += 2;
            switch (e) {
            case '"': *o++ = '"'; break;
            case '\\': *o++ = '\\'; break;
            case '/': *o++ = '/'; same = 0; break; /* orjson writes / as it is */
            case 'b': *o++ = '\b'; break;
            case 'f': *o++ = '\f'; break;
            case 'n': *o++ = '\n'; break;
            case 'r': *o++ = '\r'; break;
            case 't': *o++ = '\t'; break;
            case 'u': {
                unsigned u;
                if (end - p < 4 || hex4(p, &u) < 0)
                    return REFUSE;
                /* orjson's own \u00xx: a control without a short escape, its last digit in
                 * lowercase (the others are 0, 0 and 0 or 1) */
                if (u >= 0x20 || escape_kind[u] != 'u' || (p[3] >= 'A' && p[3] <= 'F'))
                    same = 0;
                p += 4;
                if (u >= 0xDC00 && u <= 0xDFFF)
                    return REFUSE; /* a lone low surrogate */
                if (u >= 0xD800 && u <= 0xDBFF) {
                    unsigned lo;
                    if (end - p < 6 || p[0] != '\\' || p[1] != 'u' || hex4(p + 2, &lo) < 0 || lo < 0xDC00 ||
                        lo > 0xDFFF)
                        return REFUSE; /* a lone high surrogate */
                    p += 6;
                    u = 0x10000 + ((u - 0xD800) << 10) + (lo - 0xDC00);
                }
                if (u < 0x80) {
                    *o++ = (char)u;
                }
                else if (u < 0x800) {
                    *o++ = (char)(0xC0 | u >> 6);
                    *o++ = (char)(0x80 | (u & 0x3F));
                }
                else if (u < 0x10000) {
                    *o++ = (char)(0xE0 | u >> 12);
                    *o++ = (char)(0x80 | (u >> 6 & 0x3F));
                    *o++ = (char)(0x80 | (u & 0x3F));
                }
                else {
                    *o++ = (char)(0xF0 | u >> 18);
                    *o++ = (char)(0x80 | (u >> 12 & 0x3F));
                    *o++ = (char)(0x80 | (u >> 6 & 0x3F));
                    *o++ = (char)(0x80 | (u & 0x3F));
                }
                break;
            }
            default:
                return REFUSE;
            }
            continue;
        }
        if (c < 0x20)
            return REFUSE;
        int k = utf8_seq(p, end); /* (not ASCII) */
        if (k == 0)
            return REFUSE;
        memcpy(o, p, (size_t)k);
        o += k;
        p += k;
    }
    if (p - start > UINT32_MAX / 2)
        return REFUSE;
    n->s = o0;
    n->len = (uint32_t)(o - o0);
    n->json = same ? (const char *)start - 1 : NULL;
    n->jlen = (uint32_t)(p - start) + 2;
    ps->scratch_len += o - o0;
    ps->p = p + 1;
    return 0;
}
}

/* parse_string_slow for any string; the usual ones, ASCII without escapes and not at the very end
 * of the line, done here (a scan of 16 bytes at a time, inlined where strings are parsed) */
static inline int
parse_string(Parser *ps, Node *n)
{
#ifdef B2_TWO_LANES
    const unsigned char *p = ps->p, *end = ps->end, *start = p;
    while (end - p >= 16) {
        unsigned mask = string_stops16(p);
        if (mask) {
            p += __builtin_ctz(mask);
            if (*p != '"')
                break; /* an escape, a control or UTF-8 */
            n->s = (const char *)start;
            n->len = (uint32_t)(p - start); /* (lines are shorter than 2^31) */
            n->json = (const char *)start - 1;
            n->jlen = n->len + 2;
            ps->p = p + 1;
            return 0;
        }
        p += 16;
    }
#endif
    return parse_string_slow(ps, n);
}

/* an int in orjson's range (-2^63 .. 2^64-1); floats refuse */
static inline int
parse_int(Parser *ps, Node *n)
{
    const unsigned char *p = ps->p, *end = ps->end, *start = p;
    int negative = *p == '-';
    if (negative)
        p++;
    const unsigned char *digits = p;
    if (p >= end || *p < '0' || *p > '9')
        return REFUSE;
    if (*p == '0') {
        p++;
    }
    else {
        while (p < end && *p >= '0' && *p <= '9')
            p++;
    }
    if (p < end && ((*p >= '0' && *p <= '9') || *p == '.' || *p == 'e' || *p == 'E'))
        return REFUSE; /* a leading zero (invalid) or a float (not taken) */
    size_t nd = (size_t)(p - digits);
    if (negative) {
        if (nd == 1 && digits[0] == '0') { /* -0: orjson reads the int 0 */
            n->s = "0";
            n->len = 1;
            ps->p = p;
            return 0;
        }
        if (nd > 19 || (nd == 19 && memcmp(digits, "9223372036854775808", 19) > 0))
            return REFUSE;
    }
    else if (nd > 20 || (nd == 20 && memcmp(digits, "18446744073709551615", 20) > 0)) {
        return REFUSE;
    }
    n->s = (const char *)start;
    n->len = (uint32_t)(p - start);
    ps->p = p;
    return 0;
}

/* whether two key nodes hold the same text */
static inline int
same_text(const Node *a, const Node *b)
{
    return a->hash == b->hash && a->len == b->len && same_bytes(a->s, b->s, a->len);
}

/* REFUSE when the object at `at` (its members parsed) names a key twice */
static int
check_duplicates(Parser *ps, uint32_t at)
{
    const Node *nodes = ps->nodes;
    uint32_t count = nodes[at].len;
    if (count < 2)
        return 0;
    if (count <= 16) {
        /* a bit of each key's hash in a word: only a key whose bit is taken already is compared
         * with those before it (all distinct keys, the usual case, in one pass) */
        uint32_t keys[16], k = at + 1;
        uint64_t seen = 0;
        for (uint32_t i = 0; i < count; i++) {
            uint64_t bit = 1ULL << (nodes[k].hash >> 58);
            if (seen & bit) {
                for (uint32_t j = 0; j < i; j++)
                    if (same_text(&nodes[keys[j]], &nodes[k]))
                        return REFUSE;
            }
            seen |= bit;
            keys[i] = k;
            k = nodes[k + 1].end;
        }
        return 0;
    }
    uint32_t size = 64;
    while (size < count * 2)
        size *= 2;
    if (size > ps->dup_cap) {
        uint32_t *dup = PyMem_Realloc(ps->dup, (size_t)size * sizeof(uint32_t));
        if (dup == NULL) {
            PyErr_NoMemory();
            return FAIL;
        }
        ps->dup = dup;
        ps->dup_cap = size;
    }
    memset(ps->dup, 0, (size_t)size * sizeof(uint32_t));
    uint32_t k = at + 1;
    for (uint32_t i = 0; i < count; i++) {
        uint32_t slot = (uint32_t)nodes[k].hash & (size - 1);
        while (ps->dup[slot]) {
            if (same_text(&nodes[ps->dup[slot] - 1], &nodes[k]))
                return REFUSE;
            slot = (slot + 1) & (size - 1);
        }
        ps->dup[slot] = k + 1;
        k = nodes[k + 1].end;
    }
    return 0;
}

static int parse_container(Parser *ps, int depth);

static inline int
literal(Parser *ps, const char *word, size_t n, uint8_t type)
{
    if ((size_t)(ps->end - ps->p) < n || memcmp(ps->p, word, n) != 0)
        return REFUSE;
    ps->p += n;
    uint32_t at;
    int r = push_node(ps, type, &at);
    if (r)
        return r;
    ps->nodes[at].end = at + 1;
    return 0;
}

/* The value at ps->p (no whitespace before it), `depth` containers around it.  Scalars are
 * parsed here, inlined into the loops of the containers (most values are scalars: a call per
 * value, and one more per container, is what the recursion cost); only containers recurse. */
static inline int
parse_value(Parser *ps, int depth)
{
    if (UNLIKELY(ps->p >= ps->end))
        return REFUSE;
    unsigned char c = *ps->p;
    uint32_t at;
    int r;
    switch (c) {
    case '"':
        ps->p++;
        if ((r = push_node(ps, T_STR, &at)) != 0)
            return r;
        ps->nodes[at].end = at + 1;
        return parse_string(ps, &ps->nodes[at]);
    case '{':
    case '[':
        return depth >= MAX_DEPTH ? REFUSE : parse_container(ps, depth + 1);
    case 't':
        return literal(ps, "true", 4, T_TRUE);
    case 'f':
        return literal(ps, "false", 5, T_FALSE);
    case 'n':
        return literal(ps, "null", 4, T_NULL);
    default:
        if (c == '-' || (c >= '0' && c <= '9')) {
            if ((r = push_node(ps, T_INT, &at)) != 0)
                return r;
            ps->nodes[at].end = at + 1;
            return parse_int(ps, &ps->nodes[at]);
        }
        return REFUSE;
    }
}

/* the object or array at ps->p, `depth` containers deep with it */
static int
parse_container(Parser *ps, int depth)
{
    int object = *ps->p == '{';
    unsigned char close = object ? '}' : ']';
    uint32_t at;
    int r = push_node(ps, object ? T_OBJ : T_ARR, &at);
    if (r)
        return r;
    uint32_t count = 0;
    ps->p++; /* '{' or '[' */
    SKIP_WS(ps);
    if (*ps->p == close) {
        ps->p++;
    }
    else {
        for (;;) {
            if (object) {
                if (*ps->p != '"')
                    return REFUSE;
                ps->p++;
                uint32_t key;
                if ((r = push_node(ps, T_STR, &key)) != 0)
                    return r;
                Node *k = &ps->nodes[key];
                if ((r = parse_string(ps, k)) != 0)
                    return r;
                k->hash = key_hash(k->s, k->len);
                k->end = key + 1;
                SKIP_WS(ps);
                if (*ps->p != ':')
                    return REFUSE;
                ps->p++;
                SKIP_WS(ps);
            }
            if ((r = parse_value(ps, depth)) != 0)
                return r;
            count++;
            SKIP_WS(ps);
            unsigned char c = *ps->p;
            if (c == ',') {
                ps->p++;
                SKIP_WS(ps);
                continue;
            }
            if (c != close) /* (the NUL at the end too) */
                return REFUSE;
            ps->p++;
            break;
        }
    }
    ps->nodes[at].len = count;
    ps->nodes[at].end = ps->count;
    return object ? check_duplicates(ps, at) : 0;
}

/* the line's tape; REFUSE unless it is one JSON object and nothing else.  line[len] must be 0
 * (as in a bytes object): see skip_ws. */
static int
parse_line(Parser *ps, const char *line, Py_ssize_t len)
{
    if (len >= UINT32_MAX / 2)
        return REFUSE;
    if (len + SCRATCH_SLACK > ps->scratch_cap) {
        char *scratch = PyMem_Realloc(ps->scratch, (size_t)len + SCRATCH_SLACK);
        if (scratch == NULL) {
            PyErr_NoMemory();
            return FAIL;
        }
        ps->scratch = scratch;
        ps->scratch_cap = len + SCRATCH_SLACK;
    }
    ps->scratch_len = 0;
    ps->count = 0;
    ps->p = (const unsigned char *)line;
    ps->end = ps->p + len;
    skip_ws(ps);
    if (*ps->p != '{')
        return REFUSE;
    int r = parse_container(ps, 1);
    if (r)
        return r;
    skip_ws(ps);
    return ps->p == ps->end ? 0 : REFUSE;
}

/* ------------------------------------------------------------------------ the flat row */

enum { V_STR, V_INT, V_TRUE, V_FALSE, V_NULL };

typedef struct {
    const char *k, *v;
    uint64_t hash;
    const char *json; /* V_STR: its JSON as orjson writes it, or NULL (see Node) */
    uint32_t klen, vlen, jlen;
    uint8_t kind;
} Entry;

/* names made for the row (Provider_Name, keys without spaces): blocks that never move */
typedef struct Block {
    struct Block *next;
    size_t cap, used;
    char data[];
} Block;

typedef struct {
    Entry *entries;
    uint32_t count, cap;
    uint32_t *slots, *stamps; /* open addressing: entry index, valid where stamps[i] == stamp */
    uint32_t nslots, stamp;
    Block *first, *current;
} Row;

static char *
row_alloc(Row *r, size_t n)
{
    Block *b = r->current;
    while (b != NULL && b->cap - b->used < n)
        b = b->next; /* (a block too small for this one name stays for the next row) */
    if (b == NULL) {
        size_t cap = n > 8192 ? n : 8192;
        b = PyMem_Malloc(sizeof(Block) + cap);
        if (b == NULL) {
            PyErr_NoMemory();
            return NULL;
        }
        b->cap = cap;
        b->used = 0;
        b->next = r->first;
        r->first = b;
    }
    r->current = b;
    char *out = b->data + b->used;
    b->used += n;
    return out;
}

static void
row_reset(Row *r)
{
    r->count = 0;
    if (++r->stamp == 0) { /* wrapped: every slot stale for real */
        memset(r->stamps, 0, (size_t)r->nslots * sizeof(uint32_t));
        r->stamp = 1;
    }
    for (Block *b = r->first; b != NULL; b = b->next)
        b->used = 0;
    r->current = r->first;
}

static void
row_free(Row *r)
{
    PyMem_Free(r->entries);
    PyMem_Free(r->slots);
    PyMem_Free(r->stamps);
    Block *b = r->first;
    while (b != NULL) {
        Block *next = b->next;
        PyMem_Free(b);
        b = next;
    }
    memset(r, 0, sizeof(*r));
}

static int
row_index(Row *r, uint32_t nslots)
{
    uint32_t *slots = PyMem_Malloc((size_t)nslots * sizeof(uint32_t));
    uint32_t *stamps = PyMem_Calloc((size_t)nslots, sizeof(uint32_t));
    if (slots == NULL || stamps == NULL) {
        PyMem_Free(slots);
        PyMem_Free(stamps);
        PyErr_NoMemory();
        return FAIL;
    }
    PyMem_Free(r->slots);
    PyMem_Free(r->stamps);
    r->slots = slots;
    r->stamps = stamps;
    r->nslots = nslots;
    r->stamp = 1;
    for (uint32_t e = 0; e < r->count; e++) {
        uint32_t i = (uint32_t)r->entries[e].hash & (nslots - 1);
        while (stamps[i] == 1)
            i = (i + 1) & (nslots - 1);
        stamps[i] = 1;
        slots[i] = e;
    }
    return 0;
}

/* the entry named k, or NULL (its free slot to *slot when asked) */
static inline Entry *
row_lookup(const Row *r, const char *k, uint32_t klen, uint64_t hash, uint32_t *slot)
{
    uint32_t mask = r->nslots - 1, i = (uint32_t)hash & mask;
    while (r->stamps[i] == r->stamp) {
        Entry *e = &r->entries[r->slots[i]];
        if (e->hash == hash && e->klen == klen && same_bytes(e->k, k, klen))
            return e;
        i = (i + 1) & mask;
    }
    if (slot != NULL)
        *slot = i;
    return NULL;
}

/* room for more entries (out of line: the first rows of a call only) */
static NOINLINE int
row_grow(Row *r)
{
    uint32_t cap = r->cap ? r->cap * 2 : 64;
    Entry *entries = PyMem_Realloc(r->entries, (size_t)cap * sizeof(Entry));
    if (entries == NULL) {
        PyErr_NoMemory();
        return FAIL;
    }
    r->entries = entries;
    r->cap = cap;
    return 0;
}

/* the entry named k, or a new one at its end (*fresh set); inlined into the flattening, which
 * calls it for every field */
static inline Entry *
row_find(Row *r, const char *k, uint32_t klen, uint64_t hash, int *fresh)
{
    uint32_t i;
    Entry *found = row_lookup(r, k, klen, hash, &i);
    if (found != NULL) {
        *fresh = 0;
        return found;
    }
    if (UNLIKELY(r->count == r->cap) && row_grow(r) < 0)
        return NULL;
    Entry *e = &r->entries[r->count];
    e->k = k;
    e->klen = klen;
    e->hash = hash;
    r->stamps[i] = r->stamp;
    r->slots[i] = r->count++;
    *fresh = 1;
    if (r->count * 2 > r->nslots && row_index(r, r->nslots * 2) < 0)
        return NULL;
    return &r->entries[r->count - 1];
}

/* out[k] = value (set: 1) or out.setdefault(k, value) (set: 0) */
static inline int
row_put(Row *r, const char *k, uint32_t klen, uint64_t hash, uint8_t kind, const char *v, uint32_t vlen, int set,
        const char *json, uint32_t jlen)
{
    int fresh;
    Entry *e = row_find(r, k, klen, hash, &fresh);
    if (e == NULL)
        return FAIL;
    if (fresh || set) {
        e->kind = kind;
        e->v = v;
        e->vlen = vlen;
        e->json = json;
        e->jlen = jlen;
    }
    return 0;
}

/* the kind of a scalar node kept as it is; REFUSE for containers */
static inline int
value_kind(const Node *n, uint8_t *kind)
{
    switch (n->type) {
    case T_STR: *kind = V_STR; return 0;
    case T_INT: *kind = V_INT; return 0;
    case T_TRUE: *kind = V_TRUE; return 0;
    case T_FALSE: *kind = V_FALSE; return 0;
    case T_NULL: *kind = V_NULL; return 0;
    default: return REFUSE;
    }
}

static inline int
put_node(Row *r, const char *k, uint32_t klen, uint64_t hash, const Node *n, int set)
{
    uint8_t kind;
    if (value_kind(n, &kind))
        return REFUSE;
    return row_put(r, k, klen, hash, kind, n->s, n->len, set, kind == V_STR ? n->json : NULL, n->jlen);
}

/* out[k] = scalar(node): str as is, int its digits, bool "true"/"false", null None (all str) */
static int
put_scalar_text(Row *r, const char *k, uint32_t klen, uint64_t hash, const Node *n)
{
    switch (n->type) {
    case T_STR:
    case T_INT:
        return row_put(r, k, klen, hash, V_STR, n->s, n->len, 1, n->type == T_STR ? n->json : NULL, n->jlen);
    case T_TRUE: return row_put(r, k, klen, hash, V_STR, "true", 4, 1, "\"true\"", 6);
    case T_FALSE: return row_put(r, k, klen, hash, V_STR, "false", 5, 1, "\"false\"", 7);
    case T_NULL: return row_put(r, k, klen, hash, V_NULL, NULL, 0, 1, NULL, 0);
    default: return REFUSE;
    }
}

/* the member of object `obj` named `name`: its value's node index, or 0 */
static inline uint32_t
member(const Node *nodes, uint32_t obj, const char *name, uint32_t n)
{
    uint32_t k = obj + 1;
    for (uint32_t i = 0; i < nodes[obj].len; i++) {
        if (nodes[k].len == n && memcmp(nodes[k].s, name, n) == 0)
            return k + 1;
        k = nodes[k + 1].end;
    }
    return 0;
}

#define MEMBER(nodes, obj, lit) member((nodes), (obj), (lit), (uint32_t)(sizeof(lit) - 1))

/* a + "_" + b, made for the row */
static const char *
joined(Row *r, const char *a, uint32_t alen, const char *b, uint32_t blen, uint32_t *len)
{
    if ((uint64_t)alen + blen + 1 > UINT32_MAX / 2)
        return NULL;
    char *out = row_alloc(r, (size_t)alen + blen + 1);
    if (out == NULL)
        return NULL;
    memcpy(out, a, alen);
    out[alen] = '_';
    memcpy(out + alen + 1, b, blen);
    *len = alen + blen + 1;
    return out;
}

static inline int
key_is(const Node *k, const char *lit, uint32_t n)
{
    return k->len == n && memcmp(k->s, lit, n) == 0;
}

/* _attr_children(name, obj, out) */
static int
attr_children(Row *r, const Node *nodes, const char *name, uint32_t nlen, uint32_t obj, int depth)
{
    int rc;
    uint32_t len;
    const char *k;
    if (depth > MAX_DEPTH)
        return REFUSE;
    uint32_t attrs = MEMBER(nodes, obj, "#attributes");
    if (attrs && nodes[attrs].type == T_OBJ) {
        uint32_t a = attrs + 1;
        for (uint32_t i = 0; i < nodes[attrs].len; i++) {
            if ((k = joined(r, name, nlen, nodes[a].s, nodes[a].len, &len)) == NULL)
                return PyErr_Occurred() ? FAIL : REFUSE;
            if ((rc = put_node(r, k, len, key_hash(k, len), &nodes[a + 1], 1)) != 0)
                return rc;
            a = nodes[a + 1].end;
        }
    }
    uint32_t text = MEMBER(nodes, obj, "#text");
    if (text && (rc = put_scalar_text(r, name, nlen, key_hash(name, nlen), &nodes[text])) != 0)
        return rc;
    uint32_t c = obj + 1;
    for (uint32_t i = 0; i < nodes[obj].len; i++) {
        const Node *key = &nodes[c], *child = &nodes[c + 1];
        if (key->len == 0 || key->s[0] != '#') {
            if ((k = joined(r, name, nlen, key->s, key->len, &len)) == NULL)
                return PyErr_Occurred() ? FAIL : REFUSE;
            if (child->type == T_OBJ)
                rc = attr_children(r, nodes, k, len, c + 1, depth + 1);
            else
                rc = put_node(r, k, len, key_hash(k, len), child, 1);
            if (rc)
                return rc;
        }
        c = child->end;
    }
    return 0;
}

static int
system_fields(Row *r, const Node *nodes, uint32_t system)
{
    int rc;
    uint32_t c = system + 1;
    for (uint32_t i = 0; i < nodes[system].len; i++) {
        const Node *key = &nodes[c], *value = &nodes[c + 1];
        if (value->type == T_OBJ) {
            uint32_t attrs = value->len == 1 ? MEMBER(nodes, c + 1, "#attributes") : 0;
            if (attrs && nodes[attrs].type == T_OBJ) { /* the usual <Element a=".." b=".."/> */
                uint32_t a = attrs + 1;
                for (uint32_t j = 0; j < nodes[attrs].len; j++) {
                    uint32_t len;
                    const char *k = joined(r, key->s, key->len, nodes[a].s, nodes[a].len, &len);
                    if (k == NULL)
                        return PyErr_Occurred() ? FAIL : REFUSE;
                    if ((rc = put_node(r, k, len, key_hash(k, len), &nodes[a + 1], 1)) != 0)
                        return rc;
                    a = nodes[a + 1].end;
                }
            }
            else if ((rc = attr_children(r, nodes, key->s, key->len, c + 1, 1)) != 0) {
                return rc;
            }
        }
        else if ((rc = put_node(r, key->s, key->len, key->hash, value, 1)) != 0) { /* (lists refuse) */
            return rc;
        }
        c = value->end;
    }
    return 0;
}

/* out.setdefault(key without its spaces, out.get(key)) for a key with a space */
static int
spaceless_default(Row *r, const Node *key)
{
    if (!has_space(key->s, key->len))
        return 0;
    char *k = row_alloc(r, key->len);
    if (k == NULL)
        return FAIL;
    uint32_t len = 0;
    for (uint32_t i = 0; i < key->len; i++)
        if (key->s[i] != ' ')
            k[len++] = key->s[i];
    const Entry *e = row_lookup(r, key->s, key->len, key->hash, NULL);
    uint8_t kind = V_NULL; /* out.get(key) of an absent key: None */
    const char *v = NULL;
    uint32_t vlen = 0;
    const char *json = NULL;
    uint32_t jlen = 0;
    if (e != NULL) {
        kind = e->kind;
        v = e->v;
        vlen = e->vlen;
        json = e->json;
        jlen = e->jlen;
    }
    return row_put(r, k, len, key_hash(k, len), kind, v, vlen, 0, json, jlen);
}

/* _event_data(data, out) */
static int
event_data(Row *r, const Node *nodes, uint32_t data, int depth)
{
    int rc;
    const Node *d = &nodes[data];
    if (depth > MAX_DEPTH)
        return REFUSE;
    if (d->type == T_NULL)
        return 0;
    if (d->type == T_ARR)
        return REFUSE;
    if (d->type != T_OBJ)
        return put_scalar_text(r, "Data", 4, key_hash("Data", 4), d);
    uint32_t c = data + 1;
    for (uint32_t i = 0; i < d->len; i++) {
        uint32_t at = c + 1; /* the value's node */
        const Node *key = &nodes[c], *value = &nodes[at];
        int hashed = key->len > 0 && key->s[0] == '#';
        c = value->end;
        if ((value->type == T_STR || value->type == T_INT) && !hashed) { /* the usual Name: value */
            if ((rc = put_node(r, key->s, key->len, key->hash, value, 1)) != 0)
                return rc;
            if ((rc = spaceless_default(r, key)) != 0)
                return rc;
            continue;
        }
        if (hashed && !key_is(key, "#text", 5))
            continue;
        if (value->type == T_ARR || key_is(key, "#text", 5))
            return REFUSE; /* _data_list, "Data" from #text, a list's scalar(): not here */
        if (value->type == T_OBJ) {
            uint32_t text = MEMBER(nodes, at, "#text");
            if (text && value->len <= 2) /* (the text as it is: str, int, bool or null) */
                rc = put_node(r, key->s, key->len, key->hash, &nodes[text], 1);
            else
                rc = event_data(r, nodes, at, depth + 1);
        }
        else {
            rc = put_node(r, key->s, key->len, key->hash, value, 1); /* null, bool */
        }
        if (rc)
            return rc;
        if ((rc = spaceless_default(r, key)) != 0)
            return rc;
    }
    return 0;
}

/* the flat row of the tape (_py_flatten_windows' first branch) */
static int
flatten(Row *r, const Node *nodes)
{
    int rc;
    uint32_t event = MEMBER(nodes, 0, "Event");
    if (!event || nodes[event].type != T_OBJ)
        return REFUSE;
    uint32_t system = MEMBER(nodes, event, "System"), data = MEMBER(nodes, event, "EventData");
    if (!system && !data)
        return REFUSE;
    uint32_t user = MEMBER(nodes, event, "UserData");
    if (system && nodes[system].type == T_OBJ && (rc = system_fields(r, nodes, system)) != 0)
        return rc;
    if (data && (rc = event_data(r, nodes, data, 1)) != 0)
        return rc;
    if (user && (rc = event_data(r, nodes, user, 1)) != 0)
        return rc;
    return r->count ? 0 : REFUSE; /* an empty row is a dead letter */
}

/* ------------------------------------------------------------------------ shapes of flat rows */

/* the shapes seen in this call, by their names' bytes: the index of each in b->shapes */
typedef struct {
    uint64_t hash;
    uint32_t size;
    Py_ssize_t shape;
    char *sig; /* (uint32 length, bytes) per name */
    size_t sig_len;
} Known;

typedef struct {
    Known *items;
    Py_ssize_t count, cap;
    Py_ssize_t *slots; /* index + 1, 0 empty */
    Py_ssize_t nslots;
} KnownShapes;

static void
known_clear(KnownShapes *t)
{
    for (Py_ssize_t i = 0; i < t->count; i++)
        PyMem_Free(t->items[i].sig);
    PyMem_Free(t->items);
    PyMem_Free(t->slots);
    memset(t, 0, sizeof(*t));
}

static int
known_matches(const Known *s, const Row *r)
{
    const char *p = s->sig;
    for (uint32_t i = 0; i < r->count; i++) {
        uint32_t len;
        memcpy(&len, p, 4);
        if (len != r->entries[i].klen || !same_bytes(p + 4, r->entries[i].k, len))
            return 0;
        p += 4 + len;
    }
    return 1;
}

static int
known_index(KnownShapes *t)
{
    Py_ssize_t nslots = 16;
    while (nslots < t->count * 2 + 2)
        nslots *= 2;
    Py_ssize_t *slots = PyMem_Calloc((size_t)nslots, sizeof(Py_ssize_t));
    if (slots == NULL) {
        PyErr_NoMemory();
        return FAIL;
    }
    for (Py_ssize_t k = 0; k < t->count; k++) {
        Py_ssize_t i = (Py_ssize_t)(t->items[k].hash & (uint64_t)(nslots - 1));
        while (slots[i])
            i = (i + 1) & (nslots - 1);
        slots[i] = k + 1;
    }
    PyMem_Free(t->slots);
    t->slots = slots;
    t->nslots = nslots;
    return 0;
}

/* the shape (in b->shapes) of the row's names, made when new; NULL on error */
static Shape *
shape_of(Build *b, KnownShapes *t, const Row *r)
{
    uint64_t hash = (uint64_t)r->count * 0x9E3779B97F4A7C15ULL;
    for (uint32_t i = 0; i < r->count; i++)
        hash = (hash ^ r->entries[i].hash) * 0x100000001B3ULL;
    hash ^= hash >> 29;
    if (t->nslots) {
        for (Py_ssize_t i = (Py_ssize_t)(hash & (uint64_t)(t->nslots - 1));; i = (i + 1) & (t->nslots - 1)) {
            Py_ssize_t at = t->slots[i];
            if (at == 0)
                break;
            const Known *s = &t->items[at - 1];
            if (s->hash == hash && s->size == r->count && known_matches(s, r))
                return &b->shapes.items[s->shape];
        }
    }
    /* a new shape: its names as str, once */
    if (t->count == t->cap) {
        Py_ssize_t cap = t->cap ? t->cap * 2 : 16;
        Known *items = PyMem_Realloc(t->items, (size_t)cap * sizeof(Known));
        if (items == NULL) {
            PyErr_NoMemory();
            return NULL;
        }
        t->items = items;
        t->cap = cap;
    }
    size_t sig_len = 0;
    for (uint32_t i = 0; i < r->count; i++)
        sig_len += 4 + r->entries[i].klen;
    char *sig = PyMem_Malloc(sig_len ? sig_len : 1);
    PyObject **keys = PyMem_Calloc(r->count, sizeof(PyObject *));
    Shape *shape = NULL;
    if (sig == NULL || keys == NULL) {
        PyErr_NoMemory();
        goto done;
    }
    char *p = sig;
    for (uint32_t i = 0; i < r->count; i++) {
        const Entry *e = &r->entries[i];
        memcpy(p, &e->klen, 4);
        memcpy(p + 4, e->k, e->klen);
        p += 4 + e->klen;
        if ((keys[i] = PyUnicode_DecodeUTF8(e->k, e->klen, "strict")) == NULL)
            goto done;
    }
    shape = shape_new(b, keys, r->count, (Py_uhash_t)hash);
    if (shape == NULL)
        goto done;
    Known *s = &t->items[t->count++];
    s->hash = hash;
    s->size = r->count;
    s->shape = shape - b->shapes.items;
    s->sig = sig;
    s->sig_len = sig_len;
    sig = NULL;
    if (t->count * 2 + 2 > t->nslots) {
        if (known_index(t) < 0)
            shape = NULL;
    }
    else {
        Py_ssize_t i = (Py_ssize_t)(hash & (uint64_t)(t->nslots - 1));
        while (t->slots[i])
            i = (i + 1) & (t->nslots - 1);
        t->slots[i] = t->count;
    }
done:
    if (keys != NULL) {
        for (uint32_t i = 0; i < r->count; i++)
            Py_XDECREF(keys[i]);
        PyMem_Free(keys);
    }
    PyMem_Free(sig);
    return shape;
}

/* ------------------------------------------------------------------------ windows_lines */

static int
emit_row(Build *b, Py_ssize_t row, Shape *shape, const Row *r, int keep_json, int keep_text)
{
    if (r->count > b->items_cap) {
        Py_ssize_t cap = r->count * 2 + 8;
        Item *items = PyMem_Realloc(b->items, (size_t)cap * sizeof(Item));
        if (items == NULL) {
            PyErr_NoMemory();
            return FAIL;
        }
        b->items = items;
        b->items_cap = cap;
    }
    Item *items = b->items;
    for (uint32_t i = 0; i < r->count; i++) {
        const Entry *e = &r->entries[i];
        Item *it = &items[i];
        switch (e->kind) {
        case V_STR:
            it->text = e->v;
            it->text_len = e->vlen;
            it->json = e->json; /* its JSON as it came, or NULL: escaped anew */
            it->json_len = e->jlen;
            break;
        case V_INT:
            it->text = it->json = e->v;
            it->text_len = it->json_len = e->vlen;
            break;
        case V_TRUE:
            it->text = it->json = "true";
            it->text_len = it->json_len = 4;
            break;
        case V_FALSE:
            it->text = it->json = "false";
            it->text_len = it->json_len = 5;
            break;
        default:
            it->text = NULL;
            it->json = "null";
            it->json_len = 4;
            break;
        }
    }
    return row_emit(b, row, shape, items, r->count, keep_json, keep_text);
}

/* what one call decodes with: the build of its rows, the parser, the flat row, the shapes seen */
typedef struct {
    Build b;
    Parser ps;
    Row r;
    KnownShapes known;
    int built;
} Decoder;

/* a decoder for n rows (freed with decoder_free whether or not this fails) */
static int
decoder_start(Decoder *d, Py_ssize_t n, int keep_json, int keep_text)
{
    memset(d, 0, sizeof(*d));
    d->built = 1;
    return build_start(&d->b, n, keep_json, keep_text) < 0 || row_index(&d->r, 128) < 0 ? FAIL : 0;
}

/* line (len bytes, a NUL after them) as row i: 0, REFUSE or FAIL */
static int
decoder_line(Decoder *d, const char *line, Py_ssize_t len, Py_ssize_t i, int keep_json, int keep_text)
{
    row_reset(&d->r);
    int rc = parse_line(&d->ps, line, len);
    if (rc == 0)
        rc = flatten(&d->r, d->ps.nodes);
    if (rc == 0) {
        Shape *shape = shape_of(&d->b, &d->known, &d->r);
        rc = shape == NULL ? FAIL : emit_row(&d->b, i, shape, &d->r, keep_json, keep_text);
    }
    return rc;
}

static void
decoder_free(Decoder *d)
{
    if (d->built)
        build_clear(&d->b);
    known_clear(&d->known);
    row_free(&d->r);
    PyMem_Free(d->ps.nodes);
    PyMem_Free(d->ps.scratch);
    PyMem_Free(d->ps.dup);
    memset(d, 0, sizeof(*d));
}

static PyObject *
m_windows_lines(PyObject *self, PyObject *args)
{
    PyObject *lines;
    int keep_json, keep_text;
    (void)self;
    if (!PyArg_ParseTuple(args, "O!pp:windows_lines", &PyList_Type, &lines, &keep_json, &keep_text))
        return NULL;
    Py_ssize_t n = PyList_GET_SIZE(lines);
    for (Py_ssize_t i = 0; i < n; i++)
        if (!PyBytes_CheckExact(PyList_GET_ITEM(lines, i)))
            Py_RETURN_NONE;
    Decoder d;
    PyObject *result = NULL;
    int rc = FAIL;
    if (decoder_start(&d, n, keep_json, keep_text) < 0)
        goto done;
    for (Py_ssize_t i = 0; i < n; i++) {
        if (PyList_GET_SIZE(lines) != n) { /* (nothing here runs Python code, but a collection could) */
            PyErr_SetString(PyExc_RuntimeError, "the lines changed while they were decoded");
            rc = FAIL;
            goto done;
        }
        PyObject *line = Py_NewRef(PyList_GET_ITEM(lines, i));
        if (!PyBytes_CheckExact(line)) {
            Py_DECREF(line);
            rc = REFUSE;
            goto done;
        }
        rc = decoder_line(&d, PyBytes_AS_STRING(line), PyBytes_GET_SIZE(line), i, keep_json, keep_text);
        Py_DECREF(line);
        if (rc)
            goto done;
    }
    result = build_result(&d.b, keep_json, keep_text);
    rc = result == NULL ? FAIL : 0;
done:
    decoder_free(&d);
    if (rc == REFUSE)
        Py_RETURN_NONE;
    if (rc == FAIL && !PyErr_Occurred()) /* (a refusal cannot be told apart from this: never happens) */
        PyErr_SetString(PyExc_SystemError, "windows_lines failed without an error");
    return rc ? NULL : result;
}

/* bytes.isspace() of a non-empty line */
static int
blank_line(const char *p, Py_ssize_t n)
{
    for (Py_ssize_t i = 0; i < n; i++)
        if (!(p[i] == ' ' || p[i] == '\n' || p[i] == '\r' || p[i] == '\t' || p[i] == '\v' || p[i] == '\f'))
            return 0;
    return 1;
}

/* windows_block(buffer, length, max_lines, final, keep_json, keep_text) -> (used, lines, skipped, result)
 *
 * The lines of buffer[:length] (each ending after a newline; with `final`, the rest too), at most
 * max_lines of them, without a bytes object per line: `used` bytes, `lines` lines, `skipped` the
 * numbers (from 0) of the blank ones (bytes.isspace) or None, and `result` what windows_lines gives
 * for the others, or None.  The parser needs a NUL after each line: each line's newline (and the
 * byte at `length`, which the buffer must hold) is set to 0 while it is decoded and put back after,
 * so the buffer is writable and comes back as it was. */
static PyObject *
m_windows_block(PyObject *self, PyObject *args)
{
    Py_buffer view;
    Py_ssize_t length, max_lines;
    int final, keep_json, keep_text;
    (void)self;
    if (!PyArg_ParseTuple(args, "w*nnppp:windows_block", &view, &length, &max_lines, &final, &keep_json,
                          &keep_text))
        return NULL;
    PyObject *result = NULL, *skipped = NULL, *out = NULL;
    Py_ssize_t *starts = NULL, *lens = NULL;
    Decoder d;
    int rc = 0;
    memset(&d, 0, sizeof(d));
    if (length < 0 || length >= view.len || max_lines < 0) {
        PyErr_SetString(PyExc_ValueError, "length must be within the buffer, leaving one byte after it");
        goto done;
    }
    char *data = view.buf;
    Py_ssize_t cap = 0, nlines = 0, nkept = 0, pos = 0;
    while (nlines < max_lines && pos < length) {
        char *nl = memchr(data + pos, '\n', (size_t)(length - pos));
        if (nl == NULL && !final)
            break;
        Py_ssize_t end = nl == NULL ? length : nl - data, next = nl == NULL ? length : end + 1;
        if (blank_line(data + pos, next - pos)) {
            if (skipped == NULL && (skipped = PyList_New(0)) == NULL)
                goto done;
            PyObject *number = PyLong_FromSsize_t(nlines);
            if (number == NULL || PyList_Append(skipped, number) < 0) {
                Py_XDECREF(number);
                goto done;
            }
            Py_DECREF(number);
        } else {
            if (nkept == cap) {
                cap = cap ? cap * 2 : 4096;
                Py_ssize_t *s2 = PyMem_Realloc(starts, (size_t)cap * sizeof(Py_ssize_t));
                if (s2 != NULL)
                    starts = s2;
                Py_ssize_t *l2 = s2 != NULL ? PyMem_Realloc(lens, (size_t)cap * sizeof(Py_ssize_t)) : NULL;
                if (l2 != NULL)
                    lens = l2;
                if (s2 == NULL || l2 == NULL) {
                    PyErr_NoMemory();
                    goto done;
                }
            }
            starts[nkept] = pos;
            lens[nkept++] = end - pos;
        }
        nlines++;
        pos = next;
    }
    if (nkept > 0) {
        char saved = data[length];
        if (decoder_start(&d, nkept, keep_json, keep_text) < 0)
            goto done;
        for (Py_ssize_t i = 0; i < nkept && rc == 0; i++) {
            char *line = data + starts[i];
            char after = line[lens[i]];
            line[lens[i]] = 0;
            rc = decoder_line(&d, line, lens[i], i, keep_json, keep_text);
            line[lens[i]] = after;
        }
        data[length] = saved;
        if (rc == FAIL)
            goto done;
        if (rc == 0 && (result = build_result(&d.b, keep_json, keep_text)) == NULL)
            goto done;
    }
    out = Py_BuildValue("nnOO", pos, nlines, skipped ? skipped : Py_None, result ? result : Py_None);
done:
    decoder_free(&d);
    PyMem_Free(starts);
    PyMem_Free(lens);
    Py_XDECREF(skipped);
    Py_XDECREF(result);
    PyBuffer_Release(&view);
    if (out == NULL && !PyErr_Occurred())
        PyErr_SetString(PyExc_SystemError, "windows_block failed without an error");
    return out;
}

/* newlines(buffer, start, end) -> the number of newlines in buffer[start:end] (memchr: bytes.count
 * goes a byte at a time) */
static PyObject *
m_newlines(PyObject *self, PyObject *args)
{
    Py_buffer view;
    Py_ssize_t start, end, count = 0;
    (void)self;
    if (!PyArg_ParseTuple(args, "y*nn:newlines", &view, &start, &end))
        return NULL;
    if (start < 0 || end > view.len || start > end) {
        PyBuffer_Release(&view);
        PyErr_SetString(PyExc_ValueError, "start and end must be within the buffer");
        return NULL;
    }
    const char *p = (const char *)view.buf + start, *stop = (const char *)view.buf + end;
    while (p < stop && (p = memchr(p, '\n', (size_t)(stop - p))) != NULL) {
        count++;
        p++;
    }
    PyBuffer_Release(&view);
    return PyLong_FromSsize_t(count);
}

/* days from 1970-01-01 to y-m-d (proleptic Gregorian; Howard Hinnant's days_from_civil) */
static int64_t
days_from_civil(int64_t y, int64_t m, int64_t d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

static inline int
digits(const uint8_t *p, int n, int64_t *out)
{
    int64_t v = 0;
    for (int i = 0; i < n; i++) {
        if ((uint8_t)(p[i] - '0') > 9)
            return 0;
        v = v * 10 + (p[i] - '0');
    }
    *out = v;
    return 1;
}

/* YYYY-MM-DDTHH:MM:SS[.f{1,9}]Z exactly, as microseconds since the epoch; 0 for anything else
 * (a leap second, year 0, a lower-case t or z, ... : the caller's full parser decides those) */
static int
iso_micros_one(const uint8_t *p, Py_ssize_t n, int64_t *out)
{
    static const int month_days[13] = {0, 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    int64_t y, mo, d, h, mi, sec, frac = 0;
    if (n < 20 || n > 30 || p[4] != '-' || p[7] != '-' || p[10] != 'T' || p[13] != ':' || p[16] != ':'
        || p[n - 1] != 'Z')
        return 0;
    if (!digits(p, 4, &y) || !digits(p + 5, 2, &mo) || !digits(p + 8, 2, &d) || !digits(p + 11, 2, &h)
        || !digits(p + 14, 2, &mi) || !digits(p + 17, 2, &sec))
        return 0;
    if (n > 20) { /* a fraction: '.', 1 to 9 digits, left-aligned nanoseconds */
        int k = (int)(n - 21);
        if (p[19] != '.' || k < 1 || k > 9 || !digits(p + 20, k, &frac))
            return 0;
        for (int i = k; i < 9; i++)
            frac *= 10;
    }
    int leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    if (y < 1 || mo < 1 || mo > 12 || d < 1 || d > month_days[mo] + (mo == 2 && leap) || h > 23 || mi > 59
        || sec > 59)
        return 0;
    *out = (days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + sec) * 1000000 + frac / 1000;
    return 1;
}

/* iso_micros(validity | None, offsets, data, n, offset) -> (values, valid, count): a large_string
 * array's values parsed by iso_micros_one, as int64 microseconds and a validity bitmap (a value
 * not taken is null) */
static PyObject *
m_iso_micros(PyObject *self, PyObject *args)
{
    Py_buffer validity = {0}, offsets = {0}, data = {0};
    PyObject *validity_obj, *out = NULL, *values = NULL, *valid = NULL;
    Py_ssize_t n, offset, count = 0;
    (void)self;
    if (!PyArg_ParseTuple(args, "Oy*y*nn:iso_micros", &validity_obj, &offsets, &data, &n, &offset))
        return NULL;
    if (validity_obj != Py_None && PyObject_GetBuffer(validity_obj, &validity, PyBUF_SIMPLE) < 0)
        goto done;
    if (n < 0 || offset < 0 || (size_t)offsets.len < (size_t)(offset + n + 1) * 8
        || (validity.buf && validity.len * 8 < offset + n)) {
        PyErr_SetString(PyExc_ValueError, "the buffers do not hold n values from offset");
        goto done;
    }
    values = PyBytes_FromStringAndSize(NULL, n * 8);
    valid = PyBytes_FromStringAndSize(NULL, (n + 7) / 8);
    if (!values || !valid)
        goto done;
    int64_t *v = (int64_t *)(void *)PyBytes_AS_STRING(values);
    uint8_t *bits = (uint8_t *)PyBytes_AS_STRING(valid);
    memset(bits, 0, (size_t)(n + 7) / 8);
    const int64_t *off = (const int64_t *)offsets.buf + offset;
    const uint8_t *vb = validity.buf, *text = data.buf;
    for (Py_ssize_t i = 0; i < n; i++) {
        Py_ssize_t at = offset + i;
        v[i] = 0;
        if (vb && !((vb[at >> 3] >> (at & 7)) & 1))
            continue;
        int64_t start = off[i], end = off[i + 1];
        if (start < 0 || end < start || end > data.len) {
            PyErr_SetString(PyExc_ValueError, "an offset outside the data");
            goto done;
        }
        if (iso_micros_one(text + start, (Py_ssize_t)(end - start), &v[i])) {
            bits[i >> 3] |= (uint8_t)(1u << (i & 7));
            count++;
        }
    }
    out = Py_BuildValue("OOn", values, valid, count);
done:
    Py_XDECREF(values);
    Py_XDECREF(valid);
    if (validity.buf)
        PyBuffer_Release(&validity);
    PyBuffer_Release(&offsets);
    PyBuffer_Release(&data);
    return out;
}

static PyMethodDef methods[] = {
    {"iso_micros", (PyCFunction)m_iso_micros, METH_VARARGS,
     "iso_micros(validity, offsets, data, n, offset) -> (int64 values, validity, count): "
     "YYYY-MM-DDTHH:MM:SS[.f]Z texts of a large_string array as microseconds since the epoch"},
    {"newlines", (PyCFunction)m_newlines, METH_VARARGS,
     "newlines(buffer, start, end) -> the number of newlines in buffer[start:end]"},
    {"windows_block", (PyCFunction)m_windows_block, METH_VARARGS,
     "windows_block(buffer, length, max_lines, final, keep_json, keep_text) -> (used, lines, skipped, result)\n--\n\n"
     "windows_lines over the lines of a writable buffer's first length bytes, without a bytes object\n"
     "per line (see the comment in _decode.c)."},
    {"windows_lines", (PyCFunction)m_windows_lines, METH_VARARGS,
     "windows_lines(lines, keep_json, keep_text)\n--\n\n"
     "_columns.build([flatten_windows(orjson.loads(line)) for line in lines], keep_json, other, keep_text)\n"
     "for JSON lines of nested evtx-JSON Windows events, parsed and flattened here, or None when any\n"
     "line is not one this module takes (see its comment): then do it the slow way."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module_def = {
    PyModuleDef_HEAD_INIT,
    .m_name = "autosoc.normalize._decode",
    .m_doc = "JSON lines of Windows events -> the raw frame's Arrow string-view buffers, JSON and ids.",
    .m_size = -1,
    .m_methods = methods,
};

PyMODINIT_FUNC
PyInit__decode(void)
{
    init_escapes();
    return PyModule_Create(&module_def);
}
