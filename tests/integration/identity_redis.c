/*
 * sluice's Redis as a production Redis is set up: a password on the default user, an ACL user
 * allowed only the commands sluice sends and only keys under the deployment's prefix, and TLS
 * reached through stunnel (Debian's stunnel4), as docs/identity.md shows.
 *
 * The identity layer runs here on an h2o loop of the test itself (the same code the gateway runs
 * on each thread), so every command kind is exercised and checked against Redis: the single-use
 * token key (SET NX PX), a first id's claim (SET NX EX, SET EX), dedup (EXISTS, SET EX),
 * identify links (HSET, EXPIRE, HMGET), the signed-request replay key (SET NX PX, DEL), the
 * SELECT of a database. Then the same through a real gateway behind stunnel to a TLS-only Redis.
 * And the replay edges: a spent token is refused 1 ms before and 1 ms after the second of its
 * exp begins (the key outlives the last instant the token is accepted).
 */
#include <fcntl.h>
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
#include <hiredis/hiredis.h>

#include "crypto/hkdf.h"
#include "crypto/keyring.h"
#include "identity/identity.h"
#include "tests/integration/gwfix.h"

#define ROOT_KEY    "7a7a7a7a7a7a7a7a7a7a7a7a7a7a7a7a7a7a7a7a7a7a7a7a7a7a7a7a7a7a7a7a"
#define ADMIN_PW    "admin-pw-5d1f"
#define GW_USER     "sluice-gw"
#define GW_PW       "gw-pw-c0d3-9a7e"
#define PREFIX      "sluice:t1:"
#define ACME_KEY    "wk_acme_redis_41"
#define HMAC_SECRET "hmac-redis-test-8e2"
#define SHOP        "https://shop.acme.test"
#define CHECKOUT    "https://checkout.example-pay.com"

/* The ACL user of docs/identity.md: sluice's commands, sluice's keys, nothing else. */
/* clang-format off */
static const char *const acl[] = {"--user", GW_USER, "on", ">" GW_PW, "resetkeys", "~" PREFIX "*", "resetchannels",
                                  "-@all", "+set", "+exists", "+hmget", "+hset", "+hsetnx", "+hincrby", "+expire", "+del", "+get", "+smembers", "+time", "+select", "+ping", "+info", "+eval", NULL};
/* clang-format on */

static gwfix_t F;
static sluice_th_redis_t RA; /* plain, password and ACL */
static sluice_th_redis_t RT; /* TLS only, password and ACL */
static sluice_th_stunnel_t ST;
static h2o_loop_t *loop;
static sluice_keyring_t *root, *tokens, *cookies;
static sluice_identity_secrets_t secrets;
static char org_id[] = "acme", sid[] = "_sid", shop[] = "shop.acme.test", checkout[] = "checkout.example-pay.com";
static char *domains[] = {shop, checkout};
static sluice_org_t org;
static sluice_config_t cfg;
static char host[] = "127.0.0.1", prefix[] = PREFIX, user[] = GW_USER, url[] = "redis://set-by-the-test";

static int setup(void **state)
{
    (void)state;
    curl_global_init(CURL_GLOBAL_DEFAULT);
    gwfix_stack(&F); /* Kafka, certificates (and a plain Redis this test does not use) */
    sluice_err_t err;
    sluice_th_redis_opts_t plain = {.password = ADMIN_PW, .extra = acl};
    if (sluice_th_redis_start_opts(&RA, 0, &plain, &err) != 0)
        fail_msg("%s", err.msg);
    sluice_th_redis_opts_t tls = {.password = ADMIN_PW, .extra = acl, .tls_dir = F.certs};
    if (sluice_th_redis_start_opts(&RT, 0, &tls, &err) != 0)
        fail_msg("%s", err.msg);
    if (sluice_th_stunnel_start(&ST, RT.port, F.ca, &err) != 0)
        fail_msg("%s", err.msg);

    root = sluice_keyring_from_strings(ROOT_KEY, "1", NULL, &err);
    tokens = sluice_keyring_derive(root, SLUICE_KEY_PURPOSE_XD_TOKEN, &err);
    cookies = sluice_keyring_derive(root, SLUICE_KEY_PURPOSE_XD_COOKIE, &err);
    secrets = (sluice_identity_secrets_t){.tokens = tokens, .cookies = cookies, .redis_password = GW_PW};
    org.id = org_id;
    org.identity.cookie_name = sid;
    org.identity.cookie_max_age_days = 400;
    org.identity.xd_domains = domains;
    org.identity.xd_domain_count = 2;
    org.identity.xd_token_ttl_s = 1;
    org.identity.xd_clock_skew_s = 0;
    org.identity.link_ttl_days = 1;
    org.identity.dedup_enabled = 1;
    org.identity.dedup_window_s = 60;
    cfg.orgs = &org;
    cfg.org_count = 1;
    cfg.redis.url = url;
    cfg.redis.host = host;
    cfg.redis.db = 2; /* SELECT, as an ACL-limited user */
    cfg.redis.timeout_ms = 1000;
    cfg.redis.username = user;
    cfg.redis.key_prefix = prefix;
    loop = h2o_evloop_create();
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    if (F.gw != NULL)
        gwfix_stop(&F, SIGTERM);
    sluice_keyring_free(root);
    sluice_keyring_free(tokens);
    sluice_keyring_free(cookies);
    h2o_evloop_destroy(loop);
    sluice_th_teardown();
    curl_global_cleanup();
    return 0;
}

/* ------------------------------------------------------------------ the loop */

static int64_t now_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_REALTIME, &t);
    return (int64_t)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

/* Runs the loop until cond holds (1) or timeout_ms passes (0). */
static int spin(int (*cond)(void *), void *arg, int timeout_ms)
{
    int64_t end = now_ms() + timeout_ms;
    while (!cond(arg)) {
        if (now_ms() > end)
            return 0;
        h2o_evloop_run(loop, 10);
    }
    return 1;
}

static int connected(void *arg)
{
    return sluice_redis_connected(((sluice_identity_thread_t *)arg)->redis);
}

static int never(void *arg)
{
    (void)arg;
    return 0;
}

static sluice_identity_thread_t *thread_on(int port, const char *password)
{
    secrets.redis_password = password;
    cfg.redis.port = (uint16_t)port;
    sluice_err_t err;
    sluice_identity_thread_t *t = sluice_identity_thread_create(&cfg, loop, &secrets, &err);
    assert_non_null(t);
    return t;
}

static int job_done;

static void on_done(sluice_identity_job_t *job)
{
    (void)job;
    job_done = 1;
}

static int is_done(void *arg)
{
    (void)arg;
    return job_done;
}

