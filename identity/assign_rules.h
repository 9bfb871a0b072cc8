/*
 * The synchronous part of an event's identity (the body's `_dft` of step 1, step 2 and the scrub of
 * a refused event), written once for both trees an event can be held in (issue 17):
 * identity/identity.c includes this file twice, once with jansson's accessors
 * (sluice_identity_assign, sluice_identity_scrub) and once with json/jv.h's
 * (sluice_identity_assign_jv, sluice_identity_scrub_jv), so that the two cannot drift: the same
 * token taken, the same click ids, the same URLs scrubbed, the same anonymous id. Only how a value
 * is read or changed differs, and that is the macros below, which the includer defines:
 *
 *   T_VALUE                     the node type (json_t, sluice_jv_t)
 *   T(name)                     the tree's name for a static helper of this file
 *   T_ASSIGN, T_SCRUB           the public functions' names
 *   T_XP, T_XA                  ", parameter" and ", argument" of the tree's context (jv's arena,
 *                               where its changes are made), or nothing
 *   T_IS_STRING T_IS_OBJECT (v)
 *   T_STRING_VALUE(v), T_STRING_LEN(v)   a string's bytes (not NUL-terminated for jv) and length
 *   T_PLAIN(x, v)               a NUL-terminated copy (jv: in the arena) of a string without NUL
 *                               bytes, else NULL (plain_string)
 *   T_PLAIN_IS(v, s)            1 when T_PLAIN of v would be the C string s
 *   T_GET(o, key), T_DEL(o, key)
 *   T_EACH_MEMBER(o, it)        a loop over object o's members, it naming the current one for:
 *   T_IT_KEY(o, it), T_IT_KEY_LEN(o, it), T_IT_VALUE(o, it)   its key's bytes, their length, its value
 *   T_SET_STRING(x, o, key, s)  o[key] = a new string of the C string s (nothing when it is not
 *                               UTF-8; position kept when key is there)
 *   T_SET_NEW(x, o, key, v)     o[key] = v, a new value
 *   T_ENSURE_OBJECT(x, o, key) o[key], made a new empty object first unless it is one
 *   T_CLICK_IDS(x, url)         sluice_click_ids of url as a new object of the tree, or NULL
 *   T_UPDATE(o, ids), T_DROP(v) o gets every member of ids, in order; gives back the new ids
 *
 * Not a header: no include guard (it undefines the macros at its end for the next inclusion),
 * nothing for other files. Runs where identity/identity.c does.
 */

/* Takes holder[key] as the request's token (the first one found wins) and removes it. */
static void T(take_token_field)(sluice_identity_job_t *job, T_VALUE *holder, const char *key)
{
    T_VALUE *v = T_GET(holder, key);
    if (v == NULL)
        return;
    if (T_IS_STRING(v))
        take_token_text(job, T_STRING_VALUE(v), T_STRING_LEN(v));
    else if (job->token_state == 0)
        job->token_state = 2;
    T_DEL(holder, key); /* a bearer credential: never forwarded */
}

/* Removes `_dft=` from the URL string v, obj[key] (a token in a landing URL must not reach Kafka
 * through context.page.url, .search or .referrer of this or the next page), and the user
 * information of its authority: a page opened as https://user:password@staging.shop/ (basic-auth
 * staging sites) has the password in location.href, and a server may send any URL. Browsers
 * already strip it from referrers; no vendor takes it. */
static void T(scrub)(T_VALUE *obj, const char *key, T_VALUE *v T_XP)
{
    if (!T_IS_STRING(v))
        return;
    /* Read in place (on jv, T_PLAIN would copy every URL into the arena first): only a URL with a
     * query or an '@' can change, and one holding a NUL byte is left as sent (plain_string's
     * rule). The rest is copied once, to be changed, on the stack unless it is long. */
    const char *s = T_STRING_VALUE(v);
    size_t n = T_STRING_LEN(v);
    if ((memchr(s, '?', n) == NULL && memchr(s, '@', n) == NULL) || memchr(s, '\0', n) != NULL)
        return;
    char small[1024];
    char *copy = n < sizeof(small) ? small : malloc(n + 1);
    if (copy == NULL)
        return;
    memcpy(copy, s, n);
    copy[n] = '\0';
    if (sluice_url_remove_param(copy, "_dft") + (size_t)sluice_url_remove_userinfo(copy) > 0) {
        T_SET_STRING(T_XA_, obj, key, copy);
        /* The removal shifts the URL's tail over the token or password: their bytes may be left
         * past the new end. Wiped as the token's own buffer is (page_url). */
        sluice_secure_zero(copy, n + 1);
    }
    if (copy != small)
        free(copy);
}

