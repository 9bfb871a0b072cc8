// Cross-domain links to a site whose banner is answered late. The checkout asks for consent
// (requireConsent): its tag holds the page view, and the token it landed with, in memory and
// sends nothing until the visitor answers. People read banners for minutes, far past the
// token's lifetime (token_ttl_s 60 s + clock_skew_s 5 s): the token that reaches the gateway
// then must still redeem, since the visitor landed with it in time, or the visitor is two
// visitors. Nothing may leave the page before the answer (no identity work before consent),
// and the token stays single use: the same link opened again by another visitor links nothing
// (that visitor landed after the token's lifetime; a client claiming otherwise is refused as a
// replay: integration test identity_xd).
import { CHECKOUT, GW, GW_PAY, SHOP, assert, ctl, env, eventsWhere, page, servePage, sleep, tagScript, waitFor } from '../lib.mjs';

export default async function (t) {
    const key = env.keys.web;
    servePage(SHOP, '/', page({ title: 'Shop', head: tagScript({ 'write-key': key, 'flush-interval': 100, 'cross-domain': 'checkout.acme-pay.test' }, GW), body: `<a id="pay" href="${CHECKOUT}/pay?case=late">Pay</a>` }));
    servePage(
        CHECKOUT,
        '/pay',
        page({ title: 'Checkout', head: tagScript({ 'write-key': key, 'flush-interval': 100, 'require-consent': 'true', 'cross-domain': 'shop.acme.test' }, GW_PAY) })
    );

    const c = await t.context();
    const navigations = [];
    c.on('request', (r) => r.isNavigationRequest() && navigations.push(r.url()));
    const p = await t.open(`${SHOP}/`, c);
    const shopId = await p.evaluate(() => sluice.anonymousId());
    await eventsWhere('the shop page view', (e) => e.type === 'page' && e.anonymousId === shopId);

    await p.click('#pay');
    await p.waitForURL(/\/pay\?case=late$/);
    await p.waitForFunction(() => window.sluice && window.sluice.VERSION);
    const landedAt = Date.now();
    const localId = await p.evaluate(() => sluice.anonymousId());
    const landing = navigations.find((u) => u.startsWith(`${CHECKOUT}/pay`) && u.includes('_dft='));
    assert.ok(landing, 'the link carried a token');

    // The banner stays up past the token's lifetime; nothing goes to the gateway meanwhile.
    const before = t.requests.length;
    await sleep(68000);
    assert.deepEqual(
        t.requests.slice(before).map((r) => r.url),
        [],
        'nothing left the checkout before consent'
    );
    assert.ok(Date.now() - landedAt > 66000);

    await p.evaluate(() => sluice.consent({ categories: ['analytics'] }));
    const [pv] = await eventsWhere('the checkout page view', (e) => e.type === 'page' && e.context.page.url.endsWith('case=late'));
    assert.equal(pv.event.anonymousId, shopId, 'the checkout adopted the shop id after a late answer');
    assert.equal(pv.event.context.identity.crossDomain, true);
    assert.equal(pv.event.context.identity.linkedFrom, localId);
    assert.equal(pv.kafkaKey, `acme:${shopId}`);
    assert.equal(await ctl('metric', { series: 'sluice_xd_tokens_total{outcome="expired"}' }), 0);

    // The same URL, opened from a link on the shop by another visitor, links nothing: it landed
    // after the token's lifetime.
    servePage(SHOP, '/shared', page({ title: 'Shop, shared link', body: `<a id="shared" href="${landing}">Pay</a>` }));
    const other = await t.context();
    const r = await other.newPage();
    await r.goto(`${SHOP}/shared`);
    await r.click('#shared');
    await r.waitForURL(/\/pay\?case=late$/);
    await r.waitForFunction(() => window.sluice && window.sluice.VERSION);
    const otherId = await r.evaluate(() => sluice.anonymousId());
    await r.evaluate(() => sluice.consent({ categories: ['analytics'] }));
    const [rv] = await eventsWhere('the replayed page view', (e) => e.type === 'page' && e.anonymousId === otherId);
    assert.equal((rv.event.context.identity || {}).crossDomain, undefined, 'the replayed token linked nothing');
    assert.ok(await waitFor('the refusal counted', async () => (await ctl('metric', { series: 'sluice_xd_tokens_total{outcome="expired"}' })) >= 1 || null));
    assert.equal(await ctl('metric', { series: 'sluice_xd_tokens_total{outcome="redeemed"}' }), 1);
}
