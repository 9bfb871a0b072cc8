/*
 * Built-in mask plugin `redact_text`: finds e-mail addresses, card numbers that pass the Luhn
 * check, phone numbers, IBANs and (when listed) national ids inside free text (URLs, query
 * strings, titles; percent-encoded too) with the scanner of pii/scan.h, the same one the
 * gateway's PII guard runs, and replaces each match according to `mode`:
 *   mask    "[email]", "[card]", "[phone]", "[iban]", "[us_ssn]", ... (default);
 *   hash    the SHA-256 hex of the match's canonical form (e-mail lowercased, card digits,
 *           phone digits with '+' when international, ...), so matches stay countable;
 *   remove  nothing.
 * `kinds` chooses what to look for (default email, card, phone, iban). Text without a match is left
 * UNCHANGED. Not declared idempotent: in mask and hash modes masked text scans clean again
 * (the fuzz target checks it), but `remove` can join two numbers into a new one. Strings and
 * numbers are scanned (a card number given as a JSON number is found and the result is a
 * string); booleans and null are left as they are; objects and arrays are refused (EINVAL:
 * the field is removed, fail closed).
 *
 * Built like a third-party plugin: only <sluice/mask_plugin.h> and OpenSSL's libcrypto. The
 * instance is immutable after create; each event-loop thread has its own scanner buffers
 * (thread_init), reused from one value to the next.
 */
#include <sluice/mask_plugin.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "scan.h"

enum { MODE_MASK, MODE_HASH, MODE_REMOVE };

typedef struct redact {
    const sluice_mask_host_t *host;
    int mode;
    unsigned kinds;
    EVP_MD *sha256; /* hash mode only; fetched once, read-only */
} redact_t;

static const sluice_mask_config_entry_t config[] = {
    {"mode", SLUICE_MASK_CONF_STRING, 0, "mask",
     "mask ([email], [card], [phone]), hash (SHA-256 hex of the match) or remove"},
    {"kinds", SLUICE_MASK_CONF_STRING_LIST, 0, "[email, card, phone, iban]",
     "what to look for: email, card, phone, iban, and the national ids us_ssn, uk_nino, fr_nir, es_dni"},
    {0},
};

typedef struct sink {
    const sluice_mask_host_t *host;
    sluice_mask_output_t *out;
    char *buf;
    size_t len, cap;
} sink_t;

static int put(sink_t *s, const void *p, size_t n)
{
    if (s->out != NULL)
        return s->host->append(s->out, p, n);
    if (n > s->cap - s->len)
        return SLUICE_MASK_ETOOBIG;
    memcpy(s->buf + s->len, p, n);
    s->len += n;
    return SLUICE_MASK_OK;
}

static int put_hash(const redact_t *r, const sluice_scan_t *sc, const sluice_scan_match_t *m, sink_t *s)
{
    char small[320];
    size_t cap = m->dend - m->dstart + 1;
    char *canon = cap <= sizeof(small) ? small : malloc(cap);
    if (canon == NULL)
        return SLUICE_MASK_ENOMEM;
    size_t n = sluice_scan_canonical(sc, m, canon, cap);
    unsigned char d[32];
    unsigned dlen = 0;
    int ok = EVP_Digest(canon, n, d, &dlen, r->sha256, NULL) == 1 && dlen == sizeof(d);
    if (canon != small)
        free(canon);
    if (!ok)
        return SLUICE_MASK_EINTERNAL;
    static const char digits[] = "0123456789abcdef";
    char hex[64];
    for (size_t i = 0; i < sizeof(d); i++) {
        hex[2 * i] = digits[d[i] >> 4];
        hex[2 * i + 1] = digits[d[i] & 15];
    }
    return put(s, hex, sizeof(hex));
}

/* Scans v[0..n) and writes it with every match replaced. *matched says whether anything was
 * found (nothing is written then). */
