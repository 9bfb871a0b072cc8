// Kafka down: the gateway answers 503 with Retry-After; the tag waits that long before it
// retries, and the event arrives once the brokers are back. (Delays are measured with the
// page's own clock: the tag's fetch calls are logged in the page.)
import { SHOP, assert, ctl, delivered, env, fetchLog, page, servePage, storedQueue, tagScript, waitFor } from '../lib.mjs';

export default async function (t) {
    t.allowConsole(/Failed to load resource: the server responded with a status of 503/);
    // retry-base 100: without Retry-After the tag would retry within 100 ms.
    servePage(SHOP, '/', page({ title: 'Shop', head: tagScript({ 'write-key': env.keys.web, 'flush-interval': 100, 'retry-base': 100 }) }));
    const p = await t.open(`${SHOP}/`, await t.timedContext());
    await waitFor('the page view sent', () => p.evaluate(() => sluice.stats().sent === 1));

    await ctl('kafka_down');
    await p.evaluate(() => sluice.track('Payment Failed', { code: 'card_declined' }));
    const refused = await waitFor('a 503', async () => (await fetchLog(p)).find((f) => f.status === 503));
    assert.equal(refused.retryAfter, '2', 'the gateway asks for 2 s and exposes the header to the page');
    const [queued] = await storedQueue(p);
    assert.equal(queued.event, 'Payment Failed', 'the event stays queued');
    await ctl('kafka_up');

    const retry = await waitFor('the retry', async () => (await fetchLog(p)).find((f) => f.start > refused.start));
    const waited = retry.start - refused.end;
    assert.ok(waited >= 2000, `retried ${waited} ms after the 503: Retry-After says 2 s`);
    assert.ok(waited < 8000, `retried ${waited} ms after the 503: not much later either`);
    const again = t.batches().filter((b) => b.json.batch.some((e) => e.messageId === queued.messageId));
    assert.ok(again.length >= 2, 'the same event was sent again');

    // Kafka may also deliver the copy the gateway had queued before it answered 503: at least once.
    await delivered([queued.messageId]);
    const s = await waitFor('an empty queue', () => p.evaluate(() => (sluice.stats().queued === 0 ? sluice.stats() : null)));
    assert.ok(s.retries >= 1);
}
