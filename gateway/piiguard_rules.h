/*
 * The PII guard's judgement of one value, its ids pass and its full walk (piiguard.h), written once
 * for both trees an event can be held in (issue 17): gateway/piiguard.c includes this file twice,
 * once with jansson's accessors (sluice_piiguard_ids, sluice_piiguard_apply) and once with
 * json/jv.h's (sluice_piiguard_ids_jv, sluice_piiguard_apply_jv), so that the two cannot drift: the
 * same values judged, the same findings, the same hashes and tokens written. What differs is only
 * how a value is read or made, and that is the macros below, which the includer defines:
 *
 *   T_VALUE                      the node type (json_t, sluice_jv_t)
 *   T(name)                      the tree's name for a static helper of this file
 *   T_IDS                        the public ids pass's name
 *   T_XP                         the tree's context as an extra parameter of T_IDS (jv's arena a,
 *                                where new values are made: ", sluice_json_arena_t *a"), or nothing
 *   T_WALK_INIT(w)               what the walk needs of that context (jv: w->arena = a)
 *   T_APPLY, T_APPLY_XP          the full walk's name and its tree's extra parameter (jansson's numbers'
 *                                table nums, jv's arena a), T_APPLY_INIT(w) what the walk takes of them
 *                                and of privacy
 *   T_NOTE_KEY(w, kn)            the length of the member key about to be judged (jv: its key has no NUL)
 *   T_IS_ARRAY(v), T_ARRAY_SIZE(v), T_ARRAY_GET(v, i)
 *   T_IS_STRING T_IS_INTEGER T_IS_REAL T_IS_OBJECT (v)   a real: a number jansson reads as a double
 *   T_STRING_PTR(v), T_STRING_LEN(v)   a string's bytes (not NUL-terminated for jv) and length
 *   T_FEW_DIGITS(v)              1 when v is a number the tree can tell, cheaper than by its type and
 *                                value, to be below 100000 in magnitude (jv: by its text), else 0
 *   T_INTEGER_VALUE(v), T_REAL_VALUE(v)
 *   T_NUM_TEXT(w, v, &n)         the number's text as the client sent it, or NULL when the walk has
 *                                no texts (w->nums NULL: the ids pass)
 *   T_NEW_STRINGN(s, n)          a new string of s[0..n), NULL when it is not UTF-8 or memory ran out
 *   T_NEW_STRINGN_NOCHECK(s, n)  the same for bytes known to be ASCII
 *   T_NEW_STRING(s)              a new string of the NUL-terminated s
 *   T_OBJECT_SIZE(o), T_OBJECT_GETN(o, key, n)
 *   T_ITER, T_ITER_BEGIN(o), ...  the member walk (gateway/tree_iter.h)
 *   and, defined before the inclusion: T(set_value)(parent, key, index, v, w); T(del_member)(obj, k,
 *   kn, &next), which removes the member the walk is at and keeps next at the member after it;
 *   T(append)(w, matcher, action), which appends the finding note_finding just counted to privacy's
 *   detected; T(set_more)(w), which sets privacy.detected_more (0, or -1 when memory ran out).
 *
 * Not a header: no include guard (it undefines the tree's macros at its end for the next
 * inclusion), nothing for other files. Runs where gateway/piiguard.c does.
 */

static void T(record)(walk_t *w, const char *matcher, const char *action, int partial);

/* 1 for a real that is a whole number a double holds exactly (below 2^53): a card or phone
 * number sent as 4111111111111111.0 is judged by its digits like the integer. Larger reals have
 * lost their low digits (a 19-digit number beyond 64 bits is one): no check digit would hold. */
static int T(integral_real)(const T_VALUE *v)
{
    if (!T_IS_REAL(v))
        return 0;
    double x = T_REAL_VALUE(v);
    return x > -9007199254740992.0 && x < 9007199254740992.0 && x == (double)(json_int_t)x;
}

