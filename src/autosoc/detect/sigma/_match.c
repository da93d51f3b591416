/* Sigma rule tests over Arrow string columns, for autosoc.detect.sigma.native.
 *
 * A Rule is one rule's detection as a small tree of nodes (compiled in native.py): constants,
 * and/or/not, null tests and text tests of one column (eq, contains, startswith, endswith of one
 * literal; a wildcard glob; OR-ed literal sets as a trie or an Aho-Corasick automaton; IPv4 ranges).
 * run() evaluates (rule, row) pairs straight on the columns' Arrow buffers (string_view, string or
 * large_string), without copying them, and returns the truths as a bitmap.
 *
 * Semantics are those of the generated Python tests of pyeval.py: a null cell makes every text
 * test false; comparisons are on the UTF-8 bytes; a glob's single wildcard is one code point.
 */
#define PY_SSIZE_T_CLEAN
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <Python.h>
#include <stdint.h>
#include <string.h>

#include "_arrow.h"

enum {
    OP_CONST = 0, OP_AND, OP_OR, OP_NOT, OP_NULL, OP_PRESENT, OP_EQ, OP_CONTAINS, OP_STARTS, OP_ENDS,
    OP_GLOB, OP_SET, OP_CIDR4, OP_CALL, OP_COUNT
};
enum { SET_EQ = 0, SET_CONTAINS, SET_STARTS, SET_ENDS };
enum { TOK_ANY1 = 256, TOK_ANYN = 257 };

typedef struct { int32_t op, a, b, c; } Node;

typedef struct {
    int kind;
    int empty;          /* the empty literal is in the set */
    int32_t nclass;
    int32_t nstates;
    uint16_t cls[256];  /* byte -> class (0: in no literal) */
    uint8_t first[256]; /* contains: the byte leaves the root */
    int32_t *trans;     /* nstates * nclass; -1: no way on (tries) */
    uint8_t *term;
} Set;

/* a glob as segments between its TOK_ANYN runs; each segment's leading literal bytes found with memmem */
typedef struct {
    int32_t *tok;
    Py_ssize_t n;
    Py_ssize_t nseg;
    Py_ssize_t *seg_start, *seg_len, *lead_len; /* in tokens */
    uint8_t *lead;                                /* the tokens as bytes (valid in the leads) */
    int has_any1_last;                            /* the last segment holds a TOK_ANY1 */
    int open_start, open_end;                     /* the glob starts (ends) with TOK_ANYN */
} Glob;
typedef struct { uint32_t *lo, *hi; Py_ssize_t n; } Ranges;
typedef struct { char *p; Py_ssize_t n; Py_ssize_t rare; } Lit; /* rare: its least common byte's index */

typedef struct {
    PyObject_HEAD
    Node *nodes; Py_ssize_t nnodes;
    int32_t *kids; Py_ssize_t nkids;
    Lit *lits; Py_ssize_t nlits;
    Set *sets; Py_ssize_t nsets;
    Glob *globs; Py_ssize_t nglobs;
    Ranges *ranges; Py_ssize_t nranges;
    PyObject **calls; Py_ssize_t ncalls; /* OP_CALL's Python tests (they need the GIL) */
    int32_t maxcol; /* -1: reads no column */
    int32_t *cols;  /* the distinct columns it reads */
    Py_ssize_t ncols;
} RuleObject;


/* ---------------------------------------------------------------- sets */

static void set_free(Set *s) {
    PyMem_Free(s->trans);
    PyMem_Free(s->term);
    s->trans = NULL;
    s->term = NULL;
}

static int set_build(Set *s, int kind, Lit *const *lits, Py_ssize_t k) {
    memset(s, 0, sizeof(*s));
    s->kind = kind;
    Py_ssize_t total = 1;
    int32_t nclass = 1;
    for (Py_ssize_t i = 0; i < k; i++) {
        total += lits[i]->n;
        for (Py_ssize_t j = 0; j < lits[i]->n; j++) {
            uint8_t b = (uint8_t)lits[i]->p[j];
            s->cls[b] = 1;
        }
    }
    for (int b = 0; b < 256; b++)
        if (s->cls[b]) s->cls[b] = (uint16_t)nclass++;
    if (total > INT32_MAX / 257) {
        PyErr_SetString(PyExc_ValueError, "literal set too large");
        return -1;
    }
    s->nclass = nclass;
    s->trans = PyMem_Malloc((size_t)total * (size_t)nclass * sizeof(int32_t));
    s->term = PyMem_Calloc((size_t)total, 1);
    if (!s->trans || !s->term) {
        set_free(s);
        PyErr_NoMemory();
        return -1;
    }
    for (Py_ssize_t i = 0; i < total * nclass; i++) s->trans[i] = -1;
    int32_t n = 1;
    for (Py_ssize_t i = 0; i < k; i++) {
        int32_t st = 0;
        Py_ssize_t len = lits[i]->n;
        const uint8_t *p = (const uint8_t *)lits[i]->p;
        for (Py_ssize_t j = 0; j < len; j++) {
            uint8_t b = kind == SET_ENDS ? p[len - 1 - j] : p[j];
            int32_t *t = &s->trans[(Py_ssize_t)st * nclass + s->cls[b]];
            if (*t < 0) *t = n++;
            st = *t;
        }
        s->term[st] = 1;
        if (len == 0) s->empty = 1;
    }
    s->nstates = n;
    if (kind == SET_CONTAINS) { /* Aho-Corasick: every missing way goes where the failure link does */
        int32_t *fail = PyMem_Malloc((size_t)n * sizeof(int32_t));
        int32_t *queue = PyMem_Malloc((size_t)n * sizeof(int32_t));
        if (!fail || !queue) {
            PyMem_Free(fail);
            PyMem_Free(queue);
            set_free(s);
            PyErr_NoMemory();
            return -1;
        }
        Py_ssize_t head = 0, tail = 0;
        fail[0] = 0;
        for (int32_t c = 0; c < nclass; c++) {
            int32_t t = s->trans[c];
            if (t < 0) {
                s->trans[c] = 0;
            } else {
                fail[t] = 0;
                queue[tail++] = t;
            }
        }
        while (head < tail) {
            int32_t st = queue[head++];
            int32_t *row = &s->trans[(Py_ssize_t)st * nclass];
            const int32_t *frow = &s->trans[(Py_ssize_t)fail[st] * nclass];
            for (int32_t c = 0; c < nclass; c++) {
                if (row[c] < 0) {
                    row[c] = frow[c];
                } else {
                    int32_t t = row[c];
                    fail[t] = frow[c];
                    s->term[t] |= s->term[fail[t]];
                    queue[tail++] = t;
                }
            }
        }
        PyMem_Free(fail);
        PyMem_Free(queue);
        for (int b = 0; b < 256; b++) s->first[b] = s->trans[s->cls[b]] != 0;
    }
    int32_t *shrunk = PyMem_Realloc(s->trans, (size_t)n * (size_t)nclass * sizeof(int32_t));
    if (shrunk) s->trans = shrunk;
    return 0;
}

static int set_test(const Set *s, const uint8_t *p, Py_ssize_t n) {
    const int32_t *T = s->trans;
    const int32_t nc = s->nclass;
    const uint16_t *cls = s->cls;
    int32_t st = 0;
    switch (s->kind) {
    case SET_EQ:
        for (Py_ssize_t i = 0; i < n; i++) {
            st = T[(Py_ssize_t)st * nc + cls[p[i]]];
            if (st < 0) return 0;
        }
        return s->term[st];
    case SET_STARTS:
        if (s->empty) return 1;
        for (Py_ssize_t i = 0; i < n; i++) {
            st = T[(Py_ssize_t)st * nc + cls[p[i]]];
            if (st < 0) return 0;
            if (s->term[st]) return 1;
        }
        return 0;
    case SET_ENDS:
        if (s->empty) return 1;
        for (Py_ssize_t i = n - 1; i >= 0; i--) {
            st = T[(Py_ssize_t)st * nc + cls[p[i]]];
            if (st < 0) return 0;
            if (s->term[st]) return 1;
        }
        return 0;
    default: /* SET_CONTAINS */
        if (s->empty) return 1;
        for (Py_ssize_t i = 0; i < n; i++) {
            if (st == 0) {
                while (i < n && !s->first[p[i]]) i++;
                if (i == n) return 0;
            }
            st = T[(Py_ssize_t)st * nc + cls[p[i]]];
            if (s->term[st]) return 1;
        }
        return 0;
    }
}

/* ---------------------------------------------------------------- globs and addresses */

static inline Py_ssize_t cp_len(uint8_t b) {
    return b < 0x80 ? 1 : b >= 0xF0 ? 4 : b >= 0xE0 ? 3 : b >= 0xC0 ? 2 : 1;
}

/* the end of the segment tok[0..m) (bytes and TOK_ANY1) matched at s[i..], or -1 */
static Py_ssize_t segment_at(const int32_t *tok, Py_ssize_t m, const uint8_t *s, Py_ssize_t n, Py_ssize_t i) {
    for (Py_ssize_t p = 0; p < m; p++) {
        if (i >= n) return -1;
        if (tok[p] == TOK_ANY1) {
            i += cp_len(s[i]);
            if (i > n) i = n;
        } else if (tok[p] != s[i]) {
            return -1;
        } else {
            i++;
        }
    }
    return i;
}

/* the whole text matches the glob: segments placed leftmost in turn (each after the previous), the
 * first at the start unless the glob opens with a star, the last at the end unless it closes with one */
static int glob_test(const Glob *g, const uint8_t *s, Py_ssize_t n) {
    if (g->nseg == 0) return g->open_start || n == 0; /* only stars, or the empty glob */
    Py_ssize_t i = 0;
    for (Py_ssize_t k = 0; k < g->nseg; k++) {
        const int32_t *tok = g->tok + g->seg_start[k];
        Py_ssize_t m = g->seg_len[k];
        int last = k == g->nseg - 1;
        if (k == 0 && !g->open_start) {
            Py_ssize_t e = segment_at(tok, m, s, n, 0);
            if (e < 0) return 0;
            if (last && !g->open_end) return e == n;
            i = e;
            continue;
        }
        if (last && !g->open_end) { /* at the very end, starting at i or later */
            if (!g->has_any1_last) return n - i >= m && memcmp(s + n - m, g->lead + g->seg_start[k], (size_t)m) == 0;
            for (Py_ssize_t j = i; j < n; j += cp_len(s[j]))
                if (segment_at(tok, m, s, n, j) == n) return 1;
            return 0;
        }
        Py_ssize_t lead = g->lead_len[k], found = -1, j = i;
        if (lead > 0) {
            const uint8_t *bytes = g->lead + g->seg_start[k];
            while (j + m <= n) {
                const uint8_t *hit = lead == 1 ? memchr(s + j, bytes[0], (size_t)(n - j))
                                               : memmem(s + j, (size_t)(n - j), bytes, (size_t)lead);
                if (!hit) return 0;
                j = hit - s;
                Py_ssize_t e = segment_at(tok, m, s, n, j);
                if (e >= 0) {
                    found = e;
                    break;
                }
                j++;
            }
        } else {
            for (; j < n; j += cp_len(s[j])) {
                Py_ssize_t e = segment_at(tok, m, s, n, j);
                if (e >= 0) {
                    found = e;
                    break;
                }
            }
        }
        if (found < 0) return 0;
        i = found;
    }
    return 1;
}

/* splits g->tok into its segments */
static int glob_prepare(Glob *g) {
    Py_ssize_t n = g->n;
    g->seg_start = PyMem_Calloc((size_t)n + 1, sizeof(Py_ssize_t));
    g->seg_len = PyMem_Calloc((size_t)n + 1, sizeof(Py_ssize_t));
    g->lead_len = PyMem_Calloc((size_t)n + 1, sizeof(Py_ssize_t));
    g->lead = PyMem_Calloc((size_t)n + 1, 1);
    if (!g->seg_start || !g->seg_len || !g->lead_len || !g->lead) {
        PyErr_NoMemory();
        return -1;
    }
    g->open_start = n > 0 && g->tok[0] == TOK_ANYN;
    g->open_end = n > 0 && g->tok[n - 1] == TOK_ANYN;
    g->nseg = 0;
    for (Py_ssize_t i = 0; i < n;) {
        if (g->tok[i] == TOK_ANYN) {
            i++;
            continue;
        }
        Py_ssize_t start = i;
        while (i < n && g->tok[i] != TOK_ANYN) {
            g->lead[i] = g->tok[i] < 256 ? (uint8_t)g->tok[i] : 0;
            i++;
        }
        Py_ssize_t lead = 0;
        while (start + lead < i && g->tok[start + lead] < 256) lead++;
        g->seg_start[g->nseg] = start;
        g->seg_len[g->nseg] = i - start;
        g->lead_len[g->nseg] = lead;
        g->has_any1_last = lead < i - start;
        g->nseg++;
    }
    return 0;
}

