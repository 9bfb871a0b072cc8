/*
 * sluice-vendor-stub: a local HTTPS server standing in for a vendor API (Meta, GA4, TikTok, a
 * webhook) in tests and the demo. It records every request it receives (method, path, query,
 * headers, body, and `answer`: the status the plan gave it, 0 for hang) as one JSON line in a
 * file, and answers per a scriptable plan:
 *
 *   --plan "500x2,429/ra=2,200"   the answers to the next requests, in order, then the default:
 *        STATUS            that status (the body looks like the vendor's, see below)
 *        STATUS/ra=N       with Retry-After: N (seconds); /ra=@N: an HTTP date N seconds ahead
 *        STATUS/delay=MS   answer after MS milliseconds
 *        STATUS/html       an HTML page instead of the vendor's body (a captive portal, a proxy)
 *        STATUS/endless    a body that never ends (a misbehaving receiver streaming forever)
 *        STATUS/code=N     the vendor's error code N: TikTok's 2xx {"code":N}, else Meta's
 *                          {"error":{"type":"OAuthException","code":N}}
 *        STATUS/oauth=WORD an OAuth2 error ({"error":"WORD"}: invalid_grant) for a token endpoint
 *        200/refuse=TEXT   a partial refusal of the events whose JSON holds TEXT, the others
 *                          accepted: Pinterest's events[] "failed", LinkedIn's elements 400,
 *                          Google Ads' partialFailureError naming their conversions' index; at
 *                          Meta and TikTok, which refuse a request whole for one bad event, the
 *                          whole request when an event holds TEXT (Meta's 400 error 100/2804050,
 *                          TikTok's 200 with code 40002), else the usual success; at Meta,
 *                          /at=SPEC names $['data'][P] for each '+'-separated P of SPEC (as
 *                          written: "50", "17+3", "n0") rather than the refused event's place, and
 *                          /quote=TEXT quotes TEXT in the answer's message, title and error_data
 *        hang              never answer (the client times out)
 *        xN after an entry repeats it N times
 *   --print / --print-bodies write a line (and the pretty body) per request on stdout, or on the
 *   file given with --print-to (the demo points it at sluice-devstack's terminal).
 *   PUT /__stub/plan (body: a plan) replaces the plan at run time; with ?match=TEXT the plan's
 *   answers go only to requests whose body contains TEXT (taken as is, no percent-decoding), and
 *   every other request gets the default, so a delivery of an earlier test's event that arrives
 *   late cannot take an answer meant for this one. GET /__stub/count answers the number of
 *   requests recorded; GET /__stub/hung how many ms ago the newest request left hanging came in
 *   (-1: none), which a test can ask many times a second without reading the whole log. These
 *   control requests are not recorded.
 *
 * Default answers by path: .../events (Meta) {"events_received":N,...}, or as Meta a 400 (error
 * 100, subcode 2804003) for the whole request when one event_time is more than 7 days ago; /v5/ad_accounts/…/events
 * (Pinterest) {"num_events_received":N,"num_events_processed":N,...}; /rest/conversionEvents
 * (LinkedIn) {"elements":[{"status":201},...]}; .../event/track/ (TikTok)
 * {"code":0,...}; /debug/mp/collect (GA4) {"validationMessages":[...]} from a few of GA4's
 * documented checks; /mp/collect 204; .../token (an OAuth2 token endpoint) {"access_token":
 * "stub-access-<request count>","expires_in":3599, or N with ?ttl=N}; anything else {"ok":true}.
 *
 * One thread: an h2o 2.2.5 evloop (HTTP/1.1 and HTTP/2 over TLS, or plain HTTP).
 */
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <openssl/ssl.h>

#include "h2o.h"

#if H2O_USE_LIBUV
#error "build with -DH2O_USE_LIBUV=0"
#endif

#define MAX_PLAN 256

typedef struct answer {
    int status;      /* 0 = hang */
    int retry_after; /* seconds; -1 none */
    int retry_date;  /* Retry-After as an HTTP date */
    int delay_ms;
    int html;        /* an HTML page as the body, whatever the status */
    int endless;     /* a body that never ends */
    int code;        /* /code=N: the vendor's error code in the body; 0 none */
    char oauth[32];  /* /oauth=WORD: an OAuth2 error body; empty none */
    char refuse[64]; /* /refuse=TEXT: the events holding TEXT are refused, the others accepted */
    /* With /refuse at Meta, a confused or hostile answer: /at=SPEC names $['data'][P] for each
     * '+'-separated P of SPEC as written (none when SPEC is empty) instead of the refused event's
     * place; /quote=TEXT quotes TEXT (an e-mail) in the message, title and error_data. */
    int at_set;
    char at[32];
    char quote[64];
    long repeat; /* xN: this answer N times, one plan entry (not N: "500x100000" was cut at MAX_PLAN) */
} answer_t;

