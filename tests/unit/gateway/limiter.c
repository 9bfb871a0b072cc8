/* Tests for gateway/limiter.c: per-source buckets shared out among threads and kept by name
 * across reloads, per-client buckets per address (IPv6 by /64), and the bounded client table. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "gateway/limiter.h"

static int drain(int (*allow)(void *, uint64_t), void *ud, uint64_t now, int max)
{
    int n = 0;
    while (n < max && allow(ud, now))
        n++;
    return n;
}

typedef struct src_ctx {
    sluice_limiter_t *l;
    int slot;
    unsigned thread;
    sluice_rate_limit_t rl;
} src_ctx_t;

static int src_allow(void *ud, uint64_t now)
{
    src_ctx_t *c = ud;
    return sluice_limiter_allow(c->l, c->slot, c->thread, &c->rl, now);
}

/* Each of 2 threads gets half of the burst and half of the rate. */
static void test_source_share(void **state)
{
    (void)state;
    sluice_limiter_t *l = sluice_limiter_create(2);
    src_ctx_t c = {l, sluice_limiter_slot(l, "acme", "web"), 0, {.per_second = 10, .burst = 20}};
    assert_int_equal(c.slot, 0);
    assert_int_equal(drain(src_allow, &c, 1000, 100), 10);
    c.thread = 1;
    assert_int_equal(drain(src_allow, &c, 1000, 100), 10);
    /* One second later each thread got 5 more tokens. */
    assert_int_equal(drain(src_allow, &c, 2000, 100), 5);
    c.thread = 0;
    assert_int_equal(drain(src_allow, &c, 2000, 100), 5);
    /* 0 per second: no limit. */
    c.rl.per_second = 0;
    assert_int_equal(drain(src_allow, &c, 2000, 1000), 1000);
    sluice_limiter_destroy(l);
}

/* A slot is found again by name (what a reload does): its bucket is not refilled. */
static void test_source_survives_reload(void **state)
{
    (void)state;
    sluice_limiter_t *l = sluice_limiter_create(1);
    src_ctx_t c = {l, sluice_limiter_slot(l, "acme", "web"), 0, {.per_second = 1, .burst = 5}};
    assert_int_equal(sluice_limiter_slot(l, "acme", "app"), 1);
    assert_int_equal(sluice_limiter_slot(l, "acm", "e/web"), 2); /* names cannot run together */
    assert_int_equal(drain(src_allow, &c, 5000, 100), 5);
    assert_int_equal(sluice_limiter_slot(l, "acme", "web"), c.slot);
    assert_int_equal(drain(src_allow, &c, 5000, 100), 0);
    sluice_limiter_destroy(l);
}

/* An operator who renames sources on every deploy: each reload's runtime takes the new names'
 * slots, then the runtime it replaced is freed and gives its own back. 4096 names in all used
 * to exhaust the limiter for good (every later reload refused); only the names runtimes still
 * hold count now, and a source kept through every deploy keeps its bucket. */
static void test_source_slots_released_across_reloads(void **state)
{
    (void)state;
    sluice_limiter_t *l = sluice_limiter_create(2);
    enum { PER_DEPLOY = 700, DEPLOYS = 12 };
    static int held[2][PER_DEPLOY + 1];
    src_ctx_t kept = {l, -1, 0, {.per_second = 1, .burst = 4}};
    char name[32];
    for (int d = 0; d < DEPLOYS; d++) {
        int *now = held[d % 2], *before = held[(d + 1) % 2];
        now[0] = sluice_limiter_slot(l, "acme", "web"); /* the same through every deploy */
        for (int i = 1; i <= PER_DEPLOY; i++) {
            snprintf(name, sizeof(name), "src-%d-%d", d, i);
            now[i] = sluice_limiter_slot(l, "acme", name);
            assert_true(now[i] >= 0);
        }
        if (d == 0) {
            kept.slot = now[0];
            assert_int_equal(drain(src_allow, &kept, 1000, 100), 2); /* burst 4 over 2 threads */
        }
        assert_int_equal(now[0], kept.slot);
        if (d > 0)
            for (int i = 0; i <= PER_DEPLOY; i++)
                sluice_limiter_release(l, before[i]);
    }
    /* 8,400 names over the deploys; the kept source's bucket is still the drained one. */
    assert_int_equal(drain(src_allow, &kept, 1000, 100), 0);
    sluice_limiter_release(l, kept.slot);
    for (int i = 1; i <= PER_DEPLOY; i++)
        sluice_limiter_release(l, held[(DEPLOYS - 1) % 2][i]);

    /* A source removed (no runtime names it) and named again starts full, like a new one. */
    int s = sluice_limiter_slot(l, "acme", "gone");
    src_ctx_t g = {l, s, 0, {.per_second = 1, .burst = 4}};
    assert_int_equal(drain(src_allow, &g, 1000, 100), 2);
    sluice_limiter_release(l, s);
    g.slot = sluice_limiter_slot(l, "acme", "gone");
    assert_int_equal(drain(src_allow, &g, 1000, 100), 2);
    sluice_limiter_release(l, g.slot);

    /* What runtimes hold at once is still bounded. */
    for (int i = 0; i < SLUICE_LIMITER_MAX_SLOTS; i++) {
        snprintf(name, sizeof(name), "all-%d", i);
        assert_true(sluice_limiter_slot(l, "acme", name) >= 0);
    }
    assert_int_equal(sluice_limiter_slot(l, "acme", "one-too-many"), -1);
    sluice_limiter_destroy(l);
}

