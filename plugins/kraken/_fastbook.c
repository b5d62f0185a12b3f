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
 * When it matches and the book has a publisher (bot.bookview.BookPublisher), the change is published
 * here, before returning, doing step for step what BookPublisher.publish does (that Python method is
 * the reference; tests/plugins/kraken/test_kraken_views.py compares the two): nobody subscribed ->
 * nothing; else the view's ts_ns from the publisher's clock, each subscriber of the topic's route
 * called in order (an Exception goes to the topic's _on_error, anything else propagates), then
 * _renew() if a subscriber kept the view (its reference count), else _forget() if a subscriber read
 * levels into it. A Python callback's call costs what it costs; the rest is a few attribute reads.
 *
 * State list layout (built by SymbolBook.fast_state() in book.py):
 *   0 symbol_book  1 bids _Side  2 asks _Side
 *   3 bid keys  4 bid qty dict  5 bid frags  6 bid price cache
 *   7 ask keys  8 ask qty dict  9 ask frags 10 ask price cache
 *  11 price decimals (int) 12 qty decimals (int) 13 depth (int) 14 price_entry(text, pd, sign)
 *  15 the book's BookPublisher or None
 *
 * VERSION (2) tells book.py which layout and duties this build has; it ignores any other build.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <structmember.h>
#include <string.h>
#include <zlib.h>

#define MAX_LEVELS 64
#define MAX_DIGITS 60
#define CHECKSUM_LEVELS 10
#define PRICE_CACHE_MAX 100000
#define STATE_LEN 16
#define VERSION 2

typedef struct {
    PyObject *entry;   /* (units, key, checksum text), new reference */
    PyObject *qty;     /* int units, new reference; NULL for a zero quantity */
    char text[MAX_DIGITS];
    Py_ssize_t text_len;
} Level;

static PyObject *str_dirty, *str_topic, *str_route, *str_view, *str_time_ns, *str_ts_ns, *str_on_error, *str_cached,
    *str_renew, *str_forget;

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

/* Reading and writing __slots__ of the publisher, its topic and its view. A slot of a Python class is
 * a member descriptor at a fixed offset in the instance: found once per (type, name), then read and
 * written in place (what the descriptor itself does, without the attribute look-up). For any other
 * kind of attribute (a subclass's property, ...) it falls back to getattr/setattr. */
typedef struct {
    PyObject **name;
    PyTypeObject *type;  /* strong reference: the type the offset belongs to */
    Py_ssize_t offset;   /* 0: not a plain object slot of `type`, use getattr/setattr */
} Slot;

static Slot s_topic = {&str_topic, NULL, 0}, s_view = {&str_view, NULL, 0}, s_time_ns = {&str_time_ns, NULL, 0},
    s_route = {&str_route, NULL, 0}, s_ts_ns = {&str_ts_ns, NULL, 0}, s_cached = {&str_cached, NULL, 0};

static void
slot_resolve(PyObject *obj, Slot *s)
{
    PyTypeObject *type = Py_TYPE(obj);
    PyObject *descr = PyObject_GetAttr((PyObject *)type, *s->name);  /* the class's attribute: a descriptor */
    Py_XDECREF(s->type);
    Py_INCREF(type);
    s->type = type;
    s->offset = 0;
    if (descr == NULL) {
        PyErr_Clear();  /* no such attribute on the class: getattr on the instance says what is wrong */
        return;
    }
    if (Py_IS_TYPE(descr, &PyMemberDescr_Type)) {
        PyMemberDef *m = ((PyMemberDescrObject *)descr)->d_member;
        if (m->type == T_OBJECT_EX && !(m->flags & READONLY) && m->offset > 0)
            s->offset = m->offset;
    }
    Py_DECREF(descr);
}

/* obj.name, a new reference (NULL with an exception set). */
static PyObject *
slot_get(PyObject *obj, Slot *s)
{
    if (Py_TYPE(obj) != s->type)
        slot_resolve(obj, s);
    if (s->offset) {
        PyObject *v = *(PyObject **)((char *)obj + s->offset);
        if (v != NULL) {
            Py_INCREF(v);
            return v;
        }
    }
    return PyObject_GetAttr(obj, *s->name);
}

/* obj.name = value; 0 or -1. */
static int
slot_set(PyObject *obj, Slot *s, PyObject *value)
{
    if (Py_TYPE(obj) != s->type)
        slot_resolve(obj, s);
    if (s->offset) {
        PyObject **at = (PyObject **)((char *)obj + s->offset), *old = *at;
        Py_INCREF(value);
        *at = value;
        Py_XDECREF(old);
        return 0;
    }
    return PyObject_SetAttr(obj, *s->name, value);
}

/* One subscriber raised an Exception (set): hand it to on_error(owner, exc, view) as Topic.publish does. */
static int
report(PyObject *topic, PyObject *owner, PyObject *view)
{
    PyObject *type, *value, *tb, *on_error, *res;
    PyErr_Fetch(&type, &value, &tb);
    PyErr_NormalizeException(&type, &value, &tb);
    if (tb != NULL && value != NULL)
        PyException_SetTraceback(value, tb);
    on_error = PyObject_GetAttr(topic, str_on_error);
    res = on_error == NULL ? NULL : PyObject_CallFunctionObjArgs(on_error, owner, value, view, NULL);
    Py_XDECREF(on_error);
    Py_XDECREF(type);
    Py_XDECREF(value);
    Py_XDECREF(tb);
    if (res == NULL)
        return -1;
    Py_DECREF(res);
    return 0;
}

/* BookPublisher.publish (bot/bookview.py), step for step; 0 or -1 with an exception set. */
static int
publish(PyObject *pub)
{
    PyObject *topic, *route = NULL, *view = NULL, *clock = NULL, *ts = NULL;
    int rc = -1;
    Py_INCREF(pub);
    topic = slot_get(pub, &s_topic);
    if (topic == NULL)
        goto out;
    route = slot_get(topic, &s_route);
    if (route == NULL)
        goto out;
    if (!PyTuple_Check(route)) {
        PyErr_SetString(PyExc_TypeError, "Topic.route must be a tuple");
        goto out;
    }
    if (PyTuple_GET_SIZE(route) == 0) {
        rc = 0;
        goto out;
    }
    view = slot_get(pub, &s_view);
    if (view == NULL)
        goto out;
    clock = slot_get(pub, &s_time_ns);
    if (clock == NULL)
        goto out;
    ts = PyObject_CallNoArgs(clock);
    if (ts == NULL || slot_set(view, &s_ts_ns, ts) < 0)
        goto out;
    for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE(route); i++) {
        PyObject *sub = PyTuple_GET_ITEM(route, i), *res;
        if (!PyTuple_Check(sub) || PyTuple_GET_SIZE(sub) != 2) {
            PyErr_SetString(PyExc_TypeError, "a route entry must be (owner, callback)");
            goto out;
        }
        res = PyObject_CallOneArg(PyTuple_GET_ITEM(sub, 1), view);
        if (res != NULL)
            Py_DECREF(res);
        else if (!PyErr_ExceptionMatches(PyExc_Exception) || report(topic, PyTuple_GET_ITEM(sub, 0), view) < 0)
            goto out;
    }
    /* references now when nobody kept the view: the publisher's slot and ours */
    if (Py_REFCNT(view) > 2) {
        PyObject *res = PyObject_CallMethodNoArgs(pub, str_renew);
        if (res == NULL)
            goto out;
        Py_DECREF(res);
    }
    else {
        PyObject *cached = slot_get(view, &s_cached);
        int yes;
        if (cached == NULL)
            goto out;
        yes = PyObject_IsTrue(cached);
        Py_DECREF(cached);
        if (yes < 0)
            goto out;
        if (yes) {
            PyObject *res = PyObject_CallMethodNoArgs(pub, str_forget);
            if (res == NULL)
                goto out;
            Py_DECREF(res);
        }
    }
    rc = 0;
out:
    Py_XDECREF(ts);
    Py_XDECREF(clock);
    Py_XDECREF(view);
    Py_XDECREF(route);
    Py_XDECREF(topic);
    Py_DECREF(pub);
    return rc;
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
            PyObject *c, *pub = PyList_GET_ITEM(state, 15);
            if (pub != Py_None && publish(pub) < 0)
                goto error_all;
            c = PyLong_FromUnsignedLongLong(checksum);
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
    PyObject *m;
    struct { PyObject **s; const char *text; } names[] = {
        {&str_dirty, "dirty"}, {&str_topic, "_topic"}, {&str_route, "route"}, {&str_view, "_view"},
        {&str_time_ns, "_time_ns"}, {&str_ts_ns, "ts_ns"}, {&str_on_error, "_on_error"}, {&str_cached, "_cached"},
        {&str_renew, "_renew"}, {&str_forget, "_forget"},
    };
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        *names[i].s = PyUnicode_InternFromString(names[i].text);
        if (*names[i].s == NULL)
            return NULL;
    }
    m = PyModule_Create(&module);
    if (m != NULL && PyModule_AddIntConstant(m, "VERSION", VERSION) < 0) {
        Py_DECREF(m);
        return NULL;
    }
    return m;
}
