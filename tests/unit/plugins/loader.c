/* Tests for plugins/loader.c with the fixture plugins of tests/fixtures/plugins: every broken
 * descriptor refused with its reason and nothing left mapped, create and selftest failures with
 * the plugin's own sentence, the guarded mask call (statuses, cap, UTF-8, per-thread contexts,
 * counters), domain-separated sealing, and the UTF-8 validator. */
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

#include "common/log.h"
#include "crypto/aead.h"
#include "crypto/keyring.h"
#include "plugins/loader.h"
#include "plugins/params.h"
#include "fixtures.h"

static void assert_contains(const char *hay, const char *needle)
{
    if (strstr(hay, needle) == NULL)
        fail_msg("expected \"%s\" in \"%s\"", needle, hay);
}

/* ------------------------------------------------------------------ refused descriptors */

typedef struct refusal {
    const char *fixture;
    const char *reason;
} refusal_t;

static void test_broken_descriptors_refused(void **state)
{
    (void)state;
    char desc_1_0[96], lying[96];
    snprintf(desc_1_0, sizeof(desc_1_0), "short descriptor: it declares 16 bytes, ABI 1.0 needs %zu",
             sizeof(sluice_mask_plugin_t));
    snprintf(lying, sizeof(lying), "descriptor declares %zu bytes but the exported object is only 24",
             sizeof(sluice_mask_plugin_t));
    const refusal_t cases[] = {
        {"broken_bad_magic", "not a sluice masking plugin: bad magic 0xdeadbeef (expected 0x534c4d50)"},
        {"broken_wrong_major", "built for ABI 2.0; this gateway speaks ABI 1: rebuild the plugin"},
        {"broken_newer_minor", "built for ABI 1.7, newer than this gateway's 1.0: upgrade the gateway"},
        {"broken_bad_signature", "built for another platform (4-byte pointers, 4-byte size_t, big-endian; "
                                 "this gateway: 8-byte pointers, 8-byte size_t, little-endian)"},
        {"broken_short_descriptor", desc_1_0},
        {"broken_lying_size", lying},
        {"broken_missing_symbol", "not a sluice masking plugin: it exports no symbol 'sluice_mask_plugin_v1'"},
        {"broken_abi2_only", "built for ABI 2 (exports sluice_mask_plugin_v2); this gateway speaks ABI 1"},
        {"broken_function_symbol", "'sluice_mask_plugin_v1' is not a data object"},
        {"broken_no_mask", "descriptor of 'no_mask': create, destroy and mask are required"},
        {"broken_bad_map", "descriptor of 'bad_map': config map entry 'width': default \"wide\" is not an integer"},
        {"broken_unterminated_map", "descriptor of 'unterminated_map': config map entry 1 points outside the plugin "
                                    "(is the map {0}-terminated?)"},
        {"broken_bad_name", "descriptor: name 'Upper Case' is not 1..64 characters of [a-z0-9_-]"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char path[512], want[1024];
        fixture_path(path, sizeof(path), cases[i].fixture);
        sluice_err_t err = {{0}};
        sluice_plugin_lib_t *lib = sluice_plugin_lib_open(path, &err);
        if (lib != NULL)
            fail_msg("%s was accepted", cases[i].fixture);
        snprintf(want, sizeof(want), "plugin %s: %s", path, cases[i].reason);
        assert_contains(err.msg, want);
        /* Rolled back: the file is no longer mapped into the process. */
        assert_int_equal(mapped(path), 0);
    }
}

static void test_unloadable_files(void **state)
{
    (void)state;
    sluice_err_t err = {{0}};
    assert_null(sluice_plugin_lib_open("/nonexistent/dir/none.so", &err));
    assert_string_equal(err.msg, "cannot open plugin /nonexistent/dir/none.so: No such file or directory");

    char tmpl[] = "/tmp/sluice-notelf-XXXXXX";
    int fd = mkstemp(tmpl);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, "hello\n", 6), 6);
    close(fd);
    assert_null(sluice_plugin_lib_open(tmpl, &err));
    char want[128];
    snprintf(want, sizeof(want), "cannot load plugin %s: ", tmpl);
    assert_contains(err.msg, want);
    unlink(tmpl);

    assert_null(sluice_plugin_lib_open("/tmp", &err));
    assert_string_equal(err.msg, "cannot open plugin /tmp: not a regular file");
}

