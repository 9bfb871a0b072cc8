/* Tests for vendors/vault.c without a database: what sluice_vault_open says when it cannot
 * connect. libpq quotes parts of a connection string it cannot parse or use (a whole URI, a
 * password token, a password's first part taken for a port), and the string may hold the
 * password (SLUICE_DATABASE_URL may); the message, which sluicectl prints and sluice-deliver
 * logs, must not. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "vendors/vault.h"

/* Opens conninfo (which must fail) and returns the message. */
static const char *open_fails(const char *conninfo, sluice_err_t *err)
{
    memset(err, 0, sizeof(*err));
    sluice_vault_t *v = sluice_vault_open(conninfo, NULL, "unit test", err);
    assert_null(v);
    assert_non_null(strstr(err->msg, "cannot connect to the vault database"));
    return err->msg;
}

static void test_connect_errors_hide_the_password(void **state)
{
    (void)state;
    sluice_err_t err;
    /* libpq quotes the whole URI: the rest of it is still shown. */
    const char *m = open_fails("postgresql://u:s3cr3tpw@[::1/db", &err);
    assert_null(strstr(m, "s3cr3tpw"));
    assert_non_null(strstr(m, "IPv6"));
    /* A bad %-escape: libpq quotes the password token. */
    m = open_fails("postgresql://u:s3%zzcr3tpw@127.0.0.1/db", &err);
    assert_null(strstr(m, "zzcr3t"));
    assert_non_null(strstr(m, "percent-encoded"));
    /* An unescaped '/' in the password: its first part becomes the port. */
    m = open_fails("postgresql://u:s3cr3t/pw@127.0.0.1/db", &err);
    assert_null(strstr(m, "s3cr3t"));
    /* Keyword form, a space in the password: libpq quotes what follows it. */
    m = open_fails("host=127.0.0.1 port=1 password=s3cr3t tail", &err);
    assert_null(strstr(m, "s3cr3t"));
    assert_null(strstr(m, "tail"));
    /* In the query. */
    m = open_fails("postgresql://u@127.0.0.1/db?password=s3cr3t&port=x1", &err);
    assert_null(strstr(m, "s3cr3t"));
}

static void test_connect_errors_keep_the_rest(void **state)
{
    (void)state;
    sluice_err_t err;
    /* Nothing of the password in libpq's message: it is shown whole. */
    const char *m = open_fails("postgresql://u:s3cr3tpw@127.0.0.1:1/db", &err);
    assert_non_null(strstr(m, "\"127.0.0.1\", port 1 failed"));
    m = open_fails("postgresql://u:s3cr3tpw@127.0.0.1:1/db?sslmode=bogus", &err);
    assert_non_null(strstr(m, "invalid sslmode value: \"bogus\""));
    /* No password at all: libpq's message as it is. */
    m = open_fails("postgresql://u@[::1/db", &err);
    assert_non_null(strstr(m, "\"postgresql://u@[::1/db\""));
}

static void test_conn_message_edges(void **state)
{
    (void)state;
    char out[64];
    /* libpq's trailing newline goes; no conninfo, nothing to hide. */
    sluice_vault_conn_message(NULL, "could not connect: \"x\"\n", out, sizeof(out));
    assert_string_equal(out, "could not connect: \"x\"");
    /* An unclosed quote runs to the end. */
    sluice_vault_conn_message("postgresql://u:hunter22@h/d", "bad \"u:hunter22@h", out, sizeof(out));
    assert_string_equal(out, "bad \"***");
    /* Unquoted, the password itself. */
    sluice_vault_conn_message("password=hunter22 host=h", "no hunter22 here", out, sizeof(out));
    assert_string_equal(out, "no *** here");
    /* Option names stay, even where they are in the password's reach. */
    sluice_vault_conn_message("password=x port=abc", "invalid integer value \"abc\" for connection option \"port\"",
                              out, sizeof(out));
    assert_string_equal(out, "invalid integer value \"***\" for connection option \"port\"");
    /* Cut to the room there is, always terminated. */
    char small[8];
    sluice_vault_conn_message("postgresql://u:pw@h/d", "a long message from libpq", small, sizeof(small));
    assert_string_equal(small, "a long ");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_connect_errors_hide_the_password),
        cmocka_unit_test(test_connect_errors_keep_the_rest),
        cmocka_unit_test(test_conn_message_edges),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