/* One request's identity job on t: begin, assign every event of body, run, wait for done.
 * Returns the events (the caller disposes job and events). */
static json_t *run_job(sluice_identity_thread_t *t, sluice_identity_job_t *job, const char *origin, const char *cookie,
                       const char *body, int64_t at_ms, const char *replay_key)
{
    json_error_t je;
    json_t *root_json = json_loads(body, 0, &je);
    assert_non_null(root_json);
    memset(job, 0, sizeof(*job));
    job->cfg = &cfg;
    job->org = &org;
    job->done = on_done;
    if (replay_key != NULL) {
        snprintf(job->replay_key, sizeof(job->replay_key), "%s", replay_key);
        job->replay_until_ms = at_ms + 300000;
    }
    sluice_identity_input_t in = {.browser = replay_key == NULL,
                                  .now_ms = at_ms,
                                  .origin = h2o_iovec_init(origin, strlen(origin)),
                                  .cookie_id =
                                      cookie ? h2o_iovec_init(cookie, strlen(cookie)) : h2o_iovec_init(NULL, 0),
                                  .host = h2o_iovec_init(H2O_STRLIT("127.0.0.1"))};
    sluice_identity_begin(t, job, &in, root_json);
    json_t *events = json_array();
    json_t *list = json_object_get(root_json, "batch");
    size_t i;
    json_t *ev;
    if (json_is_array(list)) {
        json_array_foreach(list, i, ev) {
            assert_int_equal(sluice_identity_assign(job, ev), 0);
            json_array_append(events, ev);
        }
    } else {
        assert_int_equal(sluice_identity_assign(job, root_json), 0);
        json_array_append(events, root_json);
    }
    json_decref(root_json);
    job->events = events;
    job_done = 0;
    assert_int_equal(sluice_identity_run(t, job), 0);
    assert_true(spin(is_done, NULL, 5000));
    return events;
}

static void finish_job(sluice_identity_job_t *job, json_t *events)
{
    sluice_identity_job_dispose(job);
    json_decref(events);
}

/* The outcome of presenting tok on checkout at at_ms, from a browser with no cookie. */
static int present(sluice_identity_thread_t *t, const char *tok, int64_t at_ms)
{
    char body[1024];
    snprintf(body, sizeof(body), "{\"type\":\"page\",\"_dft\":\"%s\"}", tok);
    sluice_identity_job_t job;
    json_t *evs = run_job(t, &job, CHECKOUT, NULL, body, at_ms, NULL);
    int outcome = job.token_outcome;
    finish_job(&job, evs);
    return outcome;
}

/* ------------------------------------------------------------------ admin access */

static redisReply *admin(int port, const char *fmt, ...)
{
    redisContext *c = redisConnect("127.0.0.1", port);
    assert_non_null(c);
    assert_int_equal(c->err, 0);
    redisReply *a = redisCommand(c, "AUTH %s", ADMIN_PW);
    assert_non_null(a);
    assert_int_equal(a->type, REDIS_REPLY_STATUS);
    freeReplyObject(a);
    a = redisCommand(c, "SELECT 2");
    freeReplyObject(a);
    va_list ap;
    va_start(ap, fmt);
    redisReply *r = redisvCommand(c, fmt, ap);
    va_end(ap);
    redisFree(c);
    assert_non_null(r);
    return r;
}

static long long admin_int(int port, const char *fmt, const char *arg)
{
    redisReply *r = admin(port, fmt, arg);
    long long v = r->type == REDIS_REPLY_INTEGER ? r->integer : -999;
    freeReplyObject(r);
    return v;
}

/* Every key of database 2 starts with the prefix; returns how many there are. */
static size_t keys_all_prefixed(int port)
{
    redisReply *r = admin(port, "KEYS *");
    assert_int_equal(r->type, REDIS_REPLY_ARRAY);
    for (size_t i = 0; i < r->elements; i++) {
        if (strncmp(r->element[i]->str, PREFIX, strlen(PREFIX)) != 0)
            print_error("key without the prefix: %s\n", r->element[i]->str);
        assert_int_equal(strncmp(r->element[i]->str, PREFIX, strlen(PREFIX)), 0);
    }
    size_t n = r->elements;
    freeReplyObject(r);
    return n;
}

/* ------------------------------------------------------------------ tests */

/* What the ACL user may not do: other keys, other commands. The test of the limit itself. */
static void acl_user_is_limited(void **state)
{
    (void)state;
    redisContext *c = redisConnect("127.0.0.1", RA.port);
    redisReply *r = redisCommand(c, "AUTH %s %s", GW_USER, GW_PW);
    assert_int_equal(r->type, REDIS_REPLY_STATUS);
    freeReplyObject(r);
    static const char *const refused[] = {"SET other:key 1", "GET other:key", "HGETALL " PREFIX "x",
                                          "KEYS *",          "FLUSHALL",      "CONFIG GET *"};
    for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++) {
        r = redisCommand(c, refused[i]);
        assert_int_equal(r->type, REDIS_REPLY_ERROR);
        assert_non_null(strstr(r->str, "NOPERM"));
        freeReplyObject(r);
    }
    redisFree(c);
    /* and without a password nothing at all */
    c = redisConnect("127.0.0.1", RA.port);
    r = redisCommand(c, "EXISTS " PREFIX "x");
    assert_int_equal(r->type, REDIS_REPLY_ERROR);
    assert_non_null(strstr(r->str, "NOAUTH"));
    freeReplyObject(r);
    redisFree(c);
}

static int known_user(void *arg)
{
    (void)arg;
    redisReply *r = admin(RA.port, "HGET " PREFIX "id:acme:visitor-acl userId");
    int ok = r->type == REDIS_REPLY_STRING && strcmp(r->str, "user-acl") == 0;
    freeReplyObject(r);
    return ok;
}

static int deduped(void *arg)
{
    (void)arg;
    return admin_int(RA.port, "EXISTS %s", PREFIX "dedup:acme:mid-acl-1") == 1;
}