static void test_good_descriptor(void **state)
{
    (void)state;
    char path[512];
    fixture_path(path, sizeof(path), "fixture");
    sluice_err_t err = {{0}};
    sluice_plugin_lib_t *lib = sluice_plugin_lib_open(path, &err);
    if (lib == NULL)
        fail_msg("%s", err.msg);
    const sluice_mask_plugin_t *d = sluice_plugin_lib_descriptor(lib);
    assert_string_equal(d->name, "fixture");
    assert_string_equal(d->version, "1.0.0");
    assert_int_equal(d->flags, SLUICE_MASK_FLAG_DETERMINISTIC);
    assert_int_equal(sluice_plugin_lib_declared_size(lib), sizeof(sluice_mask_plugin_t));
    assert_non_null(d->thread_init);
    assert_null(d->selftest);
    assert_string_equal(sluice_plugin_lib_path(lib), path);
    assert_true(mapped(path) > 0);
    sluice_plugin_lib_close(lib);
    assert_int_equal(mapped(path), 0);
}

/* ------------------------------------------------------------------ create and selftest */

static sluice_yaml_pos_t rule_pos = {.file = "acme.yaml", .line = 7, .col = 9};

static int create_from(const char *fixture, const char *params_yaml, sluice_plugin_lib_t **lib,
                       sluice_plugin_instance_t **inst, sluice_config_diag_t *diag, unsigned nthreads)
{
    char path[512];
    fixture_path(path, sizeof(path), fixture);
    sluice_err_t err = {{0}};
    *lib = sluice_plugin_lib_open(path, &err);
    if (*lib == NULL)
        fail_msg("%s", err.msg);
    sluice_yaml_doc_t *doc = params_yaml ? yaml_doc(params_yaml) : NULL;
    sluice_plugin_instance_opts_t o = {
        .params = doc ? doc->root : NULL,
        .pos = &rule_pos,
        .label = "orgs[0].data_layer.mask[0]",
        .org = "acme",
        .rule_path = "properties.card",
        .nthreads = nthreads,
    };
    int rc = sluice_plugin_instance_create(*lib, &o, inst, diag);
    sluice_yaml_doc_free(doc);
    return rc;
}

static void test_failing_create_reports_plugin_message(void **state)
{
    (void)state;
    sluice_config_diag_t d;
    sluice_config_diag_init(&d);
    sluice_plugin_lib_t *lib;
    sluice_plugin_instance_t *inst = (sluice_plugin_instance_t *)&lib; /* must be reset to NULL */
    assert_int_equal(create_from("broken_failing_create", NULL, &lib, &inst, &d, 1), -1);
    assert_null(inst);
    assert_int_equal(d.count, 1);
    char want[1024];
    snprintf(want, sizeof(want),
             "acme.yaml:7:9: orgs[0].data_layer.mask[0]: plugin 'broken' (%s) refused its configuration: the key "
             "must be 32 bytes",
             sluice_plugin_lib_path(lib));
    assert_string_equal(d.msgs[0], want);
    sluice_plugin_lib_close(lib);
    sluice_config_diag_dispose(&d);
}

/* A create answering a mask status (UNCHANGED) was reported as "refused its configuration:
 * unchanged", and the same in the gateway's reload log: name the plugin bug. */
static void test_create_positive_status_named(void **state)
{
    (void)state;
    sluice_config_diag_t d;
    sluice_config_diag_init(&d);
    sluice_plugin_lib_t *lib;
    sluice_plugin_instance_t *inst = NULL;
    assert_int_equal(create_from("broken_create_positive", NULL, &lib, &inst, &d, 1), -1);
    assert_null(inst);
    char want[1024];
    snprintf(want, sizeof(want),
             "acme.yaml:7:9: orgs[0].data_layer.mask[0]: plugin 'broken' (%s) create returned status 1, which is "
             "neither SLUICE_MASK_OK nor an error (a plugin bug)",
             sluice_plugin_lib_path(lib));
    assert_int_equal(d.count, 1);
    assert_string_equal(d.msgs[0], want);
    sluice_plugin_lib_close(lib);
    sluice_config_diag_dispose(&d);
}

