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
 * autosoc.normalize.columns hands to Polars through pyarrow without copying.  A shape -- the
 * keys in order, found by their cached str hashes and then by identity (most keys are the same
 * str objects row after row: orjson and the flattening cache them) or equal text (a few are new
 * objects in every row) -- maps to its columns and to its JSON between the values, sorted, once.
 * The ids are hashed a batch of rows at a time, two messages at once where SSE2 is at hand.
 *
 * Values: str as is; None null (JSON null); bool "true"/"false"; int its decimal text; float its
 * plain decimal text (see float_text) and orjson's JSON; anything else goes to the `other`
 * callback, which returns (text or None, JSON bytes).
 * A non-str key raises TypeError and a str that is not valid UTF-8 (a lone surrogate) raises
 * UnicodeEncodeError: the caller then uses the pure-Python reference, which fails or not as
 * before.  A row's values are held (INCREF) once the callback, which runs Python code, is
 * called for one of them; nothing else here runs Python code.
 *
 * The output side (hashing, buffers, escapes, columns, shapes, row_emit) lives in _rowbuf.h,
 * shared with autosoc.normalize._decode, which writes the same buffers straight from JSON lines.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static PyObject *orjson_dumps; /* orjson.dumps, for the JSON of floats */

#include "_rowbuf.h"


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
        out = buf_finish(&b);
    buf_free(&b);
done:
    PyMem_Free(r);
    return out;
}


/* The row's values as strong references, before the first callback: Python code may change
 * the dict, and the items point into its values.  (Nothing else in a row runs Python code: a
 * row of str, None, bool, int and float values is built on borrowed references.) */
static void
hold_values(Build *b, Py_ssize_t size)
{
    if (b->values_held)
        return;
    for (Py_ssize_t i = 0; i < size; i++)
        Py_INCREF(b->values[i]);
    b->values_held = 1;
}

static void
row_release(Build *b, Py_ssize_t size)
{
    for (Py_ssize_t i = 0; i < b->nholds; i++)
        Py_DECREF(b->holds[i]);
    b->nholds = 0;
    if (b->values_held) {
        for (Py_ssize_t i = 0; i < size; i++)
            Py_DECREF(b->values[i]);
        b->values_held = 0;
    }
}

