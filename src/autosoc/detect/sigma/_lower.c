/*
 * _lower.c -- a string column lower-cased for the Sigma engine's case-insensitive copies, ASCII in C.
 *
 * lower(column) -> (validity bytes | None, views bytes, data bytes, null_count, odd bytes)
 *
 * ``column``: a Polars String Series (or anything _arrow.h imports: an Arrow stream, a tuple).  The
 * result is the buffers of an Arrow string_view array of the same length, offset 0: each value with
 * A-Z mapped to a-z, every other byte as it was; nulls stay null.  For a value holding a byte >= 0x80
 * (not ASCII) that is not Unicode's lower case: its row is in ``odd`` (little-endian uint32s, in
 * order) and the caller lower-cases those rows itself.  For ASCII text the result equals Unicode's
 * lower case exactly (every ASCII character's lower case is ASCII, and no other character's is).
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <string.h>

#include "_arrow.h"

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

/* the lower case of the UTF-8 character at src[0..n) (n >= 1, src[0] >= 0x80) written to dst when it
 * has the same length and is known here: Latin-1's letters (U+00C0-U+00DE but U+00D7 gain 0x20),
 * the rest of U+0080-U+00FF, General Punctuation (U+2000-U+206F) and U+2122 (trade mark) as they
 * are.  Returns the character's length, or 0 for any other character (the value is left to Polars). */
static inline Py_ssize_t lower_wide(uint8_t *dst, const uint8_t *src, Py_ssize_t n) {
    uint8_t b = src[0];
    if (b == 0xC2 || b == 0xC3) {
        if (n < 2 || (src[1] & 0xC0) != 0x80) return 0;
        uint8_t c = src[1];
        if (b == 0xC3 && c <= 0x9E && c != 0x97) c += 0x20;
        dst[0] = b;
        dst[1] = c;
        return 2;
    }
    if (b == 0xE2 && n >= 3 && (src[2] & 0xC0) == 0x80
        && (src[1] == 0x80 || (src[1] == 0x81 && src[2] <= 0xAF) || (src[1] == 0x84 && src[2] == 0xA2))) {
        memcpy(dst, src, 3);
        return 3;
    }
    return 0;
}

#if defined(__SSE2__)
/* 16 ASCII bytes lower-cased: b - 'A' + 0x80 as a signed byte puts A-Z on -128..-103, all else above */
static inline __m128i lower16(__m128i b) {
    __m128i upper = _mm_cmplt_epi8(_mm_add_epi8(b, _mm_set1_epi8((char)(0x80 - 'A'))), _mm_set1_epi8(-128 + 26));
    return _mm_or_si128(b, _mm_and_si128(upper, _mm_set1_epi8(0x20)));
}
#endif

/* the characters from src[i] on, one at a time (see lower_wide); 0 at one it does not know */
static int copy_lower_wide(uint8_t *dst, const uint8_t *src, Py_ssize_t i, Py_ssize_t n) {
    while (i < n) {
        uint8_t b = src[i];
        if (b < 0x80) {
            dst[i++] = (uint8_t)(b | ((uint8_t)(b - 'A') < 26 ? 0x20 : 0));
        } else {
            Py_ssize_t len = lower_wide(dst + i, src + i, n - i);
            if (!len) return 0;
            i += len;
        }
    }
    return 1;
}

/* dst[0..n) = the lower case of src[0..n); 0 when a character is not one this knows (see lower_wide) */
static inline int copy_lower(uint8_t *dst, const uint8_t *src, Py_ssize_t n) {
    Py_ssize_t i = 0;
#if defined(__SSE2__)
    if (n >= 16) {
        for (; i + 16 <= n; i += 16) {
            __m128i b = _mm_loadu_si128((const __m128i *)(src + i));
            if (_mm_movemask_epi8(b)) return copy_lower_wide(dst, src, i, n);
            _mm_storeu_si128((__m128i *)(dst + i), lower16(b));
        }
        if (i < n) { /* the last 16 bytes, overlapping what is done */
            __m128i b = _mm_loadu_si128((const __m128i *)(src + n - 16));
            if (_mm_movemask_epi8(b)) return copy_lower_wide(dst, src, i, n);
            _mm_storeu_si128((__m128i *)(dst + n - 16), lower16(b));
        }
        return 1;
    }
#endif
    uint8_t high = 0;
    for (; i < n; i++) {
        uint8_t b = src[i];
        high |= b;
        dst[i] = (uint8_t)(b | ((uint8_t)(b - 'A') < 26 ? 0x20 : 0));
    }
    return high & 0x80 ? copy_lower_wide(dst, src, 0, n) : 1;
}