/* The URL fields of a page: Segment's, and RudderStack's browser SDK 3 copies location.href,
 * query and fragment included, into tab_url (of context.page and of a page call's properties)
 * besides url and search, and keeps the session's first referrer as initial_referrer. Found in
 * one pass over page's members: a page (or an event's properties) holds a few, and five look-ups
 * by name cost more than the pass. A scrub changes only its own member's value, in its place. */
static void T(scrub_page)(T_VALUE *page T_XP)
{
    static const struct {
        const char *name;
        size_t len;
    } keys[] = {{"url", 3}, {"search", 6}, {"referrer", 8}, {"tab_url", 7}, {"initial_referrer", 16}};
    T_EACH_MEMBER(page, it)
    {
        size_t n = T_IT_KEY_LEN(page, it);
        const char *k = T_IT_KEY(page, it);
        for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
            if (n == keys[i].len && memcmp(k, keys[i].name, n) == 0) {
                T(scrub)(page, keys[i].name, T_IT_VALUE(page, it) T_XA);
                break;
            }
        }
    }
}

/* The click ids of the page URL into ev's context.clickIds (and the fbclid for the _fbc cookie). */
static void T(page_clicks)(sluice_identity_job_t *job, T_VALUE *ev, const char *url T_XP)
{
    T_VALUE *ids = T_CLICK_IDS(T_XA_, url);
    if (ids == NULL)
        return;
    T_VALUE *fbclid = T_GET(ids, "fbclid"); /* decoded click ids hold no NUL */
    sluice_identity_vendor_ids_t *vd;
    if (fbclid != NULL && (job->vendor == NULL || job->vendor->fbclid[0] == '\0') &&
        T_STRING_LEN(fbclid) < sizeof(vd->fbclid) && (vd = vendor_block(job)) != NULL) {
        memcpy(vd->fbclid, T_STRING_VALUE(fbclid), T_STRING_LEN(fbclid));
        vd->fbclid[T_STRING_LEN(fbclid)] = '\0';
    }
    T_VALUE *ctx = T_ENSURE_OBJECT(T_XA_, ev, "context");
    T_VALUE *cur = T_GET(ctx, "clickIds");
    if (T_IS_OBJECT(cur)) {
        T_UPDATE(T_XA_, cur, ids);
        T_DROP(ids);
    } else {
        T_SET_NEW(T_XA_, ctx, "clickIds", ids);
    }
}

static void T(page_url)(sluice_identity_job_t *job, T_VALUE *ev, const char *url T_XP)
{
    if (job->token_state == 0) {
        char tok[SLUICE_TOKEN_TEXT_MAX + 1];
        size_t tl;
        int rc = sluice_url_param(url, "_dft", tok, sizeof(tok), &tl);
        if (rc == 1)
            take_token_text(job, tok, tl);
        else if (rc < 0)
            job->token_state = 2;
        if (rc != 0) /* absent: nothing was decoded into tok (the common case skips the wipe) */
            sluice_secure_zero(tok, sizeof(tok));
    }
    T(page_clicks)(job, ev, url T_XA);
}

/* Without a context.page.url (none, or empty), a page event's page is its properties.url:
 * Segment's page spec puts a page call's URL there, and the server libraries (analytics-node,
 * RudderStack's node SDK) send no context.page, so the ad click of their page events was lost to
 * Google Ads, Meta's fbc and TikTok. A track event's properties.url is what the event is about (a
 * shared link carrying someone else's gclid), never the visitor's page. Only click ids are read
 * there: the token travels where sluice.js puts it. */
static void T(page_properties_clicks)(sluice_identity_job_t *job, T_VALUE *ev T_XP)
{
    if (!T_PLAIN_IS(T_GET(ev, "type"), "page"))
        return;
    const char *url = T_PLAIN(T_XA_, T_GET(T_GET(T_GET(ev, "context"), "page"), "url"));
    if (url != NULL && url[0] != '\0')
        return;
    url = T_PLAIN(T_XA_, T_GET(T_GET(ev, "properties"), "url"));
    if (url != NULL)
        T(page_clicks)(job, ev, url T_XA);
}

void T_SCRUB(T_VALUE *ev T_XP)
{
    if (!T_IS_OBJECT(ev))
        return;
    T_DEL(ev, "_dft");
    T_VALUE *ctx = T_GET(ev, "context");
    if (T_IS_OBJECT(ctx)) {
        T_DEL(ctx, "crossDomainToken");
        T_VALUE *page = T_GET(ctx, "page");
        if (T_IS_OBJECT(page))
            T(scrub_page)(page T_XA);
    }
    T_VALUE *props = T_GET(ev, "properties");
    if (T_IS_OBJECT(props))
        T(scrub_page)(props T_XA);
}

