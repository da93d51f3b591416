/*
 * autosoc.normalize._flatten -- C versions of flatten_windows, flatten_dotted and scalar.
 *
 * The reference is the pure-Python code in autosoc/normalize/flatten.py: this module must give
 * exactly the same output (values, key insertion order, setdefault-vs-overwrite) and raise the
 * same exception types.  flatten.py calls _configure() at import time with its tables
 * (WINDOWS_DATA_PREFIXES, WINDOWS_SYSTEM_ALIASES, the very objects, so there is one source of
 * truth) and its pure-Python functions, which are used for any call off the fast path: a record
 * that is not exactly a dict, extra or keyword arguments.
 *
 * Non-str keys cannot come out of JSON; where one shows up anyway the code falls back to the
 * generic object protocol (slicing, ==, `in`, method calls) so it behaves like Python, or at
 * worst raises, but never crashes.  Borrowed references taken from a dict are held (INCREF)
 * across any call that could run Python code.
 *
 * Speed comes from skipping the interpreter, presizing the output dicts, caching the names that
 * are built again for every event (Provider_Name, winlog.event_data.Image, the part after a
 * WINDOWS_DATA_PREFIXES entry: the cached strings are equal to the ones Python builds, only
 * shared), and, for the nested Windows shape, asking for a record's memory ahead of its use (see
 * "memory hints": a batch's records are cold in the CPU caches by the time they are flattened).
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <string.h>

/* ------------------------------------------------------------------------ state */

static PyObject *orjson_dumps;      /* orjson.dumps */
static PyObject *data_prefixes;     /* WINDOWS_DATA_PREFIXES: tuple of str */
static PyObject *system_aliases;    /* WINDOWS_SYSTEM_ALIASES: dict */
static PyObject *py_flatten_windows; /* the pure-Python functions, for calls off the fast path */
static PyObject *py_flatten_dotted;
static PyObject *py_scalar;

static PyObject *s_empty, *s_dot, *s_underscore, *s_newline, *s_space, *s_hash, *s_true, *s_false;
static PyObject *s_Event, *s_System, *s_EventData, *s_UserData, *s_attributes, *s_text, *s_plain_text,
    *s_Value, *s_at_Name, *s_Name, *s_Data, *s_winlog, *s_EventID, *s_event_data, *s_Channel,
    *s_Provider_Name, *s_startswith, *s_replace;
static PyObject *i_one; /* the int 1, for key[:1] on a non-str key */

#define RECURSION_WHERE " while flattening a record"

/* Joined names (Provider_Name, winlog.event_data.Image) repeat from one event to the next: they are
 * cached, {a: {b: joined}}, so the string is built and hashed once.  Bounded: cleared when full. */
#define NAME_CACHE_MAX 16384
/* names longer than this are built every time, never cached: the input decides key lengths, and a
 * cache of 16,384 long names would pin memory across batches */
#define NAME_CACHE_KEY_MAX 256
static PyObject *concat_cache, *underscore_cache;
static Py_ssize_t concat_cache_size, underscore_cache_size;
/* flat-shipper keys -> the name after the first matching WINDOWS_DATA_PREFIXES entry, or None */
static PyObject *tail_cache;

/* an output dict, sized for about `hint` keys so it does not grow step by step */
static inline PyObject *
new_dict(Py_ssize_t hint)
{
#if PY_VERSION_HEX < 0x030D0000
    return _PyDict_NewPresized(hint);
#else
    (void)hint;
    return PyDict_New();
#endif
}

/* ------------------------------------------------------------------------ memory hints */

/* Records come in batches of thousands (20,000 by default), so by the time one is flattened it is
 * cold in the CPU caches: a Windows event took ~2 us when hot and ~3.5 us cold, the difference
 * being cache misses on its dicts and values, taken one after the other.  The Windows loops ask
 * for the memory of the next level ahead (a hint, never a read: a prefetch of a stale address does
 * no harm) so that the misses overlap.  (flatten_dotted's flat rows gained nothing from it.) */
#if defined(__GNUC__) || defined(__clang__)
#define PREFETCH(p) __builtin_prefetch((const void *)(p), 1, 3) /* 1: we write (INCREF) */
#else
#define PREFETCH(p) ((void)(p))
#endif

/* a dict's hash table (header, indices, the first entries): ma_keys is a field of the public
 * PyDictObject; its layout is CPython's business, so only a rough span is asked for */
static inline void
prefetch_table(PyObject *d)
{
    const char *keys = (const char *)((PyDictObject *)d)->ma_keys;
    Py_ssize_t span = 40 + PyDict_GET_SIZE(d) * 20;
    if (span > 1024)
        span = 1024; /* the hardware streams the rest: PyDict_Next walks the entries in order */
    for (Py_ssize_t at = 0; at < span; at += 64)
        PREFETCH(keys + at);
}

/* Items of a dict taken a slice at a time: all values are asked for, then held, then used.  Only the
 * top levels use a slice (it is 0.5 kB of C stack; deeper levels recurse, one frame per level). */
#define SLICE 32
typedef struct {
    PyObject *k, *v;
} item;
typedef struct {
    Py_ssize_t n;   /* items in it[], held */
    Py_ssize_t pos; /* PyDict_Next's position after them */
    item it[SLICE];
} slice;

/* the next items of d into s (s->n of them, 0 at the end), not yet held: borrowed references, good
 * until Python code runs or d changes; their values' memory is asked for */
static inline Py_ssize_t
gather(PyObject *d, slice *s)
{
    PyObject *k, *v;
    Py_ssize_t n = 0;
    while (n < SLICE && PyDict_Next(d, &s->pos, &k, &v)) {
        PREFETCH(v);
        s->it[n].k = k;
        s->it[n].v = v;
        n++;
    }
    return s->n = n;
}

/* gather()'s items held, and for the dicts among them their tables asked for */
static inline void
hold(slice *s)
{
    for (Py_ssize_t i = 0; i < s->n; i++) {
        Py_INCREF(s->it[i].k);
        Py_INCREF(s->it[i].v);
        if (PyDict_CheckExact(s->it[i].v))
            prefetch_table(s->it[i].v);
    }
}

/* the next items of d into s, held; 0 at the end */
static inline Py_ssize_t
take(PyObject *d, slice *s)
{
    gather(d, s);
    hold(s);
    return s->n;
}

