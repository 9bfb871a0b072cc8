/*
 * Key-name matchers: what a member's NAME says its value is. `phone_number`, `phoneNumber`,
 * `Phone-Number` and `PHONE NUMBER` all say "phone"; `ip_address` does not say "address", nor
 * `email_opt_in` "email". The PII guard treats a string or number under such a key as that kind
 * of personal data even when the scanner finds nothing in it ("12 Main St" under
 * `shipping_street`, a 7-digit phone under `phone`).
 *
 * A key is cut into words at every non-alphanumeric character, at lower-to-upper case changes
 * (camelCase), before the last capital of a run of capitals followed by a lower-case letter
 * (`SSNNumber`), and between letters and digits; words are compared lower-cased. Trailing
 * number words are ignored (`phone2`, `address_line_1`). A key names a class when its words END
 * with one of the class's phrases (so `billing_email` and `customer_phone_number` count, and
 * `email_verified` does not); the phrases are listed in keyname.c and docs/privacy.md.
 *
 * Pure functions; any thread.
 */
#ifndef SLUICE_PII_KEYNAME_H
#define SLUICE_PII_KEYNAME_H

#include <stddef.h>

typedef enum sluice_keyname_class {
    SLUICE_KEYNAME_NONE = 0,
    SLUICE_KEYNAME_EMAIL,
    SLUICE_KEYNAME_PHONE,
    SLUICE_KEYNAME_ADDRESS,
    SLUICE_KEYNAME_POSTAL_CODE,
    SLUICE_KEYNAME_NAME,
    SLUICE_KEYNAME_BIRTHDATE,
    SLUICE_KEYNAME_NATIONAL_ID,
    SLUICE_KEYNAME_CARD,
    SLUICE_KEYNAME_BANK_ACCOUNT,
    SLUICE_KEYNAME_PASSWORD,
    SLUICE_KEYNAME_CLASS_COUNT
} sluice_keyname_class_t;

/* The class the key's name says (NONE for most keys). key need not be NUL-terminated. */
sluice_keyname_class_t sluice_keyname_classify(const char *key, size_t n);

/* "email", "phone", "address", "postal_code", "name", "birthdate", "national_id", "card",
 * "bank_account", "password"; "none" for NONE. Static storage. */
const char *sluice_keyname_class_name(sluice_keyname_class_t c);

#endif
