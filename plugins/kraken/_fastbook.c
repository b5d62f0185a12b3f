/* Optional C accelerator for plugins/kraken/book.py: the common Kraken v2 book update, end to end.
 *
 * update(frame, live) takes one frame (bytes or str) and a dict {symbol bytes: state list} of the
 * books that are in sync. It accepts only the exact shape Kraken sends for an update:
 *
 *   {"channel":"book","type":"update","data":[{"symbol":"S","bids":[L,...],"asks":[L,...],
 *    "checksum":N[,"timestamp":"T"]}]}      with L = {"price":P,"qty":Q}
 *
 * no whitespace, P a plain decimal number, Q a plain decimal number with exactly the pair's
 * quantity decimals. Anything else -- another channel, reordered keys, extra fields, exponents,
 * a symbol not in `live`, a price the Python code refuses, more than 64 levels a side -- returns
 * None before anything is changed, and the caller takes its general (pure Python) path, which is
 * the reference. Accepted frames are applied to the same Python lists and dicts the pure Python
 * code uses (integer units, digit for digit: a quantity becomes an int from its digits, never a
 * float), the book is truncated to its depth, and Kraken's CRC32 of the top 10 asks then bids is
 * computed from the per-level checksum texts. Returns (symbol_book, checksum) when it matches,
 * (symbol_book, None) when it does not (the caller resyncs).
 *
 * State list layout (built by SymbolBook.fast_state() in book.py):
 *   0 symbol_book  1 bids _Side  2 asks _Side
 *   3 bid keys  4 bid qty dict  5 bid frags  6 bid price cache
 *   7 ask keys  8 ask qty dict  9 ask frags 10 ask price cache
 *  11 price decimals (int) 12 qty decimals (int) 13 depth (int) 14 price_entry(text, pd, sign)
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <string.h>
#include <zlib.h>

#define MAX_LEVELS 64
#define MAX_DIGITS 60
#define CHECKSUM_LEVELS 10
#define PRICE_CACHE_MAX 100000
#define STATE_LEN 15

typedef struct {
    PyObject *entry;   /* (units, key, checksum text), new reference */
    PyObject *qty;     /* int units, new reference; NULL for a zero quantity */
    char text[MAX_DIGITS];
    Py_ssize_t text_len;
} Level;

static PyObject *str_dirty;

static int
expect(const char **pp, const char *end, const char *lit, size_t n)
{
    if ((size_t)(end - *pp) < n || memcmp(*pp, lit, n) != 0)
        return 0;
    *pp += n;
    return 1;
}
#define EXPECT(lit) expect(&p, end, lit, sizeof(lit) - 1)

/* A plain JSON decimal: 0 | [1-9][0-9]*, optionally . [0-9]+. Sets the span and the fraction length
 * (-1 without a dot). Returns 0 for anything else (minus, exponent, leading zero, ...). */
static int
scan_number(const char **pp, const char *end, const char **start, Py_ssize_t *len, Py_ssize_t *frac)
{
    const char *p = *pp, *s = p;
    if (p >= end || *p < '0' || *p > '9')
        return 0;
    if (*p == '0') {
        p++;
        if (p < end && *p >= '0' && *p <= '9')
            return 0;
    }
    else
        while (p < end && *p >= '0' && *p <= '9')
            p++;
    *frac = -1;
    if (p < end && *p == '.') {
        const char *f = ++p;
        while (p < end && *p >= '0' && *p <= '9')
            p++;
        if (p == f)
            return 0;
        *frac = p - f;
    }
    if (p < end && (*p == 'e' || *p == 'E'))
        return 0;
    *start = s;
    *len = p - s;
    *pp = p;
    return 1;
}

static void
release(Level *levels, int n)
{
    for (int i = 0; i < n; i++) {
        Py_XDECREF(levels[i].entry);
        Py_XDECREF(levels[i].qty);
    }
}