/* Everything sluice does in Redis, as the ACL user, with AUTH and SELECT: no command refused. */
static void every_command_as_the_acl_user(void **state)
{
    (void)state;
    sluice_identity_thread_t *t = thread_on(RA.port, GW_PW);
    assert_true(spin(connected, t, 5000));
    sluice_identity_job_t job;
    int64_t now = now_ms();

    /* A new visitor's first id: claimed (SET NX EX) and signed into the cookie. */
    json_t *evs = run_job(t, &job, SHOP, NULL, "{\"type\":\"page\",\"anonymousId\":\"visitor-acl\"}", now, NULL);
    assert_int_equal(job.proof, SLUICE_IDENTITY_PROOF_CLAIMED);
    assert_string_equal(job.anonymous_id, "visitor-acl");
    char cookie[256];
    snprintf(cookie, sizeof(cookie), "%.*s", (int)strcspn(job.cookies[0] + 5, ";"), job.cookies[0] + 5);
    finish_job(&job, evs);
    assert_true(admin_int(RA.port, "TTL %s", PREFIX "own:acme:visitor-acl") > 86000);
    /* ...and a second browser naming it gets no cookie for it */
    evs = run_job(t, &job, SHOP, NULL, "{\"type\":\"page\",\"anonymousId\":\"visitor-acl\"}", now, NULL);
    assert_int_equal(job.proof, SLUICE_IDENTITY_PROOF_NONE);
    assert_int_equal(job.cookie_count, 0);
    finish_job(&job, evs);

    /* identify: HSET + EXPIRE (fire and forget), then HMGET on a later event. */
    evs = run_job(t, &job, SHOP, cookie, "{\"type\":\"identify\",\"userId\":\"user-acl\",\"messageId\":\"mid-acl-1\"}",
                  now, NULL);
    assert_int_equal(job.proof, SLUICE_IDENTITY_PROOF_COOKIE);
    finish_job(&job, evs);
    assert_true(spin(known_user, NULL, 3000));
    evs = run_job(t, &job, SHOP, cookie, "{\"type\":\"page\"}", now, NULL);
    assert_string_equal(json_string_value(json_object_get(
                            json_object_get(json_object_get(json_array_get(evs, 0), "context"), "identity"), "userId")),
                        "user-acl");
    finish_job(&job, evs);

    /* dedup: EXISTS before, SET EX after the ack */
    sluice_identity_remember(t, &org, "mid-acl-1", NULL);
    assert_true(spin(deduped, NULL, 3000));
    evs = run_job(t, &job, SHOP, cookie, "{\"type\":\"page\",\"messageId\":\"mid-acl-1\"}", now, NULL);
    assert_int_equal(job.duplicate[0], 1);
    finish_job(&job, evs);

    /* a signed request's single use: SET NX PX ("0" while in flight, GET for a second use), SET XX
     * once accepted, DEL when it was not accepted after all */
    const char *rk = "acme:backend:5151";
    evs = run_job(t, &job, SHOP, NULL, "{\"type\":\"track\",\"event\":\"S\",\"userId\":\"u\"}", now, rk);
    assert_int_equal(job.replay, SLUICE_REPLAY_FIRST);
    sluice_identity_forget_replay(t, &job);
    finish_job(&job, evs);
    spin(never, NULL, 300);
    assert_int_equal(admin_int(RA.port, "EXISTS %s", PREFIX "sig:acme:backend:5151"), 0);
    evs = run_job(t, &job, SHOP, NULL, "{\"type\":\"track\",\"event\":\"S\",\"userId\":\"u\"}", now, rk);
    assert_int_equal(job.replay, SLUICE_REPLAY_FIRST);
    sluice_identity_job_t first = job;
    json_t *evs2 = run_job(t, &job, SHOP, NULL, "{\"type\":\"track\",\"event\":\"S\",\"userId\":\"u\"}", now, rk);
    assert_int_equal(job.replay, SLUICE_REPLAY_IN_FLIGHT);
    finish_job(&job, evs2);
    sluice_identity_confirm_replay(t, &first);
    finish_job(&first, evs);
    evs = run_job(t, &job, SHOP, NULL, "{\"type\":\"track\",\"event\":\"S\",\"userId\":\"u\"}", now, rk);
    assert_int_equal(job.replay, SLUICE_REPLAY_SEEN);
    finish_job(&job, evs);

    /* a token: SET NX PX */
    char tok[SLUICE_TOKEN_TEXT_MAX + 1];
    sluice_err_t err;
    assert_true(sluice_token_seal(tokens, "acme", checkout, "visitor-acl", now / 1000, 60, tok, sizeof(tok), &err) > 0);
    assert_int_equal(present(t, tok, now), SLUICE_TOKEN_REDEEMED);
    assert_int_equal(present(t, tok, now), SLUICE_TOKEN_REPLAYED);

    spin(never, NULL, 300); /* the fire-and-forget writes */
    assert_int_equal(sluice_identity_redis_errors(t), 0);
    assert_true(keys_all_prefixed(RA.port) >= 5);
    sluice_identity_thread_destroy(t);
}

/* A wrong password, or none: never connected, and the token fails closed. */
static void wrong_password_is_refused(void **state)
{
    (void)state;
    static const char *const pws[] = {"not-the-password", NULL};
    for (size_t i = 0; i < 2; i++) {
        sluice_identity_thread_t *t = thread_on(RA.port, pws[i]);
        assert_false(spin(connected, t, 1500));
        char tok[SLUICE_TOKEN_TEXT_MAX + 1];
        sluice_err_t err;
        int64_t now = now_ms();
        assert_true(sluice_token_seal(tokens, "acme", checkout, "v", now / 1000, 60, tok, sizeof(tok), &err) > 0);
        assert_int_equal(present(t, tok, now), SLUICE_TOKEN_REDIS_UNAVAILABLE);
        sluice_identity_thread_destroy(t);
    }
}

/* Waits until the wall clock reaches at_ms, running the loop (as a gateway thread would: the
 * loop's own clock, which the Redis deadlines use, moves only while it runs). */
static void sleep_until(int64_t at_ms)
{
    while (now_ms() < at_ms)
        h2o_evloop_run(loop, 1);
}

/* clock_skew_s 0, a token issued at second s for 2 s: exp = s + 2, accepted until the last
 * millisecond of second exp. A spent token presented at exp*1000 - 1 ms and at
 * exp*1000 + 1 ms (still inside its last second) is refused as replayed: its key outlives it
 * (before issue 15 the key expired at exp*1000 and the second presentation was redeemed again).
 * After its second, it is refused as expired. */
