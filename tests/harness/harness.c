/*
 * The harness core: temp dir, ports, the child-process registry and its teardown, running a
 * command with captured output, and waiting. Used from one thread (see harness.h); the only
 * code that runs in a forked child before exec is async-signal-safe (no malloc, no stdio).
 */
#include "tests/harness/harness.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <grp.h>
#include <limits.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

#ifndef SLUICE_TH_BUILD_DIR
#error "SLUICE_TH_BUILD_DIR must name the build tree (set by tests/harness/CMakeLists.txt)"
#endif

struct sluice_th_proc {
    struct sluice_th_proc *next; /* registry list, newest first */
    pid_t pid;
    pid_t owner; /* the process that spawned it: only that one may stop it */
    int running;
    int wstatus;
    int scanned;      /* its log was searched for sanitizer reports after it exited */
    size_t log_start; /* the log's size when it started: earlier runs' lines are not its own */
    int stop_signal;
    char name[64];
    char log_path[PATH_MAX];
};

static sluice_th_proc_t *registry;
static char tmpdir[PATH_MAX];
static pid_t tmpdir_owner;
static int atexit_registered;

/* Sanitizer reports found in children's output (their logs, or what sluice_th_run captured):
 * how many, and the first one's text, shown again when this process exits. */
static int san_reports;
static char san_first[8192];

static void at_exit(void)
{
    sluice_th_teardown();
    /* Only the process that built the registry frees it; a forked child leaves the copy alone. */
    while (registry) {
        sluice_th_proc_t *next = registry->next;
        free(registry);
        registry = next;
    }
    if (san_reports > 0) {
        /* A test binary that passed every assertion still fails: a child reported memory
         * errors, leaks or undefined behaviour. _exit, as exit() must not be called again here. */
        fprintf(stderr, "harness: %d sanitizer report%s in child processes; the first:\n%s\n", san_reports,
                san_reports == 1 ? "" : "s", san_first);
        fflush(stderr);
        _exit(1);
    }
}

static void ensure_atexit(void)
{
    if (!atexit_registered) {
        atexit(at_exit);
        atexit_registered = 1;
    }
}

int64_t sluice_th_mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void sluice_th_sleep_ms(long ms)
{
    struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

/* --- run environment --------------------------------------------------------------------- */

const char *sluice_th_tmpdir(sluice_err_t *err)
{
    /* A forked child that inherited its parent's dir keeps using it (its logs land next to the
     * parent's) but never removes it: tmpdir_owner stays the parent. */
    if (tmpdir[0] != '\0')
        return tmpdir;
    const char *base = getenv("TMPDIR");
    if (!base || base[0] == '\0')
        base = "/tmp";
    char tmpl[PATH_MAX];
    if (snprintf(tmpl, sizeof(tmpl), "%s/sluice-th-XXXXXX", base) >= (int)sizeof(tmpl)) {
        sluice_err_set(err, "TMPDIR is too long");
        return NULL;
    }
    if (!mkdtemp(tmpl)) {
        sluice_err_set(err, "cannot create a temp dir under %s: %s", base, strerror(errno));
        return NULL;
    }
    /* Canonical, so it compares equal to the working dirs /proc reports for our children. */
    if (!realpath(tmpl, tmpdir)) {
        sluice_err_set(err, "realpath %s: %s", tmpl, strerror(errno));
        rmdir(tmpl);
        return NULL;
    }
    /* As root, services run as other users (PostgreSQL as `postgres`): they must be able to
     * traverse into their own subdirectory, but need not list ours. */
    if (geteuid() == 0)
        chmod(tmpdir, 0711);
    tmpdir_owner = getpid();
    ensure_atexit();
    return tmpdir;
}

int sluice_th_path(char *buf, size_t cap, const char *name, sluice_err_t *err)
{
    const char *dir = sluice_th_tmpdir(err);
    if (!dir)
        return -1;
    if ((size_t)snprintf(buf, cap, "%s/%s", dir, name) >= cap)
        return sluice_err_set(err, "path %s/%s is too long", dir, name);
    return 0;
}

const char *sluice_th_build_dir(void)
{
    const char *dir = getenv("SLUICE_BUILD_DIR");
    return dir && dir[0] != '\0' ? dir : SLUICE_TH_BUILD_DIR;
}

/* Ports are handed out from below the kernel's ephemeral range (ip_local_port_range), where no
 * outgoing connection takes them, and reserved across the test processes that run at once
 * (ctest -j): a lock file per port in a shared directory, flock'd for this process's life (the
 * kernel drops the lock when it exits, however it ends). Before, a port from bind(0) was free
 * only "a moment ago": another test, or any client's connect(), could take it before the
 * service bound it, and a readiness probe could then answer for someone else's server. */
#define PORT_LOCK_DIR "/tmp/sluice-test-ports"

/* 1 when this process now holds port's lock (the fd stays open on purpose), 0 when another live
 * process holds it, -1 when there is no usable lock directory. */
static int reserve_port(int port)
{
    if (mkdir(PORT_LOCK_DIR, 01777) == 0)
        chmod(PORT_LOCK_DIR, 01777); /* past the umask: every user's tests share it */
    char path[64];
    snprintf(path, sizeof(path), PORT_LOCK_DIR "/%d", port);
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0666);
    if (fd < 0)
        return -1;
    if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
        close(fd);
        return 0;
    }
    return 1;
}