static inline void
release(slice *s)
{
    for (Py_ssize_t i = 0; i < s->n; i++) {
        Py_DECREF(s->it[i].k);
        Py_DECREF(s->it[i].v);
    }
    s->n = 0;
}

/* ------------------------------------------------------------------------ small helpers */

/* value of d[key] as a new reference; NULL with no error set if missing, NULL with error on failure */
static inline PyObject *
dict_get(PyObject *d, PyObject *key)
{
    PyObject *v = PyDict_GetItemWithError(d, key);
    Py_XINCREF(v);
    return v;
}

/* d.get(key) as a new reference: None if missing, NULL on error */
static inline PyObject *
dict_get_none(PyObject *d, PyObject *key)
{
    PyObject *v = PyDict_GetItemWithError(d, key);
    if (v == NULL) {
        if (PyErr_Occurred())
            return NULL;
        v = Py_None;
    }
    return Py_NewRef(v);
}

/* truth of a Python comparison result object (steals res) */
static int
truth_of(PyObject *res)
{
    int t;
    if (res == NULL)
        return -1;
    t = PyObject_IsTrue(res);
    Py_DECREF(res);
    return t;
}

/* Python's `key[:1] <op> "#"` */
static int
first_char_cmp_hash(PyObject *key, int op)
{
    if (PyUnicode_CheckExact(key)) {
        int is_hash = PyUnicode_GET_LENGTH(key) > 0 && PyUnicode_READ_CHAR(key, 0) == '#';
        return op == Py_EQ ? is_hash : !is_hash;
    }
    PyObject *slice = PySlice_New(NULL, i_one, NULL);
    if (slice == NULL)
        return -1;
    PyObject *head = PyObject_GetItem(key, slice);
    Py_DECREF(slice);
    if (head == NULL)
        return -1;
    PyObject *res = PyObject_RichCompare(head, s_hash, op);
    Py_DECREF(head);
    return truth_of(res);
}

/* Python's `key <op> s` for op in (==, !=), s an exact str */
static int
key_cmp(PyObject *key, PyObject *s, int op)
{
    if (PyUnicode_CheckExact(key)) {
        int eq = key == s || PyUnicode_Compare(key, s) == 0;
        return op == Py_EQ ? eq : !eq;
    }
    return truth_of(PyObject_RichCompare(key, s, op));
}

/* `" " in key` for a 1-byte str's characters: eight at a time (EventData names are short, a call
 * to memchr costs more than the scan) */
static inline int
has_space_1byte(const Py_UCS1 *c, Py_ssize_t len)
{
    Py_ssize_t i = 0;
    for (; i + 8 <= len; i += 8) {
        uint64_t w;
        memcpy(&w, c + i, 8);
        w ^= 0x2020202020202020u; /* a space becomes a zero byte */
        if ((w - 0x0101010101010101u) & ~w & 0x8080808080808080u)
            return 1;
    }
    for (; i < len; i++) {
        if (c[i] == ' ')
            return 1;
    }
    return 0;
}

/* Python's `" " in key` */
static int
has_space(PyObject *key)
{
    if (PyUnicode_CheckExact(key)) {
        if (PyUnicode_KIND(key) == PyUnicode_1BYTE_KIND)
            return has_space_1byte(PyUnicode_1BYTE_DATA(key), PyUnicode_GET_LENGTH(key));
        Py_ssize_t at = PyUnicode_FindChar(key, ' ', 0, PyUnicode_GET_LENGTH(key), 1);
        return at == -2 ? -1 : at >= 0;
    }
    return PySequence_Contains(key, s_space);
}

/* Python's `key.replace(" ", "")` */
static PyObject *
without_spaces(PyObject *key)
{
    if (PyUnicode_CheckExact(key))
        return PyUnicode_Replace(key, s_space, s_empty, -1);
    return PyObject_CallMethodObjArgs(key, s_replace, s_space, s_empty, NULL);
}


/* a + "_" + b for two exact str */
static PyObject *
build_underscore(PyObject *a, PyObject *b)
{
    Py_ssize_t la = PyUnicode_GET_LENGTH(a), lb = PyUnicode_GET_LENGTH(b);
    Py_UCS4 maxchar = PyUnicode_MAX_CHAR_VALUE(a);
    if (PyUnicode_MAX_CHAR_VALUE(b) > maxchar)
        maxchar = PyUnicode_MAX_CHAR_VALUE(b);
    if (la > PY_SSIZE_T_MAX - lb - 1)
        return PyErr_NoMemory();
    PyObject *res = PyUnicode_New(la + lb + 1, maxchar);
    if (res == NULL)
        return NULL;
    if (PyUnicode_CopyCharacters(res, 0, a, 0, la) < 0 || PyUnicode_WriteChar(res, la, '_') < 0
        || PyUnicode_CopyCharacters(res, la + 1, b, 0, lb) < 0) {
        Py_CLEAR(res);
    }
    return res;
}

/* In front of the name cache, a small table keyed by the two objects' addresses: orjson hands out
 * the same key objects again and again, so a pointer comparison finds most names, without hashing
 * and two dict lookups.  It holds references to a, b and the name, so the addresses stay theirs;
 * a clash just replaces the slot, and a key that is another object of the same text misses here
 * and is found (by value) in the name cache. */
#define JOIN_SLOTS 512
typedef struct {
    PyObject *a, *b, *joined;
} join_slot;
static join_slot join_slots[2][JOIN_SLOTS]; /* [underscore] */

static inline join_slot *
join_slot_of(PyObject *a, PyObject *b, int underscore)
{
    uint64_t h = (uint64_t)(uintptr_t)a * 0x9E3779B97F4A7C15u + (uint64_t)(uintptr_t)b * 0xC2B2AE3D27D4EB4Fu;
    return &join_slots[underscore][(h >> 40) & (JOIN_SLOTS - 1)];
}

static PyObject *cached_join_by_value(PyObject *a, PyObject *b, int underscore);

/* a + b (or a + "_" + b) for two exact str, through the name caches; a new reference */
static inline PyObject *
cached_join(PyObject *a, PyObject *b, int underscore)
{
    join_slot *slot = join_slot_of(a, b, underscore);
    if (slot->a == a && slot->b == b)
        return Py_NewRef(slot->joined);
    PyObject *res = cached_join_by_value(a, b, underscore);
    if (res != NULL && PyUnicode_GET_LENGTH(a) + PyUnicode_GET_LENGTH(b) <= NAME_CACHE_KEY_MAX) {
        join_slot old = *slot;
        slot->a = Py_NewRef(a);
        slot->b = Py_NewRef(b);
        slot->joined = Py_NewRef(res);
        Py_XDECREF(old.a); /* str: freeing them runs no Python code */
        Py_XDECREF(old.b);
        Py_XDECREF(old.joined);
    }
    return res;
}

