/*
 * A batch's shared members' rules (batch_shared.h), written once for both trees an event can be
 * held in (issue 17): gateway/batch_shared.c includes this file twice, once with jansson's
 * accessors and once with json/jv.h's, so that both count, refuse and copy alike. The includer
 * defines:
 *
 *   T_VALUE, T_SHARED             the node type and the shared members' type
 *   T_OF, T_CHECK, T_MERGE, T_DISPOSE   the public functions' names
 *   T_NUMS_PARAM                  the numbers' table as a parameter (jansson's
 *                                 ", const sluice_jsonnum_t *nums"), or nothing
 *   T_MERGE_PARAM                 merge's extra parameter: jansson's table, jv's arena a
 *   T_GET(o, key)                 o's member named by a C string, or NULL
 *   T_MEMBER_GET(o, key, n)       o's member named by the key of another object's member
 *   T_IS_OBJECT, T_IS_STRING, T_OBJECT_SIZE
 *   T_ENCODED_SIZE(v), T_MEMBER_SIZE(key, n, v)   sluice_event_encoded_size's counts
 *   T_SET_COPY(o, key, v)         o[key] = a copy of v (numbers as sent)
 *   T_MEMBER_SET_COPY(o, key, n, v)   the same, key being another object's member's key
 *   T_SET_SENT(o, v)              o.sentAt = v (shared by jansson, copied on jv)
 *   T_ITER...                     gateway/tree_iter.h
 *
 * Not a header: no include guard, nothing for other files. Runs where gateway/batch_shared.c does.
 */

void T_DISPOSE(T_SHARED *sh)
{
    for (size_t k = 0; k < 2; k++) {
        free(sh->member[k]);
        sh->member[k] = NULL; /* a second dispose (after a failed _of, say) frees nothing twice */
    }
}

int T_OF(T_SHARED *sh, T_VALUE *root T_NUMS_PARAM, size_t budget)
{
    memset(sh, 0, sizeof(*sh));
    sh->budget = budget;
    for (size_t k = 0; k < 2; k++) {
        T_VALUE *top = T_GET(root, shared_names[k]);
        if (!T_IS_OBJECT(top))
            continue;
        sh->top[k] = top;
        sh->whole[k] = T_MEMBER_SIZE(shared_names[k], strlen(shared_names[k]), top);
        size_t n = T_OBJECT_SIZE(top), i = 0;
        if (n == 0)
            continue;
        if ((sh->member[k] = malloc(n * sizeof(size_t))) == NULL) {
            T_DISPOSE(sh);
            return -1;
        }
        for (T_ITER it = T_ITER_BEGIN(top); T_ITER_OK(top, it) && i < n; it = T_ITER_NEXT(top, it))
            sh->member[k][i++] = T_MEMBER_SIZE(T_ITER_KEY(top, it), T_ITER_KEY_LEN(top, it), T_ITER_VALUE(top, it));
    }
    T_VALUE *sent = T_GET(root, "sentAt");
    sh->sent = T_IS_STRING(sent) ? sent : NULL;
    return 0;
}

/* A copy made first and measured afterwards let a few hundred bytes of gzip make 500 copies of a
 * 500 KB context (15 GB, 2 minutes) only to refuse each event; and 500 copies of a context just
 * under max_event_bytes, every one of them valid, still held 1.3 GB for a 161-byte request: the
 * copies are counted first (the count validation makes afterwards), and counting stops as soon as
 * either limit is passed, so an event costs at most its own members and that much of the shared
 * ones. */
int T_CHECK(T_VALUE *ev, T_SHARED *sh T_NUMS_PARAM, size_t max_bytes)
{
    if (sh->top[0] == NULL && sh->top[1] == NULL)
        return SLUICE_BATCH_SHARED_FITS;
    size_t size = T_ENCODED_SIZE(ev), ev_members = T_OBJECT_SIZE(ev), add = 0;
#define OVER() (size + add > max_bytes || add > sh->budget)
    for (size_t k = 0; k < 2 && !OVER(); k++) {
        T_VALUE *top = sh->top[k];
        if (top == NULL)
            continue;
        T_VALUE *own = T_GET(ev, shared_names[k]);
        if (own == NULL) {
            add += (ev_members++ > 0) + sh->whole[k]; /* a comma before it unless ev was empty */
        } else if (T_IS_OBJECT(own)) {
            size_t own_members = T_OBJECT_SIZE(own), i = 0;
            for (T_ITER it = T_ITER_BEGIN(top); T_ITER_OK(top, it) && !OVER(); it = T_ITER_NEXT(top, it), i++)
                if (T_MEMBER_GET(own, T_ITER_KEY(top, it), T_ITER_KEY_LEN(top, it)) == NULL)
                    add += (own_members++ > 0) + sh->member[k][i];
        }
    }
    if (size + add > max_bytes)
        return SLUICE_BATCH_SHARED_EVENT_TOO_BIG;
    if (add > sh->budget)
        return SLUICE_BATCH_SHARED_BATCH_TOO_BIG;
#undef OVER
    sh->budget -= add;
    return SLUICE_BATCH_SHARED_FITS;
}

int T_MERGE(T_VALUE *ev, const T_SHARED *sh T_MERGE_PARAM)
{
    int copied = 0;
    for (size_t k = 0; k < 2; k++) {
        T_VALUE *top = sh->top[k];
        if (top == NULL)
            continue;
        T_VALUE *own = T_GET(ev, shared_names[k]);
        if (own == NULL) {
            T_SET_COPY(ev, shared_names[k], top);
            copied = 1;
        } else if (T_IS_OBJECT(own)) {
            for (T_ITER it = T_ITER_BEGIN(top); T_ITER_OK(top, it); it = T_ITER_NEXT(top, it)) {
                if (T_MEMBER_GET(own, T_ITER_KEY(top, it), T_ITER_KEY_LEN(top, it)) == NULL) {
                    T_MEMBER_SET_COPY(own, T_ITER_KEY(top, it), T_ITER_KEY_LEN(top, it), T_ITER_VALUE(top, it));
                    copied = 1;
                }
            }
        }
    }
    if (sh->sent != NULL && T_GET(ev, "sentAt") == NULL)
        T_SET_SENT(ev, sh->sent);
    return copied;
}

#undef T_VALUE
#undef T_SHARED
#undef T_OF
#undef T_CHECK
#undef T_MERGE
#undef T_DISPOSE
#undef T_NUMS_PARAM
#undef T_MERGE_PARAM
#undef T_GET
#undef T_MEMBER_GET
#undef T_IS_OBJECT
#undef T_IS_STRING
#undef T_OBJECT_SIZE
#undef T_ENCODED_SIZE
#undef T_MEMBER_SIZE
#undef T_SET_COPY
#undef T_MEMBER_SET_COPY
#undef T_SET_SENT
