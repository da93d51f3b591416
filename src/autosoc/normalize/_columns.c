/*
 * autosoc.normalize._columns -- flat rows -> Arrow string-view columns, each row's JSON and its id.
 *
 * The reference is _py_build_raw_frame in autosoc/normalize/columns.py; this module must give the
 * same frame (column order: first seen; every value as the same text, null where a row lacks the
 * field), the same JSON text (keys sorted by code point, orjson's compact form and escapes) and
 * the same ids (BLAKE2b-128 of that JSON, lower-case hex).
 *
 * Nothing here builds a Python object per value: each column is written straight into the three
 * buffers of an Arrow string-view array (validity bitmap, 16-byte views, one data buffer), which
 * autosoc.normalize.columns hands to Polars through pyarrow without copying.  A row's keys are
 * usually the very same str objects as the last row's of its shape (orjson and the flattening
 * cache them), so a shape -- the keys in order, by identity -- maps to its columns and its sorted
 * key order once, and every further row of it only compares pointers.
 *
 * Values: str as is; None null (JSON null); bool "true"/"false"; int its decimal text; float its
 * plain decimal text (see float_text) and orjson's JSON; anything else goes to the `other`
 * callback, which returns (text or None, JSON bytes).
 * A non-str key raises TypeError and a str that is not valid UTF-8 (a lone surrogate) raises
 * UnicodeEncodeError: the caller then uses the pure-Python reference, which fails or not as
 * before.  Borrowed references are held (INCREF) across the callback, which runs Python code.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static PyObject *orjson_dumps; /* orjson.dumps, for the JSON of floats */

/* ------------------------------------------------------------------------ BLAKE2b (RFC 7693) */

static const uint64_t b2_iv[8] = {
    0x6A09E667F3BCC908ULL, 0xBB67AE8584CAA73BULL, 0x3C6EF372FE94F82BULL, 0xA54FF53A5F1D36F1ULL,
    0x510E527FADE682D1ULL, 0x9B05688C2B3E6C1FULL, 0x1F83D9ABFB41BD6BULL, 0x5BE0CD19137E2179ULL,
};

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
    B2_ROUND(0);
    B2_ROUND(1);
    B2_ROUND(2);
    B2_ROUND(3);
    B2_ROUND(4);
    B2_ROUND(5);
    B2_ROUND(6);
    B2_ROUND(7);
    B2_ROUND(8);
    B2_ROUND(9);
    B2_ROUND(10);
    B2_ROUND(11);
#undef B2_ROUND
    for (int i = 0; i < 8; i++)
        h[i] ^= v[i] ^ v[i + 8];
}

/* hashlib.blake2b(data, digest_size=16).hexdigest(), written to out[32] */
static void
blake2b_128_hex(const uint8_t *data, size_t len, char out[32])
{
    static const char hex[] = "0123456789abcdef";
    uint64_t h[8];
    uint8_t block[128];
    memcpy(h, b2_iv, sizeof(h));
    h[0] ^= 0x01010000ULL ^ 16; /* digest length 16, no key, fanout 1, depth 1 */
    size_t done = 0;
    while (len - done > 128) {
        b2_compress(h, data + done, (uint64_t)(done + 128), 0);
        done += 128;
    }
    memset(block, 0, sizeof(block));
    memcpy(block, data + done, len - done);
    b2_compress(h, block, (uint64_t)len, 1);
    for (int i = 0; i < 16; i++) {
        uint8_t byte = (uint8_t)(h[i / 8] >> (8 * (i % 8)));
        out[2 * i] = hex[byte >> 4];
        out[2 * i + 1] = hex[byte & 15];
    }
}

/* ------------------------------------------------------------------------ growable byte buffer */

typedef struct {
    char *p;
    Py_ssize_t len, cap;
} Buf;