/* a + b (or a + "_" + b) for two exact str, through the name cache; a new reference */
static PyObject *
cached_join_by_value(PyObject *a, PyObject *b, int underscore)
{
    PyObject **cache = underscore ? &underscore_cache : &concat_cache;
    Py_ssize_t *size = underscore ? &underscore_cache_size : &concat_cache_size;
    PyObject *inner = NULL, *res;
    if (PyUnicode_GET_LENGTH(a) + PyUnicode_GET_LENGTH(b) > NAME_CACHE_KEY_MAX)
        return underscore ? build_underscore(a, b) : PyUnicode_Concat(a, b);
    if (*cache == NULL && (*cache = PyDict_New()) == NULL)
        return NULL;
    inner = PyDict_GetItemWithError(*cache, a);
    if (inner != NULL) {
        res = PyDict_GetItemWithError(inner, b);
        if (res != NULL)
            return Py_NewRef(res);
    }
    if (PyErr_Occurred())
        return NULL;
    res = underscore ? build_underscore(a, b) : PyUnicode_Concat(a, b);
    if (res == NULL)
        return NULL;
    if (*size >= NAME_CACHE_MAX) {
        PyDict_Clear(*cache);
        *size = 0;
        inner = NULL;
    }
    if (inner == NULL) {
        inner = PyDict_New();
        if (inner == NULL || PyDict_SetItem(*cache, a, inner) < 0) {
            Py_XDECREF(inner);
            Py_DECREF(res);
            return NULL;
        }
        Py_DECREF(inner); /* the cache holds it */
    }
    if (PyDict_SetItem(inner, b, res) < 0) {
        Py_DECREF(res);
        return NULL;
    }
    (*size)++;
    return res;
}

/* Python's `a + b` */
static PyObject *
add(PyObject *a, PyObject *b)
{
    if (PyUnicode_CheckExact(a) && PyUnicode_CheckExact(b))
        return cached_join(a, b, 0);
    return PyNumber_Add(a, b);
}

/* Python's f"{a}_{b}" */
static PyObject *
join_underscore(PyObject *a, PyObject *b)
{
    if (PyUnicode_CheckExact(a) && PyUnicode_CheckExact(b))
        return cached_join(a, b, 1);
    PyObject *fa = NULL, *fb = NULL, *parts = NULL, *res = NULL;
    fa = PyObject_Format(a, s_empty);
    if (fa == NULL)
        goto done;
    fb = PyObject_Format(b, s_empty);
    if (fb == NULL)
        goto done;
    parts = PyTuple_Pack(3, fa, s_underscore, fb);
    if (parts != NULL)
        res = PyUnicode_Join(s_empty, parts);
done:
    Py_XDECREF(parts);
    Py_XDECREF(fa);
    Py_XDECREF(fb);
    return res;
}

/* Python's `key.startswith(prefix)`, prefix an exact str */
static int
starts_with(PyObject *key, PyObject *prefix)
{
    if (PyUnicode_CheckExact(key)) {
        Py_ssize_t r = PyUnicode_Tailmatch(key, prefix, 0, PY_SSIZE_T_MAX, -1);
        return r < 0 ? -1 : r != 0;
    }
    return truth_of(PyObject_CallMethodObjArgs(key, s_startswith, prefix, NULL));
}

/* Python's `key[n:]` */
static PyObject *
tail_from(PyObject *key, Py_ssize_t n)
{
    if (PyUnicode_CheckExact(key)) {
        Py_ssize_t len = PyUnicode_GET_LENGTH(key);
        return PyUnicode_Substring(key, n < len ? n : len, len);
    }
    PyObject *start = PyLong_FromSsize_t(n);
    if (start == NULL)
        return NULL;
    PyObject *slice = PySlice_New(start, NULL, NULL);
    Py_DECREF(start);
    if (slice == NULL)
        return NULL;
    PyObject *res = PyObject_GetItem(key, slice);
    Py_DECREF(slice);
    return res;
}

/* for `for prefix in WINDOWS_DATA_PREFIXES: if key.startswith(prefix): ...key[len(prefix):]`:
 * 1 with *tail set (a new reference) when a prefix matches, 0 when none does, -1 on error.
 * Results for str keys are cached (None standing for no match). */
static int
data_prefix_tail(PyObject *key, PyObject **tail)
{
    int exact = PyUnicode_CheckExact(key) && PyUnicode_GET_LENGTH(key) <= NAME_CACHE_KEY_MAX; /* cached */
    *tail = NULL;
    if (exact) {
        if (tail_cache == NULL && (tail_cache = PyDict_New()) == NULL)
            return -1;
        PyObject *hit = PyDict_GetItemWithError(tail_cache, key);
        if (hit != NULL) {
            if (hit == Py_None)
                return 0;
            *tail = Py_NewRef(hit);
            return 1;
        }
        if (PyErr_Occurred())
            return -1;
    }
    for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE(data_prefixes); i++) {
        PyObject *prefix = PyTuple_GET_ITEM(data_prefixes, i);
        int r = starts_with(key, prefix);
        if (r < 0)
            return -1;
        if (r) {
            if ((*tail = tail_from(key, PyUnicode_GET_LENGTH(prefix))) == NULL)
                return -1;
            break;
        }
    }
    if (exact) {
        if (*tail != NULL && PyObject_Hash(*tail) == -1) /* stored hashed: out.setdefault(tail) needs it */
            goto fail;
        if (PyDict_GET_SIZE(tail_cache) >= NAME_CACHE_MAX)
            PyDict_Clear(tail_cache);
        if (PyDict_SetItem(tail_cache, key, *tail != NULL ? *tail : Py_None) < 0)
            goto fail;
    }
    return *tail != NULL;
fail:
    Py_CLEAR(*tail);
    return -1;
}

/* out[key] = value, stealing value (which may be NULL: an error already set) */
static inline int
set_steal(PyObject *out, PyObject *key, PyObject *value)
{
    if (value == NULL)
        return -1;
    int r = PyDict_SetItem(out, key, value);
    Py_DECREF(value);
    return r;
}

