// The pages of `make demo` (gateway/tag/demo), rendered by its server code for the test's
// gateway, clicked through as a person would: consent, add to cart, sign in, go to checkout
// (cross-domain), pay. Every click's event arrives; the checkout's carry the shop's id.
import { render } from '../../../gateway/tag/demo/serve.mjs';
import { CHECKOUT, SHOP, assert, env, eventsWhere, servePage, sleep } from '../lib.mjs';

export default async function (t) {
    const opts = { gatewayPort: env.gatewayPort, writeKey: env.keys.web };
    servePage(SHOP, '/', render('/', `shop.acme.test:${env.pagePort}`, opts));
    servePage(CHECKOUT, '/checkout', render('/checkout', `checkout.acme-pay.test:${env.pagePort}`, opts));

    const p = await t.open(`${SHOP}/`);
    await sleep(1000);
    assert.equal(t.batches().length, 0, 'nothing before the consent banner is answered');
    await p.click('#accept-all');
    await p.click('#add');
    await p.click('#sign-in');
    const shopId = await p.evaluate(() => sluice.anonymousId());
    const shop = await eventsWhere('the shop events', (e) => e.anonymousId === shopId, 3);
    assert.deepEqual(shop.map((m) => m.event.type).sort(), ['identify', 'page', 'track']);
    for (const m of shop) assert.deepEqual(m.event.context.consent.categories, ['analytics', 'marketing']);
    assert.match(await p.textContent('#status'), new RegExp(shopId));

    await p.click('#checkout');
    await p.waitForURL(`${CHECKOUT}/checkout`); // _dft already gone
    await p.waitForFunction(() => window.sluice && window.sluice.VERSION);
    await p.click('#consent');
    await p.click('#pay');
    const paid = await eventsWhere('the checkout events', (e) => e.context.page?.url === `${CHECKOUT}/checkout`, 2);
    for (const m of paid) assert.equal(m.event.anonymousId, shopId, `${m.event.type} carries the shop's id`);
    assert.ok(paid.some((m) => m.event.event === 'Order Completed'));
    assert.ok(paid.some((m) => m.event.context.identity && m.event.context.identity.crossDomain));
}
