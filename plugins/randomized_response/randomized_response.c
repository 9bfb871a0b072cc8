/*
 * Built-in mask plugin `randomized_response`: local differential privacy for a boolean or a
 * category. Each value is reported truthfully with probability p = e^eps / (e^eps + k - 1) and
 * otherwise replaced by one of the other k - 1 values, chosen uniformly (k-ary randomized
 * response; k = 2 for booleans, Warner's coin). One report then says little about the person,
 * whatever else is known (eps-local differential privacy), while a data team recovers the rates
 * over many reports with the unbiased estimator pi = (observed - q) / (p - q),
 * q = 1 / (e^eps + k - 1) (docs/plugins-builtin.md has a worked example).
 *
 * Without `categories` the domain is {true, false}: a JSON boolean gives a boolean, the strings
 * "true"/"false" give a string. With `categories` (2 to 1024 distinct texts) a string or number
 * is matched by its exact text; the output keeps a number's JSON type when every category is a
 * JSON number (a rating of 1 to 5 stays a number), and a boolean's when the categories are
 * exactly true and false; otherwise it is a string. A value outside the domain is refused
 * (EINVAL: the field is removed, fail closed); null is left as it is; objects and arrays are
 * refused. Every value of the domain is always REPLACED (also when the draw keeps it), so the
 * outcome says nothing about the draw.
 *
 * Randomness comes from the host's CSPRNG (host->random_bytes); a failure there fails closed.
 * Not deterministic (the descriptor omits SLUICE_MASK_FLAG_DETERMINISTIC): the same value gives
 * different outputs, which is the point. Built like a third-party plugin: only
 * <sluice/mask_plugin.h>. The instance is immutable after create; mask runs on every event-loop
 * thread at once without locks.
 */
#include <sluice/mask_plugin.h>

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CATEGORIES_MAX 1024
#define CATEGORY_MAX   256 /* bytes */
#define EPSILON_MAX    50.0

typedef struct category {
    char *text;
    size_t len;
} category_t;

typedef struct rr {
    const sluice_mask_host_t *host;
    size_t k;
    category_t *cat;
    int numeric; /* every category is a JSON number */
    int boolean; /* the categories are exactly true and false */
    /* A draw r (64 random bits) changes the value when r < flip: flip = (k-1)/(e^eps+k-1) * 2^64. */
    uint64_t flip;
} rr_t;

static const sluice_mask_config_entry_t config[] = {
    {"epsilon", SLUICE_MASK_CONF_DOUBLE, SLUICE_MASK_CONF_REQUIRED, NULL,
     "privacy parameter eps (0 < eps <= 50): the true value is kept with probability e^eps/(e^eps+k-1)"},
    {"categories", SLUICE_MASK_CONF_STRING_LIST, 0, NULL,
     "the k possible values (2..1024, distinct); without it the values are true and false"},
    {0},
};

/* 1 when s[0..n) is a JSON number (RFC 8259 grammar). */
static int json_number_text(const char *s, size_t n)
{
    size_t i = 0;
    if (i < n && s[i] == '-')
        i++;
    if (i < n && s[i] == '0')
        i++;
    else if (i < n && s[i] >= '1' && s[i] <= '9')
        while (i < n && s[i] >= '0' && s[i] <= '9')
            i++;
    else
        return 0;
    if (i < n && s[i] == '.') {
        size_t f = ++i;
        while (i < n && s[i] >= '0' && s[i] <= '9')
            i++;
        if (i == f)
            return 0;
    }
    if (i < n && (s[i] == 'e' || s[i] == 'E')) {
        i++;
        if (i < n && (s[i] == '+' || s[i] == '-'))
            i++;
        size_t e = i;
        while (i < n && s[i] >= '0' && s[i] <= '9')
            i++;
        if (i == e)
            return 0;
    }
    return i == n;
}

/* The flip threshold for eps and k: (k-1)/(e^eps+k-1) of 2^64. */
static uint64_t flip_threshold(double eps, size_t k)
{
    const double f = (double)(k - 1) / (exp(eps) + (double)(k - 1)); /* < (k-1)/k < 1 */
    return (uint64_t)ldexp(f, 64);
}

/* The reported category for the true one, from two random words: r1 decides whether to keep it,
 * r2 picks among the k-1 others; *retry is set when r2 falls in the biased tail (draw again). */
