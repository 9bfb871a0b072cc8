/*
 * `sluicectl dev-kafka`: the development Kafka broker. Runs librdkafka's mock cluster in this
 * process on 127.0.0.1 (random ports: librdkafka 2.0.2 cannot fix them), creates the topics
 * sluice uses, announces the bootstrap address on stdout and in a file, and then serves stock
 * clients (kcat, sluice-gateway, sluice-deliver) until SIGTERM/SIGINT.
 *
 * Fault control for tests: SIGUSR1 takes every broker down, SIGUSR2 brings them all up, and
 * --down-after / --up-after do the same on a timer. Finer faults go through a control FIFO
 * (--control PATH): one command per line, `down N`, `up N` (one broker, or `all`) and
 * `leader TOPIC PARTITION BROKER`, so a test can take one broker of several down while the
 * others keep serving, `produce-error COUNT ERROR [N]`, so the next COUNT produce requests (of
 * broker N only, when given) are answered with a broker error (a leader that lost what it had
 * acknowledged answers OUT_OF_ORDER_SEQUENCE_NUMBER, which is fatal to an idempotent producer),
 * and `rtt N MS`, so broker N answers MS ms late. Threads: the main
 * thread blocks the four signals before librdkafka starts its threads (they inherit the mask) and
 * then reads them from a signalfd in a poll loop with the FIFO, so no code ever runs in a signal
 * handler. The mock cluster runs on its own librdkafka thread; its API hands our calls over to
 * that thread.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <poll.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#include "common/err.h"
#include "common/log.h"
#include "tools/commands.h"

#define MAX_BROKERS    16
#define MAX_PARTITIONS 1024
#define MAX_TOPICS     32
#define MAX_TOPIC_NAME 249 /* Kafka's own limit */

/* The topics every sluice deployment uses (DESIGN.md): events in, dead letters out. */
static const char *const default_topics[] = {"sluice.events", "sluice.dlq", "sluice.invalid", "sluice.dsr"};

typedef struct options {
    int brokers;
    int partitions;
    const char *topics[MAX_TOPICS];
    int ntopics;
    const char *bootstrap_file;
    const char *control; /* FIFO path, or NULL */
    long down_after_ms;  /* -1: no timer */
    long up_after_ms;
} options_t;

static void usage(FILE *out)
{
    fprintf(out,
            "usage: sluicectl dev-kafka [options]\n"
            "\n"
            "Runs a development Kafka cluster (librdkafka's mock cluster) on 127.0.0.1 until SIGTERM or\n"
            "SIGINT. Creates the topics sluice.events, sluice.dlq, sluice.invalid and sluice.dsr, plus any given\n"
            "with --topics.\n"
            "Prints BOOTSTRAP=<host:port,...> on stdout once clients can connect.\n"
            "\n"
            "options:\n"
            "  --brokers N          number of brokers, 1..%d (default 1); replication is min(3, N)\n"
            "  --partitions N       partitions per created topic, 1..%d (default 4)\n"
            "  --topics a,b         extra topics to create (comma-separated)\n"
            "  --bootstrap-file F   also write the bootstrap address to F (atomically; removed on exit)\n"
            "  --control FIFO       create FIFO and read commands from it, one per line:\n"
            "                         down N|all    take broker N (1..brokers) or every broker down\n"
            "                         up N|all      bring it back up\n"
            "                         leader TOPIC PARTITION N   make broker N the partition's leader\n"
            "                         produce-error COUNT ERROR [N]  answer the next COUNT produce requests\n"
            "                                       (of broker N only, when given) with the broker error ERROR\n"
            "                                       (librdkafka's name, e.g. NOT_LEADER_FOR_PARTITION,\n"
            "                                       OUT_OF_ORDER_SEQUENCE_NUMBER)\n"
            "                         rtt N|all MS  delay broker N's (or every broker's) answers by MS ms\n"
            "                       each applied command is logged as devkafka.control, a refused one\n"
            "                       as devkafka.control_error (e.g. echo 'down 2' > FIFO)\n"
            "  --down-after MS      take every broker down MS milliseconds after start\n"
            "  --up-after MS        bring every broker back up MS milliseconds after start\n"
            "  -h, --help           this text\n"
            "\n"
            "signals:\n"
            "  SIGUSR1              take every broker down (connections are dropped and refused)\n"
            "  SIGUSR2              bring every broker back up\n"
            "  SIGTERM, SIGINT      stop and exit 0\n"
            "\n"
            "State changes are logged as JSON lines on stderr. Exit status: 0 after a stop signal,\n"
            "1 when the cluster cannot be started, 2 for bad arguments.\n",
            MAX_BROKERS, MAX_PARTITIONS);
}

