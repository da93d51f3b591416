/* The JSON lines of a batch's Sigma signals, for autosoc.detect.sigma.signals.
 *
 * lines() writes one line per signal, byte for byte what orjson.dumps(Signal.as_dict()) gives, to a
 * stream's write() in chunks of about a megabyte, from the batch's Arrow columns read in place (see
 * _arrow.h): what one rule's signals share comes as ready JSON text per rule; what one event's
 * share is read from the event columns at the fired rows and written once per event; the matched
 * fields are read from the rules' columns at their rows.  The signal id is computed here: BLAKE2b with a
 * 12-byte digest over detector, rule id and event id, as Signal.signal_id does with hashlib
 * (_blake2b.h, shared with normalize's content ids, as is the escaping, _json_escape.h).
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <string.h>

#include "_arrow.h"
#include "../../normalize/_blake2b.h"
#include "../../normalize/_json_escape.h"

/* ---------------------------------------------------------------- the output buffer */

typedef struct {
    char *p;
    Py_ssize_t n, cap;
} Buf;

static int grow(Buf *b, Py_ssize_t more) {
    if (b->n + more <= b->cap) return 0;
    Py_ssize_t cap = b->cap ? b->cap : 1 << 16;
    while (cap < b->n + more) cap *= 2;
    char *p = PyMem_Realloc(b->p, (size_t)cap);
    if (!p) {
        PyErr_NoMemory();
        return -1;
    }
    b->p = p;
    b->cap = cap;
    return 0;
}

static inline int put(Buf *b, const void *p, Py_ssize_t n) {
    if (grow(b, n) < 0) return -1;
    memcpy(b->p + b->n, p, (size_t)n);
    b->n += n;
    return 0;
}

#define PUT_LIT(b, s) put((b), (s), (Py_ssize_t)(sizeof(s) - 1))

/* a string's JSON text between its quotes, as orjson writes it (_json_escape.h) */
static int put_json_body(Buf *b, const uint8_t *p, Py_ssize_t n) {
    if (grow(b, JSON_BOUND(n)) < 0) return -1;
    b->n = json_escape_body(b->p + b->n, (const char *)p, n) - b->p;
    return 0;
}

/* a JSON string, quoted */
static int put_json_string(Buf *b, const uint8_t *p, Py_ssize_t n) {
    if (grow(b, JSON_BOUND(n)) < 0) return -1;
    b->n = json_escape(b->p + b->n, (const char *)p, n) - b->p;
    return 0;
}

/* value in decimal, zero-padded to width digits */
static inline char *digits(char *o, uint64_t value, int width) {
    char tmp[24];
    int n = 0;
    do {
        tmp[n++] = (char)('0' + value % 10);
        value /= 10;
    } while (value);
    while (n < width) tmp[n++] = '0';
    while (n) *o++ = tmp[--n];
    return o;
}

static int put_int(Buf *b, int64_t v) {
    if (grow(b, 24) < 0) return -1;
    char *o = b->p + b->n;
    if (v < 0) {
        *o++ = '-';
        o = digits(o, (uint64_t)0 - (uint64_t)v, 1);
    } else {
        o = digits(o, (uint64_t)v, 1);
    }
    b->n = o - b->p;
    return 0;
}

/* a cell as a JSON string, or null */
static int put_cell(Buf *b, const Col *c, Py_ssize_t row, const char *what) {
    const uint8_t *p;
    Py_ssize_t n;
    int got = cell(c, row, &p, &n);
    if (got < 0) {
        PyErr_Format(PyExc_ValueError, "%s: the buffers do not hold row %zd", what, row);
        return -1;
    }
    return got ? put_json_string(b, p, n) : PUT_LIT(b, "null");
}

/* ---------------------------------------------------------------- int64 columns */

typedef struct {
    const int64_t *values; /* NULL: every value is null */
    const uint8_t *valid;
    Py_ssize_t offset, length;
} Ints;

