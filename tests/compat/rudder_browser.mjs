// RudderStack's browser SDK (@rudderstack/analytics-js 3, its bundled UMD exactly as npm ships it)
// on a page of another origin than the gateway, in Chromium: the checks of the cases
// rudder_browser_xhr (one request per event: POST /v1/<type>), rudder_browser_batch (POST
// /v1/batch), rudder_browser_beacon (navigator.sendBeacon to /beacon/v1/batch?writeKey=...,
// text/plain) and rudder_browser_consent (context.consentManagement).
//
// How it is pointed at sluice (docs/compat.md): load(writeKey, '<gateway origin>', options) with
// the source config given by getSourceConfig, so nothing is fetched from RudderStack's servers;
// loadIntegration false and polyfillIfRequired false so no device-mode SDK or polyfill is fetched;
// configUrl, destSDKBaseURL and pluginsSDKBaseURL on the page's own server (never asked for: the
// bundled build carries its plugins).
import { GW, PAGES, assert, clockCorrected, ctl, env, eventsWhere, kafka, metric, page, piiHashed, run, sameNumbers, servePage, status503, waitFor, arrivedOnce } from './lib.mjs';

const UMD = '/sdk/@rudderstack/analytics-js/dist/npm/modern/bundled/umd/index.js';

function rudderPage({ key, mode, consent }) {
    const source = {
        source: {
            id: 'sluice-compat',
            name: 'sluice compat',
            workspaceId: 'sluice',
            enabled: true,
            config: { statsCollection: { errors: { enabled: false }, metrics: { enabled: false } } },
            destinations: [],
        },
    };
    const opts = {
        loadIntegration: false,
        polyfillIfRequired: false,
        configUrl: `${PAGES}/rs-config`,
        destSDKBaseURL: `${PAGES}/rs-destinations`,
        pluginsSDKBaseURL: `${PAGES}/rs-plugins`,
        ...(mode === 'batch' ? { queueOptions: { batch: { enabled: true, maxItems: 20, flushInterval: 300 } } } : {}),
        ...(mode === 'beacon' ? { useBeacon: true, beaconQueueOptions: { flushQueueInterval: 300 } } : {}),
        ...(consent ? { consentManagement: { enabled: true, provider: 'custom', ...consent } } : {}),
    };
    const script = `
        const ra = new rudderanalytics.RudderAnalytics();
        const opts = ${JSON.stringify(opts)};
        opts.getSourceConfig = () => (${JSON.stringify(source)});
        opts.onLoaded = () => { window.__rsLoaded = true; };
        ra.load(${JSON.stringify(key)}, ${JSON.stringify(GW)}, opts);
        window.ra = ra;
        // One call with its callback, which gets the event as the SDK queued it.
        window.rs = (method, ...args) => new Promise((resolve) => ra[method](...args, (e) => resolve(e.messageId)));`;
    servePage('/', page({ title: 'Shop', head: `<script src="${UMD}"></script><script>${script}</script>` }));
}

async function openPage(t, cfg) {
    const b = await t.browser();
    rudderPage(cfg);
    const p = await b.open('/');
    await p.waitForFunction(() => window.__rsLoaded === true, null, { timeout: 15000 });
    return { b, p };
}

/**
 * Every call type the SDK offers (page, track, alias, identify, group: it has no screen) arrives
 * once with the SDK's anonymous id; the page before identify (sent with "userId": "") has no user
 * id; identify's traits (which this SDK puts in context.traits) are hashed; then, except for
 * beacons (sendBeacon never sees the answer, so the SDK cannot retry), a 503 and the SDK's retry.
 */