/* A plugin file every user may rewrite is code anyone on the machine could put into the gateway. */
static void test_world_writable_refused(void **state)
{
    (void)state;
    char src[512], dst[600];
    fixture_path(src, sizeof(src), "fixture");
    snprintf(dst, sizeof(dst), "%s.ww.so", src);
    FILE *in = fopen(src, "rb"), *out = fopen(dst, "wb");
    assert_non_null(in);
    assert_non_null(out);
    char buf[65536];
    size_t n;
    while ((n = fread(buf, 1, sizeof(buf), in)) > 0)
        assert_int_equal(fwrite(buf, 1, n, out), n);
    fclose(in);
    fclose(out);
    assert_int_equal(chmod(dst, 0666), 0);
    sluice_err_t err = {{0}};
    assert_null(sluice_plugin_lib_open(dst, &err));
    char want[1024];
    snprintf(want, sizeof(want), "refusing plugin %s: every user may write it (chmod o-w)", dst);
    assert_string_equal(err.msg, want);
    assert_int_equal(chmod(dst, 0644), 0);
    sluice_plugin_lib_t *lib = sluice_plugin_lib_open(dst, &err);
    assert_non_null(lib);
    sluice_plugin_lib_close(lib);
    unlink(dst);
}

static void test_failing_selftest_destroys_instance(void **state)
{
    (void)state;
    sluice_config_diag_t d;
    sluice_config_diag_init(&d);
    sluice_plugin_lib_t *lib;
    sluice_plugin_instance_t *inst;
    /* The instance malloc'd in create is freed by destroy; the leak checker (ASan) sees it otherwise. */
    assert_int_equal(create_from("broken_failing_selftest", "{}", &lib, &inst, &d, 1), -1);
    assert_null(inst);
    assert_int_equal(d.count, 1);
    assert_contains(d.msgs[0], "params.yaml:1:1: orgs[0].data_layer.mask[0]: plugin 'broken' (");
    assert_contains(d.msgs[0], ") failed its selftest: known-answer vector 2 does not match");
    sluice_plugin_lib_close(lib);
    sluice_config_diag_dispose(&d);
}

/* ------------------------------------------------------------------ mask */

static int run(sluice_plugin_instance_t *inst, unsigned thread, sluice_mask_output_t *out, uint32_t type,
               const char *value, const char **reason)
{
    sluice_mask_input_t in = {.size = sizeof(in),
                              .type = type,
                              .path = "properties.card",
                              .path_len = 15,
                              .rule_path = "properties.card",
                              .rule_path_len = 15,
                              .value = value,
                              .value_len = strlen(value),
                              .org = "acme",
                              .org_len = 4,
                              .event = "Order",
                              .event_len = 5};
    *reason = NULL;
    return sluice_plugin_instance_mask(inst, thread, &in, out, reason);
}

