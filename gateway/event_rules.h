/*
 * The event spec's rules and the compact size, written once for both trees an event can be held
 * in (issue 17): gateway/event.c includes this file twice, once with jansson's accessors
 * (sluice_event_validate, sluice_event_encoded_size) and once with json/jv.h's
 * (sluice_event_validate_jv, sluice_event_encoded_size_jv), so that the two cannot drift: same
 * rules, statuses, codes, paths, messages and sizes. What differs between the trees is only how a
 * value is read or changed, and that is the macros below, which the includer defines:
 *
 *   T_VALUE                    the node type (json_t, sluice_jv_t)
 *   T(name)                    the tree's name for a static helper of this file
 *   T_VALIDATE, T_ENCODED_SIZE the public functions' names
 *   T_X_PARAM                  validation's tree context: jansson's numbers' table (to read an
 *                              id's digits as sent), jv's arena (where its changes are made);
 *                              passed on as T_X
 *   T_SIZE_PARAM, T_SIZE_ARG   what measuring needs besides the node (", nums" or nothing)
 *   T_IS_NULL T_IS_STRING T_IS_NUMBER T_IS_OBJECT T_IS_ARRAY (v)
 *   T_STRING_VALUE(v), T_STRING_LEN(v)   a string's bytes (not NUL-terminated for jv) and length
 *   T_STRING_IS(v, s)          1 when v is a string equal to the C string s
 *   T_TYPE_PARSE(v)            sluice_event_type_parse of string v
 *   T_OBJECT_SIZE, T_OBJECT_GET(o, key), T_OBJECT_GETN(o, key, n), T_OBJECT_DEL(o, key)
 *   T_ITER, T_ITER_BEGIN(o), T_ITER_OK(o, it), T_ITER_NEXT(o, it), T_ITER_KEY(o, it),
 *   T_ITER_KEY_LEN(o, it), T_ITER_VALUE(o, it)   a walk over an object's members in order
 *                              (gateway/tree_iter.h defines them for each tree)
 *   T_ARRAY_SIZE(a), T_ARRAY_GET(a, i)
 *   T_SET_NEW(T_X, o, key, v)    o[key] = v, a new value (position kept when key is there)
 *   T_STRING_NEW(T_X, s)         a new string of the C string s, or NULL
 *   T_SET_TYPE(T_X, o, t)        o["type"] = a new string of type_names[t] (jv: the key a literal and
 *                              the name a plain text, both written as their bytes, without the
 *                              writer's scan for escapes)
 *   T_DROP(v)                  gives back a new value that was not set
 *   T_ID_FROM_NUMBER(T_X, v)     a number given for an id as a new string of its digits as sent,
 *                              or NULL when it is no whole number (or memory ran out)
 *   T_TYPEOF(v), T_OBJECT, T_ARRAY, T_STRING, T_TRUE, T_FALSE   for the size's switch
 *   T_NUMBER_CASES             the switch's cases for numbers, returning their size
 *
 * Not a header: no include guard (it undefines the macros at its end for the next inclusion), nothing
 * for other files. Runs where gateway/event.c does.
 */

static void T(find_members)(T_VALUE *ev, T_VALUE *found[M_COUNT])
{
    memset(found, 0, M_COUNT * sizeof(found[0]));
    if (T_OBJECT_SIZE(ev) > SCAN_MAX_MEMBERS) {
        for (int m = 0; m < M_COUNT; m++)
            found[m] = T_OBJECT_GETN(ev, wanted[m].key, wanted[m].len);
        return;
    }
    for (T_ITER it = T_ITER_BEGIN(ev); T_ITER_OK(ev, it); it = T_ITER_NEXT(ev, it)) {
        member_t m = member_of(T_ITER_KEY(ev, it), T_ITER_KEY_LEN(ev, it));
        if (m != M_COUNT)
            found[m] = T_ITER_VALUE(ev, it);
    }
}

/* Checks member m of ev, whose value is v (NULL when absent). Returns 1 when present and valid, 0
 * when absent, -1 on error. The error's path is only joined when there is an error. */
