/*
 * The part of enrichment that reads and writes an event (device, os, browser, bots, location,
 * session, campaign, referrer), written once for both trees an event can be held in (issue 17):
 * gateway/enrichment.c includes this file twice, once with jansson's accessors
 * (sluice_enrichment_event) and once with json/jv.h's (sluice_enrichment_event_jv), so that the
 * two cannot drift. The includer defines:
 *
 *   E(name)                       a static function's name for this tree
 *   E_PUBLIC                      the public function's name
 *   E_VALUE                       json_t or sluice_jv_t
 *   E_PARAM, E_ARG                what making values needs besides the event (", a" for jv's
 *                                 arena, nothing for jansson's): the macros below may use `a`
 *   E_GET(o, key), E_DEL(o, key)  a member of an object (NULL when o is none), its removal
 *   E_IS_OBJECT, E_IS_STRING      a value's type (NULL is neither)
 *   E_STRING_IS(v, s)             1 when v is a string equal to the C string s (no copy: it
 *                                 cannot fail for memory)
 *   E_CSTR(v)                     string v as the C string enrich/'s parsers take, NULL for a
 *                                 non-string: jansson's text as it stands, which a C reader
 *                                 ends at its first NUL; a jv string (no NUL at its end) is
 *                                 copied up to the same point, so both trees give the same answers
 *   E_OBJECT_NEW(), E_STRING_NEW(s), E_INTEGER_NEW(i)   new values, NULL when they cannot be
 *                                 made (E_STRING_NEW: s not valid UTF-8, as json_string refuses)
 *   E_SET_NEW(o, key, v)          o[key] = v; nonzero (and nothing set) when v is NULL or o none
 *   E_ARRAY_SIZE, E_ARRAY_GET     an array's items (0 and NULL for a non-array)
 *   E_NORMALIZE(ev, c)            sluice_consent_normalize for this tree
 *   E_FROM_APP, E_APP_AGENT       sluice_event_from_app and sluice_event_app_agent for this tree
 *
 * Not a header: no include guard (it undefines the macros above at its end), nothing for other files.
 * Runs where gateway/enrichment.c's event step does: the request's loop thread.
 */

/* ------------------------------------------------------------------ helpers */

/* The object at ev.context.<key>, made when absent (NULL when a non-object is there). */
static E_VALUE *E(context_obj)(E_VALUE *ev, const char *key E_PARAM)
{
    E_VALUE *ctx = E_GET(ev, "context");
    if (ctx == NULL) {
        ctx = E_OBJECT_NEW();
        if (E_SET_NEW(ev, "context", ctx) != 0)
            return NULL;
    }
    if (!E_IS_OBJECT(ctx))
        return NULL;
    E_VALUE *o = E_GET(ctx, key);
    if (o == NULL) {
        o = E_OBJECT_NEW();
        if (E_SET_NEW(ctx, key, o) != 0)
            return NULL;
    }
    return E_IS_OBJECT(o) ? o : NULL;
}

/* Sets o.key to s when s is not empty and the client did not send o.key itself. */
static void E(fill)(E_VALUE *o, const char *key, const char *s E_PARAM)
{
    if (o != NULL && s != NULL && s[0] != '\0' && E_GET(o, key) == NULL)
        E_SET_NEW(o, key, E_STRING_NEW(s));
}

/* The string at ev.k1.k2 as E_CSTR gives it, or NULL. */
static const char *E(str2)(const E_VALUE *ev, const char *k1, const char *k2 E_PARAM)
{
    return E_CSTR(E_GET(E_GET(ev, k1), k2));
}

/* ------------------------------------------------------------------ the parts */

