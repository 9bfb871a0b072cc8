// Consent before cookies, in the browser's own cookie jar: the gateway sets its cookies only for
// events whose consent carries the categories they need (consentco requires analytics), and a
// refusal deletes them (Max-Age=0). The tag here does not hold events back (no requireConsent),
// so every choice reaches the gateway with the events that follow it.
import { GW, SHOP, assert, env, kafka, page, servePage, tagScript, waitFor } from '../lib.mjs';

const sid = async (c) => (await c.cookies(GW)).find((k) => k.name === '_sid');

export default async function (t) {
    servePage(SHOP, '/', page({ title: 'Shop', head: tagScript({ 'write-key': env.keys.consent, 'flush-interval': 100 }) }));
    const c = await t.context();
    const p = await t.open(`${SHOP}/`, c);
    const aid = await p.evaluate(() => sluice.anonymousId());

    // The page view went out without consent: answered, and nothing set.
    await waitFor('the first batch answered', () => t.batches().some((b) => b.status === 200));
    assert.equal(await sid(c), undefined, 'no anonymous-id cookie before consent');
    assert.deepEqual(await c.cookies(GW), [], 'no cookie at all before consent');

    // Consent to analytics: the next answer sets the cookie, HttpOnly, holding the tag's id.
    await p.evaluate(() => {
        sluice.consent({ categories: ['analytics'] });
        sluice.track('Consented');
    });
    await waitFor('the consented event in Kafka', async () => (await kafka()).some((m) => m.event.event === 'Consented'));
    const set = await waitFor('the cookie', () => sid(c));
    assert.equal(set.value, aid);
    assert.equal(set.httpOnly, true);
    assert.equal(set.secure, true);

    // Refusal: the next answer expires it.
    const before = t.batches().length;
    await p.evaluate(() => {
        sluice.consent({ categories: [] });
        sluice.track('Refused');
    });
    await waitFor('the batch after the refusal answered', () => t.batches().slice(before).some((b) => b.status === 200));
    assert.equal(await sid(c), undefined, 'the refusal deleted the cookie');
    assert.equal((await kafka()).filter((m) => m.event.event === 'Refused').length, 0, 'consentco drops the event');
}