/* Parses a decimal integer in [min, max]; returns -1 (with a message in err) otherwise. */
static int parse_long(const char *opt, const char *s, long min, long max, long *out, sluice_err_t *err)
{
    *out = 0; /* defined on every path, failures included */
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno != 0 || end == s || *end != '\0' || v < min || v > max)
        return sluice_err_set(err, "%s: '%s' is not a number between %ld and %ld", opt, s, min, max);
    *out = v;
    return 0;
}

/* Kafka accepts topic names of [A-Za-z0-9._-], at most 249 characters, other than "." and "..". */
static int check_topic_name(const char *name, size_t len, sluice_err_t *err)
{
    if (len == 0)
        return sluice_err_set(err, "--topics: empty topic name");
    if (len > MAX_TOPIC_NAME)
        return sluice_err_set(err, "--topics: topic name longer than %d characters", MAX_TOPIC_NAME);
    if ((len == 1 && name[0] == '.') || (len == 2 && name[0] == '.' && name[1] == '.'))
        return sluice_err_set(err, "--topics: '%.*s' is not a valid topic name", (int)len, name);
    for (size_t i = 0; i < len; i++) {
        char c = name[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '_' ||
              c == '-'))
            return sluice_err_set(err, "--topics: '%.*s' has a character Kafka does not allow in topic names: '%c'",
                                  (int)len, name, c);
    }
    return 0;
}

static int has_topic(const options_t *o, const char *name)
{
    for (int i = 0; i < o->ntopics; i++) {
        if (strcmp(o->topics[i], name) == 0)
            return 1;
    }
    return 0;
}

/* Splits the --topics list in place (the commas become NULs) and appends the new names. */
static int add_topics(options_t *o, char *list, sluice_err_t *err)
{
    char *p = list;
    for (;;) {
        char *comma = strchr(p, ',');
        size_t len = comma ? (size_t)(comma - p) : strlen(p);
        if (check_topic_name(p, len, err) != 0)
            return -1;
        p[len] = '\0';
        if (!has_topic(o, p)) {
            if (o->ntopics == MAX_TOPICS)
                return sluice_err_set(err, "--topics: at most %d topics in all", MAX_TOPICS);
            o->topics[o->ntopics++] = p;
        }
        if (!comma)
            return 0;
        p = comma + 1;
    }
}

