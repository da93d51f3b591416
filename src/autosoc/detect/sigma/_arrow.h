/* Arrow string (and uint32, int64) columns read in place, for autosoc's Sigma C extensions
 * (_match.c, _lines.c): the Arrow C data and stream interfaces, a column's cells, and the buffer views
 * and imported arrays a call holds until it returns.  Every function is static: each extension
 * includes its own copy.
 */
#ifndef AUTOSOC_ARROW_H
#define AUTOSOC_ARROW_H

#include <Python.h>
#include <stdint.h>
#include <string.h>

enum { COL_NULL = 0, COL_VIEW, COL_STRING, COL_LARGE };

typedef struct {
    int kind;
    Py_ssize_t offset;
    const uint8_t *valid;
    const uint8_t *main; Py_ssize_t main_len;
    Py_ssize_t ndata;
    const uint8_t **data; Py_ssize_t *data_len;
} Col;

/* 1: the cell holds text (*p, *n); 0: null; -1: the buffers do not hold it (always inlined: the
 * matcher and the prefilter call it per pair and per row, and out of line it was a call each time) */
#if defined(__GNUC__) || defined(__clang__)
__attribute__((always_inline))
#endif
static inline int cell(const Col *c, Py_ssize_t row, const uint8_t **p, Py_ssize_t *n) {
    if (c->kind == COL_NULL) return 0;
    Py_ssize_t i = c->offset + row;
    if (c->valid && !((c->valid[i >> 3] >> (i & 7)) & 1)) return 0;
    if (c->kind == COL_VIEW) {
        const uint8_t *v = c->main + 16 * i;
        int32_t len, index, off;
        memcpy(&len, v, 4);
        if (len <= 12) {
            if (len < 0) return -1;
            *p = v + 4;
            *n = len;
            return 1;
        }
        memcpy(&index, v + 8, 4);
        memcpy(&off, v + 12, 4);
        if (index < 0 || index >= c->ndata || off < 0 || (Py_ssize_t)off + len > c->data_len[index]) return -1;
        *p = c->data[index] + off;
        *n = len;
        return 1;
    }
    int64_t start, end;
    if (c->kind == COL_STRING) {
        int32_t s32, e32;
        memcpy(&s32, c->main + 4 * i, 4);
        memcpy(&e32, c->main + 4 * (i + 1), 4);
        start = s32;
        end = e32;
    } else {
        memcpy(&start, c->main + 8 * i, 8);
        memcpy(&end, c->main + 8 * (i + 1), 8);
    }
    if (start < 0 || end < start || c->ndata < 1 || end > c->data_len[0]) return -1;
    *p = c->data[0] + start;
    *n = (Py_ssize_t)(end - start);
    return 1;
}

/* the Arrow C data and stream interfaces (https://arrow.apache.org/docs/format/CDataInterface.html) */
struct ArrowSchema {
    const char *format;
    const char *name;
    const char *metadata;
    int64_t flags;
    int64_t n_children;
    struct ArrowSchema **children;
    struct ArrowSchema *dictionary;
    void (*release)(struct ArrowSchema *);
    void *private_data;
};

struct ArrowArray {
    int64_t length;
    int64_t null_count;
    int64_t offset;
    int64_t n_buffers;
    int64_t n_children;
    const void **buffers;
    struct ArrowArray **children;
    struct ArrowArray *dictionary;
    void (*release)(struct ArrowArray *);
    void *private_data;
};

struct ArrowArrayStream {
    int (*get_schema)(struct ArrowArrayStream *, struct ArrowSchema *out);
    int (*get_next)(struct ArrowArrayStream *, struct ArrowArray *out);
    const char *(*get_last_error)(struct ArrowArrayStream *);
    void (*release)(struct ArrowArrayStream *);
    void *private_data;
};

enum { KIND_UINT32 = 10, KIND_INT64 = 11 };

/* what a run holds until it returns: buffer views and imported Arrow arrays */
typedef struct {
    Py_buffer *views;
    Py_ssize_t nviews, cap;
    struct ArrowArray *arrays;
    Py_ssize_t narrays, acap;
} Held;