static int T(check_field)(T_VALUE *ev, member_t m, T_VALUE *v, field_kind_t kind, const char *prefix, T_X_PARAM,
                          sluice_event_error_t *e)
{
    if (v == NULL || T_IS_NULL(v))
        return 0;
    const char *key = wanted[m].key;
    char path[160];
    switch (kind) {
    case F_ID:
        if (T_IS_NUMBER(v)) {
            /* A whole number is taken as its digits as sent, of any length: one past 64 bits (a
             * 20-digit account number) is a real to jansson and was refused as "not a string". */
            T_VALUE *id = T_ID_FROM_NUMBER(T_X, v);
            if (id == NULL)
                return sluice_event_error_set(e, 400, "invalid_event", join(path, sizeof(path), prefix, key),
                                              "%s must be a string or a whole number", key);
            if (T_STRING_LEN(id) > ID_MAX_BYTES) {
                T_DROP(id);
                return sluice_event_error_set(e, 400, "invalid_event", join(path, sizeof(path), prefix, key),
                                              "%s must be 1 to %d bytes long", key, ID_MAX_BYTES);
            }
            T_SET_NEW(T_X, ev, key, id); /* digits; key is ours */
            return 1;
        }
        if (!T_IS_STRING(v))
            return sluice_event_error_set(e, 400, "invalid_event", join(path, sizeof(path), prefix, key),
                                          "%s must be a string", key);
        if (T_STRING_LEN(v) == 0 || T_STRING_LEN(v) > ID_MAX_BYTES)
            return sluice_event_error_set(e, 400, "invalid_event", join(path, sizeof(path), prefix, key),
                                          "%s must be 1 to %d bytes long", key, ID_MAX_BYTES);
        return 1;
    case F_NAME:
        if (!T_IS_STRING(v))
            return sluice_event_error_set(e, 400, "invalid_event", join(path, sizeof(path), prefix, key),
                                          "%s must be a string", key);
        if (T_STRING_LEN(v) == 0)
            return sluice_event_error_set(e, 400, "invalid_event", join(path, sizeof(path), prefix, key),
                                          "%s must not be empty", key);
        return 1;
    case F_STRING:
        if (!T_IS_STRING(v))
            return sluice_event_error_set(e, 400, "invalid_event", join(path, sizeof(path), prefix, key),
                                          "%s must be a string", key);
        return 1;
    case F_TIME: {
        /* A time without a zone is the device's wall clock (Segment's Flutter SDK stamps events and
         * sentAt so): taken, and read against the sentAt of the same clock (correct_timestamp).
         * Refused, every event of a Flutter app was lost. */
        int64_t ms;
        if (!T_IS_STRING(v) || sluice_time_parse(T_STRING_VALUE(v), T_STRING_LEN(v), SLUICE_TIME_NO_ZONE_OK, &ms) != 0)
            return sluice_event_error_set(e, 400, "invalid_event", join(path, sizeof(path), prefix, key),
                                          "%s must be an ISO-8601 date-time, e.g. 2026-11-23T10:00:00.000Z", key);
        return 1;
    }
    case F_OBJECT:
        if (!T_IS_OBJECT(v))
            return sluice_event_error_set(e, 400, "invalid_event", join(path, sizeof(path), prefix, key),
                                          "%s must be an object", key);
        return 1;
    }
    return 0;
}

static int T(require)(T_VALUE *ev, member_t m, T_VALUE *v, field_kind_t kind, const char *type, const char *prefix,
                      T_X_PARAM, sluice_event_error_t *e)
{
    int rc = T(check_field)(ev, m, v, kind, prefix, T_X, e);
    if (rc == 0) {
        char path[160];
        return sluice_event_error_set(e, 400, "invalid_event", join(path, sizeof(path), prefix, wanted[m].key),
                                      "%s events need %s", type, wanted[m].key);
    }
    return rc;
}

