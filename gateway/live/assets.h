/*
 * The live page's files (gateway/live/index.html, live.js, live.css), compiled into the gateway by
 * embed.cmake and served by gateway/liveview.c on the metrics listener. Read-only data: any
 * thread. The bytes are not NUL-terminated.
 */
#ifndef SLUICE_GATEWAY_LIVE_ASSETS_H
#define SLUICE_GATEWAY_LIVE_ASSETS_H

#include <stddef.h>

extern const unsigned char sluice_live_html[];
extern const size_t sluice_live_html_len;
extern const unsigned char sluice_live_js[];
extern const size_t sluice_live_js_len;
extern const unsigned char sluice_live_css[];
extern const size_t sluice_live_css_len;

#endif