/* User agent and bots. 1 when the event is a bot to drop. */
static int E(user_agent)(sluice_enrichment_req_t *r, E_VALUE *ev E_PARAM)
{
    const sluice_enrich_config_t *c = &r->org->enrich;
    const char *ua = E(str2)(ev, "context", "userAgent" E_ARG);
    size_t len = ua != NULL ? strlen(ua) : 0;
    sluice_ua_result_t res, *parsed = NULL;
    sluice_ua_cache_t *cache = r->e->ua != NULL ? thread_cache(r->e, r->w->index) : NULL;
    /* A server's event that names no user agent has no visitor's to parse or to find missing
     * (the request's own is the server's, and is not copied into it): only the address ranges
     * judge it. Nor has an app's whose request came through an HTTP library (React Native's
     * OkHttp): the library's name was not copied into it either (sluice_event_app_agent). */
    int judge_missing = r->browser && !E_APP_AGENT(ev, r->en);
    if (cache != NULL && (len > 0 || judge_missing)) {
        int hit;
        /* One too long for the cache is parsed once per request, not per event: the header's,
         * given to each of a batch's 500 events, ran the regexes (0.7 ms) for every one. */
        if (len > SLUICE_UA_CACHE_KEY_MAX && r->long_ua != NULL && r->long_ua_len == len &&
            memcmp(r->long_ua, ua, len) == 0) {
            res = r->long_ua_res;
            hit = 1;
        } else {
            hit = sluice_ua_parse(r->e->ua, cache, ua, len, &res);
            if (len > SLUICE_UA_CACHE_KEY_MAX) {
                r->long_ua = h2o_strdup(&r->req->pool, ua, len).base;
                r->long_ua_len = len;
                r->long_ua_res = res;
            }
        }
        sluice_counter_add(hit == 1 ? &r->w->metrics.ua_cache_hits : &r->w->metrics.ua_cache_misses, 1);
        parsed = &res;
        if (r->browser) { /* the request's own hints, read once for all its events */
            if (!r->hints_read) {
                r->hints = (sluice_ua_hints_t){
                    .ch_ua = header(r->req, "sec-ch-ua"),
                    .full_version_list = header(r->req, "sec-ch-ua-full-version-list"),
                    .platform = header(r->req, "sec-ch-ua-platform"),
                    .platform_version = header(r->req, "sec-ch-ua-platform-version"),
                    .mobile = header(r->req, "sec-ch-ua-mobile"),
                    .model = header(r->req, "sec-ch-ua-model"),
                };
                r->hints_read = 1;
            }
            sluice_ua_apply_hints(&res, &r->hints);
        }
    }
    if (c->bots != SLUICE_BOTS_OFF) {
        sluice_bot_reason_t why =
            sluice_bots_detect(c, ua, len, parsed, E(str2)(ev, "context", "ip" E_ARG), judge_missing);
        if (why != SLUICE_BOT_NONE) {
            sluice_counter_add(&r->w->metrics.bots[c->bots], 1);
            if (c->bots == SLUICE_BOTS_DROP)
                return 1;
            if (c->bots == SLUICE_BOTS_FLAG) {
                /* The verdict is the gateway's: a null (or any non-object) there from the body
                 * read as "no bot" downstream, and the flag was not written. */
                E_VALUE *ctx = E_GET(ev, "context");
                if (E_IS_OBJECT(ctx) && !E_IS_OBJECT(E_GET(ctx, "bot")))
                    E_DEL(ctx, "bot");
                E_VALUE *bot = E(context_obj)(ev, "bot" E_ARG);
                E(fill)(bot, "reason", sluice_bots_reason_name(why) E_ARG);
                if (parsed != NULL && strcmp(parsed->browser, "Other") != 0)
                    E(fill)(bot, "name", parsed->browser E_ARG);
            }
        }
    }
    if (c->user_agent && parsed != NULL) {
        E_VALUE *device = E(context_obj)(ev, "device" E_ARG);
        E(fill)(device, "type", parsed->type E_ARG);
        E(fill)(device, "manufacturer", parsed->brand E_ARG);
        E(fill)(device, "model", parsed->model E_ARG);
        if (strcmp(parsed->device, "Other") != 0)
            E(fill)(device, "name", parsed->device E_ARG);
        E_VALUE *os = E(context_obj)(ev, "os" E_ARG);
        E(fill)(os, "name", parsed->os E_ARG);
        E(fill)(os, "version", parsed->os_version E_ARG);
        E_VALUE *browser = E(context_obj)(ev, "browser" E_ARG);
        E(fill)(browser, "name", parsed->browser E_ARG);
        E(fill)(browser, "version", parsed->browser_version E_ARG);
    }
    return 0;
}