static void replay_at_the_edges_of_exp(void **state)
{
    (void)state;
    sluice_identity_thread_t *t = thread_on(RA.port, GW_PW);
    assert_true(spin(connected, t, 5000));
    /* The two presentations must happen at those times on the real clock (Redis's), which a
     * loaded machine may miss by a few ms (the first has 19 ms): such a try proves nothing either
     * way and is made again with a fresh token; every try that is on time is checked. */
    int on_time = 0;
    for (int attempt = 0; attempt < 5 && !on_time; attempt++) {
        int64_t issued = now_ms() / 1000, exp = issued + 2;
        char tok[SLUICE_TOKEN_TEXT_MAX + 1], visitor[32];
        sluice_err_t err;
        snprintf(visitor, sizeof(visitor), "edge-visitor-%d", attempt);
        assert_true(sluice_token_seal(tokens, "acme", checkout, visitor, issued, 2, tok, sizeof(tok), &err) > 0);
        assert_int_equal(present(t, tok, now_ms()), SLUICE_TOKEN_REDEEMED);

        /* The gateway's clock says exp - 1 ms; Redis's (the real one) is a little earlier still. */
        sleep_until(exp * 1000 - 20);
        int64_t at1 = now_ms();
        if (at1 >= exp * 1000 - 1) {
            fprintf(stderr, "try %d: woke at exp%+lld ms, too late for exp-1 ms: again\n", attempt + 1,
                    (long long)(at1 - exp * 1000));
            continue;
        }
        int o1 = present(t, tok, exp * 1000 - 1);
        sleep_until(exp * 1000 + 1);
        int64_t at2 = now_ms();
        int o2 = present(t, tok, at2);
        fprintf(stderr, "replays at exp-1 ms and exp%+lld ms: %s, %s\n", (long long)(at2 - exp * 1000),
                sluice_token_outcome_name(o1), sluice_token_outcome_name(o2));
        assert_int_equal(o1, SLUICE_TOKEN_REPLAYED);
        if (at2 >= (exp + 1) * 1000) {
            /* past the token's last second: the second check would prove nothing */
            fprintf(stderr, "try %d: the second replay came after the token's last second: again\n", attempt + 1);
            continue;
        }
        assert_int_equal(o2, SLUICE_TOKEN_REPLAYED);
        sleep_until((exp + 1) * 1000 + 1);
        assert_int_equal(present(t, tok, now_ms()), SLUICE_TOKEN_EXPIRED);
        on_time = 1;
    }
    assert_true(on_time);
    sluice_identity_thread_destroy(t);
}

/* used_memory of the Redis at port, from INFO memory. */
static long long used_memory(int port)
{
    redisReply *r = admin(port, "INFO memory");
    assert_int_equal(r->type, REDIS_REPLY_STRING);
    const char *at = strstr(r->str, "used_memory:");
    assert_non_null(at);
    long long v = atoll(at + strlen("used_memory:"));
    freeReplyObject(r);
    return v;
}

/* Spent tokens' and accepted signatures' keys still in database 2. */
static long long guard_keys(int port)
{
    redisReply *r = admin(port, "KEYS %s", PREFIX "xd:*");
    long long n = r->type == REDIS_REPLY_ARRAY ? (long long)r->elements : -1;
    freeReplyObject(r);
    return n + admin_int(port, "EXISTS %s", PREFIX "sig:acme:backend:evict");
}

/* A Redis that evicts at maxmemory (allkeys-lru here; volatile-lru, the default of ElastiCache's
 * parameter groups, evicts these keys as well: they all have a TTL) drops the keys that make a
 * cross-domain token and a signed request single-use as soon as memory runs short. The gateway
 * redeemed the token and accepted the signature, Redis evicted them under other keys' pressure,
 * and the same token and the same signed bytes were accepted a second time. A gateway whose
 * Redis may evict these keys cannot promise single use: it refuses both (fail closed, as under
 * noeviction at maxmemory) until the policy is noeviction, which it notices without a restart. */
static void evicting_redis_never_accepts_twice(void **state)
{
    (void)state;
    freeReplyObject(admin(RA.port, "CONFIG SET maxmemory-policy allkeys-lru"));
    long long headroom = used_memory(RA.port) + 4 * 1024 * 1024;
    char limit[32];
    snprintf(limit, sizeof(limit), "%lld", headroom);
    freeReplyObject(admin(RA.port, "CONFIG SET maxmemory %s", limit));

    sluice_identity_thread_t *t = thread_on(RA.port, GW_PW);
    assert_true(spin(connected, t, 5000));
    int64_t now = now_ms();
    char tok[SLUICE_TOKEN_TEXT_MAX + 1];
    sluice_err_t err;
    assert_true(sluice_token_seal(tokens, "acme", checkout, "visitor-evict", now / 1000, 60, tok, sizeof(tok), &err) >
                0);
    const char *rk = "acme:backend:evict";
    const char *signed_body = "{\"type\":\"track\",\"event\":\"S\",\"userId\":\"u-evict\"}";
    int token[2];
    int sig[2];
    for (int round = 0; round < 2; round++) {
        token[round] = present(t, tok, now);
        sluice_identity_job_t job;
        json_t *evs = run_job(t, &job, SHOP, NULL, signed_body, now, rk);
        sig[round] = job.replay;
        if (job.replay == SLUICE_REPLAY_FIRST)
            sluice_identity_confirm_replay(t, &job); /* accepted: Kafka took it */
        finish_job(&job, evs);
        spin(never, NULL, 200);
        if (round == 1)
            break;
        /* Other keys (other orgs' dedup keys, links, anything sharing the server) fill Redis. */
        static char filler[100 * 1024];
        memset(filler, 'x', sizeof(filler) - 1);
        for (int i = 0; i < 400 && guard_keys(RA.port) > 0; i++) {
            char k[32];
            snprintf(k, sizeof(k), "filler:%d", i);
            redisReply *r = admin(RA.port, "SET %s %s", k, filler);
            freeReplyObject(r);
        }
        long long evicted = guard_keys(RA.port);
        fprintf(stderr, "after filling Redis: %lld single-use keys left\n", evicted);
    }
    fprintf(stderr, "token: %s then %s; signed request: %d then %d (%d: accepted)\n",
            sluice_token_outcome_name(token[0]), sluice_token_outcome_name(token[1]), sig[0], sig[1],
            SLUICE_REPLAY_FIRST);
    /* Never twice. */
    assert_false(token[0] == SLUICE_TOKEN_REDEEMED && token[1] == SLUICE_TOKEN_REDEEMED);
    assert_false(sig[0] == SLUICE_REPLAY_FIRST && sig[1] == SLUICE_REPLAY_FIRST);
    /* Refused as Redis being unable to vouch: the signed request's client retries (503), the token
     * leaves the visitor under its local id. */
    assert_int_equal(token[0], SLUICE_TOKEN_REDIS_UNAVAILABLE);
    assert_int_equal(sig[0], SLUICE_REPLAY_UNKNOWN);
    assert_int_equal(sluice_identity_redis_evicting(t), 1);

    /* The operator sets noeviction: within seconds tokens redeem again, with no restart. */
    freeReplyObject(admin(RA.port, "FLUSHDB"));
    freeReplyObject(admin(RA.port, "CONFIG SET maxmemory-policy noeviction"));
    int outcome = -1;
    for (int i = 0; i < 30 && outcome != SLUICE_TOKEN_REDEEMED; i++) {
        spin(never, NULL, 500);
        char fresh[SLUICE_TOKEN_TEXT_MAX + 1];
        now = now_ms();
        assert_true(sluice_token_seal(tokens, "acme", checkout, "visitor-evict", now / 1000, 60, fresh, sizeof(fresh),
                                      &err) > 0);
        outcome = present(t, fresh, now);
    }
    assert_int_equal(outcome, SLUICE_TOKEN_REDEEMED);
    assert_int_equal(sluice_identity_redis_evicting(t), 0);
    freeReplyObject(admin(RA.port, "CONFIG SET maxmemory 0"));
    sluice_identity_thread_destroy(t);
}

