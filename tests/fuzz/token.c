/*
 * libFuzzer target for the cross-domain token decoder (identity/token.c) and the URL helpers
 * that pull `_dft` tokens out of page URLs (identity/url.c): every input must be refused or
 * accepted without a crash, a leak or undefined behaviour, and whatever opens must hold claims
 * in the sealed format. The key ring is fixed, so corpus tokens sealed under it (see
 * corpus/token/README) reach the claims parser.
 *
 * Built as a fuzzer with SLUICE_FUZZ=ON (clang); in every build, tests/fuzz/replay.c runs the
 * corpus once as an ordinary test. Single-threaded.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crypto/keyring.h"
#include "identity/token.h"
#include "identity/url.h"

/* The corpus tokens were minted with ENCRYPTION_KEY=<this>, SLUICE_KEY_ID=1, for org acme and
 * checkout.example-pay.com, after this time (so they have not expired at FUZZ_NOW). */
#define FUZZ_KEY "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff"
#define FUZZ_NOW 1700000000

static sluice_keyring_t *ring(void)
{
    static sluice_keyring_t *kr;
    if (kr == NULL) {
        sluice_err_t err;
        kr = sluice_keyring_from_strings(FUZZ_KEY, "1", NULL, &err);
        if (kr == NULL)
            abort();
    }
    return kr;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *text = (const char *)data;
    sluice_token_claims_t c;
    int rc = sluice_token_open(ring(), "acme", "checkout.example-pay.com", text, size, FUZZ_NOW, 5, &c);
    if (rc == 0 || rc == SLUICE_TOKEN_EXPIRED) {
        /* only what seal writes can open */
        if (!sluice_id_valid(c.dfid, strlen(c.dfid)) || strlen(c.jti) != SLUICE_TOKEN_JTI_LEN || c.kid != 1)
            abort();
    } else if (rc < 0 || rc >= SLUICE_TOKEN_OUTCOME_COUNT) {
        abort();
    }
    if (rc == SLUICE_TOKEN_BAD_TAG) {
        static const sluice_token_scope_t scopes[] = {{"acme", "shop.acme.test"}, {"globex", "globex.test"}};
        int why = sluice_token_classify(ring(), "acme", text, size, scopes, 2);
        if (why != SLUICE_TOKEN_BAD_TAG && why != SLUICE_TOKEN_WRONG_AUDIENCE && why != SLUICE_TOKEN_WRONG_ORG)
            abort();
    }

    /* The same bytes as a page URL: the token and click-id extraction, and the scrubbing. */
    char *url = malloc(size + 1);
    if (url == NULL)
        return 0;
    memcpy(url, data, size);
    url[size] = '\0';
    char out[SLUICE_TOKEN_TEXT_MAX + 1], host[SLUICE_URL_HOST_MAX + 1];
    size_t ol;
    int found = sluice_url_param(url, "_dft", out, sizeof(out), &ol);
    if (found == 1 && (ol != strlen(out) || ol >= sizeof(out)))
        abort();
    size_t before = strlen(url);
    size_t removed = sluice_url_remove_param(url, "_dft");
    if (strlen(url) > before || (removed == 0 && strlen(url) != before))
        abort();
    if (removed > 0 && sluice_url_param(url, "_dft", out, sizeof(out), &ol) != 0)
        abort(); /* every `_dft` is gone */
    if (sluice_url_host(text, size, host, sizeof(host)) == 0 && strlen(host) > SLUICE_URL_HOST_MAX)
        abort();
    /* User information: only ever removed, and then no '@' is left before the path. */
    before = strlen(url);
    int cut = sluice_url_remove_userinfo(url);
    if (strlen(url) > before || (cut == 0 && strlen(url) != before) || (cut == 1 && strlen(url) >= before) ||
        (cut == 1 && sluice_url_remove_userinfo(url) != 0))
        abort();
    free(url);
    return 0;
}

void sluice_fuzz_cleanup(void);

/* Called by tests/fuzz/replay.c after the corpus, so leak checkers see a clean exit. */
void sluice_fuzz_cleanup(void)
{
    sluice_keyring_free(ring());
}
