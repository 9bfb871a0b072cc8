/*
 * The data map drawn for people (tools/mapdraw.h): a Markdown document (consent, one row per
 * field, one section per integration, warnings) and a Graphviz digraph (fields grouped by what
 * the data layer does, edges to the integrations labelled with the vendor's field). Written
 * through a memory stream. Main thread of sluicectl.
 */
#include "tools/mapdraw.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *str(const json_t *o, const char *key)
{
    return json_string_value(json_object_get(o, key));
}

static int is(const json_t *o, const char *key, const char *value)
{
    const char *v = str(o, key);
    return v != NULL && strcmp(v, value) == 0;
}

/* Writes s for a Markdown table cell (a '|' would end the cell). */
static void md_text(FILE *out, const char *s)
{
    for (; *s != '\0'; s++) {
        if (*s == '|')
            fputc('\\', out);
        fputc(*s, out);
    }
}

/* `a`, `b`, `c` */
static void md_codes(FILE *out, const json_t *arr, const char *none)
{
    if (json_array_size(arr) == 0) {
        fputs(none, out);
        return;
    }
    size_t i;
    json_t *v;
    json_array_foreach(arr, i, v) {
        fprintf(out, "%s`", i > 0 ? ", " : "");
        md_text(out, json_string_value(v));
        fputc('`', out);
    }
}

/* What the data layer does to a field, in words. */
static void md_action(FILE *out, const json_t *f)
{
    const char *rule = str(f, "rule");
    if (is(f, "action", "hash")) {
        fprintf(out, "**hashed**, normalised as `%s`", str(f, "normalize"));
        if (str(f, "default_country_code") != NULL)
            fprintf(out, " (default country code %s)", str(f, "default_country_code"));
        if (json_array_size(json_object_get(f, "variants")) > 0) {
            fputs("; variants in `hashes`: ", out);
            md_codes(out, json_object_get(f, "variants"), "");
        }
        if (str(f, "refused_becomes") != NULL)
            fprintf(out, "; a value it cannot normalise becomes `%s`", str(f, "refused_becomes"));
    } else if (is(f, "action", "mask")) {
        char *params = json_dumps(json_object_get(f, "params"), JSON_COMPACT | JSON_SORT_KEYS);
        fprintf(out, "**masked** by `%s`", str(f, "plugin"));
        if (params != NULL && strcmp(params, "{}") != 0) {
            fputs(" `", out);
            md_text(out, params);
            fputc('`', out);
        }
        free(params);
        if (is(f, "on_error", "reject"))
            fputs("; a value it cannot mask rejects the event", out);
    } else if (is(f, "action", "drop")) {
        fputs("**dropped**", out);
    } else {
        fputs("passed", out);
    }
    if (rule != NULL) {
        fprintf(out, " (`%s`", rule);
        if (str(f, "mirror_of") != NULL)
            fprintf(out, ", as the mirror of `%s`", str(f, "mirror_of"));
        if (str(f, "covered_by") != NULL)
            fprintf(out, ", inside `%s`", str(f, "covered_by"));
        if (str(f, "rule_spelling") != NULL)
            fprintf(out, ", written `%s`: keys below the first match in any case", str(f, "rule_spelling"));
        fputc(')', out);
    }
}

static void md_flows(FILE *out, const json_t *to, const char *none)
{
    if (json_array_size(to) == 0) {
        fputs(none, out);
        return;
    }
    size_t i;
    json_t *flow;
    json_array_foreach(to, i, flow) {
        fprintf(out, "%s%s ", i > 0 ? "; " : "", str(flow, "integration"));
        md_codes(out, json_object_get(flow, "as"), "");
        fputs(" (", out);
        md_text(out, str(flow, "form"));
        fputc(')', out);
    }
}

