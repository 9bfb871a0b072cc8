// analytics.js (per-event delivery: /v1/p, /v1/t, /v1/i, /v1/g, /v1/s, /v1/a) in Chromium on
// another origin than the gateway. The checks: segment_browser.mjs.
import { segmentCase } from '../segment_browser.mjs';

export default (t) => segmentCase(t);
