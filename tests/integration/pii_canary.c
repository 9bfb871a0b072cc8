/*
 * The PII canary run: events carrying planted personal data, unique to this run, go through the
 * real gateway -> dev Kafka -> sluice-deliver -> HTTPS vendor stubs, on the example config
 * itself (config/examples/acme.yaml; only its vendor URLs, CA file and worker metrics port are
 * changed; its enrichment runs with the test MaxMind database, and the enriched fields must not
 * bring a planted value back; the rest comes in through SLUICE_* variables), with GA4's stub
 * refusing everything
 * (400) so its events land in the dead-letter topic. Then every output is searched for every
 * planted value, as sent, lowercased and URL-encoded, plus the forms a normaliser would make of
 * it (digits of a phone, local part of an e-mail...): both topics (keys, headers, values), the
 * processes' logs, both /metrics pages, every response the test received (status, headers,
 * body), the stubs' recorded requests, the vault's tables and `sluicectl dlq list`. 0 found.
 *
 * The values are planted in every field kind the example hashes, masks or drops: traits e-mail,
 * phone, first and last name; properties e-mail and buyer e-mails; a Luhn-valid card number, an
 * SSN-like number, a free-text note with an e-mail and a phone inside; an IP address (a server
 * source sends its own); a password; page and property URLs, referrers and search strings whose
 * query carries an e-mail and a card number; and, for events without consent (the example
 * strips them), a street address, context traits and a user agent with a marker; and, for the
 * PII guard, values in fields no rule names: an e-mail as userId, a phone and a street under keys
 * of their own, a phone, an IBAN and an SSN in free text, an e-mail as a property's key. They travel in
 * single events, batches, both kinds of pixel, signed server events, identify and alias, and in
 * requests the gateway refuses. The run also checks that the canaries really went through (the
 * hashes of the planted values where the vendors read them, masked forms in Kafka, deliveries at
 * the stubs, GA4's events in the DLQ), so it cannot pass by sending nothing.
 */
#include <ctype.h>
#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <curl/curl.h>
#include <libpq-fe.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <openssl/sha.h>

#include "tests/integration/deliver_fix.h"
#include "tests/integration/gwfix.h"

#define WEB_KEY     "wk_canary_web_3e8d"
#define HMAC_SECRET "canary-backend-signing-5b1f"
#define FPE_KEY     "2B7E151628AED2A6ABF7158809CF4F3C"
#define UA_PLAIN    "Mozilla/5.0 (X11; Linux x86_64) Gecko/20100101 Firefox/133.0"
#define CONSENT     "{\"categories\":[\"analytics\",\"marketing\"]}"

static gwfix_t G;
static dfix_t D;
static dstub_t META, GA4, HOOK;

/* ------------------------------------------------------------------ the canaries */

enum {
    C_EMAIL_TRAITS, /* traits.email (hashed) */
    C_EMAIL_PROPS,  /* properties.email (hashed) */
    C_EMAIL_BUYER,  /* properties.products[*].buyer_email (hashed) */
    C_EMAIL_NOTE,   /* inside properties.note (redact_text) */
    C_EMAIL_URL,    /* inside URLs' query strings, raw and percent-encoded */
    C_EMAIL_STRIP,  /* traits and context.traits of events without consent (stripped) */
    C_EMAIL_CTX,    /* context.traits.email only, as RudderStack's identify sends it (hashed: traits.email's mirror) */
    C_PHONE,        /* traits.phone (hashed) */
    C_PHONE_NOTE,   /* inside properties.note */
    C_FIRST,        /* traits.firstName (hashed) */
    C_LAST,         /* traits.lastName (hashed) */
    C_ADDRESS,      /* traits.address and context.traits.address without consent (stripped) */
    C_CARD,         /* properties.card_number (partial, last 4 kept) */
    C_CARD_URL,     /* inside URLs' query strings */
    C_SSN,          /* properties.ssn (fpe) */
    C_SSN_BAD,      /* properties.ssn in a form the example's fpe rule refuses (event rejected) */
    C_IP,           /* context.ip of a server source (ip_truncate) */
    C_PASSWORD,     /* properties.password (dropped) */
    C_UA,           /* the User-Agent of requests without consent (stripped) */
    /* Fields no rule of the example names: the PII guard's (pii_guard: mask). */
    C_EMAIL_UID,     /* an e-mail as userId (hashed like traits.email) */
    C_PHONE_UNNAMED, /* traits.phone_number (the example names traits.phone) */
    C_PHONE_CONTACT, /* inside properties.contact */
    C_STREET,        /* traits.shipping_street (its key says address) */
    C_IBAN,          /* inside properties.refund_to */
    C_SSN_FREE,      /* a US SSN inside properties.comment (national_ids: [us_ssn]) */
    C_EMAIL_KEY,     /* an e-mail as a property's KEY */
    C_BIRTHDAY,      /* traits.birthday (generalize: the year only) */
    C_IBAN_MSG,      /* inside properties.message (regex: the country only) */
    C_ANSWER_BAD,    /* properties.satisfaction outside randomized_response's categories (removed) */
    C_COUNT
};

typedef struct canary {
    const char *what;
    char value[160];
    char forms[12][160]; /* every form searched for, lowercase */
    int nforms;
} canary_t;

static canary_t C[C_COUNT];
static char TAG[9]; /* this run's id, in messageIds */

static void random_chars(char *out, size_t n, const char *alphabet)
{
    unsigned char b[64];
    assert_true(n <= sizeof(b));
    assert_int_equal(RAND_bytes(b, (int)n), 1);
    size_t al = strlen(alphabet);
    for (size_t i = 0; i < n; i++)
        out[i] = alphabet[b[i] % al];
    out[n] = '\0';
}

static const char LOWER[] = "abcdefghijklmnopqrstuvwxyz";
static const char DIGITS[] = "0123456789";

static void add_form(canary_t *c, const char *form)
{
    assert_true(c->nforms < 12 && strlen(form) >= 6); /* short forms would match by chance */
    char *f = c->forms[c->nforms++];
    snprintf(f, sizeof(c->forms[0]), "%s", form);
    for (char *p = f; *p; p++)
        *p = (char)tolower((unsigned char)*p);
}

/* RFC 3986 percent-encoding of everything but unreserved characters; form: ' ' as '+'. */
static void url_encode(const char *in, char *out, size_t cap, int form)
{
    size_t n = 0;
    for (const unsigned char *p = (const unsigned char *)in; *p && n + 4 < cap; p++) {
        if (isalnum(*p) || strchr("-._~", *p) != NULL)
            out[n++] = (char)*p;
        else if (form && *p == ' ')
            out[n++] = '+';
        else
            n += (size_t)snprintf(out + n, cap - n, "%%%02X", *p);
    }
    out[n] = '\0';
}

/* The value itself and its URL encodings. */
static void plant(int i, const char *what, const char *value)
{
    canary_t *c = &C[i];
    c->what = what;
    snprintf(c->value, sizeof(c->value), "%s", value);
    add_form(c, value);
    char enc[160];
    url_encode(value, enc, sizeof(enc), 0);
    if (strcmp(enc, value) != 0)
        add_form(c, enc);
    url_encode(value, enc, sizeof(enc), 1);
    if (strcmp(enc, value) != 0 && strcmp(enc, c->forms[c->nforms - 1]) != 0)
        add_form(c, enc);
}

static void plant_email(int i, const char *what)
{
    char r[9], v[64];
    random_chars(r, 8, LOWER);
    r[0] = (char)toupper((unsigned char)r[0]); /* the gateway lowercases before hashing */
    snprintf(v, sizeof(v), "Canary.%s@Example.com", r);
    plant(i, what, v);
    snprintf(v, sizeof(v), "canary.%s", r); /* the local part alone */
    add_form(&C[i], v);
}

/* A North American number written (AAA) EEE-LLLL; also searched as its digits, E.164 and the
 * other usual spellings. */