/* The most digits left of the point real_digits reads: no card (19) or phone number (15) has
 * more. A longer whole number (a 42-digit order id) is judged as a string of as many digits
 * would be by the scanner: no card or phone number is found inside it. */
#define WHOLE_DIGITS_MAX 40
/* Room for a '-' and the digits real_digits writes. */
#define REAL_DIGITS_MAX 64

/* The digits a real is judged by, or 0 when it is not judged: into buf (REAL_DIGITS_MAX bytes),
 * with a '-' when negative, and *s, *n point at them. With the text the client sent (w->nums),
 * that text decides, as a double does not: below 2^53 it rounds too (4111111111111111.2 is the
 * double 4111111111111111.0, 123456.000000000000001 is 123456.0), so a fraction that is not all
 * zeros is never a finding, whatever the double; beyond 2^53 the double has lost the low digits of
 * a whole number. "9111111111111111111", "9111111111111111111.0" and "9.111111111111111111e18"
 * give the same digits. Without a text, a double below 2^53 that is a whole number gives its
 * digits. Returns 1 for digits the client sent, 2 for a whole number whose digits are not read
 * (*n is 0): a whole number of more than WHOLE_DIGITS_MAX digits (1e45), or a number beyond
 * 2^53 without a text (made by the gateway, or a text the table could not hold) in an event that
 * has texts (every double beyond 2^53 is a whole number), under a member name (cls): what is under
 * a card or phone name is masked whatever its digits. Without a member name such digits are not
 * the client's to scan, or too many for any card or phone: 0. */
static int T(real_digits)(const walk_t *w, const T_VALUE *v, sluice_keyname_class_t cls, char *buf, const char **s,
                          size_t *n)
{
    double x = T_REAL_VALUE(v);
    size_t tn = 0;
    const char *t = T_NUM_TEXT(w, v, &tn);
    if (t == NULL) {
        if (T(integral_real)(v)) {
            int len = snprintf(buf, REAL_DIGITS_MAX, "%lld", (long long)x);
            if (len <= 0 || len >= REAL_DIGITS_MAX)
                return 0;
            *s = buf;
            *n = (size_t)len;
            return 1;
        }
        if (w->nums == NULL || cls == SLUICE_KEYNAME_NONE)
            return 0;
        *s = buf; /* beyond 2^53 (judge_real saw to it): masked, its digits unread */
        *n = 0;
        return 2;
    }
    char digits[WHOLE_DIGITS_MAX];
    size_t nd = 0, i = 0;
    int late = 0;   /* a digit other than 0 past digits[]: never left of the point when that is read */
    long whole = 0; /* where the point is, in digits[] (negative: zeros between it and the first digit) */
    int neg = 0, point = 0;
    long exp = 0;
    if (i < tn && t[i] == '-') {
        neg = 1;
        i++;
    }
    for (; i < tn; i++) {
        char c = t[i];
        if (c >= '0' && c <= '9') {
            if (nd == 0 && c == '0') { /* leading zeros say nothing, but after the point they move it */
                whole -= point;
                continue;
            }
            if (nd < WHOLE_DIGITS_MAX) /* the text may be any length: only these can be read */
                digits[nd] = c;
            else
                late |= c != '0';
            nd++;
            whole += !point;
        } else if (c == '.' && !point) {
            point = 1;
        } else {
            break;
        }
    }
    if (i < tn) { /* an exponent, the only other thing a JSON number holds */
        if (t[i] != 'e' && t[i] != 'E')
            return 0;
        i++;
        int eneg = i < tn && t[i] == '-';
        if (i < tn && (t[i] == '-' || t[i] == '+'))
            i++;
        for (; i < tn && exp < 1000; i++)
            exp = exp * 10 + (t[i] - '0');
        exp = eneg ? -exp : exp;
    }
    if (nd == 0) { /* 0.0, -0e5: zero, written as the integer 0 is */
        buf[0] = '0';
        *s = buf;
        *n = 1;
        return 1;
    }
    long int_len = whole + exp; /* digits left of the point once the exponent is applied */
    if (int_len <= 0)
        return 0;                     /* below 1: not a whole number */
    if (int_len > WHOLE_DIGITS_MAX) { /* every digit kept is left of the point: a whole number */
        if (cls == SLUICE_KEYNAME_NONE)
            return 0; /* no card or phone has so many digits */
        *s = buf;     /* under a member name: masked like a number without text */
        *n = 0;
        return 2;
    }
    if (late)
        return 0; /* a digit past WHOLE_DIGITS_MAX, right of the point: not a whole number */
    for (size_t k = (size_t)int_len; k < nd && k < WHOLE_DIGITS_MAX; k++)
        if (digits[k] != '0')
            return 0; /* not a whole number */
    char *o = buf;
    if (neg)
        *o++ = '-';
    for (long k = 0; k < int_len; k++)
        *o++ = (size_t)k < nd ? digits[k] : '0';
    *s = buf;
    *n = (size_t)(o - buf);
    return 1;
}

