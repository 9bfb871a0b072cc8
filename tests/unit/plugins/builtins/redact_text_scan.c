/* Tests for plugins/redact_text/scan.c: e-mails, Luhn-valid cards and phones found in realistic
 * URLs, query strings and free text (percent-encoded too), with exact byte ranges in the
 * original text; look-alikes left alone (Luhn failures, dates, IPv4 addresses, versions, ids,
 * hex); kind selection; canonical forms for hashing; buffer reuse across scans. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "plugins/redact_text/scan.h"

static sluice_redact_scan_t S;

static int teardown_scan(void **state)
{
    (void)state;
    sluice_redact_scan_dispose(&S);
    return 0;
}

/* The text with every match replaced by [kind]. Static buffer. */
static const char *render(const char *text, unsigned kinds)
{
    static char out[8192];
    size_t n = strlen(text), p = 0, o = 0;
    assert_int_equal(sluice_redact_scan(&S, text, n, kinds), 0);
    for (size_t i = 0; i < S.count; i++) {
        const sluice_redact_match_t *m = &S.matches[i];
        assert_true(m->start >= p && m->end > m->start && m->end <= n);
        memcpy(out + o, text + p, m->start - p);
        o += m->start - p;
        o += (size_t)snprintf(out + o, sizeof(out) - o, "[%s]", sluice_redact_kind_name(m->kind));
        p = m->end;
    }
    memcpy(out + o, text + p, n - p);
    out[o + n - p] = '\0';
    return out;
}

static const unsigned ALL = SLUICE_REDACT_EMAIL | SLUICE_REDACT_CARD | SLUICE_REDACT_PHONE;

static void test_luhn(void **state)
{
    (void)state;
    assert_true(sluice_redact_luhn("4111111111111111", 16));
    assert_true(sluice_redact_luhn("378282246310005", 15));
    assert_true(sluice_redact_luhn("4222222222222", 13));
    assert_true(sluice_redact_luhn("4012888888881881235", 19));
    assert_false(sluice_redact_luhn("4111111111111112", 16));
    assert_false(sluice_redact_luhn("1234567812345678", 16));
    assert_true(sluice_redact_luhn("0", 1));
    assert_false(sluice_redact_luhn("", 0));
}

static void test_checkout_url(void **state)
{
    (void)state;
    const char *url = "https://shop.acme.test/checkout?email=jane.doe%40example.com&card=4111-1111-1111-1111&ref=abc";
    assert_string_equal(render(url, ALL), "https://shop.acme.test/checkout?email=[email]&card=[card]&ref=abc");
    assert_int_equal(S.count, 2);
    /* Ranges are in the original (encoded) text; the decoded ones point at the decoded match. */
    assert_int_equal(S.matches[0].start, strstr(url, "jane") - url);
    assert_int_equal(S.matches[0].end, strstr(url, "&card") - url);
    assert_memory_equal(S.dec + S.matches[0].dstart, "jane.doe@example.com", 20);
    assert_int_equal(S.matches[0].dend - S.matches[0].dstart, 20);
    assert_int_equal(S.matches[1].kind, SLUICE_REDACT_CARD);
    assert_int_equal(S.matches[1].end - S.matches[1].start, 19);
}

static void test_free_text_phone_and_order_number(void **state)
{
    (void)state;
    assert_string_equal(render("Call me at +1 (650) 555-1212 about order 1234567812345678.", ALL),
                        "Call me at [phone] about order 1234567812345678.");
    assert_int_equal(S.matches[0].international, 1);
    char canon[64];
    size_t n = sluice_redact_canonical(&S, &S.matches[0], canon, sizeof(canon));
    assert_int_equal(n, 12);
    assert_memory_equal(canon, "+16505551212", 12);
    /* A Luhn-failing card-shaped number stays too. */
    assert_string_equal(render("ticket 4111-1111-1111-1112 ok", ALL), "ticket 4111-1111-1111-1112 ok");
}

