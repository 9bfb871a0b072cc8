/*
 * `sluicectl tail`: follows the events topic (kafka.topic) from its current end and prints the
 * envelopes of one org as they are in Kafka, that is after the data layer (hashed, masked,
 * dropped: never raw PII), filtered by source and type through the message headers. One compact
 * JSON line per envelope (what jq reads), or indented with --pretty; coloured on a terminal, the
 * `privacy` record highlighted. Nothing is added to an envelope but whitespace and colour. An
 * assigning consumer that never commits, so any number can run. Main thread (librdkafka has its
 * own).
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>
#include <librdkafka/rdkafka.h>

#include "config/config.h"
#include "tools/commands.h"
#include "vendors/dlq.h"
#include "vendors/envelope.h"
#include "vendors/suppress.h"

#define WAIT_MS 15000

static void usage(FILE *out)
{
    fprintf(out, "usage: sluicectl tail --config FILE --org O [--source S] [--type T] [--pretty] [--color|--no-color]\n"
                 "                      [--from-beginning] [-n N]\n"
                 "\n"
                 "Follows the events topic (kafka.topic) and prints each envelope of org O as the gateway produced\n"
                 "it: after the data layer, so hashed, masked and dropped fields show as they leave (never raw PII).\n"
                 "One compact JSON line per envelope, or indented with --pretty; coloured when stdout is a terminal\n"
                 "(and NO_COLOR is unset), with the `privacy` record (what was hashed, masked, dropped) highlighted.\n"
                 "\n"
                 "  --source S         only events of source S\n"
                 "  --type T           only events of type T (track, page, screen, identify, group, alias)\n"
                 "  --pretty           indent each envelope\n"
                 "  --color, --no-color  force colour on or off\n"
                 "  --from-beginning   start at the oldest event the topic keeps instead of its end\n"
                 "  -n N               stop after N envelopes (default: follow until Ctrl-C)\n"
                 "\n"
                 "Events of people `sluicectl forget` named are left out (the list is read from database.url,\n"
                 "as the delivery worker reads it; without one they are shown, and stderr says so).\n"
                 "\n"
                 "A line `tail: following ...` on stderr says when it reads.\n");
}

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
    (void)sig;
    stop = 1;
}

/* ------------------------------------------------------------------ printing */

#define C_RESET   "\033[0m"
#define C_KEY     "\033[36m"
#define C_STRING  "\033[32m"
#define C_HASH    "\033[35m"
#define C_OTHER   "\033[33m"
#define C_PRIVACY "\033[1;31m"

typedef struct printer {
    FILE *out;
    int pretty, color;
} printer_t;

static void indent(const printer_t *p, int depth)
{
    fputc('\n', p->out);
    for (int i = 0; i < depth; i++)
        fputs("  ", p->out);
}