/* The spent tokens' keys and the signature key of keys_evicted_meanwhile_never_accepted_again. */
static long long single_use_keys_left(int port)
{
    redisReply *r = admin(port, "KEYS %s", PREFIX "xd:*");
    long long n = r->type == REDIS_REPLY_ARRAY ? (long long)r->elements : -1;
    freeReplyObject(r);
    return n + admin_int(port, "EXISTS %s", PREFIX "sig:acme:backend:evicted");
}

static int evicting_now(void *arg)
{
    return sluice_identity_redis_evicting(arg) == 1;
}

static int not_evicting_now(void *arg)
{
    return sluice_identity_redis_evicting(arg) == 0;
}

static int noticed_loss(void *arg)
{
    sluice_identity_thread_t *t = arg;
    return sluice_redis_data_lost_ms(t->redis) > 0;
}

/* The steps the three ways of losing Redis's data below share: a thread on RA, tokens sealed for
 * 60 s (as /xd would), its first round done (the epoch key written). */
static sluice_identity_thread_t *loss_thread_on(void)
{
    org.identity.xd_token_ttl_s = 60;
    sluice_identity_thread_t *t = thread_on(RA.port, GW_PW);
    assert_true(spin(connected, t, 5000));
    spin(never, NULL, 300);
    return t;
}

static void loss_thread_destroy(sluice_identity_thread_t *t)
{
    sluice_identity_thread_destroy(t);
    org.identity.xd_token_ttl_s = 1;
}

/* The signed request body for rk at at_ms: its replay outcome, confirmed when accepted (as the
 * gateway does once the events are queued). */
static int send_signed(sluice_identity_thread_t *t, const char *body, int64_t at_ms, const char *rk)
{
    sluice_identity_job_t job;
    json_t *evs = run_job(t, &job, SHOP, NULL, body, at_ms, rk);
    int replay = job.replay;
    if (replay == SLUICE_REPLAY_FIRST)
        sluice_identity_confirm_replay(t, &job);
    finish_job(&job, evs);
    return replay;
}

/* Before the loss: a token sealed now for visitor (into tok, *now) redeems, and the signed
 * request is accepted; their keys are what Redis then loses. */
static void spend_once(sluice_identity_thread_t *t, const char *visitor, const char *body, const char *rk,
                       char tok[SLUICE_TOKEN_TEXT_MAX + 1], int64_t *now)
{
    sluice_err_t err = {{0}};
    *now = now_ms();
    assert_true(sluice_token_seal(tokens, "acme", checkout, visitor, *now / 1000, 60, tok, SLUICE_TOKEN_TEXT_MAX + 1,
                                  &err) > 0);
    assert_int_equal(present(t, tok, *now), SLUICE_TOKEN_REDEEMED);
    assert_int_equal(send_signed(t, body, *now, rk), SLUICE_REPLAY_FIRST);
}

/* After the loss: the same token and the same signed bytes, well within their windows, are
 * refused (never accepted a second time). */
static void never_again(sluice_identity_thread_t *t, const char *tok, const char *body, int64_t signed_at,
                        const char *rk, const char *after)
{
    int again = present(t, tok, now_ms());
    int sig_again = send_signed(t, body, signed_at, rk);
    fprintf(stderr, "after %s: the same token %s, the same signed request %d (%d: accepted)\n", after,
            sluice_token_outcome_name(again), sig_again, SLUICE_REPLAY_FIRST);
    assert_int_not_equal(again, SLUICE_TOKEN_REDEEMED);
    assert_int_not_equal(sig_again, SLUICE_REPLAY_FIRST);
}

/* A token issued from a later second than the loss was noticed in redeems: refusing is for what
 * was made before. Returns when it was issued. */
static int64_t fresh_token_redeems(sluice_identity_thread_t *t, const char *visitor)
{
    spin(never, NULL, 1100 + (int)(1000 - now_ms() % 1000));
    int64_t now = now_ms();
    char tok[SLUICE_TOKEN_TEXT_MAX + 1];
    sluice_err_t err = {{0}};
    assert_true(sluice_token_seal(tokens, "acme", checkout, visitor, now / 1000, 60, tok, sizeof(tok), &err) > 0);
    assert_int_equal(present(t, tok, now), SLUICE_TOKEN_REDEEMED);
    return now;
}

/* A token redeemed and a signed request accepted under noeviction; then someone switches Redis to
 * volatile-lru (a parameter group changed by mistake) and memory runs short, which evicts their
 * keys; then noeviction is set again, within the token's lifetime. The gateway refused everything
 * while the policy was volatile-lru, but once it was noeviction again it accepted the same token
 * and the same signed bytes a second time: their keys had gone while it evicted. Leaving an
 * evicting policy now counts as a data loss: what was made before is refused, what is made after
 * works. */
static void keys_evicted_meanwhile_never_accepted_again(void **state)
{
    (void)state;
    freeReplyObject(admin(RA.port, "CONFIG SET maxmemory-policy noeviction"));
    freeReplyObject(admin(RA.port, "CONFIG SET maxmemory 0"));
    sluice_identity_thread_t *t = loss_thread_on();
    int64_t now;
    char tok[SLUICE_TOKEN_TEXT_MAX + 1];
    const char *rk = "acme:backend:evicted";
    const char *signed_body = "{\"type\":\"track\",\"event\":\"S\",\"userId\":\"u-evicted\"}";
    spend_once(t, "visitor-evicted", signed_body, rk, tok, &now);
    spin(never, NULL, 200);
    assert_int_equal(admin_int(RA.port, "EXISTS %s", PREFIX "sig:acme:backend:evicted"), 1);

    /* volatile-lru with little room: other keys' writes evict the expiring ones (ours). */
    freeReplyObject(admin(RA.port, "CONFIG SET maxmemory-policy volatile-lru"));
    char limit[32];
    snprintf(limit, sizeof(limit), "%lld", used_memory(RA.port) + 1024 * 1024);
    freeReplyObject(admin(RA.port, "CONFIG SET maxmemory %s", limit));
    assert_true(spin(evicting_now, t, 8000));
    static char filler[64 * 1024];
    memset(filler, 'x', sizeof(filler) - 1);
    int fillers = 0;
    long long left = single_use_keys_left(RA.port);
    for (; fillers < 100 && left > 0; fillers++) {
        char k[32];
        snprintf(k, sizeof(k), "filler:%d", fillers);
        freeReplyObject(admin(RA.port, "SET %s %s", k, filler));
        left = single_use_keys_left(RA.port);
    }
    fprintf(stderr, "after %d fillers: %lld single-use keys left\n", fillers, left);
    assert_int_equal(left, 0);

    /* The operator puts noeviction back. */
    freeReplyObject(admin(RA.port, "CONFIG SET maxmemory-policy noeviction"));
    freeReplyObject(admin(RA.port, "CONFIG SET maxmemory 0"));
    for (int i = 0; i < fillers; i++) {
        char k[32];
        snprintf(k, sizeof(k), "filler:%d", i);
        freeReplyObject(admin(RA.port, "DEL %s", k));
    }
    assert_true(spin(not_evicting_now, t, 8000));
    never_again(t, tok, signed_body, now, rk, "noeviction again");
    fresh_token_redeems(t, "visitor-evicted");
    loss_thread_destroy(t);
}