/* 1 when 127.0.0.1:port can be bound now. */
static int port_bindable(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return 0;
    struct sockaddr_in sa = {
        .sin_family = AF_INET, .sin_port = htons((uint16_t)port), .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    int ok = bind(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0;
    close(fd);
    return ok;
}

/* The old way: whatever bind(0) gives, free a moment ago. */
static int any_free_port(sluice_err_t *err)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return sluice_err_set(err, "socket: %s", strerror(errno));
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = 0, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof(sa);
    if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0 || getsockname(fd, (struct sockaddr *)&sa, &len) != 0) {
        int e = errno;
        close(fd);
        return sluice_err_set(err, "cannot bind 127.0.0.1:0: %s", strerror(e));
    }
    close(fd);
    return ntohs(sa.sin_port);
}

int sluice_th_free_port(sluice_err_t *err)
{
    /* Candidates: [10000, the ephemeral range's start); none when that is too low to leave room. */
    int lo = 10000, hi = 0;
    FILE *f = fopen("/proc/sys/net/ipv4/ip_local_port_range", "r");
    if (f != NULL) {
        if (fscanf(f, "%d", &hi) != 1)
            hi = 0;
        fclose(f);
    }
    if (hi - lo >= 2000) {
        static unsigned seed;
        if (seed == 0) {
            struct timespec ts;
            clock_gettime(CLOCK_REALTIME, &ts);
            seed = (unsigned)getpid() * 2654435761u ^ (unsigned)ts.tv_nsec;
        }
        for (int tries = 0; tries < 200; tries++) {
            seed = seed * 1103515245u + 12345u;
            int port = lo + (int)((seed >> 8) % (unsigned)(hi - lo));
            int r = reserve_port(port);
            if (r < 0)
                break; /* no lock directory: as before */
            if (r == 1 && port_bindable(port))
                return port; /* a port we hold but cannot bind stays held: it is not handed out again */
        }
    }
    return any_free_port(err);
}