static void test_mask_statuses_and_checks(void **state)
{
    (void)state;
    sluice_config_diag_t d;
    sluice_config_diag_init(&d);
    sluice_plugin_lib_t *lib;
    sluice_plugin_instance_t *inst;
    assert_int_equal(create_from("fixture", "{prefix: 'x-', fail_on: boom}", &lib, &inst, &d, 2), 0);
    assert_string_equal(sluice_plugin_instance_name(inst), "fixture");
    assert_string_equal(sluice_plugin_instance_org(inst), "acme");
    assert_string_equal(sluice_plugin_instance_rule(inst), "properties.card");
    sluice_mask_output_t out;
    assert_int_equal(sluice_plugin_output_init(&out, 0), 0);
    assert_int_equal(out.max, SLUICE_PLUGIN_OUTPUT_MAX);
    const char *why;

    assert_int_equal(run(inst, 0, &out, SLUICE_MASK_JSON_STRING, "abc", &why), SLUICE_MASK_OK);
    assert_string_equal(out.buf, "x-abc");
    assert_int_equal(out.type, SLUICE_MASK_OUT_STRING);
    assert_int_equal(run(inst, 0, &out, SLUICE_MASK_JSON_STRING, "__remove__", &why), SLUICE_MASK_REMOVE);
    assert_int_equal(run(inst, 0, &out, SLUICE_MASK_JSON_STRING, "__keep__", &why), SLUICE_MASK_UNCHANGED);
    assert_int_equal(run(inst, 0, &out, SLUICE_MASK_JSON_NUMBER, "42", &why), SLUICE_MASK_UNCHANGED);

    assert_int_equal(run(inst, 0, &out, SLUICE_MASK_JSON_STRING, "boom", &why), SLUICE_MASK_EINVAL);
    assert_string_equal(why, "invalid value");
    assert_int_equal(out.len, 0);
    assert_int_equal(run(inst, 0, &out, SLUICE_MASK_JSON_STRING, "__bogus__", &why), SLUICE_MASK_EINTERNAL);
    assert_string_equal(why, "plugin returned an unknown status");
    assert_int_equal(run(inst, 0, &out, SLUICE_MASK_JSON_STRING, "__badutf8__", &why), SLUICE_MASK_EINVAL);
    assert_string_equal(why, "output is not valid UTF-8");

    assert_int_equal(run(inst, 0, &out, SLUICE_MASK_JSON_STRING, "__null__", &why), SLUICE_MASK_OK);
    assert_int_equal(out.type, SLUICE_MASK_OUT_JSON);
    assert_string_equal(out.buf, "null");
    /* The output type is reset for every call. */
    assert_int_equal(run(inst, 0, &out, SLUICE_MASK_JSON_STRING, "z", &why), SLUICE_MASK_OK);
    assert_int_equal(out.type, SLUICE_MASK_OUT_STRING);

    /* Per-thread contexts: thread 0 has seen 9 values before this one, thread 1's context is new. */
    assert_int_equal(run(inst, 0, &out, SLUICE_MASK_JSON_STRING, "__ctx__", &why), SLUICE_MASK_OK);
    assert_string_equal(out.buf, "ctx:10");
    assert_int_equal(run(inst, 1, &out, SLUICE_MASK_JSON_STRING, "__ctx__", &why), SLUICE_MASK_OK);
    assert_string_equal(out.buf, "ctx:1");

    assert_int_equal(sluice_plugin_instance_calls(inst), 11);
    assert_int_equal(sluice_plugin_instance_errors(inst), 3);
    sluice_plugin_instance_count_error(inst, 1);
    assert_int_equal(sluice_plugin_instance_errors(inst), 4);

    sluice_plugin_output_dispose(&out);
    sluice_plugin_instance_destroy(inst);
    sluice_plugin_lib_close(lib);
    assert_int_equal(d.count, 0);
    sluice_config_diag_dispose(&d);
}

/* A careless third-party plugin whose log line quotes the value it failed on (the SDK forbids
 * it; the fixture's "__careless__" does it): the host's log gets the line with the personal data
 * the scanner finds replaced, never the value. Before, the line went to the log as written. */
static void test_plugin_log_line_scrubbed(void **state)
{
    (void)state;
    sluice_config_diag_t d;
    sluice_config_diag_init(&d);
    sluice_plugin_lib_t *lib;
    sluice_plugin_instance_t *inst;
    assert_int_equal(create_from("fixture", NULL, &lib, &inst, &d, 1), 0);
    char tmpl[] = "/tmp/sluice-plugin-log-XXXXXX";
    int fd = mkstemp(tmpl);
    assert_true(fd >= 0);
    unlink(tmpl);
    sluice_log_setup("test", SLUICE_LOG_DEBUG, fd);
    sluice_mask_output_t out;
    assert_int_equal(sluice_plugin_output_init(&out, 0), 0);
    const char *why;
    assert_int_equal(run(inst, 0, &out, SLUICE_MASK_JSON_STRING,
                         "__careless__Jane.Doe@Example.com, +1 (650) 555-1212, 4111 1111 1111 1111", &why),
                     SLUICE_MASK_EINVAL);
    sluice_log_setup("test", SLUICE_LOG_INFO, 2);
    char buf[2048];
    ssize_t n = pread(fd, buf, sizeof(buf) - 1, 0);
    close(fd);
    assert_true(n > 0);
    buf[n] = '\0';
    assert_contains(buf, "\"plugin.log\"");
    assert_contains(buf, "cannot mask '[email], [phone], [card]'");
    static const char *const raw[] = {"Jane", "Example", "555", "1111"};
    for (size_t i = 0; i < sizeof(raw) / sizeof(raw[0]); i++)
        if (strstr(buf, raw[i]) != NULL)
            fail_msg("the log holds '%s': %s", raw[i], buf);
    sluice_plugin_output_dispose(&out);
    sluice_plugin_instance_destroy(inst);
    sluice_plugin_lib_close(lib);
    sluice_config_diag_dispose(&d);
}

