/*
 * The event's enrichment with what the server knows (receivedAt, messageId, the clock-skew
 * correction of timestamp, analytics-kotlin's unpadded fractions, context.ip and
 * context.userAgent), written once for both trees an event can be held in (issue 17):
 * gateway/event.c includes this file twice, just before gateway/event_rules.h, once with
 * jansson's accessors (sluice_event_enrich, sluice_event_from_app, sluice_event_app_agent) and
 * once with json/jv.h's (the same names with _jv), so that the two cannot drift. It reads values
 * with event_rules.h's macros (T_IS_STRING, T_OBJECT_GET, T_SET_NEW, ...; event_rules.h undefines
 * them) and finds the members with its T(find_members); besides those the includer defines:
 *
 *   T_ENRICH, T_FROM_APP, T_APP_AGENT   the public functions' names
 *   T_ENRICH_PARAM, T_ENRICH_ARG        what making values needs besides the event (", a" for
 *                                       jv's arena, nothing for jansson's), and T_ENRICH_X: that
 *                                       argument (or NULL) as the T_X of T_SET_NEW and friends
 *   T_SET_COPY(T_X, o, lit, v)          o[lit] = v, a value that is also elsewhere in the tree, under
 *                                       a key literal that needs no escape in JSON (jansson shares
 *                                       the value; a jv value lives in one place: a copy, its key kept
 *                                       framed as T_SET_LIT's)
 *   T_STRINGN_NEW(T_X, s, n)            a new string of s[0..n), valid UTF-8 without NUL, or NULL
 *   T_OBJECT_NEW(T_X)                   a new empty object, or NULL
 *   T_STRING_AT(v, i)                   the i-th byte of string v (i < its length)
 *   T_SET_LIT(T_X, o, lit, v)           T_SET_NEW with a key literal that needs no escape in JSON
 *                                       (jv keeps it framed, written without a scan)
 *   T_PLAIN_NEW(T_X, s)                 T_STRING_NEW of text the gateway formatted itself (a UUID,
 *                                       a time: nothing to escape; jv keeps it as written)
 *
 * Not a header: no include guard (it undefines its own macros at its end), nothing for other
 * files. Runs where gateway/event.c does.
 */

static void T(find_members)(T_VALUE *ev, T_VALUE *found[M_COUNT]);

/* ms of a JSON string holding an RFC 3339 time: 1 when it has a zone, 0 when it is a wall-clock
 * reading without one (read as if UTC), -1 when it is neither (validation let only such times
 * through). */
static int T(time_of)(T_VALUE *v, int64_t *ms)
{
    if (!T_IS_STRING(v))
        return -1;
    const char *s = T_STRING_VALUE(v);
    size_t n = T_STRING_LEN(v);
    if (sluice_time_parse(s, n, 0, ms) == 0)
        return 1;
    return sluice_time_parse(s, n, SLUICE_TIME_NO_ZONE_OK, ms) == 0 ? 0 : -1;
}

/* Segment's clock-skew correction: a client whose clock is off stamps its events off by as much,
 * and stamps sentAt with the same clock, so timestamp = receivedAt - (sentAt - t) is the event's
 * time by the gateway's clock. t is the timestamp the client sent, else its originalTimestamp
 * (RudderStack's SDKs send only originalTimestamp and sentAt), and is kept as originalTimestamp.
 * An event with both is one whose timestamp was given on purpose (RudderStack's node SDK stamps
 * originalTimestamp with the time of the call and sends a caller's `timestamp` next to it, for an
 * import of past events): RudderStack's server keeps that timestamp, and correcting from the
 * call's time instead turned a week-old purchase into one made a second ago. Without sentAt
 * nothing can be corrected and timestamp stays as sent. A time without a zone (the device's wall
 * clock) is corrected by a sentAt without one, the same clock; with no such sentAt its instant is
 * unknown and the event took place, as far as anyone knows, when it was received. */
