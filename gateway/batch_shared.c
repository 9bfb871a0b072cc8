/*
 * A batch's shared members (batch_shared.h): context and integrations measured once per batch,
 * counted per event before they are copied into it. The rules are gateway/batch_shared_rules.h,
 * included once for jansson values and once for arena values (json/jv.h). Runs on the thread that
 * holds the request (the gateway's worker).
 */
#include "gateway/batch_shared.h"

#include <stdlib.h>
#include <string.h>

#include "gateway/event.h"

static const char *const shared_names[] = {"context", "integrations"};

/* ---------------------------------------------------------------- the rules for jansson values */

#define T_VALUE                         json_t
#define T_SHARED                        sluice_batch_shared_t
#define T_OF                            sluice_batch_shared_of
#define T_CHECK                         sluice_batch_shared_check
#define T_MERGE                         sluice_batch_shared_merge
#define T_DISPOSE                       sluice_batch_shared_dispose
#define T_NUMS_PARAM                    , const sluice_jsonnum_t *nums
#define T_MERGE_PARAM                   , sluice_jsonnum_t *nums
#define T_GET                           json_object_get
#define T_MEMBER_GET(o, key, n)         json_object_getn((o), (key), (n))
#define T_IS_OBJECT                     json_is_object
#define T_IS_STRING                     json_is_string
#define T_OBJECT_SIZE                   json_object_size
#define T_ENCODED_SIZE(v)               sluice_event_encoded_size((v), nums)
#define T_MEMBER_SIZE(key, n, v)        sluice_event_member_size((key), (n), (v), nums)
#define T_SET_COPY(o, key, v)           json_object_set_new((o), (key), sluice_jsonnum_copy(nums, (v)))
#define T_MEMBER_SET_COPY(o, key, n, v) json_object_setn_new((o), (key), (n), sluice_jsonnum_copy(nums, (v)))
#define T_SET_SENT(o, v)                json_object_set((o), "sentAt", (v)) /* shared */
#include "gateway/tree_iter.h"
#include "gateway/batch_shared_rules.h"

/* ---------------------------------------------------------------- the rules for jv values */

#define T_VALUE                  sluice_jv_t
#define T_SHARED                 sluice_batch_shared_jv_t
#define T_OF                     sluice_batch_shared_of_jv
#define T_CHECK                  sluice_batch_shared_check_jv
#define T_MERGE                  sluice_batch_shared_merge_jv
#define T_DISPOSE                sluice_batch_shared_dispose_jv
#define T_NUMS_PARAM             /* nothing: a jv number is its text */
#define T_MERGE_PARAM            , sluice_json_arena_t *a
#define T_GET                    sluice_jv_object_get
#define T_MEMBER_GET             sluice_jv_object_getn
#define T_IS_OBJECT              sluice_jv_is_object
#define T_IS_STRING              sluice_jv_is_string
#define T_OBJECT_SIZE            sluice_jv_object_size
#define T_ENCODED_SIZE(v)        sluice_event_encoded_size_jv(v)
#define T_MEMBER_SIZE(key, n, v) sluice_event_member_size_jv((key), (n), (v))
/* A jv value lives in one place (json/jv.h): where jansson shares one, jv sets a copy. Out of
 * memory leaves the member out, as jansson's set of a NULL copy does. */
#define T_SET_COPY(o, key, v)           (void)sluice_jv_object_set(a, (o), (key), sluice_jv_copy(a, (v)))
#define T_MEMBER_SET_COPY(o, key, n, v) (void)sluice_jv_object_setn(a, (o), (key), (n), sluice_jv_copy(a, (v)))
#define T_SET_SENT(o, v)                T_SET_COPY((o), "sentAt", (v))
#define T_ITER_JV
#include "gateway/tree_iter.h"
#include "gateway/batch_shared_rules.h"
#undef T_ITER_JV