static struct {
    answer_t plan[MAX_PLAN];
    size_t plan_len, plan_pos;
    long plan_used;       /* answers given from plan[plan_pos] (its repeat) */
    char plan_match[128]; /* empty: the plan answers every request */
    int default_status;
    FILE *log;
    const char *name;
    int print, print_bodies;
    FILE *out; /* where --print goes: stdout, or --print-to */
    unsigned long count;
    int64_t last_hang_ms; /* monotonic time of the newest request left hanging; 0: none yet */
    h2o_globalconf_t config;
    h2o_context_t ctx;
    h2o_accept_ctx_t accept;
    volatile sig_atomic_t stop;
} S;

static void on_signal(int sig)
{
    (void)sig;
    S.stop = 1;
}

static int parse_plan(const char *text, answer_t *out, size_t *n, char *why, size_t why_len)
{
    *n = 0;
    char *copy = strdup(text), *save = NULL;
    if (copy == NULL)
        return -1;
    for (char *tok = strtok_r(copy, ", \n", &save); tok != NULL; tok = strtok_r(NULL, ", \n", &save)) {
        answer_t a = {.status = 200, .retry_after = -1};
        long repeat = 1;
        char *x = strchr(tok, 'x');
        if (x != NULL) {
            *x = '\0';
            repeat = strtol(x + 1, NULL, 10);
        }
        char *opt = strchr(tok, '/');
        if (opt != NULL)
            *opt++ = '\0';
        if (strcmp(tok, "hang") == 0) {
            a.status = 0;
        } else {
            char *end;
            a.status = (int)strtol(tok, &end, 10);
            if (*end != '\0' || a.status < 100 || a.status > 599) {
                snprintf(why, why_len, "bad plan entry '%s'", tok);
                free(copy);
                return -1;
            }
        }
        while (opt != NULL) {
            char *next = strchr(opt, '/');
            if (next != NULL)
                *next++ = '\0';
            if (strncmp(opt, "ra=@", 4) == 0) {
                a.retry_after = (int)strtol(opt + 4, NULL, 10);
                a.retry_date = 1;
            } else if (strncmp(opt, "ra=", 3) == 0) {
                a.retry_after = (int)strtol(opt + 3, NULL, 10);
            } else if (strncmp(opt, "delay=", 6) == 0) {
                a.delay_ms = (int)strtol(opt + 6, NULL, 10);
            } else if (strcmp(opt, "html") == 0) {
                a.html = 1;
            } else if (strcmp(opt, "endless") == 0) {
                a.endless = 1;
            } else if (strncmp(opt, "code=", 5) == 0) {
                a.code = (int)strtol(opt + 5, NULL, 10);
            } else if (strncmp(opt, "oauth=", 6) == 0) {
                snprintf(a.oauth, sizeof(a.oauth), "%s", opt + 6);
            } else if (strncmp(opt, "refuse=", 7) == 0) {
                snprintf(a.refuse, sizeof(a.refuse), "%s", opt + 7);
            } else if (strncmp(opt, "at=", 3) == 0) {
                snprintf(a.at, sizeof(a.at), "%s", opt + 3);
                a.at_set = 1;
            } else if (strncmp(opt, "quote=", 6) == 0) {
                snprintf(a.quote, sizeof(a.quote), "%s", opt + 6);
            } else {
                snprintf(why, why_len, "bad plan option '%s'", opt);
                free(copy);
                return -1;
            }
            opt = next;
        }
        /* One entry however many repeats: copies cut "500x100000" at MAX_PLAN without a word, and
         * the vendor of a test that meant it to fail for good answered 200 after 256 requests. */
        if (repeat < 1 || *n == MAX_PLAN) {
            if (repeat < 1)
                snprintf(why, why_len, "bad repeat in '%s'", tok);
            else
                snprintf(why, why_len, "more than %d plan entries", MAX_PLAN);
            free(copy);
            return -1;
        }
        a.repeat = repeat;
        out[(*n)++] = a;
    }
    free(copy);
    return 0;
}

static answer_t next_answer(const h2o_req_t *req)
{
    int matches = S.plan_match[0] == '\0' ||
                  (req->entity.base != NULL &&
                   memmem(req->entity.base, req->entity.len, S.plan_match, strlen(S.plan_match)) != NULL);
    if (matches && S.plan_pos < S.plan_len) {
        answer_t a = S.plan[S.plan_pos];
        if (++S.plan_used >= a.repeat) {
            S.plan_pos++;
            S.plan_used = 0;
        }
        return a;
    }
    answer_t a = {.status = S.default_status, .retry_after = -1};
    return a;
}

static int ends_with(const char *s, size_t n, const char *suffix)
{
    size_t sl = strlen(suffix);
    return n >= sl && memcmp(s + n - sl, suffix, sl) == 0;
}

