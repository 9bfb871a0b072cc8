/*
 * Data-layer field paths: parsing `a.b[*].c` into segments at config load (main thread) and
 * walking a jansson value along them on the request path (any thread; a parsed path is
 * read-only, the walk allocates nothing).
 */
#include "config/path.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void *xcalloc(size_t n, size_t size)
{
    void *p = calloc(n ? n : 1, size);
    if (p == NULL) {
        fputs("sluice: out of memory while parsing a field path\n", stderr);
        abort();
    }
    return p;
}

void sluice_path_dispose(sluice_path_t *p)
{
    if (p == NULL)
        return;
    free(p->segs); /* the keys live in the same block */
    free(p->text);
    memset(p, 0, sizeof(*p));
}

int sluice_path_parse(const char *text, sluice_path_t *out, char *err, size_t err_len)
{
    memset(out, 0, sizeof(*out));
    size_t len = strlen(text);
    if (len == 0) {
        snprintf(err, err_len, "empty path");
        return -1;
    }
    /* Every segment needs at least one character, so len bounds the segment count. */
    sluice_path_seg_t *segs = xcalloc(len, sizeof(*segs));
    size_t count = 0;
    size_t i = 0;
    int want_key = 1; /* at the start and after '.', a key must follow */
    while (i < len) {
        char c = text[i];
        if (c == '[') {
            if (count == 0) {
                snprintf(err, err_len, "column %zu: a path starts with a key, not '['", i + 1);
                goto fail;
            }
            if (want_key) {
                snprintf(err, err_len, "column %zu: expected a key after '.'", i + 1);
                goto fail;
            }
            if (strncmp(text + i, "[*]", 3) != 0) {
                snprintf(err, err_len, "column %zu: only [*] (every element) is supported inside brackets", i + 1);
                goto fail;
            }
            segs[count++].kind = SLUICE_PATH_ALL;
            i += 3;
            continue;
        }
        if (c == '.') {
            if (want_key) {
                snprintf(err, err_len, "column %zu: empty key", i + 1);
                goto fail;
            }
            want_key = 1;
            i++;
            continue;
        }
        if (!want_key) {
            snprintf(err, err_len, "column %zu: expected '.' or '[*]' after '%.*s'", i + 1, (int)i, text);
            goto fail;
        }
        size_t start = i;
        while (i < len && text[i] != '.' && text[i] != '[' && text[i] != ']') {
            if ((unsigned char)text[i] < 0x20) {
                snprintf(err, err_len, "column %zu: control character in a key", i + 1);
                goto fail;
            }
            i++;
        }
        if (i == start) {
            snprintf(err, err_len, "column %zu: unexpected ']'", i + 1);
            goto fail;
        }
        segs[count].kind = SLUICE_PATH_KEY;
        segs[count].key = (char *)text + start; /* into text until copied below */
        segs[count].key_len = i - start;
        count++;
        want_key = 0;
    }
    if (want_key) {
        snprintf(err, err_len, "column %zu: path ends with '.'", len);
        goto fail;
    }
    /* One block holds the segments and their keys: a config of 2,000 orgs holds about 90,000
     * paths, and a segment array as long as the text plus a block for each key was about 1 KB
     * a path, most of it never used. */
    size_t keys_len = 0;
    for (size_t k = 0; k < count; k++)
        keys_len += segs[k].kind == SLUICE_PATH_KEY ? segs[k].key_len + 1 : 0;
    sluice_path_seg_t *block = xcalloc(1, count * sizeof(*segs) + keys_len);
    char *keys = (char *)(block + count);
    for (size_t k = 0; k < count; k++) {
        block[k] = segs[k];
        if (segs[k].kind != SLUICE_PATH_KEY)
            continue;
        memcpy(keys, segs[k].key, segs[k].key_len);
        block[k].key = keys;
        keys += segs[k].key_len + 1; /* the NUL: xcalloc's */
    }
    free(segs);
    out->text = xcalloc(len + 1, 1);
    memcpy(out->text, text, len);
    out->text_len = len;
    out->text_plain = 1;
    for (size_t k = 0; k < len; k++) {
        unsigned char c = (unsigned char)text[k];
        if (c < 0x20 || c >= 0x80 || c == '"' || c == '\\')
            out->text_plain = 0;
    }
    out->segs = block;
    out->count = count;
    return 0;
fail:
    free(segs);
    return -1;
}

/* Appends a segment to the concrete path being built (cut silently at the buffer's end; the
 * path is informational: metrics labels and the envelope's `hashes` keys). */