int sluice_th_port_open(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return 0;
    struct sockaddr_in sa = {
        .sin_family = AF_INET, .sin_port = htons((uint16_t)port), .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    int ok = connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0;
    close(fd);
    return ok;
}

/* --- fork and exec ----------------------------------------------------------------------- */

/* Everything the child needs, prepared by the parent so the child only makes syscalls. */
typedef struct child_setup {
    const char *path;
    char *const *argv;
    char *const *envp;
    int fd_in, fd_out, fd_err; /* become 0, 1, 2 */
    const char *cwd;           /* NULL: keep */
    int new_pgrp;
    int drop_privileges;
    uid_t uid;
    gid_t gid;
} child_setup_t;

/* Runs in the forked child: async-signal-safe calls only. Reports a failing step's errno on
 * status_fd (close-on-exec, so a successful exec reports nothing) and exits 127. */
static void child_exec(const child_setup_t *cs, int status_fd, pid_t parent)
{
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    struct sigaction dfl;
    memset(&dfl, 0, sizeof(dfl));
    dfl.sa_handler = SIG_DFL;
    for (int sig = 1; sig < NSIG; sig++)
        sigaction(sig, &dfl, NULL); /* fails harmlessly for SIGKILL, SIGSTOP and the RT range in use */

    int e = 0;
    if (cs->new_pgrp && setpgid(0, 0) != 0)
        e = errno;
    if (!e && (dup2(cs->fd_in, 0) < 0 || dup2(cs->fd_out, 1) < 0 || dup2(cs->fd_err, 2) < 0))
        e = errno;
    /* dup2 onto the same number keeps close-on-exec; 0-2 must survive exec in every case. */
    for (int fd = 0; fd < 3 && !e; fd++) {
        if (fcntl(fd, F_SETFD, 0) != 0)
            e = errno;
    }
    /* Nothing else the parent holds open may reach the program: inherited sockets would keep
     * ports busy and pipes open after we think they are closed. */
    if (!e && close_range(3, ~0U, CLOSE_RANGE_CLOEXEC) != 0)
        e = errno;
    if (!e && cs->drop_privileges && (setgroups(1, &cs->gid) != 0 || setgid(cs->gid) != 0 || setuid(cs->uid) != 0))
        e = errno;
    /* After the uid change: changing credentials clears the parent-death signal. */
    if (!e && prctl(PR_SET_PDEATHSIG, SIGKILL) != 0)
        e = errno;
    if (!e && getppid() != parent)
        _exit(127); /* the parent died before prctl took effect: nobody will ever stop us */
    if (!e && cs->cwd && chdir(cs->cwd) != 0)
        e = errno;
    if (!e) {
        execve(cs->path, cs->argv, cs->envp);
        e = errno;
    }
    ssize_t w = write(status_fd, &e, sizeof(e));
    (void)w;
    _exit(127);
}

/* Forks and execs; returns the pid once exec succeeded, or -1 with the child's failure. */
static pid_t fork_exec(const child_setup_t *cs, sluice_err_t *err)
{
    int status[2];
    if (pipe2(status, O_CLOEXEC) != 0)
        return sluice_err_set(err, "pipe: %s", strerror(errno));
    pid_t parent = getpid();
    pid_t pid = fork();
    if (pid < 0) {
        int e = errno;
        close(status[0]);
        close(status[1]);
        return sluice_err_set(err, "fork: %s", strerror(e));
    }
    if (pid == 0) {
        close(status[0]);
        child_exec(cs, status[1], parent);
    }
    close(status[1]);
    int child_errno = 0;
    ssize_t n;
    do {
        n = read(status[0], &child_errno, sizeof(child_errno));
    } while (n < 0 && errno == EINTR);
    close(status[0]);
    if (n > 0) {
        waitpid(pid, NULL, 0);
        return sluice_err_set(err, "cannot start %s: %s", cs->path, strerror(child_errno));
    }
    return pid;
}

/* Finds prog in PATH unless it names a path. */
static int resolve_program(const char *prog, char *out, size_t cap, sluice_err_t *err)
{
    if (strchr(prog, '/')) {
        if ((size_t)snprintf(out, cap, "%s", prog) >= cap)
            return sluice_err_set(err, "program path too long");
        return 0;
    }
    const char *path = getenv("PATH");
    if (!path || path[0] == '\0')
        path = "/usr/local/bin:/usr/bin:/bin";
    for (const char *p = path; *p != '\0';) {
        const char *colon = strchr(p, ':');
        size_t len = colon ? (size_t)(colon - p) : strlen(p);
        if (len > 0 && (size_t)snprintf(out, cap, "%.*s/%s", (int)len, p, prog) < cap && access(out, X_OK) == 0)
            return 0;
        if (!colon)
            break;
        p = colon + 1;
    }
    return sluice_err_set(err, "%s: not found in PATH", prog);
}

/* environ minus the names `extra` sets, plus `extra`. The array is malloc'd; its strings are
 * borrowed from environ and extra. */
static char **merge_env(const char *const *extra)
{
    size_t n = 0, m = 0;
    while (environ[n])
        n++;
    while (extra && extra[m])
        m++;
    char **env = calloc(n + m + 1, sizeof(*env));
    if (!env)
        return NULL;
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        const char *eq = strchr(environ[i], '=');
        size_t name_len = eq ? (size_t)(eq - environ[i]) : strlen(environ[i]);
        int replaced = 0;
        for (size_t j = 0; j < m && !replaced; j++)
            replaced = strncmp(extra[j], environ[i], name_len) == 0 && extra[j][name_len] == '=';
        if (!replaced)
            env[k++] = environ[i];
    }
    for (size_t j = 0; j < m; j++)
        env[k++] = (char *)extra[j];
    return env;
}