static void T(correct_timestamp)(T_VALUE *ev, T_VALUE *ts, T_VALUE *orig, T_VALUE *sent_at,
                                 int64_t received_ms T_ENRICH_PARAM)
{
    if (T_IS_NULL(ts))
        ts = NULL; /* validation lets null through as absent: originalTimestamp may give it */
    T_VALUE *base = T_IS_STRING(ts) ? ts : orig;
    int64_t base_ms, sent_ms;
    int base_zoned = T(time_of)(base, &base_ms);
    if (base_zoned < 0)
        return;
    int sent_zoned = T(time_of)(sent_at, &sent_ms);
    int64_t at = 0;
    if (sent_zoned >= 0 && sent_zoned == base_zoned) {
        at = received_ms - (sent_ms - base_ms);
        /* An age that puts the event before 1970 is no age: the two times are not readings of
         * one clock (a sentAt of 9999-12-31 or 2090 from a broken SDK next to a right timestamp,
         * Go's or .NET's zero time 0001-01-01 as the timestamp). Taken as an age, it made the
         * event's time year 0000 (the formatter's floor): Meta and GA4 then refused it as too old
         * and TikTok the whole batch with it. With no age to go by, the event is one without a
         * usable sentAt: its own time when that is a time it can have happened at, else receivedAt
         * (below, as for a zoneless time). A sentAt before 1970 is no reading of a clock either
         * (Go's or .NET's zero time as a SentAt never set): taken as one, the event was stamped
         * 2,025 years after it was sent, and its own time became receivedAt. */
        if (at < 0 || sent_ms < 0) {
            if (base_zoned && base_ms >= 0 && base_ms <= received_ms)
                sent_zoned = -1;
            else
                at = received_ms;
        }
    }
    if (sent_zoned < 0 || sent_zoned != base_zoned) {
        if (base_zoned) {
            if (ts == NULL)
                T_SET_COPY(T_ENRICH_X, ev, "timestamp", base);
            return;
        }
        at = received_ms; /* no age to go by: as received */
    }
    if (!T_IS_STRING(orig))
        T_SET_COPY(T_ENRICH_X, ev, "originalTimestamp", base);
    /* An event stamped after its sentAt (a clock stepped between the two, or a made-up time)
     * would land after the gateway received it, up to year 9999: it happened by then at the
     * latest. */
    char when[SLUICE_TIME_TEXT_MAX];
    sluice_time_format(at < received_ms ? at : received_ms, when);
    T_SET_LIT(T_ENRICH_X, ev, "timestamp", T_PLAIN_NEW(T_ENRICH_X, when));
}

/* analytics-kotlin once stamped its times with SimpleDateFormat's "ss'.'Szzz"
 * (core/.../utilities/DateTimeUtils.kt, dateTimeNowString, before SegmentInstant): `S` is
 * the milliseconds as a number, unpadded, so 7 ms was written ".7Z" and 70 ms ".70Z", which
 * RFC 3339 reads as 700 ms. SegmentInstant writes "SSS", always three digits, so a one or two
 * digit fraction from that library can only be the unpadded count: it is rewritten padded, for
 * the clock correction and for every consumer of the text. Without this an event's time moved
 * by up to 0.99 s, and a batch's events changed order (".95Z", 95 ms, came after ".100Z"). */
static int T(kotlin_library)(T_VALUE *ctx)
{
    return T_STRING_IS(T_OBJECT_GET(T_OBJECT_GET(ctx, "library"), "name"), "analytics-kotlin");
}

/* 1 for "YYYY-MM-DDTHH:MM:SS.dZ" or ".ddZ" by its length and the fraction's dot alone. */
static int T(short_fraction_time)(T_VALUE *v)
{
    if (!T_IS_STRING(v))
        return 0;
    size_t n = T_STRING_LEN(v);
    return (n == 22 || n == 23) && T_STRING_AT(v, 19) == '.';
}

/* The padded text of an unpadded "YYYY-MM-DDTHH:MM:SS.dZ" or ".ddZ", or NULL for any other. */
static T_VALUE *T(kotlin_time)(T_VALUE *v T_ENRICH_PARAM)
{
    if (!T_IS_STRING(v))
        return NULL;
    const char *s = T_STRING_VALUE(v);
    size_t n = T_STRING_LEN(v);
    if ((n != 22 && n != 23) || s[19] != '.' || s[n - 1] != 'Z')
        return NULL;
    for (size_t i = 20; i < n - 1; i++)
        if (s[i] < '0' || s[i] > '9')
            return NULL;
    char fixed[25];
    memcpy(fixed, s, 20);
    size_t digits = n - 21;
    memset(fixed + 20, '0', 3 - digits);
    memcpy(fixed + 23 - digits, s + 20, digits);
    fixed[23] = 'Z';
    fixed[24] = '\0';
    return T_STRING_NEW(T_ENRICH_X, fixed);
}

/* A string of a header's bytes: ASCII, what headers nearly always hold, is recognised a word at a
 * time instead of jansson's check per byte. A byte that is not UTF-8 (a Latin-1 device name in a
 * User-Agent) becomes U+FFFD: leaving the header out made the event one without a user agent,
 * which `bots: drop` drops. */
static T_VALUE *T(header_string)(const char *s T_ENRICH_PARAM)
{
    if (s == NULL)
        return NULL;
    size_t n = strlen(s), i = 0;
    uint64_t high = 0;
    for (; i + 8 <= n; i += 8) {
        uint64_t w;
        memcpy(&w, s + i, 8);
        high |= w;
    }
    if (n >= 8 && i < n) {
        /* The tail as the last word, overlapping the one before (never past the NUL), instead of
         * a byte at a time: an address's or a User-Agent's last 1-7 bytes. */
        uint64_t w;
        memcpy(&w, s + n - 8, 8);
        high |= w;
    } else {
        for (; i < n; i++)
            high |= (unsigned char)s[i];
    }
    if ((high & 0x8080808080808080ull) == 0 || sluice_utf8_valid(s, n))
        return T_STRINGN_NEW(T_ENRICH_X, s, n);
    char *fixed = n <= SIZE_MAX / 3 - 1 ? malloc(3 * n + 1) : NULL;
    if (fixed == NULL)
        return NULL;
    T_VALUE *v = T_STRINGN_NEW(T_ENRICH_X, fixed, sluice_utf8_repair(s, n, fixed));
    free(fixed);
    return v;
}