/* out.setdefault(key, value), stealing key (which may be NULL: an error already set) */
static inline int
setdefault_steal_key(PyObject *out, PyObject *key, PyObject *value)
{
    if (key == NULL)
        return -1;
    PyObject *r = PyDict_SetDefault(out, key, value);
    Py_DECREF(key);
    return r == NULL ? -1 : 0;
}

static int
ensure_configured(void)
{
    if (data_prefixes != NULL)
        return 0;
    /* flatten.py configures this module when it is imported */
    PyObject *mod = PyImport_ImportModule("autosoc.normalize.flatten");
    if (mod == NULL)
        return -1;
    Py_DECREF(mod);
    if (data_prefixes == NULL) {
        PyErr_SetString(PyExc_RuntimeError,
                        "autosoc.normalize._flatten is not configured: autosoc.normalize.flatten calls _configure()");
        return -1;
    }
    return 0;
}

/* ------------------------------------------------------------------------ scalar */

static PyObject *
scalar(PyObject *value)
{
    PyTypeObject *kind = Py_TYPE(value);
    if (kind == &PyUnicode_Type || value == Py_None)
        return Py_NewRef(value);
    if (kind == &PyBool_Type)
        return Py_NewRef(value == Py_True ? s_true : s_false);
    if (kind == &PyLong_Type || kind == &PyFloat_Type)
        return PyObject_Str(value);
    if (kind == &PyList_Type) {
        Py_ssize_t n = PyList_GET_SIZE(value), i;
        for (i = 0; i < n; i++) {
            if (!PyUnicode_CheckExact(PyList_GET_ITEM(value, i)))
                break;
        }
        if (i == n)
            return PyUnicode_Join(s_newline, value);
    }
    PyObject *raw = PyObject_CallOneArg(orjson_dumps, value);
    if (raw == NULL)
        return NULL;
    PyObject *res;
    if (PyBytes_CheckExact(raw))
        res = PyUnicode_DecodeUTF8(PyBytes_AS_STRING(raw), PyBytes_GET_SIZE(raw), NULL);
    else
        res = PyObject_CallMethod(raw, "decode", NULL);
    Py_DECREF(raw);
    return res;
}

/* ------------------------------------------------------------------------ flatten_dotted */

/* record: an exact dict; prefix: any object (Python's `prefix + key if prefix else key`) */
static int
dotted(PyObject *record, PyObject *prefix, PyObject *out)
{
    int use_prefix;
    if (PyUnicode_CheckExact(prefix))
        use_prefix = PyUnicode_GET_LENGTH(prefix) > 0;
    else if ((use_prefix = PyObject_IsTrue(prefix)) < 0)
        return -1;
    if (Py_EnterRecursiveCall(RECURSION_WHERE))
        return -1;
    int rc = -1;
    Py_ssize_t pos = 0;
    PyObject *k, *v;
    while (PyDict_Next(record, &pos, &k, &v)) {
        int r;
        Py_INCREF(k);
        Py_INCREF(v);
        PyObject *name = use_prefix ? add(prefix, k) : Py_NewRef(k);
        if (name == NULL) {
            r = -1;
        }
        else if (PyDict_CheckExact(v)) {
            if (PyDict_GET_SIZE(v)) {
                PyObject *sub = add(name, s_dot);
                r = sub == NULL ? -1 : dotted(v, sub, out);
                Py_XDECREF(sub);
            }
            else {
                r = PyDict_SetItem(out, name, Py_None);
            }
        }
        else if (PyList_CheckExact(v)) {
            r = set_steal(out, name, scalar(v));
        }
        else {
            r = PyDict_SetItem(out, name, v);
        }
        Py_XDECREF(name);
        Py_DECREF(k);
        Py_DECREF(v);
        if (r < 0)
            goto done;
    }
    rc = 0;
done:
    Py_LeaveRecursiveCall();
    return rc;
}

/* ------------------------------------------------------------------------ Windows helpers */

/* _attr_children(name, value, out); value an exact dict */
static int
attr_children(PyObject *name, PyObject *value, PyObject *out)
{
    if (Py_EnterRecursiveCall(RECURSION_WHERE))
        return -1;
    int rc = -1;
    Py_ssize_t pos;
    PyObject *k, *v;

    PyObject *attrs = dict_get(value, s_attributes);
    if (attrs == NULL && PyErr_Occurred())
        goto done;
    if (attrs != NULL && PyDict_CheckExact(attrs)) {
        pos = 0;
        while (PyDict_Next(attrs, &pos, &k, &v)) {
            Py_INCREF(k);
            Py_INCREF(v);
            PyObject *key = join_underscore(name, k);
            int r = key == NULL ? -1 : PyDict_SetItem(out, key, v);
            Py_XDECREF(key);
            Py_DECREF(k);
            Py_DECREF(v);
            if (r < 0) {
                Py_DECREF(attrs);
                goto done;
            }
        }
    }
    Py_XDECREF(attrs);

    PyObject *text = dict_get(value, s_text);
    if (text == NULL && PyErr_Occurred())
        goto done;
    if (text != NULL) {
        int r = set_steal(out, name, scalar(text));
        Py_DECREF(text);
        if (r < 0)
            goto done;
    }

    pos = 0;
    while (PyDict_Next(value, &pos, &k, &v)) {
        Py_INCREF(k);
        Py_INCREF(v);
        int r = first_char_cmp_hash(k, Py_NE);
        if (r > 0) {
            PyObject *key = join_underscore(name, k);
            if (key == NULL)
                r = -1;
            else if (PyDict_CheckExact(v))
                r = attr_children(key, v, out);
            else
                r = PyDict_SetItem(out, key, v);
            Py_XDECREF(key);
        }
        Py_DECREF(k);
        Py_DECREF(v);
        if (r < 0)
            goto done;
    }
    rc = 0;
done:
    Py_LeaveRecursiveCall();
    return rc;
}