static void plant_phone(int i, const char *what, int international)
{
    char d[11], v[32];
    random_chars(d, 10, DIGITS);
    d[0] = (char)('2' + (d[0] - '0') % 8); /* area and exchange codes start with 2-9 */
    d[3] = (char)('2' + (d[3] - '0') % 8);
    if (international)
        snprintf(v, sizeof(v), "+1 %.3s-%.3s-%.4s", d, d + 3, d + 6);
    else
        snprintf(v, sizeof(v), "(%.3s) %.3s-%.4s", d, d + 3, d + 6);
    plant(i, what, v);
    add_form(&C[i], d);
    snprintf(v, sizeof(v), "1%s", d);
    add_form(&C[i], v);
    snprintf(v, sizeof(v), "%.3s-%.3s-%.4s", d, d + 3, d + 6);
    add_form(&C[i], v);
    snprintf(v, sizeof(v), "%.3s.%.3s.%.4s", d, d + 3, d + 6);
    add_form(&C[i], v);
    snprintf(v, sizeof(v), "%.3s %.3s %.4s", d, d + 3, d + 6);
    add_form(&C[i], v);
}

/* A 16-digit Visa-like number passing the Luhn check; also searched grouped and by its first
 * twelve digits (what a partial mask must hide). */
static void plant_card(int i, const char *what, int dashed)
{
    char d[17], v[32];
    random_chars(d + 1, 14, DIGITS);
    d[0] = '4';
    int sum = 0;
    for (int k = 14; k >= 0; k--) {
        int x = d[k] - '0';
        if ((14 - k) % 2 == 0 && (x *= 2) > 9)
            x -= 9;
        sum += x;
    }
    d[15] = (char)('0' + (10 - sum % 10) % 10);
    d[16] = '\0';
    if (dashed)
        snprintf(v, sizeof(v), "%.4s-%.4s-%.4s-%.4s", d, d + 4, d + 8, d + 12);
    else
        snprintf(v, sizeof(v), "%s", d);
    plant(i, what, v);
    if (dashed)
        add_form(&C[i], d);
    else {
        snprintf(v, sizeof(v), "%.4s-%.4s-%.4s-%.4s", d, d + 4, d + 8, d + 12);
        add_form(&C[i], v);
    }
    snprintf(v, sizeof(v), "%.4s %.4s %.4s %.4s", d, d + 4, d + 8, d + 12);
    add_form(&C[i], v);
    snprintf(v, sizeof(v), "%.12s", d);
    add_form(&C[i], v);
}

/* A German IBAN with valid check digits, written in groups of four; also searched compact. */
static void plant_iban(int i, const char *what)
{
    char bban[19], v[48], compact[32];
    random_chars(bban, 18, DIGITS);
    /* check digits: 98 - (BBAN + "DE00" as digits) mod 97, D=13, E=14 */
    char num[32];
    snprintf(num, sizeof(num), "%s131400", bban);
    unsigned rem = 0;
    for (const char *p = num; *p; p++)
        rem = (rem * 10 + (unsigned)(*p - '0')) % 97;
    snprintf(compact, sizeof(compact), "DE%02u%s", 98 - rem, bban);
    snprintf(v, sizeof(v), "%.4s %.4s %.4s %.4s %.4s %.2s", compact, compact + 4, compact + 8, compact + 12,
             compact + 16, compact + 20);
    plant(i, what, v);
    add_form(&C[i], compact);
    add_form(&C[i], bban);
}

/* A US SSN (area 100-599, group and serial non-zero) written 3-2-4 with dashes; also its digits. */
static void plant_ssn_free(int i, const char *what)
{
    char d[10], v[16];
    random_chars(d, 9, DIGITS);
    d[0] = (char)('1' + (d[0] - '0') % 5);
    d[3] = (char)('1' + (d[3] - '0') % 9);
    d[5] = (char)('1' + (d[5] - '0') % 9);
    snprintf(v, sizeof(v), "%.3s-%.2s-%.4s", d, d + 3, d + 5);
    plant(i, what, v);
    add_form(&C[i], d);
}

static void plant_all(void)
{
    random_chars(TAG, 8, LOWER);
    plant_email(C_EMAIL_TRAITS, "traits e-mail");
    plant_email(C_EMAIL_PROPS, "properties e-mail");
    plant_email(C_EMAIL_BUYER, "buyer e-mail");
    plant_email(C_EMAIL_NOTE, "e-mail in a note");
    plant_email(C_EMAIL_URL, "e-mail in URLs");
    plant_email(C_EMAIL_STRIP, "e-mail without consent");
    plant_email(C_EMAIL_CTX, "e-mail in context.traits only");
    plant_phone(C_PHONE, "phone", 0);
    plant_phone(C_PHONE_NOTE, "phone in a note", 1);
    char r[16], v[96];
    random_chars(r, 7, LOWER);
    snprintf(v, sizeof(v), "Zy%s", r);
    plant(C_FIRST, "first name", v);
    random_chars(r, 8, LOWER);
    snprintf(v, sizeof(v), "Vor%s", r);
    plant(C_LAST, "last name", v);
    char n[5];
    random_chars(n, 4, DIGITS);
    random_chars(r, 8, LOWER);
    snprintf(v, sizeof(v), "%c%s Wyx%s Street, Apt 4", '1' + (n[0] - '0') % 9, n + 1, r);
    plant(C_ADDRESS, "street address", v);
    snprintf(v, sizeof(v), "wyx%s", r); /* the street's name alone */
    add_form(&C[C_ADDRESS], v);
    plant_card(C_CARD, "card number", 0);
    plant_card(C_CARD_URL, "card number in URLs", 1);
    char s[10];
    random_chars(s, 9, DIGITS);
    s[0] = (char)('1' + (s[0] - '0') % 6); /* no leading 0, and not like a 17... timestamp */
    plant(C_SSN, "SSN", s);
    snprintf(v, sizeof(v), "%.3s-%.2s-%.4s", s, s + 3, s + 5);
    add_form(&C[C_SSN], v);
    random_chars(s, 9, DIGITS);
    s[0] = (char)('1' + (s[0] - '0') % 6);
    /* '/' is neither a digit nor a kept separator ("-"): the rule cannot encipher it. */
    snprintf(v, sizeof(v), "%.3s/%.2s/%.4s", s, s + 3, s + 5);
    plant(C_SSN_BAD, "SSN with slashes", v);
    add_form(&C[C_SSN_BAD], s);
    unsigned char ip[2];
    assert_int_equal(RAND_bytes(ip, 2), 1);
    snprintf(v, sizeof(v), "198.51.%d.%d", 1 + ip[0] % 254, 100 + ip[1] % 155);
    plant(C_IP, "IP address", v);
    random_chars(r, 10, LOWER);
    snprintf(v, sizeof(v), "Pw!%s#9", r);
    plant(C_PASSWORD, "password", v);
    add_form(&C[C_PASSWORD], r);
    random_chars(r, 10, LOWER);
    snprintf(v, sizeof(v), "canaryua%s", r);
    plant(C_UA, "user-agent marker", v);
    plant_email(C_EMAIL_UID, "e-mail as userId");
    plant_phone(C_PHONE_UNNAMED, "phone under traits.phone_number", 0);
    plant_phone(C_PHONE_CONTACT, "phone in properties.contact", 1);
    random_chars(r, 8, LOWER);
    snprintf(v, sizeof(v), "%d Canary%s Street", 10 + (r[0] % 80), r);
    plant(C_STREET, "street under traits.shipping_street", v);
    plant_iban(C_IBAN, "IBAN in properties.refund_to");
    plant_ssn_free(C_SSN_FREE, "SSN in properties.comment");
    plant_email(C_EMAIL_KEY, "e-mail as a key");
    /* A 20th-century birthday, searched also without its day and without dashes. */
    random_chars(n, 4, DIGITS);
    snprintf(v, sizeof(v), "19%.2s-%02d-%02d", n, 1 + (n[2] - '0'), 1 + (n[3] - '0') * 2);
    plant(C_BIRTHDAY, "birthday", v);
    snprintf(r, sizeof(r), "%.7s", v);
    add_form(&C[C_BIRTHDAY], r);
    snprintf(r, sizeof(r), "%.4s%.2s%.2s", v, v + 5, v + 8);
    add_form(&C[C_BIRTHDAY], r);
    /* A German-shaped IBAN written in groups; also searched compact and by its 18 digits. */
    char d[21];
    random_chars(d, 20, DIGITS);
    snprintf(v, sizeof(v), "DE%.2s %.4s %.4s %.4s %.4s %.2s", d, d + 2, d + 6, d + 10, d + 14, d + 18);
    plant(C_IBAN_MSG, "IBAN in a message", v);
    snprintf(r, sizeof(r), "%.4s%.4s%.4s", d + 2, d + 6, d + 10);
    add_form(&C[C_IBAN_MSG], r);
    char compact[32];
    snprintf(compact, sizeof(compact), "DE%s", d);
    add_form(&C[C_IBAN_MSG], compact);
    add_form(&C[C_IBAN_MSG], d + 2);
    random_chars(r, 8, LOWER);
    snprintf(v, sizeof(v), "Canaryanswer%s", r);
    plant(C_ANSWER_BAD, "answer outside the categories", v);
}

