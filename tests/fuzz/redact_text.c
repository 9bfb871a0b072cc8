/*
 * libFuzzer target for the redact_text scanner (pii/scan.c), which reads
 * untrusted page URLs and free text on every event: every input must scan without a crash, a
 * leak or undefined behaviour, give ordered, non-overlapping matches inside the text whose
 * original and decoded ranges agree, and canonical forms no longer than the match. The plugin
 * declares itself idempotent, so the text with every match replaced by its [kind] token must
 * scan to no match at all.
 *
 * Built as a fuzzer with SLUICE_FUZZ=ON (clang); in every build, tests/fuzz/replay.c runs the
 * corpus once as an ordinary test. Single-threaded.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pii/scan.h"

#define ALL (SLUICE_SCAN_EMAIL | SLUICE_SCAN_CARD | SLUICE_SCAN_PHONE | SLUICE_SCAN_IBAN | SLUICE_SCAN_NATIONAL_IDS)

static sluice_scan_t S;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *text = (const char *)data;
    if (sluice_scan(&S, text, size, ALL) != 0)
        return 0; /* out of memory */
    /* The masked text: at most 9 bytes per match ("[uk_nino]") more than the input. */
    char *masked = malloc(size + 9 * S.count + 1);
    if (masked == NULL)
        abort();
    size_t prev = 0, o = 0;
    for (size_t i = 0; i < S.count; i++) {
        const sluice_scan_match_t *m = &S.matches[i];
        if (m->start < prev || m->end <= m->start || m->end > size || m->dend <= m->dstart || m->dend > S.dec_len ||
            sluice_scan_offset(&S, m->dstart) != m->start || sluice_scan_offset(&S, m->dend) != m->end)
            abort();
        if (m->kind == 0 || (m->kind & ~(unsigned)ALL) != 0 || (m->kind & (m->kind - 1)) != 0)
            abort();
        char canon[64];
        size_t cap = m->dend - m->dstart + 1;
        char *c = cap <= sizeof(canon) ? canon : malloc(cap);
        if (c == NULL)
            abort();
        if (sluice_scan_canonical(&S, m, c, cap) > cap)
            abort();
        if (m->kind == SLUICE_SCAN_CARD && !sluice_scan_luhn(c, sluice_scan_canonical(&S, m, c, cap)))
            abort(); /* only Luhn-valid numbers are cards */
        if (c != canon)
            free(c);
        memcpy(masked + o, text + prev, m->start - prev);
        o += m->start - prev;
        int n = snprintf(masked + o, 10, "[%s]", sluice_scan_kind_name(m->kind));
        o += (size_t)n;
        prev = m->end;
    }
    memcpy(masked + o, text + prev, size - prev);
    o += size - prev;
    size_t found = S.count;
    if (found > 0 && sluice_scan(&S, masked, o, ALL) == 0 && S.count != 0) {
        fprintf(stderr, "not idempotent: %zu new match(es) after masking\n", S.count);
        abort();
    }
    free(masked);
    return 0;
}

void sluice_fuzz_cleanup(void);

/* Called by tests/fuzz/replay.c after the corpus, so leak checkers see a clean exit. */
void sluice_fuzz_cleanup(void)
{
    sluice_scan_dispose(&S);
}