static void md_integration(FILE *out, const json_t *it, const json_t *consent)
{
    fprintf(out, "### `%s` (%s)\n\n", str(it, "name"), str(it, "vendor"));
    if (!json_is_true(json_object_get(it, "enabled"))) {
        fputs("Disabled: receives nothing.\n\n", out);
        return;
    }
    fputs("Receives ", out);
    md_codes(out, json_object_get(it, "sends_types"), "no");
    fputs(" events", out);
    if (json_array_size(json_object_get(it, "events")) > 0) {
        fputs(" (track events only when named ", out);
        md_codes(out, json_object_get(it, "events"), "");
        fputc(')', out);
    }
    if (str(it, "consent") != NULL)
        fprintf(out, " that carry consent `%s`", str(it, "consent"));
    fputs(".", out);
    if (json_is_true(json_object_get(it, "sees_stripped"))) {
        fputs(" Events without consent ", out);
        md_codes(out, json_object_get(consent, "required"), "");
        fputs(" reach it stripped.", out);
    }
    fputs("\n\n", out);
    if (is(it, "receives", "envelope")) {
        fputs("It receives the whole envelope: every field the data layer keeps, and `hashes`.\n\n", out);
        return;
    }
    fputs("| vendor field | read from (first present) | takes | sent from this org |\n|---|---|---|---|\n", out);
    size_t i;
    json_t *r;
    json_array_foreach(json_object_get(it, "reads"), i, r) {
        fprintf(out, "| `%s` | ", str(r, "as"));
        md_codes(out, json_object_get(r, "paths"), "");
        fprintf(out, " | %s", str(r, "form"));
        if (str(r, "variant") != NULL)
            fprintf(out, " (%s variant)", str(r, "variant"));
        if (str(r, "note") != NULL) {
            fputs("; ", out);
            md_text(out, str(r, "note"));
        }
        fputs(" | ", out);
        json_t *sent = json_object_get(r, "sent");
        if (json_array_size(sent) > 0)
            md_codes(out, sent, "");
        else if (is(r, "form", "sha256"))
            fputs("nothing: no rule hashes these paths", out);
        else if (is(r, "form", "not a hash") && strcmp(str(r, "as"), "params.<name>") == 0)
            fputs("every other scalar property", out);
        else
            fputs("nothing: the data layer removes these paths", out);
        fputs(" |\n", out);
    }
    fputc('\n', out);
}

char *sluicectl_mapdraw_markdown(const json_t *map)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&buf, &len);
    if (out == NULL)
        return NULL;
    const json_t *consent = json_object_get(map, "consent");
    fprintf(out,
            "# Data map of org `%s`\n\n"
            "Drawn by `sluicectl privacy map --org %s` from the config alone ([privacy.md](privacy.md#data-map)):\n"
            "every field the org's data layer or the gateway touches, what happens to it, and which integrations\n"
            "receive it as which field. It shows paths and rules, never values.\n\n",
            str(map, "org"), str(map, "org"));

    fputs("## Consent\n\n", out);
    if (json_array_size(json_object_get(consent, "required")) == 0) {
        fputs("No category is required: every event passes", out);
    } else {
        fputs("Required: ", out);
        md_codes(out, json_object_get(consent, "required"), "");
        fprintf(out, "; policy `%s`. Events without it: %s", str(consent, "policy"), str(consent, "without_consent"));
    }
    json_t *removes = json_object_get(consent, "strip_removes");
    if (json_array_size(removes) > 0) {
        fputs(": ", out);
        md_codes(out, removes, "");
    }
    fputs(".\n", out);
    if (json_object_size(json_object_get(consent, "aliases")) > 0) {
        fputs("Aliases: ", out);
        const char *k;
        json_t *v;
        int first = 1;
        json_object_foreach(json_object_get(consent, "aliases"), k, v) {
            fprintf(out, "%s`%s` → `%s`", first ? "" : ", ", k, json_string_value(v));
            first = 0;
        }
        fputs(".\n", out);
    }

    fputs("\n## Fields\n\n| field | set by | data layer | without consent | reaches |\n|---|---|---|---|---|\n", out);
    size_t i;
    json_t *f;
    json_array_foreach(json_object_get(map, "fields"), i, f) {
        fprintf(out, "| `%s` | ", str(f, "path"));
        if (is(f, "set_by", "gateway")) {
            fputs("gateway: ", out);
            md_text(out, str(f, "gateway_sets"));
        } else {
            fputs("event", out);
        }
        fputs(" | ", out);
        md_action(out, f);
        fprintf(out, " | %s | ", json_is_true(json_object_get(f, "removed_without_consent")) ? "removed" : "kept");
        md_flows(out, json_object_get(f, "to"), "nothing");
        fputs(" |\n", out);
    }
    json_t *other = json_object_get(map, "other_fields"), *guard = json_object_get(other, "pii_guard");
    fputs("| every other field | event | ", out);
    if (is(guard, "mode", "off")) {
        fputs("passed (PII guard off)", out);
    } else {
        fprintf(out, "PII guard `%s`: ", str(guard, "mode"));
        md_text(out, str(other, "action"));
        fputs(" (", out);
        size_t k;
        json_t *v;
        json_array_foreach(json_object_get(guard, "looks_for"), k, v) {
            fprintf(out, "%s%s", k ? ", " : "", json_string_value(v));
        }
        fputs(json_is_true(json_object_get(guard, "key_names")) ? "; key names)" : ")", out);
        if (json_array_size(json_object_get(guard, "except")) > 0) {
            fputs("; except ", out);
            json_array_foreach(json_object_get(guard, "except"), k, v) {
                fprintf(out, "%s`%s`", k ? ", " : "", json_string_value(v));
            }
        }
    }
    fputs(" | kept | ", out);
    md_flows(out, json_object_get(other, "to"), "nothing");
    fputs(" |\n\n## Integrations\n\n", out);
    json_t *it;
    json_array_foreach(json_object_get(map, "integrations"), i, it) {
        md_integration(out, it, consent);
    }
    if (json_array_size(json_object_get(map, "integrations")) == 0)
        fputs("None: nothing leaves sluice for this org but the events in Kafka.\n\n", out);
    fputs("## Warnings\n\n", out);
    json_t *w;
    json_array_foreach(json_object_get(map, "warnings"), i, w) {
        fputs("- ", out);
        md_text(out, json_string_value(w));
        fputc('\n', out);
    }
    if (json_array_size(json_object_get(map, "warnings")) == 0)
        fputs("None.\n", out);
    if (fclose(out) != 0) {
        free(buf);
        return NULL;
    }
    return buf;
}