/* ------------------------------------------------------------------ the stack on the example config */

/* The example with `from` replaced by `to`, which must occur exactly once: if the example
 * changes shape, the run stops instead of testing something else. */
static char *replace_once(char *text, const char *from, const char *to)
{
    char *at = strstr(text, from);
    if (at == NULL || strstr(at + 1, from) != NULL) {
        print_error("config/examples/acme.yaml: expected exactly one '%s'\n", from);
        fail();
    }
    size_t n = strlen(text) - strlen(from) + strlen(to) + 1;
    char *out = malloc(n);
    snprintf(out, n, "%.*s%s%s", (int)(at - text), text, to, at + strlen(from));
    free(text);
    return out;
}

static const char *env_entry(const char *name, const char *value)
{
    size_t n = strlen(name) + strlen(value) + 2;
    char *e = malloc(n); /* lives as long as the process: the gateway may be restarted */
    snprintf(e, n, "%s=%s", name, value);
    return e;
}

static int setup(void **state)
{
    (void)state;
    sluice_err_t err = {{0}};
    curl_global_init(CURL_GLOBAL_DEFAULT);
    plant_all();
    gwfix_stack(&G);
    dfix_init(&D, G.kafka.bootstrap, G.certs, NULL, 1);
    dfix_stub(&D, &META, "meta", NULL, NULL);
    dfix_stub(&D, &GA4, "ga4", "400x256", NULL);
    dfix_stub(&D, &HOOK, "webhook", NULL, NULL);

    /* The test config: the example with only where the vendors are, which CA the worker trusts
     * and the worker's metrics port changed; the include and the audit file made absolute since
     * the file moves. The data layer, identity, consent and integrations are the example's. */
    const char *src = getenv("SLUICE_SOURCE_DIR");
    char path[PATH_MAX], to[PATH_MAX + 64];
    snprintf(path, sizeof(path), "%s/config/examples/acme.yaml", src);
    char *yaml = sluice_th_read_file(path, NULL, &err);
    assert_non_null(yaml);
    snprintf(to, sizeof(to), "base_url: %s", META.url);
    yaml = replace_once(yaml, "base_url: https://graph.facebook.com", to);
    snprintf(to, sizeof(to), "measurement_id: G-ACME123\n        base_url: %s\n", GA4.url);
    yaml = replace_once(yaml, "measurement_id: G-ACME123\n", to);
    snprintf(to, sizeof(to), "url: %s/sluice", HOOK.url);
    yaml = replace_once(yaml, "url: https://hooks.acme.test/sluice", to);
    snprintf(to, sizeof(to), "ca_file: %s", D.ca);
    yaml = replace_once(yaml, "ca_file: null", to);
    snprintf(to, sizeof(to), "metrics: {listen: \"127.0.0.1:%d\"}", D.metrics_port);
    yaml = replace_once(yaml, "metrics: {listen: \"127.0.0.1:9465\"}", to);
    snprintf(to, sizeof(to), "include: %s/config/examples/orgs/globex.yaml", src);
    yaml = replace_once(yaml, "include: orgs/globex.yaml", to);
    snprintf(to, sizeof(to), "audit_file: %s/audit.log", sluice_th_tmpdir(&err));
    yaml = replace_once(yaml, "audit_file: ../../build/demo/audit.log", to);
    /* The example's enrichment (every part on for acme) with this build's test MaxMind database. */
    snprintf(to, sizeof(to), "geo_database: %s/tests/fixtures/geo/test-city.mmdb", sluice_th_build_dir());
    yaml = replace_once(yaml, "geo_database: ../../build/tests/fixtures/geo/test-city.mmdb", to);
    snprintf(G.config, sizeof(G.config), "%s", gwfix_write("acme-canary.yaml", yaml));
    snprintf(D.config, sizeof(D.config), "%s", G.config);
    free(yaml);

    /* Everything else through the environment, as an operator would. */
    char v[PATH_MAX + 32];
    int n = 0;
    snprintf(v, sizeof(v), "127.0.0.1:%d", G.https_port);
    G.env[n++] = env_entry("SLUICE_HTTPS_LISTEN", v);
    snprintf(v, sizeof(v), "127.0.0.1:%d", G.metrics_port);
    G.env[n++] = env_entry("SLUICE_METRICS_LISTEN", v);
    snprintf(v, sizeof(v), "%s/server.crt", G.certs);
    G.env[n++] = env_entry("SLUICE_TLS_CERT", v);
    snprintf(v, sizeof(v), "%s/server.key", G.certs);
    G.env[n++] = env_entry("SLUICE_TLS_KEY", v);
    const char *kafka = env_entry("SLUICE_KAFKA_BROKERS", G.kafka.bootstrap);
    const char *db = env_entry("SLUICE_DATABASE_URL", D.pg.url);
    G.env[n++] = kafka;
    G.env[n++] = env_entry("SLUICE_REDIS_URL", G.redis.url);
    G.env[n++] = db;
    G.env[n++] = "SLUICE_LOG_LEVEL=debug"; /* the most the logs ever say */
    G.env[n++] = "ACME_WEB_WRITE_KEY=" WEB_KEY;
    G.env[n++] = "ACME_WEB_WRITE_KEY_PREVIOUS=wk_canary_web_previous";
    G.env[n++] = "ACME_APP_WRITE_KEY=wk_canary_app";
    G.env[n++] = "ACME_BACKEND_HMAC_SECRET=" HMAC_SECRET;
    G.env[n++] = "ACME_FPE_KEY=" FPE_KEY;
    G.env[n++] = "GLOBEX_STORE_WRITE_KEY=wk_canary_globex";
    G.env[n++] = "GLOBEX_CRM_HMAC_SECRET=canary-globex-crm";
    G.env[n++] = "ENCRYPTION_KEY=" DFIX_KEY1; /* globex's `encrypt` rule needs the key ring */
    G.env[n++] = "SLUICE_KEY_ID=1";
    G.env[n] = NULL;
    int m = 0;
    D.env[m++] = "ENCRYPTION_KEY=" DFIX_KEY1;
    D.env[m++] = "SLUICE_KEY_ID=1";
    D.env[m++] = "SLUICE_LOG_LEVEL=debug";
    D.env[m++] = kafka;
    D.env[m++] = db;
    D.env[m] = NULL;

    gwfix_start(&G);
    dfix_vault_put(&D, "meta", "meta", "{\"access_token\":\"EAAB-canary-meta\"}");
    dfix_vault_put(&D, "ga4", "ga4", "{\"api_secret\":\"canary-ga4-secret\"}");
    dfix_vault_put(&D, "acme-webhook", "webhook", "{\"secret\":\"canary-webhook-signing\"}");
    dfix_start_worker(&D, NULL, 4); /* meta, ga4, webhook, and globex's tiktok */
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    sluice_th_teardown();
    return 0;
}

/* ------------------------------------------------------------------ sending */

/* Every response the test received, status line, headers and body. */
static char *RESPONSES;
static size_t RESPONSES_LEN;

static void keep_response(const char *what, const http_resp_t *r)
{
    if (r->status != 200)
        print_message("%s: %ld %s\n", what, r->status,
                      r->len > 6 && memcmp(r->body, "GIF", 3) == 0 ? "(GIF)" : r->body);
    size_t add = strlen(what) + strlen(r->headers) + r->len + 64;
    RESPONSES = realloc(RESPONSES, RESPONSES_LEN + add + 1);
    assert_non_null(RESPONSES);
    int w = snprintf(RESPONSES + RESPONSES_LEN, add + 1, "=== %s: %ld\n%s\n%s\n", what, r->status, r->headers, r->body);
    RESPONSES_LEN += (size_t)w;
}

