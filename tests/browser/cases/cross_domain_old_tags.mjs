// Cross-domain links meeting the tags visitors' browsers still run after an upgrade: a page that
// pinned an earlier release (kept in gateway/tag/dist/previous/, served at its versioned URL) or
// a cached copy runs it for days against the new gateway.
// - A hostile page (of no site of the org) links a visitor to the checkout with a token its author
//   got for his own shop id. The current tag does not redeem it (its referrer is no listed host);
//   the earlier tags sent it with their first event, and the gateway gave the visitor the author's
//   id. Each earlier tag's visitor keeps its own id.
// - A link on the shop still carries the shop's id into the checkout page running the earlier tag.
// - The earlier tag on the shop (a CDN's cached copy), the current one on the checkout, and a
//   click in the first second of a first visit: the earlier tags ask for the token before their
//   first batch went out, so the gateway knew no id of this browser and sealed a new one into the
//   token; the checkout took it while every shop event carried the tag's own id (a visitor split
//   for good). /xd now claims the tag's id, as a batch does, and the token carries it.
import { createHash } from 'node:crypto';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { CHECKOUT, GW, GW_PAY, SHOP, assert, env, eventsWhere, page, servePage, tagScript } from '../lib.mjs';

const short = (b) => createHash('sha256').update(b).digest('hex').slice(0, 16);