/* ------------------------------------------------------------------ DOT */

/* Writes s inside a DOT double-quoted string. */
static void dot_text(FILE *out, const char *s)
{
    for (; *s != '\0'; s++) {
        if (*s == '"' || *s == '\\')
            fputc('\\', out);
        fputc(*s, out);
    }
}

static const char *fill_of(const json_t *f)
{
    if (is(f, "action", "hash"))
        return "#d5efd5";
    if (is(f, "action", "mask"))
        return "#d8e5f7";
    if (is(f, "action", "drop"))
        return "#f6d5d5";
    return "#eeeeee";
}

/* What a field's node shows: fields with the same signature are drawn as one node (a rule and
 * its mirror; the spellings of one trait a vendor reads; enrichments that only the envelope
 * carries), which keeps the picture readable. Caller frees. */
static char *signature(const json_t *f)
{
    static const char *const keys[] = {
        "action", "normalize",  "default_country_code",    "variants", "plugin", "params", "on_error",
        "set_by", "covered_by", "removed_without_consent", "to",       NULL};
    json_t *o = json_object();
    for (size_t i = 0; keys[i] != NULL; i++)
        if (json_object_get(f, keys[i]) != NULL)
            json_object_set(o, keys[i], json_object_get(f, keys[i]));
    char *s = json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS);
    json_decref(o);
    return s;
}

/* The node of the fields whose index is in group[0..n). */
static void dot_field(FILE *out, const json_t *fields, const size_t *group, size_t n)
{
    const json_t *f = json_array_get(fields, group[0]);
    fprintf(out, "      f%zu [label=\"", group[0]);
    for (size_t k = 0; k < n; k++) {
        const json_t *g = json_array_get(fields, group[k]);
        dot_text(out, str(g, "path"));
        if (str(g, "mirror_of") != NULL)
            fputs(" (mirror)", out);
        fputs("\\n", out);
    }
    if (is(f, "action", "hash")) {
        fprintf(out, "hash · %s", str(f, "normalize"));
        if (str(f, "default_country_code") != NULL)
            fprintf(out, " +%s", str(f, "default_country_code"));
        size_t k;
        json_t *v;
        json_array_foreach(json_object_get(f, "variants"), k, v) {
            fprintf(out, " · %s", json_string_value(v));
        }
    } else if (is(f, "action", "mask")) {
        char *params = json_dumps(json_object_get(f, "params"), JSON_COMPACT | JSON_SORT_KEYS);
        fputs("mask · ", out);
        dot_text(out, str(f, "plugin"));
        if (params != NULL && strcmp(params, "{}") != 0) {
            fputc(' ', out);
            dot_text(out, params);
        }
        free(params);
    } else {
        fputs(str(f, "action"), out);
    }
    if (str(f, "covered_by") != NULL) {
        fputs(" (in ", out);
        dot_text(out, str(f, "covered_by"));
        fputc(')', out);
    }
    if (is(f, "set_by", "gateway"))
        fputs("\\nset by the gateway", out);
    fprintf(out, "\", fillcolor=\"%s\"%s];\n", fill_of(f),
            json_is_true(json_object_get(f, "removed_without_consent")) ? ", style=\"rounded,filled,dashed\"" : "");
}

