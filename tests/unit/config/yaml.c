/*
 * Tests of config/yaml.c: positions of nodes, scalar typing (plain vs quoted), and what the
 * parser refuses (duplicate keys, anchors, aliases, several documents, non-scalar keys, tags,
 * tabs in indentation), each with its exact "file:line:col: message".
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "config/yaml.h"

static sluice_yaml_doc_t *parse(const char *text, char *err, size_t err_len)
{
    err[0] = '\0';
    return sluice_yaml_load_string("t.yaml", text, strlen(text), err, err_len);
}

static void expect_error(const char *text, const char *expected)
{
    char err[512];
    sluice_yaml_doc_t *doc = parse(text, err, sizeof(err));
    assert_null(doc);
    assert_string_equal(err, expected);
}

static void test_positions(void **state)
{
    (void)state;
    char err[512];
    sluice_yaml_doc_t *doc = parse("a: 1\n"
                                   "b:\n"
                                   "  c: [x, \"y\"]\n"
                                   "  d:\n"
                                   "    - {e: f}\n",
                                   err, sizeof(err));
    assert_non_null(doc);
    const sluice_yaml_node_t *root = doc->root;
    assert_int_equal(root->type, SLUICE_YAML_MAP);
    assert_int_equal(root->pair_count, 2);
    const sluice_yaml_node_t *b = sluice_yaml_map_get(root, "b");
    assert_int_equal(b->type, SLUICE_YAML_MAP);
    assert_int_equal(b->pos.line, 3);
    assert_int_equal(b->pos.col, 3);
    const sluice_yaml_node_t *c = sluice_yaml_map_get(b, "c");
    assert_int_equal(c->type, SLUICE_YAML_SEQ);
    assert_int_equal(c->item_count, 2);
    assert_int_equal(c->items[1]->pos.line, 3);
    assert_int_equal(c->items[1]->pos.col, 10); /* the opening quote */
    const sluice_yaml_node_t *d = sluice_yaml_map_get(b, "d");
    const sluice_yaml_node_t *e = sluice_yaml_map_get(d->items[0], "e");
    assert_string_equal(e->scalar, "f");
    assert_int_equal(e->pos.line, 5);
    assert_int_equal(e->pos.col, 11);
    assert_string_equal(e->pos.file, "t.yaml");
    assert_int_equal(root->pairs[1].key->pos.line, 2);
    assert_int_equal(root->pairs[1].key->pos.col, 1);
    assert_null(sluice_yaml_map_get(root, "zz"));
    sluice_yaml_doc_free(doc);
}

static void test_scalars_plain_vs_quoted(void **state)
{
    (void)state;
    char err[512];
    sluice_yaml_doc_t *doc =
        parse("i: 42\nqi: \"42\"\nneg: -7\nd: 2.5\nb: yes\nqb: 'true'\nn: ~\nempty:\nqn: \"null\"\n"
              "junk: 12abc\ninf: .inf\nhex: 0x10\nblock: |\n  true\n",
              err, sizeof(err));
    assert_non_null(doc);
    const sluice_yaml_node_t *r = doc->root;
    long long i;
    double d;
    int b;
    assert_int_equal(sluice_yaml_as_int(sluice_yaml_map_get(r, "i"), &i), 0);
    assert_int_equal(i, 42);
    assert_int_equal(sluice_yaml_as_int(sluice_yaml_map_get(r, "qi"), &i), -1);
    assert_int_equal(sluice_yaml_map_get(r, "qi")->quoted, 1);
    assert_int_equal(sluice_yaml_as_int(sluice_yaml_map_get(r, "neg"), &i), 0);
    assert_int_equal(i, -7);
    assert_int_equal(sluice_yaml_as_int(sluice_yaml_map_get(r, "d"), &i), -1);
    assert_int_equal(sluice_yaml_as_double(sluice_yaml_map_get(r, "d"), &d), 0);
    assert_true(d == 2.5);
    assert_int_equal(sluice_yaml_as_bool(sluice_yaml_map_get(r, "b"), &b), 0);
    assert_int_equal(b, 1);
    assert_int_equal(sluice_yaml_as_bool(sluice_yaml_map_get(r, "qb"), &b), -1);
    assert_int_equal(sluice_yaml_is_null(sluice_yaml_map_get(r, "n")), 0);
    assert_int_equal(sluice_yaml_is_null(sluice_yaml_map_get(r, "empty")), 0);
    assert_int_equal(sluice_yaml_is_null(sluice_yaml_map_get(r, "qn")), -1);
    assert_int_equal(sluice_yaml_as_int(sluice_yaml_map_get(r, "junk"), &i), -1);
    assert_int_equal(sluice_yaml_as_double(sluice_yaml_map_get(r, "junk"), &d), -1);
    assert_int_equal(sluice_yaml_as_double(sluice_yaml_map_get(r, "inf"), &d), -1);
    assert_int_equal(sluice_yaml_as_int(sluice_yaml_map_get(r, "hex"), &i), -1);
    const sluice_yaml_node_t *block = sluice_yaml_map_get(r, "block");
    assert_int_equal(block->quoted, 1);
    assert_string_equal(block->scalar, "true\n");
    assert_int_equal(sluice_yaml_as_bool(block, &b), -1);
    sluice_yaml_doc_free(doc);
}

