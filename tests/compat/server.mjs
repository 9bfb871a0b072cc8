// The checks every server SDK passes (cases segment_node_v3, segment_node_v2, analytics_node_v6,
// rudder_node): one batch from a server holding several users and every call type, sent as the
// SDK sends it to the write-key source "server" (sent_from: server). Then:
// - every call arrives in Kafka once, with its type, ids, name, properties and traits;
// - no event takes another's ids: an event without anonymousId gets none of the others' (nor
//   their Kafka key), and each event's context.ip is the one the server supplied;
// - traits.email is hashed wherever the SDK put it (RudderStack copies identify's traits into
//   context.traits too), and the raw address is nowhere in Kafka;
// - prices come back as the same numbers;
// - a page call's click ids (gclid, fbclid in its properties.url) are in context.clickIds, and a
//   track event's properties.url gives none;
// - an event given a past `timestamp` (an import) keeps that time, corrected for the clock only;
// - an invalid event of the accepted batch (a userId over 200 bytes) goes to sluice.invalid,
//   with its reason, its e-mail hashed, the offending value withheld;
// - with the brokers down the gateway answers 503, and the SDK's own retry delivers the event.
//
// An SDK adapter: {name, make(opts) -> client, send(client, type, message), flush(client),
// library (context.library.name the SDK stamps), retryOpts (options for the outage part)}.
import { assert, kafka, piiHashed, run, sameNumbers, through503, waitFor, arrivedOnce } from './lib.mjs';

