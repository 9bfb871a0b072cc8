/*
 * Blocking Redis connections for the code that may block: sluicectl (privacy inbox, forget) and
 * the gateway's suppression-list thread (gateway/forgotten.c). Each connects with a timeout, then
 * sends AUTH with the deployment's credentials and SELECT, as the event loops' asynchronous
 * client does (identity/redis.h), so an ACL-limited user and redis.url's database apply to them
 * too. The event loops never use this.
 *
 * Threads: a context belongs to the thread that made it.
 */
#ifndef SLUICE_IDENTITY_REDIS_SYNC_H
#define SLUICE_IDENTITY_REDIS_SYNC_H

#include <stdint.h>

#include <hiredis/hiredis.h>

#include "common/err.h"
#include "config/config.h"

/* The password to AUTH with: the URL's (SLUICE_REDIS_URL), else the value of the variable
 * redis.password_env names, else NULL. A tool reads the variable; the gateway removes it at start
 * and keeps the value in its secrets (gateway/secrets.h), which it passes explicitly. */
const char *sluice_redis_sync_password(const sluice_redis_config_t *rc);

/* How much of Redis's error text s[0..n) may be shown: Redis 6+ quotes the arguments of an
 * unknown (renamed, disabled) command ("ERR unknown command 'HMGET', with args beginning with:
 * 'sluice:id:acme:jane@...'"), and an argument may be a key named by an id, or AUTH's password.
 * The text is cut before ", with args" (or any "args"). */
size_t sluice_redis_sync_reason_len(const char *s, size_t n);

/* Connects to rc's host and port with a timeout of timeout_ms for the connection and for every
 * command, authenticates with password (NULL: none) and rc->username, and selects rc->db.
 * Returns the context (caller frees with redisFree), or NULL with a message in err that never
 * holds the password. */
redisContext *sluice_redis_sync_connect(const sluice_redis_config_t *rc, const char *password, unsigned timeout_ms,
                                        sluice_err_t *err);

/* Redis's clock (TIME) in milliseconds since the Unix epoch, into *ms: the one clock every host
 * that compares times written by another host reads (the suppression list's word of each
 * gateway, <prefix>suppress:seen, and `sluicectl forget` that weighs it), whatever each host's
 * own clock says. 0; -1 when Redis did not answer (the connection is then broken); -2 when it
 * answered an error (an ACL user without +time: NOPERM), with Redis's reason in err. */
int sluice_redis_sync_time_ms(redisContext *c, int64_t *ms, sluice_err_t *err);

#endif
