/*
 * JSON parser for request bodies and Kafka envelopes, building jansson values. Recursive descent over the buffer:
 * strings are scanned 16 or 8 bytes a step (json/scan.h) up to the next quote, backslash,
 * control or non-ASCII byte; numbers are checked against the RFC 8259 grammar, then read
 * directly where that is exact and with strtoll/strtod otherwise; the depth and string limits
 * are checked as the document is read; a duplicate key is seen as an object that did not grow.
 * Whatever it accepts and refuses must match jansson's
 * json_loadb(JSON_REJECT_DUPLICATES | JSON_DECODE_ANY): tests/fuzz/json.c compares the two.
 * Any thread.
 */
#include "json/parse.h"

#include "json/parse_core.h" /* the parser's state, strings, numbers and errors (shared with json/jv.c) */

static json_t *parse_value(parser_t *ps);

static json_t *parse_number(parser_t *ps)
{
    number_t r;
    if (number_read(ps, ps->nums != NULL, &r) != 0)
        return NULL;
    json_t *v = r.is_real ? json_real(r.d) : json_integer(r.i);
    if (v == NULL)
        return syntax(ps, r.s, "out of memory");
    if (ps->nums != NULL)
        (void)sluice_jsonnum_add(ps->nums, v, r.s, r.n); /* on failure it is formatted instead */
    return v;
}

/* ------------------------------------------------------------------ containers */

/* A string value over max_string: null in an event of the batch that takes the fault, else the
 * refusal. Kept out of line, so that the string path stays inlined where it is read. */
static __attribute__((noinline, cold)) json_t *string_over_limit(parser_t *ps)
{
    return item_fault(ps, "string longer than") ? json_null() : limit(ps, SLUICE_JSON_STRING, "string longer than");
}

/* The string value at ps->p (its opening quote). */
static inline json_t *parse_string_value(parser_t *ps)
{
    ps->p++;
    const char *s;
    size_t n;
    if (parse_string(ps, &s, &n) != 0)
        return NULL;
    if (n > ps->max_string)
        return string_over_limit(ps);
    return json_stringn_nocheck(s, n);
}

/* A member's or element's value: strings, most of them, without a call. */
static inline json_t *parse_child(parser_t *ps)
{
    if (ps->p < ps->end && *ps->p == '"')
        return parse_string_value(ps);
    return parse_value(ps);
}

/* A key over max_string, ps->p after it: in an event of the batch that takes the fault, its value
 * is read and left out (the event is refused: nothing of it need be kept) and 0 returned; else
 * the refusal, -1. Out of line: the member path stays short. */
static __attribute__((noinline, cold)) int key_over_limit(parser_t *ps)
{
    if (key_fault(ps) != 0)
        return -1;
    json_t *v = parse_child(ps);
    if (v == NULL)
        return -1;
    json_decref(v);
    return 0;
}

static json_t *parse_object(parser_t *ps)
{
    if (enter(ps) != 0)
        return NULL;
    frame_t *f = &ps->frames[ps->depth];
    json_t *obj = json_object();
    size_t members = 0; /* inserted so far: the object's size unless a key came twice */
    ps->p++;            /* '{' */
    if (take(ps, '}')) {
        ps->depth--;
        return obj;
    }
    for (;;) {
        const char *key;
        size_t klen;
        if (object_key(ps, &key, &klen) != 0)
            goto fail;
        /* No key holds a NUL byte (jansson's "NUL byte in object key not supported"): the
         * string scan refuses raw control characters and reads \u0000 as U+FFFD. */
        const char *after_key = ps->p;
        /* A key that was unescaped lives in the buffer the value will reuse: keep a copy. One
         * that was not points into the input, which stays. */
        char kbuf[128], *kcopy = NULL;
        if (key == ps->sbuf) {
            kcopy = klen < sizeof(kbuf) ? kbuf : malloc(klen + 1);
            if (kcopy == NULL) {
                syntax(ps, after_key, "out of memory");
                goto fail;
            }
            memcpy(kcopy, key, klen);
            key = kcopy;
        }
        f->key = key;
        f->key_len = klen;
        int bad = 0;
        json_t *v = NULL;
        if (klen > ps->max_string) {
            bad = key_over_limit(ps) != 0; /* when not refused, its member is left out: v stays NULL */
        } else {
            if (!take(ps, ':')) {
                syntax(ps, ps->p, "':' expected");
                bad = 1;
            } else {
                v = parse_child(ps); /* parse_value skips whitespace before the value */
                bad = v == NULL;
            }
        }
        if (v != NULL) {
            /* A duplicate key replaces the member instead of adding one: the object does not
             * grow. Checked after the value (one hash lookup instead of two); a document bad in
             * both ways may so report its value's fault rather than the duplicate. */
            if (json_object_setn_new_nocheck(obj, key, klen, v) != 0) {
                syntax(ps, after_key, "out of memory");
                bad = 1;
            } else if (json_object_size(obj) != ++members) {
                syntax(ps, after_key, "duplicate object key");
                bad = 1;
            }
        }
        f->key = NULL;
        if (kcopy != NULL && kcopy != kbuf)
            free(kcopy);
        int more = bad ? -1 : next_or_close(ps, '}');
        if (more > 0)
            continue;
        if (more < 0)
            goto fail;
        ps->depth--;
        return obj;
    }
fail:
    json_decref(obj);
    return NULL;
}

