// What every browser case uses: the stack through the driver (driver.c), an HTTPS server for
// the demo pages on two origins, Debian's Chromium through playwright-core, and the checks
// that the tag threw nothing into any page.
//
// Names: the pages live at https://shop.acme.test:<pagePort> and
// https://checkout.acme-pay.test:<pagePort>; the gateway at https://data.acme.test:<gatewayPort>
// (same site as the shop) and https://checkout.acme-pay.test:<gatewayPort> (same site as the
// checkout); https://<anything>.evil.test:<pagePort> is a site of nobody's org (a hostile page).
// Chromium maps those names to 127.0.0.1 and accepts the test server certificate by its public
// key (--ignore-certificate-errors-spki-list), so TLS runs as in production.
import assert from 'node:assert/strict';
import { X509Certificate, createHash } from 'node:crypto';
import { readFileSync, writeSync } from 'node:fs';
import https from 'node:https';
import net from 'node:net';
import { createInterface } from 'node:readline';
import { chromium } from 'playwright-core';

export { assert };
export const env = JSON.parse(process.env.SLUICE_BROWSER || '{}');
export const GW = `https://data.acme.test:${env.gatewayPort}`;
export const GW_PAY = `https://checkout.acme-pay.test:${env.gatewayPort}`;
export const SHOP = `https://shop.acme.test:${env.pagePort}`;
export const CHECKOUT = `https://checkout.acme-pay.test:${env.pagePort}`;
export const VERSION = JSON.parse(readFileSync(`${env.sourceDir}/gateway/tag/package.json`, 'utf8')).version;
export const UUID4 = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// ---------------------------------------------------------------- the driver (fd 3 out, fd 4 in)

// fd 4 is read as a socket: an fs stream would park a thread-pool thread in read(2), and node
// then hangs at exit.
let answers, input;
export async function ctl(op, args = {}) {
    if (!answers) {
        input = new net.Socket({ fd: 4, readable: true, writable: false });
        answers = createInterface({ input })[Symbol.asyncIterator]();
    }
    writeSync(3, JSON.stringify({ op, ...args }) + '\n');
    const { value, done } = await answers.next();
    if (done) throw new Error(`driver closed while answering ${op}`);
    const a = JSON.parse(value);
    if (!a.ok) throw new Error(`${op}: ${a.error}`);
    return a.result;
}

/** Polls fn until it returns something truthy. */
export async function waitFor(what, fn, timeout = 20000, every = 250) {
    const end = Date.now() + timeout;
    for (;;) {
        const v = await fn();
        if (v) return v;
        if (Date.now() > end) throw new Error(`timed out after ${timeout} ms waiting for ${what}`);
        await sleep(every);
    }
}

/** Every envelope in sluice.events, with the Kafka key and headers alongside. */
export async function kafka() {
    return (await ctl('kafka_read')).map((m) => ({ kafkaKey: m.key, kafkaHeaders: m.headers, ...m.value }));
}

/** Waits until every messageId in ids is in Kafka; returns the envelopes with those ids. */
export async function delivered(ids, timeout = 20000) {
    let last = [];
    await waitFor(
        `messageIds ${ids.join(', ')} in Kafka`,
        async () => {
            last = (await kafka()).filter((m) => ids.includes(m.event.messageId));
            return ids.every((id) => last.some((m) => m.event.messageId === id));
        },
        timeout,
        500
    );
    return last;
}

/** Envelopes whose event matches pred, waiting until there are at least n. */
export async function eventsWhere(what, pred, n = 1, timeout = 20000) {
    let found = [];
    await waitFor(
        what,
        async () => {
            found = (await kafka()).filter((m) => pred(m.event, m));
            return found.length >= n;
        },
        timeout,
        500
    );
    return found;
}

// ---------------------------------------------------------------- the pages

const pages = new Map(); // origin + path -> html

/** Serves html at origin + path; with cacheControl other than no-store (a page the back/forward cache may keep). */
export function servePage(origin, path, html, cacheControl = 'no-store') {
    pages.set(origin + path, { html, cacheControl });
}

export function page({ title, head = '', body = '' }) {
    return `<!doctype html><html><head><meta charset="utf-8"><title>${title}</title>${head}</head><body>${body}</body></html>`;
}

/** The one-line install: <script src=<gateway>/sluice.js data-...>. */
export function tagScript(attrs, gateway = GW) {
    const a = Object.entries(attrs)
        .map(([k, v]) => ` data-${k}="${String(v).replace(/"/g, '&quot;')}"`)
        .join('');
    return `<script src="${gateway}/sluice.js"${a}></script>`;
}

let server;
async function startPages() {
    const cert = readFileSync(`${env.certs}/server.crt`);
    const key = readFileSync(`${env.certs}/server.key`);
    server = https.createServer({ cert, key }, (req, res) => {
        const path = new URL(req.url, 'https://x').pathname;
        const { html, cacheControl = 'no-store' } = pages.get(`https://${req.headers.host}${path}`) || {};
        res.setHeader('cache-control', cacheControl);
        if (html === undefined) {
            res.statusCode = path === '/favicon.ico' ? 204 : 404;
            return res.end();
        }
        res.setHeader('content-type', 'text/html; charset=utf-8');
        res.end(html);
    });
    await new Promise((resolve, reject) => {
        server.once('error', reject);
        server.listen(env.pagePort, '127.0.0.1', resolve);
    });
}

// ---------------------------------------------------------------- the browser

