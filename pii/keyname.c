/*
 * Key-name matchers (rules in keyname.h): a key is cut into at most MAX_WORDS lower-cased words
 * in a stack buffer, then its last words are compared with the phrases ending in its last word.
 * No allocation; runs for every member key the PII guard visits, on whichever thread calls it
 * (the phrase index is built once, under pthread_once).
 */
#include "keyname.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_WORDS 8
#define WORD_MAX  24

typedef struct words {
    char w[MAX_WORDS][WORD_MAX];
    size_t count;
} words_t;

static int is_lower(unsigned char c)
{
    return c >= 'a' && c <= 'z';
}

static int is_upper(unsigned char c)
{
    return c >= 'A' && c <= 'Z';
}

static int is_digit(unsigned char c)
{
    return c >= '0' && c <= '9';
}

/* Bytes of non-ASCII characters are letters: "téléphone" is one word, not "t", "l", "phone". */
static int is_alnum(unsigned char c)
{
    return is_lower(c) || is_upper(c) || is_digit(c) || c >= 0x80;
}

/* Cuts key into words; only the last MAX_WORDS are kept (matching looks at the end). A word longer
 * than WORD_MAX is kept cut, which no phrase matches. */
static void split(const char *key, size_t n, words_t *out)
{
    out->count = 0;
    size_t len = 0;
    int open = 0;
    for (size_t i = 0; i <= n; i++) {
        unsigned char c = i < n ? (unsigned char)key[i] : 0;
        unsigned char prev = i > 0 ? (unsigned char)key[i - 1] : 0;
        unsigned char next = i + 1 < n ? (unsigned char)key[i + 1] : 0;
        int boundary = !is_alnum(c) ||
                       (open && ((is_upper(c) && is_lower(prev)) || (is_upper(c) && is_upper(prev) && is_lower(next)) ||
                                 (is_digit(c) != is_digit(prev))));
        if (boundary && open) {
            out->w[(out->count - 1) % MAX_WORDS][len < WORD_MAX ? len : WORD_MAX - 1] = '\0';
            open = 0;
        }
        if (!is_alnum(c))
            continue;
        if (!open) {
            out->count++;
            len = 0;
            open = 1;
        }
        if (len < WORD_MAX - 1)
            out->w[(out->count - 1) % MAX_WORDS][len] = (char)(is_upper(c) ? c + ('a' - 'A') : c);
        len++;
    }
}

/* The i-th word from the end (0 = last), skipping trailing number words; NULL past the start. */
static const char *from_end(const words_t *w, size_t skip, size_t i)
{
    if (i + skip >= w->count || i + skip >= MAX_WORDS)
        return NULL;
    size_t k = w->count - 1 - skip - i;
    return w->w[k % MAX_WORDS];
}

/* Phrases, each a space-separated sequence of words that must end the key; the longest that
 * matches decides, so the NONE phrases keep "ip address" from being an address. */