/* the code point at p (n bytes left), its length in *len; -1 for a broken sequence */
static int32_t decode_at(const uint8_t *p, Py_ssize_t n, Py_ssize_t *len) {
    Py_ssize_t l = cp_len(p[0]);
    if (l > n) return -1;
    *len = l;
    if (l == 1) return p[0];
    if (l == 2) return (p[0] & 0x1F) << 6 | (p[1] & 0x3F);
    if (l == 3) return (p[0] & 0x0F) << 12 | (p[1] & 0x3F) << 6 | (p[2] & 0x3F);
    return (p[0] & 0x07) << 18 | (p[1] & 0x3F) << 12 | (p[2] & 0x3F) << 6 | (p[3] & 0x3F);
}

/* Unicode White_Space: what Rust's str::trim takes off (pyeval._RUST_SPACE) */
static int rust_space(int32_t c) {
    return (c >= 0x09 && c <= 0x0D) || c == 0x20 || c == 0x85 || c == 0xA0 || c == 0x1680
        || (c >= 0x2000 && c <= 0x200A) || c == 0x2028 || c == 0x2029 || c == 0x202F || c == 0x205F
        || c == 0x3000;
}

/* pyeval.ipv4_number: a dotted quad without leading zeros, spaces around it; -1 for anything else */
static int64_t ipv4_number(const uint8_t *p, Py_ssize_t n) {
    Py_ssize_t a = 0, b = n, len;
    while (a < b) {
        int32_t c = decode_at(p + a, b - a, &len);
        if (c < 0 || !rust_space(c)) break;
        a += len;
    }
    while (a < b) {
        Py_ssize_t start = b - 1;
        while (start > a && (p[start] & 0xC0) == 0x80) start--;
        int32_t c = decode_at(p + start, b - start, &len);
        if (c < 0 || start + len != b || !rust_space(c)) break;
        b = start;
    }
    uint32_t number = 0;
    for (int octet = 0; octet < 4; octet++) {
        if (octet) {
            if (a >= b || p[a] != '.') return -1;
            a++;
        }
        Py_ssize_t digits = 0;
        uint32_t value = 0;
        while (a < b && p[a] >= '0' && p[a] <= '9' && digits < 4) {
            value = value * 10 + (uint32_t)(p[a] - '0');
            digits++;
            a++;
        }
        if (digits == 0 || digits > 3 || (digits > 1 && p[a - digits] == '0') || value > 255) return -1;
        number = number << 8 | value;
    }
    return a == b ? (int64_t)number : -1;
}

static int ranges_test(const Ranges *r, const uint8_t *p, Py_ssize_t n) {
    int64_t number = ipv4_number(p, n);
    if (number < 0) return 0;
    Py_ssize_t lo = 0, hi = r->n; /* the last range starting at or before the number */
    while (lo < hi) {
        Py_ssize_t mid = (lo + hi) / 2;
        if (r->lo[mid] <= (uint32_t)number) lo = mid + 1;
        else hi = mid;
    }
    return lo > 0 && (uint32_t)number <= r->hi[lo - 1];
}

/* how common a byte is in (lower-cased) command lines, paths and registry keys, 0: rare .. 40 */
static int byte_commonness(uint8_t b) {
    static const char order[] = " e\\tas.oirnlcmpdh-u:/gwx\"fyb3k2v01=_'";  /* the most common first */
    const char *at = b ? strchr(order, b) : NULL;
    if (at) return 40 - (int)(at - order);
    if (b >= 'a' && b <= 'z') return 2;
    if (b >= '0' && b <= '9') return 2;
    if (b >= 'A' && b <= 'Z') return 1;
    return 0;
}

static void lit_prepare(Lit *l) {
    l->rare = 0;
    int best = 1000;
    for (Py_ssize_t i = 0; i < l->n; i++) {
        int c = byte_commonness((uint8_t)l->p[i]);
        if (c < best) {
            best = c;
            l->rare = i;
        }
    }
}

/* the literal is in s: memchr for its rarest byte, then a comparison around each hit */
static int lit_in(const Lit *l, const uint8_t *s, Py_ssize_t n) {
    Py_ssize_t m = l->n, r = l->rare;
    if (m == 0) return 1;
    if (m > n) return 0;
    const uint8_t rb = (uint8_t)l->p[r];
    Py_ssize_t start = 0, last = n - m; /* the positions the literal may start at */
    while (start <= last) {
        const uint8_t *hit = memchr(s + start + r, rb, (size_t)(last - start + 1));
        if (!hit) return 0;
        Py_ssize_t at = hit - s - r;
        if (memcmp(s + at, l->p, (size_t)m) == 0) return 1;
        start = at + 1;
    }
    return 0;
}

/* ---------------------------------------------------------------- cells and evaluation */


/* *bad: BAD_BUFFERS, UNDECIDED (an OP_CALL's value is not one its test decides: the pair's truth is
 * the caller's to find), BAD_CALL (the test raised: the exception is set) */
enum { BAD_BUFFERS = 1, UNDECIDED = 2, BAD_CALL = 4 };

static int ascii_only(const uint8_t *p, Py_ssize_t n) {
    Py_ssize_t i = 0;
    uint64_t acc = 0;
    for (; i + 8 <= n; i += 8) {
        uint64_t w;
        memcpy(&w, p + i, 8);
        acc |= w;
    }
    for (; i < n; i++) acc |= p[i];
    return (acc & 0x8080808080808080ULL) == 0;
}

/* OP_CALL: the rule's Python test c on the cell as str; c < 0: on any text, else only on ASCII text
 * of at most c bytes (any other is undecided) */
static int call_test(const RuleObject *r, const Node *nd, const uint8_t *p, Py_ssize_t n, int *bad) {
    if (nd->c >= 0 && (n > nd->c || !ascii_only(p, n))) {
        *bad |= UNDECIDED;
        return 0;
    }
    PyObject *text = PyUnicode_DecodeUTF8((const char *)p, n, NULL);
    if (!text) {
        *bad |= BAD_CALL;
        return 0;
    }
    PyObject *res = PyObject_CallOneArg(r->calls[nd->b], text);
    Py_DECREF(text);
    if (!res) {
        *bad |= BAD_CALL;
        return 0;
    }
    int truth = PyObject_IsTrue(res);
    Py_DECREF(res);
    if (truth < 0) {
        *bad |= BAD_CALL;
        return 0;
    }
    return truth;
}

static int eval(const RuleObject *r, int32_t id, const Col *cols, Py_ssize_t row, int *bad) {
    const Node *nd = &r->nodes[id];
    switch (nd->op) {
    case OP_CONST:
        return nd->a != 0;
    case OP_AND:
        for (int32_t i = 0; i < nd->b; i++)
            if (!eval(r, r->kids[nd->a + i], cols, row, bad)) return 0;
        return 1;
    case OP_OR:
        for (int32_t i = 0; i < nd->b; i++)
            if (eval(r, r->kids[nd->a + i], cols, row, bad)) return 1;
        return 0;
    case OP_NOT:
        return !eval(r, nd->a, cols, row, bad);
    default:
        break;
    }
    const uint8_t *p = NULL;
    Py_ssize_t n = 0;
    int got = cell(&cols[nd->a], row, &p, &n);
    if (got < 0) {
        *bad |= BAD_BUFFERS;
        return 0;
    }
    if (nd->op == OP_NULL) return !got;
    if (!got) return 0;
    switch (nd->op) {
    case OP_PRESENT:
        return 1;
    case OP_EQ: {
        const Lit *l = &r->lits[nd->b];
        return n == l->n && memcmp(p, l->p, (size_t)n) == 0;
    }
    case OP_CONTAINS:
        return lit_in(&r->lits[nd->b], p, n);
    case OP_STARTS: {
        const Lit *l = &r->lits[nd->b];
        return n >= l->n && memcmp(p, l->p, (size_t)l->n) == 0;
    }
    case OP_ENDS: {
        const Lit *l = &r->lits[nd->b];
        return n >= l->n && memcmp(p + n - l->n, l->p, (size_t)l->n) == 0;
    }
    case OP_GLOB:
        return glob_test(&r->globs[nd->b], p, n);
    case OP_SET:
        return set_test(&r->sets[nd->b], p, n);
    case OP_CIDR4:
        return ranges_test(&r->ranges[nd->b], p, n);
    case OP_CALL:
        return call_test(r, nd, p, n, bad);
    default:
        return 0;
    }
}

/* ---------------------------------------------------------------- the Rule type */

static void rule_clear(RuleObject *r) {
    for (Py_ssize_t i = 0; i < r->nlits; i++) PyMem_Free(r->lits[i].p);
    for (Py_ssize_t i = 0; i < r->nsets; i++) set_free(&r->sets[i]);
    for (Py_ssize_t i = 0; i < r->nglobs; i++) {
        PyMem_Free(r->globs[i].tok);
        PyMem_Free(r->globs[i].seg_start);
        PyMem_Free(r->globs[i].seg_len);
        PyMem_Free(r->globs[i].lead_len);
        PyMem_Free(r->globs[i].lead);
    }
    for (Py_ssize_t i = 0; i < r->nranges; i++) {
        PyMem_Free(r->ranges[i].lo);
        PyMem_Free(r->ranges[i].hi);
    }
    for (Py_ssize_t i = 0; i < r->ncalls; i++) Py_XDECREF(r->calls[i]);
    PyMem_Free(r->calls);
    r->calls = NULL;
    r->ncalls = 0;
    PyMem_Free(r->nodes);
    PyMem_Free(r->cols);
    r->cols = NULL;
    r->ncols = 0;
    PyMem_Free(r->kids);
    PyMem_Free(r->lits);
    PyMem_Free(r->sets);
    PyMem_Free(r->globs);
    PyMem_Free(r->ranges);
    r->nodes = NULL;
    r->kids = NULL;
    r->lits = NULL;
    r->sets = NULL;
    r->globs = NULL;
    r->ranges = NULL;
    r->nnodes = r->nkids = r->nlits = r->nsets = r->nglobs = r->nranges = 0;
}

static void rule_dealloc(RuleObject *r) {
    rule_clear(r);
    Py_TYPE(r)->tp_free((PyObject *)r);
}

/* a bytes object of int32 values, copied */
static int32_t *int32s(PyObject *obj, Py_ssize_t *count, const char *what) {
    if (!PyBytes_Check(obj) || PyBytes_GET_SIZE(obj) % 4) {
        PyErr_Format(PyExc_TypeError, "%s: bytes of int32 values expected", what);
        return NULL;
    }
    Py_ssize_t n = PyBytes_GET_SIZE(obj) / 4;
    int32_t *out = PyMem_Malloc(n ? (size_t)n * 4 : 1);
    if (!out) {
        PyErr_NoMemory();
        return NULL;
    }
    memcpy(out, PyBytes_AS_STRING(obj), (size_t)n * 4);
    *count = n;
    return out;
}

/* Rule(nodes, kids, literals, sets, globs, ranges): nodes and kids are bytes of int32 (nodes in
 * quadruples op, a, b, c, every child before its parent, the root last); literals a list of bytes;
 * sets a list of (kind, [literal index]); globs a list of int32 token bytes; ranges a list of
 * bytes of uint32 (first, last) pairs, sorted and disjoint; calls (optional) a list of callables of one
 * str (OP_CALL: node c is the longest text the call decides, -1: any) */