static int T(check_consent)(T_VALUE *context, const char *prefix, sluice_event_error_t *e)
{
    T_VALUE *consent = T_OBJECT_GET(context, "consent");
    if (consent == NULL || T_IS_NULL(consent))
        return 0;
    char path[160];
    if (!T_IS_OBJECT(consent))
        return sluice_event_error_set(e, 400, "invalid_event", join(path, sizeof(path), prefix, "context.consent"),
                                      "context.consent must be an object");
    T_VALUE *cats = T_OBJECT_GET(consent, "categories");
    if (cats == NULL)
        return 0;
    if (!T_IS_ARRAY(cats))
        return sluice_event_error_set(e, 400, "invalid_event",
                                      join(path, sizeof(path), prefix, "context.consent.categories"),
                                      "context.consent.categories must be a list");
    for (size_t i = 0, n = T_ARRAY_SIZE(cats); i < n; i++) {
        if (!T_IS_STRING(T_ARRAY_GET(cats, i)))
            return sluice_event_error_set(e, 400, "invalid_event",
                                          join(path, sizeof(path), prefix, "context.consent.categories"),
                                          "context.consent.categories must hold strings");
    }
    return 0;
}

size_t T_ENCODED_SIZE(const T_VALUE *ev T_SIZE_PARAM)
{
    switch (T_TYPEOF(ev)) {
    case T_OBJECT: {
        size_t size = 2, members = 0;
        for (T_ITER it = T_ITER_BEGIN(ev); T_ITER_OK(ev, it); it = T_ITER_NEXT(ev, it)) {
            size += string_size(T_ITER_KEY(ev, it), T_ITER_KEY_LEN(ev, it)) + 1 +
                    T_ENCODED_SIZE(T_ITER_VALUE(ev, it) T_SIZE_ARG);
            members++;
        }
        return size + (members ? members - 1 : 0);
    }
    case T_ARRAY: {
        size_t size = 2, n = T_ARRAY_SIZE(ev);
        for (size_t i = 0; i < n; i++)
            size += T_ENCODED_SIZE(T_ARRAY_GET(ev, i) T_SIZE_ARG);
        return size + (n ? n - 1 : 0);
    }
    case T_STRING: return string_size(T_STRING_VALUE(ev), T_STRING_LEN(ev)); T_NUMBER_CASES
    case T_TRUE: return 4;
    case T_FALSE: return 5;
    default: return 4; /* null */
    }
}