static long send_raw(const char *what, const char *path, const char *const *headers, const char *body)
{
    http_opts_t o = {.headers = headers, .body = body};
    http_resp_t r;
    http_do(gwfix_url(&G, path), &o, G.ca, &r);
    assert_int_equal(r.curl_error, 0);
    keep_response(what, &r);
    long status = r.status;
    http_resp_dispose(&r);
    return status;
}

/* Every browser request also says it was forwarded for the planted address: the test's peer
 * (127.0.0.1) is not among the example's trusted proxies, so the header must be ignored. */
static long send_json(const char *what, const char *path, json_t *body, const char *ua)
{
    char *s = json_dumps(body, JSON_COMPACT);
    json_decref(body);
    char uah[256], xff[192];
    snprintf(uah, sizeof(uah), "User-Agent: %s", ua);
    snprintf(xff, sizeof(xff), "X-Forwarded-For: %s", C[C_IP].value);
    const char *h[] = {"Authorization: Bearer " WEB_KEY, "Content-Type: application/json", uah, xff, NULL};
    long status = send_raw(what, path, h, s);
    free(s);
    return status;
}

/* The messageId (or other id) named `name` in this run: "canary-<tag>-<name>", the same string
 * for the same name, valid until exit. */
static const char *mid(const char *name)
{
    static char ids[64][64];
    static int count;
    char id[64];
    snprintf(id, sizeof(id), "canary-%s-%s", TAG, name);
    for (int i = 0; i < count; i++)
        if (strcmp(ids[i], id) == 0)
            return ids[i];
    assert_true(count < 64);
    snprintf(ids[count], sizeof(ids[0]), "%s", id);
    return ids[count++];
}

/* The URLs: the e-mail percent-encoded in one, raw in the other; the card dashed and bare. */
static char URL[512], REFERRER[512], SEARCH[512], PATH[256], TITLE[256];

static void make_urls(void)
{
    char email_enc[160], digits[17];
    url_encode(C[C_EMAIL_URL].value, email_enc, sizeof(email_enc), 0);
    snprintf(URL, sizeof(URL), "https://shop.acme.test/checkout?email=%s&card=%s&step=2", email_enc,
             C[C_CARD_URL].value);
    size_t k = 0;
    for (const char *p = C[C_CARD_URL].value; *p; p++)
        if (*p != '-')
            digits[k++] = *p;
    digits[k] = '\0';
    snprintf(REFERRER, sizeof(REFERRER), "https://shop.acme.test/cart?contact=%s&cc=%s", C[C_EMAIL_URL].value, digits);
    snprintf(SEARCH, sizeof(SEARCH), "?email=%s&card=%s", email_enc, C[C_CARD_URL].value);
    snprintf(PATH, sizeof(PATH), "/account/%s/orders", C[C_EMAIL_URL].value);
    snprintf(TITLE, sizeof(TITLE), "Orders of %s | Acme", C[C_EMAIL_URL].value);
}

static json_t *page_context(void)
{
    return json_pack("{s:s,s:s,s:s,s:s,s:s}", "url", URL, "referrer", REFERRER, "path", PATH, "title", TITLE, "search",
                     SEARCH);
}

static json_t *consented(json_t *event)
{
    json_t *ctx = json_object_get(event, "context");
    if (ctx == NULL)
        json_object_set_new(event, "context", ctx = json_object());
    json_object_set_new(ctx, "consent", json_loads(CONSENT, 0, NULL));
    if (json_object_get(ctx, "page") == NULL)
        json_object_set_new(ctx, "page", page_context());
    return event;
}

static char NOTE[512], MESSAGE[256];

/* A purchase carrying every property-level canary. */
static json_t *purchase(const char *id, const char *name)
{
    return json_pack("{s:s,s:s,s:s,s:s,s:{s:s,s:f,s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:[{s:s,s:f,s:i,s:s},"
                     "{s:s,s:f,s:i,s:s}]}}",
                     "type", "track", "event", name, "messageId", id, "anonymousId", mid("visitor-1"), "properties",
                     "order_id", "ORD-7741", "value", 42.5, "currency", "EUR", "email", C[C_EMAIL_PROPS].value,
                     "card_number", C[C_CARD].value, "ssn", C[C_SSN].value, "password", C[C_PASSWORD].value, "note",
                     NOTE, "url", URL, "referrer", REFERRER, "search", SEARCH, "products", "product_id", "SKU-9",
                     "price", 30.0, "quantity", 1, "buyer_email", C[C_EMAIL_BUYER].value, "product_id", "SKU-10",
                     "price", 12.5, "quantity", 1, "buyer_email", C[C_EMAIL_BUYER].value);
}

static json_t *person_traits(void)
{
    return json_pack("{s:s,s:s,s:s,s:s}", "email", C[C_EMAIL_TRAITS].value, "phone", C[C_PHONE].value, "firstName",
                     C[C_FIRST].value, "lastName", C[C_LAST].value);
}

/* Without consent: the example strips the person, so these carry what it has no rule for. */
static json_t *unconsented_traits(void)
{
    return json_pack("{s:s,s:s,s:s,s:s,s:s}", "email", C[C_EMAIL_STRIP].value, "phone", C[C_PHONE].value, "firstName",
                     C[C_FIRST].value, "lastName", C[C_LAST].value, "address", C[C_ADDRESS].value);
}

static char UA_MARKED[256];

/* What each vendor should end up with (messageIds). */
static const char *TO_META[8], *TO_HOOK[16], *TO_GA4_DLQ[8];
static int N_META, N_HOOK, N_GA4;

enum { META_GETS = 1, HOOK_GETS = 2, GA4_REFUSES = 4 };

/* Records where an accepted event must arrive: the integrations of the example that take it
 * (Meta: purchases and add-to-carts with marketing consent; GA4: analytics consent, not
 * identify; the webhook: track and identify, any consent). */
static void expect(const char *id, int where)
{
    if (where & META_GETS)
        TO_META[N_META++] = id;
    if (where & HOOK_GETS)
        TO_HOOK[N_HOOK++] = id;
    if (where & GA4_REFUSES)
        TO_GA4_DLQ[N_GA4++] = id;
}

static long send_signed(const char *what, json_t *body, const char *secret)
{
    char *s = json_dumps(body, JSON_COMPACT);
    json_decref(body);
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    gwfix_signed_t sg;
    gwfix_sign(&sg, secret, "acme/backend", "POST", "/v1/events", (long long)now.tv_sec * 1000 + now.tv_nsec / 1000000,
               s);
    const char *h[] = {"Content-Type: application/json", sg.source, sg.timestamp, sg.signature,
                       "User-Agent: " UA_PLAIN,          NULL};
    long status = send_raw(what, "/v1/events", h, s);
    free(s);
    return status;
}

static long send_pixel(const char *what, const char *query, const char *ua)
{
    char url[8192], uah[256]; /* longer than gwfix_url's buffer */
    snprintf(url, sizeof(url), "https://127.0.0.1:%d/v1/pixel/track?%s", G.https_port, query);
    snprintf(uah, sizeof(uah), "User-Agent: %s", ua);
    /* A pixel comes from a page of an allowed origin (its Referer). */
    const char *h[] = {uah, "Referer: https://shop.acme.test/checkout", NULL};
    http_opts_t o = {.headers = h};
    http_resp_t r;
    http_do(url, &o, G.ca, &r);
    assert_int_equal(r.curl_error, 0);
    keep_response(what, &r);
    long status = r.status;
    http_resp_dispose(&r);
    return status;
}