static void test_query_strings_encoded(void **state)
{
    (void)state;
    assert_string_equal(render("/signup?phone=%2B16505551212&e=JANE%2Bnews@Example.COM.&n=5", ALL),
                        "/signup?phone=[phone]&e=[email].&n=5");
    char canon[64];
    size_t n = sluice_redact_canonical(&S, &S.matches[1], canon, sizeof(canon));
    assert_int_equal(n, strlen("jane+news@example.com"));
    assert_memory_equal(canon, "jane+news@example.com", n);
    /* Form-encoded spaces between card groups, and a national number after a '+' used as a space. */
    assert_string_equal(render("q=pay+4111+1111+1111+1111&msg=call+0612345678", ALL), "q=pay+[card]&msg=call+[phone]");
    /* Broken escapes are kept as they are. */
    assert_string_equal(render("%zz%4%", ALL), "%zz%4%");
    assert_string_equal(render("a%40b.co %40 x%2540y.com", ALL), "[email] %40 x%2540y.com");
}

static void test_phone_forms(void **state)
{
    (void)state;
    assert_string_equal(render("(650) 555-1212 | 650-555-1212 | 650.555.1212 | 650 555 1212", ALL),
                        "[phone] | [phone] | [phone] | [phone]");
    assert_string_equal(render("06 12 34 56 78 / 06.12.34.56.78 / 0612345678 / 020 7946 0958", ALL),
                        "[phone] / [phone] / [phone] / [phone]");
    assert_string_equal(render("+44 (0)20 7946 0958, 0044 20 7946 0958, +33 6 12 34 56 78", ALL),
                        "[phone], [phone], [phone]");
    assert_string_equal(render("tel:+1-650-555-1212;ext", ALL), "tel:[phone];ext");
    /* Too short, or not phone-shaped. */
    assert_string_equal(render("+1 55 1212, 555-1212, 12345678, 612345678", ALL),
                        "+1 55 1212, 555-1212, 12345678, 612345678");
    /* A phone is a whole run of groups (or what a card leaves of one). */
    assert_string_equal(render("call 650 555 1212, then 4111 1111 1111 1111 (650) 555-1212", ALL),
                        "call [phone], then [card] [phone]");
    assert_string_equal(render("call 650 555 1212 2 times", ALL), "call 650 555 1212 2 times");
}

static void test_lookalikes_stay(void **state)
{
    (void)state;
    const char *text = "on 2024-01-15 and 15-01-2024 from 192.168.100.200 v10.20.30.40 build 1.2.3 "
                       "sha e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855 "
                       "ord4111111111111111 4111111111111111x 41111111111111111111 price 1,234,567.89";
    assert_string_equal(render(text, ALL), text);
    assert_int_equal(S.count, 0);
}

static void test_cards(void **state)
{
    (void)state;
    assert_string_equal(render("4111 1111 1111 1111, 378282246310005; 4222222222222 and 4012888888881881235", ALL),
                        "[card], [card]; [card] and [card]");
    /* The card inside a longer run of groups is found by whole groups. */
    assert_string_equal(render("paid 4111 1111 1111 1111 2024 done", ALL), "paid [card] 2024 done");
    assert_string_equal(render("ref 9999 5500-0000-0000-0004", ALL), "ref 9999 [card]");
    /* Double separators break a card. */
    assert_string_equal(render("4111  1111  1111  1111", ALL), "4111  1111  1111  1111");
    char canon[32];
    assert_string_equal(render("x 4111-1111-1111-1111 y", ALL), "x [card] y");
    size_t n = sluice_redact_canonical(&S, &S.matches[0], canon, sizeof(canon));
    assert_int_equal(n, 16);
    assert_memory_equal(canon, "4111111111111111", 16);
}

