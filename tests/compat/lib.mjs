// What every compat case uses: the stack through the driver (driver.c), Kafka read back raw, the
// checks every SDK must pass (each call once, with its ids, name and properties; PII hashed
// wherever the SDK put it), and for the browser SDKs an HTTPS page server and Debian's Chromium.
//
// Origins: the gateway is https://127.0.0.1:<gatewayPort>, the pages https://localhost:<pagePort>:
// another origin (and site), so every request the SDKs make is a real cross-origin one, with the
// browser's own preflights. No Playwright request routing anywhere: it would answer preflights
// itself and hide CORS failures. Chromium accepts the test server certificate by its public key
// (--ignore-certificate-errors-spki-list), so TLS runs as in production; node trusts the test CA
// through NODE_EXTRA_CA_CERTS (set by the driver).
import assert from 'node:assert/strict';
import { X509Certificate, createHash } from 'node:crypto';
import { readFileSync, writeSync } from 'node:fs';
import https from 'node:https';
import net from 'node:net';
import { dirname, join, normalize } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

export { assert };
export const env = JSON.parse(process.env.SLUICE_COMPAT || '{}');
export const GW = `https://127.0.0.1:${env.gatewayPort}`;
export const PAGES = `https://localhost:${env.pagePort}`;
export const HERE = dirname(fileURLToPath(import.meta.url));
export const MODULES = join(HERE, 'node_modules');
export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
export const sha256 = (s) => createHash('sha256').update(s).digest('hex');
export const run = `${Date.now().toString(36)}`; // makes this run's ids unique

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