static int rule_init(RuleObject *self, PyObject *args, PyObject *kwds) {
    PyObject *nodes, *kids, *lits, *sets, *globs, *ranges, *calls = NULL;
    static char *names[] = {"nodes", "kids", "literals", "sets", "globs", "ranges", "calls", NULL};
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "SSO!O!O!O!|O!", names, &nodes, &kids, &PyList_Type, &lits,
                                     &PyList_Type, &sets, &PyList_Type, &globs, &PyList_Type, &ranges,
                                     &PyList_Type, &calls))
        return -1;
    rule_clear(self);
    if (calls) {
        Py_ssize_t nc = PyList_GET_SIZE(calls);
        self->calls = PyMem_Calloc(nc ? (size_t)nc : 1, sizeof(PyObject *));
        if (!self->calls) {
            PyErr_NoMemory();
            return -1;
        }
        for (Py_ssize_t i = 0; i < nc; i++) {
            PyObject *f = PyList_GET_ITEM(calls, i);
            if (!PyCallable_Check(f)) {
                PyErr_SetString(PyExc_TypeError, "calls: callables expected");
                rule_clear(self);
                return -1;
            }
            Py_INCREF(f);
            self->calls[i] = f;
            self->ncalls = i + 1;
        }
    }
    self->maxcol = -1;
    Py_ssize_t count;
    int32_t *raw = int32s(nodes, &count, "nodes");
    if (!raw) return -1;
    if (count == 0 || count % 4) {
        PyMem_Free(raw);
        PyErr_SetString(PyExc_ValueError, "nodes: a non-empty list of quadruples expected");
        return -1;
    }
    self->nodes = (Node *)raw;
    self->nnodes = count / 4;
    if (!(self->kids = int32s(kids, &self->nkids, "kids"))) goto fail;

    Py_ssize_t nl = PyList_GET_SIZE(lits);
    self->lits = PyMem_Calloc(nl ? (size_t)nl : 1, sizeof(Lit));
    if (!self->lits) goto nomem;
    for (Py_ssize_t i = 0; i < nl; i++) {
        PyObject *b = PyList_GET_ITEM(lits, i);
        if (!PyBytes_Check(b)) {
            PyErr_SetString(PyExc_TypeError, "literals: bytes expected");
            goto fail;
        }
        Py_ssize_t n = PyBytes_GET_SIZE(b);
        self->lits[i].p = PyMem_Malloc(n ? (size_t)n : 1);
        if (!self->lits[i].p) goto nomem;
        memcpy(self->lits[i].p, PyBytes_AS_STRING(b), (size_t)n);
        self->lits[i].n = n;
        lit_prepare(&self->lits[i]);
        self->nlits = i + 1;
    }

    Py_ssize_t ns = PyList_GET_SIZE(sets);
    self->sets = PyMem_Calloc(ns ? (size_t)ns : 1, sizeof(Set));
    if (!self->sets) goto nomem;
    for (Py_ssize_t i = 0; i < ns; i++) {
        int kind;
        PyObject *members;
        if (!PyArg_ParseTuple(PyList_GET_ITEM(sets, i), "iO!", &kind, &PyList_Type, &members)) goto fail;
        if (kind < SET_EQ || kind > SET_ENDS) {
            PyErr_SetString(PyExc_ValueError, "sets: unknown kind");
            goto fail;
        }
        Py_ssize_t k = PyList_GET_SIZE(members);
        Lit **chosen = PyMem_Malloc(k ? (size_t)k * sizeof(Lit *) : 1);
        if (!chosen) goto nomem;
        for (Py_ssize_t j = 0; j < k; j++) {
            Py_ssize_t at = PyLong_AsSsize_t(PyList_GET_ITEM(members, j));
            if (at < 0 || at >= nl) {
                PyMem_Free(chosen);
                if (!PyErr_Occurred()) PyErr_SetString(PyExc_ValueError, "sets: literal index out of range");
                goto fail;
            }
            chosen[j] = &self->lits[at];
        }
        int rc = set_build(&self->sets[i], kind, chosen, k);
        PyMem_Free(chosen);
        if (rc < 0) goto fail;
        self->nsets = i + 1;
    }

    Py_ssize_t ng = PyList_GET_SIZE(globs);
    self->globs = PyMem_Calloc(ng ? (size_t)ng : 1, sizeof(Glob));
    if (!self->globs) goto nomem;
    for (Py_ssize_t i = 0; i < ng; i++) {
        Glob *g = &self->globs[i];
        if (!(g->tok = int32s(PyList_GET_ITEM(globs, i), &g->n, "globs"))) goto fail;
        self->nglobs = i + 1;
        for (Py_ssize_t j = 0; j < g->n; j++)
            if (g->tok[j] < 0 || g->tok[j] > TOK_ANYN) {
                PyErr_SetString(PyExc_ValueError, "globs: bad token");
                goto fail;
            }
        if (glob_prepare(g) < 0) goto fail;
    }

    Py_ssize_t nr = PyList_GET_SIZE(ranges);
    self->ranges = PyMem_Calloc(nr ? (size_t)nr : 1, sizeof(Ranges));
    if (!self->ranges) goto nomem;
    for (Py_ssize_t i = 0; i < nr; i++) {
        PyObject *b = PyList_GET_ITEM(ranges, i);
        if (!PyBytes_Check(b) || PyBytes_GET_SIZE(b) % 8) {
            PyErr_SetString(PyExc_TypeError, "ranges: bytes of uint32 pairs expected");
            goto fail;
        }
        Ranges *r = &self->ranges[i];
        Py_ssize_t n = PyBytes_GET_SIZE(b) / 8;
        r->lo = PyMem_Malloc(n ? (size_t)n * 4 : 1);
        r->hi = PyMem_Malloc(n ? (size_t)n * 4 : 1);
        self->nranges = i + 1;
        if (!r->lo || !r->hi) goto nomem;
        r->n = n;
        const char *src = PyBytes_AS_STRING(b);
        for (Py_ssize_t j = 0; j < n; j++) {
            memcpy(&r->lo[j], src + 8 * j, 4);
            memcpy(&r->hi[j], src + 8 * j + 4, 4);
            if (r->lo[j] > r->hi[j] || (j && r->lo[j] <= r->hi[j - 1])) {
                PyErr_SetString(PyExc_ValueError, "ranges: sorted disjoint ranges expected");
                goto fail;
            }
        }
    }

    /* every index in range, every child before its parent (no cycles) */
    for (Py_ssize_t i = 0; i < self->nnodes; i++) {
        const Node *nd = &self->nodes[i];
        int ok = 1;
        switch (nd->op) {
        case OP_CONST:
            break;
        case OP_AND:
        case OP_OR:
            ok = nd->a >= 0 && nd->b >= 0 && (Py_ssize_t)nd->a + nd->b <= self->nkids;
            for (int32_t j = 0; ok && j < nd->b; j++) {
                int32_t kid = self->kids[nd->a + j];
                ok = kid >= 0 && kid < i;
            }
            break;
        case OP_NOT:
            ok = nd->a >= 0 && nd->a < i;
            break;
        default:
            ok = nd->op > OP_NOT && nd->op < OP_COUNT && nd->a >= 0;
            if (ok && (nd->op == OP_EQ || nd->op == OP_CONTAINS || nd->op == OP_STARTS || nd->op == OP_ENDS))
                ok = nd->b >= 0 && nd->b < self->nlits;
            else if (ok && nd->op == OP_GLOB)
                ok = nd->b >= 0 && nd->b < self->nglobs;
            else if (ok && nd->op == OP_SET)
                ok = nd->b >= 0 && nd->b < self->nsets;
            else if (ok && nd->op == OP_CIDR4)
                ok = nd->b >= 0 && nd->b < self->nranges;
            else if (ok && nd->op == OP_CALL)
                ok = nd->b >= 0 && nd->b < self->ncalls;
            if (ok && nd->a > self->maxcol) self->maxcol = nd->a;
        }
        if (!ok) {
            PyErr_Format(PyExc_ValueError, "node %zd is malformed", i);
            goto fail;
        }
    }
    self->cols = PyMem_Malloc((size_t)self->nnodes * sizeof(int32_t));
    if (!self->cols) goto nomem;
    for (Py_ssize_t i = 0; i < self->nnodes; i++) {
        const Node *nd = &self->nodes[i];
        if (nd->op <= OP_NOT) continue;
        Py_ssize_t j = 0;
        while (j < self->ncols && self->cols[j] != nd->a) j++;
        if (j == self->ncols) self->cols[self->ncols++] = nd->a;
    }
    return 0;
nomem:
    PyErr_NoMemory();
fail:
    rule_clear(self);
    return -1;
}

static PyObject *rule_columns(RuleObject *self, void *closure) {
    (void)closure;
    return PyLong_FromLong(self->maxcol + 1);
}

static PyObject *rule_states(RuleObject *self, void *closure) {
    (void)closure;
    Py_ssize_t total = 0;
    for (Py_ssize_t i = 0; i < self->nsets; i++) total += self->sets[i].nstates;
    return PyLong_FromSsize_t(total);
}

