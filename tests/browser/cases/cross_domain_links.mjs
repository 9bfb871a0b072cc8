// Cross-domain links as sites really write them, and a visitor who does not wait: every one of
// these must carry the shop's anonymous id to the checkout, as the plain link of case
// cross_domain does.
// - A click in the first second of a first visit, before the tag's first batch went out (the
//   default flushInterval): the gateway has set no cookie yet, so /xd knows no id of this
//   browser. The token must still carry the id the shop's events are sent with.
// - A link inside a web component (a shadow root): the click reaches the document retargeted to
//   the component.
// - target="_top" on a top-level page (the same tab, what CMS menus write).
// - A browser that lost the site's storage but kept the gateway's cookie (Safari deletes
//   script-written storage after 7 days without a visit; the cookie the gateway set lives on):
//   the tag starts with a new id, the token carries the cookie's. The shop's tag switches to the
//   id the token carried, so the shop's later events and the checkout's name one visitor.
// - target="_blank" still opens a new tab, which has the token.
// - rel="noreferrer": the site asked that the checkout not learn where the visitor came from, which
//   a token tells: no token is asked for, and the checkout gets no referrer (the tag had opened
//   the link itself, with a referrer, and a token).
// - A shop whose Referrer-Policy is no-referrer (helmet's default; here a <meta>): the checkout's
//   tag takes a token only from a listed referrer, and the visitor was split. The tag opens the
//   link sending the shop's origin only (never its path), and a link's own rel="noreferrer"
//   still wins (above).
// - A hostile page (of no site of the org) links a visitor to the checkout with a token its author
//   got for his own shop id. The visitor's browser keeps its own id, and the user id it then
//   identifies with never comes back on the author's events.
import { CHECKOUT, GW, GW_PAY, SHOP, assert, ctl, env, eventsWhere, page, servePage, tagScript } from '../lib.mjs';