/* A string, integer or whole-number real (real_digits) no rule covers, at parent's member key (NULL: element index).
 * cls is what the nearest member name says (an array's for its elements; NONE without key_names and for the ids); id is
 * 1 + the index in ids[] for the event's top-level ids, else 0. Called through judge. */
static void T(judge_here)(walk_t *w, T_VALUE *parent, const char *key, size_t index, T_VALUE *v,
                          sluice_keyname_class_t cls, int id)
{
    const sluice_piiguard_t *g = w->g;
    char num[REAL_DIGITS_MAX];
    const char *s;
    size_t n;
    int exact = 1; /* s is what the client sent (real_digits) */
    if (T_IS_STRING(v)) {
        s = T_STRING_PTR(v);
        n = T_STRING_LEN(v);
        if (n == 0 || (n == 64 && sluice_is_sha256_hex(s, n)))
            return;
    } else if (T_IS_INTEGER(v)) {
        json_int_t x = T_INTEGER_VALUE(v);
        if (x > -100000 && x < 100000 && cls == SLUICE_KEYNAME_NONE)
            return; /* fewer than six digits: nothing to find (quantities, prices in cents) */
        /* Digits written backwards into num's end: snprintf costs more than the rest of the guard. */
        unsigned long long u = x < 0 ? 0ull - (unsigned long long)x : (unsigned long long)x;
        char *p = num + sizeof(num);
        do {
            *--p = (char)('0' + u % 10);
            u /= 10;
        } while (u != 0);
        if (x < 0)
            *--p = '-';
        s = p;
        n = (size_t)(num + sizeof(num) - p);
    } else if (!T_IS_REAL(v) || (exact = T(real_digits)(w, v, cls, num, &s, &n)) == 0) {
        return;
    } else {
        exact = exact == 1;
    }
    sluice_scan_t *sc = &w->t->scan;
    sc->count = 0;
    if (exact && sluice_scan_may_match(s, n) && sluice_scan(sc, s, n, g->kinds) != 0) {
        w->oom = 1;
        return;
    }
    if (sc->count == 0 && cls == SLUICE_KEYNAME_NONE)
        return;

    int act = g->mode == SLUICE_PII_GUARD_MASK || g->mode == SLUICE_PII_GUARD_HASH;
    int hash = g->mode == SLUICE_PII_GUARD_HASH || id; /* ids are hashed even under mask */
    const char *action = act ? (hash ? "hashed" : "masked") : actions[SLUICE_PII_GUARD_REPORT];
    w->st->detected++;

    /* What was found, before the value changes (the scan results are about the old value). */
    if (w->early) {
        uint64_t bits = 0;
        for (size_t i = 0; i < sc->count; i++)
            bits |= sc->matches[i].kind & 0xffu;
        if (!(sc->count == 1 && sc->matches[0].start == 0 && sc->matches[0].end == n))
            bits |= ID_PARTIAL;
        w->ids_found |= bits << (SLUICE_PIIGUARD_ID_BITS * (unsigned)(id - 1));
    } else if (sc->count > 0) {
        unsigned done = 0;
        for (size_t i = 0; i < sc->count; i++) {
            unsigned k = sc->matches[i].kind;
            if (done & k)
                continue;
            done |= k;
            int partial = !(sc->count == 1 && sc->matches[0].start == 0 && sc->matches[0].end == n);
            T(record)(w, sluice_scan_kind_name(k), action, partial);
        }
    } else {
        static const char *const key_matchers[SLUICE_KEYNAME_CLASS_COUNT] = {
            "key:none",      "key:email",       "key:phone", "key:address",      "key:postal_code", "key:name",
            "key:birthdate", "key:national_id", "key:card",  "key:bank_account", "key:password"};
        T(record)(w, key_matchers[cls], action, 0);
    }
    if (!act)
        return;

    char hex[65];
    T_VALUE *nv = NULL;
    int whole_email = sc->count == 1 && sc->matches[0].kind == SLUICE_SCAN_EMAIL && sc->matches[0].start == 0 &&
                      sc->matches[0].end == n;
    if (id && whole_email && hash_whole(SLUICE_NORM_EMAIL, s, n, hex)) {
        nv = T_NEW_STRINGN_NOCHECK(hex, 64); /* the same hash as traits.email's */
    } else if (cls != SLUICE_KEYNAME_NONE) {
        /* Not the client's digits: a hash of them would join nothing. */
        if (hash && exact && hash_whole(normalizer_of(cls), s, n, hex)) {
            nv = T_NEW_STRINGN_NOCHECK(hex, 64);
        } else {
            char token[24];
            snprintf(token, sizeof(token), "[%s]", sluice_keyname_class_name(cls));
            nv = T_NEW_STRING(token); /* also a value a hash normaliser refuses: never kept raw */
        }
    } else {
        long len = rewrite_matches(w->t, s, n, hash);
        if (len < 0) {
            w->oom = 1;
            return;
        }
        nv = T_NEW_STRINGN(w->t->out, (size_t)len);
    }
    T(set_value)(parent, key, index, nv, w);
    w->st->changed++;
}

