// A page view and a track call (and identify, group, alias, consent) reach Kafka with the
// fields the tag fills in and the gateway adds; the anonymous id is the one the tag stored, and
// the ids set in one tab (reset, identify) are the ones the visitor's other open tabs send.
import { SHOP, UUID4, VERSION, assert, delivered, env, eventsWhere, page, servePage, sleep, tagScript, waitFor } from '../lib.mjs';

export default async function (t) {
    servePage(SHOP, '/', page({ title: 'Acme Shop', body: '<a id="widget" href="/products/widget?color=red">widget</a>' }));
    servePage(
        SHOP,
        '/products/widget',
        page({ title: 'Widget — Acme', head: tagScript({ 'write-key': env.keys.web, 'flush-interval': 200 }) })
    );
    const before = new Date().toISOString();
    const c = await t.context();
    const p = await c.newPage();
    await p.goto(`${SHOP}/`);
    await p.click('#widget'); // a real navigation, so document.referrer is the shop's home page
    await p.waitForFunction(() => window.sluice && window.sluice.VERSION);
    const ua = await p.evaluate(() => navigator.userAgent);

    const aid = await p.evaluate(() => sluice.anonymousId());
    assert.match(aid, UUID4);
    assert.equal(await p.evaluate(() => JSON.parse(localStorage.getItem('sluice:aid'))), aid, 'the anonymous id is stored');

    // The automatic page view.
    const [pv] = await eventsWhere('the page view', (e) => e.type === 'page' && e.anonymousId === aid);
    const url = `${SHOP}/products/widget?color=red`;
    assert.equal(pv.org, 'acme');
    assert.equal(pv.source, 'web');
    assert.equal(pv.kafkaKey, `acme:${aid}`);
    assert.match(pv.event.messageId, UUID4);
    assert.ok(pv.event.timestamp >= before && pv.event.timestamp <= new Date().toISOString(), 'timestamp is now');
    assert.deepEqual(pv.event.context.page, { url, path: '/products/widget', referrer: `${SHOP}/`, title: 'Widget — Acme' });
    assert.deepEqual(pv.event.context.library, { name: 'sluice.js', version: VERSION });
    assert.deepEqual(pv.event.context.consent, { categories: [] });
    assert.equal(pv.event.context.userAgent, ua, 'the gateway added the user agent');
    assert.deepEqual(pv.event.properties, { url, path: '/products/widget', referrer: `${SHOP}/`, title: 'Widget — Acme', search: '?color=red' });
    assert.equal(pv.event.userId, undefined);

    // Calls from the page, in order.
    const ids = await p.evaluate(() => {
        const mark = () => JSON.parse(localStorage.getItem(Object.keys(localStorage).find((k) => k.startsWith('sluice:q:')))).q.at(-1).messageId;
        const out = {};
        sluice.track('Order Completed', { order_id: 'o-1001', revenue: 42.5, currency: 'EUR', items: [{ sku: 'w-1', qty: 2 }] });
        out.track = mark();
        sluice.identify('user-7', { plan: 'pro' });
        out.identify = mark();
        sluice.group('acct-1', { name: 'Acme Corp' });
        out.group = mark();
        sluice.consent({ categories: ['analytics', 'ads'] });
        sluice.track('Coupon Applied', { coupon: 'SPRING' });
        out.after = mark();
        sluice.alias('user-8');
        out.alias = mark();
        return out;
    });
    const got = await delivered(Object.values(ids));
    const ev = (id) => got.find((m) => m.event.messageId === id).event;

    const track = ev(ids.track);
    assert.equal(track.type, 'track');
    assert.equal(track.event, 'Order Completed');
    assert.deepEqual(track.properties, { order_id: 'o-1001', revenue: 42.5, currency: 'EUR', items: [{ sku: 'w-1', qty: 2 }] });
    assert.equal(track.anonymousId, aid);
    assert.equal(track.userId, undefined, 'no user id before identify');
    assert.deepEqual(track.context.page, pv.event.context.page);

    const identify = ev(ids.identify);
    assert.equal(identify.type, 'identify');
    assert.equal(identify.userId, 'user-7');
    assert.deepEqual(identify.traits, { plan: 'pro' });

    const group = ev(ids.group);
    assert.equal(group.type, 'group');
    assert.equal(group.groupId, 'acct-1');
    assert.equal(group.userId, 'user-7', 'events after identify carry the user id');
    assert.deepEqual(group.traits, { name: 'Acme Corp' });

    const after = ev(ids.after);
    assert.deepEqual(after.context.consent, { categories: ['analytics', 'ads'] }, 'consent() changes later events');
    assert.deepEqual(group.context.consent, { categories: [] }, '...and not earlier ones');

    const alias = ev(ids.alias);
    assert.equal(alias.type, 'alias');
    assert.equal(alias.userId, 'user-8');
    assert.equal(alias.previousId, 'user-7');

    // How they travelled: text/plain batches (no preflight), the write key in the body and
    // never in Kafka.
    const sent = t.batches();
    assert.ok(sent.length >= 2);
    for (const b of sent) {
        assert.match(b.headers['content-type'], /^text\/plain/);
        assert.equal(b.json.writeKey, env.keys.web);
    }
    assert.equal(t.requests.filter((r) => r.method === 'OPTIONS').length, 0, 'no CORS preflight');
    for (const m of got) assert.equal(m.event.writeKey, undefined);

    const stats = await waitFor('an empty queue', () => p.evaluate(() => (sluice.stats().queued === 0 ? sluice.stats() : null)));
    assert.equal(stats.sent, 6);
    assert.equal(stats.invalid, 0);

    // reset(): a new anonymous id and no user id, also for the visitor's other open tab (a
    // log-out on a shared computer: that tab's events went on carrying the user id).
    const p2 = await t.open(`${SHOP}/products/widget?color=red`, c);
    assert.equal(await p2.evaluate(() => sluice.anonymousId()), aid);
    const id2 = await p.evaluate(() => {
        sluice.reset();
        sluice.track('After Reset');
        return { aid: sluice.anonymousId(), uid: localStorage.getItem('sluice:uid') };
    });
    assert.notEqual(id2.aid, aid);
    assert.equal(id2.uid, null);
    const [r] = await eventsWhere('the event after reset', (e) => e.event === 'After Reset');
    assert.equal(r.event.anonymousId, id2.aid);
    assert.equal(r.event.userId, undefined);
    await sleep(300);
    await p2.evaluate(() => sluice.track('Other Tab After Reset'));
    const [o] = await eventsWhere('the other tab\'s event after reset', (e) => e.event === 'Other Tab After Reset');
    assert.equal(o.event.userId, undefined, 'the other tab forgot the user id');
    assert.equal(o.event.anonymousId, id2.aid, 'the other tab took the new anonymous id');

    // Events the gateway refuses are counted and dropped, never retried: a bad event next to a
    // good one (200 with rejected[]), then a batch of only a bad one (400).
    t.allowConsole(/Failed to load resource: the server responded with a status of 400/);
    const sentBefore = t.batches().length;
    const s0 = await p.evaluate(() => sluice.stats());
    await p.evaluate(() => {
        sluice.track('');
        sluice.track('Fine After Bad');
    });
    await eventsWhere('the good event of the mixed batch', (e) => e.event === 'Fine After Bad');
    await waitFor('the mixed batch settled', () => p.evaluate(() => sluice.stats().queued === 0));
    await p.evaluate(() => sluice.track(''));
    await waitFor('the bad batch settled', () => p.evaluate(() => sluice.stats().queued === 0));
    await sleep(1500); // a retry would have happened by now
    const refused = t.batches().slice(sentBefore);
    assert.deepEqual(refused.map((b) => b.status), [200, 400], 'two requests, no retry');
    const s1 = await p.evaluate(() => sluice.stats());
    assert.equal(s1.invalid - s0.invalid, 2);
    assert.equal(s1.sent - s0.sent, 1);
    assert.equal(s1.retries, s0.retries);
}