/* Geolocation with the full address, before the data layer masks context.ip. */
static void E(geo)(sluice_enrichment_req_t *r, E_VALUE *ev E_PARAM)
{
    const char *ip = E(str2)(ev, "context", "ip" E_ARG);
    if (ip == NULL || strlen(ip) >= sizeof(r->geo_ip))
        return;
    if (strcmp(ip, r->geo_ip) != 0) {
        memcpy(r->geo_ip, ip, strlen(ip) + 1);
        r->geo_rc = sluice_geo_lookup(r->e->geo, ip, r->org->enrich.geo, &r->geo);
        sluice_counter_add(&r->w->metrics.geo[r->geo_rc == 1 ? 0 : 1], 1);
    }
    if (r->geo_rc != 1)
        return;
    E_VALUE *loc = E(context_obj)(ev, "location" E_ARG);
    E(fill)(loc, "country", r->geo.country E_ARG);
    E(fill)(loc, "countryCode", r->geo.country_code E_ARG);
    E(fill)(loc, "region", r->geo.region E_ARG);
    E(fill)(loc, "regionCode", r->geo.region_code E_ARG);
    E(fill)(loc, "city", r->geo.city E_ARG);
}

/* 1 when ev's context.consent.categories holds every one of need[0..n). */
static int E(has_categories)(const E_VALUE *ev, char *const *need, size_t n)
{
    const E_VALUE *cats = E_GET(E_GET(E_GET(ev, "context"), "consent"), "categories");
    for (size_t i = 0; i < n; i++) {
        int found = 0;
        size_t k;
        const E_VALUE *v;
        for (k = 0; k < E_ARRAY_SIZE(cats) && (v = E_ARRAY_GET(cats, k)); k++)
            found |= E_STRING_IS(v, need[i]);
        if (!found)
            return 0;
    }
    return 1;
}

/* 1 when the event carries every category the session cookie needs. */
static int E(session_consent)(const sluice_org_t *org, E_VALUE *ev E_PARAM)
{
    const sluice_enrich_config_t *c = &org->enrich;
    char *const *need = c->session_consent;
    size_t n = c->session_consent_count;
    if (!c->session_consent_set) {
        need = org->identity.cookie_consent_set ? org->identity.cookie_consent : org->consent.required;
        n = org->identity.cookie_consent_set ? org->identity.cookie_consent_count : org->consent.required_count;
    }
    if (n == 0)
        return 1;
    /* sluice.js's own form first; the other SDKs' forms only when it lacks a category. */
    if (E(has_categories)(ev, need, n))
        return 1;
    return E_NORMALIZE(ev, &org->consent) == 0 && E(has_categories)(ev, need, n);
}