/* --- sanitizer reports ------------------------------------------------------------------ */

/* What AddressSanitizer, LeakSanitizer, UndefinedBehaviorSanitizer and ThreadSanitizer print when
 * they report (ASan/LSan "==pid==ERROR: ...", UBSan "file:line:col: runtime error: ..." and its
 * SUMMARY, TSan "WARNING: ThreadSanitizer: data race ..."), so a TSan build's tests fail on them. */
static const char *const san_markers[] = {"ERROR: AddressSanitizer",  "ERROR: LeakSanitizer",
                                          ": runtime error: ",        "SUMMARY: UndefinedBehaviorSanitizer",
                                          "WARNING: ThreadSanitizer", NULL};

static const char *find_report(const char *text)
{
    const char *first = NULL;
    for (int i = 0; san_markers[i]; i++) {
        const char *hit = strstr(text, san_markers[i]);
        if (hit && (!first || hit < first))
            first = hit;
    }
    return first;
}

static void scan_output(const char *who, const char *where, const char *text)
{
    const char *hit = text ? find_report(text) : NULL;
    if (!hit)
        return;
    while (hit > text && hit[-1] != '\n')
        hit--; /* from the start of the report's first line */
    if (san_reports++ == 0)
        snprintf(san_first, sizeof(san_first), "%s (%s):\n%.7000s", who, where, hit);
    fprintf(stderr, "harness: sanitizer report from %s (%s):\n%.4000s\n", who, where, hit);
}

/* Once a child exited: its whole log, searched once. */
static void scan_proc_log(sluice_th_proc_t *p)
{
    if (p->scanned)
        return;
    p->scanned = 1;
    size_t len = 0;
    char *log = sluice_th_read_file(p->log_path, &len, NULL);
    if (log != NULL && len > p->log_start)
        scan_output(p->name, p->log_path, log + p->log_start);
    free(log);
}

int sluice_th_sanitizer_reports(void)
{
    return san_reports;
}

/* --- child processes --------------------------------------------------------------------- */