/* A few of GA4's validation rules, enough for `sluicectl vendor check ga4` to show messages. */
static json_t *ga4_validate(json_t *body)
{
    json_t *msgs = json_array();
    if (!json_is_string(json_object_get(body, "client_id")))
        json_array_append_new(msgs, json_pack("{s:s,s:s,s:s}", "fieldPath", "client_id", "description",
                                              "client_id is required", "validationCode", "VALUE_REQUIRED"));
    json_t *events = json_object_get(body, "events");
    if (!json_is_array(events) || json_array_size(events) == 0 || json_array_size(events) > 25)
        json_array_append_new(msgs, json_pack("{s:s,s:s,s:s}", "fieldPath", "events", "description",
                                              "1 to 25 events are required", "validationCode", "VALUE_INVALID"));
    size_t i;
    json_t *ev;
    json_array_foreach(events, i, ev) {
        const char *name = json_string_value(json_object_get(ev, "name"));
        int ok = name != NULL && strlen(name) <= 40 && ((name[0] | 32) >= 'a' && (name[0] | 32) <= 'z');
        for (const char *p = name; ok && *p; p++)
            ok = (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') || *p == '_';
        if (!ok)
            json_array_append_new(msgs, json_pack("{s:s,s:s,s:s}", "fieldPath", "events.name", "description",
                                                  "invalid event name", "validationCode", "NAME_INVALID"));
        json_t *params = json_object_get(ev, "params");
        if (json_object_size(params) > 25)
            json_array_append_new(msgs, json_pack("{s:s,s:s,s:s}", "fieldPath", "events.params", "description",
                                                  "at most 25 params", "validationCode", "VALUE_INVALID"));
        const char *k;
        json_t *v;
        json_object_foreach(params, k, v) {
            if (json_is_string(v) && json_string_length(v) > 100)
                json_array_append_new(msgs, json_pack("{s:s,s:s,s:s}", "fieldPath", "events.params", "description",
                                                      "param value longer than 100 characters", "validationCode",
                                                      "VALUE_INVALID"));
        }
    }
    return json_pack("{s:o}", "validationMessages", msgs);
}

static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void record(h2o_req_t *req, const answer_t *a)
{
    struct timeval tv;
    gettimeofday(&tv, NULL);
    long long ms = (long long)tv.tv_sec * 1000 + tv.tv_usec / 1000;
    size_t plen = req->query_at != SIZE_MAX ? req->query_at : req->path.len;
    json_t *headers = json_object();
    for (size_t i = 0; i < req->headers.size; i++) {
        const h2o_header_t *h = &req->headers.entries[i];
        char name[128];
        snprintf(name, sizeof(name), "%.*s", (int)h->name->len, h->name->base);
        json_object_set_new(headers, name, json_stringn(h->value.base, h->value.len));
    }
    json_t *line = json_pack("{s:I,s:i,s:s%,s:s%,s:s%,s:o,s:s%,s:s}", "ts_ms", (json_int_t)ms, "answer", a->status,
                             "method", req->method.base, req->method.len, "path", req->path.base, plen, "query",
                             req->path.base + plen + (plen < req->path.len ? 1 : 0),
                             plen < req->path.len ? req->path.len - plen - 1 : (size_t)0, "headers", headers, "body",
                             req->entity.base ? req->entity.base : "", req->entity.base ? req->entity.len : (size_t)0,
                             "version", req->version >= 0x200 ? "2" : "1.1");
    if (line == NULL)
        return; /* a body that is not UTF-8: nothing sluice sends */
    /* The connection the request came on: a new id is a new TCP+TLS handshake by the client
     * (a worker that reuses its connections shows the same ids batch after batch). */
    json_object_set_new(line, "conn", json_integer((json_int_t)req->conn->id));
    char *s = json_dumps(line, JSON_COMPACT);
    json_decref(line);
    if (s != NULL) {
        fprintf(S.log, "%s\n", s);
        fflush(S.log);
        free(s);
    }
    S.count++;
    if (S.print) {
        int events = -1;
        json_t *body = json_loadb(req->entity.base, req->entity.len, 0, NULL);
        json_t *arr = json_object_get(body, "data");
        if (arr == NULL)
            arr = json_object_get(body, "events");
        if (arr == NULL)
            arr = json_object_get(body, "batch");
        if (json_is_array(arr))
            events = (int)json_array_size(arr);
        fprintf(S.out, "[%s] %.*s %.*s%s: %d event(s)\n", S.name, (int)req->method.len, req->method.base, (int)plen,
                req->path.base, plen < req->path.len ? "?<query>" : "", events < 0 ? 1 : events);
        if (S.print_bodies && body != NULL) {
            char *pretty = json_dumps(body, JSON_INDENT(2));
            if (pretty != NULL)
                fprintf(S.out, "%s\n", pretty);
            free(pretty);
        }
        json_decref(body);
        fflush(S.out);
    }
}

/* 1 when the event's JSON holds text. */
static int holds(const json_t *ev, const char *text)
{
    char *s = json_dumps(ev, JSON_COMPACT);
    int yes = s != NULL && strstr(s, text) != NULL;
    free(s);
    return yes;
}

/* A partial refusal (/refuse=TEXT) in the vendor's form: the events holding text refused, the
 * others accepted. NULL for a path whose vendor refuses a request whole. */
static json_t *partial_refusal(const char *path, size_t plen, const json_t *in, const char *text)
{
    size_t i;
    json_t *ev, *out = NULL;
    if (ends_with(path, plen, "/events") && memmem(path, plen, "/ad_accounts/", 13) != NULL) {
        json_t *events = json_array();
        json_int_t n = 0, ok = 0;
        json_array_foreach(json_object_get(in, "data"), i, ev) {
            int bad = holds(ev, text);
            n++;
            ok += !bad;
            json_array_append_new(events,
                                  bad ? json_pack("{s:s,s:s}", "status", "failed", "error_message", "planned refusal")
                                      : json_pack("{s:s}", "status", "processed"));
        }
        out = json_pack("{s:I,s:I,s:o}", "num_events_received", n, "num_events_processed", ok, "events", events);
    } else if (ends_with(path, plen, "/rest/conversionEvents")) {
        json_t *elements = json_array();
        json_array_foreach(json_object_get(in, "elements"), i, ev)
            json_array_append_new(elements, json_pack("{s:i}", "status", holds(ev, text) ? 400 : 201));
        out = json_pack("{s:o}", "elements", elements);
    } else if (ends_with(path, plen, ":uploadClickConversions")) {
        json_t *results = json_array(), *errors = json_array();
        json_array_foreach(json_object_get(in, "conversions"), i, ev) {
            if (holds(ev, text)) {
                json_array_append_new(results, json_object());
                json_array_append_new(errors, json_pack("{s:{s:s},s:s,s:{s:[{s:s,s:I}]}}", "errorCode",
                                                        "conversionUploadError", "INVALID_CONVERSION_ACTION", "message",
                                                        "planned refusal", "location", "fieldPathElements", "fieldName",
                                                        "conversions", "index", (json_int_t)i));
            } else {
                json_array_append_new(results, json_pack("{s:s}", "gclid", "stub"));
            }
        }
        out = json_pack("{s:o,s:{s:i,s:s,s:[{s:s,s:o}]}}", "results", results, "partialFailureError", "code", 3,
                        "message", "planned refusal", "details", "@type",
                        "type.googleapis.com/google.ads.googleads.v26.errors.GoogleAdsFailure", "errors", errors);
    }
    return out;
}

/* /refuse=TEXT at a vendor that refuses a request whole for one bad event (Meta, TikTok): when
 * an event of the request holds text, the vendor's answer for one bad parameter, naming the first
 * such event as Meta and TikTok do ($['data'][N], data[N]); *status gets the HTTP status. NULL
 * when no event holds it (the request is then answered as usual) or the path is another vendor's. */
static char *whole_refusal(const char *path, size_t plen, const json_t *in, const answer_t *a, int *status)
{
    const char *text = a->refuse;
    int meta = ends_with(path, plen, "/events") && memmem(path, plen, "/ad_accounts/", 13) == NULL;
    int tiktok = ends_with(path, plen, "/event/track/");
    if (!meta && !tiktok)
        return NULL;
    size_t i;
    json_t *ev, *out = NULL;
    json_array_foreach(json_object_get(in, "data"), i, ev) {
        if (holds(ev, text))
            break;
    }
    if (i >= json_array_size(json_object_get(in, "data")))
        return NULL;
    char msg[320];
    if (meta) {
        char places[160] = "";
        if (!a->at_set) {
            snprintf(places, sizeof(places), "$['data'][%zu]", i);
        } else {
            char spec[sizeof(a->at)], *save = NULL;
            snprintf(spec, sizeof(spec), "%s", a->at);
            for (char *p = strtok_r(spec, "+", &save); p != NULL; p = strtok_r(NULL, "+", &save)) {
                size_t used = strlen(places);
                snprintf(places + used, sizeof(places) - used, "%s$['data'][%s]", used ? " and " : "", p);
            }
        }
        if (a->quote[0] != '\0')
            snprintf(msg, sizeof(msg), "The parameter %s['user_data']['em'] is invalid: '%s' is not a SHA-256 hash.",
                     places, a->quote);
        else
            snprintf(msg, sizeof(msg), "The parameter %s['custom_data']['currency'] is invalid.", places);
        char title[96] = "Server-side API parameter error", message[96] = "Invalid parameter";
        if (a->quote[0] != '\0') {
            snprintf(title, sizeof(title), "Invalid em %s", a->quote);
            snprintf(message, sizeof(message), "Invalid parameter: %s", a->quote);
        }
        *status = 400;
        out = json_pack("{s:{s:s,s:s,s:i,s:i,s:b,s:s,s:s,s:s,s:s}}", "error", "message", message, "type",
                        "OAuthException", "code", 100, "error_subcode", 2804050, "is_transient", 0, "error_user_title",
                        title, "error_user_msg", msg, "error_data", a->quote[0] != '\0' ? a->quote : "", "fbtrace_id",
                        "stub");
    } else {
        snprintf(msg, sizeof(msg), "Invalid value for data[%zu].properties.currency", i);
        *status = 200;
        out = json_pack("{s:i,s:s,s:s}", "code", 40002, "message", msg, "request_id", "stub");
    }
    char *body = out != NULL ? json_dumps(out, JSON_COMPACT) : NULL;
    json_decref(out);
    return body;
}

/* 1 when a Meta request's data[] holds an event_time more than 7 days ago. */
static int meta_too_old(const json_t *in)
{
    size_t i;
    json_t *ev;
    json_int_t oldest = (json_int_t)time(NULL) - 7 * 86400;
    json_array_foreach(json_object_get(in, "data"), i, ev) {
        json_t *t = json_object_get(ev, "event_time");
        if (json_is_integer(t) && json_integer_value(t) < oldest)
            return 1;
    }
    return 0;
}

/* STATUS/endless: JSON whitespace, 16 KiB each time the client has taken the last. */
static void on_endless_proceed(h2o_generator_t *gen, h2o_req_t *req)
{
    (void)gen;
    static char chunk[16384];
    if (chunk[0] != ' ')
        memset(chunk, ' ', sizeof(chunk));
    h2o_iovec_t buf = h2o_iovec_init(chunk, sizeof(chunk));
    h2o_send(req, &buf, 1, H2O_SEND_STATE_IN_PROGRESS);
}

static void on_endless_stop(h2o_generator_t *gen, h2o_req_t *req)
{
    (void)gen;
    (void)req;
}

static void send_answer(h2o_req_t *req, const answer_t *a)
{
    static h2o_generator_t gen = {NULL, NULL};
    static h2o_generator_t endless = {on_endless_proceed, on_endless_stop};
    if (a->endless) {
        req->res.status = a->status;
        req->res.reason = "Stub";
        h2o_start_response(req, &endless);
        on_endless_proceed(&endless, req);
        return;
    }
    size_t plen = req->query_at != SIZE_MAX ? req->query_at : req->path.len;
    const char *path = req->path.base;
    char *body = NULL;
    int status = a->status;
    const char *type = "application/json";
    if (a->html) {
        body = strdup("<html><body>Welcome to the guest network</body></html>");
        type = "text/html";
    } else if (a->oauth[0] != '\0') {
        json_t *out = json_pack("{s:s,s:s}", "error", a->oauth, "error_description", "planned failure");
        body = out != NULL ? json_dumps(out, JSON_COMPACT) : NULL;
        json_decref(out);
    } else if (a->code != 0 && status >= 200 && status < 300) {
        json_t *out = json_pack("{s:i,s:s,s:s}", "code", a->code, "message", "planned failure", "request_id", "stub");
        body = out != NULL ? json_dumps(out, JSON_COMPACT) : NULL;
        json_decref(out);
    } else if (a->code != 0) {
        json_t *out = json_pack("{s:{s:s,s:s,s:i}}", "error", "message", "planned failure", "type", "OAuthException",
                                "code", a->code);
        body = out != NULL ? json_dumps(out, JSON_COMPACT) : NULL;
        json_decref(out);
    } else if (status >= 200 && status < 300) {
        json_t *in = json_loadb(req->entity.base, req->entity.len, 0, NULL), *out = NULL;
        char tok[48];
        if (a->refuse[0] != '\0' && (out = partial_refusal(path, plen, in, a->refuse)) != NULL)
            ; /* the partial refusal asked for */
        else if (a->refuse[0] != '\0' && (body = whole_refusal(path, plen, in, a, &status)) != NULL)
            ; /* the whole request refused for one event, as Meta and TikTok do */
        else if (ends_with(path, plen, "/debug/mp/collect"))
            out = ga4_validate(in);
        else if (ends_with(path, plen, "/mp/collect"))
            status = 204;
        else if (ends_with(path, plen, "/events") && memmem(path, plen, "/ad_accounts/", 13) != NULL) {
            /* Pinterest: every event received and processed. */
            json_int_t n = (json_int_t)json_array_size(json_object_get(in, "data"));
            out = json_pack("{s:I,s:I,s:[]}", "num_events_received", n, "num_events_processed", n, "events");
        } else if (ends_with(path, plen, "/rest/conversionEvents")) {
            /* LinkedIn's BATCH_CREATE: a status per element. */
            out = json_pack("{s:[]}", "elements");
            for (size_t i = 0; out != NULL && i < json_array_size(json_object_get(in, "elements")); i++)
                json_array_append_new(json_object_get(out, "elements"), json_pack("{s:i}", "status", 201));
        } else if (ends_with(path, plen, "/events") && meta_too_old(in)) {
            /* Meta fails the whole request when one event is older than 7 days. */
            status = 400;
            body = strdup("{\"error\":{\"message\":\"Invalid parameter\",\"type\":\"OAuthException\",\"code\":100,"
                          "\"error_subcode\":2804003,\"error_user_title\":\"Event Timestamp Too Old\"}}");
        } else if (ends_with(path, plen, "/events"))
            out = json_pack("{s:I,s:[],s:s}", "events_received",
                            (json_int_t)json_array_size(json_object_get(in, "data")), "messages", "fbtrace_id", "stub");
        else if (ends_with(path, plen, "/token")) { /* an OAuth2 token endpoint: a new token each time */
            snprintf(tok, sizeof(tok), "stub-access-%lu", S.count);
            /* ?ttl=N in the URL sets expires_in (default 3599), for tests of a token's expiry. */
            int ttl = 3599;
            if (plen + 5 < req->path.len && memcmp(path + plen, "?ttl=", 5) == 0)
                ttl = (int)strtol(path + plen + 5, NULL, 10);
            out = json_pack("{s:s,s:i,s:s}", "access_token", tok, "expires_in", ttl, "token_type", "Bearer");
        } else if (ends_with(path, plen, "/event/track/"))
            out = json_pack("{s:i,s:s,s:s}", "code", 0, "message", "OK", "request_id", "stub");
        else
            out = json_pack("{s:b}", "ok", 1);
        if (out != NULL)
            body = json_dumps(out, JSON_COMPACT);
        json_decref(in);
        json_decref(out);
    } else {
        body = strdup("{\"error\":{\"message\":\"planned failure\",\"code\":100}}");
    }
    req->res.status = status;
    req->res.reason = "Stub";
    if (a->retry_after >= 0) {
        char v[64];
        if (a->retry_date) {
            time_t t = time(NULL) + a->retry_after;
            struct tm tm;
            gmtime_r(&t, &tm);
            strftime(v, sizeof(v), "%a, %d %b %Y %H:%M:%S GMT", &tm);
        } else {
            snprintf(v, sizeof(v), "%d", a->retry_after);
        }
        char *pv = h2o_mem_alloc_pool(&req->pool, strlen(v) + 1);
        memcpy(pv, v, strlen(v) + 1);
        h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_RETRY_AFTER, NULL, pv, strlen(pv));
    }
    if (status == 204 || body == NULL) {
        free(body);
        h2o_start_response(req, &gen);
        h2o_send(req, NULL, 0, H2O_SEND_STATE_FINAL);
        return;
    }
    size_t bl = strlen(body);
    char *pb = h2o_mem_alloc_pool(&req->pool, bl);
    memcpy(pb, body, bl);
    free(body);
    h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CONTENT_TYPE, NULL, type, strlen(type));
    req->res.content_length = bl;
    h2o_send_inline(req, pb, bl);
}