static const uint8_t *hold(Held *h, PyObject *obj, Py_ssize_t *len) {
    if (obj == Py_None) {
        *len = 0;
        return NULL;
    }
    if (h->nviews == h->cap) {
        Py_ssize_t cap = h->cap ? h->cap * 2 : 16;
        Py_buffer *grown = PyMem_Realloc(h->views, (size_t)cap * sizeof(Py_buffer));
        if (!grown) {
            PyErr_NoMemory();
            return NULL;
        }
        h->views = grown;
        h->cap = cap;
    }
    if (PyObject_GetBuffer(obj, &h->views[h->nviews], PyBUF_SIMPLE) < 0) return NULL;
    Py_buffer *v = &h->views[h->nviews++];
    *len = v->len;
    return v->buf ? (const uint8_t *)v->buf : (const uint8_t *)"";
}

static void release(Held *h) {
    for (Py_ssize_t i = 0; i < h->nviews; i++) PyBuffer_Release(&h->views[i]);
    for (Py_ssize_t i = 0; i < h->narrays; i++)
        if (h->arrays[i].release) h->arrays[i].release(&h->arrays[i]);
    PyMem_Free(h->views);
    PyMem_Free(h->arrays);
}

static const char *stream_error(struct ArrowArrayStream *stream) {
    const char *message = stream->get_last_error ? stream->get_last_error(stream) : NULL;
    return message ? message : "unknown error";
}

/* the one array of an Arrow stream capsule (its empty chunks skipped), moved into h; *kind from
 * its format.  Returns NULL with an exception set on failure; an array of length 0 for no chunk. */
static struct ArrowArray *import_stream(Held *h, PyObject *capsule, int *kind, const char *what, Py_ssize_t i,
                                        int *chunked) {
    struct ArrowArrayStream *stream = PyCapsule_GetPointer(capsule, "arrow_array_stream");
    if (!stream) return NULL;
    if (!stream->release) {
        PyErr_Format(PyExc_ValueError, "%s %zd: the Arrow stream was already consumed", what, i);
        return NULL;
    }
    struct ArrowSchema schema;
    memset(&schema, 0, sizeof(schema));
    if (stream->get_schema(stream, &schema) != 0) {
        PyErr_Format(PyExc_ValueError, "%s %zd: %s", what, i, stream_error(stream));
        return NULL;
    }
    const char *format = schema.format ? schema.format : "";
    *kind = strcmp(format, "vu") == 0 ? COL_VIEW : strcmp(format, "u") == 0 ? COL_STRING
          : strcmp(format, "U") == 0 ? COL_LARGE : strcmp(format, "n") == 0 ? COL_NULL
          : strcmp(format, "I") == 0 ? KIND_UINT32 : strcmp(format, "l") == 0 ? KIND_INT64 : -1;
    int dictionary = schema.dictionary != NULL;
    if (schema.release) schema.release(&schema);
    if (*kind < 0 || dictionary) {
        PyErr_Format(PyExc_TypeError, "%s %zd: Arrow format %s is not a string (or uint32, int64) array", what, i,
                     dictionary ? "dictionary" : format);
        return NULL;
    }
    if (h->narrays == h->acap) {
        Py_ssize_t cap = h->acap ? h->acap * 2 : 16;
        struct ArrowArray *grown = PyMem_Realloc(h->arrays, (size_t)cap * sizeof(struct ArrowArray));
        if (!grown) {
            PyErr_NoMemory();
            return NULL;
        }
        h->arrays = grown;
        h->acap = cap;
    }
    struct ArrowArray *kept = &h->arrays[h->narrays];
    memset(kept, 0, sizeof(*kept));
    for (;;) {
        struct ArrowArray next;
        memset(&next, 0, sizeof(next));
        if (stream->get_next(stream, &next) != 0) {
            PyErr_Format(PyExc_ValueError, "%s %zd: %s", what, i, stream_error(stream));
            goto fail;
        }
        if (!next.release) break; /* the end of the stream */
        if (next.length == 0) {
            next.release(&next);
            continue;
        }
        if (kept->release) {
            next.release(&next);
            if (chunked) {
                *chunked = 1;
            } else {
                PyErr_Format(PyExc_ValueError, "%s %zd: several chunks (rechunk first)", what, i);
            }
            goto fail;
        }
        *kept = next;
    }
    h->narrays++; /* released with the run, also when it stayed empty (release NULL) */
    return kept;
fail:
    if (kept->release) kept->release(kept);
    return NULL;
}