static int import_ints(Held *h, PyObject *obj, Ints *out, const char *what) {
    PyObject *capsule = stream_of(obj);
    if (!capsule) return -1;
    int kind;
    struct ArrowArray *a = import_stream(h, capsule, &kind, what, 0, NULL);
    Py_DECREF(capsule);
    if (!a) return -1;
    if (kind != KIND_INT64 && kind != COL_NULL) {
        PyErr_Format(PyExc_TypeError, "%s: int64 values expected", what);
        return -1;
    }
    out->length = (Py_ssize_t)a->length;
    out->offset = (Py_ssize_t)a->offset;
    out->values = NULL;
    out->valid = NULL;
    if (kind == COL_NULL || a->length == 0 || a->null_count == a->length) return 0;
    if (a->n_buffers != 2 || !a->buffers[1] || a->offset < 0) {
        PyErr_Format(PyExc_ValueError, "%s: an Arrow array without its buffers", what);
        return -1;
    }
    out->values = (const int64_t *)a->buffers[1];
    out->valid = a->null_count ? (const uint8_t *)a->buffers[0] : NULL;
    return 0;
}

static inline int int_at(const Ints *c, Py_ssize_t row, int64_t *v) {
    if (!c->values) return 0;
    Py_ssize_t i = c->offset + row;
    if (c->valid && !((c->valid[i >> 3] >> (i & 7)) & 1)) return 0;
    *v = c->values[i];
    return 1;
}

/* microseconds since 1970 as datetime.isoformat() writes an aware UTC datetime, in quotes */
static int put_time(Buf *b, int64_t us) {
    int64_t days = us / 86400000000LL, rest = us % 86400000000LL;
    if (rest < 0) {
        rest += 86400000000LL;
        days -= 1;
    }
    /* civil_from_days (H. Hinnant) */
    int64_t z = days + 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    int64_t doe = z - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t y = yoe + era * 400;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153;
    int64_t d = doy - (153 * mp + 2) / 5 + 1;
    int64_t m = mp < 10 ? mp + 3 : mp - 9;
    if (m <= 2) y += 1;
    if (y < 1 || y > 9999) {
        PyErr_Format(PyExc_ValueError, "time %lld us: outside years 1-9999", (long long)us);
        return -1;
    }
    int64_t secs = rest / 1000000, micro = rest % 1000000;
    if (grow(b, 40) < 0) return -1;
    char *o = b->p + b->n;
    *o++ = '"';
    o = digits(o, (uint64_t)y, 4);
    *o++ = '-';
    o = digits(o, (uint64_t)m, 2);
    *o++ = '-';
    o = digits(o, (uint64_t)d, 2);
    *o++ = 'T';
    o = digits(o, (uint64_t)(secs / 3600), 2);
    *o++ = ':';
    o = digits(o, (uint64_t)(secs / 60 % 60), 2);
    *o++ = ':';
    o = digits(o, (uint64_t)(secs % 60), 2);
    if (micro) {
        *o++ = '.';
        o = digits(o, (uint64_t)micro, 6);
    }
    memcpy(o, "+00:00\"", 7);
    b->n = o + 7 - b->p;
    return 0;
}

/* ---------------------------------------------------------------- lines() */

/* str items of a list as UTF-8 (borrowed from the str objects, which the list keeps alive) */
static int utf8_list(PyObject *list, Py_ssize_t want, const char ***p, Py_ssize_t **n, const char *what) {
    if (!PyList_Check(list) || (want >= 0 && PyList_GET_SIZE(list) != want)) {
        PyErr_Format(PyExc_TypeError, "%s: a list of %zd str expected", what, want);
        return -1;
    }
    Py_ssize_t count = PyList_GET_SIZE(list);
    *p = PyMem_Calloc(count ? (size_t)count : 1, sizeof(char *));
    *n = PyMem_Calloc(count ? (size_t)count : 1, sizeof(Py_ssize_t));
    if (!*p || !*n) {
        PyErr_NoMemory();
        return -1;
    }
    for (Py_ssize_t i = 0; i < count; i++) {
        PyObject *item = PyList_GET_ITEM(list, i);
        if (!PyUnicode_Check(item)) {
            PyErr_Format(PyExc_TypeError, "%s %zd: str expected", what, i);
            return -1;
        }
        (*p)[i] = PyUnicode_AsUTF8AndSize(item, &(*n)[i]);
        if (!(*p)[i]) return -1;
    }
    return 0;
}