/* The round counter next to the epoch key (identity/redis.c bumps it each round), as Redis has it:
 * 0 before the first round. */
static long long round_counter(void)
{
    redisReply *r = admin(RA.port, "HGET %s n", PREFIX "epoch:n");
    long long n = r->type == REDIS_REPLY_STRING ? strtoll(r->str, NULL, 10) : 0;
    freeReplyObject(r);
    return n;
}

static long long counter_at_save;

static int bumped_since_save(void *arg)
{
    (void)arg;
    return round_counter() > counter_at_save;
}

/* Redis restarted from its last RDB snapshot (its default persistence; or a replica promoted
 * before it had the latest writes): the writes since the snapshot are gone, among them the keys
 * of a token spent and a signed request accepted meanwhile, but the epoch key, written long
 * before, is there with its old value: nothing was noticed, and the same token and the same
 * signed bytes were accepted a second time. Each round now also bumps a counter; one that went
 * back means the data did. */
static void rolled_back_redis_never_accepts_twice(void **state)
{
    (void)state;
    sluice_identity_thread_t *t = loss_thread_on();
    freeReplyObject(admin(RA.port, "SAVE"));
    /* Read after the SAVE: a round between the two only makes the wait below longer. */
    counter_at_save = round_counter();

    int64_t now;
    char tok[SLUICE_TOKEN_TEXT_MAX + 1];
    sluice_err_t err = {{0}};
    const char *rk = "acme:backend:rollback";
    const char *signed_body = "{\"type\":\"track\",\"event\":\"S\",\"userId\":\"u-rollback\"}";
    spend_once(t, "visitor-rollback", signed_body, rk, tok, &now);
    /* The gateway goes on: a round (every 5 s) after the snapshot, its counter's reply read. */
    assert_true(spin(bumped_since_save, NULL, 8000));
    spin(never, NULL, 200);

    /* The restart, from the snapshot: the epoch is the same, the keys of the last seconds are not. */
    redisReply *before = admin(RA.port, "GET %s", PREFIX "epoch");
    assert_int_equal(before->type, REDIS_REPLY_STRING);
    assert_int_equal(sluice_th_redis_stop(&RA, &err), 0);
    assert_int_equal(sluice_th_redis_restart(&RA, &err), 0);
    char dump[600];
    const char *dir = sluice_th_tmpdir(&err);
    assert_non_null(dir);
    snprintf(dump, sizeof(dump), "%s/dump.rdb", dir);
    unlink(dump); /* no other Redis of this test loads it */
    redisReply *after = admin(RA.port, "GET %s", PREFIX "epoch");
    assert_int_equal(after->type, REDIS_REPLY_STRING);
    assert_string_equal(after->str, before->str);
    freeReplyObject(before);
    freeReplyObject(after);
    assert_int_equal(admin_int(RA.port, "EXISTS %s", PREFIX "sig:acme:backend:rollback"), 0);

    assert_true(spin(connected, t, 5000));
    spin(noticed_loss, t, 2000); /* the new connection's first round */
    never_again(t, tok, signed_body, now, rk, "the restart from the snapshot");
    loss_thread_destroy(t);
}

/* Redis restarted without persistence (or flushed; or a replica promoted before it had the keys)
 * comes back empty: the keys of spent tokens and accepted signed requests are gone, and the same
 * token and the same signed bytes were accepted a second time, within their windows, with nothing
 * said anywhere. Now each connection reads the deployment's epoch key before any other command: a
 * new value means the data is gone, and tokens issued and signed requests timestamped before then
 * fail closed until they could no longer be valid; later ones work as usual. Shown with a FLUSHALL
 * and the connections killed, which is what the gateway sees of a restart. */
static void lost_data_never_accepts_twice(void **state)
{
    (void)state;
    sluice_identity_thread_t *t = loss_thread_on();
    int64_t now;
    char tok[SLUICE_TOKEN_TEXT_MAX + 1];
    const char *rk = "acme:backend:lost";
    const char *signed_body = "{\"type\":\"track\",\"event\":\"S\",\"userId\":\"u-lost\"}";
    spend_once(t, "visitor-lost", signed_body, rk, tok, &now);
    spin(never, NULL, 200);
    /* The restart: the data gone, every connection dropped. */
    freeReplyObject(admin(RA.port, "FLUSHALL"));
    freeReplyObject(admin(RA.port, "CLIENT KILL TYPE normal SKIPME yes"));
    spin(never, NULL, 100);
    assert_true(spin(connected, t, 5000));
    spin(noticed_loss, t, 2000); /* the new connection's first round */
    never_again(t, tok, signed_body, now, rk, "the data was lost");

    /* A token issued after the loss redeems, a request signed 5 minutes after it is accepted. */
    now = fresh_token_redeems(t, "visitor-lost");
    assert_int_equal(send_signed(t, signed_body, now + 302000, "acme:backend:lost-later"), SLUICE_REPLAY_FIRST);
    loss_thread_destroy(t);
}

/* A redemption whose SET NX timed out (Redis stalled) takes its key back with a script once Redis
 * resumes (identity.c, unspend_token), so the visitor's retry with the same token is redeemed, not
 * refused as replayed. As the ACL user of docs/identity.md, which had no +eval, the script was
 * refused (-NOPERM), the key stayed, and the retry was refused: the visitor split in two. */