/* Returns 0 to run, 1 when --help was printed, -1 on a usage error (message in err). */
static int parse_options(int argc, char **argv, options_t *o, sluice_err_t *err)
{
    enum {
        OPT_BROKERS = 1,
        OPT_PARTITIONS,
        OPT_TOPICS,
        OPT_BOOTSTRAP_FILE,
        OPT_CONTROL,
        OPT_DOWN_AFTER,
        OPT_UP_AFTER,
        OPT_HELP
    };
    static const struct option longopts[] = {
        {"brokers", required_argument, NULL, OPT_BROKERS},
        {"partitions", required_argument, NULL, OPT_PARTITIONS},
        {"topics", required_argument, NULL, OPT_TOPICS},
        {"bootstrap-file", required_argument, NULL, OPT_BOOTSTRAP_FILE},
        {"control", required_argument, NULL, OPT_CONTROL},
        {"down-after", required_argument, NULL, OPT_DOWN_AFTER},
        {"up-after", required_argument, NULL, OPT_UP_AFTER},
        {"help", no_argument, NULL, OPT_HELP},
        {NULL, 0, NULL, 0},
    };

    *o = (options_t){.brokers = 1, .partitions = 4, .down_after_ms = -1, .up_after_ms = -1};
    for (size_t i = 0; i < sizeof(default_topics) / sizeof(default_topics[0]); i++)
        o->topics[o->ntopics++] = default_topics[i];

    long v;
    int opt;
    opterr = 0; /* we word the messages ourselves */
    optind = 1;
    while ((opt = getopt_long(argc, argv, ":h", longopts, NULL)) != -1) {
        switch (opt) {
        case OPT_BROKERS:
            if (parse_long("--brokers", optarg, 1, MAX_BROKERS, &v, err) != 0)
                return -1;
            o->brokers = (int)v;
            break;
        case OPT_PARTITIONS:
            if (parse_long("--partitions", optarg, 1, MAX_PARTITIONS, &v, err) != 0)
                return -1;
            o->partitions = (int)v;
            break;
        case OPT_TOPICS:
            if (add_topics(o, optarg, err) != 0)
                return -1;
            break;
        case OPT_BOOTSTRAP_FILE:
            if (optarg[0] == '\0')
                return sluice_err_set(err, "--bootstrap-file: empty path");
            o->bootstrap_file = optarg;
            break;
        case OPT_CONTROL:
            if (optarg[0] == '\0')
                return sluice_err_set(err, "--control: empty path");
            o->control = optarg;
            break;
        case OPT_DOWN_AFTER:
            if (parse_long("--down-after", optarg, 0, INT_MAX, &o->down_after_ms, err) != 0)
                return -1;
            break;
        case OPT_UP_AFTER:
            if (parse_long("--up-after", optarg, 0, INT_MAX, &o->up_after_ms, err) != 0)
                return -1;
            break;
        case 'h':
        case OPT_HELP: return 1;
        case ':': return sluice_err_set(err, "%s needs a value", argv[optind - 1]);
        default: return sluice_err_set(err, "unknown option '%s'", argv[optind - 1]);
        }
    }
    if (optind < argc)
        return sluice_err_set(err, "unexpected argument '%s'", argv[optind]);
    if (o->down_after_ms >= 0 && o->up_after_ms >= 0 && o->up_after_ms <= o->down_after_ms)
        return sluice_err_set(err, "--up-after (%ld) must be later than --down-after (%ld): both count from start",
                              o->up_after_ms, o->down_after_ms);
    return 0;
}

/* librdkafka's own log lines, routed into our JSON-lines log (called on librdkafka threads;
 * sluice_log is thread-safe). */
static void on_rdkafka_log(const rd_kafka_t *rk, int level, const char *fac, const char *buf)
{
    (void)rk;
    sluice_log(level <= 3 ? SLUICE_LOG_ERROR : SLUICE_LOG_WARN, "devkafka.librdkafka", "%s: %s", fac, buf);
}

/* Writes "addr\n" to path through a temporary file and rename(2), so a reader polling for the
 * file sees either nothing or the whole address. */
static int write_bootstrap_file(const char *path, const char *addr, sluice_err_t *err)
{
    char tmp[PATH_MAX];
    if (snprintf(tmp, sizeof(tmp), "%s.tmp.%ld", path, (long)getpid()) >= (int)sizeof(tmp))
        return sluice_err_set(err, "--bootstrap-file: path too long");
    FILE *f = fopen(tmp, "w");
    if (!f)
        return sluice_err_set(err, "cannot create %s: %s", tmp, strerror(errno));
    int bad = fprintf(f, "%s\n", addr) < 0;
    bad |= fflush(f) != 0;
    bad |= fclose(f) != 0;
    if (bad) {
        unlink(tmp);
        return sluice_err_set(err, "cannot write %s: %s", tmp, strerror(errno));
    }
    if (rename(tmp, path) != 0) {
        int e = errno;
        unlink(tmp);
        return sluice_err_set(err, "cannot rename %s to %s: %s", tmp, path, strerror(e));
    }
    return 0;
}

