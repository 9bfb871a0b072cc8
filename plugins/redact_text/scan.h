/*
 * The scanner of the `redact_text` plugin: finds e-mail addresses, card numbers (13 to 19
 * digits passing the Luhn check) and phone numbers inside free text such as URLs, query strings
 * and page titles. The text is percent-decoded once first (so `jane%40example.com` is found),
 * and every match is reported as a byte range of the ORIGINAL text, ready to be replaced.
 *
 * What counts as a match (docs/plugins-builtin.md has the same list for operators):
 *  - e-mail: local part [A-Za-z0-9._+-] (no leading dot), '@', a domain of two or more labels
 *    [A-Za-z0-9-] (no label starting or ending with '-') whose last label is 2+ letters; a
 *    domain running on into other characters is cut at the last '.' or '-' that leaves a valid
 *    one ("jane@x.io.2024" is jane@x.io);
 *  - card: 13..19 digits, either one block or groups joined by single spaces, dashes or '+'
 *    (a form-encoded space), that pass the Luhn check; inside a longer run of groups the
 *    longest passing sub-run of whole groups is taken;
 *  - phone, international: '+' then 8..15 digits, groups joined by up to two of " -.()+";
 *  - phone, national: 8..12 digits (up to 15 after a "00" international prefix) as one block
 *    starting with 0 (9..11 digits, e.g. 0612345678), or as 2+ groups of at most 6 digits with
 *    a last group of 2+ (650-555-1212, (650) 555-1212, 020 7946 0958, 06 12 34 56 78); dots only
 *    in the shapes 3.3.4 and 2.2.2.2.2 (so IPv4 addresses are not phones); parentheses only
 *    around the first group; no 4-2-2 or 2-2-4 shapes (dates).
 * Digits are read as runs: digit groups joined by separators (one or two of " -.()+"). A run
 * must stand alone: a letter or digit right before or after it means no match, so hex strings,
 * ids like `ord4111111111111111` and longer numbers are left alone. E-mails are found first,
 * then cards inside runs, then a phone must be the WHOLE run, or the whole of what is left
 * before or after a card ("call 650 555 1212 2 times" is not redacted: which groups would be
 * the number is a guess). " +" inside a run starts a new run (an international number). An
 * e-mail next to a number counts as a boundary, as the "[email]" replacing it would, so masked
 * text scans the same as before (idempotence; runs are never cut at a length either).
 * Known false positives: prose numbers shaped like phones ("100 200 300 400") and 13-19 digit
 * numbers that happen to pass Luhn (1 in 10 of them).
 *
 * Threading: a scan object is used by one thread at a time (the plugin keeps one per thread
 * and reuses its buffers); the functions have no other state.
 */
#ifndef SLUICE_PLUGINS_REDACT_TEXT_SCAN_H
#define SLUICE_PLUGINS_REDACT_TEXT_SCAN_H

#include <stddef.h>

/* Kinds of match; a set of them selects what to look for. */
enum {
    SLUICE_REDACT_EMAIL = 1u << 0,
    SLUICE_REDACT_CARD = 1u << 1,
    SLUICE_REDACT_PHONE = 1u << 2,
};

typedef struct sluice_redact_match {
    unsigned kind;       /* one SLUICE_REDACT_* */
    int international;   /* phone: written with a leading '+' */
    size_t start, end;   /* [start, end) in the original text */
    size_t dstart, dend; /* the same match in the decoded text (sluice_redact_scan_t.dec) */
} sluice_redact_match_t;

/* Zero-initialise before the first scan ({0}); reuse for any number of scans; dispose once. */
typedef struct sluice_redact_scan {
    char *dec; /* the percent-decoded text (dec_len bytes, not NUL-terminated) */
    size_t dec_len;
    size_t *map; /* map[i]: offset in the original of the bytes that decoded to dec[i];
                    map[dec_len] is the original length */
    size_t dec_cap;
    sluice_redact_match_t *matches; /* in order, non-overlapping */
    size_t count, match_cap;
    void *run_buf; /* the scanner's own: digit groups of the run being read */
    size_t run_cap;
} sluice_redact_scan_t;

/* Scans text[0..n) for the kinds in the set `kinds`, replacing the previous results in s. Returns
 * 0, or -1 when memory ran out (s then holds no matches). */
int sluice_redact_scan(sluice_redact_scan_t *s, const char *text, size_t n, unsigned kinds)
    __attribute__((warn_unused_result));

/* Frees the buffers of s (NULL allowed) and zeroes it. */
void sluice_redact_scan_dispose(sluice_redact_scan_t *s);

/* The canonical text of match m, what the plugin's `hash` mode digests, so the same address
 * or number written differently hashes the same: e-mails lowercased (ASCII), cards their
 * digits, phones their digits after a '+' when written internationally. Writes at most cap
 * bytes into out and returns the length (the canonical text is never longer than the match in
 * the decoded text). */
size_t sluice_redact_canonical(const sluice_redact_scan_t *s, const sluice_redact_match_t *m, char *out, size_t cap);

/* 1 when the n digits at d ('0'..'9') pass the Luhn check, else 0 (also for n == 0). */
int sluice_redact_luhn(const char *d, size_t n);

/* "email", "card" or "phone" (the plugin's replacement tokens are "[email]" etc.). */
const char *sluice_redact_kind_name(unsigned kind);

#endif