sluice_th_proc_t *sluice_th_spawn(const char *name, const char *const *argv, const sluice_th_spawn_opts_t *opts,
                                  sluice_err_t *err)
{
    static const sluice_th_spawn_opts_t defaults = {0};
    if (!opts)
        opts = &defaults;
    const char *dir = sluice_th_tmpdir(err);
    if (!dir)
        return NULL;

    sluice_th_proc_t *p = calloc(1, sizeof(*p));
    if (!p) {
        sluice_err_set(err, "out of memory");
        return NULL;
    }
    snprintf(p->name, sizeof(p->name), "%s", name);
    p->stop_signal = opts->stop_signal > 0 ? opts->stop_signal : SIGTERM;
    char log_name[sizeof(p->name) + 8];
    snprintf(log_name, sizeof(log_name), "%s.log", p->name);
    if (opts->log_path)
        snprintf(p->log_path, sizeof(p->log_path), "%s", opts->log_path);
    else if (sluice_th_path(p->log_path, sizeof(p->log_path), log_name, err) != 0) {
        free(p);
        return NULL;
    }

    char path[PATH_MAX];
    char **envp = NULL;
    int fd_in = -1, fd_log = -1;
    pid_t pid = -1;
    if (resolve_program(argv[0], path, sizeof(path), err) != 0)
        goto fail;
    envp = merge_env(opts->env);
    fd_in = open("/dev/null", O_RDONLY | O_CLOEXEC);
    fd_log = open(p->log_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    struct stat log_st;
    if (fd_log >= 0 && fstat(fd_log, &log_st) == 0)
        p->log_start = (size_t)log_st.st_size; /* a restart under the same name appends */
    if (!envp || fd_in < 0 || fd_log < 0) {
        sluice_err_set(err, "cannot prepare %s: %s", name, !envp ? "out of memory" : strerror(errno));
        goto fail;
    }
    child_setup_t cs = {
        .path = path,
        .argv = (char *const *)argv,
        .envp = envp,
        .fd_in = fd_in,
        .fd_out = fd_log,
        .fd_err = fd_log,
        .cwd = opts->cwd ? opts->cwd : dir,
        .new_pgrp = 1,
        .drop_privileges = opts->drop_privileges,
        .uid = opts->uid,
        .gid = opts->gid,
    };
    pid = fork_exec(&cs, err);
    if (pid < 0) {
        sluice_err_prefix(err, "%s", name);
        goto fail;
    }
    free(envp);
    close(fd_in);
    close(fd_log);
    p->pid = pid;
    p->owner = getpid();
    p->running = 1;
    p->next = registry;
    registry = p;
    ensure_atexit();
    return p;

fail:
    free(envp);
    if (fd_in >= 0)
        close(fd_in);
    if (fd_log >= 0)
        close(fd_log);
    free(p);
    return NULL;
}

pid_t sluice_th_proc_pid(const sluice_th_proc_t *p)
{
    return p->pid;
}

const char *sluice_th_proc_name(const sluice_th_proc_t *p)
{
    return p->name;
}

const char *sluice_th_proc_log(const sluice_th_proc_t *p)
{
    return p->log_path;
}

int sluice_th_proc_running(sluice_th_proc_t *p)
{
    if (!p->running)
        return 0;
    int st;
    pid_t r = waitpid(p->pid, &st, WNOHANG);
    if (r == 0)
        return 1;
    if (r == p->pid) {
        p->wstatus = st;
    } else if (errno == EINTR) {
        return 1;
    } else {
        p->wstatus = -1; /* ECHILD: not ours to reap (we are a forked copy of its parent) */
    }
    p->running = 0;
    if (p->owner == getpid())
        scan_proc_log(p);
    return 0;
}

/* "exited with status N" / "was killed by signal N" for a child that is no longer running. */
static void describe_exit(const sluice_th_proc_t *p, char *buf, size_t cap)
{
    if (p->wstatus == -1)
        snprintf(buf, cap, "was reaped elsewhere");
    else if (WIFEXITED(p->wstatus))
        snprintf(buf, cap, "exited with status %d", WEXITSTATUS(p->wstatus));
    else
        snprintf(buf, cap, "was killed by signal %d", WTERMSIG(p->wstatus));
}

int sluice_th_proc_signal(sluice_th_proc_t *p, int sig, sluice_err_t *err)
{
    if (!sluice_th_proc_running(p)) {
        char how[64], tail[200];
        describe_exit(p, how, sizeof(how));
        sluice_th_log_tail(p, tail, sizeof(tail));
        return sluice_err_set(err, "%s (pid %ld) is not running: it %s (log: %s)", p->name, (long)p->pid, how, tail);
    }
    if (kill(p->pid, sig) != 0)
        return sluice_err_set(err, "kill %s (pid %ld): %s", p->name, (long)p->pid, strerror(errno));
    return 0;
}

int sluice_th_proc_wait(sluice_th_proc_t *p, int timeout_ms, int *wstatus, sluice_err_t *err)
{
    long long deadline = sluice_th_mono_ms() + timeout_ms;
    while (sluice_th_proc_running(p)) {
        if (sluice_th_mono_ms() >= deadline)
            return sluice_err_set(err, "%s (pid %ld) still running after %d ms", p->name, (long)p->pid, timeout_ms);
        sluice_th_sleep_ms(10);
    }
    if (wstatus)
        *wstatus = p->wstatus;
    return 0;
}

int sluice_th_proc_stop(sluice_th_proc_t *p, int timeout_ms, int *wstatus, sluice_err_t *err)
{
    int rc = 0;
    if (sluice_th_proc_running(p) && p->owner == getpid()) {
        kill(p->pid, p->stop_signal);
        if (sluice_th_proc_wait(p, timeout_ms, NULL, NULL) != 0) {
            rc = sluice_err_set(err, "%s (pid %ld) did not stop within %d ms of signal %d; killed", p->name,
                                (long)p->pid, timeout_ms, p->stop_signal);
            kill(p->pid, SIGKILL);
            kill(-p->pid, SIGKILL); /* anything it started in its own process group */
            sluice_th_proc_wait(p, 5000, NULL, NULL);
        }
    }
    if (wstatus)
        *wstatus = p->wstatus;
    return rc;
}

void sluice_th_log_tail(const sluice_th_proc_t *p, char *buf, size_t cap)
{
    buf[0] = '\0';
    size_t len = 0;
    char *log = sluice_th_read_file(p->log_path, &len, NULL);
    if (!log)
        return;
    while (len > 0 && (log[len - 1] == '\n' || log[len - 1] == ' '))
        log[--len] = '\0';
    size_t start = len > cap - 1 ? len - (cap - 1) : 0;
    const char *nl = memrchr(log + start, '\n', len - start);
    if (nl)
        start = (size_t)(nl + 1 - log);
    snprintf(buf, cap, "%s", log + start);
    free(log);
}

int sluice_th_wait_log(sluice_th_proc_t *p, const char *needle, int count, int timeout_ms, sluice_err_t *err)
{
    long long deadline = sluice_th_mono_ms() + timeout_ms;
    for (;;) {
        char *log = sluice_th_read_file(p->log_path, NULL, NULL);
        int n = log ? sluice_th_count(log, needle) : 0;
        free(log);
        if (n >= count)
            return 0;
        if (!sluice_th_proc_running(p) || sluice_th_mono_ms() >= deadline) {
            char how[64], tail[200];
            if (p->running)
                snprintf(how, sizeof(how), "timed out after %d ms", timeout_ms);
            else
                describe_exit(p, how, sizeof(how));
            sluice_th_log_tail(p, tail, sizeof(tail));
            return sluice_err_set(err, "%s (pid %ld) %s before logging '%s' (log: %s)", p->name, (long)p->pid, how,
                                  needle, tail);
        }
        sluice_th_sleep_ms(20);
    }
}

void sluice_th_stop_all(void)
{
    for (sluice_th_proc_t *p = registry; p; p = p->next) {
        sluice_err_t err;
        if (p->owner == getpid() && sluice_th_proc_stop(p, SLUICE_TH_STOP_TIMEOUT_MS, NULL, &err) != 0)
            fprintf(stderr, "harness: %s\n", err.msg);
    }
}

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    remove(path);
    return 0; /* keep going: remove as much as we can */
}