/* a column from an Arrow stream capsule */
static int column_from_stream(Held *h, PyObject *capsule, Col *c, Py_ssize_t *length, Py_ssize_t i, int *chunked) {
    int kind;
    struct ArrowArray *a = import_stream(h, capsule, &kind, "column", i, chunked);
    if (!a) return -1;
    if (kind == KIND_UINT32 || kind == KIND_INT64) {
        PyErr_Format(PyExc_TypeError, "column %zd: not a string column", i);
        return -1;
    }
    *length = (Py_ssize_t)a->length;
    c->offset = (Py_ssize_t)a->offset;
    if (kind == COL_NULL || a->length == 0 || a->null_count == a->length) {
        c->kind = COL_NULL;
        return 0;
    }
    if (a->n_buffers < 3 || a->offset < 0 || !a->buffers[1]) {
        PyErr_Format(PyExc_ValueError, "column %zd: an Arrow array without its buffers", i);
        return -1;
    }
    c->kind = kind;
    c->valid = a->null_count == 0 ? NULL : (const uint8_t *)a->buffers[0];
    c->main = (const uint8_t *)a->buffers[1];
    Py_ssize_t end = (Py_ssize_t)(a->offset + a->length);
    if (kind == COL_VIEW) {
        c->main_len = end * 16;
        c->ndata = (Py_ssize_t)a->n_buffers - 3;
        const int64_t *sizes = (const int64_t *)a->buffers[a->n_buffers - 1];
        c->data = PyMem_Calloc(c->ndata ? (size_t)c->ndata : 1, sizeof(uint8_t *));
        c->data_len = PyMem_Calloc(c->ndata ? (size_t)c->ndata : 1, sizeof(Py_ssize_t));
        if (!c->data || !c->data_len) {
            PyErr_NoMemory();
            return -1;
        }
        for (Py_ssize_t j = 0; j < c->ndata; j++) {
            c->data[j] = a->buffers[2 + j] ? (const uint8_t *)a->buffers[2 + j] : (const uint8_t *)"";
            c->data_len[j] = a->buffers[2 + j] && sizes ? (Py_ssize_t)sizes[j] : 0;
        }
    } else {
        c->ndata = 1;
        c->data = PyMem_Calloc(1, sizeof(uint8_t *));
        c->data_len = PyMem_Calloc(1, sizeof(Py_ssize_t));
        if (!c->data || !c->data_len) {
            PyErr_NoMemory();
            return -1;
        }
        c->data[0] = a->buffers[2] ? (const uint8_t *)a->buffers[2] : (const uint8_t *)"";
        if (kind == COL_STRING) {
            int32_t last;
            memcpy(&last, c->main + 4 * end, 4);
            c->data_len[0] = a->buffers[2] ? last : 0;
            c->main_len = (end + 1) * 4;
        } else {
            int64_t last;
            memcpy(&last, c->main + 8 * end, 8);
            c->data_len[0] = a->buffers[2] ? (Py_ssize_t)last : 0;
            c->main_len = (end + 1) * 8;
        }
    }
    return 0;
}

/* a column from (kind, length, offset, validity | None, main | None, (data, ...)) */
static int column_from_tuple(Held *h, PyObject *item, Col *c, Py_ssize_t *length, Py_ssize_t i) {
    int kind;
    Py_ssize_t valid_len;
    PyObject *valid, *main, *data;
    if (!PyArg_ParseTuple(item, "innOOO!", &kind, length, &c->offset, &valid, &main, &PyTuple_Type, &data))
        return -1;
    if (kind < COL_NULL || kind > COL_LARGE || *length < 0 || c->offset < 0) {
        PyErr_Format(PyExc_ValueError, "column %zd: bad kind, length or offset", i);
        return -1;
    }
    c->kind = kind;
    if (kind == COL_NULL) return 0;
    Py_ssize_t end = c->offset + *length;
    c->valid = hold(h, valid, &valid_len);
    if (!c->valid && PyErr_Occurred()) return -1;
    c->main = hold(h, main, &c->main_len);
    if (!c->main && PyErr_Occurred()) return -1;
    Py_ssize_t width = kind == COL_VIEW ? 16 : kind == COL_STRING ? 4 : 8;
    Py_ssize_t need = kind == COL_VIEW ? end : (*length ? end + 1 : 0);
    if ((c->valid && valid_len < (end + 7) / 8) || (need && (!c->main || c->main_len / width < need))) {
        PyErr_Format(PyExc_ValueError, "column %zd: buffers shorter than the column", i);
        return -1;
    }
    Py_ssize_t ndata = PyTuple_GET_SIZE(data);
    c->ndata = ndata;
    c->data = PyMem_Calloc(ndata ? (size_t)ndata : 1, sizeof(uint8_t *));
    c->data_len = PyMem_Calloc(ndata ? (size_t)ndata : 1, sizeof(Py_ssize_t));
    if (!c->data || !c->data_len) {
        PyErr_NoMemory();
        return -1;
    }
    for (Py_ssize_t j = 0; j < ndata; j++) {
        c->data[j] = hold(h, PyTuple_GET_ITEM(data, j), &c->data_len[j]);
        if (!c->data[j]) {
            if (PyErr_Occurred()) return -1;
            c->data[j] = (const uint8_t *)"";
        }
    }
    return 0;
}