/* judge_here under the path segment seg (seg_n bytes; NULL: the walk is at the value already). */
__attribute__((noinline)) static void T(judge_value)(walk_t *w, T_VALUE *parent, const char *key, size_t index,
                                                     T_VALUE *v, sluice_keyname_class_t cls, int id, const char *seg,
                                                     size_t seg_n)
{
    int pushed = seg != NULL ? push_seg(w, seg, seg_n) : 0;
    T(judge_here)(w, parent, key, index, v, cls, id);
    w->nseg -= (size_t)pushed;
}

/* judge's step for reals, out of line so that judge stays small enough to be in line: a double
 * that is a whole number of six digits or more, or one beyond 2^53; real_digits then asks the
 * text whether the client sent a whole number. */
__attribute__((noinline)) static void T(judge_real)(walk_t *w, T_VALUE *parent, const char *key, size_t index,
                                                    T_VALUE *v, sluice_keyname_class_t cls, int id, const char *seg,
                                                    size_t seg_n)
{
    double x = T_REAL_VALUE(v);
    if (T(integral_real)(v)) {
        if (x > -100000 && x < 100000 && cls == SLUICE_KEYNAME_NONE)
            return;
    } else if (w->nums == NULL || (x > -9007199254740992.0 && x < 9007199254740992.0)) {
        return;
    }
    T(judge_value)(w, parent, key, index, v, cls, id, seg, seg_n);
}

/* judge_value's first steps, in line: values with neither a key class nor an '@' or six digits
 * (most: "Order Completed", "o-10021", a URL without long numbers, quantities) stop here, at one
 * vector pass (sluice_scan_may_match), without a call and without their path segment pushed. In line
 * by force: with jv's number check (T_FEW_DIGITS) the compiler put it out of line, a call for each of
 * the walk's 13 values an event (+544 instructions). */