/* Sets every broker down or up. Broker ids run from 1 to the broker count. */
static int set_brokers(rd_kafka_mock_cluster_t *mc, int brokers, int up, const char *why)
{
    int failed = 0;
    for (int id = 1; id <= brokers; id++) {
        rd_kafka_resp_err_t e = up ? rd_kafka_mock_broker_set_up(mc, id) : rd_kafka_mock_broker_set_down(mc, id);
        if (e != RD_KAFKA_RESP_ERR_NO_ERROR) {
            sluice_log_error("devkafka.fault_failed", "broker %d: cannot set %s: %s", id, up ? "up" : "down",
                             rd_kafka_err2str(e));
            failed = 1;
        }
    }
    if (up)
        sluice_log_info("devkafka.up", "all %d broker(s) up (%s)", brokers, why);
    else
        sluice_log_info("devkafka.down", "all %d broker(s) down (%s)", brokers, why);
    return failed ? -1 : 0;
}

static long long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* One broker down or up; ids run from 1 to the broker count. */
static int set_broker(rd_kafka_mock_cluster_t *mc, int id, int up, sluice_err_t *err)
{
    rd_kafka_resp_err_t e = up ? rd_kafka_mock_broker_set_up(mc, id) : rd_kafka_mock_broker_set_down(mc, id);
    if (e != RD_KAFKA_RESP_ERR_NO_ERROR)
        return sluice_err_set(err, "broker %d: cannot set %s: %s", id, up ? "up" : "down", rd_kafka_err2str(e));
    return 0;
}

/* Parses a broker id in 1..brokers, or "all" (→ 0). */
static int parse_broker(const char *s, int brokers, int *out, sluice_err_t *err)
{
    long v;
    if (strcmp(s, "all") == 0) {
        *out = 0;
        return 0;
    }
    if (parse_long("broker", s, 1, brokers, &v, err) != 0)
        return -1;
    *out = (int)v;
    return 0;
}

#define PRODUCE_API_KEY 0 /* Kafka's ApiKey of Produce requests (rdkafka_protocol.h is not installed) */

/* A broker error by librdkafka's name without its prefix (OUT_OF_ORDER_SEQUENCE_NUMBER); only
 * errors a broker can send (codes above 0), not librdkafka's local ones. */
static int error_by_name(const char *name, rd_kafka_resp_err_t *out)
{
    const struct rd_kafka_err_desc *descs;
    size_t n;
    rd_kafka_get_err_descs(&descs, &n);
    for (size_t i = 0; i < n; i++)
        if (descs[i].code > 0 && descs[i].name != NULL && strcmp(descs[i].name, name) == 0) {
            *out = descs[i].code;
            return 0;
        }
    return -1;
}