static void E(session)(sluice_enrichment_req_t *r, E_VALUE *ev, sluice_reply_t *reply E_PARAM)
{
    const sluice_org_t *org = r->org;
    const sluice_enrich_config_t *c = &org->enrich;
    const char *domain =
        sluice_cookie_domain_for(org->identity.cookie_domain, r->req->authority.base, r->req->authority.len);
    if (!E(session_consent)(org, ev E_ARG)) {
        /* Without consent no session is kept; a cookie set before consent was withdrawn goes. */
        if (r->session_state == 0 && sluice_http_cookie(r->req, c->session_cookie).base != NULL) {
            char del[256];
            int n = sluice_cookie_format_expired(c->session_cookie, domain, 1, del, sizeof(del));
            if (n > 0)
                sluice_reply_add_cookie(r->req, reply, del, (size_t)n);
        }
        if (r->session_state == 0)
            r->session_state = -1;
        return;
    }
    if (r->session_state <= 0) {
        const sluice_keyring_t *kr = sluice_secrets_session(r->w->gw->secrets);
        unsigned t = r->w->index;
        sluice_session_cache_t *sc = NULL;
        if (t < r->e->nthreads) { /* this thread's slot only, as for the user-agent cache */
            if (r->e->scaches[t] == NULL)
                r->e->scaches[t] = sluice_session_cache_create(0);
            sc = r->e->scaches[t];
        }
        /* Every cookie of the name, not only the first: after a move from a host-only cookie to
         * cookie_domain the browser keeps both and sends the old one first, and reading only it
         * started a session per event once it had timed out. The one seen last wins. A few at
         * most: each unknown value costs an HMAC. */
        int have = 0;
        for (size_t i = 0; i < 4; i++) {
            h2o_iovec_t v = sluice_http_cookie_nth(r->req, c->session_cookie, i);
            sluice_session_t s;
            if (v.base == NULL)
                break;
            if (sluice_session_verify_cached(sc, kr, org->id, v.base, v.len, &s) == 0 &&
                (!have || s.last_s > r->session.last_s)) {
                r->session = s;
                have = 1;
            }
        }
        /* The session lives in a cookie, which an app's HTTP client mostly does not keep
         * (analytics-kotlin's and RudderStack's HttpURLConnection have no cookie store): each of
         * its requests was a new session, number 1 again, every flush counted as a visit. An app's
         * event that brings no session cookie gets none, nor a cookie: no session is better than
         * a wrong one (its SDK's own, RudderStack's context.sessionId, stays as sent). An app's
         * request has no Origin, which every browser sends with a POST: RudderStack's browser
         * SDK also sends a context.app, and its sessions stay as they were. */
        if (!have && E_FROM_APP(ev) && sluice_http_header_str(r->req, "origin").base == NULL) {
            r->session_state = -1;
            return;
        }
        r->prev = r->session;
        int started = sluice_session_advance(&r->session, have, r->en->received_ms / 1000, c->session_timeout_s);
        r->have_prev = have && started == 1;
        char value[SLUICE_SESSION_VALUE_MAX + 1], set[SLUICE_SESSION_VALUE_MAX + 256];
        if (started == 2) { /* the cookie the browser holds stays right */
            r->session_state = 1;
            goto write;
        }
        int vlen;
        if (started < 0 || (vlen = sluice_session_sign(kr, org->id, &r->session, value, sizeof(value))) < 0) {
            r->session_state = -1;
            return;
        }
        sluice_session_cache_put(sc, org->id, value, (size_t)vlen, &r->session);
        sluice_counter_add(&r->w->metrics.sessions_started, (uint64_t)started);
        /* The cookie lives as long as the anonymous id's; the timeout is inside it. */
        sluice_cookie_t ck = {.name = c->session_cookie,
                              .value = value,
                              .max_age_s = org->identity.cookie_max_age_days * SLUICE_COOKIE_DAY_S,
                              .domain = domain,
                              .http_only = 1};
        int n = sluice_cookie_format(&ck, set, sizeof(set));
        if (n > 0)
            sluice_reply_add_cookie(r->req, reply, set, (size_t)n);
        r->session_state = 1;
    }
write:;
    E_VALUE *ctx = E_GET(ev, "context");
    if (E_IS_OBJECT(ctx) && !E_IS_OBJECT(E_GET(ctx, "session")))
        E_DEL(ctx, "session"); /* the gateway's, whatever the client put there */
    /* The session the event happened in, by its own time (timestamp, corrected by sentAt), not
     * by when it arrived: an SDK's offline queue flushed after the timeout carries events of the
     * session the cookie held, and stamping them with the session their arrival began put them
     * hours before its start (GA4 wants an event's time inside its session). An event within the
     * timeout of the cookie's earlier session is stamped with it, even when it is also less than
     * the timeout before the new one's start: it happened before the new session began, minutes
     * after the earlier one's last event (a queue of 10:00 to 10:20 flushed at 10:45 was split in
     * two sessions at 10:15). Else an event less than the timeout before the session's start is
     * of that session (a batch's first events precede the request); one older happened in a
     * session no longer known, and gets none rather than a wrong one. */
    const sluice_session_t *in = &r->session;
    const char *ts = E_CSTR(E_GET(ev, "timestamp"));
    int64_t t_ms, tmo = (int64_t)c->session_timeout_s;
    if (ts != NULL && sluice_time_parse(ts, strlen(ts), 0, &t_ms) == 0 && t_ms / 1000 < in->start_s) {
        int64_t t = t_ms / 1000;
        if (r->have_prev && t >= r->prev.start_s - tmo && t <= r->prev.last_s + tmo) {
            in = &r->prev;
        } else if (t < in->start_s - tmo) {
            if (E_IS_OBJECT(ctx))
                E_DEL(ctx, "session"); /* nor the client's */
            return;
        }
    }
    E_VALUE *s = E(context_obj)(ev, "session" E_ARG);
    if (s == NULL)
        return;
    char start[SLUICE_TIME_TEXT_MAX];
    sluice_time_format(in->start_s * 1000, start);
    E_SET_NEW(s, "id", E_STRING_NEW(in->id));
    E_SET_NEW(s, "number", E_INTEGER_NEW(in->number));
    E_SET_NEW(s, "start", E_STRING_NEW(start));
}

