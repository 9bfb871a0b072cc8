/*
 * How many CPUs this process may use, for settings that mean "one per CPU" (the gateway's
 * server.threads 0). sysconf counts every CPU of the machine; a container usually gets fewer, by
 * an affinity (a cpuset, taskset, Kubernetes' static CPU manager) or by a quota (docker --cpus,
 * Kubernetes' limits.cpu: cgroup v2's cpu.max, v1's cpu.cfs_quota_us). One loop per machine CPU
 * in a 2-CPU quota means loops that take turns and are throttled, each with its own Kafka
 * producer and descriptor reserve. Main thread, at start; no state.
 */
#ifndef SLUICE_COMMON_CPUS_H
#define SLUICE_COMMON_CPUS_H

/* What limits the count sluice_cpus_usable returns. */
typedef enum {
    SLUICE_CPUS_MACHINE,  /* neither an affinity nor a quota: every online CPU */
    SLUICE_CPUS_AFFINITY, /* the CPUs the process may run on */
    SLUICE_CPUS_QUOTA,    /* a cgroup's CPU quota, rounded up to whole CPUs */
} sluice_cpus_limit_t;

/* The number of CPUs this process may use (at least 1): the smaller of its CPU affinity and the
 * CPU quota of its cgroup and the cgroup's ancestors (v2 and v1), quotas rounded up. *why, when
 * not NULL, says which limit it is. */
unsigned sluice_cpus_usable(sluice_cpus_limit_t *why);

/* The cgroup CPU quota in whole CPUs (rounded up), 0 when there is none, read as the process
 * described by cgroup_file (/proc/self/cgroup's format) and mountinfo_file (/proc/self/mountinfo's)
 * sees it; every mount point is looked up under root ("" for the real file system). For tests. */
unsigned sluice_cpus_quota_from(const char *cgroup_file, const char *mountinfo_file, const char *root);

#endif