/* A plugin that keeps the first BYTE of an e-mail's local part (tests/fixtures/plugins/cuts_utf8.c):
 * the host checks the whole output when mask returns, so half a character is refused there and
 * nothing of the output is kept; whole characters pass. */
static void test_split_character_refused(void **state)
{
    (void)state;
    sluice_config_diag_t d;
    sluice_config_diag_init(&d);
    sluice_plugin_lib_t *lib;
    sluice_plugin_instance_t *inst;
    assert_int_equal(create_from("cuts_utf8", NULL, &lib, &inst, &d, 1), 0);
    sluice_mask_output_t out;
    assert_int_equal(sluice_plugin_output_init(&out, 0), 0);
    const char *why;
    assert_int_equal(run(inst, 0, &out, SLUICE_MASK_JSON_STRING, "alice@example.com", &why), SLUICE_MASK_OK);
    assert_string_equal(out.buf, "a****@example.com");
    static const char *const cut[] = {"\xc3\xa9va@example.com", "\xe2\x82\xac@example.com",
                                      "\xf0\x9f\x98\x80x@example.com"};
    for (size_t i = 0; i < sizeof(cut) / sizeof(cut[0]); i++) {
        assert_int_equal(run(inst, 0, &out, SLUICE_MASK_JSON_STRING, cut[i], &why), SLUICE_MASK_EINVAL);
        assert_string_equal(why, "output is not valid UTF-8");
        assert_int_equal(out.len, 0);
    }
    assert_int_equal(sluice_plugin_instance_errors(inst), 3);
    sluice_plugin_output_dispose(&out);
    sluice_plugin_instance_destroy(inst);
    sluice_plugin_lib_close(lib);
    sluice_config_diag_dispose(&d);
}

static void test_output_cap(void **state)
{
    (void)state;
    sluice_config_diag_t d;
    sluice_config_diag_init(&d);
    sluice_plugin_lib_t *lib;
    sluice_plugin_instance_t *inst;
    assert_int_equal(create_from("fixture", "{prefix: '', repeat: 10}", &lib, &inst, &d, 1), 0);
    sluice_mask_output_t out;
    assert_int_equal(sluice_plugin_output_init(&out, 50), 0);
    const char *why;
    /* 10 x 5 bytes = exactly the cap: fine. */
    assert_int_equal(run(inst, 0, &out, SLUICE_MASK_JSON_STRING, "12345", &why), SLUICE_MASK_OK);
    assert_int_equal(out.len, 50);
    /* 10 x 6 bytes: over the cap, the plugin sees ETOOBIG from append and the call fails. */
    assert_int_equal(run(inst, 0, &out, SLUICE_MASK_JSON_STRING, "123456", &why), SLUICE_MASK_ETOOBIG);
    assert_string_equal(why, "output too large");
    assert_int_equal(out.len, 0);
    assert_int_equal(sluice_plugin_instance_errors(inst), 1);
    sluice_plugin_output_dispose(&out);
    sluice_plugin_instance_destroy(inst);
    sluice_plugin_lib_close(lib);
    sluice_config_diag_dispose(&d);
}

/* ------------------------------------------------------------------ sealing */

