/*
 * YAML → node tree with positions, built from libyaml's event parser (one pass, an explicit
 * stack of open containers). Refuses what would make positions or meaning ambiguous: anchors,
 * aliases, several documents, duplicate keys, non-scalar keys, tags other than !!str, NUL
 * characters and nesting deeper than MAX_DEPTH. Runs on whichever thread loads the config
 * (single-threaded use per document); a finished tree is read-only.
 */
#include "config/yaml.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include <yaml.h>

/* Deeper nesting is never meaningful in a config and would make the recursive free and the
 * decoders' recursion unbounded on hostile input. */
#define MAX_DEPTH 64
/* A config file larger than this is a mistake (or an attack on the loader). */
#define MAX_FILE_BYTES (16u << 20)

static void *xcalloc(size_t n, size_t size)
{
    void *p = calloc(n ? n : 1, size ? size : 1);
    if (p == NULL) {
        fputs("sluice: out of memory while parsing YAML\n", stderr);
        abort();
    }
    return p;
}

static void *xrealloc(void *p, size_t size)
{
    void *q = realloc(p, size ? size : 1);
    if (q == NULL) {
        fputs("sluice: out of memory while parsing YAML\n", stderr);
        abort();
    }
    return q;
}

static void node_free(sluice_yaml_node_t *n)
{
    if (n == NULL)
        return;
    free(n->scalar);
    for (size_t i = 0; i < n->pair_count; i++) {
        node_free(n->pairs[i].key);
        node_free(n->pairs[i].value);
    }
    free(n->pairs);
    for (size_t i = 0; i < n->item_count; i++)
        node_free(n->items[i]);
    free(n->items);
    free(n);
}

void sluice_yaml_doc_free(sluice_yaml_doc_t *doc)
{
    if (doc == NULL)
        return;
    node_free(doc->root);
    free(doc->file);
    free(doc);
}

/* One open container on the parse stack. For a map, `pending_key` holds a key whose value has
 * not arrived yet. */
typedef struct frame {
    sluice_yaml_node_t *node;
    sluice_yaml_node_t *pending_key;
    size_t pairs_cap;
    size_t items_cap;
} frame_t;

typedef struct builder {
    sluice_yaml_doc_t *doc;
    frame_t stack[MAX_DEPTH];
    size_t depth;
    int documents;
    char *err;
    size_t err_len;
} builder_t;