static json_t *parse_array(parser_t *ps)
{
    if (enter(ps) != 0)
        return NULL;
    frame_t *f = &ps->frames[ps->depth];
    json_t *arr = json_array();
    ps->p++; /* '[' */
    if (take(ps, ']')) {
        ps->depth--;
        return arr;
    }
    int is_batch = batch_begin(ps);
    for (size_t count = 0;; count++) {
        if (batch_item(ps, f, count, is_batch) != 0)
            goto fail;
        json_t *v = parse_child(ps);
        if (v == NULL)
            goto fail;
        if (json_array_append_new(arr, v) != 0) {
            syntax(ps, ps->p, "out of memory");
            goto fail;
        }
        int more = next_or_close(ps, ']');
        if (more > 0)
            continue;
        if (more < 0)
            goto fail;
        ps->depth--;
        batch_end(ps, is_batch);
        return arr;
    }
fail:
    json_decref(arr);
    return NULL; /* nothing is parsed after a failure: item_base needs no reset */
}

static json_t *literal(parser_t *ps, const char *word, json_t *value)
{
    size_t n = literal_at(ps, word);
    if (n == 0)
        return NULL;
    ps->p += n;
    return value;
}

/* The value at ps->p, after any whitespace. */
static json_t *parse_value(parser_t *ps)
{
    if (ps->p >= ps->end)
        return syntax(ps, ps->p, "premature end of input");
    switch (*ps->p) {
    case ' ':
    case '\t':
    case '\n':
    case '\r': skip_ws(ps); return parse_value(ps);
    case '{': return parse_object(ps);
    case '[': return parse_array(ps);
    case '"': return parse_string_value(ps);
    case 't': return literal(ps, "true", json_true());
    case 'f': return literal(ps, "false", json_false());
    case 'n': return literal(ps, "null", json_null());
    default:
        if (*ps->p == '-' || (*ps->p >= '0' && *ps->p <= '9'))
            return parse_number(ps);
        return syntax(ps, ps->p, "invalid token");
    }
}

json_t *sluice_json_parse(const char *buf, size_t len, size_t max_depth, size_t max_string, size_t max_batch,
                          sluice_jsonnum_t *nums, sluice_json_error_t *err)
{
    return sluice_json_parse_batch(buf, len, max_depth, max_string, max_batch, nums, NULL, err);
}

json_t *sluice_json_parse_batch(const char *buf, size_t len, size_t max_depth, size_t max_string, size_t max_batch,
                                sluice_jsonnum_t *nums, sluice_json_item_faults_t *faults, sluice_json_error_t *err)
{
    memset(err, 0, sizeof(*err));
    if (faults != NULL)
        faults->count = 0;
    /* Request bodies are limited to a few dozen levels: their frames fit on the stack. */
    parser_t ps = {.p = buf,
                   .start = buf,
                   .end = buf + len,
                   .max_string = max_string,
                   .max_batch = max_batch,
                   .err = err,
                   .nums = nums,
                   .faults = faults};
    ps.max_depth = max_depth < MAX_FRAMES ? max_depth : MAX_FRAMES;
    ps.depth_cap = ps.max_depth;
    frame_t small[64];
    /* Depth max_depth, or 2 more inside an event of the batch, with the frame at 0 unused. */
    ps.frames =
        ps.max_depth + 4 <= sizeof(small) / sizeof(small[0]) ? small : malloc((ps.max_depth + 4) * sizeof(frame_t));
    if (ps.frames == NULL) {
        err->kind = SLUICE_JSON_SYNTAX;
        snprintf(err->message, sizeof(err->message), "out of memory");
        return NULL;
    }
    char sbuf[512];
    ps.sbuf = sbuf;
    ps.scap = sizeof(sbuf);
    skip_ws(&ps);
    json_t *v = parse_value(&ps);
    if (v != NULL) {
        skip_ws(&ps);
        if (ps.p != ps.end) {
            syntax(&ps, ps.p, "end of input expected");
            json_decref(v);
            v = NULL;
        }
    }
    if (ps.heap)
        free(ps.sbuf);
    if (ps.frames != small)
        free(ps.frames);
    if (v == NULL)
        sluice_jsonnum_clear(nums); /* what it recorded was freed with the half-built document */
    return v;
}