static void test_emails(void **state)
{
    (void)state;
    assert_string_equal(render("to: Jane.Doe+tag@mail.Example.co.uk, bob_1@x-y.io.", ALL), "to: [email], [email].");
    assert_string_equal(render("mailto:a@b.co?subject=hi", ALL), "mailto:[email]?subject=hi");
    assert_string_equal(render("https://user:secret@host.example/path", ALL), "https://user:[email]/path");
    const char *bad = "a@b.c x@@y.com @foo.com x@y x@-y.com x@y-.com x@y.c0m x@.com";
    assert_string_equal(render(bad, ALL), bad);
    assert_string_equal(render("..jane@x.io", ALL), "..[email]");
}

static void test_kind_selection(void **state)
{
    (void)state;
    const char *text = "jane@x.io 4111111111111111 +33612345678";
    assert_string_equal(render(text, SLUICE_REDACT_EMAIL), "[email] 4111111111111111 +33612345678");
    assert_string_equal(render(text, SLUICE_REDACT_CARD), "jane@x.io [card] +33612345678");
    assert_string_equal(render(text, SLUICE_REDACT_PHONE), "jane@x.io 4111111111111111 [phone]");
    assert_string_equal(render(text, 0), text);
    /* A card's digits are never taken for a phone when cards are off. */
    assert_string_equal(render("4111 1111 1111 1111", SLUICE_REDACT_PHONE), "4111 1111 1111 1111");
}

static void test_edges_and_reuse(void **state)
{
    (void)state;
    assert_int_equal(sluice_redact_scan(&S, "", 0, ALL), 0);
    assert_int_equal(S.count, 0);
    /* A NUL inside the text does not end it. */
    const char with_nul[] = "a\0b jane@x.io";
    assert_int_equal(sluice_redact_scan(&S, with_nul, sizeof(with_nul) - 1, ALL), 0);
    assert_int_equal(S.count, 1);
    assert_int_equal(S.matches[0].start, 4);
    /* Many matches in a large text, then a small scan reusing the buffers. */
    size_t reps = 2000, len = 0;
    const char *unit = "x jane@x.io 4111111111111111 ";
    char *big = malloc(reps * strlen(unit) + 1);
    assert_non_null(big);
    for (size_t i = 0; i < reps; i++) {
        memcpy(big + len, unit, strlen(unit));
        len += strlen(unit);
    }
    assert_int_equal(sluice_redact_scan(&S, big, len, ALL), 0);
    assert_int_equal(S.count, 2 * reps);
    for (size_t i = 1; i < S.count; i++)
        assert_true(S.matches[i].start >= S.matches[i - 1].end);
    free(big);
    assert_string_equal(render("no match here", ALL), "no match here");
    assert_int_equal(S.count, 0);
    /* UTF-8 around matches is kept byte for byte. */
    assert_string_equal(render("caf\xc3\xa9 jos\xc3\xa9@x.io \xe2\x98\x8e 06 12 34 56 78", ALL),
                        "caf\xc3\xa9 [email] \xe2\x98\x8e [phone]");
}

/* Internationalised addresses (RFC 6531) are e-mails too, whole: non-ASCII local parts, domains
 * and top-level domains, and nothing of them left over next to the placeholder. */
static void test_email_non_ascii(void **state)
{
    (void)state;
    assert_string_equal(render("jo\xc3\xab@example.com", ALL), "[email]");
    assert_string_equal(render("jane@ex\xc3\xa4mple.com", ALL), "[email]");
    assert_string_equal(render("Jos\xc3\xa9.Garc\xc3\xad"
                               "a@example.com",
                               ALL),
                        "[email]");
    assert_string_equal(render("\xe7\x94\xa8\xe6\x88\xb7@\xe4\xbe\x8b\xe5\xad\x90.\xe5\x85\xac\xe5\x8f\xb8", ALL),
                        "[email]");
    assert_string_equal(render("mail \xf0\x9f\x98\x80x@x.io!", ALL), "mail [email]!");
    assert_string_equal(render("ivan@\xd0\xbf\xd1\x80\xd0\xb8\xd0\xbc\xd0\xb5\xd1\x80.\xd1\x80\xd1\x84", ALL),
                        "[email]");
    /* Still not an e-mail: no dot in the domain, or an '@' alone. */
    assert_string_equal(render("jos\xc3\xa9@localhost \xc3\xa9@ @\xc3\xa9", ALL),
                        "jos\xc3\xa9@localhost \xc3\xa9@ @\xc3\xa9");
}