static void test_send_canaries(void **state)
{
    (void)state;
    make_urls();
    snprintf(NOTE, sizeof(NOTE), "Please call me at %s or write to %s before delivering.", C[C_PHONE_NOTE].value,
             C[C_EMAIL_NOTE].value);
    snprintf(UA_MARKED, sizeof(UA_MARKED), "Mozilla/5.0 (X11; Linux x86_64; %s) Gecko/20100101 Firefox/133.0",
             C[C_UA].value);

    /* 1. A single purchase with consent: Meta, GA4 (-> DLQ) and the webhook. It also carries a
     * message with an IBAN (regex) and a satisfaction answer (randomized_response). */
    const char *id = mid("track");
    json_t *ev = consented(purchase(id, "Purchase"));
    snprintf(MESSAGE, sizeof(MESSAGE), "Please refund to %s before Friday.", C[C_IBAN_MSG].value);
    json_object_set_new(json_object_get(ev, "properties"), "message", json_string(MESSAGE));
    json_object_set_new(json_object_get(ev, "properties"), "satisfaction", json_string("unhappy"));
    assert_int_equal(send_json("track", "/v1/track", ev, UA_PLAIN), 200);
    expect(id, META_GETS | HOOK_GETS | GA4_REFUSES);

    /* 2. identify with the person's traits. */
    id = mid("identify");
    ev = json_pack("{s:s,s:s,s:s,s:o}", "messageId", id, "anonymousId", mid("visitor-1"), "userId", mid("user-1"),
                   "traits", person_traits());
    json_object_set_new(json_object_get(ev, "traits"), "birthday", json_string(C[C_BIRTHDAY].value));
    assert_int_equal(send_json("identify", "/v1/identify", consented(ev), UA_PLAIN), 200);
    expect(id, HOOK_GETS);

    /* 2b. identify as RudderStack sends it: the traits only in context.traits. */
    id = mid("identify-context-traits");
    ev = json_pack("{s:s,s:s,s:s,s:{s:{s:s}}}", "messageId", id, "anonymousId", mid("visitor-4"), "userId",
                   mid("user-4"), "context", "traits", "email", C[C_EMAIL_CTX].value);
    assert_int_equal(send_json("identify, context.traits", "/v1/identify", consented(ev), UA_PLAIN), 200);
    expect(id, HOOK_GETS);

    /* 3. A batch: add to cart, a page view with the page's own URL properties, identify. */
    const char *cart = mid("batch-cart"), *page = mid("batch-page"), *ident = mid("batch-identify");
    json_t *cart_ev = consented(purchase(cart, "AddToCart"));
    json_object_set_new(json_object_get(cart_ev, "properties"), "satisfaction", json_string(C[C_ANSWER_BAD].value));
    json_t *b = json_pack("{s:[o,o,o]}", "batch", cart_ev,
                          consented(json_pack("{s:s,s:s,s:s,s:{s:s,s:s,s:s,s:s,s:s}}", "type", "page", "messageId",
                                              page, "name", "Checkout", "properties", "url", URL, "referrer", REFERRER,
                                              "search", SEARCH, "path", PATH, "title", TITLE)),
                          consented(json_pack("{s:s,s:s,s:s,s:o}", "type", "identify", "messageId", ident, "userId",
                                              mid("user-2"), "traits", person_traits())));
    assert_int_equal(send_json("batch", "/v1/batch", b, UA_PLAIN), 200);
    expect(cart, META_GETS | HOOK_GETS | GA4_REFUSES);
    expect(page, GA4_REFUSES);
    expect(ident, HOOK_GETS);

    /* 4. alias from the visitor to the user. */
    ev = json_pack("{s:s,s:s,s:s}", "messageId", mid("alias"), "previousId", mid("visitor-1"), "userId", mid("user-1"));
    assert_int_equal(send_json("alias", "/v1/alias", consented(ev), UA_PLAIN), 200);

    /* 5. The pixel with plain parameters (an <img> carries no consent: stripped). */
    char q[4096], e1[160], e2[160], e3[160], pw[160], u[1024], ref[1024];
    url_encode(C[C_EMAIL_PROPS].value, e1, sizeof(e1), 0);
    url_encode(C[C_PASSWORD].value, pw, sizeof(pw), 0);
    url_encode(C[C_EMAIL_STRIP].value, e2, sizeof(e2), 0);
    url_encode(C[C_ADDRESS].value, e3, sizeof(e3), 1);
    url_encode(URL, u, sizeof(u), 0);
    url_encode(REFERRER, ref, sizeof(ref), 0);
    id = mid("pixel");
    int qn = snprintf(q, sizeof(q),
                      "writeKey=" WEB_KEY "&event=Purchase&messageId=%s&properties.email=%s&properties.card_number=%s"
                      "&properties.password=%s&traits.email=%s&traits.address=%s&url=%s&ref=%s",
                      id, e1, C[C_CARD].value, pw, e2, e3, u, ref);
    assert_true(qn > 0 && (size_t)qn < sizeof(q)); /* a cut query would plant less than it claims */
    assert_int_equal(send_pixel("pixel", q, UA_MARKED), 200);
    expect(id, HOOK_GETS);

    /* 6. The pixel with data= (base64url JSON of a whole event, consent included). */
    id = mid("pixel-data");
    ev = consented(purchase(id, "Purchase"));
    char *js = json_dumps(ev, JSON_COMPACT);
    json_decref(ev);
    size_t jl = strlen(js);
    unsigned char *b64 = malloc(4 * (jl / 3 + 2) + 1);
    int bl = EVP_EncodeBlock(b64, (const unsigned char *)js, (int)jl);
    free(js);
    for (int k = 0; k < bl; k++)
        b64[k] = b64[k] == '+' ? '-' : b64[k] == '/' ? '_' : b64[k];
    while (bl > 0 && b64[bl - 1] == '=')
        bl--;
    snprintf(q, sizeof(q), "writeKey=" WEB_KEY "&data=%.*s", bl, b64);
    free(b64);
    assert_int_equal(send_pixel("pixel data", q, UA_PLAIN), 200);
    expect(id, META_GETS | HOOK_GETS | GA4_REFUSES);

    /* 7. A signed server event with its own context.ip and the person's phone. */
    id = mid("server");
    ev = consented(purchase(id, "Purchase"));
    json_object_set_new(json_object_get(ev, "context"), "ip", json_string(C[C_IP].value));
    json_object_set_new(ev, "userId", json_string(mid("user-1")));
    json_object_set_new(ev, "traits", person_traits());
    assert_int_equal(send_signed("server event", ev, HMAC_SECRET), 200);
    expect(id, META_GETS | HOOK_GETS | GA4_REFUSES);

    /* 8. A purchase without consent, from a browser whose user agent carries a marker: the
     * person (traits, context.traits with an address, the agent) is stripped. */
    id = mid("unconsented");
    ev = purchase(id, "Purchase");
    json_object_set_new(ev, "traits", unconsented_traits());
    json_object_set_new(ev, "context", json_pack("{s:o,s:o}", "traits", unconsented_traits(), "page", page_context()));
    assert_int_equal(send_json("track without consent", "/v1/track", ev, UA_MARKED), 200);
    expect(id, HOOK_GETS);

    /* 9. identify without consent. */
    id = mid("identify-unconsented");
    ev = json_pack("{s:s,s:s,s:o,s:{s:o}}", "messageId", id, "userId", mid("user-3"), "traits", unconsented_traits(),
                   "context", "page", page_context());
    assert_int_equal(send_json("identify without consent", "/v1/identify", ev, UA_MARKED), 200);
    expect(id, HOOK_GETS);

    /* 10. A server event without consent: its own context.ip is stripped with the person. */
    id = mid("server-unconsented");
    ev = purchase(id, "Purchase");
    json_object_set_new(ev, "context", json_pack("{s:s,s:o}", "ip", C[C_IP].value, "traits", unconsented_traits()));
    assert_int_equal(send_signed("server event without consent", ev, HMAC_SECRET), 200);
    expect(id, HOOK_GETS);

    /* 10b. Fields no rule names (the PII guard): an identify whose userId is the person's
     * e-mail, with a phone and a street under keys of their own; a purchase with a phone, an
     * IBAN and an SSN in free text and an e-mail as a key. */
    id = mid("identify-unnamed");
    ev = json_pack("{s:s,s:s,s:s,s:{s:s,s:s,s:s}}", "messageId", id, "anonymousId", mid("visitor-5"), "userId",
                   C[C_EMAIL_UID].value, "traits", "plan", "gold", "phone_number", C[C_PHONE_UNNAMED].value,
                   "shipping_street", C[C_STREET].value);
    assert_int_equal(send_json("identify, unnamed fields", "/v1/identify", consented(ev), UA_PLAIN), 200);
    expect(id, HOOK_GETS);
    id = mid("track-unnamed");
    ev = consented(purchase(id, "Purchase"));
    json_t *props = json_object_get(ev, "properties");
    char text[256];
    snprintf(text, sizeof(text), "ring %s after 6", C[C_PHONE_CONTACT].value);
    json_object_set_new(props, "contact", json_string(text));
    snprintf(text, sizeof(text), "refund to IBAN %s please", C[C_IBAN].value);
    json_object_set_new(props, "refund_to", json_string(text));
    snprintf(text, sizeof(text), "my ssn is %s", C[C_SSN_FREE].value);
    json_object_set_new(props, "comment", json_string(text));
    json_object_set_new(props, C[C_EMAIL_KEY].value, json_true());
    assert_int_equal(send_json("track, unnamed fields", "/v1/track", ev, UA_PLAIN), 200);
    expect(id, META_GETS | HOOK_GETS | GA4_REFUSES);

    /* Refused requests carrying canaries: their answers and the logs must not quote them. */
    /* 11. A batch with a valid purchase and two invalid events. */
    const char *ok = mid("batch-ok");
    json_t *bad1 = purchase(mid("batch-bad-1"), "x");
    json_object_del(bad1, "event"); /* a track without its name */
    json_t *bad2 = purchase(mid("batch-bad-2"), "Purchase");
    json_object_set_new(bad2, "timestamp", json_string(C[C_EMAIL_PROPS].value));
    b = json_pack("{s:[o,o,o]}", "batch", consented(purchase(ok, "Purchase")), consented(bad1), consented(bad2));
    assert_int_equal(send_json("batch with invalid events", "/v1/batch", b, UA_PLAIN), 200);
    expect(ok, META_GETS | HOOK_GETS | GA4_REFUSES);

    /* 12. An SSN the example's fpe rule cannot encipher (slashes): on_error reject. */
    ev = consented(purchase(mid("rejected-ssn"), "Purchase"));
    json_object_set_new(json_object_get(ev, "properties"), "ssn", json_string(C[C_SSN_BAD].value));
    assert_int_equal(send_json("fpe reject", "/v1/track", ev, UA_PLAIN), 400);

    /* 13. A pixel with a wrong write key, 14. a server event with a wrong signature. */
    snprintf(q, sizeof(q), "writeKey=wk_wrong&event=Purchase&properties.email=%s&properties.card_number=%s&url=%s", e1,
             C[C_CARD].value, u);
    assert_int_equal(send_pixel("pixel, bad key", q, UA_MARKED), 401);
    ev = consented(purchase(mid("bad-signature"), "Purchase"));
    json_object_set_new(json_object_get(ev, "context"), "ip", json_string(C[C_IP].value));
    assert_int_equal(send_signed("server event, bad signature", ev, "not-the-secret"), 401);
    print_message("canary run %s: %d events for Meta, %d for the webhook, %d for GA4 (refused: DLQ)\n", TAG, N_META,
                  N_HOOK, N_GA4);
}

