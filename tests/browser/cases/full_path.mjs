// The whole product: a purchase tracked in the browser goes through the gateway (which hashes
// the e-mail and sets the first-party _fbp cookie), Kafka and sluice-deliver to an HTTPS stub of
// Meta's Conversions API; asserted at the stub, where the raw e-mail never arrives.
import { createHash } from 'node:crypto';
import { SHOP, assert, ctl, env, page, servePage, tagScript, waitFor } from '../lib.mjs';

export default async function (t) {
    servePage(SHOP, '/checkout/done', page({ title: 'Thank you', head: tagScript({ 'write-key': env.keys.web, 'flush-interval': 100 }) }));
    const p = await t.open(`${SHOP}/checkout/done?order=o-77`);
    const sent = await p.evaluate(() => {
        sluice.track('Order Completed', { order_id: 'o-77', revenue: 129.9, currency: 'EUR', email: ' Jane.Doe@Example.COM ' });
        const q = JSON.parse(localStorage.getItem(Object.keys(localStorage).find((k) => k.startsWith('sluice:q:')))).q;
        return { id: q.at(-1).messageId, ua: navigator.userAgent };
    });

    let hit;
    await waitFor(
        'the purchase at the Meta stub',
        async () => {
            for (const r of await ctl('stub_requests'))
                for (const ev of (r.json && r.json.data) || []) if (ev.event_id === sent.id) hit = { r, ev };
            return hit;
        },
        30000,
        500
    );
    const { r, ev } = hit;
    assert.equal(r.method, 'POST');
    assert.match(r.path, /\/1234567890\/events$/);
    assert.equal(ev.event_name, 'Purchase');
    assert.equal(ev.action_source, 'website');
    assert.equal(ev.event_source_url, `${SHOP}/checkout/done?order=o-77`);
    assert.equal(ev.user_data.client_user_agent, sent.ua);
    const em = createHash('sha256').update('jane.doe@example.com').digest('hex');
    assert.deepEqual(ev.user_data.em, [em], 'the gateway normalised and hashed the e-mail');
    assert.ok(!JSON.stringify(r).toLowerCase().includes('jane.doe'), 'the raw e-mail never reached the vendor');

    // _fbp: minted by the gateway as a first-party cookie of acme.test (so the page sees it), and
    // sent to Meta with the event.
    const fbp = await p.evaluate(() => (document.cookie.match(/(?:^|; )_fbp=([^;]+)/) || [])[1]);
    assert.match(fbp || '', /^fb\.1\.\d+\.\d+$/);
    assert.equal(ev.user_data.fbp, fbp);
}