static size_t pick(const rr_t *r, size_t truth, uint64_t r1, uint64_t r2, int *retry)
{
    *retry = 0;
    if (r1 >= r->flip)
        return truth;
    const uint64_t others = (uint64_t)r->k - 1;
    /* r2 below the largest multiple of `others` keeps every other category equally likely. */
    const uint64_t limit = UINT64_MAX - (UINT64_MAX % others + 1) % others;
    if (r2 > limit) {
        *retry = 1;
        return truth;
    }
    size_t other = (size_t)(r2 % others);
    return other < truth ? other : other + 1; /* skip the true category */
}

static void rr_free(rr_t *r)
{
    if (r == NULL)
        return;
    for (size_t i = 0; r->cat != NULL && i < r->k; i++)
        free(r->cat[i].text);
    free(r->cat);
    free(r);
}

static int add_category(rr_t *r, const char *text, size_t len)
{
    char *copy = malloc(len + 1);
    if (copy == NULL)
        return SLUICE_MASK_ENOMEM;
    memcpy(copy, text, len);
    copy[len] = '\0';
    r->cat[r->k].text = copy;
    r->cat[r->k++].len = len;
    return SLUICE_MASK_OK;
}

static int configure(rr_t *r, const sluice_mask_host_t *host, const sluice_mask_config_t *cfg, char *err,
                     size_t err_len)
{
    double eps = 0;
    if (host->config_double(cfg, "epsilon", &eps) != 1 || !(eps > 0) || !(eps <= EPSILON_MAX)) {
        snprintf(err, err_len, "epsilon must be a number above 0 and at most %g", EPSILON_MAX);
        return SLUICE_MASK_ECONFIG;
    }
    size_t count = 0;
    int given = host->config_list_count(cfg, "categories", &count) == 1;
    if (!given)
        count = 2;
    if (count < 2 || count > CATEGORIES_MAX) {
        snprintf(err, err_len, "categories must list between 2 and %d values", CATEGORIES_MAX);
        return SLUICE_MASK_ECONFIG;
    }
    if ((r->cat = calloc(count, sizeof(*r->cat))) == NULL) {
        snprintf(err, err_len, "out of memory");
        return SLUICE_MASK_ENOMEM;
    }
    for (size_t i = 0; i < count; i++) {
        const char *text = i == 0 ? "true" : "false";
        size_t len = strlen(text);
        if (given && host->config_list_item(cfg, "categories", i, &text, &len) != 1) {
            snprintf(err, err_len, "categories item %zu has no value", i + 1);
            return SLUICE_MASK_ECONFIG;
        }
        if (len > CATEGORY_MAX) {
            snprintf(err, err_len, "categories item %zu is longer than %d bytes", i + 1, CATEGORY_MAX);
            return SLUICE_MASK_ECONFIG;
        }
        for (size_t j = 0; j < r->k; j++) {
            if (r->cat[j].len == len && memcmp(r->cat[j].text, text, len) == 0) {
                snprintf(err, err_len, "categories items %zu and %zu are the same", j + 1, i + 1);
                return SLUICE_MASK_ECONFIG;
            }
        }
        if (add_category(r, text, len) != SLUICE_MASK_OK) {
            snprintf(err, err_len, "out of memory");
            return SLUICE_MASK_ENOMEM;
        }
    }
    r->numeric = 1;
    r->boolean = r->k == 2;
    for (size_t i = 0; i < r->k; i++) {
        r->numeric &= json_number_text(r->cat[i].text, r->cat[i].len);
        r->boolean &= strcmp(r->cat[i].text, "true") == 0 || strcmp(r->cat[i].text, "false") == 0;
    }
    r->flip = flip_threshold(eps, r->k);
    return SLUICE_MASK_OK;
}

static int create(const sluice_mask_host_t *host, sluice_mask_handle_t *self, const sluice_mask_config_t *cfg,
                  void **instance, char *err, size_t err_len)
{
    (void)self;
    rr_t *r = calloc(1, sizeof(*r));
    if (r == NULL) {
        snprintf(err, err_len, "out of memory");
        return SLUICE_MASK_ENOMEM;
    }
    r->host = host;
    int rc = configure(r, host, cfg, err, err_len);
    if (rc != SLUICE_MASK_OK) {
        rr_free(r);
        return rc;
    }
    *instance = r;
    return SLUICE_MASK_OK;
}

static void destroy(void *instance)
{
    rr_free(instance);
}

