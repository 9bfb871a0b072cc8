/*
 * What the asynchronous part of identity (sluice_identity_run, step 3) reads from and writes into
 * a request's events, written once for both trees the events can be held in (issue 17):
 * identity/identity.c includes this file twice, once with jansson's accessors (job->events) and
 * once with json/jv.h's (job->events_jv, changes made in job->arena), so that the two cannot
 * drift: the same consent read, the same messageIds probed and ids looked up, the same id a token
 * adopts, the same links written to Redis, the same context.identity, vendorIds and clickIds, the
 * same cookies. What Redis answered (job->known) and an xd/redeem request's consent
 * (job->consent) stay jansson values on both: they are the job's, not the events'. The includer
 * defines:
 *
 *   T_VALUE                      the node type (json_t, sluice_jv_t)
 *   T(name)                      the tree's name for a static helper of this file
 *   T_X(job)                     the tree's context (jv: job->arena), passed as x below
 *   T_COUNT(job), T_EVENT(job, i)   the number of events and the i-th
 *   T_IS_STRING T_IS_OBJECT (v)
 *   T_GET(o, key), T_DEL(o, key)
 *   T_ARRAY_SIZE(v), T_ARRAY_GET(v, i)   (size 0 for a value that is no array)
 *   T_PLAIN(x, v)                a NUL-terminated copy (jv: in the arena) of a string without NUL
 *                                bytes, else NULL (plain_string)
 *   T_IS_PLAIN(v)                T_PLAIN(x, v) != NULL, without a copy
 *   T_CSTR(x, v)                 a string as a C string (stopping at its first NUL, as
 *                                json_string_value is read), else NULL
 *   T_CSTR_IS(v, s)              1 when T_CSTR of v would be the C string s (no copy)
 *   T_SAME_STRING(v, w)          json_equal of v and the string w
 *   T_ENSURE_OBJECT(x, o, key)   o[key], made a new empty object first unless it is one
 *   T_SET_STRING(x, o, key, s)   o[key] = a new string of the C string s (nothing when it is not UTF-8)
 *   T_SET_TRUE(x, o, key)        o[key] = true
 *   T_SET_SAME(x, o, key, v)     o[key] = v, a value of the event (jansson: shared; jv: a copy)
 *   T_SET_KNOWN(x, o, key, j)    o[key] = j, a string of job->known (a jansson value)
 *   T_OBJECT(x), T_SIZE(o)       a new empty object; an object's member count
 *   T_UPDATE(x, o, ids)          o gets every member of ids, in order
 *   T_SET_NEW(x, o, key, v)      o[key] = v, a new value
 *   T_COPY(x, v), T_DROP(v)      a deep copy; gives back a value this file made
 *   T_HOLD(v), T_RELEASE(v)      keep v alive while it is replaced in its object (jansson's refcount)
 *
 * Not a header: no include guard (it undefines the macros at its end for the next inclusion),
 * nothing for other files. Runs where identity/identity.c does.
 */

/* 1 when the categories array cats holds cat. */
static int T(has_category)(const T_VALUE *cats, const char *cat)
{
    for (size_t i = 0; i < T_ARRAY_SIZE(cats); i++)
        if (T_CSTR_IS(T_ARRAY_GET(cats, i), cat))
            return 1;
    return 0;
}

/* The categories of event e, or job->consent (a jansson array) when the request has no event. */
static int T(carries)(const sluice_identity_job_t *job, size_t count, const T_VALUE *cats, const char *cat)
{
    return count > 0 ? T(has_category)(cats, cat) : has_category_json(job->consent, cat);
}

/* Whether this request may set a cookie needing the categories required[0..n) and extra[0..m):
 * yes when every event carries them all (or nothing is needed), no when one does not, unknown
 * when there is no event and no request consent to say. */