/* ------------------------------------------------------------------ it went through */

static void sha256_hex(const char *s, char out[65])
{
    unsigned char d[SHA256_DIGEST_LENGTH];
    SHA256((const unsigned char *)s, strlen(s), d);
    for (int i = 0; i < SHA256_DIGEST_LENGTH; i++)
        snprintf(out + 2 * i, 3, "%02x", d[i]);
}

/* The SHA-256 of the lowercased value (the gateway's e-mail and name normalisation for these). */
static const char *hash_lower(const char *v)
{
    static char out[4][65];
    static int next;
    char low[160];
    size_t n = 0;
    for (; v[n] && n < sizeof(low) - 1; n++)
        low[n] = (char)tolower((unsigned char)v[n]);
    low[n] = '\0';
    char *o = out[next++ % 4];
    sha256_hex(low, o);
    return o;
}

/* The default (Meta) hash of a national number under the example's default_country_code "1":
 * the country code and the digits, no '+'. */
static const char *hash_phone(const char *v)
{
    static char out[65];
    char d[32] = "1";
    size_t n = 1;
    for (const char *p = v; *p && n < sizeof(d) - 1; p++)
        if (isdigit((unsigned char)*p))
            d[n++] = *p;
    d[n] = '\0';
    sha256_hex(d, out);
    return out;
}

static const char *str_at(json_t *root, const char *path)
{
    char buf[256];
    snprintf(buf, sizeof(buf), "%s", path);
    json_t *cur = root;
    for (char *save = NULL, *k = strtok_r(buf, ".", &save); k != NULL && cur != NULL; k = strtok_r(NULL, ".", &save))
        cur = json_is_array(cur) ? json_array_get(cur, (size_t)strtol(k, NULL, 10)) : json_object_get(cur, k);
    return json_string_value(cur);
}

static int list_has(json_t *arr, const char *s)
{
    size_t i;
    json_t *v;
    json_array_foreach(arr, i, v) {
        if (json_is_string(v) && strcmp(json_string_value(v), s) == 0)
            return 1;
    }
    return 0;
}

/* Event ids in the requests a stub answered 2xx: Meta's data[].event_id, the webhook's
 * batch[].event.messageId. id -> the event (Meta's item or the webhook's envelope). */
static json_t *delivered(const dstub_t *s, const char *array)
{
    json_t *reqs = dfix_requests(s), *out = json_object();
    size_t i, j;
    json_t *r, *ev;
    json_array_foreach(reqs, i, r) {
        json_int_t answer = json_integer_value(json_object_get(r, "answer"));
        if (answer < 200 || answer > 299)
            continue;
        json_array_foreach(json_object_get(json_object_get(r, "json"), array), j, ev) {
            const char *id = json_string_value(json_object_get(ev, "event_id"));
            if (id == NULL)
                id = str_at(ev, "event.messageId");
            if (id != NULL)
                json_object_set(out, id, ev);
        }
    }
    json_decref(reqs);
    return out;
}

/* messageId -> envelope for every message of topic (the DLQ's: only those of integration
 * `integration`, when given). */
static json_t *by_id(const char *topic, const char *integration)
{
    json_t *msgs = gwfix_kafka_read(&G, topic), *out = json_object();
    size_t i;
    json_t *m;
    json_array_foreach(msgs, i, m) {
        const char *headers = json_string_value(json_object_get(m, "headers"));
        char want[64];
        snprintf(want, sizeof(want), "integration=%s", integration ? integration : "");
        if (integration != NULL && (headers == NULL || strstr(headers, want) == NULL))
            continue;
        const char *id = str_at(json_object_get(m, "value"), "event.messageId");
        if (id != NULL)
            json_object_set(out, id, json_object_get(m, "value"));
    }
    json_decref(msgs);
    return out;
}

static int all_in(json_t *set, const char *const *ids, int n)
{
    for (int i = 0; i < n; i++)
        if (json_object_get(set, ids[i]) == NULL)
            return 0;
    return 1;
}

