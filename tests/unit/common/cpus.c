/* Tests for common/cpus.c: CPU quotas read from cgroup v2 and v1 trees built in a temporary
 * directory the way containers and Kubernetes lay them out, and the count the process gets. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <ftw.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "common/cpus.h"

static char root[64];

/* Writes text to root/rel, making its directories. */
static void put(const char *rel, const char *text)
{
    char path[512];
    snprintf(path, sizeof(path), "%s/%s", root, rel);
    for (char *p = path + strlen(root) + 1; *p != '\0'; p++)
        if (*p == '/') {
            *p = '\0';
            mkdir(path, 0755);
            *p = '/';
        }
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static unsigned quota(void)
{
    char cg[128], mi[128];
    snprintf(cg, sizeof(cg), "%s/proc/cgroup", root);
    snprintf(mi, sizeof(mi), "%s/proc/mountinfo", root);
    return sluice_cpus_quota_from(cg, mi, root);
}

static int setup(void **state)
{
    (void)state;
    snprintf(root, sizeof(root), "/tmp/sluice-cpus-XXXXXX");
    return mkdtemp(root) == NULL ? -1 : 0;
}

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}

static int teardown(void **state)
{
    (void)state;
    return nftw(root, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
}

/* cgroup v2 as Kubernetes lays it out: the pod's cgroup holds the limit (1.5 CPUs), the
 * container's below it none; the quota is rounded up. */
static void test_v2_parent_limit(void **state)
{
    (void)state;
    put("proc/cgroup", "0::/kubepods/pod1/ctr\n");
    put("proc/mountinfo", "30 1 0:26 / /sys/fs/cgroup rw,nosuid - cgroup2 cgroup2 rw,nsdelegate\n");
    put("sys/fs/cgroup/kubepods/cpu.max", "max 100000\n");
    put("sys/fs/cgroup/kubepods/pod1/cpu.max", "150000 100000\n");
    put("sys/fs/cgroup/kubepods/pod1/ctr/cpu.max", "max 100000\n");
    assert_int_equal(quota(), 2);
    /* A smaller limit below it wins. */
    put("sys/fs/cgroup/kubepods/pod1/ctr/cpu.max", "50000 100000\n");
    assert_int_equal(quota(), 1);
}

/* A container with its own cgroup namespace sees its cgroup as "/", mounted at the root. */
static void test_v2_namespaced(void **state)
{
    (void)state;
    put("proc/cgroup", "0::/\n");
    put("proc/mountinfo", "100 90 0:26 / /sys/fs/cgroup ro,nosuid - cgroup2 cgroup rw\n");
    put("sys/fs/cgroup/cpu.max", "300000 100000\n");
    assert_int_equal(quota(), 3);
    put("sys/fs/cgroup/cpu.max", "max 100000\n");
    assert_int_equal(quota(), 0);
}

/* cgroup v1 (Docker on older hosts): cpu and cpuacct mounted together, the mount's root the
 * container's own cgroup, /proc/self/cgroup naming the host's path. A quota of -1 is none. */
static void test_v1(void **state)
{
    (void)state;
    put("proc/cgroup", "12:memory:/docker/abc\n4:cpu,cpuacct:/docker/abc\n0::/docker/abc\n");
    put("proc/mountinfo", "25 24 0:22 /docker/abc /sys/fs/cgroup/cpu,cpuacct ro - cgroup cgroup rw,cpu,cpuacct\n"
                          "26 24 0:23 /docker/abc /sys/fs/cgroup/cpuset ro - cgroup cgroup rw,cpuset\n");
    put("sys/fs/cgroup/cpu,cpuacct/cpu.cfs_quota_us", "200000\n");
    put("sys/fs/cgroup/cpu,cpuacct/cpu.cfs_period_us", "100000\n");
    assert_int_equal(quota(), 2);
    put("sys/fs/cgroup/cpu,cpuacct/cpu.cfs_quota_us", "-1\n");
    assert_int_equal(quota(), 0);
}

/* Nothing readable (no /proc, no mounts, files with rubbish): no quota, and the process still
 * gets at least one CPU. */
static void test_nothing(void **state)
{
    (void)state;
    assert_int_equal(sluice_cpus_quota_from("/nonexistent/cgroup", "/nonexistent/mountinfo", ""), 0);
    put("proc/cgroup", "garbage\n::\n0::relative\n");
    put("proc/mountinfo", "not a mountinfo line\n");
    assert_int_equal(quota(), 0);
    sluice_cpus_limit_t why;
    unsigned n = sluice_cpus_usable(&why);
    assert_true(n >= 1);
    assert_true(n <= (unsigned)sysconf(_SC_NPROCESSORS_ONLN));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_v2_parent_limit),
        cmocka_unit_test(test_v2_namespaced),
        cmocka_unit_test(test_v1),
        cmocka_unit_test(test_nothing),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
