/*
 * Edit distance between short strings, for "did you mean" suggestions (unknown config keys,
 * unknown plugin parameters, misspelt plugin names). Pure functions: any thread.
 */
#ifndef SLUICE_COMMON_STRDIST_H
#define SLUICE_COMMON_STRDIST_H

#include <stddef.h>

/* The longest strings sluice_strdist compares; longer ones are never "close". */
#define SLUICE_STRDIST_MAX_LEN 63

/* Optimal string alignment distance between a and b (insertions, deletions, substitutions and
 * transpositions of two adjacent characters each cost 1), capped: returns cap + 1 as soon as it
 * is known to exceed cap, and for strings longer than SLUICE_STRDIST_MAX_LEN bytes. Compares
 * bytes (case-sensitive). */
size_t sluice_strdist(const char *a, const char *b, size_t cap);

/* The candidate closest to word with a distance of at most max_dist and less than word's
 * length (so "x" never suggests "n"), the earliest on a tie; NULL when none is that close.
 * candidates is NULL-terminated. Returns one of the candidates (borrowed). */
const char *sluice_strdist_closest(const char *word, const char *const *candidates, size_t max_dist);

#endif