/* Applies one control line (NUL-terminated, without its newline). */
static int apply_command(rd_kafka_mock_cluster_t *mc, const options_t *o, char *line, sluice_err_t *err)
{
    char *argv[5];
    int argc = 0;
    for (char *p = line; *p != '\0' && argc < 5;) {
        while (*p == ' ' || *p == '\t' || *p == '\r')
            *p++ = '\0';
        if (*p == '\0')
            break;
        argv[argc++] = p;
        while (*p != '\0' && *p != ' ' && *p != '\t' && *p != '\r')
            p++;
    }
    if (argc == 0)
        return 1; /* an empty line: nothing to do, nothing to log */
    int id;
    if ((strcmp(argv[0], "down") == 0 || strcmp(argv[0], "up") == 0) && argc == 2) {
        int up = argv[0][0] == 'u';
        if (parse_broker(argv[1], o->brokers, &id, err) != 0)
            return -1;
        if (id == 0)
            return set_brokers(mc, o->brokers, up, "control") == 0 ? 0 : sluice_err_set(err, "see the log above");
        return set_broker(mc, id, up, err);
    }
    if (strcmp(argv[0], "leader") == 0 && argc == 4) {
        long part;
        if (parse_long("partition", argv[2], 0, MAX_PARTITIONS - 1, &part, err) != 0 ||
            parse_broker(argv[3], o->brokers, &id, err) != 0)
            return -1;
        if (id == 0)
            return sluice_err_set(err, "leader: name one broker, not 'all'");
        rd_kafka_resp_err_t e = rd_kafka_mock_partition_set_leader(mc, argv[1], (int32_t)part, id);
        if (e != RD_KAFKA_RESP_ERR_NO_ERROR)
            return sluice_err_set(err, "leader %s %ld %d: %s", argv[1], part, id, rd_kafka_err2str(e));
        return 0;
    }
    if (strcmp(argv[0], "produce-error") == 0 && (argc == 3 || argc == 4)) {
        long count;
        if (parse_long("count", argv[1], 1, 1000, &count, err) != 0)
            return -1;
        rd_kafka_resp_err_t e;
        if (error_by_name(argv[2], &e) != 0)
            return sluice_err_set(err, "produce-error: no broker error named '%s'", argv[2]);
        id = 0;
        if (argc == 4 && parse_broker(argv[3], o->brokers, &id, err) != 0)
            return -1;
        if (id == 0) {
            rd_kafka_mock_push_request_errors(mc, PRODUCE_API_KEY, (size_t)count, e);
            return 0;
        }
        /* One broker's requests only: the partitions other brokers lead keep taking messages, so a
         * request that produced to both sees some of its messages fail and the others succeed. */
        for (long i = 0; i < count; i++) {
            rd_kafka_resp_err_t pe = rd_kafka_mock_broker_push_request_error_rtts(mc, id, PRODUCE_API_KEY, 1, e, 0);
            if (pe != RD_KAFKA_RESP_ERR_NO_ERROR)
                return sluice_err_set(err, "produce-error on broker %d: %s", id, rd_kafka_err2str(pe));
        }
        return 0;
    }
    if (strcmp(argv[0], "rtt") == 0 && argc == 3) {
        long ms;
        if (parse_broker(argv[1], o->brokers, &id, err) != 0 || parse_long("rtt", argv[2], 0, 60000, &ms, err) != 0)
            return -1;
        /* A slow broker among fast ones: one request's messages acknowledged at different times. */
        for (int b = id == 0 ? 1 : id; b <= (id == 0 ? o->brokers : id); b++) {
            rd_kafka_resp_err_t e = rd_kafka_mock_broker_set_rtt(mc, b, (int)ms);
            if (e != RD_KAFKA_RESP_ERR_NO_ERROR)
                return sluice_err_set(err, "rtt %d: %s", b, rd_kafka_err2str(e));
        }
        return 0;
    }
    return sluice_err_set(err, "unknown command (expected: down N|all, up N|all, leader TOPIC PARTITION N, "
                               "produce-error COUNT ERROR [N], rtt N|all MS)");
}

/* Reads what the FIFO holds and applies every complete line. `buf` keeps a partial line across
 * calls; a line longer than the buffer is refused as a whole. */
typedef struct control {
    int fd;
    char buf[512];
    size_t len;
    int overlong;
} control_t;

static void read_control(rd_kafka_mock_cluster_t *mc, const options_t *o, control_t *c)
{
    for (;;) {
        ssize_t n = read(c->fd, c->buf + c->len, sizeof(c->buf) - 1 - c->len);
        if (n <= 0)
            return; /* EAGAIN: drained (we hold a write end too, so never EOF) */
        c->len += (size_t)n;
        char *nl;
        while ((nl = memchr(c->buf, '\n', c->len)) != NULL) {
            *nl = '\0';
            size_t used = (size_t)(nl - c->buf) + 1;
            if (c->overlong) {
                c->overlong = 0;
            } else {
                char shown[sizeof(c->buf)];
                snprintf(shown, sizeof(shown), "%s", c->buf);
                sluice_err_t err = {{0}};
                int rc = apply_command(mc, o, c->buf, &err);
                if (rc == 0)
                    sluice_log_info("devkafka.control", "%s: done", shown);
                else if (rc < 0)
                    sluice_log_error("devkafka.control_error", "%s: %s", shown, err.msg);
            }
            memmove(c->buf, c->buf + used, c->len - used);
            c->len -= used;
        }
        if (c->len == sizeof(c->buf) - 1) {
            sluice_log_error("devkafka.control_error", "a command longer than %zu bytes was ignored",
                             sizeof(c->buf) - 2);
            c->len = 0;
            c->overlong = 1;
        }
    }
}

