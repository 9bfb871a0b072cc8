/*
 * Blocking Redis connections (redis_sync.h): connect, AUTH, SELECT. Runs on the calling thread.
 */
#include "identity/redis_sync.h"

#include <stdlib.h>
#include <string.h>

const char *sluice_redis_sync_password(const sluice_redis_config_t *rc)
{
    if (rc->password != NULL)
        return rc->password;
    if (rc->password_env != NULL)
        return getenv(rc->password_env);
    return NULL;
}

size_t sluice_redis_sync_reason_len(const char *s, size_t n)
{
    const char *args = memmem(s, n, "args", 4);
    if (args == NULL)
        return n;
    n = (size_t)(args - s);
    while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == ','))
        n--;
    if (n >= 5 && memcmp(s + n - 5, " with", 5) == 0)
        n -= 5;
    while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == ','))
        n--;
    return n;
}

redisContext *sluice_redis_sync_connect(const sluice_redis_config_t *rc, const char *password, unsigned timeout_ms,
                                        sluice_err_t *err)
{
    struct timeval tv = {(time_t)(timeout_ms / 1000), (suseconds_t)((timeout_ms % 1000) * 1000)};
    redisContext *c = redisConnectWithTimeout(rc->host, rc->port, tv);
    if (c == NULL || c->err != 0) {
        sluice_err_set(err, "cannot reach Redis at %s:%u: %s", rc->host, rc->port, c ? c->errstr : "out of memory");
        redisFree(c);
        return NULL;
    }
    if (redisSetTimeout(c, tv) != REDIS_OK) {
        sluice_err_set(err, "Redis at %s:%u: cannot set the timeout", rc->host, rc->port);
        redisFree(c);
        return NULL;
    }
    if (password != NULL) {
        redisReply *r = rc->username != NULL ? redisCommand(c, "AUTH %s %s", rc->username, password)
                                             : redisCommand(c, "AUTH %s", password);
        int ok = r != NULL && r->type == REDIS_REPLY_STATUS;
        /* Redis's reason ("WRONGPASS invalid username-password pair"), without the arguments an
         * AUTH renamed away would have it quote: the password. */
        if (!ok && r != NULL && r->type == REDIS_REPLY_ERROR)
            sluice_err_set(err, "Redis at %s:%u refused the credentials: %.*s", rc->host, rc->port,
                           (int)sluice_redis_sync_reason_len(r->str, r->len), r->str);
        else if (!ok)
            sluice_err_set(err, "Redis at %s:%u refused the credentials", rc->host, rc->port);
        freeReplyObject(r);
        if (!ok) {
            redisFree(c);
            return NULL;
        }
    }
    if (rc->db != 0) {
        redisReply *r = redisCommand(c, "SELECT %u", rc->db);
        int ok = r != NULL && r->type == REDIS_REPLY_STATUS;
        freeReplyObject(r);
        if (!ok) {
            sluice_err_set(err, "Redis at %s:%u: cannot select database %u", rc->host, rc->port, rc->db);
            redisFree(c);
            return NULL;
        }
    }
    return c;
}

int sluice_redis_sync_time_ms(redisContext *c, int64_t *ms, sluice_err_t *err)
{
    redisReply *r = redisCommand(c, "TIME");
    int rc = -1;
    if (r == NULL)
        sluice_err_set(err, "TIME: %s", c->err ? c->errstr : "no answer");
    else if (r->type == REDIS_REPLY_ERROR) {
        sluice_err_set(err, "TIME: %.*s", (int)sluice_redis_sync_reason_len(r->str, r->len), r->str);
        rc = -2;
    } else if (r->type == REDIS_REPLY_ARRAY && r->elements == 2 && r->element[0]->type == REDIS_REPLY_STRING &&
               r->element[1]->type == REDIS_REPLY_STRING) {
        /* seconds and microseconds, as decimal strings */
        *ms = (int64_t)strtoll(r->element[0]->str, NULL, 10) * 1000 + strtoll(r->element[1]->str, NULL, 10) / 1000;
        rc = 0;
    } else {
        sluice_err_set(err, "TIME: unexpected reply");
        rc = -2;
    }
    freeReplyObject(r);
    return rc;
}
