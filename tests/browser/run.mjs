// node run.mjs CASE: runs tests/browser/cases/CASE.mjs (started by driver.c, which owns the
// stack). Exit status 0 when the case and the console check pass.
import { Suite } from './lib.mjs';

const name = process.argv[2];
const suite = new Suite(name);
let ok = false;
const started = Date.now();
try {
    await suite.start();
    const { default: run } = await import(`./cases/${name}.mjs`);
    await run(suite);
    suite.checkConsole();
    ok = true;
} catch (e) {
    console.error(`browser case ${name}: FAILED\n${(e && e.stack) || e}`);
    if (suite.problems.length) console.error('console/page errors seen:', JSON.stringify(suite.problems, null, 2));
    const last = suite.requests.slice(-12).map((r) => `${new Date(r.at).toISOString()} ${r.method} ${r.url} -> ${r.status ?? 'pending'} ${r.failure || ''}`);
    console.error(`last requests to the gateway:\n  ${last.join('\n  ')}`);
} finally {
    await suite.close();
}
console.log(`browser case ${name}: ${ok ? 'ok' : 'failed'} in ${Date.now() - started} ms`);
process.exit(ok ? 0 : 1);