/* cell() of _arrow.h, its string_view case inlined (the common one: Polars' own strings) */
#if defined(__GNUC__) || defined(__clang__)
__attribute__((always_inline))
#endif
static inline int value_at(const Col *c, Py_ssize_t row, const uint8_t **p, Py_ssize_t *n) {
    if (c->kind != COL_VIEW) return cell(c, row, p, n);
    Py_ssize_t i = c->offset + row;
    if (c->valid && !((c->valid[i >> 3] >> (i & 7)) & 1)) return 0;
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

static int grow_rows(uint32_t **rows, Py_ssize_t *cap, Py_ssize_t count) {
    if (count < *cap) return 0;
    Py_ssize_t next = *cap ? *cap * 2 : 64;
    uint32_t *grown = PyMem_Realloc(*rows, (size_t)next * sizeof(uint32_t));
    if (!grown) {
        PyErr_NoMemory();
        return -1;
    }
    *rows = grown;
    *cap = next;
    return 0;
}

static PyObject *lower(PyObject *module, PyObject *arg) {
    (void)module;
    Held held;
    memset(&held, 0, sizeof(held));
    Col col;
    memset(&col, 0, sizeof(col));
    PyObject *validity = NULL, *views = NULL, *data = NULL, *odd = NULL, *result = NULL;
    uint32_t *odd_rows = NULL;
    Py_ssize_t n = 0, nodd = 0, odd_cap = 0, nulls = 0, total = 0;
    if (import_column(&held, arg, &col, &n, 0) < 0) goto done;
    if (n > (Py_ssize_t)UINT32_MAX) {
        PyErr_SetString(PyExc_ValueError, "column longer than 2**32 rows");
        goto done;
    }
    /* first pass, over the views only: the bytes of the values too long to be inline (a lower
     * case written here is as long as its value), and the nulls */
    for (Py_ssize_t row = 0; row < n; row++) {
        const uint8_t *p;
        Py_ssize_t len;
        int rc = value_at(&col, row, &p, &len);
        if (rc < 0) {
            PyErr_Format(PyExc_ValueError, "row %zd: a value outside the column's buffers", row);
            goto done;
        }
        if (rc == 0)
            nulls++;
        else if (len > 12)
            total += len;
    }
    if (total > INT32_MAX) {
        PyErr_SetString(PyExc_ValueError, "more than 2 GiB of text in one column");
        goto done;
    }
    views = PyByteArray_FromStringAndSize(NULL, 16 * n); /* writable: patch() fixes the odd rows' views */
    data = PyBytes_FromStringAndSize(NULL, total);
    if (!views || !data) goto done;
    uint8_t *vw = (uint8_t *)PyByteArray_AS_STRING(views);
    uint8_t *out = (uint8_t *)PyBytes_AS_STRING(data);
    uint8_t *valid = NULL;
    if (nulls) {
        validity = PyBytes_FromStringAndSize(NULL, (n + 7) / 8);
        if (!validity) goto done;
        valid = (uint8_t *)PyBytes_AS_STRING(validity);
        memset(valid, 0, (size_t)(n + 7) / 8);
    }
    Py_ssize_t at = 0;
    for (Py_ssize_t row = 0; row < n; row++) {
        uint8_t *v = vw + 16 * row;
        memset(v, 0, 16);
        const uint8_t *p;
        Py_ssize_t len;
        if (value_at(&col, row, &p, &len) != 1) continue; /* null: a zero view, its validity bit unset */
        if (valid) valid[row >> 3] |= (uint8_t)(1u << (row & 7));
        int32_t len32 = (int32_t)len;
        int ok;
        if (len <= 12) {
            ok = copy_lower(v + 4, p, len);
        } else {
            ok = copy_lower(out + at, p, len);
            int32_t index = 0, offset = (int32_t)at;
            memcpy(v + 4, out + at, 4);
            memcpy(v + 8, &index, 4);
            memcpy(v + 12, &offset, 4);
            at += len;
        }
        memcpy(v, &len32, 4);
        if (!ok) { /* a zero-length value until patch() writes the caller's lower case */
            memset(v, 0, 16);
            if (grow_rows(&odd_rows, &odd_cap, nodd) < 0) goto done;
            odd_rows[nodd++] = (uint32_t)row;
        }
    }
    odd = PyBytes_FromStringAndSize((const char *)odd_rows, nodd * (Py_ssize_t)sizeof(uint32_t));
    if (!odd) goto done;
    result = Py_BuildValue("(OOOnO)", validity ? validity : Py_None, views, data, nulls, odd);
done:
    Py_XDECREF(validity);
    Py_XDECREF(views);
    Py_XDECREF(data);
    Py_XDECREF(odd);
    PyMem_Free(odd_rows);
    PyMem_Free(col.data);
    PyMem_Free(col.data_len);
    release(&held);
    return result;
}

/* patch(views, rows, values) -> data: the views of ``rows`` (uint32s, as lower() gave them) rewritten
 * in place to hold ``values`` (a string column, one value per row, none null), the long ones in the
 * returned buffer, which is the array's data buffer 1 */
static PyObject *patch(PyObject *module, PyObject *args) {
    (void)module;
    PyObject *views, *rows_arg, *values, *data = NULL, *result = NULL;
    if (!PyArg_ParseTuple(args, "O!OO", &PyByteArray_Type, &views, &rows_arg, &values)) return NULL;
    Held held;
    memset(&held, 0, sizeof(held));
    Col col;
    memset(&col, 0, sizeof(col));
    Py_ssize_t count, n = 0, total = 0;
    const uint32_t *rows = uint32s(&held, rows_arg, &count, "rows");
    if (!rows || import_column(&held, values, &col, &n, 0) < 0) goto done;
    Py_ssize_t height = PyByteArray_GET_SIZE(views) / 16;
    if (n != count) {
        PyErr_Format(PyExc_ValueError, "%zd rows but %zd values", count, n);
        goto done;
    }
    for (Py_ssize_t i = 0; i < n; i++) {
        const uint8_t *p;
        Py_ssize_t len;
        if (rows[i] >= height) {
            PyErr_Format(PyExc_ValueError, "row %u out of range", rows[i]);
            goto done;
        }
        if (cell(&col, i, &p, &len) != 1) {
            PyErr_Format(PyExc_ValueError, "value %zd: null or outside its buffers", i);
            goto done;
        }
        if (len > 12) total += len;
    }
    if (total > INT32_MAX) {
        PyErr_SetString(PyExc_ValueError, "more than 2 GiB of text in one column");
        goto done;
    }
    data = PyBytes_FromStringAndSize(NULL, total);
    if (!data) goto done;
    uint8_t *vw = (uint8_t *)PyByteArray_AS_STRING(views), *out = (uint8_t *)PyBytes_AS_STRING(data);
    Py_ssize_t at = 0;
    for (Py_ssize_t i = 0; i < n; i++) {
        const uint8_t *p;
        Py_ssize_t len;
        cell(&col, i, &p, &len);
        uint8_t *v = vw + 16 * (Py_ssize_t)rows[i];
        int32_t len32 = (int32_t)len;
        memset(v, 0, 16);
        memcpy(v, &len32, 4);
        if (len <= 12) {
            memcpy(v + 4, p, (size_t)len);
        } else {
            int32_t index = 1, offset = (int32_t)at;
            memcpy(out + at, p, (size_t)len);
            memcpy(v + 4, p, 4);
            memcpy(v + 8, &index, 4);
            memcpy(v + 12, &offset, 4);
            at += len;
        }
    }
    result = data;
    data = NULL;
done:
    Py_XDECREF(data);
    PyMem_Free(col.data);
    PyMem_Free(col.data_len);
    release(&held);
    return result;
}

/* whether src[0..n) holds U+0130 (C4 B0) or U+212A (E2 84 AA): the two characters whose lower case
 * is (partly) ASCII, so that ASCII case folding misses what lower-casing makes of them */
static inline int unfoldable_at(const uint8_t *src, Py_ssize_t i, Py_ssize_t n) {
    return (src[i] == 0xC4 && i + 1 < n && src[i + 1] == 0xB0)
        || (src[i] == 0xE2 && i + 2 < n && src[i + 1] == 0x84 && src[i + 2] == 0xAA);
}

static inline int holds_unfoldable(const uint8_t *src, Py_ssize_t n) {
    Py_ssize_t i = 0;
#if defined(__SSE2__)
    const __m128i c4 = _mm_set1_epi8((char)0xC4), e2 = _mm_set1_epi8((char)0xE2);
    for (; i + 16 <= n; i += 16) {
        __m128i b = _mm_loadu_si128((const __m128i *)(src + i));
        if (!_mm_movemask_epi8(b)) continue;
        unsigned lead = (unsigned)_mm_movemask_epi8(_mm_or_si128(_mm_cmpeq_epi8(b, c4), _mm_cmpeq_epi8(b, e2)));
        while (lead) {
            if (unfoldable_at(src, i + __builtin_ctz(lead), n)) return 1;
            lead &= lead - 1;
        }
    }
#endif
    for (; i < n; i++)
        if (unfoldable_at(src, i, n)) return 1;
    return 0;
}

/* unfoldable(column) -> rows bytes: the rows (uint32s, in order) whose value holds U+0130 or U+212A */
static PyObject *unfoldable(PyObject *module, PyObject *arg) {
    (void)module;
    Held held;
    memset(&held, 0, sizeof(held));
    Col col;
    memset(&col, 0, sizeof(col));
    PyObject *result = NULL;
    uint32_t *rows = NULL;
    Py_ssize_t n = 0, count = 0, cap = 0;
    if (import_column(&held, arg, &col, &n, 0) < 0) goto done;
    if (n > (Py_ssize_t)UINT32_MAX) {
        PyErr_SetString(PyExc_ValueError, "column longer than 2**32 rows");
        goto done;
    }
    for (Py_ssize_t row = 0; row < n; row++) {
        const uint8_t *p;
        Py_ssize_t len;
        int rc = value_at(&col, row, &p, &len);
        if (rc < 0) {
            PyErr_Format(PyExc_ValueError, "row %zd: a value outside the column's buffers", row);
            goto done;
        }
        if (rc == 1 && len >= 2 && holds_unfoldable(p, len)) {
            if (grow_rows(&rows, &cap, count) < 0) goto done;
            rows[count++] = (uint32_t)row;
        }
    }
    result = PyBytes_FromStringAndSize((const char *)rows, count * (Py_ssize_t)sizeof(uint32_t));
done:
    PyMem_Free(rows);
    PyMem_Free(col.data);
    PyMem_Free(col.data_len);
    release(&held);
    return result;
}

static PyMethodDef methods[] = {
    {"lower", lower, METH_O,
     "lower(column) -> (validity | None, views, data, null_count, odd rows): A-Z lower-cased as a string_view "
     "array's buffers"},
    {"unfoldable", unfoldable, METH_O, "unfoldable(column) -> rows holding U+0130 or U+212A (uint32s)"},
    {"patch", patch, METH_VARARGS, "patch(views, rows, values) -> data buffer 1: the odd rows' lower case"},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "autosoc.detect.sigma._lower", "ASCII lower case of Arrow string columns.", -1, methods,
    NULL, NULL, NULL, NULL,
};

PyMODINIT_FUNC PyInit__lower(void) {
    return PyModule_Create(&module);
}
