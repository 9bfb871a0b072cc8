// node run.mjs CASE: runs tests/compat/cases/CASE.mjs (started by driver.c, which owns the stack).
// A case exports a function run(t) where t is {browser()} (a Browser, started on first use).
// Exit status 0 when the case (and, for browser cases, the console check) passes.
import { appendFileSync } from 'node:fs';
import { Browser, closeDriver } from './lib.mjs';

const name = process.argv[2];
let browser;
const t = {
    async browser() {
        if (!browser) {
            browser = new Browser();
            await browser.start();
        }
        return browser;
    },
};
let ok = false;
const started = Date.now();
// Every case is bounded: ctest's TIMEOUT would kill the driver, this says where it stood.
const limit = setTimeout(() => {
    console.error(`compat case ${name}: still running after 240 s`);
    if (browser) console.error(`requests to the gateway:\n  ${browser.log()}`);
    process.exit(1);
}, 240000);
try {
    const { default: run } = await import(`./cases/${name}.mjs`);
    await run(t);
    if (browser) {
        browser.checkConsole();
        browser.checkNoOtherHosts();
    }
    ok = true;
} catch (e) {
    console.error(`compat case ${name}: FAILED\n${(e && e.stack) || e}`);
    if (browser) {
        if (browser.problems.length) console.error('console/page errors seen:', JSON.stringify(browser.problems, null, 2));
        console.error(`requests to the gateway:\n  ${browser.log()}`);
    }
} finally {
    clearTimeout(limit);
    // SLUICE_COMPAT_DUMP=FILE: what the browser sent to the gateway, for reading (docs/compat.md).
    if (browser && process.env.SLUICE_COMPAT_DUMP) {
        const reqs = browser.requests.map(({ url, method, headers, body, status }) => ({ url, method, headers, body, status }));
        appendFileSync(process.env.SLUICE_COMPAT_DUMP, JSON.stringify({ case: name, requests: reqs }, null, 1) + '\n');
    }
    if (browser) await browser.close();
    closeDriver();
}
console.log(`compat case ${name}: ${ok ? 'ok' : 'failed'} in ${Date.now() - started} ms`);
process.exit(ok ? 0 : 1);