/* a list of lists of non-negative ints below limit, flattened: *start[i] .. *start[i + 1] */
static int int_lists(PyObject *list, Py_ssize_t want, Py_ssize_t limit, Py_ssize_t **start, uint32_t **values,
                     const char *what) {
    if (!PyList_Check(list) || PyList_GET_SIZE(list) != want) {
        PyErr_Format(PyExc_TypeError, "%s: a list of %zd lists expected", what, want);
        return -1;
    }
    Py_ssize_t total = 0;
    for (Py_ssize_t i = 0; i < want; i++) {
        PyObject *item = PyList_GET_ITEM(list, i);
        if (!PyList_Check(item)) {
            PyErr_Format(PyExc_TypeError, "%s %zd: a list expected", what, i);
            return -1;
        }
        total += PyList_GET_SIZE(item);
    }
    *start = PyMem_Calloc((size_t)want + 1, sizeof(Py_ssize_t));
    *values = PyMem_Calloc(total ? (size_t)total : 1, sizeof(uint32_t));
    if (!*start || !*values) {
        PyErr_NoMemory();
        return -1;
    }
    Py_ssize_t at = 0;
    for (Py_ssize_t i = 0; i < want; i++) {
        PyObject *item = PyList_GET_ITEM(list, i);
        (*start)[i] = at;
        for (Py_ssize_t j = 0; j < PyList_GET_SIZE(item); j++) {
            Py_ssize_t v = PyLong_AsSsize_t(PyList_GET_ITEM(item, j));
            if (v == -1 && PyErr_Occurred()) return -1;
            if (v < 0 || v >= limit) {
                PyErr_Format(PyExc_ValueError, "%s %zd: %zd is out of range (0-%zd)", what, i, v, limit - 1);
                return -1;
            }
            (*values)[at++] = (uint32_t)v;
        }
    }
    (*start)[want] = at;
    return 0;
}

/* an entity ("ip:" and the cell's text) as a JSON array member, when the cell holds text */
static int put_entity(Buf *b, const Col *c, Py_ssize_t row, const char *kind, Py_ssize_t kind_len, int *comma) {
    const uint8_t *p;
    Py_ssize_t n;
    int got = cell(c, row, &p, &n);
    if (got < 0) {
        PyErr_Format(PyExc_ValueError, "%s entities: the buffers do not hold row %zd", kind, row);
        return -1;
    }
    if (!got || n == 0) return 0;
    if ((*comma && put(b, ",", 1) < 0) || put(b, "\"", 1) < 0 || put(b, kind, kind_len) < 0 ||
        put_json_body(b, p, n) < 0 || put(b, "\"", 1) < 0)
        return -1;
    *comma = 1;
    return 0;
}

/* CHUNK bytes or more written so far go to write(bytes): a small buffer, reused, stays in memory
 * the process already has (a whole batch's 20 MB, fresh, cost more in page faults than the writing) */
enum { CHUNK = 1 << 20 };

static int flush(Buf *b, PyObject *write, Py_ssize_t *total) {
    if (b->n == 0) return 0;
    PyObject *chunk = PyBytes_FromStringAndSize(b->p, b->n);
    if (!chunk) return -1;
    PyObject *ok = PyObject_CallOneArg(write, chunk);
    Py_DECREF(chunk);
    if (!ok) return -1;
    Py_DECREF(ok);
    *total += b->n;
    b->n = 0;
    return 0;
}

enum { R_ID, R_HEAD, R_TAIL, R_END, R_COUNT };
enum { C_HOST, C_USER, C_EVENT, C_SOURCE, C_PATH, C_SRC_IP, C_DST_IP, C_APP, C_PRINCIPAL, C_FAMILY, C_REMOTE,
       C_COUNT };

static const char hexdigits[] = "0123456789abcdef";

/* the 24 hex digits of a 12-byte digest whose state words are h0, h1 */
static inline void digest_hex(uint64_t h0, uint64_t h1, char *id) {
    for (int i = 0; i < 12; i++) {
        uint8_t byte = (uint8_t)((i < 8 ? h0 : h1) >> (8 * (i % 8)));
        id[2 * i] = hexdigits[byte >> 4];
        id[2 * i + 1] = hexdigits[byte & 15];
    }
}

