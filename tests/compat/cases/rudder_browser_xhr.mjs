// RudderStack's browser SDK in xhr mode in Chromium on another origin than the gateway. The
// checks: rudder_browser.mjs.
import { rudderCase } from '../rudder_browser.mjs';

export default (t) => rudderCase(t, 'xhr');