/* receivedAt's text: formatted once per request, not per event (a batch's events share the
 * request's received_ms), by keeping this thread's last one; about 280 instructions an event. */
static const char *T(received_text)(int64_t received_ms)
{
    static _Thread_local struct {
        int have;
        int64_t ms;
        char text[SLUICE_TIME_TEXT_MAX];
    } last;
    if (!last.have || last.ms != received_ms) {
        sluice_time_format(received_ms, last.text);
        last.ms = received_ms;
        last.have = 1;
    }
    return last.text;
}

int T_FROM_APP(const T_VALUE *ev)
{
    return T_IS_OBJECT(T_OBJECT_GET(T_OBJECT_GET(ev, "context"), "app"));
}

int T_APP_AGENT(const T_VALUE *ev, const sluice_event_enrich_t *en)
{
    return en != NULL && en->library_user_agent && T_FROM_APP(ev);
}

int T_ENRICH(T_VALUE *ev, const sluice_event_enrich_t *en T_ENRICH_PARAM)
{
    /* Validated events are objects; anything else is left as it is (jansson refuses the sets, and
     * the jv walk below would read a string's bytes or an array's items as members). */
    if (!T_IS_OBJECT(ev))
        return 0;
    /* Read before anything is set: setting other members leaves these values where they are.
     * One pass over the members, as validation does: five hash look-ups were 750 instructions. */
    T_VALUE *v[M_COUNT];
    T(find_members)(ev, v);
    if (!T_IS_STRING(v[M_MESSAGE_ID])) {
        char id[37];
        if (sluice_uuid_v4(id) != 0)
            return -1;
        T_SET_LIT(T_ENRICH_X, ev, "messageId", T_PLAIN_NEW(T_ENRICH_X, id));
    }
    T_SET_LIT(T_ENRICH_X, ev, "receivedAt", T_PLAIN_NEW(T_ENRICH_X, T(received_text)(en->received_ms)));
    /* The library is looked up only for a time with a short fraction: two member look-ups in
     * context for every event were 400 instructions of the pipeline. */
    static const member_t times[] = {M_TIMESTAMP, M_ORIGINAL_TIMESTAMP, M_SENT_AT};
    int short_fraction = 0;
    for (size_t i = 0; i < sizeof(times) / sizeof(times[0]); i++)
        short_fraction |= T(short_fraction_time)(v[times[i]]);
    if (short_fraction && T(kotlin_library)(v[M_CONTEXT])) {
        for (size_t i = 0; i < sizeof(times) / sizeof(times[0]); i++) {
            T_VALUE *fixed = T(kotlin_time)(v[times[i]] T_ENRICH_ARG);
            if (fixed == NULL)
                continue;
            /* Set anew, not changed in place: a batch's sentAt is one value shared by its events. */
            T_SET_NEW(T_ENRICH_X, ev, wanted[times[i]].key, fixed);
            v[times[i]] = fixed;
        }
    }
    T(correct_timestamp)(ev, v[M_TIMESTAMP], v[M_ORIGINAL_TIMESTAMP], v[M_SENT_AT], en->received_ms T_ENRICH_ARG);
    T_VALUE *ctx = v[M_CONTEXT];
    if (!T_IS_OBJECT(ctx)) {
        ctx = T_OBJECT_NEW(T_ENRICH_X);
        T_SET_LIT(T_ENRICH_X, ev, "context", ctx);
    }
    /* A server source's request comes from the server, for many users: its address is no user's
     * (it became every user's client_ip_address at Meta and their city the data centre's), so
     * its events have the context.ip they carry or none. */
    if (!en->trust_client_ip)
        T_SET_LIT(T_ENRICH_X, ctx, "ip", T(header_string)(en->client_ip T_ENRICH_ARG)); /* a header's bytes: checked */
    else if (T_OBJECT_GET(ctx, "ip") != NULL && !T_IS_STRING(T_OBJECT_GET(ctx, "ip")))
        T_OBJECT_DEL(ctx, "ip");
    T_VALUE *ua = T_OBJECT_GET(ctx, "userAgent");
    /* An empty one is none (an SDK that could not read its platform's): kept, the event would be
     * one without a user agent, which `bots: drop` drops. */
    if (en->user_agent != NULL && (!T_IS_STRING(ua) || T_STRING_LEN(ua) == 0) && !T_APP_AGENT(ev, en))
        T_SET_LIT(T_ENRICH_X, ctx, "userAgent", T(header_string)(en->user_agent T_ENRICH_ARG));
    return 0;
}

/* Undefined for the next inclusion (event_rules.h undefines the accessors this file shares). */
#undef T_APP_AGENT
#undef T_ENRICH
#undef T_ENRICH_ARG
#undef T_ENRICH_PARAM
#undef T_ENRICH_X
#undef T_FROM_APP
#undef T_OBJECT_NEW
#undef T_SET_COPY
#undef T_SET_LIT
#undef T_PLAIN_NEW
#undef T_STRINGN_NEW
#undef T_STRING_AT