/* 1 when the string token s[0..n) (quotes included) is a SHA-256 hex digest. */
static int is_digest(const char *s, size_t n)
{
    if (n != 66)
        return 0;
    for (size_t i = 1; i < 65; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
            return 0;
    return 1;
}

/* Writes the JSON text s[0..n) (valid JSON, as the gateway wrote it) with colour and, when
 * pretty, indentation: tokens are copied byte for byte. The value of the top-level member
 * "privacy" is drawn in one colour of its own. */
static void print_json(const printer_t *p, const char *s, size_t n)
{
    int depth = 0, privacy_at = -1; /* depth at which the privacy value began, or -1 */
    int pending_privacy = 0;
    for (size_t i = 0; i < n;) {
        char c = s[i];
        if (c == ' ' || c == '\n' || c == '\t' || c == '\r') {
            i++;
            continue;
        }
        int hl = privacy_at >= 0;
        if (c == '"') {
            size_t j = i + 1;
            while (j < n && s[j] != '"')
                j += s[j] == '\\' ? 2 : 1;
            j = j < n ? j + 1 : n;
            size_t k = j;
            while (k < n && (s[k] == ' ' || s[k] == '\n' || s[k] == '\t' || s[k] == '\r'))
                k++;
            int key = k < n && s[k] == ':';
            if (key && depth == 1 && j - i == 9 && memcmp(s + i, "\"privacy\"", 9) == 0)
                pending_privacy = 1;
            if (p->color)
                fputs(hl || pending_privacy     ? C_PRIVACY
                      : key                     ? C_KEY
                      : is_digest(s + i, j - i) ? C_HASH
                                                : C_STRING,
                      p->out);
            fwrite(s + i, 1, j - i, p->out);
            if (p->color)
                fputs(C_RESET, p->out);
            i = j;
            continue;
        }
        if (c == ':') {
            fputs(p->pretty ? ": " : ":", p->out);
            i++;
            if (pending_privacy) {
                pending_privacy = 0;
                privacy_at = depth;
            }
            continue;
        }
        if (c == '{' || c == '[') {
            fputc(c, p->out);
            depth++;
            i++;
            size_t k = i;
            while (k < n && (s[k] == ' ' || s[k] == '\n' || s[k] == '\t' || s[k] == '\r'))
                k++;
            if (k < n && (s[k] == '}' || s[k] == ']')) { /* empty: stays on one line */
                fputc(s[k], p->out);
                depth--;
                i = k + 1;
            } else if (p->pretty) {
                indent(p, depth);
            }
        } else if (c == '}' || c == ']') {
            depth--;
            if (p->pretty)
                indent(p, depth);
            fputc(c, p->out);
            i++;
        } else if (c == ',') {
            fputc(',', p->out);
            i++;
            if (p->pretty)
                indent(p, depth);
        } else { /* number, true, false, null */
            size_t j = i;
            while (j < n && strchr(",:]} \n\t\r", s[j]) == NULL)
                j++;
            if (p->color)
                fputs(hl ? C_PRIVACY : C_OTHER, p->out);
            fwrite(s + i, 1, j - i, p->out);
            if (p->color)
                fputs(C_RESET, p->out);
            i = j;
        }
        if (privacy_at >= 0 && depth == privacy_at) /* its value ended */
            privacy_at = -1;
    }
    fputc('\n', p->out);
}

/* ------------------------------------------------------------------ following */

typedef struct filter {
    const char *org, *source, *type;
} filter_t;

/* The header's value (NUL-terminated into buf), or NULL. */
static const char *header(const rd_kafka_message_t *m, const char *name, char *buf, size_t cap)
{
    rd_kafka_headers_t *hs = NULL;
    const void *v;
    size_t len;
    if (rd_kafka_message_headers(m, &hs) != RD_KAFKA_RESP_ERR_NO_ERROR ||
        rd_kafka_header_get_last(hs, name, &v, &len) != RD_KAFKA_RESP_ERR_NO_ERROR || v == NULL || len >= cap)
        return NULL;
    memcpy(buf, v, len);
    buf[len] = '\0';
    return buf;
}

static int wanted(const filter_t *f, const rd_kafka_message_t *m)
{
    char org[128], source[128], type[32];
    const char *o = header(m, "org", org, sizeof(org)), *s = header(m, "source", source, sizeof(source)),
               *t = header(m, "type", type, sizeof(type));
    json_t *env = NULL;
    if (o == NULL || s == NULL || t == NULL) { /* not from the gateway's producer: read the envelope */
        env = json_loadb(m->payload, m->len, 0, NULL);
        o = json_string_value(json_object_get(env, "org"));
        s = json_string_value(json_object_get(env, "source"));
        t = json_string_value(json_object_get(json_object_get(env, "event"), "type"));
    }
    int ok = o != NULL && strcmp(o, f->org) == 0 && (f->source == NULL || (s != NULL && strcmp(s, f->source) == 0)) &&
             (f->type == NULL || (t != NULL && strcmp(t, f->type) == 0));
    json_decref(env);
    return ok;
}

/* 1 when the envelope carries an id of a person sluicectl forget named (s NULL: never). */
static int is_forgotten(sluice_suppress_t *s, const rd_kafka_message_t *m)
{
    if (s == NULL)
        return 0;
    sluice_envelope_t env;
    sluice_err_t err = {{0}};
    if (sluice_envelope_parse(&env, m->payload, m->len, &err) != 0)
        return 0;
    int hit = sluice_suppress_match(s, &env);
    sluice_envelope_dispose(&env);
    return hit;
}

/* Assigns every partition of topic at its current end (or beginning), waiting for the topic to
 * exist. Returns the number of partitions, 0 when stopped while waiting, or -1. */
static int assign_all(rd_kafka_t *rk, const char *topic, int from_beginning)
{
    int warned = 0;
    for (;;) {
        if (stop)
            return 0;
        const struct rd_kafka_metadata *md = NULL;
        rd_kafka_topic_t *t = rd_kafka_topic_new(rk, topic, NULL);
        rd_kafka_resp_err_t e = rd_kafka_metadata(rk, 0, t, &md, WAIT_MS);
        rd_kafka_topic_destroy(t);
        if (e != RD_KAFKA_RESP_ERR_NO_ERROR) {
            fprintf(stderr, "sluicectl tail: kafka metadata for %s: %s\n", topic, rd_kafka_err2str(e));
            return -1;
        }
        if (md->topic_cnt == 1 && md->topics[0].err == RD_KAFKA_RESP_ERR_NO_ERROR && md->topics[0].partition_cnt > 0) {
            int n = md->topics[0].partition_cnt;
            rd_kafka_topic_partition_list_t *list = rd_kafka_topic_partition_list_new(n);
            for (int i = 0; i < n; i++) {
                int32_t part = md->topics[0].partitions[i].id;
                int64_t lo = 0, hi = 0;
                /* The end as it is now: everything produced from here on is shown. */
                e = rd_kafka_query_watermark_offsets(rk, topic, part, &lo, &hi, WAIT_MS);
                if (e != RD_KAFKA_RESP_ERR_NO_ERROR) {
                    fprintf(stderr, "sluicectl tail: end of %s [%d]: %s\n", topic, part, rd_kafka_err2str(e));
                    rd_kafka_topic_partition_list_destroy(list);
                    rd_kafka_metadata_destroy(md);
                    return -1;
                }
                rd_kafka_topic_partition_list_add(list, topic, part)->offset = from_beginning ? lo : hi;
            }
            rd_kafka_metadata_destroy(md);
            e = rd_kafka_assign(rk, list);
            rd_kafka_topic_partition_list_destroy(list);
            if (e != RD_KAFKA_RESP_ERR_NO_ERROR) {
                fprintf(stderr, "sluicectl tail: assign: %s\n", rd_kafka_err2str(e));
                return -1;
            }
            return n;
        }
        rd_kafka_metadata_destroy(md);
        if (!warned)
            fprintf(stderr, "tail: waiting for topic %s (the gateway creates it with its first event)\n", topic);
        warned = 1;
        usleep(500 * 1000);
    }
}

int sluicectl_cmd_tail(int argc, char **argv)
{
    filter_t f = {0};
    const char *config = NULL;
    int pretty = 0, color = -1, from_beginning = 0;
    long limit = 0;
    for (int i = 1; i < argc; i++) {
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            usage(stdout);
            return 0;
        } else if (strcmp(argv[i], "--pretty") == 0) {
            pretty = 1;
        } else if (strcmp(argv[i], "--color") == 0) {
            color = 1;
        } else if (strcmp(argv[i], "--no-color") == 0) {
            color = 0;
        } else if (strcmp(argv[i], "--from-beginning") == 0) {
            from_beginning = 1;
        } else if (strcmp(argv[i], "--config") == 0 && v != NULL) {
            config = v, i++;
        } else if (strcmp(argv[i], "--org") == 0 && v != NULL) {
            f.org = v, i++;
        } else if (strcmp(argv[i], "--source") == 0 && v != NULL) {
            f.source = v, i++;
        } else if (strcmp(argv[i], "--type") == 0 && v != NULL) {
            f.type = v, i++;
        } else if (strcmp(argv[i], "-n") == 0 && v != NULL) {
            char *end;
            errno = 0;
            limit = strtol(v, &end, 10);
            if (errno != 0 || *end != '\0' || limit < 1) {
                fprintf(stderr, "sluicectl tail: -n: '%s' is not a positive number\n", v);
                return 2;
            }
            i++;
        } else {
            fprintf(stderr, "sluicectl tail: unknown or incomplete option '%s'\n\n", argv[i]);
            usage(stderr);
            return 2;
        }
    }
    if (config == NULL || f.org == NULL) {
        fprintf(stderr, "sluicectl tail: --config and --org are required\n\n");
        usage(stderr);
        return 2;
    }
    if (color < 0)
        color = isatty(STDOUT_FILENO) && getenv("NO_COLOR") == NULL;

    sluice_config_diag_t diag;
    sluice_config_diag_init(&diag);
    sluice_config_t *cfg = sluice_config_load(config, 0, &diag);
    for (size_t i = 0; i < diag.count; i++)
        fprintf(stderr, "%s\n", diag.msgs[i]);
    sluice_config_diag_dispose(&diag);
    if (cfg == NULL)
        return 1;
    const sluice_org_t *org = sluice_config_find_org(cfg, f.org);
    if (org == NULL || (f.source != NULL && sluice_org_find_source(org, f.source) == NULL)) {
        if (org == NULL)
            fprintf(stderr, "sluicectl tail: no org '%s' in %s\n", f.org, config);
        else
            fprintf(stderr, "sluicectl tail: org '%s' has no source '%s'\n", f.org, f.source);
        sluice_config_free(cfg);
        return 1;
    }

    int rc = 1;
    sluice_err_t err = {{0}};
    /* The topic keeps a forgotten person's events until its retention; sluice's own reader of it
     * acts on the request like the worker does, or `--from-beginning` printed them after it. */
    sluice_suppress_t *forgotten = NULL;
    if (cfg->database.url == NULL)
        fprintf(stderr, "tail: no database.url: events of people sluicectl forget named are shown too\n");
    else if ((forgotten = sluice_suppress_create(cfg, &err)) == NULL) {
        fprintf(stderr, "sluicectl tail: %s (it shows nothing without the list of people forget named)\n", err.msg);
        sluice_config_free(cfg);
        return 1;
    }
    char group[64];
    snprintf(group, sizeof(group), "sluicectl-tail-%ld", (long)getpid());
    const char *const defaults[] = {"group.id", group, "enable.auto.commit", "false", "enable.partition.eof",
                                    "false",    NULL};
    rd_kafka_conf_t *conf = sluice_dlq_kafka_conf(&cfg->kafka, "sluicectl-tail", RD_KAFKA_CONSUMER, defaults, &err);
    rd_kafka_t *rk = NULL;
    char errstr[512];
    if (conf == NULL || (rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, errstr, sizeof(errstr))) == NULL) {
        if (conf != NULL) {
            rd_kafka_conf_destroy(conf);
            sluice_err_set(&err, "kafka consumer: %s", errstr);
        }
        fprintf(stderr, "sluicectl tail: %s\n", err.msg);
        sluice_suppress_destroy(forgotten);
        sluice_config_free(cfg);
        return 1;
    }
    struct sigaction sa = {0};
    sa.sa_handler = on_signal; /* no SA_RESTART: the poll below returns */
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);

    int parts = assign_all(rk, cfg->kafka.topic, from_beginning);
    if (parts > 0) {
        fprintf(stderr, "tail: following %s (%d partitions) for org %s%s%s%s%s\n", cfg->kafka.topic, parts, f.org,
                f.source ? ", source " : "", f.source ? f.source : "", f.type ? ", type " : "", f.type ? f.type : "");
        printer_t p = {stdout, pretty, color};
        long shown = 0;
        while (!stop && (limit == 0 || shown < limit)) {
            rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, 200);
            if (m == NULL)
                continue;
            if (m->err != RD_KAFKA_RESP_ERR_NO_ERROR) {
                if (m->err != RD_KAFKA_RESP_ERR__PARTITION_EOF)
                    fprintf(stderr, "warning: %s\n", rd_kafka_message_errstr(m));
            } else if (m->payload != NULL && wanted(&f, m) && !is_forgotten(forgotten, m)) {
                print_json(&p, m->payload, m->len);
                fflush(stdout);
                shown++;
            }
            rd_kafka_message_destroy(m);
        }
        rc = 0;
    } else if (parts == 0) {
        rc = 0; /* stopped while waiting for the topic */
    }
    rd_kafka_consumer_close(rk);
    rd_kafka_destroy(rk);
    sluice_suppress_destroy(forgotten);
    sluice_config_free(cfg);
    return rc;
}