static PyGetSetDef rule_getset[] = {
    {"columns", (getter)rule_columns, NULL, "how many columns the rule needs (its highest index + 1)", NULL},
    {"states", (getter)rule_states, NULL, "the states of the rule's literal-set automata", NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

static PyTypeObject RuleType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "autosoc.detect.sigma._match.Rule",
    .tp_basicsize = sizeof(RuleObject),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "One rule's detection, compiled (see native.py).",
    .tp_new = PyType_GenericNew,
    .tp_init = (initproc)rule_init,
    .tp_dealloc = (destructor)rule_dealloc,
    .tp_getset = rule_getset,
};

/* ---------------------------------------------------------------- run */

static void pair_error(Py_ssize_t failed, int why, Py_ssize_t nrules, Py_ssize_t height) {
    if (why == 1)
        PyErr_Format(PyExc_ValueError, "pair %zd: rule number out of range (%zd rules)", failed, nrules);
    else if (why == 2)
        PyErr_Format(PyExc_ValueError, "pair %zd: the rule reads more columns than were given", failed);
    else if (why == 3)
        PyErr_Format(PyExc_ValueError, "pair %zd: row out of range (%zd rows)", failed, height);
    else if (why == 4)
        PyErr_Format(PyExc_ValueError, "pair %zd: a column's buffers do not hold its cell", failed);
    /* why 5: a rule's Python test raised, its exception is set */
}

/* run(columns, rules, pair_rules, pair_rows) -> bytes
 *
 * columns: a list of String columns of one length: Polars Series (or anything exporting an Arrow
 * stream of string_view, string or large_string arrays), Arrow stream capsules, or tuples (see
 * column_from_tuple); only the columns the pairs' rules read are imported (and checked); rules: a
 * list of Rule; pair_rules, pair_rows: the pairs' rule numbers and rows, uint32 (see uint32s).
 * Returns (truths, decided): the pairs' truths as an LSB-first bitmap, and None, or, when a rule's
 * Python test left some pair undecided (see call_test), a bitmap of the decided pairs. */
static PyObject *run(PyObject *module, PyObject *args) {
    (void)module;
    PyObject *columns, *rules, *rule_arg, *row_arg;
    if (!PyArg_ParseTuple(args, "O!O!OO", &PyList_Type, &columns, &PyList_Type, &rules, &rule_arg, &row_arg))
        return NULL;
    Held held;
    memset(&held, 0, sizeof(held));
    PyObject *out = NULL, *decided = NULL, *result = NULL;
    RuleObject **table = NULL;
    int calls = 0;
    uint8_t *used = NULL, *need = NULL;
    Py_ssize_t held_rules = 0;
    Py_ssize_t ncols = PyList_GET_SIZE(columns), nrules = PyList_GET_SIZE(rules), height = -1;
    Col *cols = PyMem_Calloc(ncols ? (size_t)ncols : 1, sizeof(Col));
    if (!cols) {
        PyErr_NoMemory();
        return NULL;
    }
    table = PyMem_Malloc(nrules ? (size_t)nrules * sizeof(RuleObject *) : 1);
    used = PyMem_Calloc(nrules ? (size_t)nrules : 1, 1);
    need = PyMem_Calloc(ncols ? (size_t)ncols : 1, 1);
    if (!table || !used || !need) {
        PyErr_NoMemory();
        goto done;
    }
    for (Py_ssize_t i = 0; i < nrules; i++) {
        PyObject *r = PyList_GET_ITEM(rules, i);
        if (!PyObject_TypeCheck(r, &RuleType) || ((RuleObject *)r)->nnodes == 0) {
            PyErr_Format(PyExc_TypeError, "rules[%zd] is not a compiled Rule", i);
            goto done;
        }
        table[i] = (RuleObject *)r;
        Py_INCREF(r); /* held while the loop runs without the GIL */
        held_rules = i + 1;
    }
    Py_ssize_t pairs, nrows;
    const uint32_t *pr = uint32s(&held, rule_arg, &pairs, "rules");
    if (!pr) goto done;
    const uint32_t *pp = uint32s(&held, row_arg, &nrows, "positions");
    if (!pp) goto done;
    if (nrows != pairs) {
        PyErr_Format(PyExc_ValueError, "%zd rule numbers but %zd positions", pairs, nrows);
        goto done;
    }
    /* the rules the pairs name, and the columns those read */
    for (Py_ssize_t k = 0; k < pairs; k++) {
        uint32_t r;
        memcpy(&r, pr + k, 4);
        if (r >= (uint64_t)nrules) {
            pair_error(k, 1, nrules, height);
            goto done;
        }
        if (used[r]) continue;
        used[r] = 1;
        const RuleObject *rule = table[r];
        if (rule->ncalls) calls = 1;
        if (rule->maxcol >= ncols) {
            pair_error(k, 2, nrules, height);
            goto done;
        }
        for (Py_ssize_t j = 0; j < rule->ncols; j++) need[rule->cols[j]] = 1;
    }
    for (Py_ssize_t i = 0; i < ncols; i++) {
        PyObject *item = PyList_GET_ITEM(columns, i);
        Py_ssize_t length;
        if (!need[i] && !PyCapsule_CheckExact(item) && (height >= 0 || i > 0)) continue;
        if (!need[i] && !PyCapsule_CheckExact(item)) { /* the first column: only its length */
            if (PyTuple_Check(item)) {
                if (PyTuple_GET_SIZE(item) < 2 || (length = PyLong_AsSsize_t(PyTuple_GET_ITEM(item, 1))) < 0) {
                    if (!PyErr_Occurred()) PyErr_SetString(PyExc_ValueError, "column 0: bad length");
                    goto done;
                }
            } else if ((length = PyObject_Length(item)) < 0) {
                goto done;
            }
        } else {
            Col *c = &cols[i];
            if (import_column(&held, item, c, &length, i) < 0) goto done;
        }
        if (height >= 0 && length != height) {
            PyErr_Format(PyExc_ValueError, "column %zd: %zd rows, not %zd as the others", i, length, height);
            goto done;
        }
        height = length;
    }
    out = PyBytes_FromStringAndSize(NULL, (pairs + 7) / 8);
    if (!out) goto done;
    uint8_t *bits = (uint8_t *)PyBytes_AS_STRING(out);
    memset(bits, 0, (size_t)(pairs + 7) / 8);
    Py_ssize_t failed = -1, undecided = 0;
    int why = 0, bad = 0;
    uint8_t *open_bits = NULL; /* the undecided pairs' bits */
    if (calls && !(open_bits = PyMem_Calloc((size_t)(pairs + 7) / 8 + 1, 1))) {
        PyErr_NoMemory();
        Py_CLEAR(out);
        goto done;
    }
    /* Python tests need the GIL: without them the loop runs without it */
    PyThreadState *saved = calls ? NULL : PyEval_SaveThread();
    for (Py_ssize_t k = 0; k < pairs; k++) {
        uint32_t r, row;
        memcpy(&r, pr + k, 4);
        memcpy(&row, pp + k, 4);
        const RuleObject *rule = table[r];
        if (height >= 0 && (Py_ssize_t)row >= height) { failed = k; why = 3; break; }
        if (eval(rule, (int32_t)(rule->nnodes - 1), cols, (Py_ssize_t)row, &bad))
            bits[k >> 3] |= (uint8_t)(1u << (k & 7));
        if (bad) {
            if (bad & BAD_BUFFERS) { failed = k; why = 4; break; }
            if (bad & BAD_CALL) { failed = k; why = 5; break; }
            open_bits[k >> 3] |= (uint8_t)(1u << (k & 7)); /* UNDECIDED */
            bits[k >> 3] &= (uint8_t)~(1u << (k & 7));
            undecided++;
            bad = 0;
        }
    }
    if (saved) PyEval_RestoreThread(saved);
    if (failed >= 0) {
        Py_CLEAR(out);
        pair_error(failed, why, nrules, height);
    } else if (undecided) {
        decided = PyBytes_FromStringAndSize(NULL, (pairs + 7) / 8);
        if (decided) {
            uint8_t *d = (uint8_t *)PyBytes_AS_STRING(decided);
            for (Py_ssize_t i = 0; i < (pairs + 7) / 8; i++) d[i] = (uint8_t)~open_bits[i];
        } else {
            Py_CLEAR(out);
        }
    }
    PyMem_Free(open_bits);
    if (out) result = PyTuple_Pack(2, out, decided ? decided : Py_None);
    Py_XDECREF(out);
    Py_XDECREF(decided);
    out = result;
done:
    for (Py_ssize_t i = 0; i < ncols; i++) {
        PyMem_Free((void *)cols[i].data);
        PyMem_Free(cols[i].data_len);
    }
    for (Py_ssize_t i = 0; i < held_rules; i++) Py_DECREF((PyObject *)table[i]);
    PyMem_Free(cols);
    PyMem_Free(table);
    PyMem_Free(used);
    PyMem_Free(need);
    release(&held);
    return out;
}

/* ---------------------------------------------------------------- the prefilter
 *
 * A group's necessary literals, one Aho-Corasick automaton per field (see Prefilter in native.py):
 * run() finds every (rule, row) where a row's value of one of the rule's fields holds one of that
 * field's literals for it, each pair once, sorted by rule then row.
 *
 * An automaton is over byte classes (the bytes of no literal share class 0).  Its shallow states (a
 * prefix of the breadth-first order, as many as a memory budget allows) are a complete transition
 * table; the deeper ones, mostly single-child chains of long literals, keep only their trie edges and
 * their failure link, followed until a shallow state takes the byte.  A transition's value encodes
 * its target: below lim_a a plain shallow state (its row's offset, state * (nclass + 1)), below lim_b
 * a shallow state ending a literal (its row's last slot: its first output state), from lim_b on a
 * deep state (lim_b + its number among them; from lim_c on the ones ending a literal), so the common
 * step is one load and one compare.
 *
 * run() goes through the rows in blocks; per block, field by field (the automaton stays in cache),
 * the rules found set bits in a small bitmap per rule, which at the block's end gives each rule's
 * rows in order, each once; a counting sort by rule (stable) then orders the pairs by rule, row.
 * The scan and the sort run without the GIL. */

typedef struct {
    int32_t nclass;
    uint32_t lim_a, lim_b, lim_c;
    Py_ssize_t nstates, ndense, nedges, nrules_listed;
    uint16_t cls[256];
    uint8_t first[256];  /* the byte leaves the root */
    uint32_t *dense;     /* ndense rows of nclass encoded targets and the state's first output (new id) */
    int32_t *edge_start; /* per deep state + 1 */
    uint16_t *edge_cls;
    uint32_t *edge_to;
    uint32_t *sfail;     /* per deep state: its failure link, encoded */
    int32_t *out;        /* per state: the first state of its suffix chain that ends a literal, or -1 */
    int32_t *next_out;   /* per state ending a literal: the next one along its suffix chain, or -1 */
    int32_t *rule_start; /* per state + 1: the rules of the literal it ends, in rules */
    uint32_t *rules;
    /* a field of few literals, all at least SKIP_MIN bytes long, is searched by skips instead
     * (Wu-Manber, blocks of two bytes): a window of the shortest literal's m bytes moves on by
     * shift[skip_hash(its last two bytes)]; only where that is 0 are the literals ending there compared */
    int skip, fold;
    int32_t m, nlits;
    uint8_t *shift;           /* SKIP_TABLE, by skip_hash of the block: the least shift of the blocks there */
    uint16_t *lit_end;        /* per literal: the block that ends its first m bytes */
    uint8_t *lit_bytes;       /* the literals one after the other */
    int32_t *lit_start;       /* nlits + 1 offsets into lit_bytes */
    int32_t *lit_rule_start;  /* nlits + 1 offsets into lit_rules */
    uint32_t *lit_rules;
    /* and, where the processor has AVX2, the same literals by Teddy's SIMD search (as in Hyperscan):
     * the literals, sorted, in up to TEDDY_BUCKETS buckets; a byte sets its bucket bits in
     * t_lo[j][low nibble] and t_hi[j][high nibble] when some literal of the bucket has it at
     * position j (0-2; both cases of a letter when folded), so 32 text positions at a time are
     * tested for a bucket's first three bytes with six byte shuffles, and only where one passes are
     * that bucket's literals compared */
    int teddy;
    uint8_t t_lo[3][16], t_hi[3][16];
    int32_t t_start[9];       /* per bucket + 1: its literals in t_lits */
    int32_t *t_lits;
} Field;

#define SKIP_MIN 5
#define SKIP_MAX_LITERALS 128
#define SKIP_TABLE 4096
#define TEDDY_BUCKETS 8
#define SCAN_WAYS 4 /* values a scan walks at once */
#ifndef LIKELY
#define LIKELY(x) __builtin_expect(!!(x), 1)
#endif
#define NOINLINE_COLD __attribute__((noinline, cold))
/* two bytes to SKIP_TABLE slots; blocks sharing a slot share the least shift (still exact) */
static inline uint32_t skip_hash(uint32_t block) { return ((block >> 4) ^ block) & (SKIP_TABLE - 1); }

typedef struct {
    PyObject_HEAD
    Field *fields;
    Py_ssize_t nfields;
    uint32_t nrules; /* the highest rule index + 1 */
    size_t bytes;
    /* per rule: the rule number of its second necessary set (a rule that needs a literal of each
     * of two sets is a candidate only where both were found), NO_CONJUNCT for none; the second
     * sets' numbers are flagged in `second`, and never reported themselves */
    uint32_t *conjunct;
    uint8_t *second;
} PrefilterObject;

#define NO_CONJUNCT UINT32_MAX

static void field_free(Field *f) {
    PyMem_Free(f->dense);
    PyMem_Free(f->edge_start);
    PyMem_Free(f->edge_cls);
    PyMem_Free(f->edge_to);
    PyMem_Free(f->sfail);
    PyMem_Free(f->out);
    PyMem_Free(f->next_out);
    PyMem_Free(f->rule_start);
    PyMem_Free(f->rules);
    PyMem_Free(f->shift);
    PyMem_Free(f->lit_end);
    PyMem_Free(f->lit_bytes);
    PyMem_Free(f->lit_start);
    PyMem_Free(f->lit_rule_start);
    PyMem_Free(f->lit_rules);
    PyMem_Free(f->t_lits);
    memset(f, 0, sizeof(*f));
}

/* literal a before literal b, by their bytes */
static int lit_before(const Field *f, int32_t a, int32_t b) {
    int32_t na = f->lit_start[a + 1] - f->lit_start[a], nb = f->lit_start[b + 1] - f->lit_start[b];
    int c = memcmp(f->lit_bytes + f->lit_start[a], f->lit_bytes + f->lit_start[b], (size_t)(na < nb ? na : nb));
    return c < 0 || (c == 0 && na < nb);
}

/* Teddy's tables (see Field) for the skip search's literals: sorted, so that literals sharing
 * their first bytes share a bucket and its nibble sets stay small */
static int teddy_build(Field *f) {
    int32_t k = f->nlits;
    f->t_lits = PyMem_Malloc((size_t)k * 4);
    if (!f->t_lits) {
        PyErr_NoMemory();
        return -1;
    }
    for (int32_t i = 0; i < k; i++) { /* insertion sort: at most SKIP_MAX_LITERALS */
        int32_t j = i;
        for (; j > 0 && lit_before(f, i, f->t_lits[j - 1]); j--) f->t_lits[j] = f->t_lits[j - 1];
        f->t_lits[j] = i;
    }
    int32_t buckets = k < TEDDY_BUCKETS ? k : TEDDY_BUCKETS;
    memset(f->t_lo, 0, sizeof(f->t_lo));
    memset(f->t_hi, 0, sizeof(f->t_hi));
    for (int32_t b = 0; b <= buckets; b++) f->t_start[b] = (int32_t)((int64_t)b * k / buckets);
    for (int32_t b = buckets + 1; b <= TEDDY_BUCKETS; b++) f->t_start[b] = k;
    for (int32_t b = 0; b < buckets; b++)
        for (int32_t j = f->t_start[b]; j < f->t_start[b + 1]; j++) {
            const uint8_t *l = f->lit_bytes + f->lit_start[f->t_lits[j]];
            for (int pos = 0; pos < 3; pos++) { /* every literal is at least SKIP_MIN bytes */
                uint8_t c = l[pos];
                f->t_lo[pos][c & 15] |= (uint8_t)(1u << b);
                f->t_hi[pos][c >> 4] |= (uint8_t)(1u << b);
                if (f->fold && c >= 'a' && c <= 'z') /* A-Z: the same low nibble */
                    f->t_hi[pos][(c - 32) >> 4] |= (uint8_t)(1u << b);
            }
        }
    f->teddy = 1;
    return 0;
}

/* the skip search's tables (see Field) for the literals of `items`, when they qualify; 0 or -1 */
static int skip_build(Field *f, PyObject *items, int fold) {
    Py_ssize_t k = PyList_GET_SIZE(items), total = 0, nrules = 0;
    int32_t m = INT32_MAX;
    f->fold = fold;
    if (k == 0 || k > SKIP_MAX_LITERALS) return 0;
    for (Py_ssize_t i = 0; i < k; i++) {
        PyObject *item = PyList_GET_ITEM(items, i);
        Py_ssize_t n = PyBytes_GET_SIZE(PyTuple_GET_ITEM(item, 0));
        if (n < m) m = (int32_t)n;
        total += n;
        nrules += PyList_GET_SIZE(PyTuple_GET_ITEM(item, 1));
    }
    if (m < SKIP_MIN) return 0;
    if (m > 200) m = 200; /* shifts fit a byte */
    f->shift = PyMem_Malloc(SKIP_TABLE);
    f->lit_end = PyMem_Malloc((size_t)k * 2);
    f->lit_bytes = PyMem_Malloc((size_t)total);
    f->lit_start = PyMem_Malloc((size_t)(k + 1) * 4);
    f->lit_rule_start = PyMem_Malloc((size_t)(k + 1) * 4);
    f->lit_rules = PyMem_Malloc((size_t)(nrules ? nrules : 1) * 4);
    if (!f->shift || !f->lit_end || !f->lit_bytes || !f->lit_start || !f->lit_rule_start || !f->lit_rules) {
        PyErr_NoMemory();
        return -1;
    }
    memset(f->shift, m - 1, SKIP_TABLE);
    int32_t at = 0, r = 0;
    for (Py_ssize_t i = 0; i < k; i++) {
        PyObject *item = PyList_GET_ITEM(items, i);
        PyObject *lit = PyTuple_GET_ITEM(item, 0), *rules = PyTuple_GET_ITEM(item, 1);
        const uint8_t *p = (const uint8_t *)PyBytes_AS_STRING(lit);
        Py_ssize_t n = PyBytes_GET_SIZE(lit);
        f->lit_start[i] = at;
        memcpy(f->lit_bytes + at, p, (size_t)n);
        at += (int32_t)n;
        f->lit_rule_start[i] = r;
        for (Py_ssize_t j = 0; j < PyList_GET_SIZE(rules); j++)
            f->lit_rules[r++] = (uint32_t)PyLong_AsLong(PyList_GET_ITEM(rules, j));
        for (int32_t j = 1; j < m; j++) { /* the block ending at j of the window */
            uint32_t h = skip_hash((uint32_t)p[j - 1] << 8 | p[j]);
            uint8_t d = (uint8_t)(m - 1 - j);
            if (d < f->shift[h]) f->shift[h] = d;
        }
        f->lit_end[i] = (uint16_t)((uint32_t)p[m - 2] << 8 | p[m - 1]);
    }
    f->lit_start[k] = at;
    f->lit_rule_start[k] = r;
    f->m = m;
    f->nlits = (int32_t)k;
    f->skip = 1;
    return teddy_build(f);
}

static size_t field_bytes(const Field *f) {
    Py_ssize_t deep = f->nstates - f->ndense;
    size_t skip = f->skip ? SKIP_TABLE + (size_t)f->nlits * 10 + (size_t)f->lit_start[f->nlits]
                                + (size_t)f->lit_rule_start[f->nlits] * 4 + 8 : 0;
    return skip + sizeof(Field) + (size_t)f->ndense * (size_t)(f->nclass + 1) * 4 + (size_t)(deep + 1) * 4
         + (size_t)f->nedges * 6 + (size_t)deep * 4 + (size_t)f->nstates * 12 + 4 + (size_t)f->nrules_listed * 4;
}

/* the trie child of s on class c (build time), or -1 */
static inline int32_t trie_child(const int32_t *root_next, const int32_t *first_child, const int32_t *sibling,
                                 const uint16_t *label, int32_t s, uint16_t c) {
    if (s == 0) return root_next[c];
    for (int32_t k = first_child[s]; k >= 0; k = sibling[k])
        if (label[k] == c) return k;
    return -1;
}

/* builds f from a list of (literal bytes, [rule index, ...]); dense_bytes: the budget of the table;
 * fold: the literals hold no A-Z, and a text's A-Z bytes are taken as their a-z (ASCII case folding) */
static int field_build(Field *f, PyObject *items, Py_ssize_t dense_bytes, uint32_t *nrules, int fold) {
    memset(f, 0, sizeof(*f));
    Py_ssize_t k = PyList_GET_SIZE(items), total = 1;
    for (Py_ssize_t i = 0; i < k; i++) {
        PyObject *item = PyList_GET_ITEM(items, i);
        if (!PyTuple_Check(item) || PyTuple_GET_SIZE(item) != 2 || !PyBytes_Check(PyTuple_GET_ITEM(item, 0))
            || !PyList_Check(PyTuple_GET_ITEM(item, 1))) {
            PyErr_SetString(PyExc_TypeError, "literals: (bytes, [rule index, ...]) pairs expected");
            return -1;
        }
        PyObject *lit = PyTuple_GET_ITEM(item, 0);
        Py_ssize_t n = PyBytes_GET_SIZE(lit);
        if (n == 0) {
            PyErr_SetString(PyExc_ValueError, "literals: the empty literal is not a necessary literal");
            return -1;
        }
        total += n;
    }
    if (total >= INT32_MAX / 2) {
        PyErr_SetString(PyExc_ValueError, "literals: too many bytes");
        return -1;
    }
    /* the classes numbered by how often their byte is in the literals: a row's first cache lines
     * hold the ways on of the common bytes, those a text mostly takes */
    Py_ssize_t freq[256] = {0};
    for (Py_ssize_t i = 0; i < k; i++) {
        PyObject *lit = PyTuple_GET_ITEM(PyList_GET_ITEM(items, i), 0);
        const uint8_t *p = (const uint8_t *)PyBytes_AS_STRING(lit);
        for (Py_ssize_t j = 0; j < PyBytes_GET_SIZE(lit); j++) freq[p[j]]++;
    }
    int32_t nc = 1;
    for (;;) {
        int best = -1;
        for (int b = 0; b < 256; b++)
            if (freq[b] > 0 && (best < 0 || freq[b] > freq[best])) best = b;
        if (best < 0) break;
        f->cls[best] = (uint16_t)nc++;
        freq[best] = 0;
    }
    if (fold) {
        for (int b = 'A'; b <= 'Z'; b++) {
            if (f->cls[b]) {
                PyErr_SetString(PyExc_ValueError, "literals: a folded field's literals hold no A-Z");
                return -1;
            }
            f->cls[b] = f->cls[b + 32];
        }
    }
    f->nclass = nc;
    int rc = -1;
    int32_t n = 1; /* states */
    int32_t *root_next = PyMem_Malloc((size_t)nc * 4);
    int32_t *first_child = PyMem_Malloc((size_t)total * 4), *sibling = PyMem_Malloc((size_t)total * 4);
    uint16_t *label = PyMem_Malloc((size_t)total * 2);
    int32_t *term = PyMem_Malloc((size_t)total * 4), *fail = PyMem_Calloc((size_t)total, 4);
    int32_t *dict = PyMem_Malloc((size_t)total * 4), *order = PyMem_Malloc((size_t)total * 4);
    int32_t *newid = PyMem_Malloc((size_t)total * 4), *oldid = PyMem_Malloc((size_t)total * 4);
    if (!root_next || !first_child || !sibling || !label || !term || !fail || !dict || !order || !newid || !oldid) {
        PyErr_NoMemory();
        goto done;
    }
    for (int32_t c = 0; c < nc; c++) root_next[c] = -1;
    first_child[0] = sibling[0] = term[0] = -1;
    label[0] = 0;
    Py_ssize_t listed = 0;
    for (Py_ssize_t i = 0; i < k; i++) {
        PyObject *item = PyList_GET_ITEM(items, i);
        PyObject *lit = PyTuple_GET_ITEM(item, 0), *rules = PyTuple_GET_ITEM(item, 1);
        const uint8_t *p = (const uint8_t *)PyBytes_AS_STRING(lit);
        int32_t s = 0;
        for (Py_ssize_t j = 0; j < PyBytes_GET_SIZE(lit); j++) {
            uint16_t c = f->cls[p[j]];
            int32_t t = trie_child(root_next, first_child, sibling, label, s, c);
            if (t < 0) {
                t = n++;
                first_child[t] = term[t] = -1;
                label[t] = c;
                if (s == 0) {
                    root_next[c] = t;
                    sibling[t] = -1;
                } else {
                    sibling[t] = first_child[s];
                    first_child[s] = t;
                }
            }
            s = t;
        }
        if (term[s] >= 0) {
            PyErr_SetString(PyExc_ValueError, "literals: a literal listed twice");
            goto done;
        }
        term[s] = (int32_t)i;
        listed += PyList_GET_SIZE(rules);
        for (Py_ssize_t j = 0; j < PyList_GET_SIZE(rules); j++) {
            long r = PyLong_AsLong(PyList_GET_ITEM(rules, j));
            if (r < 0 || r >= (long)UINT32_MAX - 1) {
                if (!PyErr_Occurred()) PyErr_SetString(PyExc_ValueError, "literals: rule index out of range");
                goto done;
            }
            if ((uint32_t)r + 1 > *nrules) *nrules = (uint32_t)r + 1;
        }
    }
    /* breadth-first: failure links and suffix-output links */
    Py_ssize_t head = 0, tail = 0;
    order[tail++] = 0;
    dict[0] = -1;
    while (head < tail) {
        int32_t u = order[head++];
        int32_t c = 0, kid = u == 0 ? -1 : first_child[u];
        for (;;) {
            int32_t v;
            if (u == 0) {
                if (c == nc) break;
                v = root_next[c++];
                if (v < 0) continue;
            } else {
                if (kid < 0) break;
                v = kid;
                kid = sibling[kid];
            }
            int32_t w = 0;
            if (u != 0) { /* the longest proper suffix in the trie: the failure link's way on, or less */
                w = fail[u];
                int32_t t;
                while ((t = trie_child(root_next, first_child, sibling, label, w, label[v])) < 0 && w != 0)
                    w = fail[w];
                w = t < 0 ? 0 : t;
            }
            fail[v] = w;
            dict[v] = term[w] >= 0 ? w : dict[w];
            order[tail++] = v;
        }
    }
    /* the shallow states: a prefix of the breadth-first order within the budget (the root at least) */
    const int32_t stride = nc + 1; /* a row: the classes' targets, then the state's first output */
    Py_ssize_t ndense = dense_bytes / ((Py_ssize_t)stride * 4);
    if (ndense < 1) ndense = 1;
    if (ndense > n) ndense = n;
    if ((uint64_t)ndense * (uint64_t)stride + (uint64_t)n >= UINT32_MAX) {
        PyErr_SetString(PyExc_ValueError, "literals: automaton too large");
        goto done;
    }
    /* numbering: plain shallow states (the root first), shallow ones ending a literal, deep ones */
    int32_t next = 0;
    for (int pass = 0; pass < 2; pass++)
        for (Py_ssize_t i = 0; i < ndense; i++) {
            int32_t s = order[i];
            int reports = term[s] >= 0 || dict[s] >= 0;
            if (reports == pass) {
                newid[s] = next;
                oldid[next++] = s;
            }
        }
    Py_ssize_t plain = 0;
    while (plain < ndense && term[oldid[plain]] < 0 && dict[oldid[plain]] < 0) plain++;
    Py_ssize_t deep_plain = 0;
    for (int pass = 0; pass < 2; pass++)
        for (Py_ssize_t i = ndense; i < n; i++) {
            int32_t s = order[i];
            int reports = term[s] >= 0 || dict[s] >= 0;
            if (reports == pass) {
                newid[s] = next;
                oldid[next++] = s;
                deep_plain += !pass;
            }
        }
    f->nstates = n;
    f->ndense = ndense;
    f->lim_a = (uint32_t)(plain * stride);
    f->lim_b = (uint32_t)(ndense * stride);
    f->lim_c = f->lim_b + (uint32_t)deep_plain;
#define ENC(old) (newid[old] < ndense ? (uint32_t)newid[old] * (uint32_t)stride : f->lim_b + (uint32_t)(newid[old] - ndense))
    Py_ssize_t deep = n - ndense, nedges = 0;
    for (Py_ssize_t i = ndense; i < n; i++)
        for (int32_t kid = first_child[oldid[i]]; kid >= 0; kid = sibling[kid]) nedges++;
    f->nedges = nedges;
    f->nrules_listed = listed;
    f->dense = PyMem_Malloc((size_t)ndense * (size_t)stride * 4);
    f->edge_start = PyMem_Malloc((size_t)(deep + 1) * 4);
    f->edge_cls = PyMem_Malloc(nedges ? (size_t)nedges * 2 : 1);
    f->edge_to = PyMem_Malloc(nedges ? (size_t)nedges * 4 : 1);
    f->sfail = PyMem_Malloc(deep ? (size_t)deep * 4 : 1);
    f->out = PyMem_Malloc((size_t)n * 4);
    f->next_out = PyMem_Malloc((size_t)n * 4);
    f->rule_start = PyMem_Malloc((size_t)(n + 1) * 4);
    f->rules = PyMem_Malloc(listed ? (size_t)listed * 4 : 1);
    if (!f->dense || !f->edge_start || !f->edge_cls || !f->edge_to || !f->sfail || !f->out || !f->next_out
        || !f->rule_start || !f->rules) {
        PyErr_NoMemory();
        goto done;
    }
    for (Py_ssize_t i = 0; i < ndense; i++) { /* breadth-first: a failure link's row is complete before */
        int32_t s = order[i];
        uint32_t *row = f->dense + (size_t)newid[s] * (size_t)stride;
        const uint32_t *frow = s == 0 ? NULL : f->dense + (size_t)newid[fail[s]] * (size_t)stride;
        for (int32_t c = 0; c < nc; c++) row[c] = frow ? frow[c] : 0;
        int32_t out = term[s] >= 0 ? s : dict[s];
        row[nc] = out < 0 ? UINT32_MAX : (uint32_t)newid[out];
        if (s == 0) {
            for (int32_t c = 0; c < nc; c++)
                if (root_next[c] >= 0) row[c] = ENC(root_next[c]);
        } else {
            for (int32_t kid = first_child[s]; kid >= 0; kid = sibling[kid]) row[label[kid]] = ENC(kid);
        }
    }
    Py_ssize_t e = 0;
    for (Py_ssize_t i = ndense; i < n; i++) {
        int32_t s = oldid[i];
        f->edge_start[i - ndense] = (int32_t)e;
        for (int32_t kid = first_child[s]; kid >= 0; kid = sibling[kid]) {
            f->edge_cls[e] = label[kid];
            f->edge_to[e++] = ENC(kid);
        }
        f->sfail[i - ndense] = ENC(fail[s]);
    }
    f->edge_start[deep] = (int32_t)e;
#undef ENC
    Py_ssize_t r = 0;
    for (int32_t id = 0; id < n; id++) {
        int32_t s = oldid[id];
        int32_t first = term[s] >= 0 ? s : dict[s];
        f->out[id] = first < 0 ? -1 : newid[first];
        f->next_out[id] = dict[s] < 0 ? -1 : newid[dict[s]];
        f->rule_start[id] = (int32_t)r;
        if (term[s] < 0) continue;
        PyObject *rules = PyTuple_GET_ITEM(PyList_GET_ITEM(items, term[s]), 1);
        for (Py_ssize_t j = 0; j < PyList_GET_SIZE(rules); j++)
            f->rules[r++] = (uint32_t)PyLong_AsLong(PyList_GET_ITEM(rules, j));
    }
    f->rule_start[n] = (int32_t)r;
    for (int b = 0; b < 256; b++) f->first[b] = f->dense[f->cls[b]] != 0;
    rc = 0;
done:
    PyMem_Free(root_next);
    PyMem_Free(first_child);
    PyMem_Free(sibling);
    PyMem_Free(label);
    PyMem_Free(term);
    PyMem_Free(fail);
    PyMem_Free(dict);
    PyMem_Free(order);
    PyMem_Free(newid);
    PyMem_Free(oldid);
    if (rc < 0) field_free(f);
    return rc;
}

static void prefilter_clear(PrefilterObject *self) {
    for (Py_ssize_t i = 0; i < self->nfields; i++) field_free(&self->fields[i]);
    PyMem_Free(self->fields);
    PyMem_Free(self->conjunct);
    PyMem_Free(self->second);
    self->fields = NULL;
    self->conjunct = NULL;
    self->second = NULL;
    self->nfields = 0;
    self->nrules = 0;
    self->bytes = 0;
}

static void prefilter_dealloc(PrefilterObject *self) {
    prefilter_clear(self);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

/* Prefilter(fields, dense_bytes): fields a list, per field a list of (literal bytes, [rule index, ...])
 * (distinct non-empty literals); dense_bytes the budget of each field's complete transition table */
static int prefilter_init(PrefilterObject *self, PyObject *args, PyObject *kwds) {
    PyObject *fields, *folds = NULL, *conjuncts = NULL;
    Py_ssize_t dense_bytes = 1 << 20;
    static char *names[] = {"fields", "dense_bytes", "folds", "conjuncts", NULL};
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "O!|nO!O!", names, &PyList_Type, &fields, &dense_bytes,
                                     &PyList_Type, &folds, &PyList_Type, &conjuncts))
        return -1;
    prefilter_clear(self);
    Py_ssize_t nf = PyList_GET_SIZE(fields);
    if (folds && PyList_GET_SIZE(folds) != nf) {
        PyErr_SetString(PyExc_ValueError, "folds: one flag per field expected");
        return -1;
    }
    self->fields = PyMem_Calloc(nf ? (size_t)nf : 1, sizeof(Field));
    if (!self->fields) {
        PyErr_NoMemory();
        return -1;
    }
    size_t bytes = sizeof(PrefilterObject);
    for (Py_ssize_t i = 0; i < nf; i++) {
        PyObject *items = PyList_GET_ITEM(fields, i);
        if (!PyList_Check(items)) {
            PyErr_SetString(PyExc_TypeError, "fields: a list of literal lists expected");
            prefilter_clear(self);
            return -1;
        }
        int fold = folds ? PyObject_IsTrue(PyList_GET_ITEM(folds, i)) : 0;
        if (fold < 0 || field_build(&self->fields[i], items, dense_bytes, &self->nrules, fold) < 0
            || skip_build(&self->fields[i], items, fold) < 0) {
            prefilter_clear(self);
            return -1;
        }
        self->nfields = i + 1;
        bytes += field_bytes(&self->fields[i]);
    }
    self->nfields = nf;
    if (conjuncts && PyList_GET_SIZE(conjuncts)) { /* (rule, its second set's number) pairs */
        uint32_t n = self->nrules;
        self->conjunct = PyMem_Malloc((n ? n : 1) * sizeof(uint32_t));
        self->second = PyMem_Calloc(n ? n : 1, 1);
        if (!self->conjunct || !self->second) {
            PyErr_NoMemory();
            prefilter_clear(self);
            return -1;
        }
        for (uint32_t r = 0; r < n; r++) self->conjunct[r] = NO_CONJUNCT;
        for (Py_ssize_t i = 0; i < PyList_GET_SIZE(conjuncts); i++) {
            PyObject *pair = PyList_GET_ITEM(conjuncts, i);
            long r, v;
            if (!PyTuple_Check(pair) || PyTuple_GET_SIZE(pair) != 2 ||
                (r = PyLong_AsLong(PyTuple_GET_ITEM(pair, 0))) == -1 ||
                (v = PyLong_AsLong(PyTuple_GET_ITEM(pair, 1))) == -1 || r < 0 || v < 0 || r == v ||
                (uint32_t)r >= n || (uint32_t)v >= n || self->second[r] || self->conjunct[v] != NO_CONJUNCT ||
                self->conjunct[r] != NO_CONJUNCT) {
                if (!PyErr_Occurred())
                    PyErr_Format(PyExc_ValueError, "conjuncts %zd: (rule, second set) numbers of literals given "
                                 "here, each rule once and no second set a rule or the second of two", i);
                prefilter_clear(self);
                return -1;
            }
            self->conjunct[r] = (uint32_t)v;
            self->second[v] = 1;
        }
        for (uint32_t r = 0; r < n; r++)
            if (self->second[r] && self->conjunct[r] != NO_CONJUNCT) {
                PyErr_SetString(PyExc_ValueError, "conjuncts: a second set cannot be a rule with one");
                prefilter_clear(self);
                return -1;
            }
        bytes += (size_t)n * 5;
    }
    self->bytes = bytes;
    return 0;
}

