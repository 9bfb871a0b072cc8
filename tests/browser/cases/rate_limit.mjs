// A rate-limited source (0.5 requests/s, burst 1): the gateway answers 429 with Retry-After: 1;
// the tag never retries sooner than that, and every event arrives exactly once (a 429 queues
// nothing, so a retry cannot duplicate). Delays use the page's own clock. Big events too: each
// 429 answer is read, so the keepalive requests it answered stop counting against the browser's
// 64 KiB for requests in flight and the retries start (they would fail in the page, unsent).
import { SHOP, assert, delivered, env, eventsWhere, fetchLog, kafka, page, servePage, sleep, tagScript, waitFor } from '../lib.mjs';

export default async function (t) {
    t.allowConsole(/Failed to load resource: the server responded with a status of 429/);
    servePage(SHOP, '/', page({ title: 'Shop', head: tagScript({ 'write-key': env.keys.slow, 'flush-interval': 50, 'batch-size': 1, 'retry-base': 50 }) }));
    const p = await t.open(`${SHOP}/`, await t.timedContext());
    const pv = (await waitFor('the page view request', () => t.batches()[0])).json.batch[0];
    assert.equal(pv.type, 'page');
    // The page view may still be queued (its request not answered yet on a loaded machine): the
    // tracks are the queue's other two events.
    const tracks = await p.evaluate((pvId) => {
        sluice.track('One');
        sluice.track('Two');
        return JSON.parse(localStorage.getItem(Object.keys(localStorage).find((k) => k.startsWith('sluice:q:'))))
            .q.map((e) => e.messageId).filter((id) => id !== pvId);
    }, pv.messageId);
    assert.equal(tracks.length, 2);
    const ids = [pv.messageId, ...tracks];
    await delivered(ids, 30000);

    const log = await fetchLog(p);
    const limited = log.filter((f) => f.status === 429);
    assert.ok(limited.length >= 1, 'the gateway limited some requests');
    for (const f of limited) {
        assert.equal(f.retryAfter, '1');
        const next = log.find((x) => x.start > f.start);
        assert.ok(next, 'a 429 is retried');
        const waited = next.start - f.end;
        assert.ok(waited >= 1000, `retried ${waited} ms after a 429 that asked for 1 s`);
    }
    assert.equal(log.filter((f) => f.status === 200).length, 3, 'one accepted request per event');
    await sleep(1000);
    const all = await kafka();
    for (const id of ids) assert.equal(all.filter((m) => m.event.messageId === id).length, 1, `${id} arrived once`);
    const s = await p.evaluate(() => sluice.stats());
    assert.equal(s.sent, 3);
    assert.equal(s.retries, limited.length);

    // Big events, one per request (about 29 KB each, keepalive).
    servePage(SHOP, '/big', page({ title: 'Big', head: tagScript({ 'write-key': env.keys.slow, 'flush-interval': 50, 'batch-size': 1, 'retry-base': 50, 'auto-page': 'false' }) }));
    const pb = await t.open(`${SHOP}/big`, await t.timedContext());
    const aid = await pb.evaluate(() => {
        const x = 'x'.repeat(7000);
        for (const n of ['One', 'Two', 'Three', 'Four']) sluice.track(`Big ${n}`, { a: x, b: x, c: x, d: x });
        return sluice.anonymousId();
    });
    await eventsWhere('the big events', (e) => e.anonymousId === aid && /^Big /.test(e.event || ''), 4, 30000);
    const blog = await fetchLog(pb);
    assert.ok(blog.some((f) => f.status === 429), 'the gateway limited some requests');
    assert.deepEqual(blog.filter((f) => !f.status), [], 'every request started reached the gateway');
}