static void timed_out_token_taken_back_as_the_acl_user(void **state)
{
    (void)state;
    org.identity.xd_token_ttl_s = 60;
    sluice_identity_thread_t *t = thread_on(RA.port, GW_PW);
    assert_true(spin(connected, t, 5000));
    int64_t now = now_ms();
    char tok[SLUICE_TOKEN_TEXT_MAX + 1];
    sluice_err_t err;
    assert_true(sluice_token_seal(tokens, "acme", checkout, "visitor-stall", now / 1000, 60, tok, sizeof(tok), &err) >
                0);
    assert_int_equal(sluice_th_proc_signal(RA.proc, SIGSTOP, &err), 0);
    int first = present(t, tok, now);
    assert_int_equal(sluice_th_proc_signal(RA.proc, SIGCONT, &err), 0);
    assert_int_equal(first, SLUICE_TOKEN_REDIS_TIMEOUT);
    uint64_t errors = sluice_identity_redis_errors(t);
    assert_true(spin(connected, t, 5000));
    spin(never, NULL, 500); /* the SET, then the script behind it */
    int retry = present(t, tok, now_ms());
    fprintf(stderr, "the same token after the stall: %s\n", sluice_token_outcome_name(retry));
    assert_int_equal(retry, SLUICE_TOKEN_REDEEMED);
    assert_int_equal(sluice_identity_redis_errors(t), errors); /* nothing refused */
    sluice_identity_thread_destroy(t);
    org.identity.xd_token_ttl_s = 1;
}

/* The same through stunnel to a Redis that speaks only TLS. */
static void tls_redis_through_stunnel(void **state)
{
    (void)state;
    /* The server really is TLS only: plain RESP gets nowhere. */
    struct timeval tv = {1, 0};
    redisContext *c = redisConnectWithTimeout("127.0.0.1", RT.port, tv);
    redisSetTimeout(c, tv);
    redisReply *r = c->err ? NULL : redisCommand(c, "PING");
    assert_true(r == NULL || r->type == REDIS_REPLY_ERROR);
    if (r != NULL)
        freeReplyObject(r);
    redisFree(c);

    sluice_identity_thread_t *t = thread_on(ST.port, GW_PW);
    assert_true(spin(connected, t, 5000));
    int64_t now = now_ms();
    char tok[SLUICE_TOKEN_TEXT_MAX + 1];
    sluice_err_t err;
    assert_true(sluice_token_seal(tokens, "acme", checkout, "tls-visitor", now / 1000, 60, tok, sizeof(tok), &err) > 0);
    assert_int_equal(present(t, tok, now), SLUICE_TOKEN_REDEEMED);
    assert_int_equal(present(t, tok, now), SLUICE_TOKEN_REPLAYED);
    assert_int_equal(sluice_identity_redis_errors(t), 0);
    sluice_identity_thread_destroy(t);
    /* the key is in the TLS Redis (read through the tunnel too) */
    assert_true(keys_all_prefixed(ST.port) >= 1);
}

/* ------------------------------------------------------------------ a gateway behind stunnel */

static long post(const char *path, const char *const *headers, const char *body, http_resp_t *r)
{
    http_opts_t o = {.method = "POST", .headers = headers, .body = body};
    http_do(gwfix_url(&F, path), &o, F.ca, r);
    assert_int_equal(r->curl_error, 0);
    return r->status;
}

static int file_has(const char *path, const char *needle)
{
    size_t n = 0;
    char *data = sluice_th_read_file(path, &n, NULL);
    assert_non_null(data);
    int found = 0;
    for (size_t i = 0; i + strlen(needle) <= n && !found; i++)
        found = memcmp(data + i, needle, strlen(needle)) == 0;
    free(data);
    return found;
}

static void gateway_through_stunnel(void **state)
{
    (void)state;
    char yaml[16384];
    snprintf(yaml, sizeof(yaml),
             "version: 1\n"
             "server:\n"
             "  https: {listen: \"127.0.0.1:%d\", cert: %s/server.crt, key: %s/server.key}\n"
             "  metrics: {listen: \"127.0.0.1:%d\"}\n"
             "  threads: 2\n"
             "kafka: {brokers: \"%s\"}\n"
             "redis: {url: \"%s/2\", username: " GW_USER ", password_env: T_REDIS_PW, key_prefix: \"" PREFIX
             "\", timeout_ms: 500}\n"
             "orgs:\n"
             "  - id: acme\n"
             "    sources:\n"
             "      - {id: web, write_key_env: T_KEY, allowed_origins: [" SHOP ", " CHECKOUT "]}\n"
             "      - {id: backend, kind: server, hmac_secret_env: T_HMAC}\n"
             "    identity:\n"
             "      cross_domain: {domains: [shop.acme.test, checkout.example-pay.com]}\n"
             "    consent: {policy: allow}\n",
             F.https_port, F.certs, F.certs, F.metrics_port, F.kafka.bootstrap, ST.url);
    snprintf(F.config, sizeof(F.config), "%s", gwfix_write("redis-tls.yaml", yaml));
    static const char *env[] = {"T_KEY=" ACME_KEY, "T_HMAC=" HMAC_SECRET, "T_REDIS_PW=" GW_PW,
                                "ENCRYPTION_KEY=" ROOT_KEY, NULL};
    memcpy(F.env, env, sizeof(env));
    gwfix_start(&F);

    /* signed server events: accepted once, refused as a replay (SET NX PX as the ACL user) */
    http_resp_t r;
    const char *body = "{\"type\":\"track\",\"event\":\"Refund\",\"messageId\":\"tls-s2s-1\",\"userId\":\"u-1\"}";
    gwfix_signed_t sg;
    gwfix_sign(&sg, HMAC_SECRET, "acme/backend", "POST", "/v1/events", (long long)now_ms(), body);
    const char *h[] = {"Content-Type: application/json", sg.source, sg.timestamp, sg.signature, NULL};
    assert_int_equal(post("/v1/events", h, body, &r), 200);
    http_resp_dispose(&r);
    assert_int_equal(post("/v1/events", h, body, &r), 409);
    http_resp_dispose(&r);

    /* a visitor's first event (its id claimed), a token, its redemption on checkout */
    const char *hs[] = {"Authorization: Bearer " ACME_KEY, "Origin: " SHOP, "Content-Type: application/json", NULL};
    assert_int_equal(post("/v1/t", hs, "{\"event\":\"A\",\"anonymousId\":\"tls-shop-visitor\"}", &r), 200);
    const char *sc = http_header(&r, "set-cookie");
    assert_non_null(sc);
    char cookie[300];
    snprintf(cookie, sizeof(cookie), "Cookie: %.*s", (int)strcspn(sc, ";"), sc);
    http_resp_dispose(&r);
    const char *hx[] = {"Authorization: Bearer " ACME_KEY, "Origin: " SHOP, cookie, NULL};
    http_opts_t o = {.headers = hx};
    http_do(gwfix_url(&F, "/v1/xd?to=https%3A%2F%2Fcheckout.example-pay.com%2F"), &o, F.ca, &r);
    assert_int_equal(r.status, 200);
    json_error_t je;
    json_t *j = json_loads(r.body, 0, &je);
    char tbody[1024];
    snprintf(tbody, sizeof(tbody), "{\"_dft\":\"%s\"}", json_string_value(json_object_get(j, "token")));
    json_decref(j);
    http_resp_dispose(&r);
    const char *hc[] = {"Authorization: Bearer " ACME_KEY, "Origin: " CHECKOUT, "Content-Type: application/json", NULL};
    assert_int_equal(post("/v1/xd/redeem", hc, tbody, &r), 200);
    assert_string_equal(r.body, "{\"anonymousId\":\"tls-shop-visitor\",\"redeemed\":true}");
    http_resp_dispose(&r);
    assert_int_equal(post("/v1/xd/redeem", hc, tbody, &r), 200);
    assert_non_null(strstr(r.body, "\"redeemed\":false"));
    http_resp_dispose(&r);
    /* the PII guard's inbox (report, the default): an e-mail in a field no rule names, flushed
     * within a few seconds with HINCRBY, HSETNX, HSET and EXPIRE as the ACL user */
    assert_int_equal(post("/v1/t", hs,
                          "{\"event\":\"B\",\"anonymousId\":\"tls-shop-visitor\",\"properties\":{\"note\":"
                          "\"write to jane@example.com\"}}",
                          &r),
                     200);
    http_resp_dispose(&r);
    for (int waited = 0; admin_int(ST.port, "EXISTS %s", PREFIX "pii:acme") != 1 && waited < 10000; waited += 100)
        usleep(100 * 1000);
    assert_int_equal(admin_int(ST.port, "EXISTS %s", PREFIX "pii:acme"), 1);
    assert_true(gwfix_metric(&F, "sluice_pii_inbox_errors_total") == 0);
    assert_true(gwfix_metric(&F, "sluice_suppression_refresh_failures_total") == 0);
    assert_true(gwfix_metric(&F, "sluice_redis_errors_total") == 0);
    assert_true(gwfix_metric(&F, "sluice_redis_up") == 1); /* its PING answered as the ACL user */
    assert_true(keys_all_prefixed(ST.port) >= 4);

    /* The gateway reads the password once: it is neither in its environment (as the kernel shows
     * it) nor in its log. */
    char path[64];
    snprintf(path, sizeof(path), "/proc/%d/environ", (int)sluice_th_proc_pid(F.gw));
    assert_false(file_has(path, GW_PW));
    assert_false(file_has(path, ROOT_KEY));
    assert_false(file_has(sluice_th_proc_log(F.gw), GW_PW));
    assert_true(file_has(sluice_th_proc_log(F.gw), "(authenticated)"));
    /* its word for forget in Redis's time (TIME), not its host's clock */
    assert_false(file_has(sluice_th_proc_log(F.gw), "forget.time_refused"));
}