export function closeDriver() {
    if (input) input.destroy();
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

/**
 * Every message of a topic: {kafkaKey, kafkaHeaders, raw, ...envelope}; raw is the value's text as
 * Kafka holds it (for checks of digits and for "this string appears nowhere").
 */
export async function kafka(topic = 'sluice.events') {
    return (await ctl('kafka_read', { topic })).map((m) => {
        let value;
        try {
            value = JSON.parse(m.raw);
        } catch {
            value = { unparsed: m.raw };
        }
        return { kafkaKey: m.key, kafkaHeaders: m.headers, raw: m.raw, ...value };
    });
}

/** Envelopes whose event matches pred, waiting until there are at least n. */
export async function eventsWhere(what, pred, n = 1, timeout = 20000) {
    let found = [];
    await waitFor(
        what,
        async () => {
            found = (await kafka()).filter((m) => m.event && pred(m.event, m));
            return found.length >= n;
        },
        timeout,
        400
    );
    return found;
}

/** A metric of the gateway (0 when the series is not there yet). */
export async function metric(series) {
    return (await ctl('metric', { series })) || 0;
}

export const status503 = (route) => `sluice_http_requests_total{route="${route}",status="503"}`;

/**
 * Takes the dev brokers down, has send() make the SDK send, waits until the gateway answered 503
 * on route (the SDK saw the outage), brings the brokers back and returns the envelopes of the
 * events matching pred once they arrived: the SDK's own retry delivered them.
 */
export async function through503(routes, send, pred, n = 1) {
    const before = {};
    for (const r of routes) before[r] = await metric(status503(r));
    await ctl('kafka_down');
    try {
        await send();
        await waitFor(
            `a 503 from the gateway on ${routes.join(' or ')}`,
            async () => {
                for (const r of routes) if ((await metric(status503(r))) > before[r]) return true;
                return false;
            },
            20000,
            100
        );
    } finally {
        await ctl('kafka_up');
    }
    return eventsWhere('the events the SDK retried after the 503', pred, n, 60000);
}

// ---------------------------------------------------------------- what every SDK must show

/**
 * Each sent call arrived exactly once: `want` is a list of {messageId | match, type, ...fields}
 * where fields are compared deeply against the event (only the keys given). Returns the events
 * by index of want. A late duplicate would have shown up by the time this reads.
 */
export async function arrivedOnce(want, timeout = 20000) {
    const matches = (w, e) => (w.messageId ? e.messageId === w.messageId : w.match(e));
    let all = [];
    await waitFor(
        `every one of ${want.length} events in Kafka (${want.map((w) => w.type + (w.event ? ':' + w.event : '')).join(', ')})`,
        async () => {
            all = (await kafka()).filter((m) => m.event);
            return want.every((w) => all.some((m) => matches(w, m.event)));
        },
        timeout,
        400
    );
    await sleep(1000);
    all = (await kafka()).filter((m) => m.event);
    return want.map((w) => {
        const got = all.filter((m) => matches(w, m.event));
        const label = `${w.type} ${w.event || w.name || w.messageId || ''}`;
        assert.equal(got.length, 1, `${label}: arrived ${got.length} times, once expected`);
        const { match, expect = {}, ...fields } = w;
        for (const [k, v] of Object.entries(fields)) assert.deepEqual(got[0].event[k], v, `${label}: ${k}`);
        for (const [k, v] of Object.entries(expect)) assert.deepEqual(got[0].event[k], v, `${label}: ${k}`);
        return got[0];
    });
}

/** The raw e-mail appears nowhere in Kafka; where the SDK put it, the hash of its normal form is. */
export function piiHashed(envelopes, email, paths) {
    const hashed = sha256(email.trim().toLowerCase());
    for (const m of envelopes) assert.ok(!m.raw.toLowerCase().includes(email.toLowerCase()), `raw e-mail in Kafka: ${m.raw}`);
    for (const [m, path] of paths) {
        const v = path.split('.').reduce((o, k) => (o == null ? o : o[k]), m.event);
        assert.equal(v, hashed, `${m.event.type} ${path}: the SHA-256 of the normalised e-mail`);
    }
}

/**
 * Segment's clock correction: an event sent from a clock skewMs ahead arrives with timestamp close
 * to receivedAt (the gateway's clock) and the time the client stamped kept as originalTimestamp.
 */
export function clockCorrected(m, skewMs) {
    const e = m.event;
    const ts = Date.parse(e.timestamp), rcv = Date.parse(e.receivedAt), orig = Date.parse(e.originalTimestamp);
    assert.ok(Math.abs(rcv - ts) < 60000, `timestamp ${e.timestamp} corrected to the gateway's clock (receivedAt ${e.receivedAt})`);
    assert.ok(Math.abs(orig - rcv - skewMs) < 60000, `originalTimestamp ${e.originalTimestamp} is the client's (${skewMs} ms ahead)`);
}

/** The numbers of an event's properties read back as the same doubles (digit-exact text: issue 17). */
export function sameNumbers(m, props) {
    for (const [k, v] of Object.entries(props)) assert.equal(m.event.properties[k], v, `properties.${k}`);
}

// ---------------------------------------------------------------- pages and the browser

const pages = new Map(); // path -> html

export function servePage(path, html) {
    pages.set(path, html);
}

export function page({ title, head = '', body = '' }) {
    return `<!doctype html><html><head><meta charset="utf-8"><title>${title}</title>${head}</head><body>${body}</body></html>`;
}

// Files under /sdk/<package path> come from tests/compat/node_modules: the SDKs exactly as npm
// installed them. Extra files (e.g. a bundle made at run time) are added with serveFile.
const files = new Map();
export function serveFile(path, text, type = 'text/javascript') {
    files.set(path, { text, type });
}

let server;
async function startPages() {
    const cert = readFileSync(`${env.certs}/server.crt`);
    const key = readFileSync(`${env.certs}/server.key`);
    server = https.createServer({ cert, key }, (req, res) => {
        const path = new URL(req.url, 'https://x').pathname;
        res.setHeader('cache-control', 'no-store');
        const html = pages.get(path);
        if (html !== undefined) {
            res.setHeader('content-type', 'text/html; charset=utf-8');
            return res.end(html);
        }
        const f = files.get(path);
        if (f) {
            res.setHeader('content-type', f.type);
            return res.end(f.text);
        }
        if (path.startsWith('/sdk/')) {
            const file = normalize(join(MODULES, path.slice(5)));
            if (file.startsWith(MODULES + '/')) {
                try {
                    const body = readFileSync(file);
                    res.setHeader('content-type', file.endsWith('.json') ? 'application/json' : 'text/javascript');
                    return res.end(body);
                } catch {
                    /* 404 below */
                }
            }
        }
        res.statusCode = path === '/favicon.ico' ? 204 : 404;
        res.end();
    });
    await new Promise((resolve, reject) => {
        server.once('error', reject);
        server.listen(env.pagePort, '127.0.0.1', resolve);
    });
}

function spki() {
    const der = new X509Certificate(readFileSync(`${env.certs}/server.crt`)).publicKey.export({ type: 'spki', format: 'der' });
    return createHash('sha256').update(der).digest('base64');
}

/**
 * One browser case's world: the page server, Chromium, every request to the gateway (URL, method,
 * headers, body, status, failure) and every page's console errors and uncaught exceptions. A case
 * allows the console messages it provokes (a 503 during an outage) with allowConsole(regex).
 */
export class Browser {
    constructor() {
        this.problems = [];
        this.allowed = [];
        this.requests = [];
        this.elsewhere = [];
        this.contexts = [];
    }

    async start() {
        await startPages();
        const { chromium } = await import('playwright-core');
        this.browser = await chromium.launch({
            executablePath: env.chromium,
            args: [
                '--no-sandbox',
                '--disable-gpu',
                '--disable-quic',
                '--no-first-run',
                '--disable-background-networking',
                '--disable-component-update',
                '--disable-sync',
                `--ignore-certificate-errors-spki-list=${spki()}`,
            ],
        });
    }

    allowConsole(re) {
        this.allowed.push(re);
    }

    async context() {
        const c = await this.browser.newContext();
        this.contexts.push(c);
        c.on('page', (p) => {
            p.on('console', (m) => {
                if (m.type() === 'error' || m.type() === 'warning')
                    this.problems.push({ kind: `console.${m.type()}`, text: m.text(), url: p.url() });
            });
            p.on('pageerror', (e) => this.problems.push({ kind: 'pageerror', text: String(e && e.stack ? e.stack : e), url: p.url() }));
        });
        const recs = new WeakMap();
        c.on('request', (r) => {
            if (!r.url().startsWith(GW)) {
                // Anything but the gateway and the page server: the SDK phoning home.
                if (!r.url().startsWith(PAGES) && !r.url().startsWith('data:') && !r.url().startsWith('blob:'))
                    this.elsewhere.push(`${r.method()} ${r.url()}`);
                return;
            }
            const rec = { url: r.url(), method: r.method(), type: r.resourceType(), body: r.postData(), headers: r.headers(), at: Date.now() };
            recs.set(r, rec);
            this.requests.push(rec);
            r.response().then(
                (res) => {
                    rec.status = res ? res.status() : 0;
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
            }
        });
        return c;
    }

    /** A context whose pages' clock runs skewMs ahead of the machine's (a visitor's wrong clock). */
    async skewedContext(skewMs) {
        const c = await this.context();
        await c.clock.install({ time: Date.now() + skewMs });
        return c;
    }

    /** A new page in context c (a new one with its own storage if none), opened at PAGES + path. */
    async open(path, c) {
        c ??= await this.context();
        const p = await c.newPage();
        await p.goto(PAGES + path);
        return p;
    }

    /** Requests to the gateway so far, as a short log for failure messages and FINDINGS. */
    log() {
        return this.requests
            .map((r) => `${r.method} ${r.url.replace(GW, '')} -> ${r.status ?? 'pending'} ${r.failure || ''}`)
            .join('\n  ');
    }

    /** The SDKs sent nothing anywhere but to the gateway (and fetched only from the page server). */
    checkNoOtherHosts() {
        assert.deepEqual(this.elsewhere, [], 'requests to other hosts than the gateway and the pages');
    }

    checkConsole() {
        const bad = this.problems.filter((p) => !this.allowed.some((re) => re.test(p.text)));
        assert.deepEqual(bad, [], 'the pages logged errors or threw');
    }

    async close() {
        for (const c of this.contexts) await c.close().catch(() => {});
        if (this.browser) await this.browser.close().catch(() => {});
        if (server) server.close();
    }
}