/* A delayed answer: the timer owns it; the request's pool points at it so a request freed
 * early (the client gave up) is noticed. */
typedef struct delayed_ref delayed_ref_t;

typedef struct delayed {
    h2o_timeout_t timeout;
    h2o_timeout_entry_t entry;
    h2o_req_t *req;     /* NULL once the request is gone */
    delayed_ref_t *ref; /* its back-pointer in the request's pool, NULL once the request is gone */
    answer_t answer;
    int fired;
} delayed_t;

struct delayed_ref {
    delayed_t *d; /* NULL once the answer was sent (d may be freed after that) */
};

static void on_req_gone(void *p)
{
    delayed_ref_t *ref = p;
    if (ref->d != NULL) {
        ref->d->req = NULL;
        ref->d->ref = NULL;
    }
}

static void on_delay(h2o_timeout_entry_t *entry)
{
    delayed_t *d = H2O_STRUCT_FROM_MEMBER(delayed_t, entry, entry);
    if (d->req != NULL) {
        /* Unlink first: answering may free the request's pool at once. */
        d->ref->d = NULL;
        d->ref = NULL;
        send_answer(d->req, &d->answer);
        d->req = NULL;
    }
    /* The timeout cannot be disposed from inside its own callback; a zero-delay task does it. */
    d->fired = 1;
}