/* Creates the FIFO (or reuses one already there) and opens it read-write, so the loop never sees
 * end-of-file when a writer closes. -1 with a message otherwise. */
static int open_control(const char *path, sluice_err_t *err)
{
    struct stat st;
    if (mkfifo(path, 0600) != 0 && errno != EEXIST)
        return sluice_err_set(err, "--control: cannot create FIFO %s: %s", path, strerror(errno));
    if (stat(path, &st) != 0 || !S_ISFIFO(st.st_mode))
        return sluice_err_set(err, "--control: %s exists and is not a FIFO", path);
    int fd = open(path, O_RDWR | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0)
        return sluice_err_set(err, "--control: cannot open %s: %s", path, strerror(errno));
    return fd;
}

/* Waits for the signals in `set` (through sfd), the control FIFO and the two timers; returns
 * when a stop signal arrives. */
static void serve(rd_kafka_mock_cluster_t *mc, const options_t *o, int sfd, int control_fd)
{
    long long start = now_ms();
    long long down_at = o->down_after_ms >= 0 ? start + o->down_after_ms : -1;
    long long up_at = o->up_after_ms >= 0 ? start + o->up_after_ms : -1;
    control_t control = {.fd = control_fd};

    for (;;) {
        long long now = now_ms();
        if (down_at >= 0 && now >= down_at) {
            set_brokers(mc, o->brokers, 0, "--down-after");
            down_at = -1;
        }
        if (up_at >= 0 && now >= up_at && down_at < 0) {
            set_brokers(mc, o->brokers, 1, "--up-after");
            up_at = -1;
        }
        long long next = down_at >= 0 ? down_at : up_at;
        int timeout = -1;
        if (next >= 0)
            timeout = next > now ? (int)(next - now) : 0;
        struct pollfd fds[2] = {{.fd = sfd, .events = POLLIN}, {.fd = control_fd, .events = POLLIN}};
        int n = poll(fds, control_fd >= 0 ? 2 : 1, timeout);
        if (n <= 0)
            continue; /* a timer is due, or EINTR */
        if (control_fd >= 0 && (fds[1].revents & POLLIN))
            read_control(mc, o, &control);
        if (!(fds[0].revents & POLLIN))
            continue;
        struct signalfd_siginfo si;
        if (read(sfd, &si, sizeof(si)) != (ssize_t)sizeof(si))
            continue;
        switch ((int)si.ssi_signo) {
        case SIGUSR1: set_brokers(mc, o->brokers, 0, "SIGUSR1"); break;
        case SIGUSR2: set_brokers(mc, o->brokers, 1, "SIGUSR2"); break;
        default:
            sluice_log_info("devkafka.stopping", "%s received", si.ssi_signo == SIGINT ? "SIGINT" : "SIGTERM");
            return;
        }
    }
}