static void test_int_overflow_refused(void **state)
{
    (void)state;
    char err[512];
    sluice_yaml_doc_t *doc = parse("big: 99999999999999999999\n", err, sizeof(err));
    long long i;
    assert_int_equal(sluice_yaml_as_int(sluice_yaml_map_get(doc->root, "big"), &i), -1);
    sluice_yaml_doc_free(doc);
}

static void test_duplicate_key(void **state)
{
    (void)state;
    expect_error("server:\n  listen: a\n  threads: 2\n  listen: b\n",
                 "t.yaml:4:3: duplicate key 'listen' (first at line 2)");
}

static void test_anchor_and_alias_refused(void **state)
{
    (void)state;
    expect_error("a: &x {b: 1}\n", "t.yaml:1:4: YAML anchors (&x) are not supported; write the value out");
    expect_error("a: &x 1\nb: *x\n", "t.yaml:1:4: YAML anchors (&x) are not supported; write the value out");
    /* The anchor is refused first above; libyaml's event parser does not resolve aliases, so an
     * alias on its own reaches the alias check. */
    expect_error("b: *x\n", "t.yaml:1:4: YAML aliases (*x) are not supported; write the value out");
}

static void test_multiple_documents_refused(void **state)
{
    (void)state;
    expect_error("a: 1\n---\nb: 2\n", "t.yaml:2:1: only one YAML document per file is supported");
}

static void test_non_scalar_key_refused(void **state)
{
    (void)state;
    expect_error("? [a, b]\n: 1\n", "t.yaml:1:3: map keys must be scalars, not lists");
    expect_error("{x: 1}: 2\n", "t.yaml:1:1: map keys must be scalars, not maps");
}

static void test_tags(void **state)
{
    (void)state;
    expect_error("a: !!int 5\n",
                 "t.yaml:1:4: YAML tags are not supported here ('tag:yaml.org,2002:int'); only !!str on a scalar");
    char err[512];
    sluice_yaml_doc_t *doc = parse("a: !!str 5\n", err, sizeof(err));
    assert_non_null(doc);
    long long i;
    assert_int_equal(sluice_yaml_map_get(doc->root, "a")->quoted, 1);
    assert_int_equal(sluice_yaml_as_int(sluice_yaml_map_get(doc->root, "a"), &i), -1);
    sluice_yaml_doc_free(doc);
}

static void test_syntax_error_position(void **state)
{
    (void)state;
    char err[512];
    assert_null(parse("a: 1\nb: [1, 2\nc: 3\n", err, sizeof(err)));
    assert_true(strncmp(err, "t.yaml:", 7) == 0);
    assert_non_null(strstr(err, "YAML syntax error: "));
    assert_null(parse("a: b: c\n", err, sizeof(err)));
    assert_string_equal(err, "t.yaml:1:5: YAML syntax error: mapping values are not allowed in this context");
}

/* A tab in indentation is named as such, at the tab, whatever libyaml's own wording for it. */
static void test_tab_in_indentation(void **state)
{
    (void)state;
    /* libyaml: "found character that cannot start any token". */
    expect_error("a:\n\tb: 1\n", "t.yaml:2:1: tab character at line 2 col 1: YAML indentation must use spaces");
    /* libyaml: "found a tab character that violates indentation". */
    expect_error("a:\n  b: 1\n  \tc: 2\n",
                 "t.yaml:3:3: tab character at line 3 col 3: YAML indentation must use spaces");
    expect_error("a:\r\n  - x\r\n\t- y\r\n",
                 "t.yaml:3:1: tab character at line 3 col 1: YAML indentation must use spaces");
    /* libyaml: "found a tab character where an indentation space is expected" (block scalar). */
    expect_error("a: |\n  x\n\ty\n", "t.yaml:3:1: tab character at line 3 col 1: YAML indentation must use spaces");
    expect_error("server:\n  https:\n\t  listen: x\n",
                 "t.yaml:3:1: tab character at line 3 col 1: YAML indentation must use spaces");
    /* Tabs that separate a value, or inside a flow list, are fine. */
    char err[512];
    sluice_yaml_doc_t *doc = parse("a:\t1\nb: [1,\n\t2]\n", err, sizeof(err));
    assert_non_null(doc);
    sluice_yaml_doc_free(doc);
    /* Another syntax error on a line that also has a tab later keeps libyaml's message. */
    expect_error("a: b: c\t\n", "t.yaml:1:5: YAML syntax error: mapping values are not allowed in this context");
}

static void test_empty_document(void **state)
{
    (void)state;
    char err[512];
    sluice_yaml_doc_t *doc = parse("", err, sizeof(err));
    assert_non_null(doc);
    assert_null(doc->root);
    sluice_yaml_doc_free(doc);
    doc = parse("# only a comment\n", err, sizeof(err));
    assert_non_null(doc);
    assert_null(doc->root);
    sluice_yaml_doc_free(doc);
}