static int T(consent_for)(const sluice_identity_job_t *job, char *const *required, size_t n, const char *const *extra,
                          size_t m)
{
    if (n == 0 && m == 0)
        return CONSENT_YES;
    size_t count = T_COUNT(job);
    if (count == 0 && job->consent == NULL)
        return CONSENT_UNKNOWN;
    for (size_t e = 0; e < (count > 0 ? count : 1); e++) {
        const T_VALUE *cats =
            count > 0 ? T_GET(T_GET(T_GET(T_EVENT(job, e), "context"), "consent"), "categories") : NULL;
        for (size_t i = 0; i < n; i++)
            if (!T(carries)(job, count, cats, required[i]))
                return CONSENT_NO;
        for (size_t i = 0; i < m; i++)
            if (!T(carries)(job, count, cats, extra[i]))
                return CONSENT_NO;
    }
    return CONSENT_YES;
}

/* 1 when the org's consent policy keeps ev's identity: the policy allows every event, or ev
 * carries every required category (the data layer's test, on the same normalised list). */
static int T(event_consents)(const sluice_identity_job_t *job, const T_VALUE *ev)
{
    const sluice_consent_config_t *c = &job->org->consent;
    if (c->policy == SLUICE_CONSENT_ALLOW)
        return 1;
    const T_VALUE *cats = T_GET(T_GET(T_GET(ev, "context"), "consent"), "categories");
    for (size_t i = 0; i < c->required_count; i++)
        if (!T(has_category)(cats, c->required[i]))
            return 0;
    return 1;
}

/* The anonymous-id cookie's consent: identity.cookie_consent, else the org's required categories. */
static int T(sid_consent)(const sluice_identity_job_t *job)
{
    const sluice_org_t *org = job->org;
    if (org->identity.cookie_consent_set)
        return T(consent_for)(job, org->identity.cookie_consent, org->identity.cookie_consent_count, NULL, 0);
    return T(consent_for)(job, org->consent.required, org->consent.required_count, NULL, 0);
}

/* A vendor cookie's consent: the anonymous-id cookie's, and the consent category of every enabled
 * integration of that vendor. */
static int T(vendor_consent)(const sluice_identity_job_t *job, const char *vendor)
{
    const sluice_org_t *org = job->org;
    const char *extra[16];
    size_t m = 0;
    for (size_t i = 0; i < org->integration_count && m < sizeof(extra) / sizeof(extra[0]); i++) {
        const sluice_integration_t *it = &org->integrations[i];
        if (it->enabled && it->vendor_name != NULL && strcmp(it->vendor_name, vendor) == 0 && it->consent != NULL)
            extra[m++] = it->consent;
    }
    int sid = T(sid_consent)(job);
    int own = T(consent_for)(job, NULL, 0, extra, m);
    if (sid == CONSENT_NO || own == CONSENT_NO)
        return CONSENT_NO;
    return sid == CONSENT_YES && own == CONSENT_YES ? CONSENT_YES : CONSENT_UNKNOWN;
}

/* EXISTS for the messageId of every event (phase 0). */
static void T(start_dedup)(sluice_identity_job_t *job)
{
    for (size_t i = 0; i < T_COUNT(job); i++) {
        const char *mid = T_CSTR(T_X(job), T_GET(T_EVENT(job, i), "messageId"));
        char key[512];
        int klen = mid ? dedup_key(key, sizeof(key), job->t, job->org, mid) : -1;
        if (klen < 0)
            continue;
        const char *argv[2] = {"EXISTS", key};
        size_t lens[2] = {6, (size_t)klen};
        send_probe(job, i, on_exists, 2, argv, lens);
    }
}

/* The events' anonymous ids looked up (phase 1), after the id the request proves. */
static void T(lookup_events)(sluice_identity_job_t *job, int skip)
{
    for (size_t i = 0; i < T_COUNT(job); i++)
        lookup(job, T_PLAIN(T_X(job), T_GET(T_EVENT(job, i), "anonymousId")), skip);
}

/* First redemption: the token's anonymous id becomes this domain's (see docs/identity.md,
 * "adopt, and remember what it replaced"). */