/* _data_list(items, out); items an exact list */
static int
data_list(PyObject *items, PyObject *out)
{
    PyObject *unnamed = NULL;
    int rc = -1;
    for (Py_ssize_t i = 0; i < PyList_GET_SIZE(items); i++) {
        PyObject *item = Py_NewRef(PyList_GET_ITEM(items, i));
        PyObject *name = NULL, *attrs = NULL, *text = NULL, *entry = NULL;
        int r = -1;
        if (PyDict_CheckExact(item)) {
            /* name = item.get("@Name") or item.get("Name") */
            name = dict_get_none(item, s_at_Name);
            if (name == NULL)
                goto item_done;
            int t = PyObject_IsTrue(name);
            if (t < 0)
                goto item_done;
            if (!t) {
                Py_SETREF(name, dict_get_none(item, s_Name));
                if (name == NULL)
                    goto item_done;
            }
            attrs = dict_get_none(item, s_attributes);
            if (attrs == NULL)
                goto item_done;
            if (name == Py_None && PyDict_CheckExact(attrs)) {
                Py_SETREF(name, dict_get_none(attrs, s_Name));
                if (name == NULL)
                    goto item_done;
            }
            /* text = item.get("#text", item.get("text", item.get("Value"))) */
            text = dict_get(item, s_text);
            if (text == NULL) {
                if (PyErr_Occurred())
                    goto item_done;
                text = dict_get(item, s_plain_text);
                if (text == NULL) {
                    if (PyErr_Occurred())
                        goto item_done;
                    text = dict_get_none(item, s_Value);
                    if (text == NULL)
                        goto item_done;
                }
            }
            if ((t = PyObject_IsTrue(name)) < 0)
                goto item_done;
            if (t) {
                /* out[str(name)] = text if type(text) is not list else scalar(text) */
                PyObject *val = PyList_CheckExact(text) ? scalar(text) : Py_NewRef(text);
                if (val == NULL)
                    goto item_done;
                PyObject *key = PyObject_Str(name);
                if (key == NULL) {
                    Py_DECREF(val);
                    goto item_done;
                }
                r = set_steal(out, key, val);
                Py_DECREF(key);
                goto item_done;
            }
            if (text == Py_None) {
                r = 0;
                goto item_done;
            }
            entry = PyObject_Str(text);
        }
        else if (item != Py_None) {
            entry = PyObject_Str(item);
        }
        else {
            r = 0;
            goto item_done;
        }
        if (entry == NULL)
            goto item_done;
        if (unnamed == NULL && (unnamed = PyList_New(0)) == NULL)
            goto item_done;
        r = PyList_Append(unnamed, entry);
    item_done:
        Py_XDECREF(entry);
        Py_XDECREF(text);
        Py_XDECREF(attrs);
        Py_XDECREF(name);
        Py_DECREF(item);
        if (r < 0)
            goto done;
    }
    if (unnamed != NULL && PyList_GET_SIZE(unnamed) > 0) {
        if (set_steal(out, s_Data, PyUnicode_Join(s_newline, unnamed)) < 0)
            goto done;
    }
    rc = 0;
done:
    Py_XDECREF(unnamed);
    return rc;
}

static int event_data(PyObject *data, PyObject *out);

/* one `key: value` of an EventData/UserData dict (the body of _event_data's loop) */
static int
event_data_item(PyObject *key, PyObject *value, PyObject *out)
{
    int r;
    if (PyUnicode_CheckExact(value) || PyLong_CheckExact(value)) {
        if (PyUnicode_CheckExact(key) && PyUnicode_KIND(key) == PyUnicode_1BYTE_KIND) {
            /* the usual Name: value, with an ASCII/Latin-1 name: both tests on its bytes at once */
            const Py_UCS1 *c = PyUnicode_1BYTE_DATA(key);
            Py_ssize_t len = PyUnicode_GET_LENGTH(key);
            if (len == 0 || c[0] != '#') {
                if (PyDict_SetItem(out, key, value) < 0)
                    return -1;
                if (!has_space_1byte(c, len))
                    return 0;
                return setdefault_steal_key(out, without_spaces(key), value);
            }
        }
        else {
            if ((r = first_char_cmp_hash(key, Py_NE)) < 0)
                return -1;
            if (r) { /* the usual Name: value */
                if (PyDict_SetItem(out, key, value) < 0)
                    return -1;
                if ((r = has_space(key)) <= 0)
                    return r;
                return setdefault_steal_key(out, without_spaces(key), value);
            }
        }
    }
    if ((r = first_char_cmp_hash(key, Py_EQ)) < 0)
        return -1;
    if (r) {
        if ((r = key_cmp(key, s_text, Py_NE)) < 0)
            return -1;
        if (r)
            return 0;
    }
    if ((r = key_cmp(key, s_Data, Py_EQ)) < 0)
        return -1;
    if (r && PyList_CheckExact(value)) {
        r = data_list(value, out);
    }
    else if (PyDict_CheckExact(value)) {
        /* UserData-style nesting: <EventXML><Field>..</Field></EventXML>; keep leaf names bare */
        PyObject *text = dict_get(value, s_text);
        if (text == NULL && PyErr_Occurred())
            return -1;
        if (text != NULL && PyDict_GET_SIZE(value) <= 2)
            r = PyDict_SetItem(out, key, text);
        else
            r = event_data(value, out);
        Py_XDECREF(text);
    }
    else {
        if ((r = key_cmp(key, s_text, Py_EQ)) < 0)
            return -1;
        if (r)
            r = set_steal(out, s_Data, scalar(value));
        else if (PyList_CheckExact(value))
            r = set_steal(out, key, scalar(value));
        else
            r = PyDict_SetItem(out, key, value);
    }
    if (r < 0)
        return -1;
    if ((r = has_space(key)) <= 0)
        return r;
    /* Defender and others name data "Threat Name"; Sigma rules write ThreatName */
    PyObject *bare = without_spaces(key);
    if (bare == NULL)
        return -1;
    PyObject *current = dict_get_none(out, key);
    if (current == NULL) {
        Py_DECREF(bare);
        return -1;
    }
    r = setdefault_steal_key(out, bare, current);
    Py_DECREF(current);
    return r;
}

/* _event_data(data, out) */
static int
event_data(PyObject *data, PyObject *out)
{
    if (PyDict_CheckExact(data)) {
        if (Py_EnterRecursiveCall(RECURSION_WHERE))
            return -1;
        int rc = 0;
        Py_ssize_t pos = 0;
        PyObject *k, *v;
        while (PyDict_Next(data, &pos, &k, &v)) {
            Py_INCREF(k);
            Py_INCREF(v);
            rc = event_data_item(k, v, out);
            Py_DECREF(k);
            Py_DECREF(v);
            if (rc < 0)
                break;
        }
        Py_LeaveRecursiveCall();
        return rc;
    }
    if (PyList_CheckExact(data))
        return data_list(data, out);
    if (data != Py_None)
        return set_steal(out, s_Data, scalar(data));
    return 0;
}