void sluice_th_teardown(void)
{
    sluice_th_stop_all();
    if (tmpdir[0] == '\0' || tmpdir_owner != getpid())
        return;
    const char *keep = getenv("SLUICE_KEEP_TMP");
    if (keep && strcmp(keep, "1") == 0)
        fprintf(stderr, "harness: SLUICE_KEEP_TMP=1: keeping %s\n", tmpdir);
    else
        nftw(tmpdir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
    tmpdir[0] = '\0';
}

/* 1 when /proc/<pid> is a live (not zombie) process. */
static int alive_in_proc(long pid)
{
    char path[64], stat[512];
    snprintf(path, sizeof(path), "/proc/%ld/stat", pid);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return 0;
    ssize_t n = read(fd, stat, sizeof(stat) - 1);
    close(fd);
    if (n <= 0)
        return 0;
    stat[n] = '\0';
    const char *paren = strrchr(stat, ')'); /* the state follows the command name, which may hold spaces */
    return paren && paren[1] == ' ' && paren[2] != 'Z' && paren[2] != 'X';
}

int sluice_th_procs_in_dir(const char *dir)
{
    DIR *d = opendir("/proc");
    if (!d)
        return -1;
    size_t dlen = strlen(dir);
    int count = 0;
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        char *end;
        long pid = strtol(de->d_name, &end, 10);
        if (pid <= 0 || *end != '\0' || pid == (long)getpid())
            continue;
        char link[64], cwd[PATH_MAX];
        snprintf(link, sizeof(link), "/proc/%ld/cwd", pid);
        ssize_t n = readlink(link, cwd, sizeof(cwd) - 1);
        if (n <= 0)
            continue;
        cwd[n] = '\0';
        if (strncmp(cwd, dir, dlen) == 0 && (cwd[dlen] == '\0' || cwd[dlen] == '/') && alive_in_proc(pid))
            count++;
    }
    closedir(d);
    return count;
}