/* Parse one side's levels; 1 ok, 0 not the fast shape (or a price Python refuses), -1 error. */
static int
parse_side(const char **pp, const char *end, PyObject *cache, PyObject *pd, long sign, PyObject *price_entry,
           Py_ssize_t qd, Level *levels, int *count)
{
    const char *p = *pp;
    int n = 0;
    if (p < end && *p == ']') {
        *pp = p + 1;
        *count = 0;
        return 1;
    }
    for (;;) {
        const char *num;
        Py_ssize_t len, frac;
        Level *lv;
        if (n == MAX_LEVELS || !EXPECT("{\"price\":") || !scan_number(&p, end, &num, &len, &frac))
            goto refuse;
        lv = &levels[n];
        lv->entry = NULL;
        lv->qty = NULL;
        n++;
        {
            PyObject *key = PyBytes_FromStringAndSize(num, len);
            PyObject *hit;
            if (key == NULL)
                goto fail;
            hit = PyDict_GetItemWithError(cache, key);
            if (hit != NULL) {
                Py_INCREF(hit);
            }
            else if (PyErr_Occurred()) {
                Py_DECREF(key);
                goto fail;
            }
            else {
                hit = PyObject_CallFunction(price_entry, "OOl", key, pd, sign);
                if (hit == NULL) {  /* Malformed price: the general path reports it */
                    PyErr_Clear();
                    Py_DECREF(key);
                    goto refuse;
                }
                if (!PyTuple_Check(hit) || PyTuple_GET_SIZE(hit) != 3 || !PyBytes_Check(PyTuple_GET_ITEM(hit, 2))) {
                    Py_DECREF(hit);
                    Py_DECREF(key);
                    PyErr_SetString(PyExc_TypeError, "price_entry must return (units, key, bytes)");
                    goto fail;
                }
                if (PyDict_GET_SIZE(cache) >= PRICE_CACHE_MAX)
                    PyDict_Clear(cache);
                if (PyDict_SetItem(cache, key, hit) < 0) {
                    Py_DECREF(hit);
                    Py_DECREF(key);
                    goto fail;
                }
            }
            Py_DECREF(key);
            lv->entry = hit;
        }
        if (!EXPECT(",\"qty\":") || !scan_number(&p, end, &num, &len, &frac) || frac != qd || qd <= 0)
            goto refuse;
        {
            /* digits without the dot and without leading zeros: the checksum text and the int */
            Py_ssize_t j = 0;
            int started = 0;
            for (const char *c = num; c < num + len; c++) {
                if (*c == '.')
                    continue;
                if (!started && *c == '0')
                    continue;
                started = 1;
                if (j == MAX_DIGITS - 1)
                    goto refuse;
                lv->text[j++] = *c;
            }
            lv->text[j] = '\0';
            lv->text_len = j;
            if (j == 0)
                lv->qty = NULL;
            else if (j <= 18) {
                unsigned long long v = 0;
                for (Py_ssize_t d = 0; d < j; d++)
                    v = v * 10 + (unsigned long long)(lv->text[d] - '0');
                lv->qty = PyLong_FromUnsignedLongLong(v);
            }
            else
                lv->qty = PyLong_FromString(lv->text, NULL, 10);
            if (j != 0 && lv->qty == NULL)
                goto fail;
        }
        if (!EXPECT("}"))
            goto refuse;
        if (p < end && *p == ',') {
            p++;
            continue;
        }
        if (!EXPECT("]"))
            goto refuse;
        break;
    }
    *pp = p;
    *count = n;
    return 1;
refuse:
    release(levels, n);
    return 0;
fail:
    release(levels, n);
    return -1;
}