static void T(adopt)(sluice_identity_job_t *job)
{
    if (job->token_outcome != SLUICE_TOKEN_REDEEMED)
        return;
    const char *dfid = job->claims.dfid;
    for (size_t i = 0; i < T_COUNT(job); i++) {
        T_VALUE *ev = T_EVENT(job, i);
        T_VALUE *ident = T_ENSURE_OBJECT(T_X(job), T_ENSURE_OBJECT(T_X(job), ev, "context"), "identity");
        T_SET_TRUE(T_X(job), ident, "crossDomain");
        T_VALUE *anon = T_GET(ev, "anonymousId");
        int is = T_IS_STRING(anon);
        int minted_here = is && job->visitor_minted && T_CSTR_IS(anon, job->anonymous_id);
        if (is && !minted_here && !T_CSTR_IS(anon, dfid))
            T_SET_SAME(T_X(job), ident, "linkedFrom", anon);
        T_SET_STRING(T_X(job), ev, "anonymousId", dfid);
    }
    /* Only an id the request proved is replaced (and remembered as replaced): an id the caller
     * merely names, in the body or an unsigned cookie, is never linked to the token's. */
    if (job->proof == SLUICE_IDENTITY_PROOF_COOKIE && strcmp(job->anonymous_id, dfid) != 0)
        memcpy(job->replaced, job->anonymous_id, sizeof(job->replaced));
    memcpy(job->anonymous_id, dfid, strlen(dfid) + 1);
    job->visitor_minted = 0;
    job->proof = SLUICE_IDENTITY_PROOF_TOKEN;
}

/* Vendor cookies the org enabled: read when the browser has them, minted and set otherwise
 * (not HttpOnly, so the vendors' own pixels on the page share them). _fbc follows the latest
 * click: a different fbclid in the page URL replaces it, as Meta's pixel does. Returns the
 * context.vendorIds object, or NULL. */
static T_VALUE *T(vendor_ids)(sluice_identity_job_t *job)
{
    const sluice_identity_config_t *idc = &job->org->identity;
    int meta = 0, ga4 = 0;
    for (size_t i = 0; i < idc->vendor_cookie_count; i++) {
        meta |= strcmp(idc->vendor_cookies[i], "meta") == 0;
        ga4 |= strcmp(idc->vendor_cookies[i], "ga4") == 0;
    }
    /* Without consent for a vendor's cookie nothing of it is minted, read or passed on; a
     * refusal deletes what the browser has. */
    int meta_ok = meta ? T(vendor_consent)(job, "meta") : CONSENT_NO;
    int ga4_ok = ga4 ? T(vendor_consent)(job, "ga4") : CONSENT_NO;
    if (meta && meta_ok == CONSENT_NO) {
        if (job->had_fbp)
            expire_cookie(job, "_fbp", 0);
        if (job->had_fbc)
            expire_cookie(job, "_fbc", 0);
    }
    if (ga4 && ga4_ok == CONSENT_NO && job->had_ga)
        expire_cookie(job, "_ga", 0);
    meta = meta && meta_ok == CONSENT_YES;
    ga4 = ga4 && ga4_ok == CONSENT_YES;
    sluice_identity_vendor_ids_t *vd = meta || ga4 ? vendor_block(job) : NULL;
    if (vd == NULL)
        return NULL;
    T_VALUE *ids = T_OBJECT(T_X(job));
    if (meta) {
        if (vd->fbp[0] == '\0' && sluice_vendor_fbp(job->now_ms, vd->fbp, sizeof(vd->fbp)) == 0)
            add_cookie(job, "_fbp", vd->fbp, SLUICE_VENDOR_FBP_MAX_AGE_S, 0);
        if (vd->fbclid[0] != '\0') {
            const char *click = vd->fbc[0] != '\0' ? sluice_vendor_fbc_click(vd->fbc) : NULL;
            char fresh[SLUICE_VENDOR_VALUE_MAX + 1];
            if ((click == NULL || strcmp(click, vd->fbclid) != 0) &&
                sluice_vendor_fbc(job->now_ms, vd->fbclid, fresh, sizeof(fresh)) == 0) {
                memcpy(vd->fbc, fresh, strlen(fresh) + 1);
                add_cookie(job, "_fbc", vd->fbc, SLUICE_VENDOR_FBC_MAX_AGE_S, 0);
            }
        }
        if (vd->fbp[0] != '\0')
            T_SET_STRING(T_X(job), ids, "fbp", vd->fbp);
        if (vd->fbc[0] != '\0')
            T_SET_STRING(T_X(job), ids, "fbc", vd->fbc);
    }
    if (ga4) {
        if (vd->ga[0] == '\0' && sluice_vendor_ga(job->now_ms / 1000, vd->ga, sizeof(vd->ga)) == 0)
            add_cookie(job, "_ga", vd->ga, SLUICE_VENDOR_GA_MAX_AGE_S, 0);
        if (vd->ga[0] != '\0')
            T_SET_STRING(T_X(job), ids, "ga", vd->ga);
        /* gtag's sessions, under the consent _ga needs: GA4's integration of that stream puts
         * the events in gtag's session rather than in a second one (vendors/ga4.c). */
        for (size_t k = 0; k < vd->ga_stream_count; k++)
            T_SET_STRING(T_X(job), ids, vd->ga_stream[k], vd->ga_session[k]);
    }
    if (T_SIZE(ids) == 0) {
        T_DROP(ids);
        return NULL;
    }
    return ids;
}