/* 1 when ev was sent by sluice.js from a page no cross domain of the org referred to (none did,
 * or another site): a token it brings came in a link from elsewhere. A page anywhere can link to
 * the org's site with a token its author got for his own id; redeemed, the visitor took his id
 * and the user id it then identified with came back on his events. sluice.js 0.2.3 sends a token
 * only from a listed referrer, but the 0.2.0-0.2.2 tags browsers keep running for days after an
 * upgrade (cached, or pinned with SRI) send any, with the page's referrer beside it: judged here,
 * they are held to the same rule. Other clients (pixels, SDKs, servers) send no referrer to judge. */
static int T(foreign_landing)(const sluice_identity_job_t *job, T_VALUE *ctx T_XP)
{
    if (!T_PLAIN_IS(T_GET(T_GET(ctx, "library"), "name"), "sluice.js"))
        return 0;
    T_VALUE *page = T_GET(ctx, "page");
    const char *ref = T_IS_OBJECT(page) ? T_PLAIN(T_XA_, T_GET(page, "referrer")) : NULL;
    char host[SLUICE_URL_HOST_MAX + 1];
    return ref == NULL || sluice_url_host(ref, strlen(ref), host, sizeof(host)) != 0 ||
           !sluice_identity_xd_domain(job->org, host);
}

int T_ASSIGN(sluice_identity_job_t *job T_XP, T_VALUE *ev)
{
    int had_token = job->token_state != 0;
    T(take_token_field)(job, ev, "_dft");
    T_VALUE *ctx = T_GET(ev, "context");
    if (T_IS_OBJECT(ctx)) {
        T(take_token_field)(job, ctx, "crossDomainToken"); /* where sluice.js puts it */
        T_DEL(ctx, "identity");                            /* ours to write: a client cannot claim links */
        T_VALUE *page = T_GET(ctx, "page");
        const char *url = T_IS_OBJECT(page) ? T_PLAIN(T_XA_, T_GET(page, "url")) : NULL;
        if (url != NULL)
            T(page_url)(job, ev, url T_XA);
        if (!had_token && job->token_state == 1 && T(foreign_landing)(job, ctx T_XA)) {
            job->token_state = 3; /* taken out of the event all the same, and counted */
            sluice_secure_zero(job->token, sizeof(job->token));
            job->token_len = 0;
        }
    }
    T(page_properties_clicks)(job, ev T_XA);
    if (!had_token && job->token_state == 1) {
        const char *ts = T_PLAIN(T_XA_, T_GET(ev, "timestamp"));
        int64_t at = 0;
        if (ts != NULL && sluice_time_parse(ts, strlen(ts), 0, &at) == 0 && at > 0)
            job->landed_ms = at;
    }
    T_SCRUB(ev T_XA);

    T_VALUE *anon = T_GET(ev, "anonymousId");
    if (T_IS_STRING(anon)) {
        /* The body's id wins for the event; it also becomes the cookie when there is none. */
        if (job->browser && job->anonymous_id[0] == '\0' && sluice_id_valid(T_STRING_VALUE(anon), T_STRING_LEN(anon))) {
            memcpy(job->anonymous_id, T_STRING_VALUE(anon), T_STRING_LEN(anon));
            job->anonymous_id[T_STRING_LEN(anon)] = '\0';
            if (job->signs)
                job->proof = SLUICE_IDENTITY_PROOF_CLAIM;
        }
        return 0;
    }
    if (!job->browser) {
        /* Server sources have no cookie: an id only when the event has no userId either. */
        if (T_IS_STRING(T_GET(ev, "userId")))
            return 0;
        char id[SLUICE_ID_MINT_LEN + 1];
        if (sluice_id_mint(id) != 0)
            return -1;
        T_SET_STRING(T_XA_, ev, "anonymousId", id);
        return 0;
    }
    if (job->anonymous_id[0] == '\0') {
        if (sluice_id_mint(job->anonymous_id) != 0)
            return -1;
        job->visitor_minted = 1;
        if (job->signs)
            job->proof = SLUICE_IDENTITY_PROOF_MINTED;
    }
    T_SET_STRING(T_XA_, ev, "anonymousId", job->anonymous_id);
    return 0;
}

#undef T
#undef T_VALUE
#undef T_ASSIGN
#undef T_SCRUB
#undef T_XP
#undef T_XA
#undef T_XA_
#undef T_IS_STRING
#undef T_IS_OBJECT
#undef T_STRING_VALUE
#undef T_STRING_LEN
#undef T_PLAIN
#undef T_PLAIN_IS
#undef T_GET
#undef T_DEL
#undef T_EACH_MEMBER
#undef T_IT_KEY
#undef T_IT_KEY_LEN
#undef T_IT_VALUE
#undef T_SET_STRING
#undef T_SET_NEW
#undef T_ENSURE_OBJECT
#undef T_CLICK_IDS
#undef T_UPDATE
#undef T_DROP
