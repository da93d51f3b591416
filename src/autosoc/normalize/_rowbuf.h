/*
 * _rowbuf.h -- the output side shared by autosoc.normalize._columns and autosoc.normalize._decode:
 * BLAKE2b-128 (scalar in _blake2b.h, many lanes here), growable byte buffers, orjson's JSON string
 * escapes (_json_escape.h), Arrow string-view columns,
 * row shapes and the build state (see _columns.c for what they hold).  Included by both modules
 * (each gets its own static copy), never compiled on its own.
 */
#ifndef AUTOSOC_ROWBUF_H
#define AUTOSOC_ROWBUF_H

#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#if defined(__GNUC__) || defined(__clang__)
#define RB_UNUSED __attribute__((unused))
#else
#define RB_UNUSED
#endif

/* a hint to start loading memory that is about to be read (the rows are pointer chasing the
 * hardware cannot guess: one miss after the other unless asked for together) */
#if defined(__GNUC__) || defined(__clang__)
#define PREFETCH(p) __builtin_prefetch(p)
#define PREFETCH_W(p) __builtin_prefetch((p), 1)
#else
#define PREFETCH(p) ((void)(p))
#define PREFETCH_W(p) ((void)(p))
#endif

#include "_blake2b.h"

#ifdef B2_WIDE_LANES
/* blake2b_128_hex_many with `lanes` lanes (4 or 8) of `compress`, each taking the next message
 * when its own is done; the lanes left idle at the end hash a block of zeros for nothing, until
 * one message is left, which is finished alone */
static void
blake2b_128_hex_many_n(B2CompressN compress, int lanes, const uint8_t *const *data, const size_t *len,
                       char *const *out, Py_ssize_t count)
{
    static const uint8_t zeros[128];
    uint64_t h[8][8];
    uint64_t counter[8], last[8];
    const uint8_t *block[8];
    Py_ssize_t msg[8];
    size_t done[8];
    uint8_t pad[8][128];
    Py_ssize_t next = 0;
    int active = 0;
    for (int lane = 0; lane < lanes; lane++) {
        msg[lane] = next < count ? next++ : -1;
        active += msg[lane] >= 0;
        done[lane] = 0;
        for (int i = 0; i < 8; i++)
            h[i][lane] = b2_iv[i] ^ (i == 0 ? B2_PARAMS : 0);
    }
    while (active >= 2) {
        for (int lane = 0; lane < lanes; lane++) {
            if (msg[lane] < 0) {
                block[lane] = zeros;
                counter[lane] = last[lane] = 0;
                continue;
            }
            const uint8_t *p = data[msg[lane]];
            size_t n = len[msg[lane]], rest = n - done[lane];
            if (rest > 128) {
                block[lane] = p + done[lane];
                done[lane] += 128;
                counter[lane] = (uint64_t)done[lane];
                last[lane] = 0;
            }
            else {
                memset(pad[lane], 0, 128);
                memcpy(pad[lane], p + done[lane], rest);
                block[lane] = pad[lane];
                counter[lane] = (uint64_t)n;
                last[lane] = ~0ULL;
            }
        }
        compress(h, block, counter, last);
        for (int lane = 0; lane < lanes; lane++) {
            if (msg[lane] < 0 || !last[lane])
                continue;
            uint64_t words[2] = {h[0][lane], h[1][lane]};
            b2_hex(words, out[msg[lane]]);
            if (next < count) { /* the lane starts afresh on the next message */
                msg[lane] = next++;
                done[lane] = 0;
                for (int i = 0; i < 8; i++)
                    h[i][lane] = b2_iv[i] ^ (i == 0 ? B2_PARAMS : 0);
            }
            else {
                msg[lane] = -1;
                active--;
            }
        }
    }
    for (int lane = 0; lane < lanes; lane++) {
        if (msg[lane] < 0)
            continue;
        uint64_t words[8];
        for (int i = 0; i < 8; i++)
            words[i] = h[i][lane];
        b2_finish(words, data[msg[lane]], len[msg[lane]], done[lane], out[msg[lane]]);
    }
}
#endif

