/*
 * The core of sluice.js: create() makes one tag, a Segment-shaped API whose events go in
 * batches to the org's own gateway (`<endpoint><prefix>/batch`). The served tag (tag.js) and the
 * npm package (index.js) are both this module with a different entry.
 *
 * Delivery: a queue per tab, kept in localStorage (key `sluice:q:<tab id>`) so events survive
 * reloads and outages. A tab that goes away marks its queue as orphaned (pagehide) and the
 * next page of the site adopts it; a queue nobody touched for STALE_MS (a crashed tab) is
 * adopted too. Batches go with fetch (text/plain, so no CORS preflight; keepalive so a batch
 * in flight survives navigation; credentials so the gateway's first-party cookie travels).
 * When the page is hidden or left, what is queued goes with navigator.sendBeacon, but only
 * while the gateway is answering: during an outage the events stay queued for the next page
 * instead of being handed to a beacon whose failure nobody would see.
 * Retries: network errors, 429 and 5xx back off exponentially with jitter (Retry-After wins
 * when the gateway sends it); other 4xx answers drop the batch (413 first halves the batch).
 * An event over BEACON_MAX bytes is dropped at the call: no request of the tag could carry it.
 *
 * Consent: with requireConsent, events wait in memory (never in storage) until consent()
 * grants at least one category; they are then sent with the granted categories. Denying
 * drops them and forgets the stored ids and queue. The consent-manager adapters (consent.js)
 * call consent() for the site when one is configured.
 *
 * Single-page apps: with autoPage 'history', pushState/replaceState/popstate to a new URL send
 * a page view whose referrer is the previous URL.
 *
 * Navigation: a prerendered page starts the tag when it is shown (never, if it is not); a page
 * restored from the back/forward cache takes what other pages stored meanwhile (ids, consent)
 * and, with autoPage, sends a page view, as the same page loaded again would.
 *
 * Cross-domain: a click on a link to one of `crossDomain` fetches a single-use token from
 * the gateway and opens the link with `_dft=<token>`; on landing, the tag removes `_dft`
 * from the address bar and sends it with the first event, where the gateway redeems it.
 *
 * Every entry point is wrapped: the tag never throws into the page.
 */
import { adapters } from './consent.js';

const P = 'sluice:';
const STALE_MS = 300000;
const XD_TIMEOUT_MS = 1500;
const BEACON_MAX = 60000; // bytes; browsers cap beacons and keepalive bodies at 64 KiB
const NOOP = () => {};

// The options and their defaults; the served tag also reads their types off these values to
// parse data- attributes. null: an adapter, off unless given (true, or a mapping).
export const D = {
    writeKey: '',
    endpoint: '',
    prefix: '/v1',
    batchSize: 20,
    flushInterval: 1000,
    maxQueue: 1000,
    retryBase: 1000,
    retryMax: 30000,
    autoPage: true,
    requireConsent: false,
    categories: [],
    crossDomain: [],
    debug: false,
    tcf: null,
    consentMode: null,
    onetrust: null,
    cookiebot: null,
};

export const VERSION = __VERSION__;

const arr = (v) => (Array.isArray(v) ? v.map(String) : []);

// JSON text the gateway accepts whatever the page did: Array.prototype.toJSON (Prototype.js
// before 1.7 makes arrays strings) set aside while encoding, a BigInt as a string, a lone
// surrogate (a string cut in the middle of an emoji, which the gateway refuses with the whole
// batch) as U+FFFD. Throws on what JSON cannot encode (a cycle).
const json = (v) => {
    const A = Array.prototype;
    const t = Object.getOwnPropertyDescriptor(A, 'toJSON');
    if (t && t.configurable) delete A.toJSON;
    try {
        return JSON.stringify(v, (k, x) => (typeof x == 'bigint' ? String(x) : x)).replace(/\\(ud[89a-f]..|.)/g, (m) => (m.length > 2 ? '\\ufffd' : m));
    } finally {
        if (t && t.configurable) Object.defineProperty(A, 'toJSON', t);
    }
};
// UTF-8 bytes: the browsers' 64 KiB limit of keepalive requests and beacons counts those.
const bytes = (s) => new TextEncoder().encode(s).length;