/* A SaaS's gateway: 2,000 orgs with ten sources each, then a reload that drops every third
 * source. All 20,000 got a slot (4096 was the most: the gateway refused to start), each is found
 * again by name with its own handle and bucket after others left, and a source named anew takes
 * a freed slot. */
static void test_twenty_thousand_sources(void **state)
{
    (void)state;
    enum { ORGS = 2000, PER_ORG = 10 };
    sluice_limiter_t *l = sluice_limiter_create(1);
    static int h[ORGS][PER_ORG];
    char org[32], src[32];
    for (int o = 0; o < ORGS; o++)
        for (int s = 0; s < PER_ORG; s++) {
            snprintf(org, sizeof(org), "org%d", o);
            snprintf(src, sizeof(src), "src%d", s);
            h[o][s] = sluice_limiter_slot(l, org, src);
            assert_true(h[o][s] >= 0);
        }
    /* Drain the last source's bucket: finding it again by name must not refill it. */
    src_ctx_t last = {l, h[ORGS - 1][PER_ORG - 1], 0, {.per_second = 1, .burst = 3}};
    assert_int_equal(drain(src_allow, &last, 1000, 100), 3);
    for (int o = 0; o < ORGS; o++)
        for (int s = 0; s < PER_ORG; s++)
            if ((o * PER_ORG + s) % 3 == 0)
                sluice_limiter_release(l, h[o][s]);
    for (int o = 0; o < ORGS; o++)
        for (int s = 0; s < PER_ORG; s++) {
            if ((o * PER_ORG + s) % 3 == 0)
                continue;
            snprintf(org, sizeof(org), "org%d", o);
            snprintf(src, sizeof(src), "src%d", s);
            assert_int_equal(sluice_limiter_slot(l, org, src), h[o][s]);
        }
    assert_int_equal(drain(src_allow, &last, 1000, 100), 0);
    /* A new name takes a slot a dropped source left, full. */
    int fresh = sluice_limiter_slot(l, "org-new", "web");
    assert_true(fresh >= 0);
    assert_true(fresh % SLUICE_LIMITER_MAX_SLOTS < ORGS * PER_ORG);
    src_ctx_t f = {l, fresh, 0, {.per_second = 1, .burst = 3}};
    assert_int_equal(drain(src_allow, &f, 1000, 100), 3);
    sluice_limiter_destroy(l);
}

typedef struct cli_ctx {
    sluice_client_limits_t *t;
    int slot;
    const char *ip;
    sluice_rate_limit_t rl;
} cli_ctx_t;

static int cli_allow(void *ud, uint64_t now)
{
    cli_ctx_t *c = ud;
    return sluice_client_limits_allow(c->t, c->slot, c->ip, &c->rl, now);
}

/* Each address has its own bucket; one flooding does not touch another's. */
static void test_client_per_address(void **state)
{
    (void)state;
    sluice_client_limits_t *t = sluice_client_limits_create(1024);
    cli_ctx_t a = {t, 0, "203.0.113.7", {.per_second = 2, .burst = 4}}, b = a;
    b.ip = "203.0.113.8";
    assert_int_equal(drain(cli_allow, &a, 1000, 100), 4);
    assert_int_equal(drain(cli_allow, &a, 1000, 100), 0);
    assert_int_equal(drain(cli_allow, &b, 1000, 100), 4);
    assert_int_equal(drain(cli_allow, &a, 1500, 100), 1);
    /* The same address under another source is another bucket. */
    a.slot = 1;
    assert_int_equal(drain(cli_allow, &a, 1500, 100), 4);
    /* Not an address, or no limit: allowed. */
    a.ip = "not-an-ip";
    assert_int_equal(drain(cli_allow, &a, 1500, 50), 50);
    a.ip = "203.0.113.7";
    a.rl.per_second = 0;
    assert_int_equal(drain(cli_allow, &a, 1500, 50), 50);
    sluice_client_limits_destroy(t);
}