/* An event whose id a token replaced earlier (Redis remembers it) takes the adopted id, with
 * linkedFrom saying which id it arrived with. Returns what the lookups found for the id it
 * arrived with (owned by job->known), or NULL. */
static json_t *T(resolve)(sluice_identity_job_t *job, T_VALUE *ev)
{
    T_VALUE *anon = T_GET(ev, "anonymousId");
    const char *a = T_PLAIN(T_X(job), anon);
    json_t *entry = a != NULL && job->known != NULL ? json_object_get(job->known, a) : NULL;
    const char *m = adopted_for(job, a);
    if (m == NULL)
        return entry;
    T_HOLD(anon);
    T_SET_STRING(T_X(job), ev, "anonymousId", m);
    T_VALUE *ident = T_ENSURE_OBJECT(T_X(job), T_ENSURE_OBJECT(T_X(job), ev, "context"), "identity");
    T_VALUE *from = T_GET(ident, "linkedFrom");
    if (from == NULL)
        T_SET_SAME(T_X(job), ident, "linkedFrom", anon);
    else if (T_SAME_STRING(from, T_GET(ev, "anonymousId")))
        T_DEL(ident, "linkedFrom"); /* a round trip back to where the id came from */
    T_RELEASE(anon);
    return entry;
}

/* identify and alias record links; other events without a userId learn the one known for the
 * id they arrived with or their final id (also from an identify earlier in the same batch). */
static void T(link_or_stamp)(sluice_identity_job_t *job, T_VALUE *ev, json_t *looked_up)
{
    T_VALUE *type = T_GET(ev, "type");
    const char *uid = T_PLAIN(T_X(job), T_GET(ev, "userId"));
    const char *anon = T_PLAIN(T_X(job), T_GET(ev, "anonymousId"));
    T_VALUE *ident = T_GET(T_GET(ev, "context"), "identity");
    const char *from = T_PLAIN(T_X(job), T_GET(ident, "linkedFrom"));
    if (uid != NULL) {
        /* An event the consent policy drops or strips links nothing: its userId never reaches
         * Kafka, so Redis must not keep it to stamp on the visitor's later events. */
        if (!T(event_consents)(job, ev))
            return;
        /* Linked as the envelope will carry it: an org that hashes userId kept the raw id in
         * Redis, for link_ttl_days, out of reach of its own data layer. */
        char form[65];
        int f = job->user_form != NULL ? job->user_form(job->org, uid, form) : 0;
        if (f < 0)
            return; /* the data layer removes this userId: there is nothing to link */
        if (f > 0)
            uid = form;
        if (T_CSTR_IS(type, "identify") && anon != NULL) {
            /* Under the final id and the id the visitor's tag still sends, so that one lookup of
             * either finds it. */
            write_link(job, anon, "userId", uid);
            write_link(job, from, "userId", uid);
            if (job->known == NULL)
                job->known = json_object();
            json_t *entry = ensure_object(job->known, anon);
            json_object_set_new(entry, "userId", json_string(uid));
        } else if (T_CSTR_IS(type, "alias")) {
            write_link(job, T_PLAIN(T_X(job), T_GET(ev, "previousId")), "userId", uid);
        }
        return;
    }
    json_t *user = json_object_get(looked_up, "userId");
    if (user == NULL)
        user = known(job, anon, "userId");
    if (user != NULL)
        T_SET_KNOWN(T_X(job), T_ENSURE_OBJECT(T_X(job), T_ENSURE_OBJECT(T_X(job), ev, "context"), "identity"), "userId",
                    user);
}