/* ids[24 * j]: signal j's id, the hex of the 12-byte BLAKE2b of detector + its rule's id + its
 * event's id (Signal.signal_id), for the signals of rules 0..nrules-1 (rule r's are j in
 * row_start[r] .. row_start[r + 1]).  A message of one block (every rule id of SigmaHQ's) is
 * hashed four or eight at a time in the wide lanes where the processor has them (a signal's id
 * cost as much as the rest of its line, scalar), a longer one alone. */
/* the filled lanes' messages (one block each) hashed at once, their ids written; the lanes past
 * them hash zeros for nothing */
static void ids_flush(B2CompressN wide, int lanes, int filled, uint8_t pad[8][128], uint64_t counter[8],
                      const Py_ssize_t slot[8], char *ids) {
    static const uint8_t zeros[128];
    uint64_t h[8][8], last[8];
    const uint8_t *block[8];
    for (int lane = 0; lane < lanes; lane++) {
        block[lane] = lane < filled ? pad[lane] : zeros;
        last[lane] = lane < filled ? ~0ULL : 0;
        if (lane >= filled) counter[lane] = 0;
        for (int i = 0; i < 8; i++) h[i][lane] = b2_iv[i] ^ (i == 0 ? (0x01010000ULL ^ 12) : 0);
    }
    wide(h, block, counter, last);
    for (int lane = 0; lane < filled; lane++) digest_hex(h[0][lane], h[1][lane], ids + 24 * slot[lane]);
}

static void signal_ids(const char *detector, size_t detector_len, Py_ssize_t nrules, const char *const *rule_id,
                       const Py_ssize_t *rule_len, const Py_ssize_t *row_start, const uint32_t *row_list,
                       const uint8_t *const *event_p, const Py_ssize_t *event_n, char *ids) {
    int lanes = 0;
    B2CompressN wide = NULL;
#ifdef B2_WIDE_LANES
    wide = b2_wide(&lanes);
#endif
    uint64_t counter[8];
    uint8_t pad[8][128];
    Py_ssize_t slot[8];
    int filled = 0;
    for (Py_ssize_t r = 0; r < nrules; r++) {
        size_t head = detector_len + (size_t)rule_len[r];
        for (Py_ssize_t j = row_start[r]; j < row_start[r + 1]; j++) {
            uint32_t row = row_list[j];
            size_t n = head + (size_t)event_n[row];
            if (wide == NULL || n > 128) {
                const uint8_t *parts[3] = {(const uint8_t *)detector, (const uint8_t *)rule_id[r], event_p[row]};
                size_t lens[3] = {detector_len, (size_t)rule_len[r], (size_t)event_n[row]};
                uint8_t digest[12];
                blake2b_parts(parts, lens, 3, digest, 12);
                uint64_t h0 = 0, h1 = 0;
                for (int i = 0; i < 8; i++) h0 |= (uint64_t)digest[i] << (8 * i);
                for (int i = 0; i < 4; i++) h1 |= (uint64_t)digest[8 + i] << (8 * i);
                digest_hex(h0, h1, ids + 24 * j);
                continue;
            }
            uint8_t *b = pad[filled];
            memcpy(b, detector, detector_len);
            memcpy(b + detector_len, rule_id[r], (size_t)rule_len[r]);
            memcpy(b + head, event_p[row], (size_t)event_n[row]);
            memset(b + n, 0, 128 - n);
            counter[filled] = (uint64_t)n;
            slot[filled++] = j;
            if (filled == lanes) {
                ids_flush(wide, lanes, filled, pad, counter, slot, ids);
                filled = 0;
            }
        }
    }
    if (filled) ids_flush(wide, lanes, filled, pad, counter, slot, ids);
}