/* rows go in blocks: per block each field's automaton runs over the block's values (it stays in
 * cache), the rules found set bits in a bitmap per rule of the block's rows (a pair found twice, in
 * two fields or two literals, is one bit), and at the block's end each rule found emits its rows in
 * order, so the pairs come in row order per rule */
typedef struct {
    uint32_t *rule, *row; /* the pairs found, in row order per rule */
    size_t n, cap;
    uint32_t *stamp;      /* per rule: the last block (+ 1) it was found in */
    uint32_t *count;      /* per rule: its pairs */
    uint64_t *bits;       /* per rule: words bitmap words of the block's rows */
    uint32_t *touched;    /* the rules found in the block */
    uint32_t ntouched, words, block, base;
    int nomem;
    const uint32_t *conjunct; /* as PrefilterObject's, or NULL */
    const uint8_t *second;
} Found;

static inline void found_add(Found *o, uint32_t r, uint32_t row) {
    if (o->stamp[r] != o->block) {
        o->stamp[r] = o->block;
        o->touched[o->ntouched++] = r;
    }
    uint32_t at = row - o->base;
    o->bits[(size_t)r * o->words + (at >> 6)] |= (uint64_t)1 << (at & 63);
}

/* the block's pairs, rule by rule, its bitmap cleared for the next */
static void found_flush(Found *o) {
    if (o->conjunct) { /* a rule with a second set keeps the rows where that was found too */
        for (uint32_t t = 0; t < o->ntouched; t++) {
            uint32_t r = o->touched[t], v = o->conjunct[r];
            if (v == NO_CONJUNCT) continue;
            uint64_t *w = o->bits + (size_t)r * o->words;
            if (o->stamp[v] != o->block) { /* not found in this block: its bits are all 0 */
                memset(w, 0, (size_t)o->words * 8);
                continue;
            }
            const uint64_t *x = o->bits + (size_t)v * o->words;
            for (uint32_t k = 0; k < o->words; k++) w[k] &= x[k];
        }
    }
    for (uint32_t t = 0; t < o->ntouched; t++) {
        uint32_t r = o->touched[t];
        uint64_t *w = o->bits + (size_t)r * o->words;
        if (o->second && o->second[r]) { /* a second set: cleared, not reported */
            memset(w, 0, (size_t)o->words * 8);
            continue;
        }
        for (uint32_t k = 0; k < o->words; k++) {
            uint64_t b = w[k];
            w[k] = 0;
            while (b) {
                if (o->n == o->cap) {
                    size_t cap = o->cap ? o->cap * 2 : 4096;
                    uint32_t *rule = PyMem_RawRealloc(o->rule, cap * 4);
                    if (rule) o->rule = rule;
                    uint32_t *rows = rule ? PyMem_RawRealloc(o->row, cap * 4) : NULL;
                    if (rows) o->row = rows;
                    if (!rule || !rows) {
                        o->nomem = 1;
                        return;
                    }
                    o->cap = cap;
                }
                o->rule[o->n] = r;
                o->row[o->n++] = o->base + k * 64 + (uint32_t)__builtin_ctzll(b);
                o->count[r]++;
                b &= b - 1;
            }
        }
    }
    o->ntouched = 0;
}

