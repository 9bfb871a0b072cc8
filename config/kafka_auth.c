/*
 * The secret librdkafka settings of a managed Kafka cluster (config.h, sluice_config_kafka_secrets):
 * kafka.sasl_password_env, ssl_key_password_env and oauthbearer_client_secret_env name
 * environment variables; each client (the gateway's producers, the worker's consumers and DLQ
 * producer, sluicectl's clients) gets the values here, read at the moment its librdkafka config
 * is built. The value goes from the environment straight into librdkafka's own copy: sluice keeps
 * none, so there is nothing of ours to wipe. Any thread.
 */
#include <stdlib.h>

#include "config/config.h"

int sluice_config_kafka_secrets(const sluice_kafka_config_t *k, sluice_kafka_secret_fn set, void *ud, sluice_err_t *err)
{
    const struct {
        const char *key, *var, *property;
    } secrets[] = {
        {"sasl_password_env", k->sasl_password_env, "sasl.password"},
        {"ssl_key_password_env", k->ssl_key_password_env, "ssl.key.password"},
        {"oauthbearer_client_secret_env", k->oauthbearer_client_secret_env, "sasl.oauthbearer.client.secret"},
    };
    for (size_t i = 0; i < sizeof(secrets) / sizeof(secrets[0]); i++) {
        if (secrets[i].var == NULL)
            continue;
        const char *v = getenv(secrets[i].var);
        if (v == NULL || v[0] == '\0')
            return sluice_err_set(err, "kafka.%s: environment variable %s is %s", secrets[i].key, secrets[i].var,
                                  v == NULL ? "not set" : "empty");
        if (set(ud, secrets[i].property, v, err) != 0)
            return -1;
    }
    return 0;
}