export async function rudderCase(t, mode) {
    const { b, p } = await openPage(t, { key: env.keys.web, mode });
    if (mode !== 'beacon') b.allowConsole(/status of 503|Failed to deliver event|will be retried/);
    const uid = `user-${run}`, gid = `grp-${run}`, email = 'Mary.Jackson@Example.org';
    const ids = await p.evaluate(
        async ({ uid, gid, email }) => {
            const out = {};
            out.anonymousId = window.ra.getAnonymousId();
            out.page = await rs('page', 'Docs', 'Pricing', { price: 19.9 }, {});
            out.track1 = await rs('track', 'Product Viewed', { sku: 'w-1', price: 0.1 }, {});
            out.alias = await rs('alias', uid, {});
            out.identify = await rs('identify', uid, { email, plan: 'pro' }, {});
            out.track = await rs('track', 'Order Completed', { revenue: 19.9, price: 0.1, quantity: 3, currency: 'EUR' }, {});
            out.group = await rs('group', gid, { name: 'Acme', employees: 12 }, {});
            return out;
        },
        { uid, gid, email }
    );
    const aid = ids.anonymousId;
    assert.ok(aid, 'the SDK made an anonymous id');
    const got = await arrivedOnce([
        { type: 'page', messageId: ids.page, anonymousId: aid, name: 'Pricing', category: 'Docs' },
        { type: 'track', event: 'Product Viewed', messageId: ids.track1, anonymousId: aid, properties: { sku: 'w-1', price: 0.1 } },
        { type: 'alias', messageId: ids.alias, anonymousId: aid, userId: uid },
        { type: 'identify', messageId: ids.identify, anonymousId: aid, userId: uid },
        { type: 'track', event: 'Order Completed', messageId: ids.track, anonymousId: aid, userId: uid, properties: { revenue: 19.9, price: 0.1, quantity: 3, currency: 'EUR' } },
        { type: 'group', messageId: ids.group, anonymousId: aid, userId: uid, groupId: gid },
    ]);
    const [pg, viewed, , identify, order, group] = got;
    for (const m of got) {
        assert.equal(m.org, 'compat');
        assert.equal(m.kafkaKey, `compat:${aid}`);
        assert.equal(m.event.context.library.name, 'RudderLabs JavaScript SDK');
    }
    for (const m of [pg, viewed]) assert.equal(m.event.userId, undefined, `${m.event.type} before identify: no user id`);
    assert.equal(pg.event.properties.price, 19.9);
    sameNumbers(order, { revenue: 19.9, price: 0.1 });
    assert.deepEqual(group.event.traits, { name: 'Acme', employees: 12 });
    assert.equal(identify.event.context.traits.plan, 'pro');
    const paths = [[identify, 'context.traits.email']];
    if (identify.event.traits && 'email' in identify.event.traits) paths.push([identify, 'traits.email']);
    piiHashed(await kafka(), email, paths);

    // The requests the SDK made, all answered 200 (a refused preflight shows here as status 0).
    const posts = b.requests.filter((r) => r.method === 'POST');
    const where = [...new Set(posts.map((r) => new URL(r.url).pathname))].sort();
    const expected = { xhr: ['/v1/alias', '/v1/group', '/v1/identify', '/v1/page', '/v1/track'], batch: ['/v1/batch'], beacon: ['/beacon/v1/batch'] }[mode];
    assert.deepEqual(where, expected);
    // A visitor whose clock is two hours ahead: timestamp corrected, originalTimestamp kept.
    const skew = 2 * 3600 * 1000;
    const ps = await b.open('/', await b.skewedContext(skew));
    await ps.waitForFunction(() => window.__rsLoaded === true, null, { timeout: 15000 });
    const skewedId = await ps.evaluate(() => rs('track', 'Clock Skewed', {}, {}));
    const [skewed] = await arrivedOnce([{ type: 'track', event: 'Clock Skewed', messageId: skewedId }]);
    clockCorrected(skewed, skew);
    await ps.close();

    if (mode === 'xhr') {
        // A landing page opened from a cross-domain link: this SDK copies location.href, token
        // and fragment included, into context.page.tab_url and a page call's properties.tab_url
        // besides url and search. The token must not reach Kafka through any of them.
        const pl = await b.open('/?ref=mail&_dft=compatTokenText123#top');
        await pl.waitForFunction(() => window.__rsLoaded === true, null, { timeout: 15000 });
        const landedId = await pl.evaluate(() => rs('page', 'Landing', {}, {}));
        const [landed] = await arrivedOnce([{ type: 'page', messageId: landedId }]);
        assert.ok(!JSON.stringify(landed).includes('compatTokenText123'), `the token reached Kafka: ${JSON.stringify(landed.event.context.page)}`);
        assert.equal(landed.event.context.page.tab_url, `${PAGES}/?ref=mail#top`);
        assert.equal(landed.event.properties.tab_url, `${PAGES}/?ref=mail#top`);
        assert.equal(landed.event.context.page.url, `${PAGES}/?ref=mail`);
        await pl.close();
    }

    if (mode === 'beacon') {
        // sendBeacon's answer is not the page's to read; what counts is Kafka (above), and the key
        // in the query string.
        for (const r of posts) assert.equal(new URL(r.url).searchParams.get('writeKey'), env.keys.web);
        return;
    }
    for (const r of posts) assert.equal(r.status, 200, `${r.url}: ${r.status} ${r.failure || ''}`);
    for (const r of posts) assert.ok(r.headers.anonymousid && r.headers.sentat, `${r.url} carries AnonymousId and SentAt headers`);

    // A 503, then the SDK's own retry (with its Rsa-Retry-* headers).
    const route = mode === 'batch' ? 'batch' : 'track';
    const before = await metric(status503(route));
    await ctl('kafka_down');
    try {
        await p.evaluate(() => void window.ra.track('Retry Me', { n: 1 }));
        await waitFor('a 503 from the gateway', async () => (await metric(status503(route))) > before, 20000, 100);
    } finally {
        await ctl('kafka_up');
    }
    const retried = await eventsWhere('the event the SDK retried after the 503', (e) => e.event === 'Retry Me' && e.anonymousId === aid, 1, 60000);
    assert.equal(new Set(retried.map((m) => m.event.messageId)).size, 1, 'one event, at least once');
    const again = b.requests.filter((r) => r.method === 'POST' && r.headers['rsa-retry-attempt'] && r.body && r.body.includes('Retry Me'));
    assert.ok(again.some((r) => r.status === 200), `a retry with Rsa-Retry-Attempt was answered 200:\n  ${b.log()}`);
}

