// The demo pages of `make demo`: a shop and a checkout on two sites, loading sluice.js from
// the demo gateway. Node's standard library only (no npm install needed).
//
//   node gateway/tag/demo/serve.mjs --listen 127.0.0.1:8444 --certs build/demo/certs --gateway-port 8443
//
// The write key comes from $ACME_WEB_WRITE_KEY (scripts/demo.sh sets it). Each page loads the
// tag from the gateway host that is same-site with it, on --gateway-port:
//   https://localhost:8444/           -> https://localhost:8443/sluice.js
//   https://shop.acme.test:8444/      -> https://data.acme.test:8443/sluice.js
//   https://checkout.acme-pay.test:8444/checkout -> https://checkout.acme-pay.test:8443/sluice.js
// The .test names need a hosts entry or Chromium's
// --host-resolver-rules="MAP *.acme.test 127.0.0.1, MAP *.acme-pay.test 127.0.0.1".
// The server exits when its parent (sluice-devstack) does.
import { readFileSync } from 'node:fs';
import https from 'node:https';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const PAGES = { '/': 'shop.html', '/checkout': 'checkout.html' };
const GATEWAY_HOST = { 'shop.acme.test': 'data.acme.test', 'checkout.acme-pay.test': 'checkout.acme-pay.test' };

const esc = (s) => String(s).replace(/&/g, '&amp;').replace(/"/g, '&quot;').replace(/</g, '&lt;');

/** The page at path for a request to host ("name:port"), or undefined. */
export function render(path, host, { gatewayPort, writeKey }) {
    const file = PAGES[path];
    if (!file) return undefined;
    const [name, port] = host.split(':');
    const gateway = `https://${GATEWAY_HOST[name] || name}:${gatewayPort}`;
    const other = name === 'checkout.acme-pay.test' ? 'shop.acme.test' : 'checkout.acme-pay.test';
    const tag =
        `<script src="${esc(gateway)}/sluice.js" data-write-key="${esc(writeKey)}" data-require-consent` +
        ` data-cross-domain="${other}" data-flush-interval="500"></script>`;
    return readFileSync(join(here, file), 'utf8')
        .replaceAll('{{TAG}}', tag)
        .replaceAll('{{SHOP}}', `https://shop.acme.test:${port}/`)
        .replaceAll('{{CHECKOUT}}', `https://checkout.acme-pay.test:${port}/checkout`);
}

function main(argv) {
    const opt = (name, def) => {
        const i = argv.indexOf(`--${name}`);
        return i >= 0 && argv[i + 1] ? argv[i + 1] : def;
    };
    const [addr, port] = opt('listen', '127.0.0.1:8444').split(':');
    const certs = opt('certs', 'build/demo/certs');
    const gatewayPort = opt('gateway-port', '8443');
    const writeKey = process.env.ACME_WEB_WRITE_KEY;
    if (!writeKey) {
        console.error('demo pages: ACME_WEB_WRITE_KEY is not set');
        process.exit(1);
    }
    const server = https.createServer(
        { cert: readFileSync(join(certs, 'server.crt')), key: readFileSync(join(certs, 'server.key')) },
        (req, res) => {
            const html = render(new URL(req.url, 'https://x').pathname, req.headers.host || `localhost:${port}`, { gatewayPort, writeKey });
            res.setHeader('cache-control', 'no-store');
            if (html === undefined) {
                res.statusCode = req.url === '/favicon.ico' ? 204 : 404;
                return res.end();
            }
            res.setHeader('content-type', 'text/html; charset=utf-8');
            res.end(html);
        }
    );
    server.on('error', (e) => {
        console.error(`demo pages: ${e.message}`);
        process.exit(1);
    });
    server.listen(Number(port), addr, () => console.log(`demo pages: https://localhost:${port}/ (and https://shop.acme.test:${port}/)`));
    const parent = process.ppid;
    setInterval(() => process.ppid !== parent && process.exit(0), 1000).unref();
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) main(process.argv.slice(2));