static void test_email_domain_back_off(void **state)
{
    (void)state;
    /* A domain running into digits stops at the last '.' or '-' that leaves a valid domain. */
    assert_string_equal(render("jane@x.io.2024 bob@y.io-2024-01 a@b.co4111", ALL),
                        "[email].2024 [email]-2024-01 a@b.co4111");
    assert_string_equal(render("Exam@le.COM.411121 2222 22;", ALL), "[email].[phone];");
}

static void test_email_is_a_boundary(void **state)
{
    (void)state;
    /* After an e-mail, '+' starts an international number, as after the "[email]" replacing it. */
    assert_string_equal(render("x=news@Example.COMn+55551212&e=1", ALL), "x=[email][phone]&e=1");
    assert_int_equal(S.matches[1].international, 1);
    assert_string_equal(render("x=news@Example.COM(650) 555-1212", ALL), "x=[email][phone]");
}

static void test_long_runs_are_not_cut(void **state)
{
    (void)state;
    /* 60 one-digit groups (joined by " -", which no card crosses), then a card: the run is read
     * whole however long it is. */
    char text[512];
    size_t n = 0;
    for (int i = 0; i < 60; i++)
        n += (size_t)snprintf(text + n, sizeof(text) - n, "%d -", i % 10);
    snprintf(text + n, sizeof(text) - n, "4111 1111 1111 1111");
    const char *r = render(text, ALL);
    assert_int_equal(S.count, 1);
    assert_int_equal(S.matches[0].kind, SLUICE_REDACT_CARD);
    assert_non_null(strstr(r, "9 -[card]"));
}

/* Masking is idempotent: the masked text scans to no match (the fuzz target checks the same on
 * every input it generates). */
static void test_masked_text_scans_clean(void **state)
{
    (void)state;
    static const char *const texts[] = {
        "https://shop.acme.test/checkout?email=jane.doe%40example.com&card=4111-1111-1111-1111&ref=abc",
        "Call me at +1 (650) 555-1212 about order 1234567812345678.",
        "on 2024-05 1-frord+1 1111111111111 4111 1+1 1111111111111 %zz",
        "q=pay+551212&x=news@Example.COMn+55551212&e=1",
        "op.ac=j4111doe%40examplem.card-1111-1511&ref=a",
        "4111 1111 1111 1111+0612345678 and 0612345678 4111-1111-1111-1111",
    };
    for (size_t i = 0; i < sizeof(texts) / sizeof(texts[0]); i++) {
        char masked[1024];
        snprintf(masked, sizeof(masked), "%s", render(texts[i], ALL));
        assert_true(S.count > 0);
        if (strcmp(render(masked, ALL), masked) != 0)
            fail_msg("masking \"%s\" again changed it: \"%s\"", texts[i], masked);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_luhn),
        cmocka_unit_test(test_checkout_url),
        cmocka_unit_test(test_free_text_phone_and_order_number),
        cmocka_unit_test(test_query_strings_encoded),
        cmocka_unit_test(test_phone_forms),
        cmocka_unit_test(test_lookalikes_stay),
        cmocka_unit_test(test_cards),
        cmocka_unit_test(test_emails),
        cmocka_unit_test(test_kind_selection),
        cmocka_unit_test(test_edges_and_reuse),
        cmocka_unit_test(test_email_domain_back_off),
        cmocka_unit_test(test_email_non_ascii),
        cmocka_unit_test(test_email_is_a_boundary),
        cmocka_unit_test(test_long_runs_are_not_cut),
        cmocka_unit_test(test_masked_text_scans_clean),
    };
    return cmocka_run_group_tests(tests, NULL, teardown_scan);
}