static PyObject *lines(PyObject *module, PyObject *args) {
    (void)module;
    PyObject *write, *rule_lists[R_COUNT], *rule_rows_obj, *rule_fields_obj, *time_obj, *record_obj, *text_objs[C_COUNT];
    PyObject *fields_obj, *keys_obj;
    const char *detector;
    Py_ssize_t detector_len;
    if (!PyArg_ParseTuple(args, "Os#OOOOOOOOOOOOOOOOOOOOO:lines", &write, &detector, &detector_len,
                          &rule_lists[R_ID], &rule_lists[R_HEAD], &rule_lists[R_TAIL], &rule_lists[R_END],
                          &rule_rows_obj, &rule_fields_obj, &time_obj, &record_obj, &text_objs[C_HOST],
                          &text_objs[C_USER], &text_objs[C_EVENT], &text_objs[C_SOURCE], &text_objs[C_PATH],
                          &text_objs[C_SRC_IP], &text_objs[C_DST_IP], &text_objs[C_APP], &text_objs[C_PRINCIPAL],
                          &text_objs[C_FAMILY], &text_objs[C_REMOTE], &fields_obj, &keys_obj))
        return NULL;
    if (!PyCallable_Check(write)) {
        PyErr_SetString(PyExc_TypeError, "write must be callable (a stream's write)");
        return NULL;
    }
    Held held;
    memset(&held, 0, sizeof(held));
    Buf out = {NULL, 0, 0}, rows = {NULL, 0, 0}; /* rows: the hit events' shared JSON */
    Py_ssize_t total = 0, nfields = 0;
    PyObject *result = NULL;
    const char **rule_p[R_COUNT] = {NULL}, **key_p = NULL;
    Py_ssize_t *rule_n[R_COUNT] = {NULL}, *key_n = NULL, *row_start = NULL, *field_start = NULL;
    uint32_t *row_list = NULL, *field_list = NULL;
    char *ids = NULL; /* 24 hex digits a signal */
    Col cols[C_COUNT];
    memset(cols, 0, sizeof(cols));
    Col *fields = NULL;
    Py_ssize_t *row_at = NULL, *tail_at = NULL, *end_at = NULL, *event_n = NULL;
    const uint8_t **event_p = NULL;
    uint8_t *hit = NULL;

    Py_ssize_t nrules = PyList_Check(rule_lists[R_ID]) ? PyList_GET_SIZE(rule_lists[R_ID]) : -1;
    static const char *rule_what[R_COUNT] = {"rule ids", "rule heads", "rule tails", "rule ends"};
    for (int i = 0; i < R_COUNT; i++)
        if (utf8_list(rule_lists[i], nrules, &rule_p[i], &rule_n[i], rule_what[i]) < 0) goto done;
    if (utf8_list(keys_obj, -1, &key_p, &key_n, "keys") < 0) goto done;
    nfields = PyList_GET_SIZE(keys_obj);
    if (!PyList_Check(fields_obj) || PyList_GET_SIZE(fields_obj) != nfields) {
        PyErr_SetString(PyExc_TypeError, "fields: a list of one column per key expected");
        goto done;
    }
    Ints times, records;
    if (import_ints(&held, time_obj, &times, "times") < 0 || import_ints(&held, record_obj, &records, "records") < 0)
        goto done;
    Py_ssize_t height = times.length, n;
    if (records.length != height) goto bad_length;
    for (int i = 0; i < C_COUNT; i++) {
        if (import_column(&held, text_objs[i], &cols[i], &n, i) < 0) goto done;
        if (n != height) goto bad_length;
    }
    fields = PyMem_Calloc(nfields ? (size_t)nfields : 1, sizeof(Col));
    if (!fields) {
        PyErr_NoMemory();
        goto done;
    }
    for (Py_ssize_t f = 0; f < nfields; f++) {
        if (import_column(&held, PyList_GET_ITEM(fields_obj, f), &fields[f], &n, C_COUNT + f) < 0) goto done;
        if (n != height) goto bad_length;
    }
    if (int_lists(rule_rows_obj, nrules, height, &row_start, &row_list, "rule rows") < 0 ||
        int_lists(rule_fields_obj, nrules, nfields, &field_start, &field_list, "rule fields") < 0)
        goto done;

    /* what every signal of a hit event shares, written once per event, in row order: the members
     * from "time" to "origins", then the entities' array members; and the event id's text */
    hit = PyMem_Calloc(height ? (size_t)height : 1, 1);
    row_at = PyMem_Calloc((size_t)height + 1, sizeof(Py_ssize_t));
    tail_at = PyMem_Calloc((size_t)height + 1, sizeof(Py_ssize_t));
    end_at = PyMem_Calloc((size_t)height + 1, sizeof(Py_ssize_t));
    event_p = PyMem_Calloc((size_t)height + 1, sizeof(uint8_t *));
    event_n = PyMem_Calloc((size_t)height + 1, sizeof(Py_ssize_t));
    if (!hit || !row_at || !tail_at || !end_at || !event_p || !event_n) {
        PyErr_NoMemory();
        goto done;
    }
    for (Py_ssize_t i = 0; i < row_start[nrules]; i++) hit[row_list[i]] = 1;
    for (Py_ssize_t row = 0; row < height; row++) {
        if (!hit[row]) continue;
        int64_t v;
        row_at[row] = rows.n;
        if (cell(&cols[C_EVENT], row, &event_p[row], &event_n[row]) <= 0) {
            PyErr_Format(PyExc_ValueError, "event %zd: no event id", row);
            goto done;
        }
        if (PUT_LIT(&rows, ",\"time\":") < 0 ||
            (int_at(&times, row, &v) ? put_time(&rows, v) : PUT_LIT(&rows, "null")) < 0 ||
            PUT_LIT(&rows, ",\"host\":") < 0 || put_cell(&rows, &cols[C_HOST], row, "hosts") < 0 ||
            PUT_LIT(&rows, ",\"user\":") < 0 || put_cell(&rows, &cols[C_USER], row, "users") < 0 ||
            PUT_LIT(&rows, ",\"event_ids\":[") < 0 || put_json_string(&rows, event_p[row], event_n[row]) < 0 ||
            PUT_LIT(&rows, "],\"origins\":[{\"source\":") < 0 ||
            put_cell(&rows, &cols[C_SOURCE], row, "sources") < 0 || PUT_LIT(&rows, ",\"path\":") < 0 ||
            put_cell(&rows, &cols[C_PATH], row, "paths") < 0 || PUT_LIT(&rows, ",\"record\":") < 0 ||
            (int_at(&records, row, &v) ? put_int(&rows, v) : PUT_LIT(&rows, "null")) < 0 || PUT_LIT(&rows, "}]") < 0)
            goto done;
        tail_at[row] = rows.n;
        /* the entities, in the objects' order: source and destination IP, OAuth app, the remote
         * computers the command line names (ready JSON members), a CloudTrail principal */
        int comma = 0;
        const uint8_t *p;
        Py_ssize_t len;
        if (put_entity(&rows, &cols[C_SRC_IP], row, "ip:", 3, &comma) < 0 ||
            put_entity(&rows, &cols[C_DST_IP], row, "ip:", 3, &comma) < 0 ||
            put_entity(&rows, &cols[C_APP], row, "oauth_app:", 10, &comma) < 0)
            goto done;
        int got = cell(&cols[C_REMOTE], row, &p, &len);
        if (got < 0) goto bad_cell;
        if (got && len) {
            if ((comma && PUT_LIT(&rows, ",") < 0) || put(&rows, p, len) < 0) goto done;
            comma = 1;
        }
        got = cell(&cols[C_FAMILY], row, &p, &len);
        if (got < 0) goto bad_cell;
        if (got && len == 10 && memcmp(p, "cloudtrail", 10) == 0 &&
            put_entity(&rows, &cols[C_PRINCIPAL], row, "cloud_principal:", 16, &comma) < 0)
            goto done;
        end_at[row] = rows.n;
    }

    ids = PyMem_Malloc(row_start[nrules] ? (size_t)row_start[nrules] * 24 : 1);
    if (!ids) {
        PyErr_NoMemory();
        goto done;
    }
    signal_ids(detector, (size_t)detector_len, nrules, rule_p[R_ID], rule_n[R_ID], row_start, row_list,
               event_p, event_n, ids);
    for (Py_ssize_t r = 0; r < nrules; r++) {
        for (Py_ssize_t j = row_start[r]; j < row_start[r + 1]; j++) {
            uint32_t row = row_list[j];
            if (PUT_LIT(&out, "{\"signal_id\":\"") < 0 || put(&out, ids + 24 * j, 24) < 0 || PUT_LIT(&out, "\",") < 0 ||
                put(&out, rule_p[R_HEAD][r], rule_n[R_HEAD][r]) < 0 ||
                put(&out, rows.p + row_at[row], tail_at[row] - row_at[row]) < 0 ||
                PUT_LIT(&out, ",\"matched\":{") < 0)
                goto done;
            int comma = 0;
            for (Py_ssize_t k = field_start[r]; k < field_start[r + 1]; k++) {
                uint32_t f = field_list[k];
                const uint8_t *p;
                Py_ssize_t len;
                int has = cell(&fields[f], row, &p, &len);
                if (has < 0) {
                    PyErr_Format(PyExc_ValueError, "field %u: the buffers do not hold row %u", f, row);
                    goto done;
                }
                if (!has) continue;
                if ((comma && PUT_LIT(&out, ",") < 0) || put(&out, key_p[f], key_n[f]) < 0 ||
                    put_json_string(&out, p, len) < 0)
                    goto done;
                comma = 1;
            }
            if (PUT_LIT(&out, "},") < 0 || put(&out, rule_p[R_TAIL][r], rule_n[R_TAIL][r]) < 0 ||
                PUT_LIT(&out, ",\"entities\":[") < 0 ||
                put(&out, rows.p + tail_at[row], end_at[row] - tail_at[row]) < 0 ||
                PUT_LIT(&out, "]") < 0 || put(&out, rule_p[R_END][r], rule_n[R_END][r]) < 0 || PUT_LIT(&out, "\n") < 0)
                goto done;
            if (out.n >= CHUNK && flush(&out, write, &total) < 0) goto done;
        }
    }
    if (flush(&out, write, &total) < 0) goto done;
    result = PyLong_FromSsize_t(total);
    goto done;
bad_cell:
    PyErr_SetString(PyExc_ValueError, "an event column's buffers do not hold one of its rows");
    goto done;
bad_length:
    PyErr_SetString(PyExc_ValueError, "the event and field columns differ in length");
done:
    for (int i = 0; i < C_COUNT; i++) {
        PyMem_Free(cols[i].data);
        PyMem_Free(cols[i].data_len);
    }
    if (fields)
        for (Py_ssize_t f = 0; f < nfields; f++) {
            PyMem_Free(fields[f].data);
            PyMem_Free(fields[f].data_len);
        }
    PyMem_Free(fields);
    for (int i = 0; i < R_COUNT; i++) {
        PyMem_Free(rule_p[i]);
        PyMem_Free(rule_n[i]);
    }
    PyMem_Free(key_p);
    PyMem_Free(key_n);
    PyMem_Free(row_start);
    PyMem_Free(row_list);
    PyMem_Free(field_start);
    PyMem_Free(field_list);
    PyMem_Free(hit);
    PyMem_Free(row_at);
    PyMem_Free(tail_at);
    PyMem_Free(end_at);
    PyMem_Free(event_p);
    PyMem_Free(event_n);
    PyMem_Free(ids);
    PyMem_Free(rows.p);
    PyMem_Free(out.p);
    release(&held);
    return result;
}

