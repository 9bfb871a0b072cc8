/*
 * `sluicectl invalid list`: the refused events the gateway recorded in kafka.invalid_topic (an
 * event of an accepted batch that failed validation still goes there, after the data layer masked
 * it, with the reason), read from the topic's beginning to its current end, nothing committed.
 * One JSON line per record: where it is, when, the org and source, and the error (code, message,
 * path, index in its request); with --events the masked event and its privacy record too. Main
 * thread (librdkafka has its own).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>
#include <librdkafka/rdkafka.h>

#include "config/config.h"
#include "json/numbers.h"
#include "json/parse.h"
#include "json/write.h"
#include "tools/commands.h"
#include "tools/topic.h"
#include "vendors/dlq.h"
#include "vendors/suppress.h"

static void usage(FILE *out)
{
    fprintf(out, "usage: sluicectl invalid list --config FILE [--org O] [--since T] [--events]\n"
                 "\n"
                 "Lists the events the gateway refused (kafka.invalid_topic, default sluice.invalid), one JSON\n"
                 "line each: partition, offset, timestamp_ms, org, source, receivedAt and error {code, message,\n"
                 "path, index}. --events adds each record's event, as the data layer left it (hashed, masked,\n"
                 "dropped: never raw PII), and its privacy record; the records of people `sluicectl forget`\n"
                 "named are then left out (the list is read from database.url). --since takes an ISO-8601\n"
                 "time or an age (30m, 6h, 2d). --org must name an org of the config. A summary line goes to\n"
                 "stderr.\n");
}

typedef struct run {
    const char *org;
    int64_t since_ms;
    int events;
    sluice_suppress_t *forgotten; /* --events: whom sluicectl forget named (the worker's list) */
    long matched, left_out, unreadable;
} run_t;

static int on_record(const rd_kafka_message_t *m, void *ud)
{
    run_t *r = ud;
    rd_kafka_timestamp_type_t tt;
    int64_t ts = rd_kafka_message_timestamp(m, &tt);
    if (r->since_ms > 0 && ts >= 0 && ts < r->since_ms)
        return 0;
    /* Read and written as the gateway wrote it, numbers as sent: jansson refuses an integer
     * beyond 64 bits and a number beyond a double (1e400), which the gateway keeps, so such a
     * record was left out of the list without a word, and it prints 19.90 as 19.9. */
    sluice_jsonnum_t *nums = sluice_jsonnum_new();
    sluice_json_error_t je;
    json_t *rec = nums != NULL ? sluice_json_parse(m->payload, m->len, 2048, SIZE_MAX, 0, nums, &je) : NULL;
    const char *org = json_string_value(json_object_get(rec, "org"));
    if (rec == NULL || (r->org != NULL && (org == NULL || strcmp(org, r->org) != 0))) {
        if (rec == NULL)
            r->unreadable++;
        json_decref(rec);
        sluice_jsonnum_free(nums);
        return 0;
    }
    /* The topic keeps a forgotten person's refused events until its retention: the event (their
     * ids, traits, properties) is theirs as much as an accepted one, which tail and the live
     * view leave out. */
    if (r->events && sluice_suppress_match_event(r->forgotten, org, json_object_get(rec, "event"))) {
        r->left_out++;
        json_decref(rec);
        sluice_jsonnum_free(nums);
        return 0;
    }
    r->matched++;
    json_t *line = json_pack("{s:i,s:I,s:I,s:O?,s:O?,s:O?,s:O?}", "partition", (int)m->partition, "offset",
                             (json_int_t)m->offset, "timestamp_ms", (json_int_t)ts, "org", json_object_get(rec, "org"),
                             "source", json_object_get(rec, "source"), "receivedAt", json_object_get(rec, "receivedAt"),
                             "error", json_object_get(rec, "error"));
    if (line != NULL && r->events) {
        json_object_set(line, "event", json_object_get(rec, "event"));
        json_object_set(line, "privacy", json_object_get(rec, "privacy"));
    }
    size_t n = 0;
    char *s = line ? sluice_json_encode(line, nums, &n) : NULL; /* the record's values, so their texts */
    if (s != NULL)
        printf("%.*s\n", (int)n, s);
    free(s);
    json_decref(line);
    json_decref(rec);
    sluice_jsonnum_free(nums);
    return 0;
}

