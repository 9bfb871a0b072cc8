// Segment's analytics.js (@segment/analytics-next, its UMD build exactly as npm ships it) on a page
// of another origin than the gateway, in Chromium: the checks of the cases segment_browser
// (per-event delivery), segment_browser_batching and segment_browser_consent.
//
// How it is pointed at sluice (docs/compat.md): the page loads analytics.js with cdnSettings
// written inline, so it fetches no settings from Segment's CDN:
//   AnalyticsBrowser.load({writeKey, cdnSettings: {integrations: {'Segment.io': {apiKey,
//       apiHost: '<gateway host:port>/v1', protocol: 'https', deliveryStrategy}}}})
// Its lazily loaded chunks come from the directory of index.js (the page server's /sdk/).
import { build } from 'esbuild';
import { GW, HERE, assert, clockCorrected, ctl, env, eventsWhere, kafka, metric, page, piiHashed, run, sameNumbers, servePage, serveFile, status503, waitFor, arrivedOnce } from './lib.mjs';

const UMD = '/sdk/@segment/analytics-next/dist/umd/index.js';

/**
 * Segment's consent wrapper, @segment/analytics-consent-tools, as npm ships it (ES modules with
 * bare imports, for a bundler): bundled here, unchanged, into one script that sets
 * window.SegmentConsentTools.
 */
async function serveConsentTools() {
    const out = await build({
        stdin: { contents: "export { createWrapper } from '@segment/analytics-consent-tools';", resolveDir: HERE },
        bundle: true,
        format: 'iife',
        globalName: 'SegmentConsentTools',
        write: false,
        logLevel: 'silent',
    });
    serveFile('/consent-tools.js', out.outputFiles[0].text);
}

/** The page at path (default /): analytics.js loaded from /sdk/, pointed at the gateway, as window.analytics. */
export async function segmentPage({ key, batching, consent, path = '/' }) {
    const segmentio = {
        apiKey: key,
        apiHost: `127.0.0.1:${env.gatewayPort}/v1`,
        protocol: 'https',
        ...(batching ? { deliveryStrategy: { strategy: 'batching', config: { size: 20, timeout: 300 } } } : {}),
    };
    // metrics.sampleRate 0: otherwise analytics.js reports its own counters every 30 s to
    // Segment's api.segment.io/v1/m (the gateway has no /v1/m; docs/compat.md).
    const cdnSettings = { integrations: { 'Segment.io': segmentio }, metrics: { sampleRate: 0 }, ...(consent ? { consentSettings: { allCategories: ['Analytics', 'Advertising'] } } : {}) };
    const load = `analytics.load({writeKey: ${JSON.stringify(key)}, cdnSettings: ${JSON.stringify(cdnSettings)}}, {initialPageview: false});`;
    let script;
    if (consent) {
        await serveConsentTools();
        // The consent wrapper as its README shows it: a CMP's categories, and its change events.
        script = `
            window.__consent = ${JSON.stringify(consent)};
            const withCMP = SegmentConsentTools.createWrapper({
                shouldLoadSegment: (ctx) => ctx.load({ consentModel: 'opt-in' }),
                getCategories: () => window.__consent,
                registerOnConsentChanged: (changed) => {
                    window.__setConsent = (c) => { window.__consent = c; changed(c); };
                },
            });
            const analytics = new AnalyticsNext.AnalyticsBrowser();
            withCMP(analytics);
            ${load}
            window.analytics = analytics;`;
    } else {
        script = `const analytics = new AnalyticsNext.AnalyticsBrowser(); ${load} window.analytics = analytics;`;
    }
    const head = `<script src="${UMD}"></script>${consent ? '<script src="/consent-tools.js"></script>' : ''}<script>${script}</script>`;
    servePage(path, page({ title: 'Shop', head }));
}