/* 1 when ev may have its click ids of vendor kept and restored: the org has an enabled
 * integration of that vendor, ev carries the consent category of each such integration, and the
 * org's consent policy keeps ev's identity. Without a vendor to send it to, a click id is not
 * kept at all. */
static int T(click_consent)(const sluice_identity_job_t *job, const T_VALUE *ev, const char *vendor)
{
    const sluice_org_t *org = job->org;
    const T_VALUE *cats = T_GET(T_GET(T_GET(ev, "context"), "consent"), "categories");
    int any = 0;
    for (size_t i = 0; i < org->integration_count; i++) {
        const sluice_integration_t *it = &org->integrations[i];
        if (!it->enabled || it->vendor_name == NULL || strcmp(it->vendor_name, vendor) != 0)
            continue;
        if (it->consent != NULL && !T(has_category)(cats, it->consent))
            return 0;
        any = 1;
    }
    return any && T(event_consents)(job, ev);
}

/* Click ids across pages: a click id in ev (its page URL's, or one the site sent) is kept for
 * the visitor, with this request's time as the click's; an event without one gets those kept and
 * still within their vendor's window, in context.clickIds (and Meta's as
 * context.vendorIds.fbc "fb.1.<click ms>.<fbclid>", unless the _fbc cookie gave one), so that a
 * purchase pages after the landing page reaches the vendors with its click. */
