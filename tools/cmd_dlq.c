/*
 * `sluicectl dlq list|replay`: reads the dead-letter topic from its beginning to its current end
 * (no consumer group, nothing committed), filtered by vendor and time. `list` prints each
 * message's headers as a JSON line (never the envelope); `replay` produces the envelopes back to
 * the events topic with their original key and headers, optionally marked for the one
 * integration that failed (`--to-vendor`). Main thread (librdkafka has its own).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <librdkafka/rdkafka.h>

#include "common/err.h"
#include "common/time.h"
#include "config/config.h"
#include "tools/commands.h"
#include "tools/topic.h"
#include "vendors/dlq.h"
#include "vendors/envelope.h"
#include "vendors/suppress.h"
#include "vendors/vendor.h"

#define WAIT_MS 15000

static void usage(FILE *out)
{
    fprintf(out,
            "usage: sluicectl dlq list   --config FILE [--vendor V] [--since T]\n"
            "       sluicectl dlq replay --config FILE [--vendor V] [--since T] [--to-vendor]\n"
            "\n"
            "list    one JSON line per dead letter: partition, offset, time and its headers (org, source, type,\n"
            "        vendor, integration, status, attempts, error, failed_at); never the event itself\n"
            "replay  produce the dead letters back to the events topic (kafka.topic) with their key and headers;\n"
            "        every vendor's worker sees them again (vendors dedupe on the event id). --to-vendor marks\n"
            "        each for the one integration that dead-lettered it, so only that one delivers it (one\n"
            "        whose integration the config lacks is left out, named). An event is replayed once per\n"
            "        integration and run, however many dead letters it has. Dead letters of people\n"
            "        `sluicectl forget` named are left out (the list is read from database.url)\n"
            "\n"
            "  --vendor V   only dead letters of vendor V (%s)\n"
            "  --since T    only those written at or after T: an ISO-8601 time (2026-11-23T10:00:00Z) or an age\n"
            "               such as 30m, 6h, 2d\n",
            sluice_vendor_names());
}

typedef struct opts {
    const char *cmd, *config, *vendor;
    int64_t since_ms;
    int to_vendor;
} opts_t;

typedef struct run {
    const opts_t *o;
    const sluice_config_t *cfg;
    rd_kafka_t *producer;
    const char *events_topic;
    sluice_suppress_t *suppress; /* replay: whom sluicectl forget named (the worker's list) */
    json_t *seen; /* replay: the events produced so far, as seen_before's keys, each with the number of its
                   * dead letters left out as repeats */
    long matched, produced, failed, no_payload, suppressed, no_target, repeated;
} run_t;

static int matches(const run_t *r, const rd_kafka_message_t *m, sluice_dlq_info_t *info)
{
    sluice_dlq_read_headers(m, info);
    if (r->o->vendor != NULL && strcmp(info->vendor, r->o->vendor) != 0)
        return 0;
    rd_kafka_timestamp_type_t tt;
    int64_t ts = rd_kafka_message_timestamp(m, &tt);
    if (r->o->since_ms > 0 && ts >= 0 && ts < r->o->since_ms)
        return 0;
    return 1;
}

static int on_list(const rd_kafka_message_t *m, void *ud)
{
    run_t *r = ud;
    sluice_dlq_info_t info;
    if (!matches(r, m, &info))
        return 0;
    r->matched++;
    rd_kafka_timestamp_type_t tt;
    json_t *line = json_pack("{s:i,s:I,s:I,s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:s}", "partition", (int)m->partition,
                             "offset", (json_int_t)m->offset, "timestamp_ms",
                             (json_int_t)rd_kafka_message_timestamp(m, &tt), "org", info.org, "source", info.source,
                             "type", info.type, "vendor", info.vendor, "integration", info.integration, "status",
                             info.status, "attempts", info.attempts, "error", info.error, "failed_at", info.failed_at);
    char *s = line ? json_dumps(line, JSON_COMPACT) : NULL;
    if (s != NULL)
        printf("%s\n", s);
    free(s);
    json_decref(line);
    return 0;
}

static void on_replayed(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
    (void)rk;
    run_t *r = opaque;
    char *key = m->_private; /* its seen_before key, or NULL */
    if (m->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
        r->produced++;
    } else {
        /* Its other dead letters were left out as repeats of a replayed event: none of them is in
         * Kafka either ("already replayed" was said of an event Kafka never took). They are not
         * replayed, and a later one of the same event in this run is produced again. */
        long repeats = key != NULL ? (long)json_integer_value(json_object_get(r->seen, key)) : 0;
        r->failed += 1 + repeats;
        r->repeated -= repeats;
        if (key != NULL)
            json_object_del(r->seen, key);
        fprintf(stderr, "sluicectl dlq replay: Kafka did not take a dead letter produced back (%s): not replayed\n",
                rd_kafka_err2str(m->err));
    }
    free(key);
}