static void test_nul_and_depth_refused(void **state)
{
    (void)state;
    expect_error("a: \"x\\0y\"\n", "t.yaml:1:4: NUL characters are not allowed in values");
    char deep[400];
    size_t n = 0;
    for (int i = 0; i < 70; i++)
        deep[n++] = '[';
    for (int i = 0; i < 70; i++)
        deep[n++] = ']';
    deep[n++] = '\n';
    deep[n] = '\0';
    expect_error(deep, "t.yaml:1:65: nesting deeper than 64 levels");
}

/* libyaml reports a byte it cannot read (not UTF-8, a control character) by its offset, not by a
 * mark: every such error was said to be at 1:1, wherever in a long file it was. */
static void test_unreadable_bytes_positioned(void **state)
{
    (void)state;
    expect_error("a: 1\nb: 2\nc: x\xff\n", "t.yaml:3:5: YAML syntax error: invalid leading UTF-8 octet (byte 0xff)");
    expect_error("a: 1\nbb: \x01\n", "t.yaml:2:5: YAML syntax error: control characters are not allowed (byte 0x01)");
}

/* A SaaS's generated config of 20,000 orgs is 52 MB in one file. The loader refuses a file over
 * 16 MiB, which docs/config.md did not say, with "not a config file?": the operator was left to
 * guess that includes (each file with its own limit) carry such a config. */
static void test_load_file_too_large_says_include(void **state)
{
    (void)state;
    char path[] = "/tmp/sluice-yaml-big.XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    FILE *fp = fdopen(fd, "w");
    assert_non_null(fp);
    fputs("version: 1\norgs:\n", fp);
    for (long written = 0; written <= 17L << 20;)
        written += fprintf(fp, "  - {id: org%ld, sources: [{id: web, write_key_env: K}]}\n", written);
    fclose(fp);
    char err[512];
    sluice_yaml_doc_t *doc = sluice_yaml_load_file(path, err, sizeof(err));
    unlink(path);
    assert_null(doc);
    assert_non_null(strstr(err, "larger than 16777216 bytes (16 MiB)"));
    assert_non_null(strstr(err, "include:"));
}

/* A directory is not a config file: named as such, not "read error". */
static void test_load_file_directory(void **state)
{
    (void)state;
    char err[512];
    assert_null(sluice_yaml_load_file("/tmp", err, sizeof(err)));
    assert_string_equal(err, "/tmp: cannot read: Is a directory");
}

/* A FIFO (a mkfifo'd path, `--config <(envsubst < t.yaml)` read again at a reload) is refused at
 * once: fopen() blocked until a writer came, which in the gateway's SIGHUP reload stopped the
 * thread that handles SIGTERM too. The alarm ends this test rather than hang it. */
static void test_load_file_fifo(void **state)
{
    (void)state;
    char dir[] = "/tmp/sluice-yaml-fifo.XXXXXX";
    assert_non_null(mkdtemp(dir));
    char path[64];
    snprintf(path, sizeof(path), "%s/sluice.yaml", dir);
    assert_int_equal(mkfifo(path, 0600), 0);
    char err[512], want[600];
    alarm(10);
    sluice_yaml_doc_t *doc = sluice_yaml_load_file(path, err, sizeof(err));
    alarm(0);
    unlink(path);
    rmdir(dir);
    assert_null(doc);
    snprintf(want, sizeof(want),
             "%s: not a regular file (a pipe, a socket or a device): sluice reads its config files again at every "
             "reload, so each must be a file (render a template into a file first)",
             path);
    assert_string_equal(err, want);
}

static void test_load_file_missing(void **state)
{
    (void)state;
    char err[512];
    assert_null(sluice_yaml_load_file("/nonexistent/sluice.yaml", err, sizeof(err)));
    assert_string_equal(err, "/nonexistent/sluice.yaml: cannot open: No such file or directory");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_positions),
        cmocka_unit_test(test_unreadable_bytes_positioned),
        cmocka_unit_test(test_load_file_directory),
        cmocka_unit_test(test_load_file_fifo),
        cmocka_unit_test(test_scalars_plain_vs_quoted),
        cmocka_unit_test(test_int_overflow_refused),
        cmocka_unit_test(test_duplicate_key),
        cmocka_unit_test(test_anchor_and_alias_refused),
        cmocka_unit_test(test_multiple_documents_refused),
        cmocka_unit_test(test_non_scalar_key_refused),
        cmocka_unit_test(test_tags),
        cmocka_unit_test(test_syntax_error_position),
        cmocka_unit_test(test_tab_in_indentation),
        cmocka_unit_test(test_empty_document),
        cmocka_unit_test(test_nul_and_depth_refused),
        cmocka_unit_test(test_load_file_missing),
        cmocka_unit_test(test_load_file_too_large_says_include),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