static inline __attribute__((always_inline)) void T(judge)(walk_t *w, T_VALUE *parent, const char *key, size_t index,
                                                           T_VALUE *v, sluice_keyname_class_t cls, int id,
                                                           const char *seg, size_t seg_n)
{
    if (T_IS_STRING(v)) {
        if (cls == SLUICE_KEYNAME_NONE) {
            size_t n = T_STRING_LEN(v);
            if (n < 6 || !sluice_scan_may_match(T_STRING_PTR(v), n))
                return;
        }
    } else if (cls == SLUICE_KEYNAME_NONE && T_FEW_DIGITS(v)) {
        return; /* what the next two branches find for it: fewer than six digits, or a fraction */
    } else if (T_IS_INTEGER(v)) {
        json_int_t x = T_INTEGER_VALUE(v);
        if (x > -100000 && x < 100000 && cls == SLUICE_KEYNAME_NONE)
            return;
    } else if (T_IS_REAL(v)) {
        /* a fraction below 2^53 (a price) is never judged: judge_real's first answer, without its call */
        double x = T_REAL_VALUE(v);
        if (x > -9007199254740992.0 && x < 9007199254740992.0 && x != (double)(json_int_t)x)
            return;
        T(judge_real)(w, parent, key, index, v, cls, id, seg, seg_n);
        return;
    } else {
        return;
    }
    T(judge_value)(w, parent, key, index, v, cls, id, seg, seg_n);
}

int T_IDS(const sluice_piiguard_t *g, sluice_piiguard_thread_t *t, T_VALUE *event T_XP, uint64_t *found)
{
    *found = 0;
    if (g == NULL || g->mode == SLUICE_PII_GUARD_OFF || !T_IS_OBJECT(event))
        return 0;
    walk_t walk, *w = &walk;
    sluice_piiguard_stats_t st;
    walk_init(w, g, t, &st);
    T_WALK_INIT(w);
    w->early = 1;
    if (T_OBJECT_SIZE(event) <= IDS_BY_WALK) {
        /* One pass over the members, each told apart by its length (cheaper than five look-ups,
         * each hashing its key, for the few members an event has before enrichment). A judged id
         * is replaced in place, which keeps the iteration valid. */
        for (T_ITER it = T_ITER_BEGIN(event); T_ITER_OK(event, it) && !w->oom; it = T_ITER_NEXT(event, it)) {
            size_t kn = T_ITER_KEY_LEN(event, it);
            unsigned i = kn <= ID_LEN_MAX ? g->id_by_len[kn] : 0;
            if (i == 0)
                continue;
            kwords_t kw; /* "traits", "context", "timestamp" and "properties" have an id's length */
            key_words(T_ITER_KEY(event, it), kn, &kw);
            if (same_words(&kw, &g->id_words[i - 1], kn))
                T(judge)(w, event, ids[i - 1], 0, T_ITER_VALUE(event, it), SLUICE_KEYNAME_NONE, (int)i, NULL, 0);
        }
    } else {
        for (size_t i = 0; i < ID_COUNT && !w->oom; i++) {
            T_VALUE *v = g->id_judged[i] ? T_OBJECT_GETN(event, ids[i], g->id_len[i]) : NULL;
            if (v != NULL)
                T(judge)(w, event, ids[i], 0, v, SLUICE_KEYNAME_NONE, (int)i + 1, NULL, 0);
        }
    }
    *found = w->ids_found;
    return w->oom ? -1 : 0;
}

/* ---------------------------------------------------------------- the full walk (T_APPLY) */

/* A finding at the walk's current path: counted, and appended to privacy.detected with its action
 * by the tree's T(append) (once per event and path, at most SLUICE_PIIGUARD_DETECTED_MAX). */
static void T(record)(walk_t *w, const char *matcher, const char *action, int partial)
{
    if (note_finding(w, matcher, partial))
        T(append)(w, matcher, action);
}

/* A member whose key itself holds personal data (the caller saw sluice_scan_may_match say so):
 * named by what it holds in paths, removed under mask and hash (a key cannot be replaced in place
 * without changing what others read). Returns 1 when the member was removed (*next then still
 * names the member after it). */
