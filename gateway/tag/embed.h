/*
 * The built tag, gateway/tag/dist/sluice.min.js, compiled into the binaries (embed.cmake turns
 * the file into a C array at build time), so neither the gateway nor sluicectl reads a file
 * for it at run time. Read-only data: any thread.
 */
#ifndef SLUICE_GATEWAY_TAG_EMBED_H
#define SLUICE_GATEWAY_TAG_EMBED_H

#include <stddef.h>

/* The bytes the gateway serves at server.tag_path (UTF-8 JavaScript, not NUL-terminated). */
extern const unsigned char sluice_tag_js[];
extern const size_t sluice_tag_js_len;

#endif