/* the frame text and JSON of one value (see the module comment) */
static int
item_forms(Build *b, Item *it, PyObject *v, char *num, PyObject *other, Py_ssize_t size)
{
    if (PyUnicode_CheckExact(v)) {
        it->json = NULL;
        if (PyUnicode_IS_COMPACT_ASCII(v)) { /* its own bytes are its UTF-8 */
            it->text = (const char *)PyUnicode_DATA(v);
            it->text_len = PyUnicode_GET_LENGTH(v);
            return 0;
        }
        it->text = PyUnicode_AsUTF8AndSize(v, &it->text_len);
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
            it->text_len = it->json_len = format_int(num, x);
            it->text = it->json = num;
            return 0;
        }
        PyObject *digits = PyObject_Str(v);
        if (digits == NULL)
            return -1;
        b->holds[b->nholds++] = digits;
        it->text = it->json = PyUnicode_AsUTF8AndSize(digits, &it->text_len);
        it->json_len = it->text_len;
        return it->text == NULL ? -1 : 0;
    }
    if (PyFloat_CheckExact(v)) { /* the text natively, the JSON as orjson writes it */
        PyObject *text = float_text(PyFloat_AS_DOUBLE(v));
        if (text == NULL)
            return -1;
        b->holds[b->nholds++] = text;
        PyObject *json = PyObject_CallOneArg(orjson_dumps, v);
        if (json == NULL)
            return -1;
        b->holds[b->nholds++] = json;
        if (!PyBytes_Check(json)) {
            PyErr_SetString(PyExc_TypeError, "orjson.dumps did not return bytes");
            return -1;
        }
        it->text = PyBytes_AS_STRING(text);
        it->text_len = PyBytes_GET_SIZE(text);
        it->json = PyBytes_AS_STRING(json);
        it->json_len = PyBytes_GET_SIZE(json);
        return 0;
    }
    /* anything else: what the Python side says */
    hold_values(b, size);
    PyObject *forms = PyObject_CallOneArg(other, v);
    if (forms == NULL)
        return -1;
    b->holds[b->nholds++] = forms;
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
row_room(Build *b, Py_ssize_t size)
{
    Py_ssize_t cap = size * 2 + 8;
    Item *items = PyMem_Realloc(b->items, (size_t)cap * sizeof(Item));
    if (items != NULL)
        b->items = items;
    PyObject **keys = items == NULL ? NULL : PyMem_Realloc(b->keys, (size_t)cap * sizeof(PyObject *));
    if (keys != NULL)
        b->keys = keys;
    PyObject **values = keys == NULL ? NULL : PyMem_Realloc(b->values, (size_t)cap * sizeof(PyObject *));
    if (values != NULL)
        b->values = values;
    char(*nums)[24] = values == NULL ? NULL : PyMem_Realloc(b->nums, (size_t)cap * sizeof(*nums));
    if (nums != NULL)
        b->nums = nums;
    PyObject **holds = nums == NULL ? NULL : PyMem_Realloc(b->holds, (size_t)cap * 2 * sizeof(PyObject *));
    if (holds == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    b->holds = holds;
    b->items_cap = cap;
    return 0;
}


static int
build_row(Build *b, Py_ssize_t row, PyObject *dict, PyObject *other, int keep_json, int keep_text)
{
    Py_ssize_t size = PyDict_GET_SIZE(dict);
    if (size > b->items_cap && row_room(b, size) < 0)
        return -1;
    PyObject **keys = b->keys, **values = b->values;
    Py_ssize_t pos = 0, i = 0;
    PyObject *key, *value;
    Py_uhash_t hash = SHAPE_HASH_START(size);
    while (i < size && PyDict_Next(dict, &pos, &key, &value)) {
        if (!PyUnicode_CheckExact(key)) {
            PyErr_Format(PyExc_TypeError, "row %zd has a key that is not a str", row);
            return -1;
        }
#if PY_VERSION_HEX < 0x030C0000
        if (PyUnicode_READY(key) < 0) /* for same_key (a dict's keys are, being hashed) */
            return -1;
#endif
        Py_hash_t key_hash = ((PyASCIIObject *)key)->hash; /* cached, the str being a dict key */
        if (key_hash == -1 && (key_hash = PyObject_Hash(key)) == -1)
            return -1;
        hash = SHAPE_HASH_STEP(hash, key_hash);
        PREFETCH(value); /* read below: all of them on their way while the keys are looked at */
        PREFETCH((const char *)value + 64); /* the text of a str follows its header */
        keys[i] = key;
        values[i] = value;
        i++;
    }
    size = i;
    hash = SHAPE_HASH_END(hash);
    Shape *shape = shapes_find(&b->shapes, keys, size, hash);
    if (shape == NULL && (shape = shape_new(b, keys, size, hash)) == NULL)
        return -1;
    for (i = 0; i < size; i++) {
        if (item_forms(b, &b->items[i], values[i], b->nums[i], other, size) < 0)
            goto fail;
    }
    int failed = row_emit(b, row, shape, b->items, size, keep_json, keep_text);
    row_release(b, size);
    return failed;
fail:
    row_release(b, size);
    return -1;
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
    if (build_start(&b, PyList_GET_SIZE(rows), keep_json, keep_text) < 0)
        goto fail;
    for (Py_ssize_t row = 0; row < b.n; row++) {
        PyObject *dict = PyList_GET_ITEM(rows, row);
        if (row + 2 < b.n) /* the dicts ahead: theirs is the first miss of a row */
            PREFETCH(PyList_GET_ITEM(rows, row + 2));
        if (row + 1 < b.n && PyDict_CheckExact(PyList_GET_ITEM(rows, row + 1))) {
            const char *table = (const char *)((PyDictObject *)PyList_GET_ITEM(rows, row + 1))->ma_keys;
            for (int line = 0; line < 8; line++)
                PREFETCH(table + 64 * line);
        }
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
    PyObject *result = build_result(&b, keep_json, keep_text);
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