static int T(key_holds_pii)(walk_t *w, T_VALUE *obj, const char *k, size_t kn, char *seg, size_t seg_cap, T_ITER *next)
{
    sluice_scan_t *sc = &w->t->scan;
    if (sluice_scan(sc, k, kn, w->g->kinds) != 0) {
        w->oom = 1;
        return 0;
    }
    if (sc->count == 0)
        return 0;
    const char *kind = sluice_scan_kind_name(sc->matches[0].kind);
    snprintf(seg, seg_cap, "<%s>", kind);
    int act = w->g->mode == SLUICE_PII_GUARD_MASK || w->g->mode == SLUICE_PII_GUARD_HASH;
    int pushed = push_seg(w, seg, strlen(seg));
    w->st->detected++;
    T(record)(w, kind, act ? "removed" : "reported", 1);
    w->nseg -= (size_t)pushed;
    if (!act)
        return 0;
    w->st->changed++;
    T(del_member)(obj, k, kn, next);
    return 1;
}

static void T(visit_array)(walk_t *w, T_VALUE *v, const tnode_t *node, sluice_keyname_class_t cls, int depth);

static void T(visit_object)(walk_t *w, T_VALUE *obj, const tnode_t *node, int depth)
{
    const char *k;
    T_VALUE *child;
    /* The next member is taken before this one is judged: a key holding PII is deleted. */
    T_ITER next;
    for (T_ITER it = T_ITER_BEGIN(obj); T_ITER_OK(obj, it); it = next) {
        next = T_ITER_NEXT(obj, it);
        k = T_ITER_KEY(obj, it);
        size_t kn = T_ITER_KEY_LEN(obj, it);
        kwords_t kw;
        uint64_t h = 0;
        if (kn <= KEY_WORDS_MAX)
            h = key_words(k, kn, &kw);
        else
            memset(&kw, 0, sizeof(kw));
        const tnode_t *cn = child_named(node, k, kn, &kw, h);
        if (cn != NULL && (cn->flags & (T_COVERED | T_EXCEPT | T_SKIP)))
            continue; /* its value is not even fetched */
        child = T_ITER_VALUE(obj, it);
        key_memo_t own;
        const key_memo_t *facts;
        if (cn != NULL) { /* a key the trie names knows what it says */
            own.cls = cn->cls;
            own.scan = cn->scan;
            facts = &own;
        } else {
            facts = key_facts(w->t, k, kn, &kw, h, &own);
        }
        /* the member's path segment: its key, or what the key holds ("<email>") */
        const char *seg = k;
        size_t seg_n = kn;
        char held[24];
        if (facts->scan) {
            held[0] = '\0';
            if (T(key_holds_pii)(w, obj, k, kn, held, sizeof(held), &next))
                continue;
            if (w->oom)
                return;
            if (held[0] != '\0') {
                seg = held;
                seg_n = strlen(held);
            }
        }
        sluice_keyname_class_t cls = w->key_names ? (sluice_keyname_class_t)facts->cls : SLUICE_KEYNAME_NONE;
        if (depth == 0 && cn != NULL && cn->id != 0) {
            T_NOTE_KEY(w, kn);
            if (!w->ids_done)
                T(judge)(w, obj, k, 0, child, SLUICE_KEYNAME_NONE, cn->id, seg, seg_n);
        } else if (T_IS_OBJECT(child)) {
            int pushed = push_seg(w, seg, seg_n);
            T(visit_object)(w, child, cn, depth + 1);
            w->nseg -= (size_t)pushed;
        } else if (T_IS_ARRAY(child)) {
            int pushed = push_seg(w, seg, seg_n);
            T(visit_array)(w, child, cn, cls, depth + 1);
            w->nseg -= (size_t)pushed;
        } else {
            if (w->key_names && cls == SLUICE_KEYNAME_NONE && kn == 4 && memcmp(k, "name", 4) == 0 && in_traits(w))
                cls = SLUICE_KEYNAME_NAME; /* traits.name is the person's full name (Segment's spec) */
            T_NOTE_KEY(w, kn);
            T(judge)(w, obj, k, 0, child, cls, 0, seg, seg_n);
        }
        if (w->oom)
            return;
    }
}