function spki() {
    const der = new X509Certificate(readFileSync(`${env.certs}/server.crt`)).publicKey.export({ type: 'spki', format: 'der' });
    return createHash('sha256').update(der).digest('base64');
}

/** Chromium's flags for every case: the test names mapped to 127.0.0.1, the test certificate accepted. */
export function chromiumArgs() {
    return [
        '--no-sandbox',
        '--disable-gpu',
        '--disable-quic',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
        '--host-resolver-rules=MAP *.acme.test 127.0.0.1, MAP *.acme-pay.test 127.0.0.1, MAP *.evil.test 127.0.0.1',
        `--ignore-certificate-errors-spki-list=${spki()}`,
    ];
}

/**
 * One case's world: the page server, Chromium, and every page's console errors and uncaught
 * exceptions. A case allows the browser's own network messages it provokes (a refused
 * connection while the gateway is down, a 503) with allowConsole(regex); anything else fails it.
 */
export class Suite {
    constructor(name) {
        this.name = name;
        this.problems = [];
        this.allowed = [];
        this.requests = []; // requests to the gateway's /v1 routes, every context
        this.contexts = [];
    }

    async start() {
        await startPages();
        this.browser = await chromium.launch({ executablePath: env.chromium, args: chromiumArgs() });
    }

    allowConsole(re) {
        this.allowed.push(re);
    }

    /** A fresh browser profile (its own localStorage and cookies), of this.browser or another. */
    async context(browser = this.browser) {
        const c = await browser.newContext();
        this.contexts.push(c);
        const watch = (p) => {
            p.on('console', (m) => {
                if (m.type() === 'error' || m.type() === 'warning')
                    this.problems.push({ kind: `console.${m.type()}`, text: m.text(), url: p.url() });
            });
            p.on('pageerror', (e) => this.problems.push({ kind: 'pageerror', text: String(e && e.stack ? e.stack : e), url: p.url() }));
        };
        c.on('page', watch);
        const recs = new WeakMap(); // playwright Request -> our record
        c.on('request', (r) => {
            if (!/\/v1\//.test(r.url())) return;
            const rec = { url: r.url(), method: r.method(), type: r.resourceType(), body: r.postData(), headers: r.headers(), at: Date.now() };
            recs.set(r, rec);
            this.requests.push(rec);
            r.response().then(
                (res) => {
                    rec.status = res ? res.status() : 0;
                    rec.retryAfter = res ? res.headers()['retry-after'] : undefined;
                    rec.answeredAt = Date.now();
                },
                () => {}
            );
        });
        c.on('requestfailed', (r) => {
            const rec = recs.get(r);
            if (rec) {
                rec.status = 0;
                rec.failure = r.failure() && r.failure().errorText;
                rec.answeredAt = Date.now();
            }
        });
        return c;
    }

    /** A new page in context c (a new one if not given), opened at url. */
    async open(url, c, opts = {}) {
        c ??= await this.context();
        const p = await c.newPage();
        await p.goto(url, opts);
        await p.waitForFunction(() => window.sluice && window.sluice.VERSION);
        return p;
    }

    /**
     * A context whose pages log every fetch() the tag makes, with the page's own clock: start
     * (the call), end (when the answer's headers arrived and the promise resolved), status and
     * Retry-After. Read with fetchLog(page). For measuring delays without node's IPC lag.
     */
    async timedContext() {
        const c = await this.context();
        await c.addInitScript(() => {
            const f = window.fetch;
            const log = (window.__sluiceFetches = []);
            window.fetch = function (input, init) {
                const rec = { url: String(input), start: Date.now() };
                log.push(rec);
                return f.call(this, input, init).then(
                    (r) => {
                        Object.assign(rec, { status: r.status, retryAfter: r.headers.get('retry-after'), end: Date.now() });
                        return r;
                    },
                    (e) => {
                        Object.assign(rec, { status: 0, end: Date.now() });
                        throw e;
                    }
                );
            };
        });
        return c;
    }

    /** The batches the tag sent to the gateway, decoded. */
    batches(filter = () => true) {
        return this.requests
            .filter((r) => r.method === 'POST' && /\/v1\/batch$/.test(r.url) && filter(r))
            .map((r) => ({ ...r, json: JSON.parse(r.body || '{}') }));
    }

    checkConsole() {
        const bad = this.problems.filter((p) => !this.allowed.some((re) => re.test(p.text)));
        assert.deepEqual(bad, [], 'the pages logged errors or threw');
    }

    async close() {
        for (const c of this.contexts) await c.close().catch(() => {});
        if (this.browser) await this.browser.close().catch(() => {});
        if (server) server.close();
        if (input) input.destroy();
    }
}

/** The tag's localStorage queues (every tab's) as seen from page p. */
export async function storedQueue(p) {
    return p.evaluate(() => {
        const out = [];
        for (let i = 0; i < localStorage.length; i++) {
            const k = localStorage.key(i);
            if (k.startsWith('sluice:q:')) out.push(...JSON.parse(localStorage.getItem(k)).q);
        }
        return out;
    });
}

/** The fetch() calls to <gateway>/v1/batch logged in page p (see Suite.timedContext). */
export async function fetchLog(p) {
    return p.evaluate(() => window.__sluiceFetches.filter((r) => /\/v1\/batch$/.test(r.url)));
}

/** Every key the tag stored in localStorage. */
export async function storedKeys(p) {
    return p.evaluate(() => Object.keys(localStorage).filter((k) => k.startsWith('sluice:')).sort());
}