static delayed_t *graveyard[1024];
static size_t graveyard_n;

static void bury_fired(void)
{
    for (size_t i = 0; i < graveyard_n;) {
        if (graveyard[i]->fired) {
            h2o_timeout_dispose(S.ctx.loop, &graveyard[i]->timeout);
            free(graveyard[i]);
            graveyard[i] = graveyard[--graveyard_n];
        } else {
            i++;
        }
    }
}

static int on_req(h2o_handler_t *self, h2o_req_t *req)
{
    (void)self;
    size_t plen = req->query_at != SIZE_MAX ? req->query_at : req->path.len;
    if (plen == 12 && memcmp(req->path.base, "/__stub/plan", 12) == 0) {
        char text[4096], why[128] = "";
        snprintf(text, sizeof(text), "%.*s", (int)req->entity.len, req->entity.base ? req->entity.base : "");
        size_t n;
        answer_t plan[MAX_PLAN];
        if (parse_plan(text, plan, &n, why, sizeof(why)) != 0) {
            h2o_send_error_400(req, "Bad Plan", why, 0);
            return 0;
        }
        const char *match = "";
        size_t match_len = 0;
        if (req->query_at != SIZE_MAX && req->path.len - req->query_at > 7 &&
            memcmp(req->path.base + req->query_at, "?match=", 7) == 0) {
            match = req->path.base + req->query_at + 7;
            match_len = req->path.len - req->query_at - 7;
        }
        if (match_len >= sizeof(S.plan_match)) {
            h2o_send_error_400(req, "Bad Plan", "match is too long", 0);
            return 0;
        }
        memcpy(S.plan, plan, n * sizeof(plan[0]));
        S.plan_len = n;
        S.plan_pos = 0;
        S.plan_used = 0;
        memcpy(S.plan_match, match, match_len);
        S.plan_match[match_len] = '\0';
        req->res.status = 200;
        req->res.reason = "OK";
        h2o_send_inline(req, H2O_STRLIT("ok\n"));
        return 0;
    }
    if (plen == 13 && memcmp(req->path.base, "/__stub/count", 13) == 0) {
        char *v = h2o_mem_alloc_pool(&req->pool, 32);
        int l = snprintf(v, 32, "%lu\n", S.count);
        req->res.status = 200;
        req->res.reason = "OK";
        h2o_send_inline(req, v, (size_t)l);
        return 0;
    }
    if (plen == 12 && memcmp(req->path.base, "/__stub/hung", 12) == 0) {
        char *v = h2o_mem_alloc_pool(&req->pool, 32);
        int l = snprintf(v, 32, "%lld\n", S.last_hang_ms ? (long long)(mono_ms() - S.last_hang_ms) : -1LL);
        req->res.status = 200;
        req->res.reason = "OK";
        h2o_send_inline(req, v, (size_t)l);
        return 0;
    }
    answer_t a = next_answer(req);
    record(req, &a);
    if (a.status == 0) {
        S.last_hang_ms = mono_ms();
        return 0; /* hang: never answered; the client's timeout ends it */
    }
    if (a.delay_ms <= 0) {
        send_answer(req, &a);
        return 0;
    }
    bury_fired();
    if (graveyard_n == sizeof(graveyard) / sizeof(graveyard[0])) {
        send_answer(req, &a);
        return 0;
    }
    delayed_t *d = calloc(1, sizeof(*d));
    delayed_ref_t *ref = h2o_mem_alloc_shared(&req->pool, sizeof(*ref), on_req_gone);
    ref->d = d;
    d->ref = ref;
    d->req = req;
    d->answer = a;
    d->entry.cb = on_delay;
    h2o_timeout_init(S.ctx.loop, &d->timeout, (uint64_t)a.delay_ms);
    h2o_timeout_link(S.ctx.loop, &d->timeout, &d->entry);
    graveyard[graveyard_n++] = d;
    return 0;
}

