/*
 * An asynchronous Redis client on an h2o event loop (hiredis async API with our own adapter,
 * PLATFORM.md §4). Never blocks the loop: the commands of one loop turn are written together at
 * its end and their replies read when the socket is ready; each command has a deadline of the
 * client's timeout from its write (an answer already in the socket when it runs out is in time);
 * a lost connection is re-established in the background with backoff. While disconnected,
 * commands fail at once.
 *
 * Each connection first authenticates (AUTH [user] password, when a password is given) and
 * selects its database; only then does the client count as connected. The commands sluice
 * sends are AUTH, SELECT, SET, EXISTS, HMGET, HSET, EXPIRE, DEL, PING (sluice_redis_publish_up) and INFO memory
 * and INFO stats (sluice_redis_evicting, sluice_redis_data_lost_ms), so an ACL user
 * allowed just those (on the deployment's key prefix) is enough (docs/identity.md, "Redis").
 *
 * One client per event-loop thread; every function must be called on that loop's thread.
 */
#ifndef SLUICE_IDENTITY_REDIS_H
#define SLUICE_IDENTITY_REDIS_H

#include <stdint.h>

#include <h2o.h>
#include <hiredis/hiredis.h>

typedef struct sluice_redis sluice_redis_t;

typedef enum sluice_redis_status {
    SLUICE_REDIS_OK = 0,          /* reply is valid for the duration of the callback */
    SLUICE_REDIS_UNAVAILABLE = 1, /* not connected, or the connection dropped before the reply */
    SLUICE_REDIS_TIMEOUT = 2,     /* no reply within the client's timeout of the command's write */
} sluice_redis_status_t;

/* Called exactly once per accepted command, on the loop thread. reply is NULL unless OK. */
typedef void (*sluice_redis_cb)(void *ud, sluice_redis_status_t status, const redisReply *reply);

/* Creates a client for host:port (database db) that connects in the background. host must be a
 * numeric address or a name resolvable now (resolved here, and again off the loop before each
 * reconnect and after -READONLY: a failover moves the name). user and password (both
 * may be NULL; a user without a password sends no AUTH) are copied; the copy of the password is
 * wiped by sluice_redis_destroy. Returns NULL only when memory runs out or the name does not
 * resolve. */
sluice_redis_t *sluice_redis_create(h2o_loop_t *loop, const char *host, uint16_t port, unsigned db, unsigned timeout_ms,
                                    const char *user, const char *password);

/* Sends a command built from argv (binary-safe). Returns 0 when sent (cb will be called), or -1
 * when Redis is unavailable right now (cb will not be called). */
int sluice_redis_command(sluice_redis_t *r, sluice_redis_cb cb, void *ud, int argc, const char **argv,
                         const size_t *argvlen);

/* 1 while connected, authenticated and ready. */
int sluice_redis_connected(const sluice_redis_t *r);

/* Has r store 1 in *flag while Redis answers (connected, and its last command answered in time)
 * and 0 otherwise, with a PING every second so that a stalled Redis shows without traffic. Other
 * threads read *flag (atomically) instead of r, which the loop thread may free: *flag must
 * outlive r. sluice_redis_destroy stores 0. */
void sluice_redis_publish_up(sluice_redis_t *r, _Atomic int *flag);

/* 1 while the server evicts keys at maxmemory (INFO memory: a maxmemory set and a
 * maxmemory-policy other than noeviction), read at each connection before any other command and
 * every few seconds after. 0 when it does not, or cannot be told (INFO refused, not answered
 * yet). The callback of a command sent after a new connection's INFO runs after its answer. */
int sluice_redis_evicting(const sluice_redis_t *r);

/* Has r store sluice_redis_evicting in *flag whenever it changes, for other threads (as
 * sluice_redis_publish_up). */
void sluice_redis_publish_evicting(sluice_redis_t *r, _Atomic int *flag);

/* The INFO memory text info[0..len): 1 when it says the server evicts (maxmemory not 0, policy
 * not noeviction), 0 when it does not, -1 when it has neither field. The policy's name goes into
 * policy (cap bytes). Pure. */
int sluice_redis_info_evicts(const char *info, size_t len, char *policy, size_t cap);

/* The command argv[0..argc) (argvlen[i] bytes each, or NUL-terminated when argvlen is NULL) in
 * Redis's protocol, as hiredis's redisFormatCommandArgv writes it, into out; its length, or 0 when
 * it may not fit in cap bytes. */
size_t sluice_redis_format(int argc, const char **argv, const size_t *argvlen, char *out, size_t cap);

/* Has r watch marker (a key of the deployment, copied): written with a random value when it is not
 * there (SET NX) and read back at each connection, before any other command, and every few
 * seconds; a value other than the last one read means Redis lost its data. The same round bumps
 * the hash <marker>:n (HINCRBY): a value not above the last one r got means Redis went back to an
 * older state (a restart from an RDB snapshot, a lagging replica promoted). 0, or -1 (out of
 * memory). */
int sluice_redis_watch_data(sluice_redis_t *r, const char *marker);

/* When (wall clock, ms) r last noticed that Redis lost its data, or that it evicted keys (INFO
 * stats' evicted_keys moved, read with the policy); 0 never. */
int64_t sluice_redis_data_lost_ms(const sluice_redis_t *r);

/* Closes the connection; pending callbacks get UNAVAILABLE before this returns. NULL allowed. */
void sluice_redis_destroy(sluice_redis_t *r);

#endif