export default async function (t) {
    const key = env.keys.web;
    const dir = join(env.sourceDir, 'gateway/tag/dist/previous');
    const previous = readdirSync(dir)
        .filter((f) => /^sluice-.+\.min\.js$/.test(f))
        .map((f) => ({ version: /^sluice-(.+)\.min\.js$/.exec(f)[1], hash: short(readFileSync(join(dir, f))) }));
    assert.ok(previous.length >= 1, 'at least one earlier release is kept');

    let links = '';
    for (const b of previous) {
        servePage(
            CHECKOUT,
            `/old-${b.version}`,
            page({
                title: `Checkout ${b.version}`,
                head: `<script src="${GW_PAY}/sluice.${b.hash}.js" data-write-key="${key}" data-flush-interval="100" data-cross-domain="shop.acme.test"></script>`,
            })
        );
        links += `<a id="v${b.version.replace(/\./g, '_')}" href="${CHECKOUT}/old-${b.version}?case=shop">Pay ${b.version}</a>`;
    }
    servePage(SHOP, '/', page({ title: 'Shop', head: tagScript({ 'write-key': key, 'cross-domain': 'checkout.acme-pay.test' }, GW), body: links }));
    servePage(CHECKOUT, '/pay', page({ title: 'Checkout', head: tagScript({ 'write-key': key, 'flush-interval': 100, 'cross-domain': 'shop.acme.test' }, GW_PAY) }));
    for (const b of previous)
        servePage(
            SHOP,
            `/old-${b.version}`,
            page({
                title: `Shop ${b.version}`,
                head: `<script src="${GW}/sluice.${b.hash}.js" data-write-key="${key}" data-cross-domain="checkout.acme-pay.test"></script>`,
                body: `<a id="pay" href="${CHECKOUT}/pay?case=early-${b.version}">Pay</a>`,
            })
        );

    for (const b of previous) {
        // The hostile link: the author's token, posted on a page of his own.
        const author = await t.open(`${SHOP}/`, await t.context());
        const authorId = await author.evaluate(() => sluice.anonymousId());
        await eventsWhere(`the author's shop page view (${b.version})`, (e) => e.type === 'page' && e.anonymousId === authorId);
        const forced = `${CHECKOUT}/old-${b.version}?case=forced`;
        const { token } = await author.evaluate(
            async (u) => (await fetch(u, { credentials: 'include' })).json(),
            `${GW}/v1/xd?to=${encodeURIComponent(forced)}&writeKey=${key}`
        );
        assert.ok(token, 'the author got a token for his id');
        const EVIL = `https://cats.evil.test:${env.pagePort}`;
        servePage(EVIL, `/${b.version}`, page({ title: 'Cats', body: `<a id="cats" href="${forced}&_dft=${token}">Cats</a>` }));
        const vp = await (await t.context()).newPage();
        await vp.goto(`${EVIL}/${b.version}`);
        await vp.click('#cats');
        await vp.waitForURL(/case=forced$/);
        await vp.waitForFunction(() => window.sluice && window.sluice.VERSION);
        assert.equal(await vp.evaluate(() => sluice.VERSION), b.version, `the checkout runs ${b.version}`);
        const [pv] = await eventsWhere(`the page view after the hostile link (${b.version})`, (e) => e.type === 'page' && e.context.page.url === forced);
        assert.equal(pv.event.context.library.version, b.version);
        assert.notEqual(pv.event.anonymousId, authorId, `${b.version}: the visitor did not take the author's id`);
        assert.equal((pv.event.context.identity || {}).crossDomain, undefined, `${b.version}: the author's token linked nothing`);
        await vp.evaluate(() => sluice.identify('visitor-old-tag'));
        await eventsWhere(`the visitor's identify (${b.version})`, (e) => e.type === 'identify' && e.userId === 'visitor-old-tag' && e.context.library.version === b.version);
        await author.evaluate((v) => sluice.track('Author Later ' + v), b.version);
        const [later] = await eventsWhere(`the author's later event (${b.version})`, (e) => e.event === `Author Later ${b.version}`);
        assert.equal((later.event.context.identity || {}).userId, undefined, `${b.version}: the visitor's user id is not on the author's events`);

        // The shop's own link: the earlier tag on the checkout still adopts the shop's id.
        const c = await t.context();
        const p = await t.open(`${SHOP}/`, c);
        const shopId = await p.evaluate(() => sluice.anonymousId());
        await eventsWhere(`the shop page view (${b.version})`, (e) => e.type === 'page' && e.anonymousId === shopId);
        await p.click(`#v${b.version.replace(/\./g, '_')}`);
        await p.waitForURL(new RegExp(`/old-${b.version.replace(/\./g, '\\.')}\\?case=shop$`));
        await p.waitForFunction(() => window.sluice && window.sluice.VERSION);
        const [co] = await eventsWhere(`the checkout page view from the shop (${b.version})`, (e) => e.type === 'page' && e.context.page.url === `${CHECKOUT}/old-${b.version}?case=shop`);
        assert.equal(co.event.anonymousId, shopId, `${b.version}: the checkout adopted the shop's id`);
        assert.equal((co.event.context.identity || {}).crossDomain, true, `${b.version}: linked`);

        // The earlier tag on the shop, a click at once on a first visit.
        const fc = await t.context();
        const fp = await t.open(`${SHOP}/old-${b.version}`, fc);
        assert.equal(await fp.evaluate(() => sluice.VERSION), b.version, `the shop runs ${b.version}`);
        const tagId = await fp.evaluate(() => sluice.anonymousId());
        await fp.click('#pay');
        await fp.waitForURL(new RegExp(`case=early-${b.version.replace(/\./g, '\\.')}$`));
        await fp.waitForFunction(() => window.sluice && window.sluice.VERSION);
        const [early] = await eventsWhere(`the checkout page view after an early click (${b.version})`, (e) => e.type === 'page' && e.context.page.url.endsWith(`case=early-${b.version}`));
        const [shopView] = await eventsWhere(`the early shop page view (${b.version})`, (e) => e.type === 'page' && e.context.page.title === `Shop ${b.version}`);
        assert.equal(shopView.event.anonymousId, tagId);
        assert.equal(early.event.anonymousId, tagId, `${b.version} on the shop: the checkout adopted the id the shop's events carry`);
        assert.equal((early.event.context.identity || {}).crossDomain, true, `${b.version} on the shop: linked`);
    }
}