/* event_data() for the EventData/UserData section itself: a dict's items a slice at a time (values
 * asked for ahead, see take); s holds the first slice of data, already taken, or is empty */
static int
event_data_top(PyObject *data, PyObject *out, slice *s)
{
    if (!PyDict_CheckExact(data)) {
        release(s);
        return event_data(data, out);
    }
    if (Py_EnterRecursiveCall(RECURSION_WHERE)) {
        release(s);
        return -1;
    }
    if (s->n == 0)
        s->pos = 0; /* nothing taken ahead: from the start */
    int rc = 0;
    while (rc == 0 && (s->n > 0 || take(data, s) > 0)) {
        for (Py_ssize_t i = 0; i < s->n && rc == 0; i++) {
            PyObject *k = s->it[i].k, *v = s->it[i].v;
            /* the usual Name: value (a name with no "#" in front and no space, a value that is no
             * container): out[key] = value, as in event_data_item */
            if (PyUnicode_CheckExact(k) && PyUnicode_KIND(k) == PyUnicode_1BYTE_KIND && !PyDict_CheckExact(v)
                && !PyList_CheckExact(v)) {
                const Py_UCS1 *c = PyUnicode_1BYTE_DATA(k);
                Py_ssize_t len = PyUnicode_GET_LENGTH(k);
                if ((len == 0 || c[0] != '#') && !has_space_1byte(c, len)) {
                    rc = PyDict_SetItem(out, k, v);
                    continue;
                }
            }
            rc = event_data_item(k, v, out);
        }
        release(s);
    }
    Py_LeaveRecursiveCall();
    return rc;
}

/* ------------------------------------------------------------------------ flatten_windows */

/* attributes of the usual System elements gathered ahead, per slice; an element whose attributes
 * do not fit any more is read as it comes */
#define ATTR_SLOTS 64

/* key + "_" + attr, the name of an attribute of the usual <Element a=".." b=".."/>; *prefix is
 * key + "_" once made (system_attrs_prefix makes it up front for a key that is not a str, as
 * Python does before its loop: that raises even when there are no attributes) */
static inline PyObject *
attr_name(PyObject *key, PyObject **prefix, PyObject *ak)
{
    if (*prefix == NULL && PyUnicode_CheckExact(ak)) /* key is an exact str here */
        return cached_join(key, ak, 1);
    if (*prefix == NULL && (*prefix = PyNumber_Add(key, s_underscore)) == NULL)
        return NULL;
    return PyNumber_Add(*prefix, ak);
}

/* the prefix attr_name starts with: NULL with no error for an exact str key */
static inline int
system_attrs_prefix(PyObject *key, PyObject **prefix)
{
    *prefix = NULL;
    if (PyUnicode_CheckExact(key))
        return 0;
    return (*prefix = PyNumber_Add(key, s_underscore)) == NULL ? -1 : 0;
}

/* out[key + "_" + attr] = value for n attributes (held) of the usual element */
static int
system_attrs(PyObject *key, const item *at, Py_ssize_t n, PyObject *out)
{
    PyObject *prefix;
    if (system_attrs_prefix(key, &prefix) < 0)
        return -1;
    int r = 0;
    for (Py_ssize_t j = 0; j < n && r == 0; j++) {
        PyObject *name = attr_name(key, &prefix, at[j].k);
        r = name == NULL ? -1 : PyDict_SetItem(out, name, at[j].v);
        Py_XDECREF(name);
    }
    Py_XDECREF(prefix);
    return r;
}

/* one System item that is a dict, read as it comes (off system_slice's fast path) */
static int
system_dict_item(PyObject *k, PyObject *v, PyObject *out)
{
    int r;
    PyObject *attrs = dict_get(v, s_attributes);
    if (attrs == NULL && PyErr_Occurred())
        return -1;
    if (PyDict_GET_SIZE(v) == 1 && attrs != NULL && PyDict_CheckExact(attrs)) {
        /* the usual <Element a=".." b=".."/>: out[key + "_" + attr] */
        PyObject *prefix;
        r = system_attrs_prefix(k, &prefix);
        Py_ssize_t apos = 0;
        PyObject *ak, *av;
        while (r == 0 && PyDict_Next(attrs, &apos, &ak, &av)) {
            Py_INCREF(ak);
            Py_INCREF(av);
            PyObject *name = attr_name(k, &prefix, ak);
            r = name == NULL ? -1 : PyDict_SetItem(out, name, av);
            Py_XDECREF(name);
            Py_DECREF(ak);
            Py_DECREF(av);
        }
        Py_XDECREF(prefix);
    }
    else {
        r = attr_children(k, v, out);
    }
    Py_XDECREF(attrs);
    return r;
}

/* the System items of a slice (held) into out.  The usual element {"#attributes": {...}} is three
 * dicts deep: each level is found for all items of the slice before the next is read, so that the
 * cache misses of the items overlap instead of adding up.  No Python code runs before the
 * references gathered on the way are held. */
