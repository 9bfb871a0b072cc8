// Builds dist/sluice.min.js from src/sluice.js (terser), the file the gateway embeds and serves.
//   node build.mjs           write dist/sluice.min.js and print its sizes
//   node build.mjs --check   build in memory and fail unless dist/sluice.min.js is exactly that
//                            build and its gzipped size is within the budget (a ctest runs this)
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { minify } from 'terser';

const BUDGET = 5 * 1024; // gzipped bytes
const here = dirname(fileURLToPath(import.meta.url));
const dist = join(here, 'dist', 'sluice.min.js');
const { version } = JSON.parse(readFileSync(join(here, 'package.json'), 'utf8'));

const src = readFileSync(join(here, 'src', 'sluice.js'), 'utf8').replaceAll('__VERSION__', version);
const out = await minify(src, {
    ecma: 2020,
    compress: { passes: 3 },
    mangle: true,
    format: { comments: /^!/ },
});
const code = out.code + '\n';
const raw = Buffer.byteLength(code);
const gz = gzipSync(code, { level: 9 }).length;
const summary = `sluice.js ${version}: ${raw} bytes minified, ${gz} bytes gzipped (budget ${BUDGET})`;

let failed = false;
if (gz > BUDGET) {
    console.error(`${summary}: over the budget by ${gz - BUDGET} bytes`);
    failed = true;
}
if (process.argv.includes('--check')) {
    let built = '';
    try {
        built = readFileSync(dist, 'utf8');
    } catch (e) {
        console.error(`cannot read ${dist}: ${e.message}`);
        process.exit(1);
    }
    if (built !== code) {
        console.error(`${dist} is not the build of src/sluice.js: run \`npm run build\` in gateway/tag and commit it`);
        failed = true;
    }
} else {
    writeFileSync(dist, code);
}
if (!failed) console.log(summary);
process.exit(failed ? 1 : 0);