static void test_canaries_went_through(void **state)
{
    (void)state;
    /* Wait for every delivery and every GA4 dead letter. */
    json_t *meta = NULL, *hook = NULL, *dlq = NULL;
    for (int waited = 0; waited <= 60000; waited += 500) {
        json_decref(meta);
        json_decref(hook);
        json_decref(dlq);
        meta = delivered(&META, "data");
        hook = delivered(&HOOK, "batch");
        dlq = by_id("sluice.dlq", "ga4");
        if (all_in(meta, TO_META, N_META) && all_in(hook, TO_HOOK, N_HOOK) && all_in(dlq, TO_GA4_DLQ, N_GA4))
            break;
        usleep(500 * 1000);
    }
    for (int i = 0; i < N_META; i++)
        if (json_object_get(meta, TO_META[i]) == NULL)
            print_error("Meta did not get %s\n", TO_META[i]);
    for (int i = 0; i < N_HOOK; i++)
        if (json_object_get(hook, TO_HOOK[i]) == NULL)
            print_error("the webhook did not get %s\n", TO_HOOK[i]);
    for (int i = 0; i < N_GA4; i++)
        if (json_object_get(dlq, TO_GA4_DLQ[i]) == NULL)
            print_error("%s is not in GA4's dead letters\n", TO_GA4_DLQ[i]);
    assert_true(all_in(meta, TO_META, N_META));
    assert_true(all_in(hook, TO_HOOK, N_HOOK));
    assert_true(all_in(dlq, TO_GA4_DLQ, N_GA4));
    /* GA4 was really asked (and refused): its stub recorded the requests. */
    assert_true(dfix_wait_requests(&GA4, 1, 0) >= 1);

    /* In Kafka: the hashes of the planted values, the masked forms, and what was dropped. */
    json_t *events = by_id("sluice.events", NULL);
    json_t *track = json_object_get(events, mid("track"));
    assert_non_null(track);
    assert_string_equal(str_at(track, "event.properties.email"), hash_lower(C[C_EMAIL_PROPS].value));
    assert_string_equal(str_at(track, "event.properties.products.0.buyer_email"), hash_lower(C[C_EMAIL_BUYER].value));
    assert_string_equal(str_at(track, "event.properties.products.1.buyer_email"), hash_lower(C[C_EMAIL_BUYER].value));
    char card[32];
    snprintf(card, sizeof(card), "************%.4s", C[C_CARD].value + 12);
    assert_string_equal(str_at(track, "event.properties.card_number"), card);
    const char *ssn = str_at(track, "event.properties.ssn");
    assert_non_null(ssn);
    assert_int_equal(strlen(ssn), 9);
    assert_string_not_equal(ssn, C[C_SSN].value);
    assert_null(str_at(track, "event.properties.password"));
    const char *url = str_at(track, "event.context.page.url");
    assert_non_null(strstr(url, "email=[email]&card=[card]&step=2"));
    assert_non_null(strstr(str_at(track, "event.properties.referrer"), "contact=[email]&cc=[card]"));
    const char *note = str_at(track, "event.properties.note");
    assert_non_null(strstr(note, "[email]"));
    assert_non_null(strstr(note, "[phone]"));
    json_t *privacy = json_object_get(track, "privacy");
    assert_true(list_has(json_object_get(privacy, "hashed"), "properties.email"));
    assert_true(list_has(json_object_get(privacy, "masked"), "properties.card_number"));
    assert_true(list_has(json_object_get(privacy, "masked"), "properties.ssn"));
    assert_true(list_has(json_object_get(privacy, "dropped"), "properties.password"));
    assert_true(list_has(json_object_get(privacy, "masked"), "context.page.url"));
    /* The IBAN keeps its country, the answer is one of the three (and marked masked), the
     * birthday is its year, and the answer outside the categories is gone. */
    char message[256];
    snprintf(message, sizeof(message), "Please refund to DE**[iban] before Friday.");
    assert_string_equal(str_at(track, "event.properties.message"), message);
    const char *answer = str_at(track, "event.properties.satisfaction");
    assert_non_null(answer);
    assert_true(strcmp(answer, "unhappy") == 0 || strcmp(answer, "neutral") == 0 || strcmp(answer, "happy") == 0);
    assert_true(list_has(json_object_get(privacy, "masked"), "properties.satisfaction"));
    json_t *cart = json_object_get(events, mid("batch-cart"));
    assert_non_null(cart);
    assert_null(json_object_get(json_object_get(json_object_get(cart, "event"), "properties"), "satisfaction"));
    assert_true(list_has(json_object_get(json_object_get(cart, "privacy"), "dropped"), "properties.satisfaction"));
    json_t *ident = json_object_get(events, mid("identify"));
    assert_non_null(ident);
    char year[5];
    snprintf(year, sizeof(year), "%.4s", C[C_BIRTHDAY].value);
    assert_string_equal(str_at(ident, "event.traits.birthday"), year);
    assert_string_equal(str_at(ident, "event.traits.email"), hash_lower(C[C_EMAIL_TRAITS].value));
    assert_string_equal(str_at(ident, "event.traits.phone"), hash_phone(C[C_PHONE].value));
    assert_string_equal(str_at(ident, "event.traits.firstName"), hash_lower(C[C_FIRST].value));
    assert_string_equal(str_at(ident, "event.traits.lastName"), hash_lower(C[C_LAST].value));
    json_t *server = json_object_get(events, mid("server"));
    char ip[sizeof(C[0].value)];
    snprintf(ip, sizeof(ip), "%s", C[C_IP].value);
    snprintf(strrchr(ip, '.'), 3, ".0");
    assert_string_equal(str_at(server, "event.context.ip"), ip);
    assert_null(str_at(json_object_get(events, mid("server-unconsented")), "event.context.ip"));
    json_t *bare = json_object_get(events, mid("unconsented"));
    assert_string_equal(str_at(bare, "privacy.consent"), "stripped");
    assert_null(json_object_get(json_object_get(bare, "event"), "traits"));
    assert_null(str_at(bare, "event.context.userAgent"));
    /* Enrichment ran on the marked user agent: the browser it names, not the marker. */
    assert_string_equal(str_at(bare, "event.context.browser.name"), "Firefox");
    assert_string_equal(str_at(bare, "event.context.os.name"), "Linux");
    /* The guard's: hashed ids, masked values, the key removed, every path in privacy.detected. */
    json_t *unnamed = json_object_get(events, mid("identify-unnamed"));
    assert_non_null(unnamed);
    assert_string_equal(str_at(unnamed, "event.userId"), hash_lower(C[C_EMAIL_UID].value));
    assert_string_equal(str_at(unnamed, "event.traits.phone_number"), "[phone]");
    assert_string_equal(str_at(unnamed, "event.traits.shipping_street"), "[address]");
    assert_string_equal(str_at(unnamed, "event.traits.plan"), "gold");
    char *pj = json_dumps(json_object_get(unnamed, "privacy"), JSON_COMPACT);
    assert_non_null(strstr(pj, "{\"path\":\"userId\",\"matcher\":\"email\",\"action\":\"hashed\"}"));
    assert_non_null(strstr(pj, "\"path\":\"traits.shipping_street\",\"matcher\":\"key:address\""));
    free(pj);
    json_t *tu = json_object_get(events, mid("track-unnamed"));
    assert_non_null(tu);
    assert_string_equal(str_at(tu, "event.properties.contact"), "ring [phone] after 6");
    assert_string_equal(str_at(tu, "event.properties.refund_to"), "refund to IBAN [iban] please");
    assert_string_equal(str_at(tu, "event.properties.comment"), "my ssn is [us_ssn]");
    pj = json_dumps(json_object_get(tu, "privacy"), JSON_COMPACT);
    assert_non_null(strstr(pj, "\"path\":\"properties.<email>\",\"matcher\":\"email\",\"action\":\"removed\""));
    free(pj);
    /* Refused requests queued nothing. */
    assert_null(json_object_get(events, mid("rejected-ssn")));
    assert_null(json_object_get(events, mid("bad-signature")));
    assert_null(json_object_get(events, mid("batch-bad-1")));
    assert_null(json_object_get(events, mid("batch-bad-2")));
    assert_non_null(json_object_get(events, mid("alias")));

    /* At the vendors: Meta got the e-mail's hash and the truncated address; the webhook the
     * hashed traits; GA4's dead letter is the hashed envelope. */
    assert_string_equal(str_at(json_object_get(meta, mid("track")), "user_data.em.0"),
                        hash_lower(C[C_EMAIL_PROPS].value));
    assert_string_equal(str_at(json_object_get(meta, mid("server")), "user_data.client_ip_address"), ip);
    assert_non_null(strstr(str_at(json_object_get(meta, mid("track")), "event_source_url"), "email=[email]"));
    assert_string_equal(str_at(json_object_get(hook, mid("identify")), "event.traits.email"),
                        hash_lower(C[C_EMAIL_TRAITS].value));
    assert_string_equal(str_at(json_object_get(dlq, mid("track")), "event.properties.email"),
                        hash_lower(C[C_EMAIL_PROPS].value));
    print_message("canary run %s: %zu events in Kafka, Meta delivered %zu, the webhook %zu, GA4 dead-lettered %zu\n",
                  TAG, json_object_size(events), json_object_size(meta), json_object_size(hook), json_object_size(dlq));
    json_decref(events);
    json_decref(meta);
    json_decref(hook);
    json_decref(dlq);
}

/* ------------------------------------------------------------------ searching every output */

typedef struct output {
    char name[PATH_MAX + 32];
    char *text; /* lowercased */
    size_t len;
} output_t;

static output_t OUT[64];
static int NOUT;

static void add_output(const char *name, const char *text, size_t len)
{
    assert_true(NOUT < 64);
    output_t *o = &OUT[NOUT++];
    snprintf(o->name, sizeof(o->name), "%s", name);
    o->text = malloc(len + 1);
    for (size_t i = 0; i < len; i++)
        o->text[i] = (char)tolower((unsigned char)text[i]);
    o->text[len] = '\0';
    o->len = len;
}