static PyObject *digest(PyObject *module, PyObject *args) {
    (void)module;
    const char *data;
    Py_ssize_t len;
    int outlen = 12;
    if (!PyArg_ParseTuple(args, "y#|i:blake2b", &data, &len, &outlen)) return NULL;
    if (outlen < 1 || outlen > 64) {
        PyErr_SetString(PyExc_ValueError, "digest size must be 1-64");
        return NULL;
    }
    uint8_t out[64];
    const uint8_t *parts[1] = {(const uint8_t *)data};
    size_t lens[1] = {(size_t)len};
    blake2b_parts(parts, lens, 1, out, outlen);
    return PyBytes_FromStringAndSize((const char *)out, outlen);
}

static PyMethodDef methods[] = {
    {"lines", lines, METH_VARARGS,
     "lines(write, detector, rule_ids, rule_heads, rule_tails, rule_ends, rule_rows, rule_fields, times, records, "
     "hosts, users, event_ids, sources, paths, src_ips, dst_ips, apps, principals, families, remotes, fields, keys) "
     "-> int: "
     "the lines go to write(bytes) a megabyte or so at a time; returns how many bytes went"},
    {"blake2b", digest, METH_VARARGS, "blake2b(data, digest_size=12) -> bytes: unkeyed BLAKE2b (for the tests)"},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, .m_name = "_lines", .m_doc = "Sigma signals as JSON lines.", .m_size = -1, .m_methods = methods,
};

PyMODINIT_FUNC PyInit__lines(void) {
    init_escapes();
    return PyModule_Create(&module);
}