static int render(const redact_t *r, sluice_scan_t *sc, const char *v, size_t n, sink_t *s, int *matched)
{
    *matched = 0;
    if (sluice_scan(sc, v, n, r->kinds) != 0)
        return SLUICE_MASK_ENOMEM;
    if (sc->count == 0)
        return SLUICE_MASK_OK;
    *matched = 1;
    size_t p = 0;
    int rc = SLUICE_MASK_OK;
    for (size_t i = 0; rc == SLUICE_MASK_OK && i < sc->count; i++) {
        const sluice_scan_match_t *m = &sc->matches[i];
        rc = put(s, v + p, m->start - p);
        if (rc != SLUICE_MASK_OK)
            break;
        if (r->mode == MODE_MASK) {
            char token[24];
            int len = snprintf(token, sizeof(token), "[%s]", sluice_scan_kind_name(m->kind));
            rc = put(s, token, (size_t)len);
        } else if (r->mode == MODE_HASH) {
            rc = put_hash(r, sc, m, s);
        }
        p = m->end;
    }
    return rc == SLUICE_MASK_OK ? put(s, v + p, n - p) : rc;
}

static int create(const sluice_mask_host_t *host, sluice_mask_handle_t *self, const sluice_mask_config_t *cfg,
                  void **instance, char *err, size_t err_len)
{
    (void)self;
    const char *mode = NULL;
    size_t count = 0;
    if (host->config_string(cfg, "mode", &mode, NULL) != 1 || host->config_list_count(cfg, "kinds", &count) != 1) {
        snprintf(err, err_len, "a parameter with a default has no value");
        return SLUICE_MASK_ECONFIG;
    }
    redact_t r = {.host = host};
    if (strcmp(mode, "mask") == 0)
        r.mode = MODE_MASK;
    else if (strcmp(mode, "hash") == 0)
        r.mode = MODE_HASH;
    else if (strcmp(mode, "remove") == 0)
        r.mode = MODE_REMOVE;
    else {
        snprintf(err, err_len, "mode must be mask, hash or remove");
        return SLUICE_MASK_ECONFIG;
    }
    for (size_t i = 0; i < count; i++) {
        const char *kind = NULL;
        if (host->config_list_item(cfg, "kinds", i, &kind, NULL) != 1) {
            snprintf(err, err_len, "kinds item %zu has no value", i + 1);
            return SLUICE_MASK_ECONFIG;
        }
        unsigned k = sluice_scan_kind_parse(kind);
        if (k == 0) {
            snprintf(err, err_len, "kinds item %zu must be email, card, phone, iban, us_ssn, uk_nino, fr_nir or es_dni",
                     i + 1);
            return SLUICE_MASK_ECONFIG;
        }
        r.kinds |= k;
    }
    if (r.kinds == 0) {
        snprintf(err, err_len, "kinds is empty: the rule would never redact anything");
        return SLUICE_MASK_ECONFIG;
    }
    if (r.mode == MODE_HASH && (r.sha256 = EVP_MD_fetch(NULL, "SHA256", NULL)) == NULL) {
        snprintf(err, err_len, "SHA-256 is not available from the crypto library");
        return SLUICE_MASK_EINTERNAL;
    }
    redact_t *p = malloc(sizeof(*p));
    if (p == NULL) {
        EVP_MD_free(r.sha256);
        snprintf(err, err_len, "out of memory");
        return SLUICE_MASK_ENOMEM;
    }
    *p = r;
    *instance = p;
    return SLUICE_MASK_OK;
}

static void destroy(void *instance)
{
    redact_t *r = instance;
    if (r == NULL)
        return;
    EVP_MD_free(r->sha256);
    free(r);
}

static int thread_init(void *instance, void **thread_ctx)
{
    (void)instance;
    *thread_ctx = calloc(1, sizeof(sluice_scan_t));
    return *thread_ctx != NULL ? SLUICE_MASK_OK : SLUICE_MASK_ENOMEM;
}