/* With --to-vendor, why the dead letter has no integration of this config to go back to (NULL
 * when it has one). Produced anyway, it went nowhere or everywhere: a replay-to naming an
 * integration since renamed or removed was dead-lettered again by a worker that has that
 * vendor, and skipped by every worker when none has (the event gone without a word, "replayed 1
 * of 1"); one without an integration ("-") carried no replay-to, so every integration of every
 * vendor delivered it again, GA4 counting it twice. */
static const char *no_target(const run_t *r, const sluice_dlq_info_t *info, const char *org_id)
{
    static char why[512];
    if (info->integration[0] == '\0' || strcmp(info->integration, "-") == 0) {
        snprintf(why, sizeof(why),
                 "names no integration (its envelope could not be read, or an older worker wrote it for a replay "
                 "to an integration it lacked); --to-vendor would send it to every integration of every vendor "
                 "(replay it without --to-vendor if that is meant)");
        return why;
    }
    const sluice_org_t *org = sluice_config_find_org(r->cfg, org_id);
    const sluice_integration_t *it = sluice_org_find_integration(org, info->integration);
    const sluice_vendor_ops_t *ops = sluice_vendor_find(info->vendor);
    if (org == NULL || it == NULL || ops == NULL || it->vendor < 0 || sluice_vendor_get(it->vendor) != ops) {
        snprintf(why, sizeof(why),
                 "is for %s/%s, which the config does not have for org %s (renamed or removed since?)", info->vendor,
                 info->integration, org_id != NULL && org_id[0] != '\0' ? org_id : "-");
        return why;
    }
    if (!it->enabled) {
        snprintf(why, sizeof(why), "is for %s/%s of org %s, which is disabled (enabled: false)", info->vendor,
                 info->integration, org_id);
        return why;
    }
    return NULL;
}

/* 1 when this run already replayed the same event (org and messageId) to the same place: for the
 * same integration with --to-vendor, to every integration without it. A replay that failed again
 * leaves a second dead letter of the event next to the first, and an event several vendors
 * refused has one per vendor; the run that took both produced the event twice, and vendors
 * without an event id (GA4) counted it twice. */
static int seen_before(run_t *r, const sluice_dlq_info_t *info, const sluice_envelope_t *env, char **kept)
{
    *kept = NULL;
    if (env->message_id == NULL || r->seen == NULL)
        return 0;
    char key[512];
    if (r->o->to_vendor)
        snprintf(key, sizeof(key), "%s\n%s/%s\n%s", env->org, info->vendor, info->integration, env->message_id);
    else
        snprintf(key, sizeof(key), "%s\n%s", env->org, env->message_id);
    json_t *repeats = json_object_get(r->seen, key);
    if (repeats != NULL) {
        json_integer_set(repeats, json_integer_value(repeats) + 1);
        return 1;
    }
    json_object_set_new_nocheck(r->seen, key, json_integer(0));
    *kept = strdup(key); /* the produced message's opaque: its report names the event (on_replayed) */
    return 0;
}