/* blake2b_128_hex of count messages, data[k] (len[k] bytes) to out[k] */
static void
blake2b_128_hex_many(const uint8_t *const *data, const size_t *len, char *const *out, Py_ssize_t count)
{
    Py_ssize_t next = 0;
#ifdef B2_WIDE_LANES
    int lanes;
    B2CompressN wide = b2_wide(&lanes);
    if (wide != NULL && count >= lanes) {
        blake2b_128_hex_many_n(wide, lanes, data, len, out, count);
        return;
    }
#endif
#ifdef B2_TWO_LANES
    /* each lane takes the next message when its own is done, until one is left over */
    __m128i h[8];
    Py_ssize_t msg[2];
    size_t done[2] = {0, 0};
    uint8_t pad[2][128];
    if (count >= 2) {
        for (int i = 0; i < 8; i++)
            h[i] = _mm_set1_epi64x((long long)(b2_iv[i] ^ (i == 0 ? B2_PARAMS : 0)));
        msg[0] = 0;
        msg[1] = 1;
        next = 2;
        for (;;) {
            const uint8_t *block[2];
            uint64_t counter[2];
            int last[2];
            for (int lane = 0; lane < 2; lane++) {
                const uint8_t *p = data[msg[lane]];
                size_t n = len[msg[lane]], rest = n - done[lane];
                last[lane] = rest <= 128;
                if (!last[lane]) {
                    block[lane] = p + done[lane];
                    done[lane] += 128;
                    counter[lane] = (uint64_t)done[lane];
                }
                else {
                    memset(pad[lane], 0, 128);
                    memcpy(pad[lane], p + done[lane], rest);
                    block[lane] = pad[lane];
                    counter[lane] = (uint64_t)n;
                }
            }
            b2_compress2(h, block, counter, last);
            for (int lane = 0; lane < 2; lane++) {
                if (!last[lane])
                    continue;
                uint64_t words[2], pair[2];
                for (int i = 0; i < 2; i++) {
                    _mm_storeu_si128((__m128i *)pair, h[i]);
                    words[i] = pair[lane];
                }
                b2_hex(words, out[msg[lane]]);
                if (next < count) { /* the lane starts afresh on the next message */
                    for (int i = 0; i < 8; i++) {
                        __m128i fresh = _mm_set1_epi64x((long long)(b2_iv[i] ^ (i == 0 ? B2_PARAMS : 0)));
                        h[i] = lane ? _mm_unpacklo_epi64(h[i], fresh) : _mm_unpackhi_epi64(fresh, h[i]);
                    }
                    msg[lane] = next++;
                    done[lane] = 0;
                }
                else {
                    msg[lane] = -1;
                }
            }
            if (msg[0] >= 0 && msg[1] >= 0)
                continue;
            int left = msg[0] >= 0 ? 0 : msg[1] >= 0 ? 1 : -1; /* the message that goes on alone */
            if (left >= 0) {
                uint64_t words[8], pair[2];
                for (int i = 0; i < 8; i++) {
                    _mm_storeu_si128((__m128i *)pair, h[i]);
                    words[i] = pair[left];
                }
                b2_finish(words, data[msg[left]], len[msg[left]], done[left], out[msg[left]]);
            }
            break;
        }
    }
#endif
    for (; next < count; next++)
        blake2b_128_hex(data[next], len[next], out[next]);
}

/* ------------------------------------------------------------------------ growable byte buffer */

/* A bytes object written in place, grown geometrically and handed out shrunk to its length, so
 * that the result is never copied once more at the end (large ones grow and shrink by realloc,
 * which moves pages rather than bytes). */
typedef struct {
    PyObject *obj;
    char *p;
    Py_ssize_t len, cap;
} Buf;

/* room for `extra` more bytes, at least `expect` in all */
static int
buf_grow(Buf *b, Py_ssize_t extra, Py_ssize_t expect)
{
    if (extra > PY_SSIZE_T_MAX - b->len) {
        PyErr_NoMemory();
        return -1;
    }
    Py_ssize_t need = b->len + extra;
    Py_ssize_t cap = b->cap ? b->cap : 256;
    if (cap < expect)
        cap = expect;
    while (cap < need)
        cap = cap > PY_SSIZE_T_MAX / 2 ? need : cap * 2;
    if (b->obj == NULL) {
        b->obj = PyBytes_FromStringAndSize(NULL, cap);
        if (b->obj == NULL)
            return -1;
    }
    else if (_PyBytes_Resize(&b->obj, cap) < 0) { /* which freed it */
        b->p = NULL;
        b->len = b->cap = 0;
        return -1;
    }
    b->p = PyBytes_AS_STRING(b->obj);
    b->cap = cap;
    return 0;
}