static void field_report(const Field *f, int32_t id, Found *o, uint32_t row) {
    for (int32_t t = f->out[id]; t >= 0; t = f->next_out[t])
        for (int32_t j = f->rule_start[t]; j < f->rule_start[t + 1]; j++) found_add(o, f->rules[j], row);
}

/* from a deep state (v >= lim_b) on class c: its trie edge, else its failure link's way on */
static inline uint32_t deep_step(const Field *f, uint32_t v, uint32_t c) {
    for (;;) {
        uint32_t k = v - f->lim_b;
        for (int32_t e = f->edge_start[k]; e < f->edge_start[k + 1]; e++)
            if (f->edge_cls[e] == c) return f->edge_to[e];
        v = f->sfail[k];
        if (v < f->lim_b) return f->dense[v + c];
    }
}

/* one value (or its rest) from state v, skipping at the root the bytes no literal starts with */
static void field_scan(const Field *f, const uint8_t *p, Py_ssize_t n, uint32_t v, Found *o, uint32_t row) {
    const uint32_t *T = f->dense;
    const uint16_t *cls = f->cls;
    const uint8_t *first = f->first;
    const uint32_t lim_a = f->lim_a, lim_b = f->lim_b, lim_c = f->lim_c, nc = (uint32_t)f->nclass;
    for (Py_ssize_t i = 0; i < n; i++) {
        if (v == 0) {
            while (i < n && !first[p[i]]) i++;
            if (i == n) return;
        }
        uint32_t c = cls[p[i]];
        v = v < lim_b ? T[v + c] : deep_step(f, v, c);
        if (v >= lim_a) { /* a shallow state ending a literal, or a deep state */
            if (v < lim_b) field_report(f, (int32_t)T[v + nc], o, row);
            else if (v >= lim_c) field_report(f, (int32_t)(f->ndense + (v - lim_b)), o, row);
        }
    }
}