/* --- running commands -------------------------------------------------------------------- */

typedef struct buf {
    char *data;
    size_t len, cap;
} buf_t;

static int buf_read(buf_t *b, int fd)
{
    if (b->cap - b->len < 4096) {
        size_t cap = b->cap ? b->cap * 2 : 8192;
        char *data = realloc(b->data, cap);
        if (!data)
            return -1;
        b->data = data;
        b->cap = cap;
        b->data[b->len] = '\0'; /* a string even if nothing more is ever read */
    }
    ssize_t n = read(fd, b->data + b->len, b->cap - b->len - 1);
    if (n > 0) {
        b->len += (size_t)n;
        b->data[b->len] = '\0';
    }
    return n > 0 ? 1 : (n == 0 || errno != EINTR) ? 0 : 1;
}

int sluice_th_run(const char *const *argv, const char *input, size_t input_len, int timeout_ms, sluice_th_output_t *res,
                  sluice_err_t *err)
{
    memset(res, 0, sizeof(*res));
    char path[PATH_MAX];
    if (resolve_program(argv[0], path, sizeof(path), err) != 0)
        return -1;
    int in[2], out[2], errp[2];
    if (pipe2(in, O_CLOEXEC) != 0)
        return sluice_err_set(err, "pipe: %s", strerror(errno));
    if (pipe2(out, O_CLOEXEC) != 0) {
        close(in[0]);
        close(in[1]);
        return sluice_err_set(err, "pipe: %s", strerror(errno));
    }
    if (pipe2(errp, O_CLOEXEC) != 0) {
        close(in[0]);
        close(in[1]);
        close(out[0]);
        close(out[1]);
        return sluice_err_set(err, "pipe: %s", strerror(errno));
    }
    child_setup_t cs = {.path = path,
                        .argv = (char *const *)argv,
                        .envp = environ,
                        .fd_in = in[0],
                        .fd_out = out[1],
                        .fd_err = errp[1]};
    pid_t pid = fork_exec(&cs, err);
    close(in[0]);
    close(out[1]);
    close(errp[1]);
    if (pid < 0) {
        close(in[1]);
        close(out[0]);
        close(errp[0]);
        return -1;
    }

    /* Feed stdin and drain both outputs together, so a chatty child never blocks on a full pipe. */
    fcntl(in[1], F_SETFL, O_NONBLOCK);
    sighandler_t old_pipe = signal(SIGPIPE, SIG_IGN); /* the child may exit without reading all input */
    buf_t bo = {0}, be = {0};
    size_t written = 0;
    int fd_in = in[1];
    if (!input || written == input_len) {
        close(fd_in);
        fd_in = -1;
    }
    int open_out = 1, open_err = 1, oom = 0;
    long long deadline = sluice_th_mono_ms() + timeout_ms;
    while ((open_out || open_err) && !oom) {
        long long left = deadline - sluice_th_mono_ms();
        if (left <= 0) {
            res->timed_out = 1;
            kill(pid, SIGKILL);
            break;
        }
        struct pollfd pfd[3] = {{.fd = open_out ? out[0] : -1, .events = POLLIN},
                                {.fd = open_err ? errp[0] : -1, .events = POLLIN},
                                {.fd = fd_in, .events = POLLOUT}};
        if (poll(pfd, 3, (int)(left > 100 ? 100 : left)) < 0 && errno != EINTR)
            break;
        if (pfd[0].revents) {
            int r = buf_read(&bo, out[0]);
            oom |= r < 0;
            open_out = r > 0;
        }
        if (pfd[1].revents) {
            int r = buf_read(&be, errp[0]);
            oom |= r < 0;
            open_err = r > 0;
        }
        if (fd_in >= 0 && pfd[2].revents) {
            ssize_t n = write(fd_in, input + written, input_len - written);
            if (n > 0)
                written += (size_t)n;
            if ((n < 0 && errno != EAGAIN && errno != EINTR) || written == input_len) {
                close(fd_in);
                fd_in = -1;
            }
        }
    }
    if (fd_in >= 0)
        close(fd_in);
    close(out[0]);
    close(errp[0]);
    signal(SIGPIPE, old_pipe);
    if (oom)
        kill(pid, SIGKILL);
    /* Output closed (or the deadline passed and it was killed): it exits promptly now, unless it
     * closed its stdout early and keeps running; the deadline still bounds that. */
    int st = 0;
    for (;;) {
        pid_t r = waitpid(pid, &st, WNOHANG);
        if (r == pid || (r < 0 && errno != EINTR))
            break;
        if (sluice_th_mono_ms() >= deadline && !res->timed_out) {
            res->timed_out = 1;
            kill(pid, SIGKILL);
        }
        sluice_th_sleep_ms(5);
    }
    res->wstatus = st;
    res->out = bo.data ? bo.data : strdup("");
    res->out_len = bo.len;
    res->errout = be.data ? be.data : strdup("");
    res->errout_len = be.len;
    if (oom || !res->out || !res->errout) {
        sluice_th_output_dispose(res);
        return sluice_err_set(err, "out of memory capturing the output of %s", argv[0]);
    }
    scan_output(argv[0], "its stderr", res->errout);
    return 0;
}