int T_VALIDATE(T_VALUE *ev, int forced_type, const sluice_limits_t *lim, const char *prefix, size_t source_len,
               T_X_PARAM, sluice_event_error_t *e)
{
    char path[160];
    if (!T_IS_OBJECT(ev))
        return sluice_event_error_set(e, 400, "invalid_event", prefix, "an event must be a JSON object");
    T_VALUE *v[M_COUNT];
    T(find_members)(ev, v);
    /* Segment's and RudderStack's SDKs send "" for an id they do not have yet (RudderStack's
     * userId before identify): an empty id is an absent one. */
    static const member_t ids[] = {M_USER_ID, M_ANONYMOUS_ID};
    for (size_t i = 0; i < 2; i++) {
        if (T_IS_STRING(v[ids[i]]) && T_STRING_LEN(v[ids[i]]) == 0) {
            T_OBJECT_DEL(ev, wanted[ids[i]].key);
            v[ids[i]] = NULL;
        }
    }
    /* Re-encoding can only grow a document by reformatting numbers, never to twice its text. */
    if ((source_len == 0 || source_len * 2 > lim->max_event_bytes) &&
        T_ENCODED_SIZE(ev T_SIZE_ARG) > lim->max_event_bytes)
        return sluice_event_error_set(e, 413, "payload_too_large", prefix, "event larger than %zu bytes",
                                      lim->max_event_bytes);

    int type = forced_type;
    T_VALUE *t = v[M_TYPE];
    if (type < 0) {
        join(path, sizeof(path), prefix, "type");
        if (!T_IS_STRING(t))
            return sluice_event_error_set(e, 400, "invalid_event", path,
                                          "type is required: track, page, screen, identify, group or alias");
        type = T_TYPE_PARSE(t);
        if (type < 0)
            return sluice_event_error_set(e, 400, "invalid_event", path,
                                          "type must be track, page, screen, identify, group or alias");
    } else if (!T_STRING_IS(t, type_names[type])) {
        T_SET_TYPE(T_X, ev, type);
    }

    static const struct {
        member_t m;
        field_kind_t kind;
    } common[] = {
        {M_MESSAGE_ID, F_ID},     {M_ANONYMOUS_ID, F_ID},         {M_USER_ID, F_ID},     {M_TIMESTAMP, F_TIME},
        {M_SENT_AT, F_TIME},      {M_ORIGINAL_TIMESTAMP, F_TIME}, {M_CONTEXT, F_OBJECT}, {M_INTEGRATIONS, F_OBJECT},
        {M_PROPERTIES, F_OBJECT}, {M_TRAITS, F_OBJECT},
    };
    for (size_t i = 0; i < sizeof(common) / sizeof(common[0]); i++) {
        T_VALUE *f = v[common[i].m];
        /* Absent, or the object it must be (most of the members an event has): nothing to check,
         * without the call (~25 instructions each, 7 of the 10 for a usual event). */
        if (f == NULL || (common[i].kind == F_OBJECT && T_IS_OBJECT(f)))
            continue;
        if (T(check_field)(ev, common[i].m, f, common[i].kind, prefix, T_X, e) < 0)
            return -1;
    }
    if (T(check_consent)(v[M_CONTEXT], prefix, e) < 0)
        return -1;

    const char *tn = type_names[type];
    switch ((sluice_event_type_t)type) {
    case SLUICE_EVENT_TRACK:
        if (T(require)(ev, M_EVENT, v[M_EVENT], F_NAME, tn, prefix, T_X, e) < 0)
            return -1;
        break;
    case SLUICE_EVENT_PAGE:
    case SLUICE_EVENT_SCREEN:
        if (T(check_field)(ev, M_NAME, v[M_NAME], F_STRING, prefix, T_X, e) < 0 ||
            T(check_field)(ev, M_CATEGORY, v[M_CATEGORY], F_STRING, prefix, T_X, e) < 0)
            return -1;
        break;
    case SLUICE_EVENT_IDENTIFY: break;
    case SLUICE_EVENT_GROUP:
        if (T(require)(ev, M_GROUP_ID, v[M_GROUP_ID], F_ID, tn, prefix, T_X, e) < 0)
            return -1;
        break;
    case SLUICE_EVENT_ALIAS:
        if (T(require)(ev, M_PREVIOUS_ID, v[M_PREVIOUS_ID], F_ID, tn, prefix, T_X, e) < 0)
            return -1;
        /* userId may have been converted from a number above: read it again. */
        if (T(require)(ev, M_USER_ID, T_OBJECT_GET(ev, "userId"), F_ID, tn, prefix, T_X, e) < 0)
            return -1;
        break;
    default: break;
    }
    return type;
}

/* Undefined for the next inclusion. */
#undef T
#undef T_ARRAY
#undef T_ARRAY_GET
#undef T_ARRAY_SIZE
#undef T_DROP
#undef T_ENCODED_SIZE
#undef T_FALSE
#undef T_ID_FROM_NUMBER
#undef T_IS_ARRAY
#undef T_IS_NULL
#undef T_IS_NUMBER
#undef T_IS_OBJECT
#undef T_IS_STRING
#undef T_NUMBER_CASES
#undef T_OBJECT
#undef T_OBJECT_DEL
#undef T_OBJECT_GET
#undef T_OBJECT_GETN
#undef T_OBJECT_SIZE
#undef T_SET_NEW
#undef T_SET_TYPE
#undef T_SIZE_ARG
#undef T_SIZE_PARAM
#undef T_STRING
#undef T_STRING_IS
#undef T_STRING_LEN
#undef T_STRING_NEW
#undef T_STRING_VALUE
#undef T_TRUE
#undef T_TYPEOF
#undef T_TYPE_PARSE
#undef T_VALIDATE
#undef T_VALUE
#undef T_X
#undef T_X_PARAM
