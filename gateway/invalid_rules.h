/*
 * The invalid topic's record (invalid.h), written once for both trees an event can be held in
 * (issue 17): gateway/invalid.c includes this file twice, once with jansson's accessors and once
 * with json/jv.h's, so that both withhold the same members, run the same checks in the same order
 * and write the same record. The includer defines:
 *
 *   T_VALUE                    the node type (json_t, sluice_jv_t)
 *   T(name)                    the tree's name for a static helper of this file
 *   T_RECORD                   the public function's name
 *   T_XP                       its tree parameter: jansson's numbers' table (", sluice_jsonnum_t
 *                              *nums"), jv's arena (", sluice_json_arena_t *a"); the macros use it
 *   T_DL_RESULT                the data layer's result type
 *   T_DL_APPLY(env, ev, res, st), T_DL_DISPOSE(res)   the data layer, no extra variants
 *   T_GUARD_APPLY(env, ev, privacy, st)                 the PII guard's full walk
 *   T_FORGOTTEN(env, ev)       sluice_forgotten_match's answer (counted as suppressed)
 *   T_GET(o, key)              o's member named by a C string, or NULL
 *   T_DEL(o, key)              removes o[key]: 0, or -1 when there is none
 *   T_IS_OBJECT T_IS_STRING T_IS_NULL (v)
 *   T_TYPE_PARSE(v)            sluice_event_type_parse of string v
 *   T_STRING(v, &n)            a string's bytes (not NUL-terminated for jv) and length, or NULL
 *   T_CSTR(v)                  a string as a C string, or NULL
 *   T_OBJECT_NEW(), T_NULL_NEW(), T_INTEGER_NEW(i), T_STRING_NEW(s)   new values, or NULL
 *   T_SET(o, key, v)           o[key] = v, a new value (taken, NULL too): 0 or -1
 *   T_SET_KEPT(o, key, v)      o[key] = v, a value the caller keeps (shared by jansson, copied on
 *                              jv, where v may sit in another list): 0 or -1
 *   T_SET_RESULT(o, key, v)    o[key] = v, a value of the data layer's result: 0 or -1
 *   T_DROP(v)                  gives back a new value that was not handed on (NULL allowed)
 *
 * Not a header: no include guard, nothing for other files. Runs where gateway/invalid.c does.
 */

/* Removes from ev the member an error's path names (the part after the event's own "batch[i]."
 * prefix, e.g. "timestamp" or "context.traits"); returns that member's path (pointing into path),
 * or NULL when there is none to remove (an error about the event as a whole). */
static const char *T(withhold_value)(T_VALUE *ev, const char *path)
{
    if (!T_IS_OBJECT(ev) || (path = member_path(path)) == NULL)
        return NULL;
    char err[64];
    sluice_path_t fp;
    if (sluice_path_parse(path, &fp, err, sizeof(err)) != 0)
        return NULL;
    T_VALUE *parent = ev;
    for (size_t i = 0; i + 1 < fp.count && parent != NULL; i++)
        parent = fp.segs[i].kind == SLUICE_PATH_KEY ? T_GET(parent, fp.segs[i].key) : NULL;
    int removed = T_IS_OBJECT(parent) && fp.segs[fp.count - 1].kind == SLUICE_PATH_KEY &&
                  T_DEL(parent, fp.segs[fp.count - 1].key) == 0;
    sluice_path_dispose(&fp);
    return removed ? path : NULL;
}

/* Removes from a refused event the members the PII guard never scans because validation vouches
 * for them (a type name, RFC 3339 times; receivedAt the gateway writes) but did not here: it
 * stopped at an earlier member, or at the event's size, and "timestamp" or "type" may hold an
 * e-mail that would otherwise reach the record as sent. */