static int on_replay(const rd_kafka_message_t *m, void *ud)
{
    run_t *r = ud;
    sluice_dlq_info_t info;
    if (!matches(r, m, &info))
        return 0;
    r->matched++;
    if (m->payload == NULL || m->len == 0) {
        /* Dead-lettered without its value (more than the DLQ takes): replaying it produced an
         * empty message, which every vendor's worker dead-lettered again as no envelope, and
         * the event itself never came back. Its `error` says where the event stays. */
        r->no_payload++;
        fprintf(stderr,
                "sluicectl dlq replay: the dead letter at %s[%d]@%" PRId64 " has no payload, not replayed: %s\n",
                rd_kafka_topic_name(m->rkt), (int)m->partition, m->offset, info.error);
        return 0;
    }
    /* A dead letter of a person forget named since goes back nowhere: the worker would skip it,
     * but every other consumer of the events topic would get the person's event again after
     * acting on their deletion record. */
    sluice_envelope_t env;
    sluice_err_t perr = {{0}};
    int parsed = sluice_envelope_parse(&env, m->payload, m->len, &perr) == 0;
    if (parsed && sluice_suppress_match(r->suppress, &env)) {
        sluice_envelope_dispose(&env);
        r->suppressed++;
        fprintf(stderr,
                "sluicectl dlq replay: the dead letter at %s[%d]@%" PRId64
                " is of a person sluicectl forget named: not replayed\n",
                rd_kafka_topic_name(m->rkt), (int)m->partition, m->offset);
        return 0;
    }
    const char *why = r->o->to_vendor ? no_target(r, &info, parsed ? env.org : info.org) : NULL;
    char *key = NULL;
    int again = why == NULL && parsed && seen_before(r, &info, &env, &key);
    if (parsed)
        sluice_envelope_dispose(&env);
    if (why != NULL) {
        r->no_target++;
        fprintf(stderr, "sluicectl dlq replay: the dead letter at %s[%d]@%" PRId64 " %s: not replayed\n",
                rd_kafka_topic_name(m->rkt), (int)m->partition, m->offset, why);
        return 0;
    }
    if (again) {
        r->repeated++;
        return 0;
    }
    rd_kafka_headers_t *h = rd_kafka_headers_new(4);
    if (info.org[0])
        rd_kafka_header_add(h, "org", -1, info.org, -1);
    if (info.source[0])
        rd_kafka_header_add(h, "source", -1, info.source, -1);
    if (info.type[0])
        rd_kafka_header_add(h, "type", -1, info.type, -1);
    if (r->o->to_vendor && info.integration[0] && strcmp(info.integration, "-") != 0) {
        char target[160];
        snprintf(target, sizeof(target), "%s/%s", info.vendor, info.integration);
        rd_kafka_header_add(h, SLUICE_DLQ_REPLAY_TO, -1, target, -1);
    }
    rd_kafka_resp_err_t e;
    while ((e = rd_kafka_producev(r->producer, RD_KAFKA_V_TOPIC(r->events_topic),
                                  RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_KEY(m->key, m->key_len),
                                  RD_KAFKA_V_VALUE(m->payload, m->len), RD_KAFKA_V_HEADERS(h), RD_KAFKA_V_OPAQUE(key),
                                  RD_KAFKA_V_END)) == RD_KAFKA_RESP_ERR__QUEUE_FULL)
        rd_kafka_poll(r->producer, 100);
    if (e != RD_KAFKA_RESP_ERR_NO_ERROR) {
        rd_kafka_headers_destroy(h);
        if (key != NULL)
            json_object_del(r->seen, key); /* not produced: a later dead letter of it may be */
        free(key);
        r->failed++;
        fprintf(stderr,
                "sluicectl dlq replay: the dead letter at %s[%d]@%" PRId64 " could not be produced (%s): not "
                "replayed\n",
                rd_kafka_topic_name(m->rkt), (int)m->partition, m->offset, rd_kafka_err2str(e));
        /* One dead letter the producer refuses (too large for it) must not stop the others; a
         * producer that refuses everything from now on (a fatal error) stops the run, which still
         * waits for what it produced before and says how many went. */
        return e == RD_KAFKA_RESP_ERR__FATAL ? -1 : 0;
    }
    rd_kafka_poll(r->producer, 0);
    return 0;
}

