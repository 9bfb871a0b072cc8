// analytics.js with deliveryStrategy batching (every call in POST /v1/b) in Chromium on another
// origin than the gateway. The checks: segment_browser.mjs.
import { segmentCase } from '../segment_browser.mjs';

export default (t) => segmentCase(t, { batching: true });
