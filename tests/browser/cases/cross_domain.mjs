// Cross-domain: a click from shop.acme.test to checkout.acme-pay.test fetches a single-use
// token from the shop's gateway and appends it as _dft; the checkout page removes it from the
// address bar and sends it with its first event; the gateway adopts the shop's anonymous id
// for that event and for the checkout's later ones. The same link opened again (a shared or
// bookmarked URL) is refused as a replay and links nothing. Before consent (requireConsent)
// a click asks the gateway for nothing: the link opens as it is. A plain-http link never
// carries a token.
import { CHECKOUT, GW, GW_PAY, SHOP, assert, ctl, env, eventsWhere, page, servePage, tagScript, waitFor } from '../lib.mjs';

export default async function (t) {
    const attrs = { 'write-key': env.keys.web, 'flush-interval': 100 };
    servePage(
        SHOP,
        '/',
        page({
            title: 'Shop',
            head: tagScript({ ...attrs, 'cross-domain': 'checkout.acme-pay.test' }, GW),
            body: `<a id="pay" href="${CHECKOUT}/pay?order=9#summary">Pay</a>` +
                `<a id="plain" target="_blank" href="${CHECKOUT.replace('https:', 'http:')}/plain">Plain</a>`,
        })
    );
    servePage(CHECKOUT, '/pay', page({ title: 'Checkout', head: tagScript({ ...attrs, 'cross-domain': 'shop.acme.test' }, GW_PAY) }));

    const c = await t.context();
    const navigations = [];
    c.on('request', (r) => r.isNavigationRequest() && navigations.push(r.url()));
    const p = await t.open(`${SHOP}/`, c);
    const shopId = await p.evaluate(() => sluice.anonymousId());
    await eventsWhere('the shop page view', (e) => e.type === 'page' && e.anonymousId === shopId);

    // A plain-http link to a listed domain gets no token: on the wire it could be read and
    // redeemed by someone else first.
    const popup = c.waitForEvent('page');
    await p.click('#plain');
    const opened = await popup;
    await waitFor('the plain link to open', () => navigations.some((u) => u.includes('/plain')));
    assert.ok(!t.requests.some((r) => /\/v1\/xd\?/.test(r.url)), 'no token was asked for the http link');
    assert.ok(!navigations.some((u) => u.includes('/plain') && u.includes('_dft')), 'the http link carried no _dft');
    await opened.close();

    await p.click('#pay');
    await p.waitForURL(/\/pay\?order=9#summary$/);
    await p.waitForFunction(() => window.sluice && window.sluice.VERSION);

    // The token went out in the link and came back out of the address bar.
    const xd = t.requests.find((r) => /\/v1\/xd\?/.test(r.url));
    assert.ok(xd, 'the shop asked its gateway for a token');
    const q = new URL(xd.url).searchParams;
    assert.equal(q.get('to'), `${CHECKOUT}/pay?order=9#summary`);
    assert.equal(q.get('writeKey'), env.keys.web);
    assert.equal(q.get('anonymousId'), shopId);
    const landing = navigations.find((u) => u.startsWith(`${CHECKOUT}/pay`));
    const token = new URL(landing).searchParams.get('_dft');
    assert.ok(token && token.length > 40, 'the link carried _dft');
    assert.equal(p.url(), `${CHECKOUT}/pay?order=9#summary`, '_dft is gone from the address bar');

    // The checkout's events carry the shop's id: its first event (with the token) and later ones.
    const localId = await p.evaluate(() => sluice.anonymousId());
    assert.notEqual(localId, shopId, 'the checkout tag has its own id');
    await p.evaluate(() => sluice.track('Order Paid', { order: 9 }));
    const [pv] = await eventsWhere('the checkout page view', (e) => e.type === 'page' && e.context.page.title === 'Checkout');
    assert.equal(pv.event.anonymousId, shopId, 'the first event adopted the shop id');
    assert.equal(pv.event.context.identity.crossDomain, true);
    assert.equal(pv.event.context.identity.linkedFrom, localId);
    assert.equal(pv.event.context.crossDomainToken, undefined, 'the token never reaches Kafka');
    assert.equal(pv.event.context.page.url, `${CHECKOUT}/pay?order=9#summary`);
    const [paid] = await eventsWhere('the later checkout event', (e) => e.event === 'Order Paid');
    assert.equal(paid.event.anonymousId, shopId, 'later events follow the adopted id');
    assert.equal(paid.event.context.identity.linkedFrom, localId);
    assert.equal(paid.kafkaKey, `acme:${shopId}`, 'in order with the shop events');

    // Replay: another visitor opens the same URL, token included, from a link on the shop (a
    // pasted URL, with no referrer, is not even redeemed: case cross_domain_links).
    servePage(SHOP, '/shared', page({ title: 'Shop, shared link', body: `<a id="shared" href="${landing}">Pay</a>` }));
    const other = await t.context();
    const r = await other.newPage();
    await r.goto(`${SHOP}/shared`);
    await r.click('#shared');
    await r.waitForURL(/\/pay\?order=9$/);
    await r.waitForFunction(() => window.sluice && window.sluice.VERSION);
    assert.equal(r.url(), `${CHECKOUT}/pay?order=9`); // (a request URL has no fragment)
    const otherId = await r.evaluate(() => sluice.anonymousId());
    const [rv] = await eventsWhere('the replayed page view', (e) => e.type === 'page' && e.anonymousId === otherId);
    assert.equal((rv.event.context.identity || {}).crossDomain, undefined, 'the replayed token linked nothing');
    const replayed = await waitFor('the replay counted', async () => (await ctl('metric', { series: 'sluice_xd_tokens_total{outcome="replayed"}' })) >= 1 || null);
    assert.ok(replayed);
    assert.equal(await ctl('metric', { series: 'sluice_xd_tokens_total{outcome="redeemed"}' }), 1);
    assert.equal(await ctl('metric', { series: 'sluice_xd_tokens_total{outcome="issued"}' }), 1);

    // requireConsent and no answer yet: the click sends nothing (not the anonymous id to /xd).
    servePage(
        SHOP,
        '/ask',
        page({
            title: 'Shop, banner up',
            head: tagScript({ ...attrs, 'require-consent': 'true', 'cross-domain': 'checkout.acme-pay.test' }, GW),
            body: `<a id="pay" href="${CHECKOUT}/pay?order=10">Pay</a>`,
        })
    );
    const fresh = await t.context();
    const asked = t.requests.length;
    const pa = await t.open(`${SHOP}/ask`, fresh);
    await pa.click('#pay');
    await pa.waitForURL(`${CHECKOUT}/pay?order=10`);
    await pa.waitForFunction(() => window.sluice && window.sluice.VERSION);
    assert.deepEqual(
        t.requests.slice(asked).filter((r) => /\/v1\/xd\?/.test(r.url)).map((r) => r.url),
        [],
        'no token was asked for before consent'
    );
}