static void T(withhold_unvouched)(T_VALUE *ev)
{
    T_VALUE *t = T_GET(ev, "type");
    if (t != NULL && !(T_IS_STRING(t) && T_TYPE_PARSE(t) >= 0))
        T_DEL(ev, "type");
    for (size_t i = 0; i < sizeof(vouched_times) / sizeof(vouched_times[0]); i++) {
        T_VALUE *v = T_GET(ev, vouched_times[i]);
        size_t n = 0;
        const char *s = T_STRING(v, &n);
        int64_t ms;
        if (v != NULL && !T_IS_NULL(v) && !(s != NULL && sluice_time_parse(s, n, SLUICE_TIME_NO_ZONE_OK, &ms) == 0))
            T_DEL(ev, vouched_times[i]);
    }
}

int T_RECORD(const sluice_invalid_env_t *env, T_VALUE *ev, T_VALUE *error T_XP, T_VALUE **rec)
{
    *rec = NULL;
    /* A forgotten person's refused event is theirs as much as an accepted one: it is not
     * recorded either (counted as suppressed; the answer still lists it as refused). It used
     * to go on being written to the invalid topic after the forget, ids and all. */
    if (T_IS_OBJECT(ev) && T_FORGOTTEN(env, ev))
        return 0;
    T_DL_RESULT dl;
    sluice_dl_stats_t st;
    memset(&dl, 0, sizeof(dl));
    memset(&st, 0, sizeof(st));
    T_VALUE *kept = NULL;
    /* The value that made the event invalid is no field a rule covers (a "timestamp" holding an
     * e-mail, say): it is withheld from the record, which names it. */
    const char *withheld = T(withhold_value)(ev, T_CSTR(T_GET(error, "path")));
    if (T_IS_OBJECT(ev))
        T(withhold_unvouched)(ev);
    if (T_IS_OBJECT(ev) && T_DL_APPLY(env, ev, &dl, &st) == 0) {
        if (dl.drop_event) {
            T_DL_DISPOSE(&dl);
            return 0;
        }
        /* The guard runs here too: an invalid event is no less likely to carry an e-mail. */
        sluice_piiguard_stats_t gst;
        if (!dl.rejected && T_GUARD_APPLY(env, ev, dl.privacy, &gst) == 0)
            kept = ev;
    }
    /* And in the forms the data layer wrote (an id hashed by a rule is on the list as its hash). */
    if (kept != NULL && T_FORGOTTEN(env, kept)) {
        T_DL_DISPOSE(&dl);
        return 0;
    }
    T_VALUE *r = T_OBJECT_NEW();
    int bad = r == NULL || T_SET(r, "v", T_INTEGER_NEW(1)) != 0 || T_SET(r, "org", T_STRING_NEW(env->org->id)) != 0 ||
              T_SET(r, "source", T_STRING_NEW(env->source)) != 0 ||
              T_SET(r, "receivedAt", T_STRING_NEW(env->received_at)) != 0 || T_SET_KEPT(r, "error", error) != 0 ||
              (kept != NULL ? T_SET_KEPT(r, "event", kept) : T_SET(r, "event", T_NULL_NEW())) != 0 ||
              /* null when no data layer ran over the event, as the record always has the member
               * (docs/config.md; sluicectl invalid list prints it) */
              (dl.privacy != NULL ? T_SET_RESULT(r, "privacy", dl.privacy) : T_SET(r, "privacy", T_NULL_NEW())) != 0;
    if (!bad && withheld != NULL && kept != NULL)
        (void)T_SET(r, "withheld", T_STRING_NEW(withheld)); /* without the name when memory ran out */
    T_DL_DISPOSE(&dl);
    if (bad) {
        T_DROP(r);
        return -1;
    }
    *rec = r;
    return 1;
}

#undef T_VALUE
#undef T
#undef T_RECORD
#undef T_XP
#undef T_DL_RESULT
#undef T_DL_APPLY
#undef T_DL_DISPOSE
#undef T_GUARD_APPLY
#undef T_FORGOTTEN
#undef T_GET
#undef T_DEL
#undef T_IS_OBJECT
#undef T_IS_STRING
#undef T_IS_NULL
#undef T_TYPE_PARSE
#undef T_STRING
#undef T_CSTR
#undef T_OBJECT_NEW
#undef T_NULL_NEW
#undef T_INTEGER_NEW
#undef T_STRING_NEW
#undef T_SET
#undef T_SET_KEPT
#undef T_SET_RESULT
#undef T_DROP