static int
system_slice(const slice *s, PyObject *out)
{
    PyObject *attrs[SLICE];          /* the usual element's #attributes dict (held), else NULL */
    Py_ssize_t from[SLICE], to[SLICE]; /* its attributes in at[], or from == -1 */
    item at[ATTR_SLOTS];
    Py_ssize_t nat = 0, n = s->n, i;
    int rc = -1;

    /* #attributes as the only key, found by walking the one-item dict: no lookup, no Python code
     * (a key that is not an exact str is left to system_dict_item, which does the real lookup) */
    for (i = 0; i < n; i++) {
        PyObject *v = s->it[i].v, *k1, *v1;
        Py_ssize_t p1 = 0;
        attrs[i] = NULL;
        if (PyDict_CheckExact(v) && PyDict_GET_SIZE(v) == 1 && PyDict_Next(v, &p1, &k1, &v1)
            && PyUnicode_CheckExact(k1) && (k1 == s_attributes || PyUnicode_Compare(k1, s_attributes) == 0)) {
            PREFETCH(v1);
            attrs[i] = v1;
        }
    }
    for (i = 0; i < n; i++) {
        from[i] = -1;
        if (attrs[i] == NULL)
            continue;
        Py_INCREF(attrs[i]);
        if (PyDict_CheckExact(attrs[i]))
            prefetch_table(attrs[i]);
    }
    /* the attributes themselves */
    for (i = 0; i < n; i++) {
        if (attrs[i] == NULL || !PyDict_CheckExact(attrs[i]) || nat + PyDict_GET_SIZE(attrs[i]) > ATTR_SLOTS)
            continue;
        Py_ssize_t apos = 0;
        from[i] = nat;
        while (nat < ATTR_SLOTS && PyDict_Next(attrs[i], &apos, &at[nat].k, &at[nat].v)) {
            PREFETCH(at[nat].v);
            nat++;
        }
        to[i] = nat;
    }
    for (Py_ssize_t j = 0; j < nat; j++) {
        Py_INCREF(at[j].k);
        Py_INCREF(at[j].v);
    }

    for (i = 0; i < n; i++) {
        PyObject *k = s->it[i].k, *v = s->it[i].v;
        int r;
        if (from[i] >= 0)
            r = system_attrs(k, at + from[i], to[i] - from[i], out);
        else if (PyDict_CheckExact(v))
            r = system_dict_item(k, v, out);
        else if (PyList_CheckExact(v))
            r = set_steal(out, k, scalar(v));
        else
            r = PyDict_SetItem(out, k, v);
        if (r < 0)
            goto done;
    }
    rc = 0;
done:
    for (Py_ssize_t j = 0; j < nat; j++) {
        Py_DECREF(at[j].k);
        Py_DECREF(at[j].v);
    }
    for (i = 0; i < n; i++)
        Py_XDECREF(attrs[i]);
    return rc;
}

/* the nested evtx-JSON shape; event an exact dict */
static PyObject *
windows_nested(PyObject *event)
{
    PyObject *out = NULL, *system, *data, *section = NULL;
    slice sys_s, data_s; /* data_s: the first slice of EventData, taken with System's */
    sys_s.n = sys_s.pos = data_s.n = data_s.pos = 0;

    system = PyDict_GetItemWithError(event, s_System);
    if (system == NULL && PyErr_Occurred())
        return NULL;
    data = PyDict_GetItemWithError(event, s_EventData);
    if (data == NULL && PyErr_Occurred())
        return NULL;
    /* both sections, then both tables, then the values of both: each step's misses overlap */
    if (system != NULL)
        PREFETCH(system);
    if (data != NULL)
        PREFETCH(data);
    Py_XINCREF(system);
    Py_XINCREF(data);
    int sys_dict = system != NULL && PyDict_CheckExact(system);
    /* one name per item, a few more for elements with two attributes (Provider, Execution): a
     * close hint, as an oversized dict costs memory the whole batch long */
    Py_ssize_t hint = 4;
    if (sys_dict) {
        prefetch_table(system);
        hint += PyDict_GET_SIZE(system);
    }
    if (data != NULL && PyDict_CheckExact(data)) {
        prefetch_table(data);
        hint += PyDict_GET_SIZE(data);
    }
    if ((out = new_dict(hint)) == NULL)
        goto fail;
    if (data != NULL && PyDict_CheckExact(data))
        gather(data, &data_s);
    if (sys_dict)
        gather(system, &sys_s);
    hold(&data_s);
    hold(&sys_s);

    if (sys_dict) {
        while (sys_s.n > 0 || take(system, &sys_s) > 0) {
            int r = system_slice(&sys_s, out);
            release(&sys_s);
            if (r < 0)
                goto fail;
        }
    }

    /* event.get("EventData") again, as the reference does after System: the slice taken ahead is
     * used only if it is still the same dict */
    section = dict_get(event, s_EventData);
    if (section == NULL && PyErr_Occurred())
        goto fail;
    if (section != data)
        release(&data_s);
    if (section != NULL && section != Py_None && event_data_top(section, out, &data_s) < 0)
        goto fail;
    Py_CLEAR(section);
    section = dict_get(event, s_UserData);
    if (section == NULL && PyErr_Occurred())
        goto fail;
    if (section != NULL && section != Py_None && event_data_top(section, out, &data_s) < 0)
        goto fail;
    Py_XDECREF(section);
    Py_XDECREF(system);
    Py_XDECREF(data);
    return out;
fail:
    release(&sys_s);
    release(&data_s);
    Py_XDECREF(out);
    Py_XDECREF(section);
    Py_XDECREF(system);
    Py_XDECREF(data);
    return NULL;
}

/* Winlogbeat, NXLog and other flat shippers; record an exact dict */
static PyObject *
windows_flat(PyObject *record)
{
    PyObject *flat = PyDict_New(), *out = NULL;
    if (flat == NULL)
        return NULL;
    if (dotted(record, s_empty, flat) < 0)
        goto fail;
    if ((out = new_dict(PyDict_GET_SIZE(flat) + PyDict_GET_SIZE(flat) / 2 + 4)) == NULL)
        goto fail;
    Py_ssize_t pos = 0;
    PyObject *k, *v;
    while (PyDict_Next(flat, &pos, &k, &v)) {
        if (PyDict_SetItem(out, k, v) < 0)
            goto fail;
        PyObject *tail;
        int matched = data_prefix_tail(k, &tail);
        if (matched < 0 || (matched && setdefault_steal_key(out, tail, v) < 0))
            goto fail;
        PyObject *alias = PyDict_GetItemWithError(system_aliases, k);
        if (alias == NULL) {
            if (PyErr_Occurred())
                goto fail;
        }
        else if (alias != Py_None) {
            Py_INCREF(alias);
            int r = setdefault_steal_key(out, alias, v);
            if (r < 0)
                goto fail;
        }
    }
    Py_CLEAR(flat);
    /* a Windows record names its event and where it was logged */
    int r = PyDict_Contains(out, s_EventID);
    if (r > 0) {
        r = PyDict_Contains(out, s_Channel);
        if (r == 0)
            r = PyDict_Contains(out, s_Provider_Name);
    }
    if (r < 0)
        goto fail;
    if (r)
        return out;
    Py_DECREF(out);
    Py_RETURN_NONE;
fail:
    Py_XDECREF(flat);
    Py_XDECREF(out);
    return NULL;
}