static void T(keep_clicks)(sluice_identity_job_t *job, T_VALUE *ev, json_t *looked_up)
{
    if (job->t->redis == NULL)
        return;
    T_VALUE *ids = T_GET(T_GET(ev, "context"), "clickIds");
    /* Most requests carry no click id and have none kept: without clickIds in ev and without a
     * click in what Redis answered or this request wrote (job->clicks_known), nothing is kept,
     * restored or removed, and the nine lookups per event below are not made. */
    if (!T_IS_OBJECT(ids) && !job->clicks_known)
        return;
    const char *anon = T_PLAIN(T_X(job), T_GET(ev, "anonymousId"));
    if (anon == NULL)
        return;
    /* The visitor's entry found once per event, and read once, rather than per click id: a write
     * below changes only its own click's field, which is read before it. */
    const char *kept_all[KEPT_CLICKS];
    kept_click_values(job->known != NULL ? json_object_get(job->known, anon) : NULL, looked_up, kept_all);
    int family_fresh = 0;
    for (size_t k = 0; k < KEPT_CLICKS; k++)
        if (kept_clicks[k].family && T_IS_PLAIN(T_GET(ids, kept_clicks[k].name)) &&
            T(click_consent)(job, ev, kept_clicks[k].vendor) && !click_covered(job, k))
            family_fresh = 1;
    const char *restore[KEPT_CLICKS] = {NULL};
    int64_t restore_ms[KEPT_CLICKS] = {0}, family_ms = -1;
    for (size_t k = 0; k < KEPT_CLICKS; k++) {
        const kept_click_t *kc = &kept_clicks[k];
        const char *fresh = T_PLAIN(T_X(job), T_GET(ids, kc->name));
        const char *kept_id = NULL, *kept = kept_all[k];
        int64_t ms = kept_click_parse(kept, &kept_id);
        if (fresh == NULL && (kept == NULL || kept[0] == '\0'))
            continue;
        /* Past the vendor's window a kept click serves nothing, and the link hash lives for
         * link_ttl_days (400 by default): it is removed the first time it is seen old, as for a
         * consent withdrawn, rather than kept a year for no purpose. */
        int expired = fresh == NULL && ms >= 0 && job->now_ms - ms > kc->window_days * 86400000LL;
        if (expired || !T(click_consent)(job, ev, kc->vendor) || click_covered(job, k)) {
            /* A consent withdrawn (or the vendor's integration gone) also removes what was kept,
             * as a refusal expires the vendor cookies: HSET to "" (the ACL of docs/identity.md
             * allows no HDEL), which reads as nothing kept. So does a data-layer rule on the click
             * id: Redis would keep for the vendor's window the value the org keeps out of Kafka. */
            if (kept != NULL && kept[0] != '\0') {
                write_link(job, anon, kc->field, "");
                remember_click(job, anon, kc->field, "");
            }
            continue;
        }
        if (fresh != NULL) {
            /* The same click seen again (a reload of the landing page) keeps its first time, as
             * Meta's pixel keeps _fbc for an fbclid it already has. */
            if (ms >= 0 && strcmp(kept_id, fresh) == 0)
                continue;
            char value[32 + SLUICE_CLICK_ID_MAX + 1];
            int n = snprintf(value, sizeof(value), "%lld:%s", (long long)job->now_ms, fresh);
            if (n <= 0 || (size_t)n >= sizeof(value))
                continue;
            write_link(job, anon, kc->field, value);
            remember_click(job, anon, kc->field, value);
            continue;
        }
        if (ms < 0 || (kc->family && family_fresh) || job->now_ms - ms > kc->window_days * 86400000LL)
            continue;
        restore[k] = kept_id;
        restore_ms[k] = ms;
        if (kc->family && ms > family_ms)
            family_ms = ms;
    }
    for (size_t k = 0; k < KEPT_CLICKS; k++) {
        if (restore[k] == NULL || (kept_clicks[k].family && restore_ms[k] != family_ms))
            continue;
        T_VALUE *ctx = T_ENSURE_OBJECT(T_X(job), ev, "context");
        ids = T_ENSURE_OBJECT(T_X(job), ctx, "clickIds");
        T_SET_STRING(T_X(job), ids, kept_clicks[k].name, restore[k]);
        T_VALUE *vids = T_GET(ctx, "vendorIds");
        char fbc[SLUICE_VENDOR_VALUE_MAX + 1];
        if (strcmp(kept_clicks[k].name, "fbclid") == 0 && !T_IS_PLAIN(T_GET(vids, "fbc")) &&
            sluice_vendor_fbc(restore_ms[k], restore[k], fbc, sizeof(fbc)) == 0)
            T_SET_STRING(T_X(job), T_ENSURE_OBJECT(T_X(job), ctx, "vendorIds"), "fbc", fbc);
    }
}