static int mask(void *instance, void *thread_ctx, const sluice_mask_input_t *in, sluice_mask_output_t *out)
{
    (void)thread_ctx;
    const rr_t *r = instance;
    if (in->type == SLUICE_MASK_JSON_NULL)
        return SLUICE_MASK_UNCHANGED;
    if (in->type != SLUICE_MASK_JSON_STRING && in->type != SLUICE_MASK_JSON_NUMBER && in->type != SLUICE_MASK_JSON_BOOL)
        return SLUICE_MASK_EINVAL;
    size_t truth = r->k;
    for (size_t i = 0; i < r->k && truth == r->k; i++)
        if (r->cat[i].len == in->value_len && memcmp(r->cat[i].text, in->value, in->value_len) == 0)
            truth = i;
    if (truth == r->k)
        return SLUICE_MASK_EINVAL; /* outside the domain: nothing to randomize it into */
    size_t reported = truth;
    for (int retry = 1, draws = 0; retry; draws++) {
        uint64_t words[2];
        if (draws == 8 || r->host->random_bytes(words, sizeof(words)) != SLUICE_MASK_OK)
            return SLUICE_MASK_EINTERNAL; /* 8 rejections in a row: odds 2^-500; the CSPRNG is broken */
        reported = pick(r, truth, words[0], words[1], &retry);
    }
    /* A JSON type every category can take is kept, so the type never tells kept from changed. */
    int json = (in->type == SLUICE_MASK_JSON_NUMBER && r->numeric) || (in->type == SLUICE_MASK_JSON_BOOL && r->boolean);
    if (json) {
        int rc = r->host->set_output_type(out, SLUICE_MASK_OUT_JSON);
        if (rc != SLUICE_MASK_OK)
            return rc;
    }
    return r->host->append(out, r->cat[reported].text, r->cat[reported].len);
}

/* Known answers: the flip thresholds of exact probabilities, and pick on fixed random words. */
static int selftest(void *instance, char *err, size_t err_len)
{
    (void)instance;
    /* eps = ln 3, k = 2: p = 3/4, so the value changes when r1 < 2^64/4 = 2^62. eps = ln 6,
     * k = 4: p = 6/9, flip 3/9 = 1/3 of 2^64. The double arithmetic may be off by a few units
     * of 2^11 (53-bit mantissa). */
    const uint64_t t2 = flip_threshold(log(3.0), 2), t4 = flip_threshold(log(6.0), 4);
    const uint64_t want2 = (uint64_t)1 << 62, want4 = UINT64_MAX / 3;
    if ((t2 > want2 ? t2 - want2 : want2 - t2) > 4096 || (t4 > want4 ? t4 - want4 : want4 - t4) > 4096) {
        snprintf(err, err_len, "known answer 1 differs (flip probabilities)");
        return SLUICE_MASK_EINTERNAL;
    }
    category_t cats[4] = {{"a", 1}, {"b", 1}, {"c", 1}, {"d", 1}};
    rr_t ref = {.k = 4, .cat = cats, .flip = UINT64_MAX / 3};
    static const struct {
        size_t truth;
        uint64_t r1, r2;
        size_t want;
        int retry;
    } cases[] = {
        {2, UINT64_MAX / 3, 0, 2, 0},     /* r1 at the threshold: kept */
        {2, UINT64_MAX / 3 - 1, 0, 0, 0}, /* just below: the first other */
        {2, 0, 1, 1, 0},                  /* the second other */
        {2, 0, 2, 3, 0},                  /* the third other skips the truth */
        {0, 0, 5, 3, 0},                  /* 5 mod 3 = 2: the third other of a */
        {3, 0, UINT64_MAX - 1, 2, 0},     /* (2^64 - 2) mod 3 = 2: the last unbiased word */
        {3, 0, UINT64_MAX, 3, 1},         /* the biased tail: draw again */
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        int retry = 0;
        size_t got = pick(&ref, cases[i].truth, cases[i].r1, cases[i].r2, &retry);
        if (retry != cases[i].retry || (!retry && got != cases[i].want)) {
            snprintf(err, err_len, "known answer %zu differs (pick)", i + 2);
            return SLUICE_MASK_EINTERNAL;
        }
    }
    return SLUICE_MASK_OK;
}

SLUICE_MASK_PLUGIN(.name = "randomized_response", .version = "1.0.0",
                   .description = "local differential privacy for booleans and categories (k-ary randomized response)",
                   .config = config, .flags = 0, .create = create, .destroy = destroy, .mask = mask,
                   .selftest = selftest);