static void test_seal_domain_separated(void **state)
{
    (void)state;
    uint8_t key[32];
    for (int i = 0; i < 32; i++)
        key[i] = (uint8_t)(i * 7 + 1);
    sluice_keyring_t *kr = sluice_keyring_create();
    sluice_err_t err = {{0}};
    assert_int_equal(sluice_keyring_add(kr, 3, key, 1, &err), 0);

    uint8_t sealed[64], plain[64];
    size_t n = 0, m = 0;
    assert_int_equal(sluice_plugin_seal(kr, "acme|ssn", 8, "123-45-6789", 11, sealed, sizeof(sealed), &n, &err),
                     SLUICE_MASK_OK);
    assert_int_equal(n, 11 + SLUICE_MASK_SEAL_OVERHEAD);
    assert_int_equal(sealed[0], 3); /* key id of the primary */
    assert_int_equal(sluice_plugin_open(kr, "acme|ssn", 8, sealed, n, plain, sizeof(plain), &m, &err), SLUICE_MASK_OK);
    assert_int_equal(m, 11);
    assert_memory_equal(plain, "123-45-6789", 11);
    /* Other AAD, or the host's plain sealed-message format without the domain: refused. */
    assert_int_equal(sluice_plugin_open(kr, "acme|ss", 7, sealed, n, plain, sizeof(plain), &m, &err),
                     SLUICE_MASK_EINVAL);
    assert_int_equal(sluice_aead_open(kr, "acme|ssn", 8, sealed, n, plain, sizeof(plain), &m, NULL), SLUICE_AEAD_EAUTH);
    /* And a message the host sealed for itself cannot be opened through the plugin API. */
    assert_int_equal(sluice_aead_seal(kr, "x", 1, "tok", 3, sealed, sizeof(sealed), &n, &err), 0);
    assert_int_equal(sluice_plugin_open(kr, "x", 1, sealed, n, plain, sizeof(plain), &m, &err), SLUICE_MASK_EINVAL);

    assert_int_equal(sluice_plugin_seal(kr, NULL, 0, "abc", 3, sealed, 10, &n, &err), SLUICE_MASK_EINVAL);
    assert_int_equal(sluice_plugin_seal(NULL, NULL, 0, "abc", 3, sealed, sizeof(sealed), &n, &err),
                     SLUICE_MASK_ECONFIG);
    assert_string_equal(err.msg, "no key ring (set ENCRYPTION_KEY)");
    assert_int_equal(sluice_plugin_open(NULL, NULL, 0, sealed, n, plain, sizeof(plain), &m, &err), SLUICE_MASK_ECONFIG);
    sluice_keyring_free(kr);
}

/* ------------------------------------------------------------------ UTF-8 */

static void test_utf8(void **state)
{
    (void)state;
    static const char *const good[] = {
        "", "plain", "caf\xc3\xa9", "\xe2\x82\xac", "\xf0\x9f\x98\x80", "\xf4\x8f\xbf\xbf"};
    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
        assert_true(sluice_plugin_utf8_valid(good[i], strlen(good[i])));
    assert_true(sluice_plugin_utf8_valid("a\0b", 3)); /* U+0000 is valid UTF-8 */
    static const char *const bad[] = {"\xff",     "\xc0\x80",         "\xe0\x80\xaf", "\xed\xa0\x80",
                                      "\xe2\x82", "\xf4\x90\x80\x80", "\x80",         "a\xc3"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        if (sluice_plugin_utf8_valid(bad[i], strlen(bad[i])))
            fail_msg("bad[%zu] accepted", i);
    }
    /* The same after and before ASCII runs of every length around the 8-byte steps. */
    char buf[64];
    for (size_t pre = 0; pre < 18; pre++) {
        for (size_t post = 0; post < 10; post += 3) {
            for (size_t k = 0; k < 2; k++) {
                const char *const *set = k == 0 ? good : bad;
                size_t count = k == 0 ? sizeof(good) / sizeof(good[0]) : sizeof(bad) / sizeof(bad[0]);
                for (size_t i = 0; i < count; i++) {
                    size_t n = strlen(set[i]);
                    memset(buf, 'a', pre);
                    memcpy(buf + pre, set[i], n);
                    memset(buf + pre + n, 'z', post);
                    if (sluice_plugin_utf8_valid(buf, pre + n + post) != (k == 0))
                        fail_msg("%s[%zu] after %zu and before %zu ASCII bytes: wrong answer", k ? "bad" : "good", i,
                                 pre, post);
                }
            }
        }
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_broken_descriptors_refused),
        cmocka_unit_test(test_unloadable_files),
        cmocka_unit_test(test_good_descriptor),
        cmocka_unit_test(test_failing_create_reports_plugin_message),
        cmocka_unit_test(test_create_positive_status_named),
        cmocka_unit_test(test_world_writable_refused),
        cmocka_unit_test(test_failing_selftest_destroys_instance),
        cmocka_unit_test(test_mask_statuses_and_checks),
        cmocka_unit_test(test_output_cap),
        cmocka_unit_test(test_seal_domain_separated),
        cmocka_unit_test(test_split_character_refused),
        cmocka_unit_test(test_plugin_log_line_scrubbed),
        cmocka_unit_test(test_utf8),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