static void dot_names(FILE *out, const json_t *arr, const char *sep)
{
    size_t i;
    json_t *v;
    json_array_foreach(arr, i, v) {
        if (i > 0)
            fputs(sep, out);
        dot_text(out, json_string_value(v));
    }
}

static long integration_index(const json_t *map, const char *name)
{
    size_t i;
    json_t *it;
    json_array_foreach(json_object_get(map, "integrations"), i, it) {
        if (strcmp(str(it, "name"), name) == 0)
            return (long)i;
    }
    return -1;
}

char *sluicectl_mapdraw_dot(const json_t *map)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&buf, &len);
    if (out == NULL)
        return NULL;
    const json_t *fields = json_object_get(map, "fields");
    const json_t *integrations = json_object_get(map, "integrations");
    const json_t *consent = json_object_get(map, "consent");
    fputs("// Drawn by `sluicectl privacy map --format dot`; `dot -Tsvg` makes the picture.\n", out);
    fputs("digraph \"data map\" {\n", out);
    fputs("  graph [rankdir=LR, compound=true, newrank=true, nodesep=0.12, ranksep=1.4, fontname=\"DejaVu Sans\", "
          "fontsize=13, labelloc=t, labeljust=l, label=\"Data map of org ",
          out);
    dot_text(out, str(map, "org"));
    fputs(": what the data layer does to each field, and where it goes (from the config alone)\\l"
          "consent required: ",
          out);
    dot_names(out, json_object_get(consent, "required"), ", ");
    if (json_array_size(json_object_get(consent, "required")) == 0)
        fputs("none", out);
    fputs("; policy ", out);
    dot_text(out, str(consent, "policy"));
    fputs(", so events without it are ", out);
    dot_text(out, str(consent, "without_consent"));
    if (json_array_size(json_object_get(consent, "strip_removes")) > 0)
        fputs(" (the dashed ones)", out);
    fputs("\\l\"];\n", out);
    fputs("  node [shape=box, style=\"rounded,filled\", fontname=\"DejaVu Sans\", fontsize=10, color=\"#777777\", "
          "margin=\"0.1,0.04\", height=0.3];\n",
          out);
    fputs("  edge [fontname=\"DejaVu Sans\", fontsize=9, color=\"#666666\", fontcolor=\"#333333\", arrowsize=0.6];\n\n",
          out);

    fputs("  subgraph cluster_legend {\n    label=\"legend\"; style=rounded; color=\"#bbbbbb\"; fontsize=10;\n"
          "    l_hash [label=\"hashed\", fillcolor=\"#d5efd5\"];\n"
          "    l_mask [label=\"masked\", fillcolor=\"#d8e5f7\"];\n"
          "    l_drop [label=\"dropped\", fillcolor=\"#f6d5d5\"];\n"
          "    l_pass [label=\"passed\", fillcolor=\"#eeeeee\"];\n"
          "    l_strip [label=\"removed without consent\", fillcolor=\"#ffffff\", style=\"rounded,filled,dashed\"];\n"
          "  }\n\n",
          out);

    /* Fields, grouped by signature: kept ones (what the gateway sets in a box of its own), then
     * dropped ones. group_of[i] is the first field of i's group. */
    size_t nf = json_array_size(fields);
    size_t *group_of = calloc(nf + 1, sizeof(*group_of));
    size_t *members = calloc(nf + 1, sizeof(*members));
    char **sigs = calloc(nf + 1, sizeof(*sigs));
    if (group_of == NULL || members == NULL || sigs == NULL) {
        free(group_of);
        free(members);
        free(sigs);
        fclose(out);
        free(buf);
        return NULL;
    }
    for (size_t i = 0; i < nf; i++) {
        sigs[i] = signature(json_array_get(fields, i));
        group_of[i] = i;
        for (size_t k = 0; k < i; k++) {
            if (sigs[i] != NULL && sigs[k] != NULL && strcmp(sigs[i], sigs[k]) == 0) {
                group_of[i] = group_of[k];
                break;
            }
        }
    }
    long first_kept = -1;
    static const char *const clusters[] = {
        "  subgraph cluster_kept {\n    label=\"in the envelope (after the data layer)\"; style=rounded; "
        "color=\"#999999\";\n",
        "    subgraph cluster_gateway {\n      label=\"set by the gateway\"; style=\"rounded,dotted\"; "
        "color=\"#999999\";\n",
        "  subgraph cluster_dropped {\n    label=\"removed by the data layer\"; style=rounded; color=\"#cc9999\";\n"};
    for (int c = 0; c < 3; c++) {
        fputs(clusters[c], out);
        for (size_t i = 0; i < nf; i++) {
            const json_t *f = json_array_get(fields, i);
            int dropped = is(f, "action", "drop"), gateway = is(f, "set_by", "gateway");
            if (group_of[i] != i || (c == 2) != dropped || (c < 2 && (c == 1) != gateway))
                continue;
            size_t n = 0;
            for (size_t k = i; k < nf; k++)
                if (group_of[k] == i)
                    members[n++] = k;
            if (c < 2 && first_kept < 0)
                first_kept = (long)i;
            dot_field(out, fields, members, n);
        }
        if (c == 1)
            fputs("    }\n  }\n", out);
        else if (c == 2)
            fputs("  }\n\n", out);
    }
    size_t i;
    json_t *f;
    /* Integrations, on the right. */
    fputs("  subgraph cluster_integrations {\n    label=\"integrations\"; style=rounded; color=\"#999999\";\n", out);
    json_t *it;
    json_array_foreach(integrations, i, it) {
        int on = json_is_true(json_object_get(it, "enabled"));
        fprintf(out, "    i%zu [label=\"", i);
        dot_text(out, str(it, "name"));
        fputs(" · ", out);
        dot_text(out, str(it, "vendor"));
        if (!on) {
            fputs("\\ndisabled", out);
        } else {
            fputs("\\n", out);
            dot_names(out, json_object_get(it, "sends_types"), ", ");
            if (json_array_size(json_object_get(it, "events")) > 0) {
                fputs("\\nevents: ", out);
                dot_names(out, json_object_get(it, "events"), ", ");
            }
            if (str(it, "consent") != NULL) {
                fputs("\\nconsent: ", out);
                dot_text(out, str(it, "consent"));
            }
            if (json_is_true(json_object_get(it, "sees_stripped")))
                fputs("\\nalso gets stripped events", out);
        }
        fprintf(out, "\", shape=box, style=\"filled\", fillcolor=\"%s\", penwidth=1.4];\n", on ? "#fde7c4" : "#eeeeee");
    }
    fputs("  }\n\n", out);

    /* What reaches each integration, and as what; the whole envelope as one edge. */
    json_array_foreach(fields, i, f) {
        if (group_of[i] != i)
            continue;
        size_t k;
        json_t *flow;
        json_array_foreach(json_object_get(f, "to"), k, flow) {
            long n = integration_index(map, str(flow, "integration"));
            if (n < 0 || is(json_array_get(integrations, (size_t)n), "receives", "envelope"))
                continue;
            fprintf(out, "  f%zu -> i%ld [label=\"", i, n);
            dot_names(out, json_object_get(flow, "as"), "\\n");
            fputs("\"];\n", out);
        }
    }
    json_array_foreach(integrations, i, it) {
        if (is(it, "receives", "envelope") && json_is_true(json_object_get(it, "enabled")) && first_kept >= 0)
            fprintf(out, "  f%ld -> i%zu [ltail=cluster_kept, style=bold, label=\"the whole envelope\"];\n", first_kept,
                    i);
    }
    fputs("}\n", out);
    for (size_t k = 0; k < nf; k++)
        free(sigs[k]);
    free(sigs);
    free(group_of);
    free(members);
    if (fclose(out) != 0) {
        free(buf);
        return NULL;
    }
    return buf;
}
