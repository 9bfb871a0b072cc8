/* Tests for gateway/normalize.c: each normaliser, the vendor variants, and Meta's published
 * hashing examples (VENDORS.md) end to end through SHA-256. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "crypto/hash.h"
#include "gateway/normalize.h"

static const char *norm(sluice_normalizer_t n, sluice_hash_variant_t v, const char *in, const char *cc)
{
    static char out[256];
    long len = sluice_normalize(n, v, in, strlen(in), cc, out, sizeof(out) - 1);
    if (len < 0)
        return NULL;
    out[len] = '\0';
    return out;
}

static const char *hashed(sluice_normalizer_t n, const char *in, const char *cc)
{
    static char hex[65];
    const char *v = norm(n, SLUICE_VARIANT_DEFAULT, in, cc);
    assert_non_null(v);
    assert_int_equal(sluice_sha256_hex(v, strlen(v), hex), 0);
    return hex;
}

static void meta_published_vectors(void **state)
{
    (void)state;
    assert_string_equal(hashed(SLUICE_NORM_EMAIL, "John_Smith@gmail.com", NULL),
                        "62a14e44f765419d10fea99367361a727c12365e2520f32218d505ed9aa0f62f");
    assert_string_equal(norm(SLUICE_NORM_PHONE, SLUICE_VARIANT_DEFAULT, "(650)555-1212", "1"), "16505551212");
    assert_string_equal(hashed(SLUICE_NORM_PHONE, "(650)555-1212", "1"),
                        "e323ec626319ca94ee8bff2e4c87cf613be6ea19919ed1364124e16807ab3176");
    assert_string_equal(hashed(SLUICE_NORM_NAME, "Mary", NULL),
                        "6915771be1c5aa0c886870b6951b03d7eafc121fea0e80a5ea83beb7c449f4ec");
    assert_string_equal(hashed(SLUICE_NORM_NAME, "Valéry", NULL),
                        "08e1996b5dd49e62a4b4c010d44e4345592a863bb9f8e3976219bac29417149c");
    /* Capital accented letters lowercase too, so both spellings join. */
    assert_string_equal(hashed(SLUICE_NORM_NAME, "VALÉRY", NULL),
                        "08e1996b5dd49e62a4b4c010d44e4345592a863bb9f8e3976219bac29417149c");
}

static void email(void **state)
{
    (void)state;
    assert_string_equal(norm(SLUICE_NORM_EMAIL, SLUICE_VARIANT_DEFAULT, "  Jo.Hn@GMail.com \n", NULL),
                        "jo.hn@gmail.com");
    assert_string_equal(norm(SLUICE_NORM_EMAIL, SLUICE_VARIANT_GOOGLE, "  Jo.Hn@GMail.com ", NULL), "john@gmail.com");
    assert_string_equal(norm(SLUICE_NORM_EMAIL, SLUICE_VARIANT_GOOGLE, "a.b@googlemail.com", NULL),
                        "ab@googlemail.com");
    /* Dots only go for Google's own domains. */
    assert_string_equal(norm(SLUICE_NORM_EMAIL, SLUICE_VARIANT_GOOGLE, "a.b@example.com", NULL), "a.b@example.com");
    assert_null(norm(SLUICE_NORM_EMAIL, SLUICE_VARIANT_DEFAULT, "   ", NULL));
    /* Reddit's canonical form, for every domain: no alias, letters and digits before the '@'. */
    assert_string_equal(norm(SLUICE_NORM_EMAIL, SLUICE_VARIANT_REDDIT, " Al.ice$+Apple@Example.Com ", NULL),
                        "alice@example.com");
    assert_string_equal(norm(SLUICE_NORM_EMAIL, SLUICE_VARIANT_REDDIT, "first_last-1@sub.example.co.uk", NULL),
                        "firstlast1@sub.example.co.uk");
    /* Nothing left before the '@': no variant, rather than the hash of "@example.com". */
    assert_null(norm(SLUICE_NORM_EMAIL, SLUICE_VARIANT_REDDIT, "+tag@example.com", NULL));
    assert_true(sluice_normalize_variant_differs(SLUICE_NORM_EMAIL, SLUICE_VARIANT_REDDIT));
    assert_string_equal(sluice_hash_variant_name(SLUICE_VARIANT_REDDIT), "reddit");
}

