/*
 * `sluicectl keys generate`: prints a new random AES-256 key as 64 hex characters, the format
 * ENCRYPTION_KEY and SLUICE_KEYRING entries take, and (on stderr, so `$(...)` captures only the
 * key) how to rotate to it. Main thread only.
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "crypto/ct.h"
#include "common/hex.h"
#include "crypto/random.h"
#include "tools/commands.h"

static void usage(FILE *out)
{
    fprintf(out, "usage: sluicectl keys generate\n"
                 "\n"
                 "  generate   print a new random 256-bit key as 64 hex characters (for ENCRYPTION_KEY)\n"
                 "\n"
                 "Rotation: the newest key seals, every key of the ring opens. Move the current key into\n"
                 "SLUICE_KEYRING as <its key id>:<hex> (comma-separated entries), set SLUICE_KEY_ID to a new\n"
                 "id (1-255) and ENCRYPTION_KEY to the new key, restart, then `sluicectl vault rotate`.\n"
                 "Drop the old key from SLUICE_KEYRING only once nothing sealed under it is still needed.\n");
}

int sluicectl_cmd_keys(int argc, char **argv)
{
    if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "help") == 0) {
        usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    if (strcmp(argv[1], "generate") != 0 || argc != 2) {
        fprintf(stderr, "sluicectl keys: unknown arguments\n\n");
        usage(stderr);
        return 2;
    }
    uint8_t key[32];
    char hex[65];
    if (sluice_random_bytes(key, sizeof(key)) != 0) {
        fprintf(stderr, "sluicectl keys generate: the random generator failed\n");
        return 1;
    }
    sluice_hex_encode(key, sizeof(key), hex, sizeof(hex));
    sluice_secure_zero(key, sizeof(key));
    printf("%s\n", hex);
    fflush(stdout);
    sluice_secure_zero(hex, sizeof(hex));
    fprintf(stderr, "# To rotate: SLUICE_KEYRING=\"<current SLUICE_KEY_ID>:<current ENCRYPTION_KEY>[,older...]\"\n"
                    "#            SLUICE_KEY_ID=<a new id, e.g. current + 1>  ENCRYPTION_KEY=<the key above>\n"
                    "# then restart and run `sluicectl vault rotate` (see `sluicectl keys --help`).\n");
    return 0;
}
