/*
 * The npm package's entry: `import sluice from '@sluice/tag'` (or `{ sluice }`), then
 * sluice.init({ writeKey, endpoint }). One tag per page, as with the served file (the queue,
 * the ids and the consent choice live in the site's localStorage); nothing is global and no
 * listener is added before init. Outside a browser (server-side rendering) every method does
 * nothing, so the module can be imported anywhere.
 */
import { VERSION, create } from './core.js';

const inert = () => ({
    VERSION,
    init() {},
    track() {},
    page() {},
    identify() {},
    group() {},
    alias() {},
    consent() {},
    reset() {},
    flush: () => Promise.resolve(),
    anonymousId() {},
    stats: () => ({ queued: 0, held: 0, sent: 0, invalid: 0, overflow: 0, retries: 0, denied: 0 }),
    push() {},
});

export const sluice = typeof window != 'undefined' && typeof document != 'undefined' ? create(window, document, navigator, '') : inert();
export default sluice;
