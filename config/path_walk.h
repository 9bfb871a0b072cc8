/*
 * The walk of a field path over an event (path.h), written once for both trees an event can be
 * held in (issue 17): config/path.c includes this file twice, once with jansson's accessors
 * (sluice_path_visit, sluice_path_visit_first) and once with json/jv.h's (sluice_path_visit_jv,
 * sluice_path_visit_first_jv), so that both reach the same values in the same order with the same
 * concrete paths. The includer defines:
 *
 *   W(name)                       the tree's name for a static helper or a public function
 *   W_VALUE, W_CB                 the node type and the visitor's type
 *   W_CALL(cb, parent, key, key_len, index, value, concrete, ud)   calls the visitor (jansson's
 *                                 takes no key_len: its keys end with a NUL)
 *   W_GETN(o, key, n)             o's member key[0..n) (exact), or NULL (also for non-objects)
 *   W_IS_OBJECT, W_IS_ARRAY, W_ARRAY_SIZE, W_ARRAY_GET
 *   W_ITER, W_ITER_BEGIN(o), W_ITER_OK(o, it), W_ITER_KEY(o, it), W_ITER_KEY_LEN(o, it),
 *   W_ITER_VALUE(o, it)           the members of o in order
 *   W_ITER_PRE(o, it, next), W_ITER_SKIP(o, it, next), W_ITER_POST(o, it, key, next)   set next
 *                                 before a member is looked at, when it is passed over, and after
 *                                 the visitor ran on it (which may have deleted it): jansson reads
 *                                 the next member first; jv's members after a deleted one move
 *                                 down, so the index advances only when the member at it is still
 *                                 key's
 *
 * Not a header: no include guard (it undefines its macros at its end), nothing for other files.
 * Runs where path.c's walks do.
 */

/* parent/key/index describe where `value` sits; seg is the next segment to apply to value;
 * buf[0..len) is the concrete path of value. */
static int W(walk)(W_VALUE *parent, const char *key, size_t key_len, size_t index, W_VALUE *value,
                   const sluice_path_t *p, size_t seg, char *buf, size_t len, W_CB cb, void *ud)
{
    (void)key_len; /* jansson's visitor does not take it */
    if (seg == p->count)
        return W_CALL(cb, parent, key, key_len, index, value, buf, ud);
    const sluice_path_seg_t *s = &p->segs[seg];
    if (s->kind == SLUICE_PATH_KEY && seg == 0) {
        W_VALUE *child = W_GETN(value, s->key, s->key_len); /* NULL for non-objects too */
        if (child == NULL)
            return 0;
        size_t n = concrete_push(buf, len, s->key, s->key_len, 0);
        int rc = W(walk)(value, s->key, s->key_len, 0, child, p, seg + 1, buf, n, cb, ud);
        buf[len] = '\0';
        return rc;
    }
    if (s->kind == SLUICE_PATH_KEY) {
        /* Below the event's own fields, members are matched without regard to ASCII case: a
         * client's `traits.Email` is the field a rule on `traits.email` names, and matched
         * exactly it went out raw. Every spelling present is visited (a client may send both).
         * The visitor may delete the member it is given. */
        if (!W_IS_OBJECT(value))
            return 0;
        W_ITER next;
        for (W_ITER it = W_ITER_BEGIN(value); W_ITER_OK(value, it); it = next) {
            W_ITER_PRE(value, it, next);
            if (W_ITER_KEY_LEN(value, it) != s->key_len) {
                W_ITER_SKIP(value, it, next);
                continue;
            }
            const char *k = W_ITER_KEY(value, it);
            if (!same_key(k, s->key, s->key_len)) {
                W_ITER_SKIP(value, it, next);
                continue;
            }
            size_t n = concrete_push(buf, len, k, s->key_len, 0);
            int rc = W(walk)(value, k, s->key_len, 0, W_ITER_VALUE(value, it), p, seg + 1, buf, n, cb, ud);
            buf[len] = '\0';
            if (rc != 0)
                return rc;
            W_ITER_POST(value, it, k, next);
        }
        return 0;
    }
    if (!W_IS_ARRAY(value))
        return 0;
    /* Size re-read each round: the visitor may replace elements (never remove them). */
    for (size_t i = 0; i < W_ARRAY_SIZE(value); i++) {
        size_t n = concrete_push(buf, len, NULL, 0, i);
        int rc = W(walk)(value, NULL, 0, i, W_ARRAY_GET(value, i), p, seg + 1, buf, n, cb, ud);
        buf[len] = '\0';
        if (rc != 0)
            return rc;
    }
    return 0;
}

int W(sluice_path_visit_first)(W_VALUE *root, W_VALUE *first, const sluice_path_t *p, W_CB cb, void *ud)
{
    if (root == NULL || first == NULL || p == NULL || p->count == 0 || p->segs[0].kind != SLUICE_PATH_KEY)
        return 0;
    char buf[SLUICE_PATH_CONCRETE_MAX]; /* concrete_push ends it with a NUL: no 256-byte clear per walk */
    size_t n = concrete_push(buf, 0, p->segs[0].key, p->segs[0].key_len, 0);
    return W(walk)(root, p->segs[0].key, p->segs[0].key_len, 0, first, p, 1, buf, n, cb, ud);
}

int W(sluice_path_visit)(W_VALUE *root, const sluice_path_t *p, W_CB cb, void *ud)
{
    if (root == NULL || p == NULL || p->count == 0)
        return 0;
    char buf[SLUICE_PATH_CONCRETE_MAX];
    buf[0] = '\0'; /* the rest is written before it is read */
    return W(walk)(NULL, NULL, 0, 0, root, p, 0, buf, 0, cb, ud);
}

#undef W
#undef W_VALUE
#undef W_CB
#undef W_CALL
#undef W_GETN
#undef W_IS_OBJECT
#undef W_IS_ARRAY
#undef W_ARRAY_SIZE
#undef W_ARRAY_GET
#undef W_ITER
#undef W_ITER_BEGIN
#undef W_ITER_OK
#undef W_ITER_KEY
#undef W_ITER_KEY_LEN
#undef W_ITER_VALUE
#undef W_ITER_PRE
#undef W_ITER_SKIP
#undef W_ITER_POST