static PyObject *
windows(PyObject *record)
{
    PyObject *event = dict_get(record, s_Event);
    if (event == NULL && PyErr_Occurred())
        return NULL;
    if (event != NULL && PyDict_CheckExact(event)) {
        int r = PyDict_Contains(event, s_System);
        if (r == 0)
            r = PyDict_Contains(event, s_EventData);
        if (r != 0) {
            PyObject *res = r < 0 ? NULL : windows_nested(event);
            Py_DECREF(event);
            return res;
        }
    }
    Py_XDECREF(event);
    PyObject *const markers[4] = {s_winlog, s_EventID, s_event_data, s_EventData};
    for (int i = 0; i < 4; i++) {
        int r = PyDict_Contains(record, markers[i]);
        if (r < 0)
            return NULL;
        if (r)
            return windows_flat(record);
    }
    Py_RETURN_NONE;
}

/* ------------------------------------------------------------------------ module functions */

static PyObject *
m_flatten_windows(PyObject *Py_UNUSED(module), PyObject *const *args, Py_ssize_t nargsf, PyObject *kwnames)
{
    if (ensure_configured() < 0)
        return NULL;
    if (PyVectorcall_NARGS(nargsf) == 1 && kwnames == NULL && PyDict_CheckExact(args[0]))
        return windows(args[0]);
    return PyObject_Vectorcall(py_flatten_windows, args, nargsf, kwnames);
}

static PyObject *
m_flatten_dotted(PyObject *Py_UNUSED(module), PyObject *const *args, Py_ssize_t nargsf, PyObject *kwnames)
{
    if (ensure_configured() < 0)
        return NULL;
    if (PyVectorcall_NARGS(nargsf) == 1 && kwnames == NULL && PyDict_CheckExact(args[0])) {
        PyObject *out = PyDict_New();
        if (out != NULL && dotted(args[0], s_empty, out) < 0)
            Py_CLEAR(out);
        return out;
    }
    return PyObject_Vectorcall(py_flatten_dotted, args, nargsf, kwnames);
}

static PyObject *
m_scalar(PyObject *Py_UNUSED(module), PyObject *const *args, Py_ssize_t nargsf, PyObject *kwnames)
{
    if (PyVectorcall_NARGS(nargsf) == 1 && kwnames == NULL)
        return scalar(args[0]);
    if (ensure_configured() < 0)
        return NULL;
    return PyObject_Vectorcall(py_scalar, args, nargsf, kwnames);
}

static PyObject *
m_configure(PyObject *Py_UNUSED(module), PyObject *args)
{
    PyObject *prefixes, *aliases, *fw, *fd, *sc;
    if (!PyArg_ParseTuple(args, "O!O!OOO:_configure", &PyTuple_Type, &prefixes, &PyDict_Type, &aliases, &fw, &fd,
                          &sc))
        return NULL;
    for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE(prefixes); i++) {
        if (!PyUnicode_CheckExact(PyTuple_GET_ITEM(prefixes, i))) {
            PyErr_SetString(PyExc_TypeError, "_configure: the data prefixes must be str");
            return NULL;
        }
    }
    if (!PyCallable_Check(fw) || !PyCallable_Check(fd) || !PyCallable_Check(sc)) {
        PyErr_SetString(PyExc_TypeError, "_configure: the fallbacks must be callable");
        return NULL;
    }
    Py_XSETREF(data_prefixes, Py_NewRef(prefixes));
    Py_CLEAR(tail_cache);
    Py_XSETREF(system_aliases, Py_NewRef(aliases));
    Py_XSETREF(py_flatten_windows, Py_NewRef(fw));
    Py_XSETREF(py_flatten_dotted, Py_NewRef(fd));
    Py_XSETREF(py_scalar, Py_NewRef(sc));
    Py_RETURN_NONE;
}

static PyMethodDef methods[] = {
    {"flatten_windows", (PyCFunction)(void (*)(void))m_flatten_windows, METH_FASTCALL | METH_KEYWORDS,
     "flatten_windows(record)\n--\n\nFlatten a Windows event in any known shape; None if the record is not one."},
    {"flatten_dotted", (PyCFunction)(void (*)(void))m_flatten_dotted, METH_FASTCALL | METH_KEYWORDS,
     "flatten_dotted(record, prefix='', out=None)\n--\n\n"
     "{\"a\": {\"b\": 1}} -> {\"a.b\": 1}; lists are kept whole (see scalar)."},
    {"scalar", (PyCFunction)(void (*)(void))m_scalar, METH_FASTCALL | METH_KEYWORDS,
     "scalar(value)\n--\n\nThe string form Sigma compares against; None stays None (a null field)."},
    {"_configure", (PyCFunction)m_configure, METH_VARARGS,
     "_configure(prefixes, aliases, py_flatten_windows, py_flatten_dotted, py_scalar)\n--\n\n"
     "Called by autosoc.normalize.flatten: its tables and its pure-Python functions (the fallback)."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module_def = {
    PyModuleDef_HEAD_INIT,
    .m_name = "autosoc.normalize._flatten",
    .m_doc = "C versions of autosoc.normalize.flatten's flatten_windows, flatten_dotted and scalar.",
    .m_size = -1,
    .m_methods = methods,
};

PyMODINIT_FUNC
PyInit__flatten(void)
{
    struct {
        PyObject **slot;
        const char *text;
    } strings[] = {
        {&s_empty, ""},
        {&s_dot, "."},
        {&s_underscore, "_"},
        {&s_newline, "\n"},
        {&s_space, " "},
        {&s_hash, "#"},
        {&s_true, "true"},
        {&s_false, "false"},
        {&s_Event, "Event"},
        {&s_System, "System"},
        {&s_EventData, "EventData"},
        {&s_UserData, "UserData"},
        {&s_attributes, "#attributes"},
        {&s_text, "#text"},
        {&s_plain_text, "text"},
        {&s_Value, "Value"},
        {&s_at_Name, "@Name"},
        {&s_Name, "Name"},
        {&s_Data, "Data"},
        {&s_winlog, "winlog"},
        {&s_EventID, "EventID"},
        {&s_event_data, "event_data"},
        {&s_Channel, "Channel"},
        {&s_Provider_Name, "Provider_Name"},
        {&s_startswith, "startswith"},
        {&s_replace, "replace"},
    };
    for (size_t i = 0; i < sizeof(strings) / sizeof(strings[0]); i++) {
        if (*strings[i].slot == NULL && (*strings[i].slot = PyUnicode_InternFromString(strings[i].text)) == NULL)
            return NULL;
    }
    if (i_one == NULL && (i_one = PyLong_FromLong(1)) == NULL)
        return NULL;
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