__attribute__((format(printf, 3, 4))) static int fail(builder_t *b, const yaml_mark_t *mark, const char *fmt, ...)
{
    char msg[400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    if (b->err != NULL && b->err_len > 0)
        snprintf(b->err, b->err_len, "%s:%zu:%zu: %s", b->doc->file, mark->line + 1, mark->column + 1, msg);
    return -1;
}

static sluice_yaml_node_t *node_new(builder_t *b, sluice_yaml_type_t type, const yaml_mark_t *mark)
{
    sluice_yaml_node_t *n = xcalloc(1, sizeof(*n));
    n->type = type;
    n->pos.file = b->doc->file;
    n->pos.line = (unsigned)mark->line + 1;
    n->pos.col = (unsigned)mark->column + 1;
    return n;
}

/* Attaches a finished node to the open container (or makes it the root). Takes ownership. */
static int attach(builder_t *b, sluice_yaml_node_t *n, const yaml_mark_t *mark)
{
    if (b->depth == 0) {
        b->doc->root = n;
        return 0;
    }
    frame_t *f = &b->stack[b->depth - 1];
    sluice_yaml_node_t *parent = f->node;
    if (parent->type == SLUICE_YAML_SEQ) {
        if (parent->item_count == f->items_cap) {
            f->items_cap = f->items_cap ? f->items_cap * 2 : 4;
            parent->items = xrealloc(parent->items, f->items_cap * sizeof(*parent->items));
        }
        parent->items[parent->item_count++] = n;
        return 0;
    }
    if (f->pending_key == NULL) {
        /* A key: open_container already refused maps and lists in this position. */
        for (size_t i = 0; i < parent->pair_count; i++) {
            const sluice_yaml_node_t *k = parent->pairs[i].key;
            if (k->scalar_len == n->scalar_len && memcmp(k->scalar, n->scalar, n->scalar_len) == 0) {
                int rc = fail(b, mark, "duplicate key '%s' (first at line %u)", n->scalar, k->pos.line);
                node_free(n);
                return rc;
            }
        }
        f->pending_key = n;
        return 0;
    }
    if (parent->pair_count == f->pairs_cap) {
        f->pairs_cap = f->pairs_cap ? f->pairs_cap * 2 : 4;
        parent->pairs = xrealloc(parent->pairs, f->pairs_cap * sizeof(*parent->pairs));
    }
    parent->pairs[parent->pair_count].key = f->pending_key;
    parent->pairs[parent->pair_count].value = n;
    parent->pair_count++;
    f->pending_key = NULL;
    return 0;
}

/* Tags change a scalar's type silently; only !!str (force a string) is accepted. */
static int check_tag(builder_t *b, const yaml_mark_t *mark, const yaml_char_t *tag, int scalar)
{
    if (tag == NULL)
        return 0;
    if (scalar && strcmp((const char *)tag, YAML_STR_TAG) == 0)
        return 0;
    return fail(b, mark, "YAML tags are not supported here ('%s'); only !!str on a scalar", (const char *)tag);
}

static int open_container(builder_t *b, const yaml_event_t *ev, sluice_yaml_type_t type)
{
    const yaml_char_t *anchor =
        type == SLUICE_YAML_MAP ? ev->data.mapping_start.anchor : ev->data.sequence_start.anchor;
    const yaml_char_t *tag = type == SLUICE_YAML_MAP ? ev->data.mapping_start.tag : ev->data.sequence_start.tag;
    if (anchor != NULL)
        return fail(b, &ev->start_mark, "YAML anchors (&%s) are not supported; write the value out",
                    (const char *)anchor);
    if (check_tag(b, &ev->start_mark, tag, 0) < 0)
        return -1;
    if (b->depth == MAX_DEPTH)
        return fail(b, &ev->start_mark, "nesting deeper than %d levels", MAX_DEPTH);
    if (b->depth > 0) {
        const frame_t *f = &b->stack[b->depth - 1];
        if (f->node->type == SLUICE_YAML_MAP && f->pending_key == NULL)
            return fail(b, &ev->start_mark, "map keys must be scalars, not %s",
                        type == SLUICE_YAML_MAP ? "maps" : "lists");
    }
    frame_t *f = &b->stack[b->depth++];
    memset(f, 0, sizeof(*f));
    f->node = node_new(b, type, &ev->start_mark);
    return 0;
}

static int close_container(builder_t *b, const yaml_event_t *ev)
{
    /* libyaml always delivers a value (possibly an empty scalar) after a key, so no key is
     * pending when a map ends. */
    sluice_yaml_node_t *n = b->stack[--b->depth].node;
    return attach(b, n, &ev->start_mark);
}

static int on_scalar(builder_t *b, const yaml_event_t *ev)
{
    if (ev->data.scalar.anchor != NULL)
        return fail(b, &ev->start_mark, "YAML anchors (&%s) are not supported; write the value out",
                    (const char *)ev->data.scalar.anchor);
    if (check_tag(b, &ev->start_mark, ev->data.scalar.tag, 1) < 0)
        return -1;
    size_t len = ev->data.scalar.length;
    if (memchr(ev->data.scalar.value, '\0', len) != NULL)
        return fail(b, &ev->start_mark, "NUL characters are not allowed in values");
    sluice_yaml_node_t *n = node_new(b, SLUICE_YAML_SCALAR, &ev->start_mark);
    n->scalar = xcalloc(len + 1, 1);
    memcpy(n->scalar, ev->data.scalar.value, len);
    n->scalar_len = len;
    n->quoted = ev->data.scalar.style != YAML_PLAIN_SCALAR_STYLE || ev->data.scalar.tag != NULL;
    return attach(b, n, &ev->start_mark);
}

static int on_event(builder_t *b, const yaml_event_t *ev)
{
    switch (ev->type) {
    case YAML_DOCUMENT_START_EVENT:
        if (++b->documents > 1)
            return fail(b, &ev->start_mark, "only one YAML document per file is supported");
        return 0;
    case YAML_MAPPING_START_EVENT: return open_container(b, ev, SLUICE_YAML_MAP);
    case YAML_SEQUENCE_START_EVENT: return open_container(b, ev, SLUICE_YAML_SEQ);
    case YAML_MAPPING_END_EVENT:
    case YAML_SEQUENCE_END_EVENT: return close_container(b, ev);
    case YAML_SCALAR_EVENT: return on_scalar(b, ev);
    case YAML_ALIAS_EVENT:
        return fail(b, &ev->start_mark, "YAML aliases (*%s) are not supported; write the value out",
                    (const char *)ev->data.alias.anchor);
    default: return 0;
    }
}

/* 1 when libyaml stopped at a tab in the indentation of a line (the spaces and tabs before its
 * first other character). libyaml then says "found character that cannot start any token" or
 * "found a tab character that violates indentation", which does not tell a person that YAML
 * forbids tabs there; the caller says so instead. Columns count characters, which are bytes
 * here: everything before the tab on its line is a space or a tab. */
/* The line and column (both from 0, as libyaml's marks) of byte offset off in buf. */
static yaml_mark_t mark_at(const char *buf, size_t len, size_t off)
{
    yaml_mark_t m = {.index = off};
    if (off > len)
        off = len;
    for (size_t i = 0; i < off; i++) {
        if (buf[i] == '\n') {
            m.line++;
            m.column = 0;
        } else {
            m.column++;
        }
    }
    return m;
}

static int tab_in_indentation(const char *buf, size_t len, const yaml_mark_t *mark)
{
    size_t pos = 0;
    for (size_t line = 0; line < mark->line; line++) {
        const char *nl = memchr(buf + pos, '\n', len - pos);
        if (nl == NULL)
            return 0;
        pos = (size_t)(nl - buf) + 1;
    }
    for (size_t col = 0; pos + col < len; col++) {
        char c = buf[pos + col];
        if (col == mark->column)
            return c == '\t';
        if (c != ' ' && c != '\t')
            return 0;
    }
    return 0;
}

sluice_yaml_doc_t *sluice_yaml_load_string(const char *name, const char *buf, size_t len, char *err, size_t err_len)
{
    builder_t b;
    memset(&b, 0, sizeof(b));
    b.err = err;
    b.err_len = err_len;
    b.doc = xcalloc(1, sizeof(*b.doc));
    b.doc->file = strdup(name);
    if (b.doc->file == NULL) {
        fputs("sluice: out of memory while parsing YAML\n", stderr);
        abort();
    }

    yaml_parser_t parser;
    if (!yaml_parser_initialize(&parser)) {
        fputs("sluice: out of memory while parsing YAML\n", stderr);
        abort();
    }
    yaml_parser_set_input_string(&parser, (const unsigned char *)buf, len);
    int rc = 0;
    for (;;) {
        yaml_event_t ev;
        if (!yaml_parser_parse(&parser, &ev)) {
            yaml_mark_t mark = parser.problem_mark;
            if (parser.error == YAML_READER_ERROR) {
                /* A byte the reader refuses comes with its offset, not a mark (which stays at 1:1). */
                mark = mark_at(buf, len, parser.problem_offset);
                if (parser.problem_value >= 0)
                    fail(&b, &mark, "YAML syntax error: %s (byte 0x%02x)", parser.problem ? parser.problem : "unknown",
                         (unsigned)parser.problem_value);
                else
                    fail(&b, &mark, "YAML syntax error: %s", parser.problem ? parser.problem : "unknown");
            } else if (tab_in_indentation(buf, len, &mark))
                fail(&b, &mark, "tab character at line %zu col %zu: YAML indentation must use spaces", mark.line + 1,
                     mark.column + 1);
            else if (parser.context != NULL)
                fail(&b, &mark, "YAML syntax error: %s %s (line %zu)", parser.problem ? parser.problem : "unknown",
                     parser.context, parser.context_mark.line + 1);
            else
                fail(&b, &mark, "YAML syntax error: %s", parser.problem ? parser.problem : "unknown");
            rc = -1;
            break;
        }
        int done = ev.type == YAML_STREAM_END_EVENT;
        rc = on_event(&b, &ev);
        yaml_event_delete(&ev);
        if (rc < 0 || done)
            break;
    }
    yaml_parser_delete(&parser);

    /* On error, unwind the open containers; each is owned only by the stack at this point. */
    while (b.depth > 0) {
        frame_t *f = &b.stack[--b.depth];
        node_free(f->pending_key);
        node_free(f->node);
    }
    if (rc < 0) {
        sluice_yaml_doc_free(b.doc);
        return NULL;
    }
    return b.doc;
}

sluice_yaml_doc_t *sluice_yaml_load_file(const char *path, char *err, size_t err_len)
{
    /* Not blocking in open(): a FIFO with no writer (a `<(envsubst ...)` path once its shell is
     * gone, a mkfifo'd path) blocked fopen() forever, at start and in the gateway's SIGHUP reload
     * on the thread that also handles SIGTERM, so the gateway could no longer be stopped. */
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
    if (fd < 0) {
        snprintf(err, err_len, "%s: cannot open: %s", path, strerror(errno));
        return NULL;
    }
    struct stat st;
    if (fstat(fd, &st) != 0) {
        snprintf(err, err_len, "%s: cannot read: %s", path, strerror(errno));
        close(fd);
        return NULL;
    }
    if (!S_ISREG(st.st_mode)) {
        if (S_ISDIR(st.st_mode))
            snprintf(err, err_len, "%s: cannot read: %s", path, strerror(EISDIR));
        else
            snprintf(err, err_len,
                     "%s: not a regular file (a pipe, a socket or a device): sluice reads its config files again "
                     "at every reload, so each must be a file (render a template into a file first)",
                     path);
        close(fd);
        return NULL;
    }
    FILE *f = fdopen(fd, "rb");
    if (f == NULL) {
        snprintf(err, err_len, "%s: cannot open: %s", path, strerror(errno));
        close(fd);
        return NULL;
    }
    char *buf = NULL;
    size_t len = 0, cap = 0;
    for (;;) {
        if (len == cap) {
            cap = cap ? cap * 2 : 8192;
            buf = xrealloc(buf, cap);
        }
        errno = 0;
        size_t n = fread(buf + len, 1, cap - len, f);
        len += n;
        if (len > MAX_FILE_BYTES) {
            /* A generated config of thousands of orgs reaches this honestly: say what to do. */
            snprintf(err, err_len,
                     "%s: larger than %u bytes (16 MiB), the most one config file may hold: put orgs in files of "
                     "their own, each named by an `- include:` entry of orgs (docs/config.md, Includes)",
                     path, MAX_FILE_BYTES);
            free(buf);
            fclose(f);
            return NULL;
        }
        if (n == 0)
            break;
    }
    int read_failed = ferror(f) ? (errno != 0 ? errno : EIO) : 0;
    fclose(f);
    if (read_failed) {
        snprintf(err, err_len, "%s: cannot read: %s", path, strerror(read_failed));
        free(buf);
        return NULL;
    }
    sluice_yaml_doc_t *doc = sluice_yaml_load_string(path, buf, len, err, err_len);
    free(buf);
    return doc;
}

const sluice_yaml_node_t *sluice_yaml_map_get(const sluice_yaml_node_t *map, const char *key)
{
    if (map == NULL || map->type != SLUICE_YAML_MAP)
        return NULL;
    for (size_t i = 0; i < map->pair_count; i++) {
        if (strcmp(map->pairs[i].key->scalar, key) == 0)
            return map->pairs[i].value;
    }
    return NULL;
}

static int is_plain(const sluice_yaml_node_t *n)
{
    return n != NULL && n->type == SLUICE_YAML_SCALAR && !n->quoted;
}

int sluice_yaml_is_null(const sluice_yaml_node_t *n)
{
    if (!is_plain(n))
        return -1;
    static const char *const nulls[] = {"", "~", "null", "Null", "NULL"};
    for (size_t i = 0; i < sizeof(nulls) / sizeof(nulls[0]); i++) {
        if (strcmp(n->scalar, nulls[i]) == 0)
            return 0;
    }
    return -1;
}

int sluice_yaml_as_bool(const sluice_yaml_node_t *n, int *out)
{
    if (!is_plain(n))
        return -1;
    static const char *const yes[] = {"true", "yes", "on"};
    static const char *const no[] = {"false", "no", "off"};
    for (size_t i = 0; i < 3; i++) {
        if (strcasecmp(n->scalar, yes[i]) == 0) {
            *out = 1;
            return 0;
        }
        if (strcasecmp(n->scalar, no[i]) == 0) {
            *out = 0;
            return 0;
        }
    }
    return -1;
}

int sluice_yaml_as_int(const sluice_yaml_node_t *n, long long *out)
{
    if (!is_plain(n))
        return -1;
    const char *s = n->scalar;
    const char *d = s + (*s == '-' || *s == '+');
    if (*d < '0' || *d > '9')
        return -1;
    for (const char *p = d; *p; p++) {
        if (*p < '0' || *p > '9')
            return -1;
    }
    errno = 0;
    char *end = NULL;
    long long v = strtoll(s, &end, 10);
    if (errno != 0 || end == NULL || *end != '\0')
        return -1;
    *out = v;
    return 0;
}

int sluice_yaml_as_double(const sluice_yaml_node_t *n, double *out)
{
    if (!is_plain(n) || n->scalar[0] == '\0')
        return -1;
    /* Only decimal notation: strtod alone would also take "inf", "nan" and hex floats. */
    int digits = 0;
    for (const char *p = n->scalar; *p; p++) {
        if (*p >= '0' && *p <= '9')
            digits = 1;
        else if (strchr("+-.eE", *p) == NULL)
            return -1;
    }
    if (!digits)
        return -1;
    errno = 0;
    char *end = NULL;
    double v = strtod(n->scalar, &end);
    if (errno != 0 || end == NULL || *end != '\0')
        return -1;
    *out = v;
    return 0;
}

const char *sluice_yaml_describe(const sluice_yaml_node_t *n)
{
    if (n == NULL)
        return "nothing";
    if (n->type == SLUICE_YAML_MAP)
        return "a map";
    if (n->type == SLUICE_YAML_SEQ)
        return "a list";
    int b;
    long long i;
    double d;
    if (sluice_yaml_is_null(n) == 0)
        return "null";
    if (sluice_yaml_as_bool(n, &b) == 0)
        return "a boolean";
    if (sluice_yaml_as_int(n, &i) == 0 || sluice_yaml_as_double(n, &d) == 0)
        return "a number";
    return "a string";
}
