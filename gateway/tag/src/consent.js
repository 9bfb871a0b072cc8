/*
 * Consent-manager adapters, each opt-in by an option of the tag (`tcf`, `consentMode`,
 * `onetrust`, `cookiebot`): an adapter watches one consent manager (CMP) through its public
 * API and calls the tag's consent() with the categories the visitor granted, on load and on
 * every later change.
 *
 * Each option is `true` (the mapping below) or a mapping of category -> the CMP's ids (TCF
 * purposes, Consent Mode signals, OneTrust groups, Cookiebot categories); a category is
 * granted when every one of its ids is. A CMP that says the visitor has answered, with
 * nothing granted, is a refusal; one that has no answer yet grants nothing and the tag keeps
 * waiting (its events stay held), so a page view made before the banner is answered is sent
 * once it is.
 */
export const MAPS = {
    tcf: { analytics: [1, 8], marketing: [1, 3, 4, 7] },
    consentMode: { analytics: ['analytics_storage'], marketing: ['ad_storage', 'ad_user_data'], personalization: ['ad_personalization'] },
    onetrust: { analytics: ['C0002'], marketing: ['C0004'] },
    cookiebot: { analytics: ['statistics'], marketing: ['marketing'] },
};

// How each CMP is watched: watch(w, set, safe) calls set(granted, decided), granted(id) telling
// whether the CMP grants one id, decided whether the visitor has answered.
const WATCH = {
    // IAB TCF v2.2: __tcfapi('addEventListener') calls back with the TC data now and after each
    // change. sluice is the site's own tool, not a vendor of the Global Vendor List, so the
    // purposes the visitor consented to (purpose.consents) are what count. The CMP's script may
    // come after the tag: look for __tcfapi for 10 s.
    tcf: (w, set, safe) => {
        let n = 0;
        const hook = () => {
            if (typeof w.__tcfapi != 'function') return void (n++ < 100 && setTimeout(hook, 100));
            w.__tcfapi(
                'addEventListener',
                2,
                safe((tc, ok) => {
                    if (!ok || !tc) return;
                    if (tc.gdprApplies === false) return set(() => 1, 1); // no consent needed here
                    const c = (tc.purpose && tc.purpose.consents) || {};
                    set((p) => c[p] === true, tc.eventStatus == 'tcloaded' || tc.eventStatus == 'useractioncomplete');
                })
            );
        };
        hook();
    },
    // Google Consent Mode v2: gtag('consent', 'default' | 'update', {...}) commands in the data
    // layer, those already there and those pushed later. A default is no answer yet; an update
    // is. Defaults for a region are skipped (the visitor's region is not known here).
    consentMode: (w, set, safe) => {
        const dl = (w.dataLayer = w.dataLayer || []);
        const st = {};
        let decided = 0;
        const see = safe((a) => {
            if (!a || a[0] != 'consent' || (a[1] != 'default' && a[1] != 'update') || !a[2] || typeof a[2] != 'object' || a[2].region) return;
            Object.assign(st, a[2]);
            if (a[1] == 'update') decided = 1;
            set((s) => st[s] == 'granted', decided);
        });
        const push = dl.push;
        // gtag.js and Tag Manager wrap push the same way, each calling the one before.
        dl.push = function () {
            const r = push.apply(this, arguments);
            for (const a of arguments) see(a);
            return r;
        };
        for (const a of dl) see(a);
    },
    // OneTrust: OnetrustActiveGroups (",C0001,C0002,") and the OneTrustGroupsUpdated event it
    // fires on load and on each change; answered once its banner was closed.
    onetrust: (w, set, safe) => {
        const read = safe(() => {
            const g = w.OnetrustActiveGroups;
            const ot = w.OneTrust;
            if (typeof g == 'string') set((i) => g.split(',').includes(i), ot && ot.IsAlertBoxClosed && ot.IsAlertBoxClosed());
        });
        w.addEventListener('OneTrustGroupsUpdated', read);
        read();
    },
    // Cookiebot: Cookiebot.consent {necessary, preferences, statistics, marketing}, its
    // hasResponse, and the events it fires on window when consent is known or changes.
    cookiebot: (w, set, safe) => {
        const read = safe(() => {
            const cb = w.Cookiebot;
            const c = cb && cb.consent;
            if (c) set((k) => c[k] === true, cb.hasResponse);
        });
        for (const t of ['CookiebotOnConsentReady', 'CookiebotOnAccept', 'CookiebotOnDecline']) w.addEventListener(t, read);
        read();
    },
};

/** Starts the adapters cfg names; consent is the tag's consent(). */
export const adapters = (w, cfg, consent, dbg) => {
    for (const k in WATCH) {
        const map = cfg[k] === true ? MAPS[k] : cfg[k];
        if (!map || typeof map != 'object') continue;
        let last;
        const safe = (f) =>
            function () {
                try {
                    return f.apply(this, arguments);
                } catch (e) {
                    dbg(k, e);
                }
            };
        const set = (granted, decided) => {
            const c = Object.keys(map).filter((x) => Array.isArray(map[x]) && map[x].length && map[x].every((i) => granted(String(i))));
            if ((decided || c.length) && c.join() !== last) {
                last = c.join();
                consent({ categories: c });
            }
        };
        // A CMP's globals in an unexpected shape must not stop the tag from starting.
        safe(WATCH[k])(w, set, safe);
    }
};