/* An array no rule covers; cls is what its member name says (for its elements). */
static void T(visit_array)(walk_t *w, T_VALUE *v, const tnode_t *node, sluice_keyname_class_t cls, int depth)
{
    const tnode_t *cn = node != NULL ? node->star : NULL;
    if (cn != NULL && (cn->flags & (T_COVERED | T_EXCEPT | T_SKIP)))
        return;
    int pushed = push_seg(w, "[*]", 3);
    for (size_t i = 0; i < T_ARRAY_SIZE(v) && !w->oom; i++) {
        T_VALUE *e = T_ARRAY_GET(v, i);
        if (T_IS_OBJECT(e))
            T(visit_object)(w, e, cn, depth + 1);
        else if (T_IS_ARRAY(e))
            T(visit_array)(w, e, cn, cls, depth + 1);
        else
            T(judge)(w, v, NULL, i, e, cls, 0, NULL, 0);
    }
    w->nseg -= (size_t)pushed;
}

int T_APPLY(const sluice_piiguard_t *g, sluice_piiguard_thread_t *t, T_VALUE *event T_APPLY_XP, T_VALUE *privacy,
            int64_t now_ms, const uint64_t *ids_found, sluice_piiguard_stats_t *stats)
{
    memset(stats, 0, sizeof(*stats));
    if (g == NULL || g->mode == SLUICE_PII_GUARD_OFF || !T_IS_OBJECT(event))
        return 0;
    walk_t walk, *w = &walk;
    walk_init(w, g, t, stats);
    T_APPLY_INIT(w);
    w->now = now_ms;
    if (ids_found != NULL) {
        /* What sluice_piiguard_ids found (and hashed) before identity read the ids. */
        w->ids_done = 1;
        int act = g->mode == SLUICE_PII_GUARD_MASK || g->mode == SLUICE_PII_GUARD_HASH;
        for (size_t i = 0; i < ID_COUNT; i++) {
            unsigned bits =
                (unsigned)(*ids_found >> (SLUICE_PIIGUARD_ID_BITS * i)) & ((1u << SLUICE_PIIGUARD_ID_BITS) - 1);
            if ((bits & 0xffu) == 0)
                continue;
            stats->detected++;
            stats->changed += (uint64_t)act;
            push_seg(w, ids[i], g->id_len[i]);
            for (unsigned k = 1; k <= 0x80u; k <<= 1)
                if (bits & k)
                    T(record)(w, sluice_scan_kind_name(k), act ? "hashed" : "reported", (bits & ID_PARTIAL) != 0);
            w->nseg = 0;
        }
    }
    T(visit_object)(w, event, &g->root, 0);
    if (w->more > 0 && !w->oom && T(set_more)(w) != 0)
        w->oom = 1;
    return w->oom ? -1 : 0;
}

#undef T_VALUE
#undef T
#undef T_IDS
#undef T_XP
#undef T_WALK_INIT
#undef T_IS_STRING
#undef T_IS_INTEGER
#undef T_IS_REAL
#undef T_IS_OBJECT
#undef T_IS_ARRAY
#undef T_ARRAY_SIZE
#undef T_ARRAY_GET
#undef T_APPLY
#undef T_APPLY_XP
#undef T_APPLY_INIT
#undef T_NOTE_KEY
#undef T_STRING_PTR
#undef T_STRING_LEN
#undef T_FEW_DIGITS
#undef T_INTEGER_VALUE
#undef T_REAL_VALUE
#undef T_NUM_TEXT
#undef T_NEW_STRINGN
#undef T_NEW_STRINGN_NOCHECK
#undef T_NEW_STRING
#undef T_OBJECT_SIZE
#undef T_OBJECT_GETN
#undef T_ITER_JV