/* /readyz's body. */
static long readyz(http_resp_t *r)
{
    http_opts_t o = {.timeout_ms = 2000};
    http_do(gwfix_metrics_url(&F, "/readyz"), &o, F.ca, r);
    return r->status;
}

/* The gateway of gateway_through_stunnel, still running, when its Redis switches to volatile-lru
 * (the default of ElastiCache's parameter groups) with a maxmemory: nothing in the gateway said
 * so, and a signed request was accepted whose key Redis could evict within the request's window.
 * Now each thread notices within seconds: the log, /readyz and a gauge say so, signed requests
 * are answered 503 replay_check_unavailable (the client retries), and once the policy is
 * noeviction again the same bytes are accepted (the refused attempt left no key behind). */
static void gateway_says_redis_evicts(void **state)
{
    (void)state;
    assert_non_null(F.gw);
    freeReplyObject(admin(ST.port, "CONFIG SET maxmemory-policy volatile-lru"));
    freeReplyObject(admin(ST.port, "CONFIG SET maxmemory 1gb"));
    double evicting = 0;
    for (int waited = 0; evicting != 1 && waited < 12000; waited += 250) {
        usleep(250 * 1000);
        evicting = gwfix_metric(&F, "sluice_redis_evicting");
    }
    assert_true(evicting == 1);
    http_resp_t r;
    assert_int_equal(readyz(&r), 200); /* said, not unready: the setting is the shared Redis's */
    assert_non_null(strstr(r.body, "\"redis_evicting\":true"));
    http_resp_dispose(&r);
    assert_true(file_has(sluice_th_proc_log(F.gw), "\"event\":\"redis.eviction\""));
    assert_true(file_has(sluice_th_proc_log(F.gw), "volatile-lru"));

    const char *body = "{\"type\":\"track\",\"event\":\"Refund\",\"messageId\":\"evict-s2s-1\",\"userId\":\"u-2\"}";
    gwfix_signed_t sg;
    gwfix_sign(&sg, HMAC_SECRET, "acme/backend", "POST", "/v1/events", (long long)now_ms(), body);
    const char *h[] = {"Content-Type: application/json", sg.source, sg.timestamp, sg.signature, NULL};
    assert_int_equal(post("/v1/events", h, body, &r), 503);
    assert_non_null(strstr(r.body, "replay_check_unavailable"));
    http_resp_dispose(&r);

    freeReplyObject(admin(ST.port, "CONFIG SET maxmemory-policy noeviction"));
    freeReplyObject(admin(ST.port, "CONFIG SET maxmemory 0"));
    for (int waited = 0; evicting != 0 && waited < 12000; waited += 250) {
        usleep(250 * 1000);
        evicting = gwfix_metric(&F, "sluice_redis_evicting");
    }
    assert_true(evicting == 0);
    assert_int_equal(readyz(&r), 200);
    assert_null(strstr(r.body, "redis_evicting"));
    http_resp_dispose(&r);
    assert_int_equal(post("/v1/events", h, body, &r), 200);
    http_resp_dispose(&r);
    assert_int_equal(post("/v1/events", h, body, &r), 409);
    http_resp_dispose(&r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(acl_user_is_limited),
        cmocka_unit_test(every_command_as_the_acl_user),
        cmocka_unit_test(wrong_password_is_refused),
        cmocka_unit_test(replay_at_the_edges_of_exp),
        cmocka_unit_test(evicting_redis_never_accepts_twice),
        cmocka_unit_test(keys_evicted_meanwhile_never_accepted_again),
        cmocka_unit_test(rolled_back_redis_never_accepts_twice),
        cmocka_unit_test(lost_data_never_accepts_twice),
        cmocka_unit_test(timed_out_token_taken_back_as_the_acl_user),
        cmocka_unit_test(tls_redis_through_stunnel),
        cmocka_unit_test(gateway_through_stunnel),
        cmocka_unit_test(gateway_says_redis_evicts),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