static void on_accept(h2o_socket_t *listener, const char *err)
{
    h2o_socket_t *sock;
    if (err == NULL && (sock = h2o_evloop_socket_accept(listener)) != NULL)
        h2o_accept((h2o_accept_ctx_t *)listener->data, sock);
}

static void usage(FILE *out)
{
    fprintf(out, "usage: sluice-vendor-stub --port P --log FILE [--cert F --key F] [--plan PLAN] [--default STATUS]\n"
                 "                          [--name NAME] [--print] [--print-bodies] [--print-to F] [--ready-file F]\n"
                 "                          [--listeners N --ports-file F] [--idle-timeout MS]\n"
                 "A local stand-in for a vendor API: records requests as JSON lines, answers per the plan.\n");
}

int main(int argc, char **argv)
{
    const char *cert = NULL, *key = NULL, *log_path = NULL, *plan = NULL, *ready = NULL, *print_to = NULL;
    const char *ports_file = NULL;
    int port = 0, listeners = 1;
    long idle_ms = 0;
    S.default_status = 200;
    S.name = "stub";
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "--help") == 0) {
            usage(stdout);
            return 0;
        } else if (strcmp(a, "--print") == 0) {
            S.print = 1;
        } else if (strcmp(a, "--print-bodies") == 0) {
            S.print = S.print_bodies = 1;
        } else if (v == NULL) {
            usage(stderr);
            return 2;
        } else if (strcmp(a, "--port") == 0) {
            port = (int)strtol(v, NULL, 10), i++;
        } else if (strcmp(a, "--cert") == 0) {
            cert = v, i++;
        } else if (strcmp(a, "--key") == 0) {
            key = v, i++;
        } else if (strcmp(a, "--log") == 0) {
            log_path = v, i++;
        } else if (strcmp(a, "--plan") == 0) {
            plan = v, i++;
        } else if (strcmp(a, "--default") == 0) {
            S.default_status = (int)strtol(v, NULL, 10), i++;
        } else if (strcmp(a, "--name") == 0) {
            S.name = v, i++;
        } else if (strcmp(a, "--ready-file") == 0) {
            ready = v, i++;
        } else if (strcmp(a, "--print-to") == 0) {
            print_to = v, i++;
        } else if (strcmp(a, "--listeners") == 0) {
            listeners = (int)strtol(v, NULL, 10), i++;
        } else if (strcmp(a, "--ports-file") == 0) {
            ports_file = v, i++;
        } else if (strcmp(a, "--idle-timeout") == 0) {
            idle_ms = strtol(v, NULL, 10), i++;
        } else {
            usage(stderr);
            return 2;
        }
    }
    if (port <= 0 || port > 65535 || log_path == NULL || (cert == NULL) != (key == NULL) || listeners < 1 ||
        listeners > 10000 || (listeners > 1 && ports_file == NULL)) {
        usage(stderr);
        return 2;
    }
    char why[128];
    if (plan != NULL && parse_plan(plan, S.plan, &S.plan_len, why, sizeof(why)) != 0) {
        fprintf(stderr, "sluice-vendor-stub: --plan: %s\n", why);
        return 2;
    }
    S.out = stdout;
    if (print_to != NULL && (S.out = fopen(print_to, "a")) == NULL) {
        fprintf(stderr, "sluice-vendor-stub: --print-to %s: %s\n", print_to, strerror(errno));
        return 1;
    }
    S.log = fopen(log_path, "a");
    if (S.log == NULL) {
        fprintf(stderr, "sluice-vendor-stub: %s: %s\n", log_path, strerror(errno));
        return 1;
    }
    signal(SIGPIPE, SIG_IGN);
    signal(SIGTERM, on_signal);
    signal(SIGINT, on_signal);

    h2o_config_init(&S.config);
    S.config.max_request_entity_size = 32 * 1024 * 1024;
    /* h2o closes an idle connection after 10 s; a receiver behind a load balancer keeps one a
     * minute or more, long enough to see whether a client reuses it between batches. */
    if (idle_ms > 0)
        S.config.http1.req_timeout = S.config.http2.idle_timeout = (uint64_t)idle_ms;
    h2o_hostconf_t *host = h2o_config_register_host(&S.config, h2o_iovec_init(H2O_STRLIT("default")), 65535);
    h2o_create_handler(h2o_config_register_path(host, "/", 0), sizeof(h2o_handler_t))->on_req = on_req;
    SSL_CTX *ssl = NULL;
    if (cert != NULL) {
        ssl = SSL_CTX_new(TLS_server_method());
        SSL_CTX_set_min_proto_version(ssl, TLS1_2_VERSION);
        if (SSL_CTX_use_certificate_chain_file(ssl, cert) != 1 ||
            SSL_CTX_use_PrivateKey_file(ssl, key, SSL_FILETYPE_PEM) != 1) {
            fprintf(stderr, "sluice-vendor-stub: cannot load %s / %s\n", cert, key);
            return 1;
        }
        h2o_ssl_register_alpn_protocols(ssl, h2o_alpn_protocols);
    }
    h2o_context_init(&S.ctx, h2o_evloop_create(), &S.config);
    S.accept.ctx = &S.ctx;
    S.accept.hosts = S.config.hosts;
    S.accept.ssl_ctx = ssl;

    /* --listeners N: N-1 more ports the kernel picks, as many "hosts" for a client's connection
     * cache (libcurl keys it by host and port), written to --ports-file one per line. */
    h2o_socket_t **ls = calloc((size_t)listeners, sizeof(*ls));
    FILE *pf = ports_file != NULL ? fopen(ports_file, "w") : NULL;
    if (ls == NULL || (ports_file != NULL && pf == NULL)) {
        fprintf(stderr, "sluice-vendor-stub: cannot set up %d listeners\n", listeners);
        return 1;
    }
    for (int l = 0; l < listeners; l++) {
        int fd = socket(AF_INET, SOCK_STREAM, 0), one = 1;
        struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons((uint16_t)(l == 0 ? port : 0))};
        sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        socklen_t slen = sizeof(sin);
        if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) != 0 ||
            bind(fd, (struct sockaddr *)&sin, sizeof(sin)) != 0 || listen(fd, SOMAXCONN) != 0 ||
            getsockname(fd, (struct sockaddr *)&sin, &slen) != 0) {
            fprintf(stderr, "sluice-vendor-stub: cannot listen on 127.0.0.1:%d: %s\n", l == 0 ? port : 0,
                    strerror(errno));
            return 1;
        }
        if (pf != NULL)
            fprintf(pf, "%d\n", ntohs(sin.sin_port));
        ls[l] = h2o_evloop_socket_create(S.ctx.loop, fd, H2O_SOCKET_FLAG_DONT_READ);
        ls[l]->data = &S.accept;
        h2o_socket_read_start(ls[l], on_accept);
    }
    if (pf != NULL)
        fclose(pf);
    printf("[%s] listening on %s://127.0.0.1:%d\n", S.name, ssl ? "https" : "http", port);
    fflush(stdout);
    if (ready != NULL) {
        FILE *rf = fopen(ready, "w");
        if (rf != NULL)
            fclose(rf);
    }
    while (!S.stop) {
        h2o_evloop_run(S.ctx.loop, 200);
        bury_fired();
    }
    /* The listener is referenced from this frame only: closed (and freed by one more round) so
     * that an ASan build exits without a leak report; the rest is reachable from S. */
    for (int l = 0; l < listeners; l++) {
        h2o_socket_read_stop(ls[l]);
        h2o_socket_close(ls[l]);
    }
    free(ls);
    h2o_evloop_run(S.ctx.loop, 0);
    fclose(S.log);
    return 0;
}