int sluice_th_exited_with(int wstatus, int code)
{
    return WIFEXITED(wstatus) && WEXITSTATUS(wstatus) == code;
}

void sluice_th_output_dispose(sluice_th_output_t *res)
{
    if (!res)
        return;
    free(res->out);
    free(res->errout);
    memset(res, 0, sizeof(*res));
}

/* --- waiting and files ------------------------------------------------------------------- */

int sluice_th_wait_until(int (*cond)(void *arg), void *arg, int timeout_ms)
{
    long long deadline = sluice_th_mono_ms() + timeout_ms;
    for (;;) {
        if (cond(arg))
            return 0;
        if (sluice_th_mono_ms() >= deadline)
            return -1;
        sluice_th_sleep_ms(20);
    }
}

char *sluice_th_read_file(const char *path, size_t *len, sluice_err_t *err)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        sluice_err_set(err, "cannot open %s: %s", path, strerror(errno));
        return NULL;
    }
    buf_t b = {0};
    int r;
    while ((r = buf_read(&b, fd)) > 0) {
    }
    close(fd);
    if (r < 0 || (!b.data && !(b.data = calloc(1, 1)))) {
        free(b.data);
        sluice_err_set(err, "out of memory reading %s", path);
        return NULL;
    }
    if (len)
        *len = b.len;
    return b.data;
}

int sluice_th_count(const char *haystack, const char *needle)
{
    size_t nlen = strlen(needle);
    if (nlen == 0)
        return 0;
    int n = 0;
    for (const char *p = strstr(haystack, needle); p; p = strstr(p + nlen, needle))
        n++;
    return n;
}

size_t sluice_th_buf_append(char *ptr, size_t size, size_t n, void *ud)
{
    sluice_th_buf_t *b = ud;
    size_t add = size * n;
    char *np = realloc(b->p, b->len + add + 1);
    if (np == NULL)
        return 0;
    memcpy(np + b->len, ptr, add);
    b->p = np;
    b->len += add;
    b->p[b->len] = '\0';
    return add;
}

double sluice_th_metric_value(const char *text, const char *series)
{
    /* The whole series up to the space before the value, so that `x_total` is not read from
     * `x_total{label="…"}` nor from `x_total_more`. */
    size_t sl = strlen(series);
    for (const char *line = text; line != NULL && *line != '\0';) {
        const char *nl = strchr(line, '\n');
        if (strncmp(line, series, sl) == 0 && line[sl] == ' ')
            return strtod(line + sl + 1, NULL);
        line = nl ? nl + 1 : NULL;
    }
    return -1;
}