static inline int
buf_reserve(Buf *b, Py_ssize_t extra)
{
    return extra <= b->cap - b->len ? 0 : buf_grow(b, extra, 0);
}

/* buf_reserve for a buffer that `done` of `total` rows have filled so far: grown at once to what
 * all rows will likely take, since growing a large buffer (a realloc in the heap) copies it,
 * and the copy faults in fresh pages besides */
static inline int
buf_reserve_rows(Buf *b, Py_ssize_t extra, Py_ssize_t done, Py_ssize_t total)
{
    if (extra <= b->cap - b->len)
        return 0;
    Py_ssize_t expect = 0;
    if (done >= 8) {
        double e = (double)b->len / (double)done * (double)total * 1.125 + (double)extra;
        if (e < (double)(PY_SSIZE_T_MAX / 4))
            expect = (Py_ssize_t)e;
    }
    return buf_grow(b, extra, expect);
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

/* the bytes written (a new reference; the buffer is left empty) */
static PyObject *
buf_finish(Buf *b)
{
    PyObject *out = b->obj;
    Py_ssize_t len = b->len;
    b->obj = NULL;
    b->p = NULL;
    b->len = b->cap = 0;
    if (out == NULL)
        return PyBytes_FromStringAndSize(NULL, 0);
    if (_PyBytes_Resize(&out, len) < 0)
        return NULL;
    return out;
}

static void
buf_free(Buf *b)
{
    Py_CLEAR(b->obj);
    b->p = NULL;
    b->len = b->cap = 0;
}

#include "_json_escape.h"

static int
buf_put_json_string(Buf *b, const char *s, Py_ssize_t n)
{
    if (n > (PY_SSIZE_T_MAX - 2) / 6) {
        PyErr_NoMemory();
        return -1;
    }
    if (buf_reserve(b, JSON_BOUND(n)) < 0)
        return -1;
    b->len = json_escape(b->p + b->len, s, n) - b->p;
    return 0;
}

/* ------------------------------------------------------------------------ string-view columns */

/* One Arrow string-view array: views (16 bytes a row: int32 length, then the bytes inline when
 * at most 12, else a 4-byte prefix, buffer index 0 and int32 offset into data), validity bits. */
typedef struct {
    char *views;
    uint8_t *validity;
    Py_ssize_t valid;
    Buf data;
    int in_text; /* a name not starting with "__": its values go into the row's text */
    PyObject *views_obj, *validity_obj; /* bytes of n * 16 and (n + 7) / 8, written in place */
    PyObject *json_key; /* bytes: "name": (escaped), for the row JSON */
    const char *key_utf8;
    Py_ssize_t key_len;
} Column;

/* bytes(n): zeroed by calloc, which knows fresh pages from the system are zero already, so the
 * views of nulls (most of a column, in a union of many shapes) are never written at all */
static PyObject *
zeroed_bytes(Py_ssize_t n)
{
    PyObject *size = PyLong_FromSsize_t(n);
    if (size == NULL)
        return NULL;
    PyObject *out = PyObject_CallOneArg((PyObject *)&PyBytes_Type, size);
    Py_DECREF(size);
    if (out != NULL && (!PyBytes_CheckExact(out) || PyBytes_GET_SIZE(out) != n)) {
        Py_DECREF(out);
        PyErr_SetString(PyExc_SystemError, "bytes(n) is not n zero bytes");
        return NULL;
    }
    return out;
}

static int
column_init(Column *c, Py_ssize_t n)
{
    memset(c, 0, sizeof(*c));
    c->views_obj = zeroed_bytes(n * 16);
    c->validity_obj = zeroed_bytes((n + 7) / 8);
    if (c->views_obj == NULL || c->validity_obj == NULL)
        return -1;
    c->views = PyBytes_AS_STRING(c->views_obj);
    c->validity = (uint8_t *)PyBytes_AS_STRING(c->validity_obj);
    return 0;
}

static void
column_clear(Column *c)
{
    Py_CLEAR(c->views_obj);
    Py_CLEAR(c->validity_obj);
    Py_CLEAR(c->json_key);
    buf_free(&c->data);
}

/* the view of `s` (n bytes), which when longer than 12 is at `offset` in the data buffer */
static inline int
view_put(char *view, const char *s, Py_ssize_t n, Py_ssize_t offset)
{
    if (n <= 12) { /* zeroed first: the padding after short strings must be 0 */
        int32_t len = (int32_t)n;
        uint64_t zero = 0;
        memcpy(view + 4, &zero, 8);
        memcpy(view + 12, &zero, 4);
        memcpy(view, &len, 4);
        copy_bytes(view + 4, s, n);
        return 0;
    }
    if (n > INT32_MAX) {
        PyErr_SetString(PyExc_OverflowError, "a value over 2 GiB does not fit an Arrow string view");
        return -1;
    }
    if (offset + n > INT32_MAX) {
        PyErr_SetString(PyExc_OverflowError, "a column over 2 GiB does not fit one Arrow string-view buffer");
        return -1;
    }
    int32_t len = (int32_t)n, index = 0, at = (int32_t)offset;
    memcpy(view, &len, 4);
    memcpy(view + 4, s, 4);
    memcpy(view + 8, &index, 4);
    memcpy(view + 12, &at, 4);
    return 0;
}

static inline int
column_put(Column *c, Py_ssize_t row, Py_ssize_t nrows, const char *s, Py_ssize_t n)
{
    Py_ssize_t offset = c->data.len;
    if (n > 12 && n <= INT32_MAX) { /* (longer ones fail in view_put) */
        if (buf_reserve_rows(&c->data, n, row, nrows) < 0)
            return -1;
        copy_bytes(c->data.p + offset, s, n);
        c->data.len += n;
    }
    if (view_put(c->views + row * 16, s, n, offset) < 0)
        return -1;
    PREFETCH_W(c->views + row * 16 + 64); /* the column's next views, four rows on */
    c->validity[row >> 3] |= (uint8_t)(1u << (row & 7));
    c->valid++;
    return 0;
}

/* (validity or None, views, data, null_count) */
static PyObject *
column_result(Column *c, Py_ssize_t n)
{
    PyObject *data = buf_finish(&c->data);
    if (data == NULL)
        return NULL;
    Py_ssize_t nulls = n - c->valid;
    PyObject *validity = nulls ? c->validity_obj : Py_None;
    return Py_BuildValue("(OONn)", validity, c->views_obj, data, nulls);
}

/* ------------------------------------------------------------------------ shapes */

/* The keys of a row, in order, with the column of each and the row's JSON around its values.  A
 * shape is found by the keys' values (their str hashes, then identity or equal text): the
 * flattening hands most keys out as the same objects every time, but not all (a few are new str
 * objects in every row), and a shape per row would cost a sort and a column lookup per key. */
typedef struct {
    Py_ssize_t size;
    Py_uhash_t hash;
    PyObject **keys; /* strong references */
    Py_ssize_t *cols;
    Py_ssize_t *order;     /* item positions, keys sorted by code point */
    Py_ssize_t *piece_end; /* size + 1 ends in `pieces` of the JSON between the values */
    char *pieces;          /* {"k0": ,"k1": ... } of the sorted keys ({} when there are none) */
    Py_ssize_t json_fixed; /* the length of all pieces */
} Shape;

typedef struct {
    Shape *items;
    Py_ssize_t count, cap;
    Py_ssize_t *slots; /* open addressing over items: index + 1, 0 empty */
    Py_ssize_t nslots;
} Shapes;

#define SHAPE_HASH_START(size) ((Py_uhash_t)(size) * 0x9E3779B97F4A7C15ULL)
#define SHAPE_HASH_STEP(h, key_hash) (((h) ^ (Py_uhash_t)(key_hash)) * 0x100000001B3ULL)
#define SHAPE_HASH_END(h) ((h) ^ ((h) >> 29))

/* the same str by value (both exact str, ready) */
static inline int
same_key(PyObject *a, PyObject *b)
{
    if (a == b)
        return 1;
    Py_ssize_t n = PyUnicode_GET_LENGTH(a);
    int kind = PyUnicode_KIND(a);
    return n == PyUnicode_GET_LENGTH(b) && kind == (int)PyUnicode_KIND(b) &&
           memcmp(PyUnicode_DATA(a), PyUnicode_DATA(b), (size_t)n * (size_t)kind) == 0;
}

static RB_UNUSED Shape *
shapes_find(Shapes *t, PyObject **keys, Py_ssize_t size, Py_uhash_t hash)
{
    if (t->nslots == 0)
        return NULL;
    for (Py_ssize_t i = (Py_ssize_t)(hash & (Py_uhash_t)(t->nslots - 1));; i = (i + 1) & (t->nslots - 1)) {
        Py_ssize_t at = t->slots[i];
        if (at == 0)
            return NULL;
        Shape *s = &t->items[at - 1];
        if (s->hash != hash || s->size != size)
            continue;
        Py_ssize_t k = 0;
        while (k < size && same_key(s->keys[k], keys[k]))
            k++;
        if (k == size)
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
shape_free(Shape *s, Py_ssize_t nkeys)
{
    for (Py_ssize_t i = 0; i < nkeys; i++)
        Py_DECREF(s->keys[i]);
    PyMem_Free(s->keys);
    PyMem_Free(s->cols);
    PyMem_Free(s->pieces);
}

static void
shapes_clear(Shapes *t)
{
    for (Py_ssize_t k = 0; k < t->count; k++)
        shape_free(&t->items[k], t->items[k].size);
    PyMem_Free(t->items);
    PyMem_Free(t->slots);
    memset(t, 0, sizeof(*t));
}

/* ------------------------------------------------------------------------ the build */

#define HASH_BATCH 32

/* one value of the current row */
typedef struct {
    const char *text; /* frame text (NULL: null cell) */
    const char *json; /* JSON of the value when not a string to escape (NULL: escape text) */
    Py_ssize_t text_len, json_len;
} Item;

typedef struct {
    Py_ssize_t n;
    Column *cols;
    Py_ssize_t ncols, cols_cap;
    PyObject *names;      /* list of the column names, first seen first */
    PyObject *name_index; /* name -> column number */
    Shapes shapes;
    /* the current row, items_cap long: */
    Item *items;
    PyObject **keys, **values; /* borrowed from the row (values strong once values_held) */
    char (*nums)[24];          /* ints' digits */
    PyObject **holds;          /* what items point into when not the value itself (2 per item at most) */
    Py_ssize_t nholds, items_cap;
    int values_held;
    Buf json;   /* every row's JSON (keep_json) or the rows' waiting to be hashed */
    /* rows whose JSON is written and not hashed yet: hashed HASH_BATCH at a time, two at once */
    Py_ssize_t pending, pending_row[HASH_BATCH], pending_at[HASH_BATCH], pending_len[HASH_BATCH];
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
        buf_free(&key);
        return -1;
    }
    c->json_key = buf_finish(&key);
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
shape_new(Build *b, PyObject **keys, Py_ssize_t size, Py_uhash_t hash)
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
    memset(s, 0, sizeof(*s));
    s->size = size;
    s->hash = hash;
    s->keys = PyMem_Malloc((size_t)(size ? size : 1) * sizeof(PyObject *));
    s->cols = PyMem_Malloc((size_t)(3 * size + 1) * sizeof(Py_ssize_t)); /* cols, order, piece_end */
    if (s->keys == NULL || s->cols == NULL) {
        shape_free(s, 0);
        PyErr_NoMemory();
        return NULL;
    }
    s->order = s->cols + size;
    s->piece_end = s->order + size;
    for (Py_ssize_t i = 0; i < size; i++) {
        Py_ssize_t col = column_of(b, keys[i]);
        if (col < 0) {
            shape_free(s, i);
            return NULL;
        }
        s->keys[i] = Py_NewRef(keys[i]);
        s->cols[i] = col;
        s->order[i] = i;
    }
    sort_cols = b->cols;
    sort_col_of = s->cols;
    qsort(s->order, (size_t)size, sizeof(Py_ssize_t), cmp_positions);
    /* the JSON around the values: {"k0": then ,"k1": ... then } */
    Py_ssize_t total = 2;
    for (Py_ssize_t j = 0; j < size; j++)
        total += PyBytes_GET_SIZE(b->cols[s->cols[j]].json_key) + 1;
    s->pieces = PyMem_Malloc((size_t)total);
    if (s->pieces == NULL) {
        shape_free(s, size);
        PyErr_NoMemory();
        return NULL;
    }
    char *o = s->pieces;
    *o++ = '{';
    for (Py_ssize_t j = 0; j < size; j++) {
        PyObject *key = b->cols[s->cols[s->order[j]]].json_key;
        if (j)
            *o++ = ',';
        memcpy(o, PyBytes_AS_STRING(key), (size_t)PyBytes_GET_SIZE(key));
        o += PyBytes_GET_SIZE(key);
        s->piece_end[j] = o - s->pieces;
    }
    *o++ = '}';
    s->piece_end[size] = o - s->pieces;
    s->json_fixed = o - s->pieces;
    t->count++;
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

/* the decimal digits of x in out (at least 21 bytes); returns their count */
static RB_UNUSED Py_ssize_t
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

/* the ids of the rows waiting for them */
static int
hash_pending(Build *b)
{
    const uint8_t *data[HASH_BATCH];
    size_t len[HASH_BATCH];
    char *out[HASH_BATCH];
    Py_ssize_t count = b->pending;
    b->pending = 0;
    for (Py_ssize_t k = 0; k < count; k++) {
        data[k] = (const uint8_t *)b->json.p + b->pending_at[k];
        len[k] = (size_t)b->pending_len[k];
        out[k] = b->ids + b->pending_row[k] * 32;
    }
    blake2b_128_hex_many(data, len, out, count);
    for (Py_ssize_t k = 0; k < count; k++) {
        Py_ssize_t row = b->pending_row[k];
        if (view_put(PyBytes_AS_STRING(b->id_views_obj) + row * 16, out[k], 32, row * 32) < 0)
            return -1;
    }
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
    PyMem_Free(b->values);
    PyMem_Free(b->nums);
    PyMem_Free(b->holds);
    buf_free(&b->json);
    Py_CLEAR(b->ids_obj);
    Py_CLEAR(b->id_views_obj);
    Py_CLEAR(b->json_views_obj);
    buf_free(&b->text);
    Py_CLEAR(b->text_views_obj);
}

/* an empty build of n rows (cleared with build_clear whether or not this fails) */
static int
build_start(Build *b, Py_ssize_t n, int keep_json, int keep_text)
{
    memset(b, 0, sizeof(*b));
    b->n = n;
    b->names = PyList_New(0);
    b->name_index = PyDict_New();
    b->ids_obj = PyBytes_FromStringAndSize(NULL, n * 32);
    b->id_views_obj = PyBytes_FromStringAndSize(NULL, n * 16);
    b->json_views_obj = keep_json ? PyBytes_FromStringAndSize(NULL, n * 16) : Py_NewRef(Py_None);
    b->text_views_obj = keep_text ? PyBytes_FromStringAndSize(NULL, n * 16) : Py_NewRef(Py_None);
    if (b->names == NULL || b->name_index == NULL || b->ids_obj == NULL || b->id_views_obj == NULL ||
        b->json_views_obj == NULL || b->text_views_obj == NULL)
        return -1;
    b->ids = PyBytes_AS_STRING(b->ids_obj);
    return 0;
}

/* Row `row`, of `shape`, its values' forms in items (in the row's key order): every value into
 * its column and, in the row's order, into the row's text (its values' frame texts, not nulls,
 * joined by newlines); then the row's JSON (keys sorted, compact), hashed for the id, kept when
 * asked.  The items must stay valid until this returns. */
static int
row_emit(Build *b, Py_ssize_t row, const Shape *shape, const Item *items, Py_ssize_t size, int keep_json,
         int keep_text)
{
    Column *cols = b->cols;
    const Py_ssize_t *col_of = shape->cols;
    Buf *text = &b->text;
    Py_ssize_t text_start = text->len, json_room = shape->json_fixed;
    int first = 1;
    for (Py_ssize_t i = 0; i < size; i++) {
        const Item *it = &items[i];
        if (it->json != NULL) {
            if (it->json_len > PY_SSIZE_T_MAX - json_room)
                goto too_big;
            json_room += it->json_len;
        }
        else {
            if (it->text_len > (PY_SSIZE_T_MAX - json_room - 2) / 6)
                goto too_big;
            json_room += JSON_BOUND(it->text_len);
        }
        if (it->text == NULL)
            continue;
        Column *c = &cols[col_of[i]];
        if (column_put(c, row, b->n, it->text, it->text_len) < 0)
            return -1;
        if (keep_text && c->in_text) {
            if (buf_reserve_rows(text, it->text_len + 1, row, b->n) < 0)
                return -1;
            char *o = text->p + text->len;
            if (!first)
                *o++ = '\n';
            first = 0;
            text->len = copy_bytes(o, it->text, it->text_len) - text->p;
        }
    }
    if (keep_text && view_put(PyBytes_AS_STRING(b->text_views_obj) + row * 16, text->p + text_start,
                              text->len - text_start, text_start) < 0)
        return -1;
    Buf *json = &b->json;
    if (!keep_json && b->pending == 0)
        json->len = 0;
    Py_ssize_t start = json->len;
    if ((keep_json ? buf_reserve_rows(json, json_room, row, b->n) : buf_reserve(json, json_room)) < 0)
        return -1;
    {
        const char *pieces = shape->pieces;
        const Py_ssize_t *order = shape->order, *piece_end = shape->piece_end;
        char *o = json->p + start;
        Py_ssize_t at = 0;
        for (Py_ssize_t i = 0; i < size; i++) {
            o = copy_bytes(o, pieces + at, piece_end[i] - at);
            at = piece_end[i];
            const Item *it = &items[order[i]];
            o = it->json != NULL ? copy_bytes(o, it->json, it->json_len) : json_escape(o, it->text, it->text_len);
        }
        o = copy_bytes(o, pieces + at, piece_end[size] - at);
        json->len = o - json->p;
    }
    Py_ssize_t len = json->len - start;
    if (keep_json && view_put(PyBytes_AS_STRING(b->json_views_obj) + row * 16, json->p + start, len, start) < 0)
        return -1;
    b->pending_row[b->pending] = row;
    b->pending_at[b->pending] = start;
    b->pending_len[b->pending] = len;
    if (++b->pending == HASH_BATCH)
        return hash_pending(b);
    return 0;
too_big:
    PyErr_NoMemory();
    return -1;
}

/* (names, columns, id_views, id_data, json | None, text | None) of a build whose rows are all
 * emitted (see _columns.build); the build is cleared by the caller either way */
static PyObject *
build_result(Build *b, int keep_json, int keep_text)
{
    if (b->pending && hash_pending(b) < 0)
        return NULL;
    PyObject *columns = PyList_New(b->ncols);
    if (columns == NULL)
        return NULL;
    for (Py_ssize_t k = 0; k < b->ncols; k++) {
        PyObject *col = column_result(&b->cols[k], b->n);
        if (col == NULL) {
            Py_DECREF(columns);
            return NULL;
        }
        PyList_SET_ITEM(columns, k, col);
    }
    PyObject *json = Py_None;
    if (keep_json) {
        PyObject *data = buf_finish(&b->json);
        json = data == NULL ? NULL : Py_BuildValue("(ON)", b->json_views_obj, data);
        if (json == NULL) {
            Py_DECREF(columns);
            return NULL;
        }
    }
    else {
        Py_INCREF(json);
    }
    PyObject *text = Py_None;
    if (keep_text) {
        PyObject *data = buf_finish(&b->text);
        text = data == NULL ? NULL : Py_BuildValue("(ON)", b->text_views_obj, data);
        if (text == NULL) {
            Py_DECREF(columns);
            Py_DECREF(json);
            return NULL;
        }
    }
    else {
        Py_INCREF(text);
    }
    return Py_BuildValue("(ONOONN)", b->names, columns, b->id_views_obj, b->ids_obj, json, text);
}

#endif /* AUTOSOC_ROWBUF_H */