static void phone(void **state)
{
    (void)state;
    assert_string_equal(norm(SLUICE_NORM_PHONE, SLUICE_VARIANT_DEFAULT, "+44 7911 123456", "1"), "447911123456");
    assert_string_equal(norm(SLUICE_NORM_PHONE, SLUICE_VARIANT_DEFAULT, "0044 7911 123456", NULL), "447911123456");
    assert_string_equal(norm(SLUICE_NORM_PHONE, SLUICE_VARIANT_DEFAULT, "07911 123456", "44"), "447911123456");
    assert_string_equal(norm(SLUICE_NORM_PHONE, SLUICE_VARIANT_DEFAULT, "1-650-555-1212", "1"), "16505551212");
    assert_string_equal(norm(SLUICE_NORM_PHONE, SLUICE_VARIANT_GOOGLE, "(650)555-1212", "1"), "+16505551212");
    assert_string_equal(norm(SLUICE_NORM_PHONE, SLUICE_VARIANT_TIKTOK, "(650)555-1212", "1"), "+16505551212");
    assert_string_equal(norm(SLUICE_NORM_PHONE, SLUICE_VARIANT_DEFAULT, "6505551212", NULL), "6505551212");
    /* The bracketed trunk zero after the country code is not dialled from abroad. */
    assert_string_equal(norm(SLUICE_NORM_PHONE, SLUICE_VARIANT_DEFAULT, "+44 (0)20 7946 0958", NULL), "442079460958");
    assert_string_equal(norm(SLUICE_NORM_PHONE, SLUICE_VARIANT_GOOGLE, "+49 ( 0 ) 30 1234567", "1"), "+49301234567");
    assert_string_equal(norm(SLUICE_NORM_PHONE, SLUICE_VARIANT_DEFAULT, "44 (0)20 7946 0958", "44"), "442079460958");
    assert_string_equal(norm(SLUICE_NORM_PHONE, SLUICE_VARIANT_DEFAULT, "(0)20 7946 0958", "44"), "442079460958");
    /* Extensions and notes after the number are not part of it. */
    assert_string_equal(norm(SLUICE_NORM_PHONE, SLUICE_VARIANT_DEFAULT, "+1 650-555-1212 ext. 42", NULL),
                        "16505551212");
    assert_string_equal(norm(SLUICE_NORM_PHONE, SLUICE_VARIANT_DEFAULT, "650.555.1212 x42", "1"), "16505551212");
    assert_string_equal(norm(SLUICE_NORM_PHONE, SLUICE_VARIANT_DEFAULT, "(650) 555-1212 #42", "1"), "16505551212");
    assert_string_equal(norm(SLUICE_NORM_PHONE, SLUICE_VARIANT_DEFAULT, "tel:+1-650-555-1212;ext=42", NULL),
                        "16505551212");
    assert_string_equal(norm(SLUICE_NORM_PHONE, SLUICE_VARIANT_DEFAULT, "+1 650 555 1212 (mobile)", NULL),
                        "16505551212");
    /* A bracketed area code is the number's own. */
    assert_string_equal(norm(SLUICE_NORM_PHONE, SLUICE_VARIANT_DEFAULT, "+1 (650) 555-1212", NULL), "16505551212");
    assert_null(norm(SLUICE_NORM_PHONE, SLUICE_VARIANT_DEFAULT, "call me", "1"));
    assert_null(norm(SLUICE_NORM_PHONE, SLUICE_VARIANT_DEFAULT, "000", "1"));
}