int sluicectl_cmd_dlq(int argc, char **argv)
{
    opts_t o = {0};
    if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    o.cmd = argv[1];
    int replay = strcmp(o.cmd, "replay") == 0;
    if (!replay && strcmp(o.cmd, "list") != 0) {
        fprintf(stderr, "sluicectl dlq: unknown command '%s'\n\n", o.cmd);
        usage(stderr);
        return 2;
    }
    for (int i = 2; i < argc; i++) {
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(argv[i], "--to-vendor") == 0 && replay) {
            o.to_vendor = 1;
        } else if (strcmp(argv[i], "--config") == 0 && v != NULL) {
            o.config = v, i++;
        } else if (strcmp(argv[i], "--vendor") == 0 && v != NULL) {
            if (sluice_vendor_find(v) == NULL) {
                fprintf(stderr, "sluicectl dlq: unknown vendor '%s' (one of: %s)\n", v, sluice_vendor_names());
                return 2;
            }
            o.vendor = v, i++;
        } else if (strcmp(argv[i], "--since") == 0 && v != NULL) {
            if (sluicectl_parse_since(v, &o.since_ms) != 0) {
                fprintf(stderr, "sluicectl dlq: --since: '%s' is neither an ISO-8601 time nor an age like 30m\n", v);
                return 2;
            }
            i++;
        } else {
            fprintf(stderr, "sluicectl dlq: unknown or incomplete option '%s'\n\n", argv[i]);
            usage(stderr);
            return 2;
        }
    }
    if (o.config == NULL) {
        fprintf(stderr, "sluicectl dlq: --config is required\n");
        return 2;
    }
    sluice_config_diag_t diag;
    sluice_config_diag_init(&diag);
    sluice_config_t *cfg = sluice_config_load(o.config, 0, &diag);
    for (size_t i = 0; i < diag.count; i++)
        fprintf(stderr, "%s\n", diag.msgs[i]);
    sluice_config_diag_dispose(&diag);
    if (cfg == NULL)
        return 1;

    int rc = 1;
    sluice_err_t err = {{0}};
    run_t r = {.o = &o, .cfg = cfg, .events_topic = cfg->kafka.topic, .seen = replay ? json_object() : NULL};
    char group[64];
    snprintf(group, sizeof(group), "sluicectl-dlq-%ld", (long)getpid());
    /* A group id is required by the consumer API; it only ever assigns, never commits. */
    const char *const cdefaults[] = {"group.id", group, "enable.auto.commit", "false", "enable.partition.eof",
                                     "false",    NULL};
    rd_kafka_conf_t *conf = sluice_dlq_kafka_conf(&cfg->kafka, "sluicectl-dlq", RD_KAFKA_CONSUMER, cdefaults, &err);
    rd_kafka_t *consumer = NULL;
    char errstr[512];
    if (conf == NULL || (consumer = rd_kafka_new(RD_KAFKA_CONSUMER, conf, errstr, sizeof(errstr))) == NULL) {
        if (conf != NULL) {
            rd_kafka_conf_destroy(conf);
            sluice_err_set(&err, "kafka consumer: %s", errstr);
        }
        fprintf(stderr, "sluicectl dlq: %s\n", err.msg);
        goto out;
    }
    if (replay && (r.suppress = sluice_suppress_create(cfg, &err)) == NULL) {
        fprintf(stderr, "sluicectl dlq replay: %s (it replays nothing without the list of people forget named)\n",
                err.msg);
        goto out;
    }
    if (replay) {
        const char *const pdefaults[] = {"enable.idempotence", "true", "acks", "all", NULL};
        rd_kafka_conf_t *pconf =
            sluice_dlq_kafka_conf(&cfg->kafka, "sluicectl-replay", RD_KAFKA_PRODUCER, pdefaults, &err);
        if (pconf == NULL) {
            fprintf(stderr, "sluicectl dlq: %s\n", err.msg);
            goto out;
        }
        rd_kafka_conf_set_opaque(pconf, &r);
        rd_kafka_conf_set_dr_msg_cb(pconf, on_replayed);
        if ((r.producer = rd_kafka_new(RD_KAFKA_PRODUCER, pconf, errstr, sizeof(errstr))) == NULL) {
            rd_kafka_conf_destroy(pconf);
            fprintf(stderr, "sluicectl dlq: kafka producer: %s\n", errstr);
            goto out;
        }
    }
    long n = sluicectl_topic_read(consumer, cfg->kafka.dlq_topic, replay ? on_replay : on_list, &r, &err);
    if (n < 0) {
        fprintf(stderr, "sluicectl dlq %s: %s\n", o.cmd, err.msg);
        if (!replay)
            goto out;
    }
    if (replay) {
        /* Also after an error: what was produced before it is waited for, and counted. Left
         * unflushed, rd_kafka_destroy dropped it, some of it already in Kafka, and the run said
         * nothing of what it had replayed (its rerun then replayed those again). */
        if (rd_kafka_flush(r.producer, WAIT_MS) != RD_KAFKA_RESP_ERR_NO_ERROR) {
            /* Not taken in time: reported as failed and counted not replayed (one in flight may
             * still land; vendors dedupe a rerun's copy on the event id), none left unreported. */
            rd_kafka_purge(r.producer, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
            rd_kafka_flush(r.producer, 1000);
        }
        rd_kafka_poll(r.producer, 0);
        long lost = r.matched - r.produced - r.suppressed - r.repeated;
        fprintf(stderr, "replayed %ld of %ld dead letters to %s%s", r.produced, r.matched, cfg->kafka.topic,
                o.to_vendor ? " (each for its own integration)" : "");
        if (r.no_payload > 0)
            fprintf(stderr, "; %ld without its payload not replayed (the event stays where its error says)",
                    r.no_payload);
        if (r.suppressed > 0)
            fprintf(stderr, "; %ld of people sluicectl forget named not replayed", r.suppressed);
        if (r.repeated > 0)
            fprintf(stderr, "; %ld of an event this run had already replayed to the same place left out", r.repeated);
        if (r.no_target > 0)
            fprintf(stderr, "; %ld without an integration of this config to go to not replayed", r.no_target);
        if (r.failed > 0)
            fprintf(stderr, "; %ld not taken by Kafka, not replayed (run the replay again)", r.failed);
        if (n < 0)
            fprintf(stderr, "; stopped before the end of %s", cfg->kafka.dlq_topic);
        fputc('\n', stderr);
        rc = lost == 0 && n >= 0 ? 0 : 1;
    } else {
        fprintf(stderr, "%ld dead letters (%ld in %s)\n", r.matched, n, cfg->kafka.dlq_topic);
        rc = 0;
    }
out:
    if (consumer != NULL) {
        rd_kafka_consumer_close(consumer);
        rd_kafka_destroy(consumer);
    }
    if (r.producer != NULL)
        rd_kafka_destroy(r.producer);
    sluice_suppress_destroy(r.suppress);
    json_decref(r.seen);
    sluice_config_free(cfg);
    return rc;
}
