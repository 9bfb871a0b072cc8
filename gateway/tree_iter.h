/*
 * The walk over an object's members in order, for the rules written once for both trees an event
 * can be held in (gateway/event_rules.h, gateway/consent_rules.h): T_ITER, T_ITER_BEGIN(o),
 * T_ITER_OK(o, it), T_ITER_NEXT(o, it), T_ITER_KEY(o, it), T_ITER_KEY_LEN(o, it),
 * T_ITER_VALUE(o, it) for jv values (json/jv.h) when T_ITER_JV is defined, else for jansson's.
 * Included before each inclusion of a rules file; it undefines the previous inclusion's first, so
 * the rules files need not.
 *
 * Not a header: no include guard, nothing for other folders. Any thread.
 */
#undef T_ITER
#undef T_ITER_BEGIN
#undef T_ITER_OK
#undef T_ITER_NEXT
#undef T_ITER_KEY
#undef T_ITER_KEY_LEN
#undef T_ITER_VALUE
#ifdef T_ITER_JV
#define T_ITER size_t
/* No members but an object's (NULL too), as jansson's iterator: a string's length is no count of
 * members. */
#define T_ITER_BEGIN(o)       (sluice_jv_is_object(o) ? (size_t)0 : SIZE_MAX)
#define T_ITER_OK(o, it)      ((it) != SIZE_MAX && (it) < (o)->len)
#define T_ITER_NEXT(o, it)    ((it) + 1)
#define T_ITER_KEY(o, it)     ((o)->u.m[it].key)
#define T_ITER_KEY_LEN(o, it) ((size_t)(o)->u.m[it].key_len)
#define T_ITER_VALUE(o, it)   ((o)->u.m[it].value)
#else
#define T_ITER                void *
#define T_ITER_BEGIN(o)       json_object_iter((json_t *)(o))
#define T_ITER_OK(o, it)      ((it) != NULL)
#define T_ITER_NEXT(o, it)    json_object_iter_next((json_t *)(o), (it))
#define T_ITER_KEY(o, it)     json_object_iter_key(it)
#define T_ITER_KEY_LEN(o, it) json_object_iter_key_len(it)
#define T_ITER_VALUE(o, it)   json_object_iter_value(it)
#endif