/** Every call type through window.analytics, one after the other; their messageIds and ids. */
async function everyCall(p, ids) {
    return p.evaluate(async ({ uid, gid, email }) => {
        const a = window.analytics;
        const out = {};
        const id = (ctx) => ctx.event.messageId;
        out.page = id(await a.page('Docs', 'Pricing', { price: 19.9, path_hint: 'pricing' }));
        out.track1 = id(await a.track('Product Viewed', { sku: 'w-1', price: 0.1 }));
        out.alias = id(await a.alias(uid)); // at sign-up, before identify: previousId is the anonymous id
        out.identify = id(await a.identify(uid, { email, plan: 'pro' }));
        out.track = id(await a.track('Order Completed', { revenue: 19.9, price: 0.1, quantity: 3, currency: 'EUR' }));
        out.group = id(await a.group(gid, { name: 'Acme', employees: 12 }));
        out.screen = id(await a.screen('App', 'Home', { tab: 'feed' }));
        const [an] = await a;
        out.anonymousId = an.user().anonymousId();
        return out;
    }, ids);
}

/**
 * The case: every call type arrives once, with the SDK's anonymous id, the user id once
 * identified, names, properties, traits; traits.email hashed; paths as expected; then a 503
 * (Kafka down) and the SDK's own retry (with X-Retry-Count, which the preflight must allow).
 */
export async function segmentCase(t, { batching = false } = {}) {
    const b = await t.browser();
    b.allowConsole(/status of 503/);
    await segmentPage({ key: env.keys.web, batching });
    const p = await b.open('/');
    await p.waitForFunction(() => window.analytics && window.AnalyticsNext);
    const uid = `user-${run}`, gid = `grp-${run}`, email = 'Grace.Hopper@Example.org';
    const ids = await everyCall(p, { uid, gid, email });
    const aid = ids.anonymousId;
    assert.ok(aid, 'analytics.js made an anonymous id');

    const got = await arrivedOnce([
        { type: 'page', messageId: ids.page, anonymousId: aid, name: 'Pricing', category: 'Docs' },
        { type: 'track', event: 'Product Viewed', messageId: ids.track1, anonymousId: aid, properties: { sku: 'w-1', price: 0.1 } },
        { type: 'alias', messageId: ids.alias, anonymousId: aid, userId: uid, previousId: aid },
        { type: 'identify', messageId: ids.identify, anonymousId: aid, userId: uid },
        { type: 'track', event: 'Order Completed', messageId: ids.track, anonymousId: aid, userId: uid, properties: { revenue: 19.9, price: 0.1, quantity: 3, currency: 'EUR' } },
        { type: 'group', messageId: ids.group, anonymousId: aid, userId: uid, groupId: gid },
        { type: 'screen', messageId: ids.screen, anonymousId: aid, userId: uid, name: 'Home', category: 'App', properties: { tab: 'feed' } },
    ]);
    for (const m of got) {
        assert.equal(m.event.type, m.kafkaHeaders.match(/type=(\w+)/)[1]);
        assert.equal(m.org, 'compat');
        assert.equal(m.kafkaKey, `compat:${aid}`);
        assert.equal(m.event.context.library.name, 'analytics.js');
    }
    assert.equal(got[0].event.properties.price, 19.9);
    assert.deepEqual(got[5].event.traits, { name: 'Acme', employees: 12 });
    sameNumbers(got[4], { revenue: 19.9, price: 0.1 });
    const identify = got[3];
    assert.equal(identify.event.traits.plan, 'pro');
    piiHashed(await kafka(), email, [[identify, 'traits.email']]);

    // The paths analytics.js used, all answered 200 (no CORS failure: a refused preflight shows as
    // status 0 here, and analytics.js would retry forever).
    const posts = b.requests.filter((r) => r.method === 'POST');
    const paths = [...new Set(posts.map((r) => new URL(r.url).pathname))].sort();
    assert.deepEqual(paths, batching ? ['/v1/b'] : ['/v1/a', '/v1/g', '/v1/i', '/v1/p', '/v1/s', '/v1/t']);
    for (const r of posts) assert.equal(r.status, 200, `${r.url}: ${r.status} ${r.failure || ''}`);

    // A visitor whose clock is two hours ahead: timestamp corrected, originalTimestamp kept.
    const skew = 2 * 3600 * 1000;
    const ps = await b.open('/', await b.skewedContext(skew));
    await ps.waitForFunction(() => window.analytics && window.AnalyticsNext);
    const skewedId = await ps.evaluate(async () => (await window.analytics.track('Clock Skewed')).event.messageId);
    const [skewed] = await arrivedOnce([{ type: 'track', event: 'Clock Skewed', messageId: skewedId }]);
    clockCorrected(skewed, skew);
    await ps.close();

    // A 503, then analytics.js's own retry, with its X-Retry-Count header.
    const route = batching ? 'batch' : 'track';
    const before = await metric(status503(route));
    await ctl('kafka_down');
    try {
        // Not awaited: its promise resolves only once the event is delivered.
        await p.evaluate(() => void window.analytics.track('Retry Me', { n: 1 }));
        await waitFor('a 503 from the gateway', async () => (await metric(status503(route))) > before, 20000, 100);
    } finally {
        await ctl('kafka_up');
    }
    const retried = await eventsWhere('the event analytics.js retried after the 503', (e) => e.event === 'Retry Me' && e.anonymousId === aid, 1, 60000);
    assert.equal(new Set(retried.map((m) => m.event.messageId)).size, 1, 'one event, at least once');
    const again = b.requests.filter((r) => r.method === 'POST' && r.headers['x-retry-count'] && r.body && r.body.includes('Retry Me'));
    assert.ok(again.length >= 1, `analytics.js retried with X-Retry-Count:\n  ${b.log()}`);
    assert.ok(again.some((r) => r.status === 200), `a retry was answered 200:\n  ${b.log()}`);
}