static const struct {
    sluice_keyname_class_t cls;
    const char *phrase;
} phrases[] = {
    /* Addresses that are not where a person lives. */
    {SLUICE_KEYNAME_NONE, "ip address"},
    {SLUICE_KEYNAME_NONE, "ip addr"},
    {SLUICE_KEYNAME_NONE, "ipv4 address"},
    {SLUICE_KEYNAME_NONE, "ipv6 address"},
    {SLUICE_KEYNAME_NONE, "mac address"},
    {SLUICE_KEYNAME_NONE, "wallet address"},
    {SLUICE_KEYNAME_NONE, "contract address"},
    {SLUICE_KEYNAME_NONE, "web address"},
    {SLUICE_KEYNAME_NONE, "url address"},
    {SLUICE_KEYNAME_NONE, "server address"},
    {SLUICE_KEYNAME_NONE, "host address"},
    {SLUICE_KEYNAME_NONE, "remote address"},
    {SLUICE_KEYNAME_NONE, "bluetooth address"},

    {SLUICE_KEYNAME_EMAIL, "email"},
    {SLUICE_KEYNAME_EMAIL, "emails"},
    {SLUICE_KEYNAME_EMAIL, "e mail"},
    {SLUICE_KEYNAME_EMAIL, "email address"},
    {SLUICE_KEYNAME_EMAIL, "e mail address"},
    {SLUICE_KEYNAME_EMAIL, "mail address"},
    {SLUICE_KEYNAME_EMAIL, "emailaddress"},
    {SLUICE_KEYNAME_EMAIL, "mail"},

    {SLUICE_KEYNAME_PHONE, "phone"},
    {SLUICE_KEYNAME_PHONE, "phones"},
    {SLUICE_KEYNAME_PHONE, "phone number"},
    {SLUICE_KEYNAME_PHONE, "phone no"},
    {SLUICE_KEYNAME_PHONE, "phonenumber"},
    {SLUICE_KEYNAME_PHONE, "telephone"},
    {SLUICE_KEYNAME_PHONE, "telephone number"},
    {SLUICE_KEYNAME_PHONE, "tel"},
    {SLUICE_KEYNAME_PHONE, "mobile"},
    {SLUICE_KEYNAME_PHONE, "mobile number"},
    {SLUICE_KEYNAME_PHONE, "cell number"},
    {SLUICE_KEYNAME_PHONE, "msisdn"},
    {SLUICE_KEYNAME_PHONE, "fax"},
    {SLUICE_KEYNAME_PHONE, "fax number"},
    {SLUICE_KEYNAME_PHONE, "whatsapp"},

    {SLUICE_KEYNAME_ADDRESS, "address"},
    {SLUICE_KEYNAME_ADDRESS, "addr"},
    {SLUICE_KEYNAME_ADDRESS, "address line"},
    {SLUICE_KEYNAME_ADDRESS, "addressline"},
    {SLUICE_KEYNAME_ADDRESS, "street"},
    {SLUICE_KEYNAME_ADDRESS, "street address"},
    {SLUICE_KEYNAME_ADDRESS, "street name"},
    {SLUICE_KEYNAME_ADDRESS, "house number"},

    {SLUICE_KEYNAME_POSTAL_CODE, "postcode"},
    {SLUICE_KEYNAME_POSTAL_CODE, "post code"},
    {SLUICE_KEYNAME_POSTAL_CODE, "postal code"},
    {SLUICE_KEYNAME_POSTAL_CODE, "postalcode"},
    {SLUICE_KEYNAME_POSTAL_CODE, "zip"},
    {SLUICE_KEYNAME_POSTAL_CODE, "zip code"},
    {SLUICE_KEYNAME_POSTAL_CODE, "zipcode"},

    {SLUICE_KEYNAME_NAME, "first name"},
    {SLUICE_KEYNAME_NAME, "firstname"},
    {SLUICE_KEYNAME_NAME, "last name"},
    {SLUICE_KEYNAME_NAME, "lastname"},
    {SLUICE_KEYNAME_NAME, "full name"},
    {SLUICE_KEYNAME_NAME, "fullname"},
    {SLUICE_KEYNAME_NAME, "given name"},
    {SLUICE_KEYNAME_NAME, "family name"},
    {SLUICE_KEYNAME_NAME, "middle name"},
    {SLUICE_KEYNAME_NAME, "maiden name"},
    {SLUICE_KEYNAME_NAME, "surname"},
    {SLUICE_KEYNAME_NAME, "fname"},
    {SLUICE_KEYNAME_NAME, "lname"},

    {SLUICE_KEYNAME_BIRTHDATE, "birthday"},
    {SLUICE_KEYNAME_BIRTHDATE, "birthdate"},
    {SLUICE_KEYNAME_BIRTHDATE, "birth date"},
    {SLUICE_KEYNAME_BIRTHDATE, "date of birth"},
    {SLUICE_KEYNAME_BIRTHDATE, "dob"},

    {SLUICE_KEYNAME_NATIONAL_ID, "ssn"},
    {SLUICE_KEYNAME_NATIONAL_ID, "social security"},
    {SLUICE_KEYNAME_NATIONAL_ID, "social security number"},
    {SLUICE_KEYNAME_NATIONAL_ID, "national id"},
    {SLUICE_KEYNAME_NATIONAL_ID, "national id number"},
    {SLUICE_KEYNAME_NATIONAL_ID, "national insurance number"},
    {SLUICE_KEYNAME_NATIONAL_ID, "nino"},
    {SLUICE_KEYNAME_NATIONAL_ID, "tax id"},
    {SLUICE_KEYNAME_NATIONAL_ID, "passport"},
    {SLUICE_KEYNAME_NATIONAL_ID, "passport number"},
    {SLUICE_KEYNAME_NATIONAL_ID, "driver license"},
    {SLUICE_KEYNAME_NATIONAL_ID, "drivers license"},
    {SLUICE_KEYNAME_NATIONAL_ID, "driving licence"},

    {SLUICE_KEYNAME_CARD, "card number"},
    {SLUICE_KEYNAME_CARD, "cardnumber"},
    {SLUICE_KEYNAME_CARD, "credit card"},
    {SLUICE_KEYNAME_CARD, "credit card number"},
    {SLUICE_KEYNAME_CARD, "cc number"},
    {SLUICE_KEYNAME_CARD, "ccn"},
    {SLUICE_KEYNAME_CARD, "cvv"},
    {SLUICE_KEYNAME_CARD, "cvc"},

    {SLUICE_KEYNAME_BANK_ACCOUNT, "iban"},
    {SLUICE_KEYNAME_BANK_ACCOUNT, "bank account"},
    {SLUICE_KEYNAME_BANK_ACCOUNT, "bank account number"},

    {SLUICE_KEYNAME_PASSWORD, "password"},
    {SLUICE_KEYNAME_PASSWORD, "passwd"},
};

