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

/* Every ASCII byte, at every place in a word of eight (the normaliser lowercases eight bytes a
 * step): 'A' to 'Z' become 'a' to 'z', every other byte is kept, '@' and '[' beside them too. */
static void email_every_ascii_byte(void **state)
{
    (void)state;
    for (size_t shift = 0; shift < 8; shift++) {
        char in[160], want[160];
        size_t n = 0;
        for (size_t k = 0; k <= shift; k++)
            in[n++] = 'x'; /* not whitespace: nothing is trimmed */
        for (int c = 1; c < 0x80; c++)
            in[n++] = (char)c;
        in[n++] = 'x';
        in[n] = '\0';
        for (size_t k = 0; k <= n; k++)
            want[k] = in[k] >= 'A' && in[k] <= 'Z' ? (char)(in[k] + 32) : in[k];
        char out[256];
        long len = sluice_normalize(SLUICE_NORM_EMAIL, SLUICE_VARIANT_DEFAULT, in, n, NULL, out, sizeof(out));
        assert_int_equal(len, (long)n);
        assert_memory_equal(out, want, n);
    }
    /* Past a word or two written eight at a time, a letter outside ASCII: the whole value is
     * lowercased by Unicode's rules, from its start. */
    assert_string_equal(norm(SLUICE_NORM_EMAIL, SLUICE_VARIANT_DEFAULT, "MARIE.CURIE.JOSÉ@Example.COM", NULL),
                        "marie.curie.josé@example.com");
    /* Room for fewer than eight more bytes: refused as a byte at a time refused it. */
    char small[12];
    assert_int_equal(
        sluice_normalize(SLUICE_NORM_EMAIL, SLUICE_VARIANT_DEFAULT, "ABCDEFGHIJKLMNOP", 16, NULL, small, sizeof(small)),
        -1);
    assert_int_equal(
        sluice_normalize(SLUICE_NORM_EMAIL, SLUICE_VARIANT_DEFAULT, "ABCDEFGHIJKL", 12, NULL, small, sizeof(small)),
        12);
    assert_memory_equal(small, "abcdefghijkl", 12);
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

/* The browser sends what the person typed: a macOS keyboard or a copy-paste writes "Zoë" as 'e'
 * and U+0308 (NFD), a CRM export and most forms as U+00EB (NFC), a caps-lock form in capitals of
 * any script. Each way must give the one hash the vendor computed from its own (NFC, lowercased)
 * copy; the expected values are Python's unicodedata.normalize("NFC", s.lower()). */
static void one_hash_however_typed(void **state)
{
    (void)state;
    static const struct {
        sluice_normalizer_t n;
        const char *in, *want;
    } cases[] = {
        {SLUICE_NORM_NAME, "Zoë", "zoë"},
        {SLUICE_NORM_NAME, "Zoe\u0308", "zoë"},
        {SLUICE_NORM_NAME, "ZOE\u0308", "zoë"},
        {SLUICE_NORM_NAME, "Jose\u0301", "josé"},
        {SLUICE_NORM_NAME, "ØYVIND", "øyvind"},
        {SLUICE_NORM_NAME, "Дмитрий", "дмитрий"},
        {SLUICE_NORM_NAME, "ДМИТРИЙ", "дмитрий"},
        {SLUICE_NORM_NAME, "ДМИТРИИ\u0306", "дмитрий"},
        {SLUICE_NORM_NAME, "ΕΛΈΝΗ", "ελένη"},
        {SLUICE_NORM_NAME, "Ελε\u0301νη", "ελένη"},
        {SLUICE_NORM_NAME, "ĞÜLŞEN", "ğülşen"},
        /* Σ ends a word as ς, as "Νικόλαος" typed in lowercase does. */
        {SLUICE_NORM_NAME, "ΝΙΚΟΛΑΟΣ", "νικολαος"},
        {SLUICE_NORM_NAME, "ΝΙΚΌΛΑΟΣ-ΣΑΣ", "νικόλαοςσας"},
        {SLUICE_NORM_NAME, "G\u0306U\u0308LS\u0327EN", "ğülşen"},
        /* İ lowercases to i and a combining dot above (str.lower(), toLowerCase()). */
        {SLUICE_NORM_NAME, "İlker", "i\u0307lker"},
        {SLUICE_NORM_NAME, "I\u0307lker", "i\u0307lker"},
        {SLUICE_NORM_NAME, "김민준", "김민준"},
        {SLUICE_NORM_NAME, "\u1100\u1175\u11b7\u1106\u1175\u11ab\u110c\u116e\u11ab", "김민준"},
        {SLUICE_NORM_NAME, "Nguyễn", "nguyễn"},
        {SLUICE_NORM_NAME, "NGUYE\u0302\u0303N", "nguyễn"},
        /* The marks of one letter in another order are the same letter (canonical ordering). */
        {SLUICE_NORM_NAME, "Nguye\u0323\u0302n", "nguyện"},
        {SLUICE_NORM_NAME, "Nguye\u0302\u0323n", "nguyện"},
        /* Invisible characters a paste or an RTL keyboard adds are not part of the name. */
        {SLUICE_NORM_NAME, "\u200fمحمد\u200f", "محمد"},
        {SLUICE_NORM_NAME, "\ufeffZoë", "zoë"},
        /* Punctuation of any script goes where ASCII punctuation goes (Meta: "no punctuation"):
         * iOS types a typographic apostrophe, a Japanese IME a middle dot. */
        {SLUICE_NORM_NAME, "O’Brien", "obrien"},
        {SLUICE_NORM_NAME, "O'Brien", "obrien"},
        {SLUICE_NORM_NAME, "ジョン・スミス", "ジョンスミス"},
        {SLUICE_NORM_CITY, "Saint\u00a0Étienne", "saintétienne"},
        {SLUICE_NORM_CITY, "Saint–Étienne", "saintétienne"},
        {SLUICE_NORM_EMAIL, "jose\u0301@example.com", "josé@example.com"},
        {SLUICE_NORM_EMAIL, "JOSÉ@Example.com", "josé@example.com"},
        {SLUICE_NORM_EMAIL, "jo\u200bhn@example.com", "john@example.com"},
        {SLUICE_NORM_EMAIL, "用户@例子.广告", "用户@例子.广告"},
        {SLUICE_NORM_CITY, "KÖLN", "köln"},
        {SLUICE_NORM_CITY, "Ko\u0308ln", "köln"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const char *got = norm(cases[i].n, SLUICE_VARIANT_DEFAULT, cases[i].in, NULL);
        if (got == NULL || strcmp(got, cases[i].want) != 0)
            fail_msg("case %zu: \"%s\" normalised to \"%s\", want \"%s\"", i, cases[i].in, got ? got : "(null)",
                     cases[i].want);
    }
    /* End to end: the hash of the NFD spelling is that of the NFC one (Python hashlib). */
    assert_string_equal(hashed(SLUICE_NORM_NAME, "Zoe\u0308", NULL),
                        "2752b88686847fa5c86f47b94ce652b7b3f22a91c37617d451a4db9afa431450");
    assert_string_equal(hashed(SLUICE_NORM_NAME, "ДМИТРИЙ", NULL),
                        "9cbb0aeda3d54683c6c83020ac29df08bb001d6d0f77bfad1e2fcfdaa1c946f2");
    /* Bytes that are not UTF-8 (they never reach here from a parsed body) are kept, not lost. */
    static const char raw[] = {'A', (char)0xc0, (char)0xaf, 'B', (char)0xff, 0};
    static const char kept[] = {'a', (char)0xc0, (char)0xaf, 'b', (char)0xff, 0};
    assert_string_equal(norm(SLUICE_NORM_NAME, SLUICE_VARIANT_DEFAULT, raw, NULL), kept);
}

/* norm(), failing (rather than crashing) when the value is refused. */
static void expect(sluice_normalizer_t n, sluice_hash_variant_t v, const char *in, const char *cc, const char *want)
{
    const char *got = norm(n, v, in, cc);
    if (got == NULL || strcmp(got, want) != 0)
        fail_msg("\"%s\" normalised to \"%s\", want \"%s\"", in, got ? got : "(refused)", want);
}

/* Phones typed with a Japanese IME (full-width) or an Arabic, Persian or Hindi keyboard. */
static void phone_digits_of_any_script(void **state)
{
    (void)state;
    expect(SLUICE_NORM_PHONE, SLUICE_VARIANT_DEFAULT, "０９０-１２３４-５６７８", "81", "819012345678");
    expect(SLUICE_NORM_PHONE, SLUICE_VARIANT_GOOGLE, "＋８１ ９０ １２３４ ５６７８", "1", "+819012345678");
    expect(SLUICE_NORM_PHONE, SLUICE_VARIANT_DEFAULT, "+٩٦٦ ٥٠ ١٢٣ ٤٥٦٧", NULL, "966501234567");
    expect(SLUICE_NORM_PHONE, SLUICE_VARIANT_DEFAULT, "۰۹۱۲ ۳۴۵ ۶۷۸۹", "98", "989123456789");
    expect(SLUICE_NORM_PHONE, SLUICE_VARIANT_DEFAULT, "+९१ ९८७६५ ४३२१०", NULL, "919876543210");
    /* The same number typed in ASCII gives the same answer. */
    expect(SLUICE_NORM_PHONE, SLUICE_VARIANT_DEFAULT, "090-1234-5678", "81", "819012345678");
    /* Letters of other scripts after the number are a note, as in ASCII. */
    expect(SLUICE_NORM_PHONE, SLUICE_VARIANT_DEFAULT, "０９０-１２３４-５６７８（携帯）", "81", "819012345678");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(meta_published_vectors), cmocka_unit_test(email),
        cmocka_unit_test(email_every_ascii_byte), cmocka_unit_test(phone),
        cmocka_unit_test(places_and_dates),       cmocka_unit_test(overflow_is_refused),
        cmocka_unit_test(already_hashed),         cmocka_unit_test(variants),
        cmocka_unit_test(one_hash_however_typed), cmocka_unit_test(phone_digits_of_any_script),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