export default async function (t) {
    const key = env.keys.web;
    const links =
        `<a id="pay" href="${CHECKOUT}/pay?case=fast">Pay</a>` +
        `<a id="top" target="_top" href="${CHECKOUT}/pay?case=top">Pay (top)</a>` +
        `<a id="nr" rel="noreferrer" href="${CHECKOUT}/pay?case=noreferrer">Pay (no referrer)</a>` +
        `<a id="itp" href="${CHECKOUT}/pay?case=storage">Pay (storage lost)</a>` +
        `<a id="blank" target="_blank" rel="noopener" href="${CHECKOUT}/pay?case=blank">Pay (new tab)</a>` +
        `<pay-button></pay-button>` +
        `<script>customElements.define('pay-button', class extends HTMLElement {
            connectedCallback() { this.attachShadow({mode: 'open'}).innerHTML = '<a href="${CHECKOUT}/pay?case=shadow"><span>Pay (component)</span></a>'; }
        });</script>`;
    servePage(SHOP, '/', page({ title: 'Shop', head: tagScript({ 'write-key': key, 'cross-domain': 'checkout.acme-pay.test' }, GW), body: links }));
    servePage(
        SHOP,
        '/private',
        page({
            title: 'Shop (no referrer)',
            head: '<meta name="referrer" content="no-referrer">' + tagScript({ 'write-key': key, 'cross-domain': 'checkout.acme-pay.test' }, GW),
            body: `<a id="priv" href="${CHECKOUT}/pay?case=private">Pay</a>`,
        })
    );
    servePage(CHECKOUT, '/pay', page({ title: 'Checkout', head: tagScript({ 'write-key': key, 'flush-interval': 100, 'cross-domain': 'shop.acme.test' }, GW_PAY) }));

    // One fresh visitor per link. The first clicks at once, with the shop's page view still
    // waiting in the queue; the others once it was delivered (the gateway's cookie is set), so
    // each shows only its own kind of link.
    const through = async (name, click, tab = false, path = '/') => {
        const c = await t.context();
        let p = await t.open(`${SHOP}${path}`, c);
        const shopId = await p.evaluate(() => sluice.anonymousId());
        if (name != 'fast') await eventsWhere(`the shop page view (${name})`, (e) => e.type === 'page' && e.anonymousId === shopId);
        const opened = tab && c.waitForEvent('page');
        await click(p);
        if (tab) p = await opened;
        await p.waitForURL(new RegExp(`/pay\\?case=${name}$`));
        await p.waitForFunction(() => window.sluice && window.sluice.VERSION);
        const referrer = await p.evaluate(() => document.referrer);
        const [pv] = await eventsWhere(`the checkout page view (${name})`, (e) => e.type === 'page' && e.context.page.url.endsWith(`case=${name}`));
        return { shopId, pv: pv.event, kafkaKey: pv.kafkaKey, referrer };
    };
    const adopted = (name, r) => {
        assert.equal(r.pv.anonymousId, r.shopId, `${name}: the checkout adopted the id the shop's events carry`);
        assert.equal((r.pv.context.identity || {}).crossDomain, true, `${name}: linked`);
        assert.equal(r.kafkaKey, `acme:${r.shopId}`, `${name}: in order with the shop's events`);
    };

    const fast = await through('fast', (p) => p.click('#pay'));
    adopted('fast', fast);
    const [shopView] = await eventsWhere('the shop page view', (e) => e.type === 'page' && e.anonymousId === fast.shopId && e.context.page.title === 'Shop');
    assert.ok(shopView, 'the shop page view went out under the same id');

    adopted('shadow', await through('shadow', (p) => p.locator('pay-button span').click()));
    adopted('top', await through('top', (p) => p.click('#top')));
    adopted('blank', await through('blank', (p) => p.click('#blank'), true));

    const c = await t.context();
    const p = await t.open(`${SHOP}/`, c);
    const kept = await p.evaluate(() => sluice.anonymousId());
    await eventsWhere('the first visit', (e) => e.type === 'page' && e.anonymousId === kept);
    await p.evaluate(() => localStorage.clear());
    await p.reload();
    await p.waitForFunction(() => window.sluice && window.sluice.VERSION);
    const fresh = await p.evaluate(() => sluice.anonymousId());
    assert.notEqual(fresh, kept, 'the tag starts over without its storage');
    await eventsWhere('the visit after the storage was lost', (e) => e.type === 'page' && e.anonymousId === fresh);
    await p.click('#itp');
    await p.waitForURL(/case=storage$/);
    const [landed] = await eventsWhere('the checkout page view (storage)', (e) => e.type === 'page' && e.context.page.url.endsWith('case=storage'));
    assert.equal((landed.event.context.identity || {}).crossDomain, true, 'storage: linked');
    const back = await t.open(`${SHOP}/`, c);
    assert.equal(await back.evaluate(() => sluice.anonymousId()), landed.event.anonymousId, "the shop's tag took the id the checkout adopted");
    await back.evaluate(() => sluice.track('Back At The Shop'));
    const [later] = await eventsWhere("the shop's later event", (e) => e.event === 'Back At The Shop');
    assert.equal(later.event.anonymousId, landed.event.anonymousId, "the shop's later events and the checkout's name one visitor");

    const issued = await ctl('metric', { series: 'sluice_xd_tokens_total{outcome="issued"}' });
    const nr = await through('noreferrer', (p) => p.click('#nr'));
    assert.equal(nr.referrer, '', 'rel=noreferrer: the checkout page got no referrer');
    assert.equal(nr.pv.context.page.referrer, '', 'rel=noreferrer: nor did its page view');
    assert.equal(await ctl('metric', { series: 'sluice_xd_tokens_total{outcome="issued"}' }), issued, 'rel=noreferrer: no token');
    assert.equal((nr.pv.context.identity || {}).crossDomain, undefined, 'rel=noreferrer: nothing linked');

    const priv = await through('private', (p) => p.click('#priv'), false, '/private');
    adopted('private', priv);
    assert.equal(priv.referrer, `${SHOP}/`, 'no-referrer page: the checkout learnt the shop origin only');
    assert.equal(priv.pv.context.page.referrer, `${SHOP}/`);

    const author = await t.open(`${SHOP}/`, await t.context());
    const authorId = await author.evaluate(() => sluice.anonymousId());
    await eventsWhere("the author's shop page view", (e) => e.type === 'page' && e.anonymousId === authorId);
    const forced = `${CHECKOUT}/pay?case=forced`;
    const { token } = await author.evaluate(
        async (u) => (await fetch(u, { credentials: 'include' })).json(),
        `${GW}/v1/xd?to=${encodeURIComponent(forced)}&writeKey=${key}`
    );
    assert.ok(token, 'the author got a token for his id');
    const EVIL = `https://cats.evil.test:${env.pagePort}`;
    servePage(EVIL, '/', page({ title: 'Cats', body: `<a id="cats" href="${forced}&_dft=${token}">Cats</a>` }));
    const vp = await (await t.context()).newPage();
    await vp.goto(`${EVIL}/`);
    await vp.click('#cats');
    await vp.waitForURL(/case=forced$/);
    await vp.waitForFunction(() => window.sluice && window.sluice.VERSION);
    const visitorId = await vp.evaluate(() => sluice.anonymousId());
    await vp.evaluate(() => sluice.identify('visitor-42'));
    const [pv] = await eventsWhere('the page view after the hostile link', (e) => e.type === 'page' && e.context.page.url === forced);
    assert.equal(pv.event.anonymousId, visitorId, 'the visitor kept its own id');
    assert.equal((pv.event.context.identity || {}).crossDomain, undefined, "the author's token linked nothing");
    await eventsWhere("the visitor's identify", (e) => e.type === 'identify' && e.userId === 'visitor-42');
    await author.evaluate(() => sluice.track('Author Later'));
    const [authorLater] = await eventsWhere("the author's later event", (e) => e.event === 'Author Later');
    assert.equal(authorLater.event.anonymousId, authorId);
    assert.equal(authorLater.event.userId, undefined);
    assert.equal((authorLater.event.context.identity || {}).userId, undefined, "the visitor's user id is not on the author's events");
}