static size_t concrete_push(char *buf, size_t len, const char *key, size_t key_len, size_t index)
{
    size_t cap = SLUICE_PATH_CONCRETE_MAX - 1; /* room for the NUL */
    char num[24];
    const char *add = key;
    size_t n;
    if (key != NULL) {
        n = key_len;
    } else {
        /* "[<index>]" without printf: this runs for every value a rule reaches. */
        size_t i = sizeof(num);
        num[--i] = ']';
        do {
            num[--i] = (char)('0' + index % 10);
            index /= 10;
        } while (index > 0);
        num[--i] = '[';
        add = num + i;
        n = sizeof(num) - i;
    }
    if (key != NULL && len > 0 && len < cap)
        buf[len++] = '.';
    if (n > cap - len)
        n = cap - len;
    memcpy(buf + len, add, n);
    len += n;
    buf[len] = '\0';
    return len;
}

/* 2 when a[0..n) and b[0..n) are the same bytes, 1 when they are the same but for the case of
 * ASCII letters, as strncasecmp in the C locale (bytes from 0x80 are never folded: UTF-8's 'É' is
 * not 'é'), 0 otherwise; without strncasecmp's call for every member of the same length (a key
 * never holds a NUL; a member's may, and then differs, as with strncasecmp). */
static int same_key(const char *a, const char *b, size_t n)
{
    int same = 2;
    for (size_t i = 0; i < n; i++) {
        unsigned char x = (unsigned char)a[i], y = (unsigned char)b[i];
        if (x == y)
            continue;
        if ((x | 0x20) != (y | 0x20) || (unsigned char)((x | 0x20) - 'a') > 'z' - 'a')
            return 0;
        same = 1;
    }
    return same;
}

/* One step of a walk: the member (key) or element (index) it went through, and the step before
 * (NULL at the first key). The concrete path is built from these only when a visitor gets a value
 * whose path differs from the rule's text. */
typedef struct concrete_at {
    const struct concrete_at *up;
    const char *key;
    size_t key_len;
    size_t index;
} concrete_at_t;

/* Writes at's concrete path into buf (SLUICE_PATH_CONCRETE_MAX bytes, NUL-terminated, cut as
 * concrete_push cuts): the steps pushed from the first. Returns its length. */
static size_t concrete_build(const concrete_at_t *at, char *buf)
{
    if (at == NULL) {
        buf[0] = '\0';
        return 0;
    }
    size_t len = concrete_build(at->up, buf);
    return concrete_push(buf, len, at->key, at->key_len, at->index);
}

/* The walks, once per tree (config/path_walk.h). */
#define W_CAT2(a, b)                       a##_##b
#define W_CAT(a, b)                        W_CAT2(a, b)
#define W(name)                            name
#define W_VALUE                            json_t
#define W_CB                               sluice_path_visit_cb
#define W_CALL(cb, pa, k, kn, i, v, c, ud) cb(pa, k, i, v, c, ud)
#define W_GETN                             json_object_getn
#define W_IS_OBJECT                        json_is_object
#define W_IS_ARRAY                         json_is_array
#define W_ARRAY_SIZE                       json_array_size
#define W_ARRAY_GET                        json_array_get
#define W_ITER                             void *
#define W_ITER_BEGIN(o)                    json_object_iter(o)
#define W_ITER_OK(o, it)                   ((it) != NULL)
#define W_ITER_KEY(o, it)                  json_object_iter_key(it)
#define W_ITER_KEY_LEN(o, it)              json_object_iter_key_len(it)
#define W_ITER_VALUE(o, it)                json_object_iter_value(it)
#define W_ITER_PRE(o, it, next)            ((next) = json_object_iter_next((o), (it)))
#define W_ITER_SKIP(o, it, next)           ((void)0) /* next read before */
#define W_ITER_POST(o, it, k, next)        ((void)0)
#include "config/path_walk.h"

#define W(name)                            W_CAT(name, jv)
#define W_VALUE                            sluice_jv_t
#define W_CB                               sluice_path_visit_jv_cb
#define W_CALL(cb, pa, k, kn, i, v, c, ud) cb(pa, k, kn, i, v, c, ud)
#define W_GETN                             sluice_jv_object_getn
#define W_IS_OBJECT                        sluice_jv_is_object
#define W_IS_ARRAY                         sluice_jv_is_array
#define W_ARRAY_SIZE                       sluice_jv_array_size
#define W_ARRAY_GET                        sluice_jv_array_get
#define W_ITER                             size_t
#define W_ITER_BEGIN(o)                    0
#define W_ITER_OK(o, it)                   ((it) < (o)->len)
#define W_ITER_KEY(o, it)                  ((o)->u.m[it].key)
#define W_ITER_KEY_LEN(o, it)              ((size_t)(o)->u.m[it].key_len)
#define W_ITER_VALUE(o, it)                ((o)->u.m[it].value)
#define W_ITER_PRE(o, it, next)            ((void)0)
#define W_ITER_SKIP(o, it, next)           ((next) = (it) + 1)
#define W_ITER_POST(o, it, k, next)        ((next) = (it) < (o)->len && (o)->u.m[it].key == (k) ? (it) + 1 : (it))
#include "config/path_walk.h"
#undef W_CAT
#undef W_CAT2