/* one byte from state v */
static inline uint32_t scan_step(const Field *f, uint32_t v, uint8_t byte, Found *o, uint32_t row) {
    uint32_t c = f->cls[byte];
    v = v < f->lim_b ? f->dense[v + c] : deep_step(f, v, c);
    if (__builtin_expect(v >= f->lim_a, 0)) { /* a shallow state ending a literal, or a deep state */
        if (v < f->lim_b) field_report(f, (int32_t)f->dense[v + (uint32_t)f->nclass], o, row);
        else if (v >= f->lim_c) field_report(f, (int32_t)(f->ndense + (v - f->lim_b)), o, row);
    }
    return v;
}

/* the next row's non-empty value from *next on: 1, 0 at the end, -1 when its buffers do not hold it */
static inline int take(const Col *col, Py_ssize_t *next, Py_ssize_t end, const uint8_t **p, Py_ssize_t *n,
                       uint32_t *row) {
    while (*next < end) {
        Py_ssize_t r = (*next)++;
        int got = cell(col, r, p, n);
        if (got < 0) {
            *row = (uint32_t)r;
            return -1;
        }
        if (got && *n > 0) {
            *row = (uint32_t)r;
            return 1;
        }
    }
    return 0;
}

/* A-Z to a-z, without a table (a load would lengthen each step's chain) */
static inline uint8_t fold_ascii(uint8_t c) { return (uint8_t)(c | (((uint8_t)(c - 'A') < 26) << 5)); }

/* the literals whose window ends with `block` at window start `start` of value p (n bytes) */
static NOINLINE_COLD void skip_verify(const Field *f, const uint8_t *p, Py_ssize_t n, Py_ssize_t start,
                                      uint32_t block, Found *o, uint32_t row) {
    for (int32_t lit = 0; lit < f->nlits; lit++) {
        if (f->lit_end[lit] != block) continue;
        const uint8_t *l = f->lit_bytes + f->lit_start[lit];
        Py_ssize_t len = f->lit_start[lit + 1] - f->lit_start[lit], x = 0;
        if (start + len > n) continue;
        if (f->fold)
            while (x < len && fold_ascii(p[start + x]) == l[x]) x++;
        else
            while (x < len && p[start + x] == l[x]) x++;
        if (x == len)
            for (int32_t t = f->lit_rule_start[lit]; t < f->lit_rule_start[lit + 1]; t++)
                found_add(o, f->lit_rules[t], row);
    }
}

/* one value by the skip search (see Field) */
#define SKIP_SCAN(FOLD)                                                                           \
    for (Py_ssize_t i = f->m - 1; i < n;) {                                                       \
        uint32_t block = (uint32_t)FOLD(p[i - 1]) << 8 | FOLD(p[i]);                              \
        uint8_t s = shift[skip_hash(block)];                                                      \
        if (LIKELY(s)) {                                                                          \
            i += s;                                                                               \
            continue;                                                                             \
        }                                                                                         \
        skip_verify(f, p, n, i - (f->m - 1), block, o, row);                                      \
        i++;                                                                                      \
    }
#define SKIP_AS_IS(c) (c)

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>
#define TEDDY_SIMD 1
static int have_avx2; /* set at module init */

/* the literals of the buckets in `buckets` starting at `start` of value p (n bytes) */
static NOINLINE_COLD void teddy_verify(const Field *f, const uint8_t *p, Py_ssize_t n, Py_ssize_t start,
                                       unsigned buckets, Found *o, uint32_t row) {
    while (buckets) {
        int b = __builtin_ctz(buckets);
        buckets &= buckets - 1;
        for (int32_t j = f->t_start[b]; j < f->t_start[b + 1]; j++) {
            int32_t lit = f->t_lits[j];
            const uint8_t *l = f->lit_bytes + f->lit_start[lit];
            Py_ssize_t len = f->lit_start[lit + 1] - f->lit_start[lit], x = 0;
            if (start + len > n) continue;
            if (f->fold)
                while (x < len && fold_ascii(p[start + x]) == l[x]) x++;
            else
                while (x < len && p[start + x] == l[x]) x++;
            if (x == len)
                for (int32_t t = f->lit_rule_start[lit]; t < f->lit_rule_start[lit + 1]; t++)
                    found_add(o, f->lit_rules[t], row);
        }
    }
}

/* the bucket bits of 32 positions: where bytes q[k], q[k + 1], q[k + 2] are in a bucket's sets */
#define TEDDY_STEP(q)                                                                                      \
    ({                                                                                                     \
        __m256i c0_ = _mm256_loadu_si256((const __m256i *)(q));                                            \
        __m256i c1_ = _mm256_loadu_si256((const __m256i *)((q) + 1));                                      \
        __m256i c2_ = _mm256_loadu_si256((const __m256i *)((q) + 2));                                      \
        __m256i r_ = _mm256_and_si256(                                                                     \
            _mm256_shuffle_epi8(lo0, _mm256_and_si256(c0_, nib)),                                          \
            _mm256_shuffle_epi8(hi0, _mm256_and_si256(_mm256_srli_epi16(c0_, 4), nib)));                   \
        r_ = _mm256_and_si256(r_, _mm256_and_si256(                                                        \
            _mm256_shuffle_epi8(lo1, _mm256_and_si256(c1_, nib)),                                          \
            _mm256_shuffle_epi8(hi1, _mm256_and_si256(_mm256_srli_epi16(c1_, 4), nib))));                  \
        _mm256_and_si256(r_, _mm256_and_si256(                                                             \
            _mm256_shuffle_epi8(lo2, _mm256_and_si256(c2_, nib)),                                          \
            _mm256_shuffle_epi8(hi2, _mm256_and_si256(_mm256_srli_epi16(c2_, 4), nib))));                  \
    })

/* rows [start, end) of one column by Teddy's search (see Field) */
__attribute__((target("avx2"))) static Py_ssize_t teddy_scan_rows(const Field *f, const Col *col, Py_ssize_t start,
                                                                 Py_ssize_t end, Found *o) {
    const __m256i nib = _mm256_set1_epi8(0x0f), zero = _mm256_setzero_si256();
#define TEDDY_TABLE(t) _mm256_broadcastsi128_si256(_mm_loadu_si128((const __m128i *)(t)))
    const __m256i lo0 = TEDDY_TABLE(f->t_lo[0]), hi0 = TEDDY_TABLE(f->t_hi[0]);
    const __m256i lo1 = TEDDY_TABLE(f->t_lo[1]), hi1 = TEDDY_TABLE(f->t_hi[1]);
    const __m256i lo2 = TEDDY_TABLE(f->t_lo[2]), hi2 = TEDDY_TABLE(f->t_hi[2]);
#undef TEDDY_TABLE
    uint8_t tail[64];
    Py_ssize_t next = start, n;
    const uint8_t *p;
    uint32_t row;
    int has;
    while ((has = take(col, &next, end, &p, &n, &row)) > 0) {
        if (n < f->m) continue; /* shorter than every literal */
        Py_ssize_t i = 0;
        for (; i + 34 <= n; i += 32) { /* the loads reach q[33] */
            __m256i r = TEDDY_STEP(p + i);
            uint32_t bits = ~(uint32_t)_mm256_movemask_epi8(_mm256_cmpeq_epi8(r, zero));
            if (__builtin_expect(bits != 0, 0)) {
                uint8_t at[32];
                _mm256_storeu_si256((__m256i *)at, r);
                while (bits) {
                    int k = __builtin_ctz(bits);
                    bits &= bits - 1;
                    teddy_verify(f, p, n, i + k, at[k], o, row);
                }
            }
        }
        if (n - i >= f->m) { /* the rest, under 34 bytes, from a zero-padded copy (what starts in
                              * the padding is past n, and teddy_verify checks every end) */
            Py_ssize_t rest = n - i;
            memset(tail, 0, sizeof(tail));
            memcpy(tail, p + i, (size_t)rest);
            for (Py_ssize_t t = 0; t + f->m <= rest; t += 32) {
                __m256i r = TEDDY_STEP(tail + t);
                uint32_t bits = ~(uint32_t)_mm256_movemask_epi8(_mm256_cmpeq_epi8(r, zero));
                if (bits) {
                    uint8_t at[32];
                    _mm256_storeu_si256((__m256i *)at, r);
                    while (bits) {
                        int k = __builtin_ctz(bits);
                        bits &= bits - 1;
                        if (t + k + f->m > rest) break; /* no literal fits from here on */
                        teddy_verify(f, p, n, i + t + k, at[k], o, row);
                    }
                }
            }
        }
    }
    return has < 0 ? (Py_ssize_t)row : -1;
}
#undef TEDDY_STEP
#endif

/* rows [start, end) of one column by the skip search (one value at a time: four at once, as the
 * automaton walks them, measured slower, the steps being few and their branches many) */
static Py_ssize_t skip_scan_rows(const Field *f, const Col *col, Py_ssize_t start, Py_ssize_t end, Found *o) {
#ifdef TEDDY_SIMD
    if (f->teddy && have_avx2) return teddy_scan_rows(f, col, start, end, o);
#endif
    Py_ssize_t next = start, n;
    const uint8_t *p, *shift = f->shift;
    uint32_t row;
    int has;
    if (f->fold)
        while ((has = take(col, &next, end, &p, &n, &row)) > 0) { SKIP_SCAN(fold_ascii) }
    else
        while ((has = take(col, &next, end, &p, &n, &row)) > 0) { SKIP_SCAN(SKIP_AS_IS) }
    return has < 0 ? (Py_ssize_t)row : -1;
}

/* rows [start, end) of one column, four values at a time (the loads of each overlap the others': a
 * large table is mostly out of L1, so one value's walk waits on memory); returns the row whose cell
 * its buffers do not hold, or -1 */