static int
buf_reserve(Buf *b, Py_ssize_t extra)
{
    if (b->len + extra <= b->cap)
        return 0;
    Py_ssize_t cap = b->cap ? b->cap : 256;
    while (cap < b->len + extra) {
        if (cap > PY_SSIZE_T_MAX / 2) {
            PyErr_NoMemory();
            return -1;
        }
        cap *= 2;
    }
    char *p = PyMem_Realloc(b->p, (size_t)cap);
    if (p == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    b->p = p;
    b->cap = cap;
    return 0;
}

static inline int
buf_put(Buf *b, const char *s, Py_ssize_t n)
{
    if (buf_reserve(b, n) < 0)
        return -1;
    memcpy(b->p + b->len, s, (size_t)n);
    b->len += n;
    return 0;
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

/* "s" with JSON escapes */
static int
buf_put_json_string(Buf *b, const char *s, Py_ssize_t n)
{
    static const char hex[] = "0123456789abcdef";
    if (buf_reserve(b, n * 6 + 2) < 0)
        return -1;
    char *o = b->p + b->len;
    *o++ = '"';
    Py_ssize_t run = 0;
    for (Py_ssize_t i = 0; i < n; i++) {
        if (i + 8 <= n) { /* eight bytes at once while none needs an escape */
            uint64_t w;
            memcpy(&w, s + i, 8);
            if (!needs_escape8(w)) {
                i += 7;
                continue;
            }
        }
        unsigned char c = (unsigned char)s[i];
        unsigned char k = escape_kind[c];
        if (k == 0)
            continue;
        memcpy(o, s + run, (size_t)(i - run));
        o += i - run;
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
    memcpy(o, s + run, (size_t)(n - run));
    o += n - run;
    *o++ = '"';
    b->len = o - b->p;
    return 0;
}

/* ------------------------------------------------------------------------ string-view columns */

/* One Arrow string-view array: views (16 bytes a row: int32 length, then the bytes inline when
 * at most 12, else a 4-byte prefix, buffer index 0 and int32 offset into data), validity bits. */
typedef struct {
    PyObject *views_obj, *validity_obj; /* bytes of n * 16 and (n + 7) / 8, written in place */
    char *views;
    uint8_t *validity;
    Buf data;
    Py_ssize_t filled; /* views [0, filled) are written (nulls zeroed) */
    Py_ssize_t valid;
    PyObject *json_key; /* bytes: "name": (escaped), for the row JSON */
    const char *key_utf8;
    Py_ssize_t key_len;
    int in_text; /* a name not starting with "__": its values go into the row's text */
} Column;

static int
column_init(Column *c, Py_ssize_t n)
{
    memset(c, 0, sizeof(*c));
    c->views_obj = PyBytes_FromStringAndSize(NULL, n * 16);
    c->validity_obj = PyBytes_FromStringAndSize(NULL, (n + 7) / 8);
    if (c->views_obj == NULL || c->validity_obj == NULL)
        return -1;
    c->views = PyBytes_AS_STRING(c->views_obj);
    c->validity = (uint8_t *)PyBytes_AS_STRING(c->validity_obj);
    memset(c->validity, 0, (size_t)((n + 7) / 8));
    return 0;
}

static void
column_clear(Column *c)
{
    Py_CLEAR(c->views_obj);
    Py_CLEAR(c->validity_obj);
    Py_CLEAR(c->json_key);
    PyMem_Free(c->data.p);
    c->data.p = NULL;
}

static inline void
column_pad(Column *c, Py_ssize_t row)
{
    if (c->filled < row) {
        memset(c->views + c->filled * 16, 0, (size_t)(row - c->filled) * 16);
        c->filled = row;
    }
}

/* the view of `s` (n bytes) at `row`; long strings are copied into `data` unless `offset` >= 0
 * says where they already are in it */
static int
view_put(char *view, Buf *data, const char *s, Py_ssize_t n, Py_ssize_t offset)
{
    if (n > INT32_MAX) {
        PyErr_SetString(PyExc_OverflowError, "a value over 2 GiB does not fit an Arrow string view");
        return -1;
    }
    int32_t len = (int32_t)n;
    memcpy(view, &len, 4);
    if (n <= 12) {
        memset(view + 4, 0, 12);
        memcpy(view + 4, s, (size_t)n);
        return 0;
    }
    if (offset < 0) {
        offset = data->len;
        if (buf_put(data, s, n) < 0)
            return -1;
    }
    if (offset + n > INT32_MAX) {
        PyErr_SetString(PyExc_OverflowError, "a column over 2 GiB does not fit one Arrow string-view buffer");
        return -1;
    }
    int32_t index = 0, at = (int32_t)offset;
    memcpy(view + 4, s, 4);
    memcpy(view + 8, &index, 4);
    memcpy(view + 12, &at, 4);
    return 0;
}

static int
column_put(Column *c, Py_ssize_t row, const char *s, Py_ssize_t n)
{
    column_pad(c, row);
    if (view_put(c->views + row * 16, &c->data, s, n, -1) < 0)
        return -1;
    c->validity[row >> 3] |= (uint8_t)(1u << (row & 7));
    c->valid++;
    c->filled = row + 1;
    return 0;
}

/* (validity or None, views, data, null_count) */
static PyObject *
column_result(Column *c, Py_ssize_t n)
{
    column_pad(c, n);
    PyObject *data = PyBytes_FromStringAndSize(c->data.p ? c->data.p : "", c->data.len);
    if (data == NULL)
        return NULL;
    Py_ssize_t nulls = n - c->valid;
    PyObject *validity = nulls ? c->validity_obj : Py_None;
    return Py_BuildValue("(OONn)", validity, c->views_obj, data, nulls);
}

/* ------------------------------------------------------------------------ shapes */

/* The keys of a row, in order and by identity, with the column of each and the sorted key order. */
typedef struct {
    Py_ssize_t size;
    Py_uhash_t hash;
    PyObject **keys; /* strong references */
    Py_ssize_t *cols;
    Py_ssize_t *order; /* item positions, keys sorted by code point */
} Shape;

typedef struct {
    Shape *items;
    Py_ssize_t count, cap;
    Py_ssize_t *slots; /* open addressing over items: index + 1, 0 empty */
    Py_ssize_t nslots;
} Shapes;

static Py_uhash_t
shape_hash(PyObject **keys, Py_ssize_t size)
{
    Py_uhash_t h = (Py_uhash_t)size * 0x9E3779B97F4A7C15ULL;
    for (Py_ssize_t i = 0; i < size; i++) {
        h ^= (Py_uhash_t)(uintptr_t)keys[i] >> 4;
        h *= 0x100000001B3ULL;
    }
    return h ^ (h >> 29);
}

static Shape *
shapes_find(Shapes *t, PyObject **keys, Py_ssize_t size, Py_uhash_t hash)
{
    if (t->nslots == 0)
        return NULL;
    for (Py_ssize_t i = (Py_ssize_t)(hash & (Py_uhash_t)(t->nslots - 1));; i = (i + 1) & (t->nslots - 1)) {
        Py_ssize_t at = t->slots[i];
        if (at == 0)
            return NULL;
        Shape *s = &t->items[at - 1];
        if (s->hash == hash && s->size == size && memcmp(s->keys, keys, (size_t)size * sizeof(PyObject *)) == 0)
            return s;
    }
}

static int
shapes_index(Shapes *t)
{
    Py_ssize_t nslots = 16;
    while (nslots < t->count * 2 + 2)
        nslots *= 2;
    Py_ssize_t *slots = PyMem_Calloc((size_t)nslots, sizeof(Py_ssize_t));
    if (slots == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    for (Py_ssize_t k = 0; k < t->count; k++) {
        Py_ssize_t i = (Py_ssize_t)(t->items[k].hash & (Py_uhash_t)(nslots - 1));
        while (slots[i])
            i = (i + 1) & (nslots - 1);
        slots[i] = k + 1;
    }
    PyMem_Free(t->slots);
    t->slots = slots;
    t->nslots = nslots;
    return 0;
}

static void
shapes_clear(Shapes *t)
{
    for (Py_ssize_t k = 0; k < t->count; k++) {
        Shape *s = &t->items[k];
        for (Py_ssize_t i = 0; i < s->size; i++)
            Py_DECREF(s->keys[i]);
        PyMem_Free(s->keys);
        PyMem_Free(s->cols);
        PyMem_Free(s->order);
    }
    PyMem_Free(t->items);
    PyMem_Free(t->slots);
    memset(t, 0, sizeof(*t));
}

/* ------------------------------------------------------------------------ the build */

typedef struct {
    PyObject *key, *value; /* strong while the row is built */
    PyObject *hold, *hold2; /* what `text`/`json` point into, when not the value itself */
    const char *text; /* frame text (NULL: null cell) */
    Py_ssize_t text_len;
    const char *json; /* JSON of the value when not a string to escape (NULL: escape text) */
    Py_ssize_t json_len;
    char num[24];
} Item;

typedef struct {
    Py_ssize_t n;
    Column *cols;
    Py_ssize_t ncols, cols_cap;
    PyObject *names;      /* list of the column names, first seen first */
    PyObject *name_index; /* name -> column number */
    Shapes shapes;
    Item *items;
    PyObject **keys; /* the current row's keys, for the shape lookup */
    Py_ssize_t items_cap;
    Buf json;   /* every row's JSON (keep_json) or the current row's */
    char *ids;  /* n * 32 hex digits */
    PyObject *ids_obj;
    PyObject *id_views_obj, *json_views_obj;
    Buf text;                /* every row's values joined by newlines (keep_text) */
    PyObject *text_views_obj;
} Build;

static Column *sort_cols; /* qsort has no context argument: the columns of the shape being sorted */
static const Py_ssize_t *sort_col_of;

static int
cmp_positions(const void *a, const void *b)
{
    const Column *x = &sort_cols[sort_col_of[*(const Py_ssize_t *)a]];
    const Column *y = &sort_cols[sort_col_of[*(const Py_ssize_t *)b]];
    Py_ssize_t n = x->key_len < y->key_len ? x->key_len : y->key_len;
    int c = memcmp(x->key_utf8, y->key_utf8, (size_t)n);
    if (c)
        return c;
    return x->key_len < y->key_len ? -1 : x->key_len > y->key_len;
}

/* the column of `name`, created when new */
static Py_ssize_t
column_of(Build *b, PyObject *name)
{
    PyObject *at = PyDict_GetItemWithError(b->name_index, name);
    if (at != NULL)
        return PyLong_AsSsize_t(at);
    if (PyErr_Occurred())
        return -1;
    if (b->ncols == b->cols_cap) {
        Py_ssize_t cap = b->cols_cap ? b->cols_cap * 2 : 64;
        Column *cols = PyMem_Realloc(b->cols, (size_t)cap * sizeof(Column));
        if (cols == NULL) {
            PyErr_NoMemory();
            return -1;
        }
        b->cols = cols;
        b->cols_cap = cap;
    }
    Column *c = &b->cols[b->ncols];
    if (column_init(c, b->n) < 0) {
        column_clear(c);
        return -1;
    }
    b->ncols++; /* from here on cleared with the others */
    Py_ssize_t len;
    const char *utf8 = PyUnicode_AsUTF8AndSize(name, &len);
    if (utf8 == NULL)
        return -1;
    Buf key = {0};
    if (buf_put_json_string(&key, utf8, len) < 0 || buf_put(&key, ":", 1) < 0) {
        PyMem_Free(key.p);
        return -1;
    }
    c->json_key = PyBytes_FromStringAndSize(key.p, key.len);
    PyMem_Free(key.p);
    if (c->json_key == NULL)
        return -1;
    c->key_utf8 = utf8; /* the name lives in b->names */
    c->key_len = len;
    c->in_text = !(len >= 2 && utf8[0] == '_' && utf8[1] == '_');
    PyObject *number = PyLong_FromSsize_t(b->ncols - 1);
    if (number == NULL)
        return -1;
    int failed = PyDict_SetItem(b->name_index, name, number) < 0 || PyList_Append(b->names, name) < 0;
    Py_DECREF(number);
    return failed ? -1 : b->ncols - 1;
}

static Shape *
shape_new(Build *b, Item *items, Py_ssize_t size, Py_uhash_t hash)
{
    Shapes *t = &b->shapes;
    if (t->count == t->cap) {
        Py_ssize_t cap = t->cap ? t->cap * 2 : 16;
        Shape *grown = PyMem_Realloc(t->items, (size_t)cap * sizeof(Shape));
        if (grown == NULL) {
            PyErr_NoMemory();
            return NULL;
        }
        t->items = grown;
        t->cap = cap;
    }
    Shape *s = &t->items[t->count];
    s->size = size;
    s->hash = hash;
    s->keys = PyMem_Malloc((size_t)(size ? size : 1) * sizeof(PyObject *));
    s->cols = PyMem_Malloc((size_t)(size ? size : 1) * sizeof(Py_ssize_t));
    s->order = PyMem_Malloc((size_t)(size ? size : 1) * sizeof(Py_ssize_t));
    if (s->keys == NULL || s->cols == NULL || s->order == NULL) {
        PyMem_Free(s->keys);
        PyMem_Free(s->cols);
        PyMem_Free(s->order);
        PyErr_NoMemory();
        return NULL;
    }
    for (Py_ssize_t i = 0; i < size; i++) {
        Py_ssize_t col = column_of(b, items[i].key);
        if (col < 0) {
            for (Py_ssize_t k = 0; k < i; k++)
                Py_DECREF(s->keys[k]);
            PyMem_Free(s->keys);
            PyMem_Free(s->cols);
            PyMem_Free(s->order);
            return NULL;
        }
        s->keys[i] = Py_NewRef(items[i].key);
        s->cols[i] = col;
        s->order[i] = i;
    }
    t->count++;
    sort_cols = b->cols;
    sort_col_of = s->cols;
    qsort(s->order, (size_t)size, sizeof(Py_ssize_t), cmp_positions);
    if (t->count * 2 + 2 > t->nslots) {
        if (shapes_index(t) < 0) /* rebuilt with the new shape in it */
            return NULL;
    }
    else {
        Py_ssize_t i = (Py_ssize_t)(hash & (Py_uhash_t)(t->nslots - 1));
        while (t->slots[i])
            i = (i + 1) & (t->nslots - 1);
        t->slots[i] = t->count;
    }
    return s;
}

static void
items_release(Item *items, Py_ssize_t size)
{
    for (Py_ssize_t i = 0; i < size; i++) {
        Py_CLEAR(items[i].key);
        Py_CLEAR(items[i].value);
        Py_CLEAR(items[i].hold);
        Py_CLEAR(items[i].hold2);
    }
}

/* the decimal digits of x in out (at least 21 bytes); returns their count */
static Py_ssize_t
format_int(char *out, long long x)
{
    char digits[20];
    int n = 0;
    unsigned long long u = x < 0 ? 0ULL - (unsigned long long)x : (unsigned long long)x;
    do {
        digits[n++] = (char)('0' + u % 10);
        u /= 10;
    } while (u);
    Py_ssize_t len = 0;
    if (x < 0)
        out[len++] = '-';
    while (n)
        out[len++] = digits[--n];
    return len;
}

/* A float as Polars writes it into a String column (Rust's Display for f64): the shortest digits
 * that read back as the same double (Python's repr has the same), in plain decimal notation, no
 * exponent and no ".0": 1e+20 -> 100000000000000000000, 1e-07 -> 0.0000001, 100.0 -> 100,
 * -0.0 -> -0, nan -> NaN.  Returns bytes. */
static PyObject *
float_text(double x)
{
    char *r = PyOS_double_to_string(x, 'r', 0, 0, NULL);
    if (r == NULL)
        return NULL;
    const char *p = r;
    PyObject *out = NULL;
    if (strcmp(p, "nan") == 0 || strcmp(p, "-nan") == 0) {
        out = PyBytes_FromString("NaN");
        goto done;
    }
    int negative = *p == '-';
    if (negative || *p == '+')
        p++;
    if (strcmp(p, "inf") == 0) {
        out = PyBytes_FromString(negative ? "-inf" : "inf");
        goto done;
    }
    char digits[32];
    int ndigits = 0, point = -1;
    for (; *p && *p != 'e' && *p != 'E'; p++) {
        if (*p == '.')
            point = ndigits;
        else if (ndigits < (int)sizeof(digits))
            digits[ndigits++] = *p;
    }
    if (point < 0)
        point = ndigits;
    if (*p == 'e' || *p == 'E')
        point += atoi(p + 1);
    int first = 0;
    while (first < ndigits && digits[first] == '0') {
        first++;
        point--;
    }
    while (ndigits > first && digits[ndigits - 1] == '0')
        ndigits--;
    Buf b = {0};
    int failed = negative && buf_put(&b, "-", 1) < 0;
    if (ndigits == first) {
        failed = failed || buf_put(&b, "0", 1) < 0;
    }
    else if (point <= 0) {
        failed = failed || buf_put(&b, "0.", 2) < 0;
        for (int k = 0; !failed && k < -point; k++)
            failed = buf_put(&b, "0", 1) < 0;
        failed = failed || buf_put(&b, digits + first, ndigits - first) < 0;
    }
    else if (point >= ndigits - first) {
        failed = failed || buf_put(&b, digits + first, ndigits - first) < 0;
        for (int k = 0; !failed && k < point - (ndigits - first); k++)
            failed = buf_put(&b, "0", 1) < 0;
    }
    else {
        failed = failed || buf_put(&b, digits + first, point) < 0 || buf_put(&b, ".", 1) < 0 ||
                 buf_put(&b, digits + first + point, ndigits - first - point) < 0;
    }
    if (!failed)
        out = PyBytes_FromStringAndSize(b.p, b.len);
    PyMem_Free(b.p);
done:
    PyMem_Free(r);
    return out;
}

/* the frame text and JSON of one value (see the module comment) */
static int
item_forms(Item *it, PyObject *other)
{
    PyObject *v = it->value;
    if (PyUnicode_CheckExact(v)) {
        it->text = PyUnicode_AsUTF8AndSize(v, &it->text_len);
        it->json = NULL;
        return it->text == NULL ? -1 : 0;
    }
    if (v == Py_None) {
        it->text = NULL;
        it->json = "null";
        it->json_len = 4;
        return 0;
    }
    if (PyBool_Check(v)) {
        it->text = it->json = v == Py_True ? "true" : "false";
        it->text_len = it->json_len = v == Py_True ? 4 : 5;
        return 0;
    }
    if (PyLong_CheckExact(v)) {
        int overflow = 0;
        long long x = PyLong_AsLongLongAndOverflow(v, &overflow);
        if (x == -1 && PyErr_Occurred())
            return -1;
        if (!overflow) {
            it->text_len = it->json_len = format_int(it->num, x);
            it->text = it->json = it->num;
            return 0;
        }
        it->hold = PyObject_Str(v);
        if (it->hold == NULL)
            return -1;
        it->text = it->json = PyUnicode_AsUTF8AndSize(it->hold, &it->text_len);
        it->json_len = it->text_len;
        return it->text == NULL ? -1 : 0;
    }
    if (PyFloat_CheckExact(v)) { /* the text natively, the JSON as orjson writes it */
        it->hold = float_text(PyFloat_AS_DOUBLE(v));
        it->hold2 = it->hold == NULL ? NULL : PyObject_CallOneArg(orjson_dumps, v);
        if (it->hold2 == NULL)
            return -1;
        if (!PyBytes_Check(it->hold2)) {
            PyErr_SetString(PyExc_TypeError, "orjson.dumps did not return bytes");
            return -1;
        }
        it->text = PyBytes_AS_STRING(it->hold);
        it->text_len = PyBytes_GET_SIZE(it->hold);
        it->json = PyBytes_AS_STRING(it->hold2);
        it->json_len = PyBytes_GET_SIZE(it->hold2);
        return 0;
    }
    /* anything else: what the Python side says */
    PyObject *forms = PyObject_CallOneArg(other, v);
    if (forms == NULL)
        return -1;
    it->hold = forms;
    if (!PyTuple_CheckExact(forms) || PyTuple_GET_SIZE(forms) != 2 || !PyBytes_Check(PyTuple_GET_ITEM(forms, 1)) ||
        (PyTuple_GET_ITEM(forms, 0) != Py_None && !PyUnicode_Check(PyTuple_GET_ITEM(forms, 0)))) {
        PyErr_SetString(PyExc_TypeError, "other(value) must return (str | None, bytes)");
        return -1;
    }
    PyObject *text = PyTuple_GET_ITEM(forms, 0);
    PyObject *json = PyTuple_GET_ITEM(forms, 1);
    if (text == Py_None) {
        it->text = NULL;
    }
    else if ((it->text = PyUnicode_AsUTF8AndSize(text, &it->text_len)) == NULL) {
        return -1;
    }
    it->json = PyBytes_AS_STRING(json);
    it->json_len = PyBytes_GET_SIZE(json);
    return 0;
}

static int
build_row(Build *b, Py_ssize_t row, PyObject *dict, PyObject *other, int keep_json, int keep_text)
{
    Py_ssize_t size = PyDict_GET_SIZE(dict);
    if (size > b->items_cap || b->items == NULL) {
        Py_ssize_t cap = size * 2 + 8;
        Item *grown = PyMem_Realloc(b->items, (size_t)cap * sizeof(Item));
        if (grown == NULL) {
            PyErr_NoMemory();
            return -1;
        }
        b->items = grown;
        PyObject **keys = PyMem_Realloc(b->keys, (size_t)cap * sizeof(PyObject *));
        if (keys == NULL) {
            PyErr_NoMemory();
            return -1;
        }
        b->keys = keys;
        b->items_cap = cap;
    }
    Item *items = b->items;
    PyObject **keys = b->keys;
    Py_ssize_t pos = 0, i = 0;
    PyObject *key, *value;
    while (i < size && PyDict_Next(dict, &pos, &key, &value)) {
        memset(&items[i], 0, sizeof(Item));
        items[i].key = Py_NewRef(key);
        items[i].value = Py_NewRef(value);
        keys[i] = key;
        i++;
        if (!PyUnicode_CheckExact(key)) {
            items_release(items, i);
            PyErr_Format(PyExc_TypeError, "row %zd has a key that is not a str", row);
            return -1;
        }
    }
    size = i;
    int failed = 0;
    Py_uhash_t hash = shape_hash(keys, size);
    Shape *shape = shapes_find(&b->shapes, keys, size, hash);
    if (shape == NULL && (shape = shape_new(b, items, size, hash)) == NULL)
        failed = 1;
    for (i = 0; !failed && i < size; i++) {
        Item *it = &items[i];
        if (item_forms(it, other) < 0)
            failed = 1;
        else if (it->text != NULL && column_put(&b->cols[shape->cols[i]], row, it->text, it->text_len) < 0)
            failed = 1;
    }
    /* the row's text: its values (frame texts, not nulls) joined by newlines, in the row's order */
    if (!failed && keep_text) {
        Py_ssize_t text_start = b->text.len;
        int first = 1;
        for (i = 0; !failed && i < size; i++) {
            Item *it = &items[i];
            if (it->text == NULL || !b->cols[shape->cols[i]].in_text)
                continue;
            if ((!first && buf_put(&b->text, "\n", 1) < 0) || buf_put(&b->text, it->text, it->text_len) < 0)
                failed = 1;
            first = 0;
        }
        if (!failed && view_put(PyBytes_AS_STRING(b->text_views_obj) + row * 16, NULL, b->text.p + text_start,
                                b->text.len - text_start, text_start) < 0)
            failed = 1;
    }
    /* the row's JSON: keys sorted, compact; hashed for the id; kept when asked */
    Py_ssize_t start = keep_json ? b->json.len : 0;
    if (!keep_json)
        b->json.len = 0;
    if (!failed && buf_put(&b->json, "{", 1) < 0)
        failed = 1;
    for (i = 0; !failed && i < size; i++) {
        Py_ssize_t at = shape->order[i];
        Item *it = &items[at];
        Column *c = &b->cols[shape->cols[at]];
        if ((i && buf_put(&b->json, ",", 1) < 0) ||
            buf_put(&b->json, PyBytes_AS_STRING(c->json_key), PyBytes_GET_SIZE(c->json_key)) < 0)
            failed = 1;
        else if (it->json != NULL ? buf_put(&b->json, it->json, it->json_len) < 0
                                  : buf_put_json_string(&b->json, it->text, it->text_len) < 0)
            failed = 1;
    }
    if (!failed && buf_put(&b->json, "}", 1) < 0)
        failed = 1;
    items_release(items, size);
    if (failed)
        return -1;
    Py_ssize_t len = b->json.len - start;
    char *id = b->ids + row * 32;
    blake2b_128_hex((const uint8_t *)b->json.p + start, (size_t)len, id);
    if (view_put(PyBytes_AS_STRING(b->id_views_obj) + row * 16, NULL, id, 32, row * 32) < 0)
        return -1;
    if (keep_json && view_put(PyBytes_AS_STRING(b->json_views_obj) + row * 16, NULL, b->json.p + start, len, start) < 0)
        return -1;
    return 0;
}

static void
build_clear(Build *b)
{
    for (Py_ssize_t k = 0; k < b->ncols; k++)
        column_clear(&b->cols[k]);
    PyMem_Free(b->cols);
    Py_CLEAR(b->names);
    Py_CLEAR(b->name_index);
    shapes_clear(&b->shapes);
    PyMem_Free(b->items);
    PyMem_Free(b->keys);
    PyMem_Free(b->json.p);
    Py_CLEAR(b->ids_obj);
    Py_CLEAR(b->id_views_obj);
    Py_CLEAR(b->json_views_obj);
    PyMem_Free(b->text.p);
    Py_CLEAR(b->text_views_obj);
}

static PyObject *
m_build(PyObject *self, PyObject *args)
{
    PyObject *rows, *other;
    int keep_json, keep_text = 0;
    (void)self;
    if (!PyArg_ParseTuple(args, "O!pO|p:build", &PyList_Type, &rows, &keep_json, &other, &keep_text))
        return NULL;
    Build b;
    memset(&b, 0, sizeof(b));
    b.n = PyList_GET_SIZE(rows);
    b.names = PyList_New(0);
    b.name_index = PyDict_New();
    b.ids_obj = PyBytes_FromStringAndSize(NULL, b.n * 32);
    b.id_views_obj = PyBytes_FromStringAndSize(NULL, b.n * 16);
    b.json_views_obj = keep_json ? PyBytes_FromStringAndSize(NULL, b.n * 16) : Py_NewRef(Py_None);
    b.text_views_obj = keep_text ? PyBytes_FromStringAndSize(NULL, b.n * 16) : Py_NewRef(Py_None);
    if (b.names == NULL || b.name_index == NULL || b.ids_obj == NULL || b.id_views_obj == NULL ||
        b.json_views_obj == NULL || b.text_views_obj == NULL)
        goto fail;
    b.ids = PyBytes_AS_STRING(b.ids_obj);
    for (Py_ssize_t row = 0; row < b.n; row++) {
        PyObject *dict = PyList_GET_ITEM(rows, row);
        if (!PyDict_Check(dict)) {
            PyErr_Format(PyExc_TypeError, "row %zd is not a dict", row);
            goto fail;
        }
        Py_INCREF(dict);
        int failed = build_row(&b, row, dict, other, keep_json, keep_text);
        Py_DECREF(dict);
        if (failed < 0)
            goto fail;
        if (PyList_GET_SIZE(rows) != b.n) {
            PyErr_SetString(PyExc_RuntimeError, "the rows changed while they were built");
            goto fail;
        }
    }
    PyObject *columns = PyList_New(b.ncols);
    if (columns == NULL)
        goto fail;
    for (Py_ssize_t k = 0; k < b.ncols; k++) {
        PyObject *col = column_result(&b.cols[k], b.n);
        if (col == NULL) {
            Py_DECREF(columns);
            goto fail;
        }
        PyList_SET_ITEM(columns, k, col);
    }
    PyObject *json = Py_None;
    if (keep_json) {
        PyObject *data = PyBytes_FromStringAndSize(b.json.p ? b.json.p : "", b.json.len);
        json = data == NULL ? NULL : Py_BuildValue("(ON)", b.json_views_obj, data);
        if (json == NULL) {
            Py_DECREF(columns);
            goto fail;
        }
    }
    else {
        Py_INCREF(json);
    }
    PyObject *text = Py_None;
    if (keep_text) {
        PyObject *data = PyBytes_FromStringAndSize(b.text.p ? b.text.p : "", b.text.len);
        text = data == NULL ? NULL : Py_BuildValue("(ON)", b.text_views_obj, data);
        if (text == NULL) {
            Py_DECREF(columns);
            Py_DECREF(json);
            goto fail;
        }
    }
    else {
        Py_INCREF(text);
    }
    PyObject *result = Py_BuildValue("(ONOONN)", b.names, columns, b.id_views_obj, b.ids_obj, json, text);
    build_clear(&b);
    return result;
fail:
    build_clear(&b);
    return NULL;
}

static PyObject *
m_blake2b_hex(PyObject *self, PyObject *arg)
{
    (void)self;
    Py_buffer view;
    char out[32];
    if (PyObject_GetBuffer(arg, &view, PyBUF_SIMPLE) < 0)
        return NULL;
    blake2b_128_hex(view.buf, (size_t)view.len, out);
    PyBuffer_Release(&view);
    return PyUnicode_FromStringAndSize(out, 32);
}

static PyMethodDef methods[] = {
    {"build", (PyCFunction)m_build, METH_VARARGS,
     "build(rows, keep_json, other, keep_text=False)\n--\n\n"
     "(names, [(validity | None, views, data, null_count)], id_views, id_data, (json_views, json_data) | None,\n"
     "(text_views, text_data) | None): the buffers of Arrow string-view arrays for every column, the ids,\n"
     "the rows' JSON and the rows' values joined by newlines (names starting with __ left out)."},
    {"blake2b_hex", (PyCFunction)m_blake2b_hex, METH_O,
     "blake2b_hex(data)\n--\n\nhashlib.blake2b(data, digest_size=16).hexdigest(), for the tests."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module_def = {
    PyModuleDef_HEAD_INIT,
    .m_name = "autosoc.normalize._columns",
    .m_doc = "Flat rows -> Arrow string-view columns, each row's sorted JSON and its BLAKE2b-128 id.",
    .m_size = -1,
    .m_methods = methods,
};

PyMODINIT_FUNC
PyInit__columns(void)
{
    init_escapes();
    if (orjson_dumps == NULL) {
        PyObject *orjson = PyImport_ImportModule("orjson");
        if (orjson == NULL)
            return NULL;
        orjson_dumps = PyObject_GetAttrString(orjson, "dumps");
        Py_DECREF(orjson);
        if (orjson_dumps == NULL)
            return NULL;
    }
    return PyModule_Create(&module_def);
}
