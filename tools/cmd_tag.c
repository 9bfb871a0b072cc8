/*
 * sluicectl tag: facts about the JavaScript tag built into this release.
 *   sluicectl tag sri [--src URL] [--write-key KEY]
 * prints the subresource-integrity hash (sha384-<base64>) of the exact bytes the gateway serves
 * for the current build, then a ready <script> tag that loads it from its versioned URL
 * (/sluice.<hash>.js: those bytes forever, so the pinned hash survives gateway upgrades while
 * the build is kept) with that hash.
 *   sluicectl tag versions [--src URL]
 * lists every build this release serves (the current one, then the earlier releases kept in
 * gateway/tag/dist/previous/): version, versioned URL, SRI hash. Main thread.
 */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include <openssl/evp.h>

#include "crypto/base64url.h"
#include "gateway/tag/embed.h"
#include "tools/commands.h"

#define SHA384_LEN 48
#define SRI_MAX    (7 + SHA384_LEN * 4 / 3 + 1) /* "sha384-" + base64 + NUL */
#define URL_MAX    4096

static void usage(FILE *out)
{
    fprintf(out, "usage: sluicectl tag sri [--src URL] [--write-key KEY]\n"
                 "       sluicectl tag versions [--src URL]\n\n"
                 "sri: prints the subresource-integrity hash of the sluice.js this build serves, then a\n"
                 "<script> tag loading it, with that hash, from its versioned URL (sluice.<hash>.js), which\n"
                 "keeps answering with these bytes after upgrades while the build is kept.\n"
                 "versions: every build this gateway serves: version, versioned URL, SRI hash.\n\n"
                 "  --src URL        where the site loads the tag from, e.g.\n"
                 "                   https://data.shop.example/sluice.js (gateway host + server.tag_path)\n"
                 "  --write-key KEY  the browser source's write key, for data-write-key\n");
}

/* sha384-<base64> of build b into out (SRI_MAX bytes). Returns 0, or -1 with a message. */
static int sri_of(const sluice_tag_build_t *b, char *out)
{
    unsigned char digest[SHA384_LEN];
    unsigned int dlen = 0;
    if (EVP_Digest(b->js, b->len, digest, &dlen, EVP_sha384(), NULL) != 1 || dlen != SHA384_LEN) {
        fprintf(stderr, "sluicectl tag: SHA-384 is unavailable in this OpenSSL\n");
        return -1;
    }
    memcpy(out, "sha384-", 7);
    sluice_b64_encode(digest, sizeof(digest), out + 7, SRI_MAX - 7);
    return 0;
}

/* The versioned URL of build b for the tag URL src, into out (URL_MAX bytes). */
static int versioned_url(const char *src, const sluice_tag_build_t *b, char *out)
{
    if (sluice_tag_versioned(src, b, out, URL_MAX) != 0) {
        fprintf(stderr, "sluicectl tag: --src is too long\n");
        return -1;
    }
    return 0;
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

/* Parses [--src URL] [--write-key KEY] (the key only when key != NULL). Returns -1 to go on,
 * else the exit status. */
static int options(int argc, char **argv, const char **src, const char **key)
{
    static const struct option opts[] = {
        {"src", required_argument, NULL, 's'},
        {"write-key", required_argument, NULL, 'k'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 's': *src = optarg; break;
        case 'k':
            if (key == NULL) {
                usage(stderr);
                return 2;
            }
            *key = optarg;
            break;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    if (optind != argc) {
        usage(stderr);
        return 2;
    }
    return -1;
}

static int sri(int argc, char **argv)
{
    const char *src = "https://GATEWAY_HOST/sluice.js";
    const char *key = "WRITE_KEY";
    int rc = options(argc, argv, &src, &key);
    if (rc >= 0)
        return rc;
    char hash[SRI_MAX], url[URL_MAX];
    if (sri_of(&sluice_tag_builds[0], hash) != 0 || versioned_url(src, &sluice_tag_builds[0], url) != 0)
        return 1;
    printf("%s\n", hash);
    printf("<script async src=\"");
    attr(stdout, url);
    printf("\" integrity=\"%s\" crossorigin=\"anonymous\" data-write-key=\"", hash);
    attr(stdout, key);
    printf("\"></script>\n");
    return 0;
}

static int versions(int argc, char **argv)
{
    const char *src = "https://GATEWAY_HOST/sluice.js";
    int rc = options(argc, argv, &src, NULL);
    if (rc >= 0)
        return rc;
    for (size_t i = 0; i < sluice_tag_builds_len; i++) {
        char hash[SRI_MAX], url[URL_MAX];
        if (sri_of(&sluice_tag_builds[i], hash) != 0 || versioned_url(src, &sluice_tag_builds[i], url) != 0)
            return 1;
        printf("%s\t%s\t%s\t%s\n", sluice_tag_builds[i].version, i == 0 ? "current" : "previous", url, hash);
    }
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
    if (strcmp(argv[1], "versions") == 0)
        return versions(argc - 1, argv + 1);
    fprintf(stderr, "sluicectl tag: unknown subcommand '%s'\n\n", argv[1]);
    usage(stderr);
    return 2;
}