/**
 * Consent through RudderStack's consentManagement (provider custom) to the org "consented"
 * (required: analytics; alias C0002 -> analytics): allowed, events keep their ids and traits; once
 * the visitor denies C0002 (rudderanalytics.consent()), events are stripped.
 */
export async function rudderConsentCase(t) {
    const { p } = await openPage(t, { key: env.keys.consent, mode: 'xhr', consent: { allowedConsentIds: ['C0002'], deniedConsentIds: ['C0004'] } });
    const uid = `user-${run}`, email = 'Dorothy.Vaughan@Example.org';
    const ids = await p.evaluate(
        async ({ uid, email }) => ({
            identify: await rs('identify', uid, { email, plan: 'pro' }, {}),
            track: await rs('track', 'Order Completed', { revenue: 19.9 }, {}),
        }),
        { uid, email }
    );
    const [identify, track] = await arrivedOnce([
        { type: 'identify', messageId: ids.identify, userId: uid },
        { type: 'track', event: 'Order Completed', messageId: ids.track, userId: uid },
    ]);
    for (const m of [identify, track]) {
        assert.equal(m.org, 'consented');
        const cm = m.event.context.consentManagement;
        assert.deepEqual([cm.provider, cm.allowedConsentIds, cm.deniedConsentIds], ['custom', ['C0002'], ['C0004']], 'the SDK sent its format');
        assert.ok(m.event.context.consent.categories.includes('analytics'), `C0002 mapped to analytics: ${m.raw}`);
        assert.ok(!m.event.context.consent.categories.includes('marketing'), 'C0004 (marketing) denied');
        assert.ok(!(m.privacy && m.privacy.consent === 'stripped'), `not stripped: ${m.raw}`);
    }
    piiHashed(await kafka(), email, [[identify, 'context.traits.email']]);

    const after = await p.evaluate(async () => {
        window.ra.consent({ consentManagement: { allowedConsentIds: ['C0004'], deniedConsentIds: ['C0002'] } });
        return rs('track', 'After Revoke', { n: 2 }, {});
    });
    const [revoked] = await arrivedOnce([{ type: 'track', event: 'After Revoke', messageId: after }]);
    assert.deepEqual(revoked.event.context.consentManagement.deniedConsentIds, ['C0002']);
    assert.ok(!(revoked.event.context.consent.categories || []).includes('analytics'));
    assert.equal(revoked.privacy.consent, 'stripped', `stripped without analytics: ${revoked.raw}`);
    assert.equal(revoked.event.userId, undefined, 'the user id is stripped');
}