int sluicectl_cmd_invalid(int argc, char **argv)
{
    if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    if (strcmp(argv[1], "list") != 0) {
        fprintf(stderr, "sluicectl invalid: unknown command '%s'\n\n", argv[1]);
        usage(stderr);
        return 2;
    }
    run_t r = {0};
    const char *config = NULL;
    for (int i = 2; i < argc; i++) {
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(argv[i], "--events") == 0) {
            r.events = 1;
        } else if (strcmp(argv[i], "--config") == 0 && v != NULL) {
            config = v, i++;
        } else if (strcmp(argv[i], "--org") == 0 && v != NULL) {
            r.org = v, i++;
        } else if (strcmp(argv[i], "--since") == 0 && v != NULL) {
            if (sluicectl_parse_since(v, &r.since_ms) != 0) {
                fprintf(stderr, "sluicectl invalid: --since: '%s' is neither an ISO-8601 time nor an age like 30m\n",
                        v);
                return 2;
            }
            i++;
        } else {
            fprintf(stderr, "sluicectl invalid: unknown or incomplete option '%s'\n\n", argv[i]);
            usage(stderr);
            return 2;
        }
    }
    if (config == NULL) {
        fprintf(stderr, "sluicectl invalid: --config is required\n");
        return 2;
    }
    sluice_config_diag_t diag;
    sluice_config_diag_init(&diag);
    sluice_config_t *cfg = sluice_config_load(config, 0, &diag);
    for (size_t i = 0; i < diag.count; i++)
        fprintf(stderr, "%s\n", diag.msgs[i]);
    sluice_config_diag_dispose(&diag);
    if (cfg == NULL)
        return 1;
    if (r.org != NULL && sluice_config_find_org(cfg, r.org) == NULL) {
        fprintf(stderr, "sluicectl invalid: no org '%s' in %s\n", r.org, config);
        sluice_config_free(cfg);
        return 1;
    }

    int rc = 1;
    sluice_err_t err = {{0}};
    if (r.events && cfg->database.url == NULL) {
        fprintf(stderr, "invalid: no database.url: events of people sluicectl forget named are shown too\n");
    } else if (r.events && (r.forgotten = sluice_suppress_create(cfg, &err)) == NULL) {
        fprintf(stderr, "sluicectl invalid list: %s (--events shows nothing without the list of people forget named)\n",
                err.msg);
        sluice_config_free(cfg);
        return 1;
    }
    char group[64];
    snprintf(group, sizeof(group), "sluicectl-invalid-%ld", (long)getpid());
    const char *const defaults[] = {"group.id", group, "enable.auto.commit", "false", "enable.partition.eof",
                                    "false",    NULL};
    rd_kafka_conf_t *conf = sluice_dlq_kafka_conf(&cfg->kafka, "sluicectl-invalid", RD_KAFKA_CONSUMER, defaults, &err);
    rd_kafka_t *consumer = NULL;
    char errstr[512];
    if (conf == NULL || (consumer = rd_kafka_new(RD_KAFKA_CONSUMER, conf, errstr, sizeof(errstr))) == NULL) {
        if (conf != NULL) {
            rd_kafka_conf_destroy(conf);
            sluice_err_set(&err, "kafka consumer: %s", errstr);
        }
        fprintf(stderr, "sluicectl invalid: %s\n", err.msg);
        goto out;
    }
    long n = sluicectl_topic_read(consumer, cfg->kafka.invalid_topic, on_record, &r, &err);
    if (n < 0) {
        fprintf(stderr, "sluicectl invalid list: %s\n", err.msg);
        goto out;
    }
    fprintf(stderr, "%ld refused events (%ld records in %s)", r.matched, n, cfg->kafka.invalid_topic);
    if (r.left_out > 0)
        fprintf(stderr, "; %ld of people sluicectl forget named left out", r.left_out);
    if (r.unreadable > 0) /* not the gateway's JSON (another producer on the topic), or out of memory */
        fprintf(stderr, "; %ld records not readable as JSON left out", r.unreadable);
    fputc('\n', stderr);
    rc = 0;
out:
    if (consumer != NULL) {
        rd_kafka_consumer_close(consumer);
        rd_kafka_destroy(consumer);
    }
    sluice_suppress_destroy(r.forgotten);
    sluice_config_free(cfg);
    return rc;
}
