// A page still carrying a write key the gateway no longer knows (a key retired after its grace
// hours, a typo in the snippet): the gateway answers 401 before it has judged the origin against
// a source, with the CORS headers of an origin some source allows, so the tag reads the 401, drops
// the batch and stops. Without those headers the browser reported a network error, and the tag
// kept the events and retried them on every page of every visitor, for ever.
import { SHOP, assert, page, servePage, sleep, storedQueue, fetchLog, tagScript } from '../lib.mjs';

export default async function (t) {
    t.allowConsole(/Failed to load resource: the server responded with a status of 401/);
    servePage(SHOP, '/', page({ title: 'Shop', head: tagScript({ 'write-key': 'wk_live_retired_0000', 'flush-interval': 50, 'retry-base': 50, 'retry-max': 200 }) }));
    const p = await t.open(`${SHOP}/`, await t.timedContext());
    await p.evaluate(() => sluice.track('Added to Cart'));
    await sleep(3000); // long enough for a dozen retries at retry-max 200 ms
    const log = await fetchLog(p);
    assert.ok(log.length >= 1, 'the tag sent its events');
    assert.deepEqual([...new Set(log.map((f) => f.status))], [401], 'the page read the 401 (not a network error)');
    assert.ok(log.length <= 2, `the refused events were not retried (${log.length} requests)`);
    assert.deepEqual(await storedQueue(p), [], 'nothing left queued for the next page');
    const s = await p.evaluate(() => sluice.stats());
    assert.equal(s.sent, 0);
    assert.ok(s.invalid >= 1, 'counted as refused');
}