static void places_and_dates(void **state)
{
    (void)state;
    assert_string_equal(norm(SLUICE_NORM_CITY, SLUICE_VARIANT_DEFAULT, " San Francisco ", NULL), "sanfrancisco");
    assert_string_equal(norm(SLUICE_NORM_CITY, SLUICE_VARIANT_DEFAULT, "St. Louis-2", NULL), "stlouis");
    assert_string_equal(norm(SLUICE_NORM_STATE, SLUICE_VARIANT_DEFAULT, "California", NULL), "ca");
    assert_string_equal(norm(SLUICE_NORM_STATE, SLUICE_VARIANT_DEFAULT, "New York", NULL), "ny");
    assert_string_equal(norm(SLUICE_NORM_STATE, SLUICE_VARIANT_DEFAULT, "TX", NULL), "tx");
    assert_string_equal(norm(SLUICE_NORM_ZIP, SLUICE_VARIANT_DEFAULT, "94035-1234", NULL), "94035");
    assert_string_equal(norm(SLUICE_NORM_ZIP, SLUICE_VARIANT_DEFAULT, "SW1A 1AA", NULL), "sw1a1aa");
    assert_string_equal(norm(SLUICE_NORM_COUNTRY, SLUICE_VARIANT_DEFAULT, "US", NULL), "us");
    assert_string_equal(norm(SLUICE_NORM_COUNTRY, SLUICE_VARIANT_DEFAULT, "United States", NULL), "us");
    assert_null(norm(SLUICE_NORM_COUNTRY, SLUICE_VARIANT_DEFAULT, "Atlantis", NULL));
    assert_string_equal(norm(SLUICE_NORM_GENDER, SLUICE_VARIANT_DEFAULT, "Female", NULL), "f");
    assert_string_equal(norm(SLUICE_NORM_GENDER, SLUICE_VARIANT_DEFAULT, "M", NULL), "m");
    assert_null(norm(SLUICE_NORM_GENDER, SLUICE_VARIANT_DEFAULT, "unknown", NULL));
    assert_string_equal(norm(SLUICE_NORM_DATE, SLUICE_VARIANT_DEFAULT, "1990-02-28", NULL), "19900228");
    assert_string_equal(norm(SLUICE_NORM_DATE, SLUICE_VARIANT_DEFAULT, "19900228", NULL), "19900228");
    assert_string_equal(norm(SLUICE_NORM_DATE, SLUICE_VARIANT_DEFAULT, "1990-02-28T10:00:00Z", NULL), "19900228");
    assert_null(norm(SLUICE_NORM_DATE, SLUICE_VARIANT_DEFAULT, "1990-13-01", NULL));
    assert_null(norm(SLUICE_NORM_DATE, SLUICE_VARIANT_DEFAULT, "28/02/1990", NULL));
    assert_string_equal(norm(SLUICE_NORM_EXTERNAL_ID, SLUICE_VARIANT_DEFAULT, " Cust-42 ", NULL), "Cust-42");
    assert_string_equal(norm(SLUICE_NORM_RAW, SLUICE_VARIANT_DEFAULT, " As Is ", NULL), "As Is");
    assert_string_equal(norm(SLUICE_NORM_NAME, SLUICE_VARIANT_DEFAULT, "O'Brien-Smith", NULL), "obriensmith");
}

static void overflow_is_refused(void **state)
{
    (void)state;
    char out[4];
    assert_int_equal(sluice_normalize(SLUICE_NORM_RAW, SLUICE_VARIANT_DEFAULT, "abcdef", 6, NULL, out, sizeof(out)),
                     -1);
}

static void already_hashed(void **state)
{
    (void)state;
    const char *h = "62a14e44f765419d10fea99367361a727c12365e2520f32218d505ed9aa0f62f";
    assert_true(sluice_is_sha256_hex(h, 64));
    assert_false(sluice_is_sha256_hex("62A14E44F765419D10FEA99367361A727C12365E2520F32218D505ED9AA0F62F", 64));
    assert_false(sluice_is_sha256_hex(h, 63));
}

static void variants(void **state)
{
    (void)state;
    assert_true(sluice_normalize_variant_differs(SLUICE_NORM_PHONE, SLUICE_VARIANT_GOOGLE));
    assert_true(sluice_normalize_variant_differs(SLUICE_NORM_EMAIL, SLUICE_VARIANT_GOOGLE));
    assert_false(sluice_normalize_variant_differs(SLUICE_NORM_EMAIL, SLUICE_VARIANT_TIKTOK));
    assert_false(sluice_normalize_variant_differs(SLUICE_NORM_NAME, SLUICE_VARIANT_GOOGLE));
    assert_int_equal(sluice_hash_variant_for_vendor(SLUICE_VENDOR_GA4), SLUICE_VARIANT_GOOGLE);
    assert_int_equal(sluice_hash_variant_for_vendor(SLUICE_VENDOR_META), SLUICE_VARIANT_DEFAULT);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(meta_published_vectors),
        cmocka_unit_test(email),
        cmocka_unit_test(phone),
        cmocka_unit_test(places_and_dates),
        cmocka_unit_test(overflow_is_refused),
        cmocka_unit_test(already_hashed),
        cmocka_unit_test(variants),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
