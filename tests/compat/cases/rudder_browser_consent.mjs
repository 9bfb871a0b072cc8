// RudderStack's browser SDK with consentManagement (provider custom): consent in
// context.consentManagement, mapped by the org's consent.aliases. The checks: rudder_browser.mjs.
import { rudderConsentCase } from '../rudder_browser.mjs';

export default (t) => rudderConsentCase(t);