/* The anonymous-id cookie of a browser request, as consent allows. */
static void T(visitor_cookie)(sluice_identity_job_t *job)
{
    const sluice_identity_config_t *idc = &job->org->identity;
    if (job->anonymous_id[0] == '\0' && sluice_id_mint(job->anonymous_id) == 0) {
        job->visitor_minted = 1;
        if (job->signs)
            job->proof = SLUICE_IDENTITY_PROOF_MINTED;
    }
    if (job->signs && job->proof != SLUICE_IDENTITY_PROOF_COOKIE && job->proof != SLUICE_IDENTITY_PROOF_CLAIMED &&
        job->proof != SLUICE_IDENTITY_PROOF_MINTED && job->proof != SLUICE_IDENTITY_PROOF_TOKEN)
        job->anonymous_id[0] = '\0'; /* nothing proven: nothing to put in the cookie or to tell */
    int consent = T(sid_consent)(job);
    if (consent == CONSENT_NO && job->had_sid)
        expire_cookie(job, idc->cookie_name, 1);
    if (consent != CONSENT_YES || job->anonymous_id[0] == '\0')
        return;
    unsigned max_age = idc->cookie_max_age_days * SLUICE_COOKIE_DAY_S;
    if (!job->signs) {
        add_cookie(job, idc->cookie_name, job->anonymous_id, max_age, 1);
        return;
    }
    char value[SLUICE_ID_MAX + SLUICE_COOKIE_SIG_LEN + 1];
    if (sluice_cookie_sign(job->t->keys->cookies, job->org->id, job->anonymous_id, value, sizeof(value)) < 0)
        return;
    add_cookie(job, idc->cookie_name, value, max_age, 1);
    /* A claim just set its key. The browser of a forgotten visitor keeps its cookie (its events
     * stay recognised, and dropped), but the claim forget deleted is not renewed. */
    if (job->proof != SLUICE_IDENTITY_PROOF_CLAIMED && !forgotten(job, job->anonymous_id))
        keep_claim(job->t, job->org, job->anonymous_id);
}

static void T(finish)(sluice_identity_job_t *job)
{
    T_VALUE *vendor = NULL;
    if (job->browser) {
        T(visitor_cookie)(job);
        vendor = T(vendor_ids)(job);
    }
    /* A token adopted this request: remember, for the ids the visitor and the events arrived
     * with, which id replaced them (once per distinct id in a row; batches repeat one id). */
    const char *remembered = NULL;
    if (job->replaced[0] != '\0' && job->anonymous_id[0] != '\0' && strcmp(job->replaced, job->anonymous_id) != 0) {
        write_link(job, job->replaced, "anonymousId", job->anonymous_id);
        remembered = job->replaced;
    }
    for (size_t i = 0; i < T_COUNT(job); i++) {
        T_VALUE *ev = T_EVENT(job, i);
        json_t *looked_up = T(resolve)(job, ev);
        if (vendor != NULL) {
            T_VALUE *ctx = T_ENSURE_OBJECT(T_X(job), ev, "context");
            T_VALUE *cur = T_GET(ctx, "vendorIds");
            if (T_IS_OBJECT(cur))
                T_UPDATE(T_X(job), cur, vendor);
            else
                T_SET_NEW(T_X(job), ctx, "vendorIds", T_COPY(T_X(job), vendor));
        }
        T_VALUE *ident = T_GET(T_GET(ev, "context"), "identity");
        const char *from = T_PLAIN(T_X(job), T_GET(ident, "linkedFrom"));
        const char *anon = T_PLAIN(T_X(job), T_GET(ev, "anonymousId"));
        if (job->token_outcome == SLUICE_TOKEN_REDEEMED && from != NULL && anon != NULL &&
            (remembered == NULL || strcmp(remembered, from) != 0)) {
            write_link(job, from, "anonymousId", anon);
            remembered = from;
        }
        T(link_or_stamp)(job, ev, looked_up);
        T(keep_clicks)(job, ev, looked_up);
    }
    T_DROP(vendor);
}

#undef T
#undef T_VALUE
#undef T_X
#undef T_COUNT
#undef T_EVENT
#undef T_IS_STRING
#undef T_IS_OBJECT
#undef T_GET
#undef T_DEL
#undef T_ARRAY_SIZE
#undef T_ARRAY_GET
#undef T_PLAIN
#undef T_IS_PLAIN
#undef T_CSTR
#undef T_CSTR_IS
#undef T_SAME_STRING
#undef T_ENSURE_OBJECT
#undef T_SET_STRING
#undef T_SET_TRUE
#undef T_SET_SAME
#undef T_SET_KNOWN
#undef T_OBJECT
#undef T_SIZE
#undef T_UPDATE
#undef T_SET_NEW
#undef T_COPY
#undef T_DROP
#undef T_HOLD
#undef T_RELEASE