export async function serverCase(sdk) {
    const A = `anon-a-${run}`, B = `anon-b-${run}`;
    const uA = `user-a-${run}`, uC = `user-c-${run}`, uD = `user-d-${run}`, uI = `user-i-${run}`;
    const past = new Date(Date.now() - 3 * 86400000);
    const email = 'Ada.Lovelace+Orders@Example.COM';
    const badEmail = 'Bad.Id@Example.com';
    const price = { revenue: 19.9, price: 0.1, quantity: 3, currency: 'EUR' };
    // A server's page call has its URL in properties.url only (no context.page): the ad click in it
    // is the visit's. A track event's properties.url (a link someone shared) is not.
    const landing = `https://www.shop.example/pricing?utm_source=google&gclid=G-${run}&fbclid=F-${run}`;
    const shared = `https://www.shop.example/p?gclid=someone-elses-${run}`;

    const c = sdk.make({ flushAt: 50, flushInterval: 600000 });
    const calls = [
        ['identify', { userId: uA, anonymousId: A, traits: { email, plan: 'pro' }, context: { ip: '203.0.113.7' } }],
        ['track', { anonymousId: B, event: 'Order Completed', properties: { ...price, order_id: `o-${run}` }, context: { ip: '198.51.100.23' } }],
        ['track', { userId: uC, event: 'Signed Up', properties: { plan: 'free', url: shared } }],
        ['page', { anonymousId: A, name: 'Pricing', category: 'Docs', properties: { path: '/pricing', url: landing, price: 19.9 } }],
        ['screen', { userId: uD, name: 'Home', properties: { tab: 'feed' } }],
        ['track', { userId: uI, event: 'Order Imported', timestamp: past }],
        ['group', { userId: uA, anonymousId: A, groupId: `grp-${run}`, traits: { name: 'Acme', employees: 12 } }],
        ['alias', { previousId: A, userId: uA, anonymousId: A }],
        ['identify', { userId: 'u'.repeat(201), traits: { email: badEmail, marker: `invalid-${run}` } }],
    ];
    for (const [type, msg] of calls) sdk.send(c, type, msg);
    await sdk.flush(c);

    const lib = (e) => e.context && e.context.library && e.context.library.name === sdk.library;
    const [identify, track, trackC, pageEv, screen, group, alias, imported] = await arrivedOnce([
        { type: 'identify', match: (e) => e.type === 'identify' && e.userId === uA, anonymousId: A },
        { type: 'track', event: 'Order Completed', match: (e) => e.event === 'Order Completed' && e.anonymousId === B, properties: { ...price, order_id: `o-${run}` } },
        { type: 'track', event: 'Signed Up', match: (e) => e.event === 'Signed Up' && e.userId === uC, properties: { plan: 'free', url: shared } },
        { type: 'page', name: 'Pricing', match: (e) => e.type === 'page' && e.anonymousId === A, category: 'Docs' },
        { type: 'screen', name: 'Home', match: (e) => e.type === 'screen' && e.userId === uD, properties: { tab: 'feed' } },
        { type: 'group', match: (e) => e.type === 'group' && e.groupId === `grp-${run}`, userId: uA, anonymousId: A, traits: { name: 'Acme', employees: 12 } },
        { type: 'alias', match: (e) => e.type === 'alias' && e.userId === uA, previousId: A },
        { type: 'track', event: 'Order Imported', match: (e) => e.event === 'Order Imported' && e.userId === uI },
    ]);
    for (const m of [identify, track, trackC, pageEv, screen, group, alias]) {
        assert.ok(lib(m.event), `${m.event.type}: context.library.name is ${sdk.library}: ${JSON.stringify(m.event.context)}`);
        assert.equal(m.org, 'compat');
        assert.equal(m.source, 'server');
        // The library's own User-Agent ("analytics-node/6.2.0") is not the visitor's: it became
        // every event's context.userAgent, and Meta's client_user_agent.
        const ua = m.event.context.userAgent;
        assert.ok(ua === undefined || !/analytics-|axios|node-fetch|undici|node/i.test(ua), `${m.event.type}: context.userAgent ${ua}`);
    }

    // Nobody's ids spread to another event of the batch.
    for (const m of [trackC, screen]) {
        assert.ok(m.event.anonymousId !== A && m.event.anonymousId !== B, `${m.event.type} of ${m.event.userId} took anonymousId ${m.event.anonymousId}`);
        assert.ok(!m.kafkaKey.includes(A) && !m.kafkaKey.includes(B), `${m.event.type} of ${m.event.userId} has Kafka key ${m.kafkaKey}`);
    }
    assert.equal(identify.kafkaKey, `compat:${A}`);
    assert.equal(track.kafkaKey, `compat:${B}`);
    assert.equal(identify.event.context.ip, '203.0.113.7', 'the context.ip the server supplied');
    assert.equal(track.event.context.ip, '198.51.100.23', 'the context.ip the server supplied');

    // PII wherever the SDK put it.
    const paths = [[identify, 'traits.email']];
    if (identify.event.context.traits && 'email' in identify.event.context.traits) paths.push([identify, 'context.traits.email']);
    if (sdk.traitsInContext) assert.equal(paths.length, 2, `${sdk.name} puts identify's traits into context.traits`);
    piiHashed(await kafka(), email, paths);
    assert.equal(identify.event.traits.plan, 'pro');

    sameNumbers(track, price);

    // The SDK's `timestamp` option, for events of the past: RudderStack's SDK sends it next to
    // originalTimestamp (the time of the call), which the correction used instead, so a purchase
    // of three days ago arrived stamped a second ago.
    const took = Date.parse(imported.event.timestamp);
    assert.ok(Math.abs(took - past.getTime()) < 60000, `timestamp ${imported.event.timestamp} is the one given, ${past.toISOString()}`);
    sameNumbers(pageEv, { price: 19.9 });
    assert.deepEqual(pageEv.event.context.clickIds, { gclid: `G-${run}`, fbclid: `F-${run}` }, 'the page call\'s click ids');
    assert.equal(trackC.event.context.clickIds, undefined, 'a track event\'s properties.url is no click of the visitor\'s');

    // A 503, then the SDK's own retry.
    const r = sdk.make({ flushAt: 1, flushInterval: 100, ...sdk.retryOpts });
    const retried = await through503(
        ['batch'],
        async () => {
            sdk.send(r, 'track', { anonymousId: `anon-retry-${run}`, event: 'Retry Me', properties: { n: 1 } });
            sdk.flush(r).catch(() => {}); // resolves once the retries are over; the events show when
        },
        (e) => e.event === 'Retry Me' && e.anonymousId === `anon-retry-${run}`
    );
    const ids = new Set(retried.map((m) => m.event.messageId));
    assert.equal(ids.size, 1, 'one event, at least once');
    await sdk.flush(r);
    // The invalid event is not silently lost.
    const invalid = await waitFor(
        'the invalid identify in sluice.invalid',
        async () => {
            const got = await kafka('sluice.invalid');
            return got.length ? got : null;
        },
        20000,
        500
    );
    assert.equal(invalid.length, 1, `one invalid event: ${invalid.map((m) => m.raw).join('\n')}`);
    const [bad] = invalid;
    assert.equal(bad.source, 'server');
    assert.equal(bad.error.code, 'invalid_event', `the reason: ${bad.raw}`);
    assert.match(bad.error.path, /userId$/, `the reason names the field: ${bad.raw}`);
    assert.equal(bad.event.traits.marker, `invalid-${run}`);
    assert.ok(!bad.raw.includes('u'.repeat(201)), `the value that made it invalid is withheld: ${bad.raw}`);
    piiHashed(invalid, badEmail, [[bad, 'traits.email']]);
    piiHashed(await kafka(), badEmail, []);

}
