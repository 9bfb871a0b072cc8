/*
 * The invalid topic's record of a refused event (invalid.h): the rules are gateway/invalid_rules.h,
 * included once for jansson values and once for arena values (json/jv.h). Runs on the loop thread
 * that holds the request (gateway/ingest.c's record_invalid).
 */
#include "gateway/invalid.h"

#include <string.h>

#include "common/time.h"
#include "config/path.h"
#include "gateway/event.h"

/* The members validation vouches for as times (withhold_unvouched). */
static const char *const vouched_times[] = {"timestamp", "originalTimestamp", "sentAt", "receivedAt"};

/* An error's path without the event's own "batch[i]." prefix (pointing into path), or NULL when it
 * names no member (empty, or a batch index alone). */
static const char *member_path(const char *path)
{
    if (path == NULL || path[0] == '\0')
        return NULL;
    if (strncmp(path, "batch[", 6) == 0) {
        const char *close = strchr(path, ']');
        if (close == NULL || close[1] != '.')
            return NULL;
        path = close + 2;
    }
    return path;
}

/* ---------------------------------------------------------------- the rules for jansson values */

#define T(name)                      name##_json
#define T_VALUE                      json_t
#define T_RECORD                     sluice_invalid_record
#define T_XP                         , sluice_jsonnum_t *nums
#define T_DL_RESULT                  sluice_dl_result_t
#define T_DL_APPLY(env, ev, res, st) sluice_datalayer_apply((env)->org, 0, (env)->masker, (ev), nums, (res), (st))
#define T_DL_DISPOSE                 sluice_dl_result_dispose
#define T_GUARD_APPLY(env, ev, privacy, st)                                                                            \
    sluice_piiguard_apply((env)->guard, (env)->pii, (ev), nums, (privacy), sluice_now_ms(), NULL, (st))
#define T_FORGOTTEN(env, ev)                                                                                           \
    sluice_forgotten_match((env)->forgotten, (env)->thread, (env)->org->id, (env)->forget_key, (ev))
#define T_GET           json_object_get
#define T_DEL           json_object_del
#define T_IS_OBJECT     json_is_object
#define T_IS_STRING     json_is_string
#define T_IS_NULL       json_is_null
#define T_TYPE_PARSE(v) sluice_event_type_parse(json_string_value(v))
#define T_STRING(v, n)  (*(n) = json_string_length(v), json_string_value(v))
#define T_CSTR          json_string_value
#define T_OBJECT_NEW    json_object
#define T_NULL_NEW      json_null
#define T_INTEGER_NEW   json_integer
#define T_STRING_NEW    json_string
#define T_SET           json_object_set_new
#define T_SET_KEPT      json_object_set /* shared: a new reference */
#define T_SET_RESULT    json_object_set /* the result's own is dropped by T_DL_DISPOSE */
#define T_DROP          json_decref
#include "gateway/invalid_rules.h"

/* ---------------------------------------------------------------- the same rules for arena values */

/* The data layer's result on jv lives in the arena: nothing to dispose. */
static void dl_dispose_jv(sluice_dl_result_jv_t *res)
{
    (void)res;
}

#define T(name)                      name##_jv
#define T_VALUE                      sluice_jv_t
#define T_RECORD                     sluice_invalid_record_jv
#define T_XP                         , sluice_json_arena_t *a
#define T_DL_RESULT                  sluice_dl_result_jv_t
#define T_DL_APPLY(env, ev, res, st) sluice_datalayer_apply_jv((env)->org, 0, (env)->masker, (ev), a, (res), (st))
#define T_DL_DISPOSE                 dl_dispose_jv
#define T_GUARD_APPLY(env, ev, privacy, st)                                                                            \
    sluice_piiguard_apply_jv((env)->guard, (env)->pii, (ev), a, (privacy), sluice_now_ms(), NULL, (st))
#define T_FORGOTTEN(env, ev)                                                                                           \
    sluice_forgotten_match_jv((env)->forgotten, (env)->thread, (env)->org->id, (env)->forget_key, (ev))
#define T_GET                   sluice_jv_object_get
#define T_DEL                   sluice_jv_object_del
#define T_IS_OBJECT             sluice_jv_is_object
#define T_IS_STRING             sluice_jv_is_string
#define T_IS_NULL               sluice_jv_is_null
#define T_TYPE_PARSE            sluice_event_type_parse_jv
#define T_STRING                sluice_jv_string_value
#define T_CSTR(v)               sluice_jv_string_cstr(a, (v), NULL)
#define T_OBJECT_NEW()          sluice_jv_object(a)
#define T_NULL_NEW()            sluice_jv_null(a)
#define T_INTEGER_NEW(i)        sluice_jv_integer(a, (i))
#define T_STRING_NEW(s)         sluice_jv_string(a, (s), strlen(s))
#define T_SET(o, key, v)        sluice_jv_object_set(a, (o), (key), (v))
#define T_SET_KEPT(o, key, v)   sluice_jv_object_set(a, (o), (key), sluice_jv_copy(a, (v)))
#define T_SET_RESULT(o, key, v) sluice_jv_object_set(a, (o), (key), (v)) /* the arena's: in no tree yet */
#define T_DROP(v)               (void)(v)                                /* stays in the arena, out of any tree */
#include "gateway/invalid_rules.h"