/* A reload removes source "old" (its runtime freed gives its slot back) and a later one adds
 * "new", which takes that slot. A caller throttled on "old" (one server posting for both) must
 * start with a full client bucket on "new", as on any source it never used: the workers' client
 * tables are keyed by what sluice_limiter_slot gives, and that was the bare index, so "new" was
 * refused at once ("too many requests from this client"). The slot's own buckets already start
 * full (test_source_slots_released_across_reloads). */
static void test_client_bucket_not_inherited_by_reused_slot(void **state)
{
    (void)state;
    sluice_limiter_t *l = sluice_limiter_create(1);
    sluice_client_limits_t *t = sluice_client_limits_create(64);
    int old = sluice_limiter_slot(l, "acme", "old");
    assert_true(old >= 0);
    cli_ctx_t c = {t, old, "198.51.100.20", {.per_second = 1, .burst = 5}};
    assert_int_equal(drain(cli_allow, &c, 1000, 100), 5);
    assert_int_equal(drain(cli_allow, &c, 1000, 100), 0);
    /* A source kept through a reload keeps its clients' buckets: same handle. */
    assert_int_equal(sluice_limiter_slot(l, "acme", "old"), old);
    sluice_limiter_release(l, old);
    sluice_limiter_release(l, old);

    c.slot = sluice_limiter_slot(l, "acme", "new");
    assert_true(c.slot >= 0);
    assert_int_equal(drain(cli_allow, &c, 1000, 100), 5);
    /* A stale handle given back again does not take the new source's reference. */
    sluice_limiter_release(l, old);
    assert_int_equal(sluice_limiter_slot(l, "acme", "other"), 1);
    src_ctx_t s = {l, c.slot, 0, {.per_second = 1, .burst = 3}};
    assert_int_equal(drain(src_allow, &s, 1000, 100), 3);
    sluice_client_limits_destroy(t);
    sluice_limiter_destroy(l);
}

/* IPv6 clients are keyed by their /64: rotating the low bits gives no new budget. */
static void test_client_ipv6_prefix(void **state)
{
    (void)state;
    sluice_client_limits_t *t = sluice_client_limits_create(64);
    cli_ctx_t a = {t, 0, "2001:db8:1:2::1", {.per_second = 1, .burst = 3}};
    assert_int_equal(drain(cli_allow, &a, 1000, 100), 3);
    a.ip = "2001:db8:1:2:ffff:ffff:ffff:fffe";
    assert_int_equal(drain(cli_allow, &a, 1000, 100), 0);
    a.ip = "2001:db8:1:3::1"; /* another /64 */
    assert_int_equal(drain(cli_allow, &a, 1000, 100), 3);
    sluice_client_limits_destroy(t);
}

/* The table never grows past its size, whatever number of addresses comes. */
static void test_client_table_bounded(void **state)
{
    (void)state;
    sluice_client_limits_t *t = sluice_client_limits_create(64);
    sluice_rate_limit_t rl = {.per_second = 1, .burst = 2};
    assert_true(sluice_client_limits_allow(t, 0, "198.51.100.1", &rl, 1000));
    assert_true(sluice_client_limits_allow(t, 0, "198.51.100.1", &rl, 1000));
    assert_false(sluice_client_limits_allow(t, 0, "198.51.100.1", &rl, 1000));
    char ip[32];
    for (int i = 0; i < 5000; i++) {
        snprintf(ip, sizeof(ip), "10.%d.%d.%d", i >> 16 & 255, i >> 8 & 255, i & 255);
        sluice_client_limits_allow(t, 0, ip, &rl, 1000 + (uint64_t)i * 10); /* each new one is full again soon */
    }
    assert_true(sluice_client_limits_count(t) <= 64);
    sluice_client_limits_destroy(t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_source_share),
        cmocka_unit_test(test_source_survives_reload),
        cmocka_unit_test(test_client_per_address),
        cmocka_unit_test(test_client_ipv6_prefix),
        cmocka_unit_test(test_client_table_bounded),
        cmocka_unit_test(test_source_slots_released_across_reloads),
        cmocka_unit_test(test_client_bucket_not_inherited_by_reused_slot),
        cmocka_unit_test(test_twenty_thousand_sources),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