/* The phrases cut into words once, sorted by their last word, so a key costs one binary search on
 * its last word and a few compares (this runs for every member key of every event). */
typedef struct cut {
    const char *w[4]; /* words, last one last */
    size_t nw;
    sluice_keyname_class_t cls;
} cut_t;

#define PHRASE_COUNT (sizeof(phrases) / sizeof(phrases[0]))
static cut_t cuts[PHRASE_COUNT];
static char cut_text[PHRASE_COUNT][40];
static pthread_once_t cuts_once = PTHREAD_ONCE_INIT;

static int cmp_cut(const void *x, const void *y)
{
    const cut_t *a = x, *b = y;
    return strcmp(a->w[a->nw - 1], b->w[b->nw - 1]);
}

static void build_cuts(void)
{
    for (size_t i = 0; i < PHRASE_COUNT; i++) {
        snprintf(cut_text[i], sizeof(cut_text[i]), "%s", phrases[i].phrase);
        cut_t *c = &cuts[i];
        c->cls = phrases[i].cls;
        for (char *p = cut_text[i], *save = NULL, *t = strtok_r(p, " ", &save); t != NULL && c->nw < 4;
             t = strtok_r(NULL, " ", &save))
            c->w[c->nw++] = t;
    }
    qsort(cuts, PHRASE_COUNT, sizeof(cuts[0]), cmp_cut);
}

/* 1 when the key's words (after `skip` trailing number words) end with the phrase c. */
static int ends_with(const words_t *w, size_t skip, const cut_t *c)
{
    for (size_t i = 0; i < c->nw; i++) {
        const char *word = from_end(w, skip, i);
        if (word == NULL || strcmp(word, c->w[c->nw - 1 - i]) != 0)
            return 0;
    }
    return 1;
}

sluice_keyname_class_t sluice_keyname_classify(const char *key, size_t n)
{
    pthread_once(&cuts_once, build_cuts);
    words_t w;
    split(key, n, &w);
    size_t skip = 0;
    while (skip < w.count && skip < MAX_WORDS) {
        const char *word = from_end(&w, 0, skip);
        if (word == NULL || !is_digit((unsigned char)word[0]))
            break;
        skip++;
    }
    const char *last = from_end(&w, skip, 0);
    if (last == NULL)
        return SLUICE_KEYNAME_NONE;
    /* The first phrase whose last word is the key's, then every phrase with that last word. */
    size_t lo = 0, hi = PHRASE_COUNT;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (strcmp(cuts[mid].w[cuts[mid].nw - 1], last) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    /* The longest phrase that matches decides: "ip address" (not an address) over "address",
     * "email address" (an e-mail) over "address". */
    const cut_t *best = NULL;
    for (size_t i = lo; i < PHRASE_COUNT && strcmp(cuts[i].w[cuts[i].nw - 1], last) == 0; i++)
        if ((best == NULL || cuts[i].nw > best->nw) && ends_with(&w, skip, &cuts[i]))
            best = &cuts[i];
    return best != NULL ? best->cls : SLUICE_KEYNAME_NONE;
}

const char *sluice_keyname_class_name(sluice_keyname_class_t c)
{
    static const char *const names[SLUICE_KEYNAME_CLASS_COUNT] = {
        "none",      "email",       "phone", "address",      "postal_code", "name",
        "birthdate", "national_id", "card",  "bank_account", "password"};
    return (unsigned)c < SLUICE_KEYNAME_CLASS_COUNT ? names[c] : "none";
}
