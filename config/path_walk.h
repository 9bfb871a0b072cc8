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

/* What every level of one walk shares: the path, the visitor, and room for a built concrete path. */
typedef struct W(walk_s) {
    const sluice_path_t *p;
    W_CB cb;
    void *ud;
    char buf[SLUICE_PATH_CONCRETE_MAX];
} W(walk_t);

/* The visitor's call for a value the whole path reached (parent/key/index, at and exact as for
 * walk below). The concrete path built only for a value reached through an index or another
 * spelling (or cut): most rules' paths name one field, and building it at every step was ~460
 * instructions an event. Inlined where the last segment is taken, so that the value at the end
 * of a path costs no round of walk (about 35 instructions a visited value). */
static inline __attribute__((always_inline)) int W(reach)(W(walk_t) * w, W_VALUE *parent, const char *key,
                                                          size_t key_len, size_t index, W_VALUE *value,
                                                          const concrete_at_t *at, int exact)
{
    (void)key_len; /* jansson's visitor does not take it */
    const sluice_path_t *p = w->p;
    const char *concrete = p->text;
    if (!exact || p->text_len >= SLUICE_PATH_CONCRETE_MAX) {
        concrete_build(at, w->buf);
        concrete = w->buf;
    }
    return W_CALL(w->cb, parent, key, key_len, index, value, concrete, w->ud);
}

/* parent/key/index describe where `value` sits; seg is the next segment to apply to value; at is
 * the segment value was reached through (NULL at the root), and exact 1 while every key reached
 * is spelt as the path's and no index was taken, when value's concrete path is the path's text. */
static int W(walk)(W(walk_t) * w, W_VALUE *parent, const char *key, size_t key_len, size_t index, W_VALUE *value,
                   size_t seg, const concrete_at_t *at, int exact)
{
    const sluice_path_t *p = w->p;
    if (seg == p->count)
        return W(reach)(w, parent, key, key_len, index, value, at, exact);
    const sluice_path_seg_t *s = &p->segs[seg];
    if (s->kind == SLUICE_PATH_KEY && seg == 0) {
        W_VALUE *child = W_GETN(value, s->key, s->key_len); /* NULL for non-objects too */
        if (child == NULL)
            return 0;
        concrete_at_t here = {at, s->key, s->key_len, 0};
        return W(walk)(w, value, s->key, s->key_len, 0, child, seg + 1, &here, exact);
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
            int same = same_key(k, s->key, s->key_len);
            if (same == 0) {
                W_ITER_SKIP(value, it, next);
                continue;
            }
            concrete_at_t here = {at, k, s->key_len, 0};
            int rc =
                seg + 1 == p->count
                    ? W(reach)(w, value, k, s->key_len, 0, W_ITER_VALUE(value, it), &here, exact && same == 2)
                    : W(walk)(w, value, k, s->key_len, 0, W_ITER_VALUE(value, it), seg + 1, &here, exact && same == 2);
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
        concrete_at_t here = {at, NULL, 0, i};
        int rc = W(walk)(w, value, NULL, 0, i, W_ARRAY_GET(value, i), seg + 1, &here, 0);
        if (rc != 0)
            return rc;
    }
    return 0;
}

int W(sluice_path_visit_first)(W_VALUE *root, W_VALUE *first, const sluice_path_t *p, W_CB cb, void *ud)
{
    if (root == NULL || first == NULL || p == NULL || p->count == 0 || p->segs[0].kind != SLUICE_PATH_KEY)
        return 0;
    W(walk_t) w; /* buf is written before it is read: no 256-byte clear per walk */
    w.p = p;
    w.cb = cb;
    w.ud = ud;
    concrete_at_t here = {NULL, p->segs[0].key, p->segs[0].key_len, 0};
    return W(walk)(&w, root, p->segs[0].key, p->segs[0].key_len, 0, first, 1, &here, 1);
}

int W(sluice_path_visit)(W_VALUE *root, const sluice_path_t *p, W_CB cb, void *ud)
{
    if (root == NULL || p == NULL || p->count == 0)
        return 0;
    W(walk_t) w;
    w.p = p;
    w.cb = cb;
    w.ud = ud;
    return W(walk)(&w, NULL, NULL, 0, 0, root, 0, NULL, 1);
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