/**
 * Consent given through Segment's consent wrapper (context.consent.categoryPreferences) to the org
 * "consented" (required: analytics; aliases Analytics -> analytics): granted, events keep their
 * ids and traits (hashed e-mail); after the visitor takes Analytics back, events are stripped.
 */
export async function segmentConsentCase(t) {
    const b = await t.browser();
    await segmentPage({ key: env.keys.consent, consent: { Analytics: true, Advertising: false } });
    const p = await b.open('/');
    await p.waitForFunction(() => window.analytics && window.__setConsent);
    const uid = `user-${run}`, email = 'Katherine.Johnson@Example.org';
    const ids = await p.evaluate(
        async ({ uid, email }) => {
            const a = window.analytics;
            const identify = (await a.identify(uid, { email, plan: 'pro' })).event.messageId;
            const track = (await a.track('Order Completed', { revenue: 19.9 })).event.messageId;
            return { identify, track };
        },
        { uid, email }
    );
    const [identify, track] = await arrivedOnce([
        { type: 'identify', messageId: ids.identify, userId: uid },
        { type: 'track', event: 'Order Completed', messageId: ids.track, userId: uid },
    ]);
    for (const m of [identify, track]) {
        assert.equal(m.org, 'consented');
        assert.deepEqual(m.event.context.consent.categoryPreferences, { Analytics: true, Advertising: false }, 'the wrapper stamped its format');
        assert.deepEqual(m.event.context.consent.categories, ['analytics'], 'mapped through consent.aliases');
        assert.ok(!(m.privacy && m.privacy.consent === 'stripped'), `not stripped: ${m.raw}`);
    }
    piiHashed(await kafka(), email, [[identify, 'traits.email']]);

    // Analytics taken back: the wrapper's change event and what follows carry Analytics: false.
    const after = await p.evaluate(async () => {
        window.__setConsent({ Analytics: false, Advertising: true });
        return (await window.analytics.track('After Revoke', { n: 2 })).event.messageId;
    });
    const [revoked] = await arrivedOnce([{ type: 'track', event: 'After Revoke', messageId: after }]);
    assert.deepEqual(revoked.event.context.consent.categoryPreferences, { Analytics: false, Advertising: true });
    assert.ok(!(revoked.event.context.consent.categories || []).includes('analytics'));
    assert.equal(revoked.privacy.consent, 'stripped', `stripped without analytics: ${revoked.raw}`);
    assert.equal(revoked.event.userId, undefined, 'the user id is stripped');
    assert.ok(GW);
}