/* obj's Arrow stream capsule (a new reference): obj itself when it is one, else obj.__arrow_c_stream__() */
static PyObject *stream_of(PyObject *obj) {
    if (PyCapsule_CheckExact(obj)) {
        Py_INCREF(obj);
        return obj;
    }
    return PyObject_CallMethod(obj, "__arrow_c_stream__", NULL);
}

/* a column from a tuple, an Arrow stream capsule or an object exporting one (a Polars Series, rechunked
 * here when it has several chunks) */
static int import_column(Held *h, PyObject *obj, Col *c, Py_ssize_t *length, Py_ssize_t i) {
    if (PyTuple_Check(obj)) return column_from_tuple(h, obj, c, length, i);
    PyObject *capsule = stream_of(obj);
    if (!capsule) return -1;
    int chunked = 0;
    int rc = column_from_stream(h, capsule, c, length, i, PyCapsule_CheckExact(obj) ? NULL : &chunked);
    Py_DECREF(capsule);
    if (rc < 0 && chunked) {
        PyObject *one = PyObject_CallMethod(obj, "rechunk", NULL);
        if (!one) return -1;
        capsule = stream_of(one);
        Py_DECREF(one); /* the imported array holds its buffers */
        if (!capsule) return -1;
        rc = column_from_stream(h, capsule, c, length, i, NULL);
        Py_DECREF(capsule);
    }
    return rc;
}

static inline const uint32_t *uint32s_of_stream(Held *h, PyObject *capsule, Py_ssize_t *count, const char *what,
                                         int *chunked) {
    int kind;
    struct ArrowArray *a = import_stream(h, capsule, &kind, what, 0, chunked);
    if (!a) return NULL;
    if (kind != KIND_UINT32) {
        PyErr_Format(PyExc_TypeError, "%s: uint32 values expected", what);
        return NULL;
    }
    *count = (Py_ssize_t)a->length;
    if (a->length == 0) return (const uint32_t *)(const void *)"\0\0\0";
    if (a->null_count != 0 || a->n_buffers != 2 || !a->buffers[1]) {
        PyErr_Format(PyExc_ValueError, "%s: nulls among the values", what);
        return NULL;
    }
    return (const uint32_t *)a->buffers[1] + a->offset;
}

/* uint32 values: (buffer, offset, length), an Arrow stream capsule or an object exporting one */
static inline const uint32_t *uint32s(Held *h, PyObject *obj, Py_ssize_t *count, const char *what) {
    if (!PyTuple_Check(obj)) {
        PyObject *capsule = stream_of(obj);
        if (!capsule) return NULL;
        int chunked = 0;
        const uint32_t *out = uint32s_of_stream(h, capsule, count, what, PyCapsule_CheckExact(obj) ? NULL : &chunked);
        Py_DECREF(capsule);
        if (!out && chunked) {
            PyObject *one = PyObject_CallMethod(obj, "rechunk", NULL);
            if (!one) return NULL;
            capsule = stream_of(one);
            Py_DECREF(one);
            if (!capsule) return NULL;
            out = uint32s_of_stream(h, capsule, count, what, NULL);
            Py_DECREF(capsule);
        }
        return out;
    }
    PyObject *buffer;
    Py_ssize_t offset, len;
    if (!PyArg_ParseTuple(obj, "Onn", &buffer, &offset, count)) return NULL;
    const uint8_t *p = hold(h, buffer, &len);
    if (!p && PyErr_Occurred()) return NULL;
    if (offset < 0 || *count < 0 || (*count && (!p || len / 4 - offset < *count))) {
        PyErr_Format(PyExc_ValueError, "%s: the buffer is shorter than the values", what);
        return NULL;
    }
    return p ? (const uint32_t *)(const void *)p + offset : (const uint32_t *)(const void *)"\0\0\0";
}

#endif