int sluicectl_cmd_dev_kafka(int argc, char **argv)
{
    options_t o;
    sluice_err_t err = {{0}};
    int rc = parse_options(argc, argv, &o, &err);
    if (rc == 1) {
        usage(stdout);
        return 0;
    }
    if (rc != 0) {
        fprintf(stderr, "sluicectl dev-kafka: %s\n(`sluicectl dev-kafka --help` lists the options)\n", err.msg);
        return 2;
    }
    sluice_log_setup("sluicectl", SLUICE_LOG_INFO, 2);

    /* Block the control signals before librdkafka creates its threads, which inherit the mask, so
     * every one of them is left pending for the signalfd below. Dispositions go back to default
     * first: a signal ignored by our parent (e.g. SIGINT for a background job) is discarded before
     * it could ever become pending. */
    static const int control[] = {SIGTERM, SIGINT, SIGUSR1, SIGUSR2};
    sigset_t set;
    sigemptyset(&set);
    for (size_t i = 0; i < sizeof(control) / sizeof(control[0]); i++) {
        signal(control[i], SIG_DFL);
        sigaddset(&set, control[i]);
    }
    sigprocmask(SIG_BLOCK, &set, NULL);
    signal(SIGPIPE, SIG_IGN); /* a client that vanishes mid-write must not kill the broker */

    /* The mock cluster needs an rd_kafka_t for its bookkeeping; this handle never connects anywhere. */
    char errstr[512];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    rd_kafka_conf_set_log_cb(conf, on_rdkafka_log);
    if (rd_kafka_conf_set(conf, "log_level", "4", errstr, sizeof(errstr)) != RD_KAFKA_CONF_OK) {
        fprintf(stderr, "sluicectl dev-kafka: log_level: %s\n", errstr);
        rd_kafka_conf_destroy(conf);
        return 1;
    }
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof(errstr));
    if (!rk) {
        fprintf(stderr, "sluicectl dev-kafka: cannot create the librdkafka handle: %s\n", errstr);
        rd_kafka_conf_destroy(conf);
        return 1;
    }
    rd_kafka_mock_cluster_t *mc = rd_kafka_mock_cluster_new(rk, o.brokers);
    if (!mc) {
        fprintf(stderr, "sluicectl dev-kafka: cannot start the mock cluster (see the log lines above)\n");
        rd_kafka_destroy(rk);
        return 1;
    }

    /* Signals and control commands are read in one poll loop (serve). */
    rc = 0;
    int sfd = signalfd(-1, &set, SFD_CLOEXEC), control_fd = -1;
    if (sfd < 0) {
        fprintf(stderr, "sluicectl dev-kafka: signalfd: %s\n", strerror(errno));
        rc = 1;
    } else if (o.control != NULL && (control_fd = open_control(o.control, &err)) < 0) {
        fprintf(stderr, "sluicectl dev-kafka: %s\n", err.msg);
        rc = 1;
    }
    int replication = o.brokers < 3 ? o.brokers : 3;
    for (int i = 0; i < o.ntopics && rc == 0; i++) {
        rd_kafka_resp_err_t e = rd_kafka_mock_topic_create(mc, o.topics[i], o.partitions, replication);
        if (e != RD_KAFKA_RESP_ERR_NO_ERROR) {
            fprintf(stderr, "sluicectl dev-kafka: cannot create topic %s: %s\n", o.topics[i], rd_kafka_err2str(e));
            rc = 1;
        }
    }

    const char *bootstrap = rd_kafka_mock_cluster_bootstraps(mc);
    if (rc == 0 && o.bootstrap_file && write_bootstrap_file(o.bootstrap_file, bootstrap, &err) != 0) {
        fprintf(stderr, "sluicectl dev-kafka: %s\n", err.msg);
        rc = 1;
    }
    if (rc == 0) {
        printf("BOOTSTRAP=%s\n", bootstrap);
        fflush(stdout);
        sluice_log_info("devkafka.ready",
                        "librdkafka %s mock cluster: %d broker(s), %d topic(s) x %d partition(s), "
                        "replication %d, bootstrap %s, pid %ld",
                        rd_kafka_version_str(), o.brokers, o.ntopics, o.partitions, replication, bootstrap,
                        (long)getpid());
        serve(mc, &o, sfd, control_fd);
        if (o.bootstrap_file)
            unlink(o.bootstrap_file); /* the address dies with us; never leave a stale one behind */
    }

    rd_kafka_mock_cluster_destroy(mc);
    rd_kafka_destroy(rk);
    if (sfd >= 0)
        close(sfd);
    if (control_fd >= 0) {
        close(control_fd);
        unlink(o.control);
    }
    if (rc == 0)
        sluice_log_info("devkafka.stopped", "mock cluster stopped");
    return rc;
}