static void E(campaign)(sluice_enrichment_req_t *r, E_VALUE *ev E_PARAM)
{
    const sluice_enrich_config_t *c = &r->org->enrich;
    E_VALUE *page = E_GET(E_GET(ev, "context"), "page");
    const char *url = E_CSTR(E_GET(page, "url"));
    /* Without context.page (or with empty strings there: no page), a page event's properties are
     * its page (Segment's page spec), as identity reads its click ids and the vendors its URL. A
     * track event's properties.url is whatever the event is about (a shared link, a product
     * page): its utm_* are someone else's campaign, not this visit's. */
    E_VALUE *type = E_GET(ev, "type");
    int page_event = E_STRING_IS(type, "page");
    if ((url == NULL || url[0] == '\0') && page_event)
        url = E(str2)(ev, "properties", "url" E_ARG);
    if (c->campaign) {
        sluice_campaign_t cp;
        if (sluice_campaign_parse(url, &cp) > 0) {
            E_VALUE *o = E(context_obj)(ev, "campaign" E_ARG);
            E(fill)(o, "name", cp.name E_ARG);
            E(fill)(o, "source", cp.source E_ARG);
            E(fill)(o, "medium", cp.medium E_ARG);
            E(fill)(o, "term", cp.term E_ARG);
            E(fill)(o, "content", cp.content E_ARG);
            E(fill)(o, "id", cp.id E_ARG);
        }
    }
    if (c->referrer) {
        const char *ref = E_CSTR(E_GET(page, "referrer"));
        if ((ref == NULL || ref[0] == '\0') && page_event)
            ref = E(str2)(ev, "properties", "referrer" E_ARG);
        if (ref != NULL && ref[0] != '\0') {
            const char *source;
            sluice_referrer_medium_t m = sluice_referrer_classify(c, ref, url, &source);
            E_VALUE *o = E(context_obj)(ev, "referrer" E_ARG);
            E(fill)(o, "medium", sluice_referrer_medium_name(m) E_ARG);
            E(fill)(o, "source", source E_ARG);
        }
    }
}

int E_PUBLIC(sluice_enrichment_req_t *r, E_VALUE *ev, sluice_reply_t *reply E_PARAM)
{
    const sluice_enrich_config_t *c = &r->org->enrich;
    if (!c->enabled || r->e == NULL)
        return 0;
    if ((c->user_agent || c->bots != SLUICE_BOTS_OFF) && E(user_agent)(r, ev E_ARG))
        return 1;
    if (c->geo != SLUICE_GEO_OFF && r->e->geo != NULL)
        E(geo)(r, ev E_ARG);
    if (c->session && r->browser)
        E(session)(r, ev, reply E_ARG);
    if (c->campaign || c->referrer)
        E(campaign)(r, ev E_ARG);
    return 0;
}

#undef E
#undef E_PUBLIC
#undef E_VALUE
#undef E_PARAM
#undef E_ARG
#undef E_GET
#undef E_DEL
#undef E_IS_OBJECT
#undef E_IS_STRING
#undef E_CSTR
#undef E_STRING_IS
#undef E_OBJECT_NEW
#undef E_STRING_NEW
#undef E_INTEGER_NEW
#undef E_SET_NEW
#undef E_ARRAY_SIZE
#undef E_ARRAY_GET
#undef E_NORMALIZE
#undef E_FROM_APP
#undef E_APP_AGENT
