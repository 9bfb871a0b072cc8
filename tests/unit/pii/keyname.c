/* Tests for pii/keyname.c: the key names real sites use for personal data, in every case and
 * separator style, and the look-alikes that are not (ip_address, email_verified, product name). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "pii/keyname.h"

static const char *cls(const char *key)
{
    return sluice_keyname_class_name(sluice_keyname_classify(key, strlen(key)));
}

static void test_styles(void **state)
{
    (void)state;
    static const char *const phone[] = {"phone",        "phone_number", "phoneNumber",  "PhoneNumber",
                                        "PHONE_NUMBER", "phone-number", "Phone Number", "phone2",
                                        "mobile",       "customerTel",  "billing.phone"};
    for (size_t i = 0; i < sizeof(phone) / sizeof(phone[0]); i++)
        if (strcmp(cls(phone[i]), "phone") != 0)
            fail_msg("%s: %s, want phone", phone[i], cls(phone[i]));
    static const char *const email[] = {"email",      "e_mail",       "E-Mail", "emailAddress",
                                        "user_email", "billingEmail", "EMAIL",  "mail"};
    for (size_t i = 0; i < sizeof(email) / sizeof(email[0]); i++)
        if (strcmp(cls(email[i]), "email") != 0)
            fail_msg("%s: %s, want email", email[i], cls(email[i]));
}

static void test_classes(void **state)
{
    (void)state;
    assert_string_equal(cls("shipping_address"), "address");
    assert_string_equal(cls("address_line_1"), "address");
    assert_string_equal(cls("addressLine2"), "address");
    assert_string_equal(cls("street"), "address");
    assert_string_equal(cls("postalCode"), "postal_code");
    assert_string_equal(cls("zip"), "postal_code");
    assert_string_equal(cls("firstName"), "name");
    assert_string_equal(cls("last_name"), "name");
    assert_string_equal(cls("surname"), "name");
    assert_string_equal(cls("dateOfBirth"), "birthdate");
    assert_string_equal(cls("dob"), "birthdate");
    assert_string_equal(cls("SSN"), "national_id");
    assert_string_equal(cls("SSNNumber"), "none"); /* "ssn number" is not a phrase */
    assert_string_equal(cls("customer_ssn"), "national_id");
    assert_string_equal(cls("passportNumber"), "national_id");
    assert_string_equal(cls("creditCardNumber"), "card");
    assert_string_equal(cls("cvv"), "card");
    assert_string_equal(cls("IBAN"), "bank_account");
    assert_string_equal(cls("password"), "password");
}

/* What is not personal data by its name. */
static void test_look_alikes(void **state)
{
    (void)state;
    static const char *const none[] = {
        "ip_address", "ipAddress",      "mac_address",    "walletAddress", "email_verified",
        "emailOptIn", "phone_verified", "name",           "product_name",  "username",
        "hotel",      "voicemail",      "telemetry",      "zipper",        "",
        "___",        "address_type",   "mobile_version", "street_view",   "ip"};
    for (size_t i = 0; i < sizeof(none) / sizeof(none[0]); i++)
        if (strcmp(cls(none[i]), "none") != 0)
            fail_msg("%s: %s, want none", none[i], cls(none[i]));
}

/* Long keys keep their last words; non-ASCII and binary keys never match by accident. */
static void test_long_and_odd_keys(void **state)
{
    (void)state;
    assert_string_equal(cls("a_b_c_d_e_f_g_h_i_j_k_l_customer_phone_number"), "phone");
    assert_string_equal(cls("averyveryveryveryveryverylongwordthatislongerthanaword_email"), "email");
    assert_string_equal(cls("emailaveryveryveryveryveryverylongword"), "none");
    assert_string_equal(cls("t\xc3\xa9l\xc3\xa9phone"), "none");
    const char nul[] = {'e', 'm', 'a', 'i', 'l', '\0', 'x'};
    assert_string_equal(sluice_keyname_class_name(sluice_keyname_classify(nul, sizeof(nul))), "none");
    assert_string_equal(sluice_keyname_class_name(sluice_keyname_classify(nul, 5)), "email");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_styles),
        cmocka_unit_test(test_classes),
        cmocka_unit_test(test_look_alikes),
        cmocka_unit_test(test_long_and_odd_keys),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