static void add_command_output(const char *name, const char *const *argv)
{
    sluice_err_t err = {{0}};
    sluice_th_output_t out = {0};
    assert_int_equal(sluice_th_run(argv, NULL, 0, 60000, &out, &err), 0);
    if (!sluice_th_exited_with(out.wstatus, 0)) {
        print_error("%s failed: %s\n", name, out.errout);
        fail();
    }
    size_t n = out.out_len + out.errout_len;
    char *both = malloc(n + 1);
    memcpy(both, out.out, out.out_len);
    memcpy(both + out.out_len, out.errout, out.errout_len);
    add_output(name, both, n);
    free(both);
    sluice_th_output_dispose(&out);
}

/* A whole topic from its beginning: every message's key, headers and value. */
static void add_topic_output(const char *topic)
{
    char name[96];
    snprintf(name, sizeof(name), "Kafka %s (keys, headers, values)", topic);
    const char *fmt = "key=%k headers=%h value=%s\n";
    const char *argv[] = {"kcat", "-b", G.kafka.bootstrap, "-t", topic, "-C", "-e",
                          "-q",   "-o", "beginning",       "-f", fmt,   NULL};
    add_command_output(name, argv);
}

static void add_url_output(const char *name, const char *url)
{
    http_resp_t r;
    http_opts_t o = {0};
    http_do(url, &o, G.ca, &r);
    assert_int_equal(r.status, 200);
    size_t n = strlen(r.headers) + r.len;
    char *both = malloc(n + 1);
    snprintf(both, n + 1, "%s%s", r.headers, r.body);
    add_output(name, both, n);
    free(both);
    http_resp_dispose(&r);
}

/* Every row of every table of the vault's database, as text. */
static void add_vault_output(void)
{
    PGconn *db = PQconnectdb(D.pg.conninfo);
    assert_int_equal(PQstatus(db), CONNECTION_OK);
    PGresult *tables = PQexec(db, "SELECT quote_ident(table_schema) || '.' || quote_ident(table_name) FROM "
                                  "information_schema.tables WHERE table_schema NOT IN ('pg_catalog', "
                                  "'information_schema') ORDER BY 1");
    assert_int_equal(PQresultStatus(tables), PGRES_TUPLES_OK);
    char *all = strdup("");
    size_t len = 0;
    int rows = 0;
    for (int t = 0; t < PQntuples(tables); t++) {
        char sql[512];
        snprintf(sql, sizeof(sql), "SELECT t::text FROM %s t", PQgetvalue(tables, t, 0));
        PGresult *res = PQexec(db, sql);
        assert_int_equal(PQresultStatus(res), PGRES_TUPLES_OK);
        for (int i = 0; i < PQntuples(res); i++, rows++) {
            size_t add = strlen(PQgetvalue(res, i, 0)) + strlen(PQgetvalue(tables, t, 0)) + 4;
            all = realloc(all, len + add + 1);
            len += (size_t)snprintf(all + len, add + 1, "%s: %s\n", PQgetvalue(tables, t, 0), PQgetvalue(res, i, 0));
        }
        PQclear(res);
    }
    assert_true(rows >= 3); /* the three credentials at least */
    char name[64];
    snprintf(name, sizeof(name), "vault tables (%d tables, %d rows)", PQntuples(tables), rows);
    PQclear(tables);
    PQfinish(db);
    add_output(name, all, len);
    free(all);
}

/* Everything Redis holds (identity links, cookies' ids), as an uncompressed RDB snapshot. */
static void add_redis_output(void)
{
    sluice_err_t err = {{0}};
    char port[16], rdb[PATH_MAX];
    snprintf(port, sizeof(port), "%d", G.redis.port);
    assert_int_equal(sluice_th_path(rdb, sizeof(rdb), "redis-dump.rdb", &err), 0);
    const char *nocomp[] = {"redis-cli", "-h", "127.0.0.1", "-p", port, "CONFIG", "SET", "rdbcompression", "no", NULL};
    sluice_th_output_t out = {0};
    assert_int_equal(sluice_th_run(nocomp, NULL, 0, 10000, &out, &err), 0);
    sluice_th_output_dispose(&out);
    const char *dump[] = {"redis-cli", "-h", "127.0.0.1", "-p", port, "--rdb", rdb, NULL};
    assert_int_equal(sluice_th_run(dump, NULL, 0, 30000, &out, &err), 0);
    assert_true(sluice_th_exited_with(out.wstatus, 0));
    sluice_th_output_dispose(&out);
    size_t len = 0;
    char *text = sluice_th_read_file(rdb, &len, &err);
    assert_non_null(text);
    add_output("Redis (every key and value)", text, len);
    free(text);
    unlink(rdb);
}

/* Every regular file the run's processes wrote into the run directory: the logs of the
 * gateway, the worker, the stubs, the broker, Redis and PostgreSQL, and the stubs' records of
 * every request they received. */
static void add_run_files(void)
{
    sluice_err_t err = {{0}};
    const char *dir = sluice_th_tmpdir(&err);
    DIR *d = opendir(dir);
    assert_non_null(d);
    for (struct dirent *e; (e = readdir(d)) != NULL;) {
        char path[PATH_MAX];
        snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
        if (e->d_type != DT_REG)
            continue;
        size_t len = 0;
        char *text = sluice_th_read_file(path, &len, &err);
        assert_non_null(text);
        add_output(e->d_name, text, len);
        free(text);
    }
    closedir(d);
}

static void test_no_canary_anywhere(void **state)
{
    (void)state;
    /* Let the worker finish and log whatever it has to say, then collect. */
    usleep(1500 * 1000);
    add_topic_output("sluice.events");
    add_topic_output("sluice.dlq");
    add_topic_output("sluice.invalid"); /* the batch's invalid events, one with an e-mail as its timestamp */
    char ctl[PATH_MAX], kafka_env[1100], db_env[320];
    snprintf(ctl, sizeof(ctl), "%s/tools/sluicectl", sluice_th_build_dir());
    snprintf(kafka_env, sizeof(kafka_env), "SLUICE_KAFKA_BROKERS=%s", G.kafka.bootstrap);
    snprintf(db_env, sizeof(db_env), "SLUICE_DATABASE_URL=%s", D.pg.url);
    const char *list[] = {"env", kafka_env, db_env, ctl, "dlq", "list", "--config", D.config, NULL};
    add_command_output("sluicectl dlq list", list);
    add_url_output("gateway /metrics", gwfix_metrics_url(&G, "/metrics"));
    char url[128];
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/metrics", D.metrics_port);
    add_url_output("worker /metrics", url);
    add_vault_output();
    add_output("every response the test received", RESPONSES, RESPONSES_LEN);
    add_redis_output();
    add_run_files();

    int forms = 0, found = 0;
    size_t bytes = 0;
    for (int o = 0; o < NOUT; o++)
        bytes += OUT[o].len;
    for (int c = 0; c < C_COUNT; c++)
        for (int f = 0; f < C[c].nforms; f++, forms++)
            for (int o = 0; o < NOUT; o++) {
                const char *form = C[c].forms[f], *first = NULL;
                size_t fl = strlen(form);
                int hits = 0;
                for (const char *at = OUT[o].text;
                     (at = memmem(at, OUT[o].len - (size_t)(at - OUT[o].text), form, fl)) != NULL; at++, hits++)
                    first = first ? first : at;
                if (hits == 0)
                    continue;
                size_t off = (size_t)(first - OUT[o].text), from = off > 80 ? off - 80 : 0;
                print_error("LEAK: %s ('%s') %d times in %s, first at byte %zu: ...%.*s...\n", C[c].what, form, hits,
                            OUT[o].name, off, (int)(off - from + fl + 40), OUT[o].text + from);
                found += hits;
            }
    for (int o = 0; o < NOUT; o++)
        print_message("searched %s (%zu bytes)\n", OUT[o].name, OUT[o].len);
    print_message("canary run %s: %d planted values in %d forms, searched in %d outputs (%zu bytes): %d found\n", TAG,
                  C_COUNT, forms, NOUT, bytes, found);
    /* The search itself works: a form of the example's masked card is in Kafka. */
    char last4[32];
    snprintf(last4, sizeof(last4), "************%.4s", C[C_CARD].value + 12);
    assert_non_null(strstr(OUT[0].text, last4));
    assert_int_equal(found, 0);
    for (int o = 0; o < NOUT; o++)
        free(OUT[o].text);
    free(RESPONSES);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_send_canaries),
        cmocka_unit_test(test_canaries_went_through),
        cmocka_unit_test(test_no_canary_anywhere),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