static Py_ssize_t field_scan_rows(const Field *f, const Col *col, Py_ssize_t start, Py_ssize_t end, Found *o) {
    if (f->skip) return skip_scan_rows(f, col, start, end, o);
    const uint8_t *p[SCAN_WAYS];
    Py_ssize_t n[SCAN_WAYS], at[SCAN_WAYS], next = start;
    uint32_t v[SCAN_WAYS], r[SCAN_WAYS];
    int has[SCAN_WAYS];
    for (int w = 0; w < SCAN_WAYS; w++) {
        has[w] = take(col, &next, end, &p[w], &n[w], &r[w]);
        if (has[w] < 0) return r[w];
        at[w] = 0;
        v[w] = 0;
    }
    while (has[0] > 0 && has[1] > 0 && has[2] > 0 && has[3] > 0) {
        Py_ssize_t m = n[0] - at[0];
        for (int w = 1; w < SCAN_WAYS; w++)
            if (n[w] - at[w] < m) m = n[w] - at[w];
        const uint8_t *s0 = p[0] + at[0], *s1 = p[1] + at[1], *s2 = p[2] + at[2], *s3 = p[3] + at[3];
        uint32_t v0 = v[0], v1 = v[1], v2 = v[2], v3 = v[3];
        for (Py_ssize_t k = 0; k < m; k++) {
            v0 = scan_step(f, v0, s0[k], o, r[0]);
            v1 = scan_step(f, v1, s1[k], o, r[1]);
            v2 = scan_step(f, v2, s2[k], o, r[2]);
            v3 = scan_step(f, v3, s3[k], o, r[3]);
        }
        v[0] = v0, v[1] = v1, v[2] = v2, v[3] = v3;
        for (int w = 0; w < SCAN_WAYS; w++) {
            at[w] += m;
            if (at[w] == n[w]) {
                has[w] = take(col, &next, end, &p[w], &n[w], &r[w]);
                if (has[w] < 0) return r[w];
                at[w] = 0;
                v[w] = 0;
            }
        }
    }
    for (int w = 0; w < SCAN_WAYS; w++)
        if (has[w] > 0) field_scan(f, p[w] + at[w], n[w] - at[w], v[w], o, r[w]);
    return -1;
}

/* run(columns) -> (rules bytes, rows bytes) | None: columns one per field, None for a field not
 * given; the pairs as uint32, sorted by rule then row; None when there is none */
static PyObject *prefilter_run(PrefilterObject *self, PyObject *args) {
    PyObject *columns;
    if (!PyArg_ParseTuple(args, "O!", &PyList_Type, &columns)) return NULL;
    if (PyList_GET_SIZE(columns) != self->nfields) {
        PyErr_Format(PyExc_ValueError, "%zd columns for %zd fields", PyList_GET_SIZE(columns), self->nfields);
        return NULL;
    }
    Held held;
    memset(&held, 0, sizeof(held));
    Found found;
    memset(&found, 0, sizeof(found));
    PyObject *out = NULL, *rules_out = NULL, *rows_out = NULL;
    Py_ssize_t nf = self->nfields, height = -1, ngiven = 0;
    Col *cols = PyMem_Calloc(nf ? (size_t)nf : 1, sizeof(Col));
    const Field **given_field = PyMem_Calloc(nf ? (size_t)nf : 1, sizeof(Field *));
    const Col **given_col = PyMem_Calloc(nf ? (size_t)nf : 1, sizeof(Col *));
    if (!cols || !given_field || !given_col) {
        PyErr_NoMemory();
        goto done;
    }
    for (Py_ssize_t i = 0; i < nf; i++) {
        PyObject *item = PyList_GET_ITEM(columns, i);
        if (item == Py_None) continue;
        Py_ssize_t length;
        if (import_column(&held, item, &cols[i], &length, i) < 0) goto done;
        if (height >= 0 && length != height) {
            PyErr_Format(PyExc_ValueError, "column %zd: %zd rows, not %zd as the others", i, length, height);
            goto done;
        }
        height = length;
        if (cols[i].kind != COL_NULL && self->fields[i].nstates > 1) {
            given_field[ngiven] = &self->fields[i];
            given_col[ngiven++] = &cols[i];
        }
    }
    if (height >= (Py_ssize_t)UINT32_MAX) {
        PyErr_SetString(PyExc_ValueError, "too many rows for uint32 positions");
        goto done;
    }
    if (ngiven == 0 || height <= 0) {
        out = Py_None;
        Py_INCREF(out);
        goto done;
    }
    uint32_t nrules = self->nrules ? self->nrules : 1;
    /* blocks of up to 65536 rows, their bitmaps within 1 MiB (in L2): a block goes through each
     * field's automaton in turn, so the larger the block, the fewer times each is brought back to cache */
    uint32_t block_rows = (uint32_t)((1024u << 13) / nrules) & ~63u;
    if (block_rows < 64) block_rows = 64;
    if (block_rows > 65536) block_rows = 65536;
    if ((Py_ssize_t)block_rows > ((height + 63) & ~(Py_ssize_t)63)) block_rows = (uint32_t)((height + 63) & ~(Py_ssize_t)63);
    found.words = block_rows / 64;
    found.conjunct = self->conjunct;
    found.second = self->second;
    found.stamp = PyMem_RawCalloc(nrules, 4);
    found.count = PyMem_RawCalloc(nrules, 4);
    found.touched = PyMem_RawCalloc(nrules, 4);
    found.bits = PyMem_RawCalloc((size_t)nrules * found.words, 8);
    if (!found.stamp || !found.count || !found.touched || !found.bits) {
        PyErr_NoMemory();
        goto done;
    }
    Py_ssize_t bad = -1;
    Py_BEGIN_ALLOW_THREADS
    for (Py_ssize_t start = 0; start < height && !found.nomem && bad < 0; start += block_rows) {
        Py_ssize_t end = start + block_rows < height ? start + block_rows : height;
        found.block++;
        found.base = (uint32_t)start;
        for (Py_ssize_t j = 0; j < ngiven && bad < 0; j++)
            bad = field_scan_rows(given_field[j], given_col[j], start, end, &found);
        found_flush(&found);
    }
    Py_END_ALLOW_THREADS
    if (bad >= 0) {
        PyErr_Format(PyExc_ValueError, "row %zd: a column's buffers do not hold its cell", bad);
        goto done;
    }
    if (found.nomem) {
        PyErr_NoMemory();
        goto done;
    }
    if (found.n == 0) {
        out = Py_None;
        Py_INCREF(out);
        goto done;
    }
    rules_out = PyBytes_FromStringAndSize(NULL, (Py_ssize_t)found.n * 4);
    rows_out = PyBytes_FromStringAndSize(NULL, (Py_ssize_t)found.n * 4);
    if (!rules_out || !rows_out) goto done;
    uint32_t *rr = (uint32_t *)(void *)PyBytes_AS_STRING(rules_out), *rw = (uint32_t *)(void *)PyBytes_AS_STRING(rows_out);
    Py_BEGIN_ALLOW_THREADS
    /* a counting sort by rule: the pairs came in row order, so each rule's rows stay sorted */
    uint32_t at = 0;
    for (uint32_t r = 0; r < nrules; r++) {
        uint32_t c = found.count[r];
        found.count[r] = at;
        at += c;
    }
    for (size_t k = 0; k < found.n; k++) {
        uint32_t r = found.rule[k], to = found.count[r]++;
        rr[to] = r;
        rw[to] = found.row[k];
    }
    Py_END_ALLOW_THREADS
    out = PyTuple_Pack(2, rules_out, rows_out);
done:
    Py_XDECREF(rules_out);
    Py_XDECREF(rows_out);
    PyMem_RawFree(found.rule);
    PyMem_RawFree(found.row);
    PyMem_RawFree(found.stamp);
    PyMem_RawFree(found.count);
    PyMem_RawFree(found.touched);
    PyMem_RawFree(found.bits);
    if (cols)
        for (Py_ssize_t i = 0; i < nf; i++) {
            PyMem_Free((void *)cols[i].data);
            PyMem_Free(cols[i].data_len);
        }
    PyMem_Free(cols);
    PyMem_Free(given_field);
    PyMem_Free(given_col);
    release(&held);
    return out;
}

static PyObject *prefilter_nbytes(PrefilterObject *self, void *closure) {
    (void)closure;
    return PyLong_FromSize_t(self->bytes);
}

static PyObject *prefilter_states(PrefilterObject *self, void *closure) {
    (void)closure;
    PyObject *out = PyList_New(self->nfields);
    if (!out) return NULL;
    for (Py_ssize_t i = 0; i < self->nfields; i++) {
        const Field *f = &self->fields[i];
        PyObject *item = Py_BuildValue("(nni)", f->nstates, f->ndense, (int)f->nclass);
        if (!item) {
            Py_DECREF(out);
            return NULL;
        }
        PyList_SET_ITEM(out, i, item);
    }
    return out;
}

static PyMethodDef prefilter_methods[] = {
    {"run", (PyCFunction)prefilter_run, METH_VARARGS, "run(columns) -> (rules bytes, rows bytes) | None"},
    {NULL, NULL, 0, NULL},
};

static PyObject *prefilter_windows(PrefilterObject *self, void *closure) {
    (void)closure;
    PyObject *out = PyList_New(self->nfields);
    if (!out) return NULL;
    for (Py_ssize_t i = 0; i < self->nfields; i++) {
        PyObject *m = PyLong_FromLong(self->fields[i].skip ? self->fields[i].m : 0);
        if (!m) {
            Py_DECREF(out);
            return NULL;
        }
        PyList_SET_ITEM(out, i, m);
    }
    return out;
}

/* per field: whether run() searches it by Teddy's SIMD search (this processor has AVX2, and
 * simd() allows it) */
static PyObject *prefilter_simd(PrefilterObject *self, void *closure) {
    (void)closure;
    PyObject *out = PyList_New(self->nfields);
    if (!out) return NULL;
    for (Py_ssize_t i = 0; i < self->nfields; i++) {
#ifdef TEDDY_SIMD
        PyObject *b = PyBool_FromLong(self->fields[i].teddy && have_avx2);
#else
        PyObject *b = PyBool_FromLong(0);
#endif
        PyList_SET_ITEM(out, i, b);
    }
    return out;
}

static PyGetSetDef prefilter_getset[] = {
    {"simd", (getter)prefilter_simd, NULL, "per field: whether the skip search is Teddy's SIMD one", NULL},
    {"nbytes", (getter)prefilter_nbytes, NULL, "the memory the automata take", NULL},
    {"windows", (getter)prefilter_windows, NULL, "per field: the skip search's window, or 0 (the automaton)", NULL},
    {"states", (getter)prefilter_states, NULL, "per field: (states, complete-table states, byte classes)", NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

static PyTypeObject PrefilterType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "autosoc.detect.sigma._match.Prefilter",
    .tp_basicsize = sizeof(PrefilterObject),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "A group's necessary literals: one Aho-Corasick automaton per field (see native.py).",
    .tp_new = PyType_GenericNew,
    .tp_init = (initproc)prefilter_init,
    .tp_dealloc = (destructor)prefilter_dealloc,
    .tp_methods = prefilter_methods,
    .tp_getset = prefilter_getset,
};

/* simd([on]) -> bool: whether the skip search may use SIMD (AVX2) where the processor has it;
 * with an argument, sets it (for the tests: both searches give the same pairs) */
static PyObject *simd(PyObject *module, PyObject *args) {
    (void)module;
    int on = -1;
    if (!PyArg_ParseTuple(args, "|p:simd", &on)) return NULL;
#ifdef TEDDY_SIMD
    if (on >= 0) have_avx2 = on && __builtin_cpu_supports("avx2");
    return PyBool_FromLong(have_avx2);
#else
    return PyBool_FromLong(0);
#endif
}

static PyMethodDef methods[] = {
    {"run", run, METH_VARARGS, "run(columns, rules, pair_rules, pair_rows) -> bitmap bytes"},
    {"simd", simd, METH_VARARGS, "simd([on]) -> bool: whether the skip search uses AVX2 (set: where it can)"},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "autosoc.detect.sigma._match", "Sigma rule tests over Arrow string columns.", -1, methods,
    NULL, NULL, NULL, NULL,
};

PyMODINIT_FUNC PyInit__match(void) {
#ifdef TEDDY_SIMD
    have_avx2 = __builtin_cpu_supports("avx2");
#endif
    if (PyType_Ready(&RuleType) < 0) return NULL;
    PyObject *m = PyModule_Create(&module);
    if (!m) return NULL;
    Py_INCREF(&RuleType);
    if (PyModule_AddObject(m, "Rule", (PyObject *)&RuleType) < 0) {
        Py_DECREF(&RuleType);
        Py_DECREF(m);
        return NULL;
    }
    if (PyType_Ready(&PrefilterType) < 0) {
        Py_DECREF(m);
        return NULL;
    }
    Py_INCREF(&PrefilterType);
    if (PyModule_AddObject(m, "Prefilter", (PyObject *)&PrefilterType) < 0) {
        Py_DECREF(&PrefilterType);
        Py_DECREF(m);
        return NULL;
    }
    return m;
}