/** One tag in window w, sending to endpoint unless init() names another. */
export const create = (w, d, nav, endpoint) => {
    const loc = w.location;
    const hist = w.history;
    let ls = null;
    try {
        ls = w.localStorage;
    } catch (e) {} // storage blocked: everything still works, in memory
    const get = (k) => {
        try {
            return JSON.parse(ls.getItem(P + k));
        } catch (e) {
            return null;
        }
    };
    // Stores v as JSON; v null or left out removes the key. 1 when stored.
    const put = (k, v) => {
        try {
            v == null ? ls.removeItem(P + k) : ls.setItem(P + k, json(v));
            return 1;
        } catch (e) {} // full or blocked: memory only
    };

    const uuid = () => {
        try {
            return crypto.randomUUID();
        } catch (e) {
            // randomUUID needs a secure context; getRandomValues does not.
            const b = crypto.getRandomValues(new Uint8Array(16));
            b[6] = (b[6] & 15) | 64;
            b[8] = (b[8] & 63) | 128;
            const h = [...b].map((x) => (x + 256).toString(16).slice(1)).join('');
            return h.replace(/(.{8})(.{4})(.{4})(.{4})/, '$1-$2-$3-$4-');
        }
    };
    const now = () => Date.now();
    const iso = () => new Date().toISOString();
    // A page's address as a referrer: without the fragment, as browsers send it.
    const bare = () => loc.href.split('#')[0];

    let cfg = Object.assign({}, D, { endpoint });
    let on = 0; // initialised
    let early = []; // calls made before init: [method, args, time of the call]
    let at = ''; // while init replays them: the time of the call being replayed
    let q = []; // queued events, oldest first
    let held = []; // events waiting for consent (memory only)
    let cats = null; // granted categories; null while undecided
    let aid, uid, dft;
    let ref = d.referrer; // the page's referrer; in a single-page app, the previous address
    let here; // the address of the last automatic page view
    let size; // current batch size (halved on 413)
    let cut = 0; // after a 400 for a whole batch: the size of the next ones (doubled back after a 200)
    let busy = 0; // a fetch is in flight
    let inflight = new Set(); // its messageIds
    let timer = 0;
    let retryAt = 0;
    let attempt = 0;
    let healthy = 1; // the last answer came from a working gateway
    let alive = 1; // this tab still owns its queue
    let kept; // the last save reached storage
    const tab = 'q:' + uuid();
    const stats = { sent: 0, invalid: 0, overflow: 0, retries: 0, denied: 0 };

    const dbg = (m, e) => cfg.debug && console.warn('sluice:', m, e || '');
    const allowed = () => !cfg.requireConsent || !!(cats && cats.length);

    const save = () => {
        if (allowed()) kept = put(tab, q.length ? { t: alive ? now() : 0, q } : null);
    };
    const saveIds = () => {
        if (allowed()) {
            put('aid', aid);
            put('uid', uid);
        }
    };

    const url = (p) => cfg.endpoint + cfg.prefix + p;

    const later = (ms) => {
        clearTimeout(timer);
        timer = setTimeout(() => {
            timer = 0;
            flush();
        }, ms);
    };
    const schedule = () => {
        if (q.length >= size) flush();
        else if (!timer && q.length) later(cfg.flushInterval);
    };

    const drop = (ids) => {
        q = q.filter((e) => !ids.has(e.messageId));
        save();
    };

    const backoff = (r) => {
        const ra = r && r.headers.get('Retry-After');
        let ms = ra ? (isNaN(ra) ? Date.parse(ra) - now() : ra * 1000) : NaN;
        if (!(ms >= 0)) ms = Math.min(cfg.retryMax, cfg.retryBase * 2 ** attempt) * (0.5 + Math.random() / 2);
        attempt++;
        stats.retries++;
        return ms;
    };

    const body = (batch) => json({ batch, sentAt: iso(), writeKey: cfg.writeKey });
    // The next batch of list and its body: up to `size` events, fewer when big events would take
    // the body past BEACON_MAX (at least one). So a request can be keepalive or a beacon, and
    // stays far under the gateway's max_body_bytes, whose 413 a browser may only see as a
    // network error (no CORS headers, or a reset HTTP/2 stream), which would be retried forever.
    const next = (list) => {
        let batch = list.slice(0, cut || size), b;
        while (((b = body(batch)), batch.length > 1 && bytes(b) > BEACON_MAX)) batch = batch.slice(0, batch.length >> 1);
        return [batch, b];
    };

    // Sends one batch, then goes on while a full batch waits; never rejects.
    const flush = async () => {
        if (busy || !q.length || !allowed()) return;
        // Backing off. (A timer may fire a millisecond before Date.now() reaches retryAt.)
        if (now() < retryAt) return void (timer || later(retryAt - now()));
        clearTimeout(timer);
        timer = 0;
        busy = 1;
        let r, delay = 0;
        try {
            const [batch, b] = next(q);
            inflight = new Set(batch.map((e) => e.messageId));
            save(); // also tells other tabs this queue is alive
            r = await fetch(url('/batch'), {
                method: 'POST',
                body: b,
                keepalive: bytes(b) < BEACON_MAX,
                credentials: 'include',
            }).catch((e) => dbg('network', e));
            const s = r ? r.status : 0;
            // Every answer is read: one left unread keeps its keepalive request counting against
            // the browser's 64 KiB for requests in flight, and the next batches fail to start.
            const j = r && (await r.json().catch(NOOP));
            healthy = s > 0 && s < 500 && s != 429;
            if (s >= 200 && s < 300) {
                attempt = 0;
                const bad = (j && j.rejected && j.rejected.length) || 0;
                stats.invalid += bad;
                stats.sent += batch.length - bad;
                drop(inflight);
                cut = cut * 2 < size ? cut * 2 : 0; // back to full batches
            } else if (!healthy) {
                // A network error, 429 or 5xx: the gateway may take it later.
                delay = backoff(r);
            } else if (s == 413 && size > 1) {
                size = Math.ceil(size / 2);
            } else if (s == 400 && batch.length > 1) {
                // The gateway refuses a whole body for one event over a limit it checks while
                // parsing (a string too long, too deep): halves until that event is alone, so
                // only it is dropped.
                cut = Math.ceil(batch.length / 2);
            } else {
                // The gateway refused the events themselves (400/401/403/413/415): a retry
                // would be refused again.
                dbg('dropped, status ' + s);
                stats.invalid += batch.length;
                drop(inflight);
            }
        } catch (e) {
            dbg('flush', e);
        } finally {
            busy = 0;
            inflight = new Set();
        }
        if (delay) {
            retryAt = now() + delay;
            later(delay);
        } else if (q.length && r && (r.ok || r.status == 400)) {
            flush();
        } else {
            schedule();
        }
    };

    // Hands what is queued (and not already in flight) to sendBeacon.
    const beacon = () => {
        if (!healthy || !allowed() || !nav.sendBeacon) return;
        let rest = q.filter((e) => !inflight.has(e.messageId));
        while (rest.length) {
            const [batch, b] = next(rest);
            let ok = 0;
            try {
                ok = bytes(b) <= BEACON_MAX && nav.sendBeacon(url('/batch'), b);
            } catch (e) {} // a page's broken wrapper ("Illegal invocation"): the next page sends them
            if (!ok) break;
            stats.sent += batch.length;
            drop(new Set(batch.map((e) => e.messageId)));
            rest = rest.slice(batch.length);
        }
    };

    const push = (e) => {
        q.push(e);
        while (q.length > cfg.maxQueue) {
            q.shift();
            stats.overflow++;
        }
        save();
        schedule();
    };

    const page = () => ({
        url: loc.href,
        path: loc.pathname,
        referrer: ref,
        title: d.title,
    });

    const send = (type, fields) => {
        // A copy, as JSON: what the page changes after the call is not sent, and an event JSON
        // cannot encode is dropped here instead of blocking every batch after it.
        try {
            fields = JSON.parse(json(fields));
        } catch (x) {
            stats.invalid++;
            return dbg('dropped, not JSON', x);
        }
        const e = Object.assign(
            { type, messageId: uuid(), timestamp: at || iso(), anonymousId: aid },
            uid ? { userId: uid } : {},
            fields
        );
        e.context = {
            page: page(),
            library: { name: 'sluice.js', version: VERSION },
            locale: nav.language,
            consent: { categories: cats ? cats.slice() : [] },
        };
        // An event no request of the tag can carry: over BEACON_MAX it goes neither with
        // keepalive nor as a beacon, and a body far over the gateway's max_body_bytes has its
        // connection reset, which looks like an outage: retried for ever, it held up every
        // event after it.
        if (bytes(body([e])) > BEACON_MAX) {
            stats.invalid++;
            return dbg('dropped, over ' + BEACON_MAX + ' bytes');
        }
        if (dft) {
            e.context.crossDomainToken = dft;
            dft = null;
        }
        if (allowed()) push(e);
        else if (cats) stats.denied++; // consent refused: the event is not kept
        else {
            held.push(e);
            if (held.length > cfg.maxQueue) {
                held.shift();
                stats.overflow++;
            }
        }
    };

    const props = (p) => (p && typeof p == 'object' ? p : {});

    // ---- cross-domain

    // The gateway knows this browser's id only from the cookie a batch's answer sets. Events
    // still queued go first (a click in the first second of a first visit): asked before, the
    // gateway made the token for a new id, and the checkout's events were another visitor's.
    const sent = async () => {
        await flush(); // (returns at once when nothing waits or a batch is in flight)
        while (busy) await new Promise((res) => setTimeout(res, 20));
    };
    const token = (to) =>
        Promise.race([
            sent()
                .then(() =>
                    fetch(url('/xd') + '?to=' + encodeURIComponent(to) + '&writeKey=' + encodeURIComponent(cfg.writeKey) + '&anonymousId=' + encodeURIComponent(aid), {
                        credentials: 'include',
                    })
                )
                .then((r) => (r.ok ? r.json() : {}))
                .then((j) => {
                    // The id the token carries: when the gateway knew another (its cookie
                    // outlived our storage) or none (it made one), this site's events switch
                    // to it, so both sites' events name one visitor.
                    if (j.token && j.anonymousId) {
                        aid = j.anonymousId;
                        saveIds();
                    }
                    return j.token;
                }),
            new Promise((res) => setTimeout(res, XD_TIMEOUT_MS)),
        ]).catch(NOOP);

    const onClick = (ev) => {
        if (ev.defaultPrevented || ev.button || ev.metaKey || ev.ctrlKey || ev.shiftKey || ev.altKey) return;
        // The path, not the target: a link inside a web component (a shadow root) reaches the
        // document retargeted to the component.
        const a = ev.composedPath().find((n) => n.tagName == 'A' && n.hasAttribute('href'));
        if (!a || a.hasAttribute('download')) return;
        const u = new URL(a.href, loc.href);
        // Without consent (requireConsent) the gateway is not asked for a token: nothing leaves the page.
        // Only https links carry one: on a plain-http link anyone on the path could redeem it first.
        if (!allowed() || u.protocol != 'https:' || u.hostname == loc.hostname || !cfg.crossDomain.includes(u.hostname))
            return;
        if (a.target && !/^_(self|top|parent|blank)$/i.test(a.target)) return; // named frames and windows: leave them alone
        // The site asked that the other site not learn where the visitor came from, which a token
        // tells (and the other site's tag takes a token only from a referrer it lists).
        if (/\bnoreferrer\b/i.test(a.rel) || ['no-referrer', 'same-origin'].includes(a.referrerPolicy)) return;
        ev.preventDefault();
        // Opened as the browser opens the site's link: by a copy of it, so its target (_top
        // too), rel (noopener, opener) and referrerpolicy hold, which loc.assign ignored.
        const go = (tok) => {
            try {
                if (tok) u.searchParams.set('_dft', tok);
                const b = d.createElement('a');
                for (const k of ['target', 'rel']) if (a.hasAttribute(k)) b.setAttribute(k, a.getAttribute(k));
                // The other site takes the token only from a referrer it lists: a page whose own
                // policy sends none (no-referrer, helmet's default; same-origin) split every visitor.
                // Its origin alone goes, to the org's own site, which the token tells it anyway.
                b.referrerPolicy = a.referrerPolicy || 'strict-origin';
                b.href = u.href;
                b.click();
            } catch (e) {
                dbg('xd', e);
            }
        };
        token(u.href).then(go, () => go());
    };

    const landing = () => {
        const s = new URLSearchParams(loc.search);
        const v = s.get('_dft');
        if (v == null) return;
        s.delete('_dft');
        const qs = s.toString();
        hist.replaceState(hist.state, '', loc.pathname + (qs ? '?' + qs : '') + loc.hash);
        // Only a link from one of the org's other sites brings a token to redeem. A page anywhere
        // else can send a visitor here with a token its author got for himself: redeemed, this
        // browser took the author's id, and what the visitor then did (an identify) was linked
        // to the author's id and came back on his events.
        if (cfg.crossDomain.includes((d.referrer.split('/')[2] || '').split(':')[0])) dft = v;
        else dbg('xd: referrer');
    };

    // ---- single-page apps

    // After pushState/replaceState/popstate: a page view when the address (without fragment)
    // changed. It waits a task so the app can set the new route's title first.
    const moved = () =>
        setTimeout(() => {
            const u = bare();
            if (u == here) return;
            ref = here;
            here = u;
            out.page();
        });
    const spa = () => {
        for (const m of ['pushState', 'replaceState']) {
            const f = hist[m];
            hist[m] = function () {
                const r = f.apply(this, arguments);
                try {
                    moved();
                } catch (e) {}
                return r;
            };
        }
        w.addEventListener('popstate', moved);
    };

    // Events not sent yet keep only the categories still granted: a withdrawal applies to
    // what is still queued (the consent of an event sent later is the visitor's current one).
    const narrow = () => {
        for (const e of q) {
            const c = cats && e.context && e.context.consent; // a queue from storage may hold anything
            if (c && Array.isArray(c.categories)) c.categories = c.categories.filter((x) => cats.includes(x));
        }
    };

    // The keys of every tab's queue (a copy: removing keys while reading them skips none).
    const queues = () => Object.keys(ls).filter((k) => !k.indexOf(P + 'q:'));

    // Takes over the queues of tabs that went away (or crashed); returns how many events.
    const adopt = () => {
        if (!ls || !allowed()) return 0;
        const n = q.length;
        const have = new Set(q.map((e) => e.messageId));
        try {
            for (const k of queues()) {
                if (k == P + tab) continue;
                const s = get(k.slice(P.length));
                if (s && s.t && now() - s.t < STALE_MS) continue;
                put(k.slice(P.length));
                for (const e of (s && s.q) || []) if (e && e.messageId && !have.has(e.messageId)) q.push(e);
            }
        } catch (e) {} // storage that throws (Firefox's NS_ERROR_FILE_CORRUPTED): nothing to adopt
        q.sort((a, b) => (a.timestamp > b.timestamp) - (a.timestamp < b.timestamp));
        narrow();
        while (q.length > cfg.maxQueue) {
            q.shift();
            stats.overflow++;
        }
        save();
        return q.length - n;
    };

    // ---- the API

    const api = {
        VERSION,
        init(o) {
            if (on) return;
            // A prerendered page (Speculation Rules) runs before the visitor sees it, and may
            // never be: the tag starts when it is shown, so a page it never showed sends nothing
            // (calls made meanwhile wait, as calls before init do).
            if (d.prerendering) return d.addEventListener('prerenderingchange', () => out.init(o));
            o = o || {};
            cfg = Object.assign({}, D, { endpoint }, o);
            if (!cfg.writeKey) return dbg('no writeKey: not started');
            if (!cfg.endpoint) return dbg('no endpoint: not started');
            // A sandboxed iframe without allow-same-origin, a file: page: requests say
            // `Origin: null`, which no allowed_origins can list, so every batch would fail CORS
            // and be retried for ever. Said even without debug: the site has to move the tag.
            if (w.origin == 'null')
                return console.warn('sluice: not started: this page has no origin (a sandboxed iframe, a file: page), which no gateway allows');
            // A consent manager decides: nothing goes before it has, unless told otherwise.
            if (o.requireConsent == null) cfg.requireConsent = !!(cfg.tcf || cfg.consentMode || cfg.onetrust || cfg.cookiebot);
            cfg.endpoint = String(cfg.endpoint).replace(/\/+$/, '');
            cfg.crossDomain = arr(cfg.crossDomain);
            size = Math.max(1, cfg.batchSize | 0);
            on = 1;
            const c = get('consent');
            cats = Array.isArray(c) ? c : cfg.categories.length ? arr(cfg.categories) : null;
            // (The id a prerendered page answered with, unless another page stored one since.)
            aid = get('aid') || aid || uuid();
            uid = get('uid');
            saveIds();
            landing();
            here = bare();
            const adopted = adopt();
            const L = (t, f, o = w) =>
                o.addEventListener(t, (ev) => {
                    try {
                        f(ev);
                    } catch (e) {
                        dbg(t, e);
                    }
                });
            // Another page of the site (the same visitor): the ids it sets (identify, alias,
            // reset) apply here at once, so after a log-out there this page no longer sends the
            // user id; so do a refusal there and a category withdrawn there (from what is
            // queued here too); a grant there applies here from the next page.
            const sync = (k, v) => {
                if (k == P + 'uid') uid = JSON.parse(v);
                if (k == P + 'aid' && v) aid = JSON.parse(v);
                const c = k == P + 'consent' && JSON.parse(v);
                if (!Array.isArray(c)) return;
                if (cfg.requireConsent && !c.length) return out.consent({ categories: [] });
                if (cats) {
                    cats = cats.filter((x) => c.includes(x));
                    narrow();
                    save();
                }
            };
            L('pagehide', () => {
                beacon();
                alive = 0;
                // A batch in flight to a working gateway completes (keepalive): don't leave it
                // for the next page to send again.
                if (healthy) drop(inflight);
                save();
            });
            L('pageshow', (ev) => {
                if (!ev.persisted) return;
                // Back from the back/forward cache. Meanwhile the site's other pages may have
                // logged the visitor out or stored a refusal: their storage events reach this page
                // only after this handler, too late for the page view below. (Before consent this
                // page stored no ids and sends nothing: those events come in time.)
                try {
                    if (allowed()) for (const k of ['uid', 'aid', 'consent']) sync(P + k, ls.getItem(P + k));
                } catch (e) {} // no storage: nothing another page could have set
                // Another tab may have adopted our queue (only one that reached storage: with
                // storage full or blocked, what waited in memory is all there is, and an empty
                // read dropped it).
                alive = 1;
                const s = get(tab);
                if (kept) q = (s && s.q) || [];
                save();
                // The visitor sees the page again, as after a reload, which a back/forward cache
                // only makes faster: a page view, or counts would depend on the cache.
                if (cfg.autoPage) out.page();
                flush();
            });
            L('visibilitychange', () => (d.visibilityState == 'hidden' ? beacon() : flush()), d);
            L('storage', (ev) => sync(ev.key, ev.newValue));
            L('online', () => {
                retryAt = 0;
                flush();
            });
            L('click', onClick, d);
            const e = early;
            early = [];
            adapters(w, cfg, out.consent, dbg);
            if (cfg.autoPage) out.page();
            if (cfg.autoPage == 'history') spa();
            for (const [m, a, t] of e) {
                at = t;
                out[m](...a);
            }
            at = '';
            if (adopted) flush(); // they waited long enough
        },
        track(event, properties) {
            send('track', { event: String(event), properties: props(properties) });
        },
        page(name, properties) {
            if (typeof name == 'object') (properties = name), (name = undefined);
            send(
                'page',
                Object.assign(name != null ? { name: String(name) } : {}, {
                    properties: Object.assign(page(), { search: loc.search }, props(properties)),
                })
            );
        },
        identify(userId, traits) {
            if (typeof userId == 'object' && userId) (traits = userId), (userId = null);
            if (userId != null) uid = String(userId);
            saveIds();
            send('identify', { traits: props(traits) });
        },
        group(groupId, traits) {
            send('group', { groupId: String(groupId), traits: props(traits) });
        },
        alias(userId, previousId) {
            const prev = previousId != null ? String(previousId) : uid || aid;
            uid = String(userId);
            saveIds();
            send('alias', { userId: uid, previousId: prev });
        },
        consent(o) {
            cats = arr(o && o.categories);
            put('consent', cats);
            narrow();
            if (allowed()) {
                saveIds();
                for (const e of held) {
                    e.context.consent.categories = cats.slice();
                    push(e);
                }
                held = [];
                adopt();
                flush();
            } else if (cfg.requireConsent) {
                // Refused: nothing collected so far is sent or kept, and a later grant starts
                // with a new anonymous id.
                stats.denied += held.length + q.length;
                held = [];
                q = [];
                aid = uuid();
                uid = null;
                put('aid');
                put('uid');
                // The queues of every tab: this one's, and those left by tabs closed during an
                // outage, which a later grant would otherwise adopt and send.
                try {
                    for (const k of queues()) ls.removeItem(k);
                } catch (e) {}
            }
        },
        reset() {
            uid = null;
            aid = uuid();
            put('uid');
            saveIds();
        },
        flush() {
            retryAt = 0;
            return flush();
        },
        // A prerendered page may read it for its own bucketing: the visitor's stored id, or the
        // one this page will store once shown (kept in memory: a page never shown stores nothing).
        anonymousId: () => aid || (d.prerendering ? (aid = get('aid') || uuid()) : aid),
        stats: () => Object.assign({ queued: q.length, held: held.length }, stats),
        // The loader snippet's array method, so a snippet that runs after the file still works.
        push: ([m, ...a]) => m != 'push' && out[m] && out[m](...a),
    };

    // Every entry point: queued until init, and never throwing into the page.
    const ready = { init: 1, anonymousId: 1, stats: 1, push: 1 }; // (VERSION is no function)
    const out = {};
    for (const m in api) {
        const f = api[m];
        out[m] =
            typeof f != 'function'
                ? f
                : (...a) => {
                      try {
                          if (!on && !ready[m]) {
                              // Kept with the time of the call, and objects as they are now
                              // (one JSON cannot encode is kept as is, for send() to drop).
                              const c = (x) => {
                                  try {
                                      return x && typeof x == 'object' ? JSON.parse(json(x)) : x;
                                  } catch (e) {
                                      return x;
                                  }
                              };
                              // (While prerendering, the time it is shown: the visitor saw nothing before.)
                              if (early.length < D.maxQueue) early.push([m, a.map(c), d.prerendering ? '' : iso()]);
                              return m == 'flush' ? Promise.resolve() : undefined;
                          }
                          const r = f(...a);
                          return r && r.catch ? r.catch(NOOP) : r;
                      } catch (e) {
                          dbg(m, e);
                      }
                  };
    }
    return out;
};