static void thread_dispose(void *instance, void *thread_ctx)
{
    (void)instance;
    sluice_scan_dispose(thread_ctx);
    free(thread_ctx);
}

static int mask(void *instance, void *thread_ctx, const sluice_mask_input_t *in, sluice_mask_output_t *out)
{
    const redact_t *r = instance;
    switch (in->type) {
    case SLUICE_MASK_JSON_STRING:
    case SLUICE_MASK_JSON_NUMBER: break;
    case SLUICE_MASK_JSON_BOOL:
    case SLUICE_MASK_JSON_NULL: return SLUICE_MASK_UNCHANGED;
    default: return SLUICE_MASK_EINVAL;
    }
    sink_t s = {.host = r->host, .out = out};
    int matched = 0;
    int rc = render(r, thread_ctx, in->value, in->value_len, &s, &matched);
    return rc == SLUICE_MASK_OK && !matched ? SLUICE_MASK_UNCHANGED : rc;
}

/* Known answers in each mode with every kind, under a scanner of the selftest's own. */
static int selftest(void *instance, char *err, size_t err_len)
{
    static const struct {
        int mode;
        const char *in, *want;
    } cases[] = {
        {MODE_MASK, "https://shop.acme.test/checkout?email=jane.doe%40example.com&card=4111-1111-1111-1111&ref=abc",
         "https://shop.acme.test/checkout?email=[email]&card=[card]&ref=abc"},
        {MODE_MASK, "Call +1 (650) 555-1212 about order 1234567812345678.",
         "Call [phone] about order 1234567812345678."},
        {MODE_REMOVE, "to Jane.Doe@Example.com, card 4111 1111 1111 1111", "to , card "},
        {MODE_HASH, "e=JANE.DOE%40example.com&p=%2B1-650-555-1212",
         "e=86e0b9e56c17cc4d12387e1949b85053fbe73bc3ce5a1188713a9d300cc6133d"
         "&p=1e231c66011e7a2d867a9cfae267a6aff103cf4913640b6e71a99850fc0ffbc8"},
    };
    const redact_t *self = instance;
    redact_t ref = {.host = self->host, .kinds = SLUICE_SCAN_EMAIL | SLUICE_SCAN_CARD | SLUICE_SCAN_PHONE};
    ref.sha256 = EVP_MD_fetch(NULL, "SHA256", NULL);
    sluice_scan_t sc = {0};
    int rc = ref.sha256 != NULL ? SLUICE_MASK_OK : SLUICE_MASK_EINTERNAL;
    for (size_t i = 0; rc == SLUICE_MASK_OK && i < sizeof(cases) / sizeof(cases[0]); i++) {
        char buf[256];
        sink_t s = {.buf = buf, .cap = sizeof(buf)};
        int matched = 0;
        ref.mode = cases[i].mode;
        if (render(&ref, &sc, cases[i].in, strlen(cases[i].in), &s, &matched) != SLUICE_MASK_OK || !matched ||
            s.len != strlen(cases[i].want) || memcmp(buf, cases[i].want, s.len) != 0)
            rc = SLUICE_MASK_EINTERNAL;
        if (rc != SLUICE_MASK_OK)
            snprintf(err, err_len, "known answer %zu differs", i + 1);
    }
    if (ref.sha256 == NULL)
        snprintf(err, err_len, "SHA-256 is not available from the crypto library");
    sluice_scan_dispose(&sc);
    EVP_MD_free(ref.sha256);
    return rc;
}

SLUICE_MASK_PLUGIN(.name = "redact_text", .version = "1.0.0",
                   .description = "redacts e-mails, Luhn-valid card numbers and phone numbers inside free text",
                   .config = config, .flags = SLUICE_MASK_FLAG_DETERMINISTIC, .create = create, .destroy = destroy,
                   .thread_init = thread_init, .thread_dispose = thread_dispose, .mask = mask, .selftest = selftest);