static Py_ssize_t
bisect_left(PyObject *keys, PyObject *k)
{
    Py_ssize_t lo = 0, hi = PyList_GET_SIZE(keys);
    while (lo < hi) {
        Py_ssize_t mid = (lo + hi) / 2;
        int lt = PyObject_RichCompareBool(PyList_GET_ITEM(keys, mid), k, Py_LT);
        if (lt < 0)
            return -1;
        if (lt)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

/* Apply parsed levels to one side; returns 1 if the top 10 changed, 0 if not, -1 on error. */
static int
apply_side(Level *levels, int n, PyObject *keys, PyObject *book, PyObject *frags, long sign, Py_ssize_t depth)
{
    int top = 0;
    for (int i = 0; i < n; i++) {
        Level *lv = &levels[i];
        PyObject *price = PyTuple_GET_ITEM(lv->entry, 0);
        PyObject *key = PyTuple_GET_ITEM(lv->entry, 1);
        PyObject *ptext = PyTuple_GET_ITEM(lv->entry, 2);
        int has = PyDict_Contains(book, price);
        Py_ssize_t at;
        if (has < 0)
            return -1;
        if (lv->qty != NULL) {
            Py_ssize_t plen = PyBytes_GET_SIZE(ptext);
            PyObject *frag = PyBytes_FromStringAndSize(NULL, plen + lv->text_len);
            if (frag == NULL)
                return -1;
            memcpy(PyBytes_AS_STRING(frag), PyBytes_AS_STRING(ptext), plen);
            memcpy(PyBytes_AS_STRING(frag) + plen, lv->text, lv->text_len);
            at = bisect_left(keys, key);
            if (at < 0) {
                Py_DECREF(frag);
                return -1;
            }
            if (has) {
                if (at >= PyList_GET_SIZE(frags)) {
                    Py_DECREF(frag);
                    PyErr_SetString(PyExc_RuntimeError, "kraken book keys and levels disagree");
                    return -1;
                }
                PyList_SetItem(frags, at, frag);  /* steals frag */
            }
            else {
                if (PyList_Insert(keys, at, key) < 0 || PyList_Insert(frags, at, frag) < 0) {
                    Py_DECREF(frag);
                    return -1;
                }
                Py_DECREF(frag);
            }
            if (PyDict_SetItem(book, price, lv->qty) < 0)
                return -1;
            if (at < CHECKSUM_LEVELS)
                top = 1;
        }
        else if (has) {
            if (PyDict_DelItem(book, price) < 0)
                return -1;
            at = bisect_left(keys, key);
            if (at < 0)
                return -1;
            if (PyList_SetSlice(keys, at, at + 1, NULL) < 0 || PyList_SetSlice(frags, at, at + 1, NULL) < 0)
                return -1;
            if (at < CHECKSUM_LEVELS)
                top = 1;
        }
    }
    {
        Py_ssize_t size = PyList_GET_SIZE(keys);
        if (size > depth) {
            for (Py_ssize_t j = depth; j < size; j++) {
                PyObject *k = PyList_GET_ITEM(keys, j);
                PyObject *price = sign < 0 ? PyNumber_Negative(k) : (Py_INCREF(k), k);
                int rc;
                if (price == NULL)
                    return -1;
                rc = PyDict_DelItem(book, price);
                Py_DECREF(price);
                if (rc < 0)
                    return -1;
            }
            if (PyList_SetSlice(keys, depth, size, NULL) < 0 || PyList_SetSlice(frags, depth, size, NULL) < 0)
                return -1;
        }
    }
    return top;
}

/* Kraken's CRC32 over the top 10 asks then the top 10 bids. The texts are copied into one buffer
 * first: zlib is several times faster on one 300-byte run than on twenty 15-byte ones. */
static uLong
checksum_of(PyObject *ask_frags, PyObject *bid_frags)
{
    char buf[2048];
    size_t used = 0;
    uLong crc = crc32(0L, Z_NULL, 0);
    PyObject *sides[2] = {ask_frags, bid_frags};
    for (int s = 0; s < 2; s++) {
        Py_ssize_t n = PyList_GET_SIZE(sides[s]);
        if (n > CHECKSUM_LEVELS)
            n = CHECKSUM_LEVELS;
        for (Py_ssize_t i = 0; i < n; i++) {
            PyObject *f = PyList_GET_ITEM(sides[s], i);
            size_t len = (size_t)PyBytes_GET_SIZE(f);
            if (used + len > sizeof(buf)) {
                crc = crc32(crc, (const Bytef *)buf, (uInt)used);
                used = 0;
                if (len > sizeof(buf)) {
                    crc = crc32(crc, (const Bytef *)PyBytes_AS_STRING(f), (uInt)len);
                    continue;
                }
            }
            memcpy(buf + used, PyBytes_AS_STRING(f), len);
            used += len;
        }
    }
    return crc32(crc, (const Bytef *)buf, (uInt)used);
}

static PyObject *
fast_update(PyObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    PyObject *frame, *live, *state, *result = NULL;
    const char *buf, *p, *end, *sym;
    Py_ssize_t size, qd, depth;
    Level bids[MAX_LEVELS], asks[MAX_LEVELS];
    int nb = 0, na = 0, rc;
    unsigned long long checksum = 0;

    if (nargs != 2) {
        PyErr_SetString(PyExc_TypeError, "update(frame, live) takes 2 arguments");
        return NULL;
    }
    frame = args[0];
    live = args[1];
    if (!PyDict_Check(live)) {
        PyErr_SetString(PyExc_TypeError, "live must be a dict");
        return NULL;
    }
    if (PyBytes_Check(frame)) {
        buf = PyBytes_AS_STRING(frame);
        size = PyBytes_GET_SIZE(frame);
    }
    else if (PyUnicode_Check(frame)) {
        buf = PyUnicode_AsUTF8AndSize(frame, &size);
        if (buf == NULL) {
            PyErr_Clear();  /* lone surrogates: the general path reports it */
            Py_RETURN_NONE;
        }
    }
    else
        Py_RETURN_NONE;
    p = buf;
    end = buf + size;
    if (!EXPECT("{\"channel\":\"book\",\"type\":\"update\",\"data\":[{\"symbol\":\""))
        Py_RETURN_NONE;
    sym = p;
    while (p < end && *p != '"') {
        if (*p == '\\' || (unsigned char)*p < 0x20 || (unsigned char)*p > 0x7e)
            Py_RETURN_NONE;
        p++;
    }
    {
        PyObject *key = PyBytes_FromStringAndSize(sym, p - sym);
        if (key == NULL)
            return NULL;
        state = PyDict_GetItemWithError(live, key);
        Py_DECREF(key);
        if (state == NULL) {
            if (PyErr_Occurred())
                return NULL;
            Py_RETURN_NONE;
        }
    }
    if (!PyList_CheckExact(state) || PyList_GET_SIZE(state) != STATE_LEN) {
        PyErr_SetString(PyExc_TypeError, "bad kraken fast-path state");
        return NULL;
    }
    Py_INCREF(state);  /* the price_entry callback could run Python code that changes `live` */
    qd = PyLong_AsSsize_t(PyList_GET_ITEM(state, 12));
    depth = PyLong_AsSsize_t(PyList_GET_ITEM(state, 13));
    if ((qd == -1 || depth == -1) && PyErr_Occurred())
        goto done;
    if (!EXPECT("\",\"bids\":["))
        goto none;
    rc = parse_side(&p, end, PyList_GET_ITEM(state, 6), PyList_GET_ITEM(state, 11), -1, PyList_GET_ITEM(state, 14),
                    qd, bids, &nb);
    if (rc <= 0)
        goto rc_out;
    if (!EXPECT(",\"asks\":[")) {
        release(bids, nb);
        goto none;
    }
    rc = parse_side(&p, end, PyList_GET_ITEM(state, 10), PyList_GET_ITEM(state, 11), 1, PyList_GET_ITEM(state, 14),
                    qd, asks, &na);
    if (rc <= 0) {
        release(bids, nb);
        goto rc_out;
    }
    if (!EXPECT(",\"checksum\":"))
        goto refuse_all;
    {
        const char *s = p;
        while (p < end && *p >= '0' && *p <= '9' && p - s < 11)
            checksum = checksum * 10 + (unsigned long long)(*p++ - '0');
        if (p == s || p - s > 10 || (p - s > 1 && *s == '0') || checksum > 0xFFFFFFFFULL)
            goto refuse_all;
    }
    if (EXPECT(",\"timestamp\":\"")) {
        while (p < end && *p != '"') {
            if (*p == '\\' || (unsigned char)*p < 0x20 || (unsigned char)*p > 0x7e)
                goto refuse_all;
            p++;
        }
        if (!EXPECT("\""))
            goto refuse_all;
    }
    if (!EXPECT("}]}") || p != end)
        goto refuse_all;

    /* the whole frame is understood: apply it */
    {
        int top_b = 0, top_a = 0;
        uLong crc;
        if (nb) {
            top_b = apply_side(bids, nb, PyList_GET_ITEM(state, 3), PyList_GET_ITEM(state, 4),
                               PyList_GET_ITEM(state, 5), -1, depth);
            if (top_b < 0)
                goto error_all;
            if (top_b && PyObject_SetAttr(PyList_GET_ITEM(state, 1), str_dirty, Py_True) < 0)
                goto error_all;
        }
        if (na) {
            top_a = apply_side(asks, na, PyList_GET_ITEM(state, 7), PyList_GET_ITEM(state, 8),
                               PyList_GET_ITEM(state, 9), 1, depth);
            if (top_a < 0)
                goto error_all;
            if (top_a && PyObject_SetAttr(PyList_GET_ITEM(state, 2), str_dirty, Py_True) < 0)
                goto error_all;
        }
        crc = checksum_of(PyList_GET_ITEM(state, 9), PyList_GET_ITEM(state, 5));
        if ((unsigned long long)crc == checksum) {
            PyObject *c = PyLong_FromUnsignedLongLong(checksum);
            if (c == NULL)
                goto error_all;
            result = PyTuple_Pack(2, PyList_GET_ITEM(state, 0), c);
            Py_DECREF(c);
        }
        else
            result = PyTuple_Pack(2, PyList_GET_ITEM(state, 0), Py_None);
    }
error_all:
    release(bids, nb);
    release(asks, na);
    goto done;
refuse_all:
    release(bids, nb);
    release(asks, na);
none:
    Py_INCREF(Py_None);
    result = Py_None;
    goto done;
rc_out:
    if (rc == 0) {
        Py_INCREF(Py_None);
        result = Py_None;
    }
done:
    Py_DECREF(state);
    return result;
}

static PyMethodDef methods[] = {
    {"update", (PyCFunction)(void (*)(void))fast_update, METH_FASTCALL,
     "update(frame, live) -> (symbol_book, checksum | None) or None: apply a plain Kraken v2 book update."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "_fastbook", "C fast path for Kraken v2 book updates (optional).", -1, methods,
};

PyMODINIT_FUNC
PyInit__fastbook(void)
{
    str_dirty = PyUnicode_InternFromString("dirty");
    if (str_dirty == NULL)
        return NULL;
    return PyModule_Create(&module);
}
