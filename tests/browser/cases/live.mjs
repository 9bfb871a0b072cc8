// The live page of the gateway's metrics listener (docs/privacy.md "Live view"): without the
// bearer token it shows nothing; with it, an event sent by sluice.js shows up within a second,
// as it left the gateway (the e-mail hashed by the data layer, marked as hashed), never raw,
// and an event's values are shown as text, never run as HTML.
import { createHash } from 'node:crypto';
import { SHOP, assert, env, page, servePage, tagScript, waitFor } from '../lib.mjs';

const EMAIL = 'Jane.Doe@Example.com';

export default async function (t) {
    const LIVE = `http://127.0.0.1:${env.metricsPort}/live?org=acme`;
    // The page's polls answered 401 for a wrong token show in the console as failed loads.
    t.allowConsole(/status of 401/);

    // Without the token: the token form, and a wrong token refused.
    const stranger = await (await t.context()).newPage();
    await stranger.goto(LIVE);
    await stranger.waitForSelector('#login:not([hidden])');
    await stranger.fill('#token', 'not-the-token-0123456789');
    await stranger.click('#login button');
    await stranger.waitForFunction(() => document.getElementById('login-why').textContent.includes('refused'));
    assert.equal(await stranger.locator('article.event').count(), 0);

    // With the token, given in the fragment (never sent to a server), which the page takes out of
    // the address bar.
    const live = await (await t.context()).newPage();
    await live.goto(`${LIVE}#token=${encodeURIComponent(env.liveToken)}`);
    await live.waitForFunction(() => /^following acme/.test(document.getElementById('status').textContent));
    assert.equal(new URL(live.url()).hash, '', 'the token left the address bar');
    assert.equal(await live.locator('#login').isVisible(), false, 'no token form once the token works');
    assert.equal(await stranger.locator('#login').isVisible(), true);

    // The shop sends a purchase with an e-mail and a note that looks like HTML.
    servePage(SHOP, '/checkout', page({ title: 'Checkout', head: tagScript({ 'write-key': env.keys.web, 'flush-interval': 100 }) }));
    const shop = await t.open(`${SHOP}/checkout`);
    const id = await shop.evaluate((email) => {
        sluice.track('Order Completed', {
            email,
            order_id: 'live-1',
            note: '<img src=x onerror="window.pwned=1">',
            contact: 'call +1 415 555 0132 after 6',
        });
        const k = Object.keys(localStorage).find((key) => key.startsWith('sluice:q:'));
        return JSON.parse(localStorage.getItem(k)).q.at(-1).messageId;
    }, EMAIL);
    const sent = await waitFor('the batch carrying the purchase', () =>
        t.requests.find((r) => r.method === 'POST' && r.body && r.body.includes(id))
    );

    // It shows up within a second of leaving the browser.
    const card = live.locator(`article.event[data-message-id="${id}"]`);
    await card.waitFor({ timeout: 10000 });
    const shownAt = Number(await card.getAttribute('data-shown-at'));
    console.log(`live: the event showed ${shownAt - sent.at} ms after it left the browser`);
    assert.ok(shownAt - sent.at <= 1000, `the event showed ${shownAt - sent.at} ms after it was sent (at most 1000)`);
    assert.equal(await card.evaluate((e) => e.closest('section').dataset.source), 'web');

    // Masked: the hash, marked as hashed by the data layer; the raw e-mail nowhere on the page.
    const hash = createHash('sha256').update(EMAIL.toLowerCase()).digest('hex');
    const field = card.locator('[data-path="properties.email"]');
    assert.equal(await field.getAttribute('class'), 'hl hashed');
    assert.equal(await field.textContent(), JSON.stringify(hash));
    assert.ok((await card.locator('.chip.hashed').allTextContents()).includes('hashed properties.email'));
    const text = await live.evaluate(() => document.body.innerText);
    assert.ok(!text.includes(EMAIL) && !text.includes(EMAIL.toLowerCase()), 'the raw e-mail is not on the page');

    // What the PII guard found in fields no rule names (privacy.detected, a list of objects) is a
    // chip saying where, what and what was done: it read "detected [object Object]".
    const chips = await card.locator('.chip.detected').allTextContents();
    console.log(`live: detected chips ${JSON.stringify(chips)}`);
    assert.ok(chips.includes('detected properties.contact: phone, reported'), `detected chips: ${JSON.stringify(chips)}`);
    assert.ok(!(await card.locator('.chips').textContent()).includes('[object'), 'no chip shows [object Object]');

    // Values are text: the note is shown as written, and nothing in it ran.
    assert.ok((await card.locator('pre').textContent()).includes('"<img src=x onerror=\\"window.pwned=1\\">"'));
    assert.equal(await card.locator('img').count(), 0);
    assert.equal(await live.evaluate(() => window.pwned), undefined);
}
