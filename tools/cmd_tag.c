/*
 * sluicectl tag: facts about the JavaScript tag built into this release.
 *   sluicectl tag sri [--src URL] [--write-key KEY]
 * prints the subresource-integrity hash (sha384-<base64>) of the exact bytes the gateway serves
 * at server.tag_path, then a ready <script> tag that loads it with that hash. Main thread.
 */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include <openssl/evp.h>

#include "crypto/base64url.h"
#include "gateway/tag/embed.h"
#include "tools/commands.h"

#define SHA384_LEN 48

static void usage(FILE *out)
{
    fprintf(out, "usage: sluicectl tag sri [--src URL] [--write-key KEY]\n\n"
                 "Prints the subresource-integrity hash of the sluice.js this build serves, then a\n"
                 "<script> tag loading it with that hash.\n\n"
                 "  --src URL        where the site loads the tag from, e.g.\n"
                 "                   https://data.shop.example/sluice.js (gateway host + server.tag_path)\n"
                 "  --write-key KEY  the browser source's write key, for data-write-key\n");
}

/* Writes s with the characters that matter inside a double-quoted HTML attribute escaped. */
static void attr(FILE *out, const char *s)
{
    for (; *s != '\0'; s++) {
        switch (*s) {
        case '&': fputs("&amp;", out); break;
        case '"': fputs("&quot;", out); break;
        case '<': fputs("&lt;", out); break;
        case '>': fputs("&gt;", out); break;
        default: fputc(*s, out);
        }
    }
}

static int sri(int argc, char **argv)
{
    static const struct option opts[] = {
        {"src", required_argument, NULL, 's'},
        {"write-key", required_argument, NULL, 'k'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *src = "https://GATEWAY_HOST/sluice.js";
    const char *key = "WRITE_KEY";
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 's': src = optarg; break;
        case 'k': key = optarg; break;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    if (optind != argc) {
        usage(stderr);
        return 2;
    }

    unsigned char digest[SHA384_LEN];
    unsigned int dlen = 0;
    if (EVP_Digest(sluice_tag_js, sluice_tag_js_len, digest, &dlen, EVP_sha384(), NULL) != 1 || dlen != SHA384_LEN) {
        fprintf(stderr, "sluicectl tag sri: SHA-384 is unavailable in this OpenSSL\n");
        return 1;
    }
    char b64[SHA384_LEN * 4 / 3 + 1];
    sluice_b64_encode(digest, sizeof(digest), b64, sizeof(b64));
    printf("sha384-%s\n", b64);
    printf("<script async src=\"");
    attr(stdout, src);
    printf("\" integrity=\"sha384-%s\" crossorigin=\"anonymous\" data-write-key=\"", b64);
    attr(stdout, key);
    printf("\"></script>\n");
    return 0;
}

int sluicectl_cmd_tag(int argc, char **argv)
{
    if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    if (strcmp(argv[1], "sri") == 0)
        return sri(argc - 1, argv + 1);
    fprintf(stderr, "sluicectl tag: unknown subcommand '%s'\n\n", argv[1]);
    usage(stderr);
    return 2;
}
