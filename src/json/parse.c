/* JSON document → cs_json_t tree, driven by the pull tokenizer.
 *
 * The tree is built bottom-up without recursion: finished children wait on scratch stacks and
 * are copied into the arena, exactly sized, when their container closes.
 *
 * Numeric arrays take a fast path: after '[' the array is scanned directly into one buffer of
 * 8-byte slots (int64 while every element is an integer literal; converted in place to double
 * on the first non-integer), discovering the shape as it goes. At the first thing that does not
 * fit (a string, bool, null, object, big integer, or a ragged row) it gives up and the tokenizer
 * goes on from the '[' as usual, so the result is the same either way, just slower.
 *
 * Memory: the slots are written into an arena reservation (base/arena.h) that grows by doubling
 * and is handed out only when the scan succeeds, so an array is held in at most twice its 8 bytes
 * per element (each from at least two bytes of text) and an attempt that gives up holds nothing.
 * The earlier design reserved four times the rest of the document on every '[' it tried: a
 * 1.4 MB ndarray of [number, string] rows reserved tens of gigabytes and failed. The int-literal
 * mask lives on the heap during the scan (one per parse, reused) and is copied when it is kept.
 *
 * CPU: a scan that gives up would be repeated from each '[' inside it, so a crafted nesting was
 * read once per level (up to CS_JSON_MAX_DIMS passes). Giving up proves the arrays around that
 * point non-numeric (they hold a non-number, or break the nesting or row length that their
 * earlier children fixed), and no scan starts from them again (doomed_t): such documents are
 * read about twice, the numeric rows inside them still found (tests/unit/test_json_parse.c). */
#include "json/json.h"

#include "base/error.h"
#include "json/lexer.h"
#include "json/number.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Finished children wait here until their container closes: values (16 bytes each) on one
 * stack, the keys of object members on another, so the children of arrays (nearly all of a
 * payload) cost half of what member-sized entries would. Both grow by doubling. */
typedef struct {
    const char *key;
    uint32_t len;
} key_ref_t;

typedef struct {
    cs_json_t *v;
    size_t len, cap;
    key_ref_t *k;
    size_t klen, kcap;
} scratch_t;

static int grow(void **p, size_t *cap, size_t size) {
    size_t n = *cap ? *cap * 2 : 64;
    void *q = realloc(*p, n * size);
    if (q == NULL)
        return CS_ENOMEM;
    *p = q;
    *cap = n;
    return 0;
}

static int scratch_push(scratch_t *s, const cs_json_t *v) {
    if (s->len == s->cap && grow((void **)&s->v, &s->cap, sizeof(*s->v)) < 0)
        return CS_ENOMEM;
    s->v[s->len++] = *v;
    return 0;
}

static int scratch_push_key(scratch_t *s, const char *key, uint32_t len) {
    if (s->klen == s->kcap && grow((void **)&s->k, &s->kcap, sizeof(*s->k)) < 0)
        return CS_ENOMEM;
    s->k[s->klen++] = (key_ref_t){key, len};
    return 0;
}

/* An open container: where its children start on the stacks, and its own key in its parent. */
typedef struct {
    size_t start, kstart;
    const char *key;
    uint32_t key_len;
    bool object;
} frame_t;

/* Bit i set when element i of a float64 scan was written as an integer literal. Heap memory
 * kept across the scans of one parse; words below `zeroed` are valid for the current scan. */
typedef struct {
    uint64_t *w;
    size_t cap, zeroed;
} int_mask_t;

/* Makes bits [0, nbits] addressable and clear (the ones not yet written this scan). */
static int mask_cover(int_mask_t *m, size_t nbits) {
    size_t words = nbits / 64 + 1;
    if (words > m->cap) {
        size_t cap = m->cap ? m->cap : 16;
        while (cap < words)
            cap *= 2;
        uint64_t *w = realloc(m->w, cap * sizeof(*w));
        if (w == NULL)
            return CS_ENOMEM;
        m->w = w;
        m->cap = cap;
    }
    if (words > m->zeroed) {
        memset(m->w + m->zeroed, 0, (words - m->zeroed) * sizeof(*m->w));
        m->zeroed = words;
    }
    return 0;
}

/* '[' positions (in text order) of arrays that a failed scan proved are not numeric, so no scan
 * is started from them again: without this a scan that gives up deep inside nested arrays was
 * repeated from every '[' on the way down, each pass reading the same rows (CS_JSON_MAX_DIMS
 * passes over a crafted document). Losing entries (the list is full) costs only speed. */
#define DOOMED_MAX (CS_JSON_MAX_DIMS * CS_JSON_MAX_DIMS)
typedef struct {
    size_t pos[DOOMED_MAX];
    unsigned n, next;
} doomed_t;

/* Records the open arrays at depths 2..m (open_at[1..m-1]); depth 1 is the array the scan
 * started from, which the tokenizer has already passed. They all lie before the entries not
 * yet reached: a scan only starts from an array that is not on the list, and such an array
 * encloses no entry still ahead (those arrays are ancestors of an earlier failure, shallower
 * than every array a scan was started from since). */
static void doom(doomed_t *dm, const size_t *open_at, uint32_t m) {
    unsigned k = m > 1 ? m - 1 : 0, ahead = dm->n - dm->next;
    if (k == 0 || k + ahead > DOOMED_MAX)
        return;
    memmove(dm->pos + k, dm->pos + dm->next, ahead * sizeof(size_t));
    memcpy(dm->pos, open_at + 1, k * sizeof(size_t));
    dm->n = k + ahead;
    dm->next = 0;
}

static bool doomed_at(doomed_t *dm, size_t pos) {
    while (dm->next < dm->n && dm->pos[dm->next] < pos)
        dm->next++;
    if (dm->next < dm->n && dm->pos[dm->next] == pos) {
        dm->next++;
        return true;
    }
    return false;
}

/* The deepest open array above depth d with a completed child: it and its ancestors cannot be
 * numeric when the array at depth d breaks the structure (their completed children fixed the
 * nesting and row lengths that the array at depth d contradicts). */
static uint32_t doom_depth_above(const int64_t *count, uint32_t d) {
    while (d > 1 && count[d - 2] == 0)
        d--;
    return d - 1;
}

#ifdef CS_JSON_TESTING
/* Bytes read by scans (successful or not), for tests that bound the work. */
size_t cs__json_scanned;
#endif

static inline bool is_ws(char c) {
    return c == ' ' || c == '\n' || c == '\r' || c == '\t';
}

/* Byte mask (0x80 per byte) of the non-digits among 8 loaded bytes; the lowest set byte is the
 * first non-digit (borrows and carries only run towards higher bytes). */
static inline uint64_t non_digits(uint64_t v) {
    return ((v + 0x4646464646464646ULL) | (v - 0x3030303030303030ULL)) & 0x8080808080808080ULL;
}

/* The number written by the first k (1..8) bytes of v: pad it to eight digits with leading
 * zeros and use the eight-digit SWAR parse, so the run length costs no branch. */
static inline uint64_t parse_run(uint64_t v, unsigned k) {
    if (k == 0)
        return 0;
    if (k < 8)
        v = (v << (8 * (8 - k))) | (0x3030303030303030ULL >> (8 * k));
    return cs__parse_8digits(v);
}

static const uint64_t pow10_u64[9] = {1,      10,      100,      1000,     10000,
                                      100000, 1000000, 10000000, 100000000};

/* A number of at most 19 digits (at most 7 before the point) and no exponent, with at least 32
 * readable bytes at `q` (so no bounds checks): the shape of nearly every tensor element. Digit runs
 * are read eight bytes at a time. Anything else returns CS_NUM_INVALID and goes to
 * cs_json_parse_number, which handles every case. */
static inline __attribute__((always_inline)) cs_num_kind_t short_number(const char *q, size_t *len,
                                                                        int64_t *iv, double *dv) {
    const char *s = q;
    int neg = *q == '-';
    q += neg;
    uint64_t v = cs__load8(q), nd = non_digits(v);
    unsigned k = nd ? (unsigned)__builtin_ctzll(nd) >> 3 : 8;
    /* no digit, a long integer part, or a leading zero (written without && so the random
     * length of the integer part costs no mispredicted branch) */
    if ((k == 0) | (k == 8) | ((k > 1) & (*q == '0')))
        return CS_NUM_INVALID;
    uint64_t m;
    int frac = 0;
    if (((v >> (8 * k)) & 0xFF) == '.') {
        /* The integer digits and the first fraction digits as one run with the point taken
         * out: bytes below k from `v`, the rest from one byte further on. */
        uint64_t keep = (1ULL << (8 * k)) - 1;
        uint64_t w = (v & keep) | (cs__load8(q + 1) & ~keep);
        nd = non_digits(w);
        unsigned f = nd ? (unsigned)__builtin_ctzll(nd) >> 3 : 8;
        if (f == k) /* no digit after the point */
            return CS_NUM_INVALID;
        m = parse_run(w, f);
        frac = (int)(f - k);
        q += f + 1;
        while (f == 8) { /* the run filled the word: more digits may follow (19 at most) */
            v = cs__load8(q);
            nd = non_digits(v);
            f = nd ? (unsigned)__builtin_ctzll(nd) >> 3 : 8;
            if (k + (unsigned)frac + f > 19)
                return CS_NUM_INVALID;
            m = m * pow10_u64[f] + parse_run(v, f);
            frac += (int)f;
            q += f;
        }
    } else {
        m = parse_run(v, k);
        q += k;
    }
    if (*q == 'e' || *q == 'E')
        return CS_NUM_INVALID;
    *len = (size_t)(q - s);
    if (frac == 0) {
        *iv = neg ? -(int64_t)m : (int64_t)m;
        return CS_NUM_INT;
    }
    if (m > (1ULL << 53) || frac > 22) {
        double v2;
        if (!cs__json_extended(m, -frac, &v2))
            return CS_NUM_INVALID;
        *dv = neg ? -v2 : v2;
        return CS_NUM_FLOAT;
    }
    /* The sign of random data is unpredictable: apply it to the integer without a branch
     * (exact: |m| <= 2^53), then one correctly rounded division. -0.0 keeps its sign. */
    int64_t sm = ((int64_t)m ^ -(int64_t)neg) + neg;
    *dv = m ? (double)sm / cs__json_pow10[frac] : (neg ? -0.0 : 0.0);
    return CS_NUM_FLOAT;
}

/* Scans a numeric array whose '[' is at text[start - 1]. On success fills *out (arena memory)
 * and returns the offset past the closing ']'; returns 0 when the array is not a rectangular
 * array of numbers (nothing is consumed then, nor kept in the arena). */
static size_t scan_numarray(const char *text, size_t len, size_t start, bool allow_nan,
                            uint32_t depth_left, cs_arena_t *arena, int_mask_t *mask, doomed_t *dm,
                            cs_json_t *out) {
    int64_t shape[CS_JSON_MAX_DIMS];
    int64_t count[CS_JSON_MAX_DIMS];
    size_t open_at[CS_JSON_MAX_DIMS]; /* where the open array at each depth starts */
    uint32_t ndim = 1;
    size_t p = start;
    uint32_t doomed_depth; /* with GIVE_UP: the open arrays at depths 1..doomed_depth are not
                            * numeric */
#define GIVE_UP(m)                                                                                 \
    do {                                                                                           \
        doomed_depth = (m);                                                                        \
        goto give_up;                                                                              \
    } while (0)
    open_at[0] = start - 1;
    /* The leading run of '[' fixes the number of dimensions. */
    for (;;) {
        while (p < len && is_ws(text[p]))
            p++;
        if (p < len && text[p] == '[') {
            if (ndim == CS_JSON_MAX_DIMS || ndim >= depth_left)
                return 0;
            open_at[ndim] = p;
            ndim++;
            p++;
            continue;
        }
        break;
    }
    union slot {
        int64_t i;
        double d;
    };
    size_t avail;
    union slot *data = cs_arena_reserve(arena, 64 * sizeof(union slot), &avail);
    if (data == NULL)
        return 0;
    size_t cap = avail / sizeof(union slot);
    mask->zeroed = 0;
    for (uint32_t d = 0; d < ndim; d++)
        shape[d] = -1, count[d] = 0;
    size_t n = 0;
    bool is_float = false, int_literals = false, int_inexact = false;
    uint32_t depth = ndim; /* current nesting: 1..ndim */
    p = start;
    for (uint32_t d = 1; d < ndim; d++) { /* re-walk the opening brackets */
        while (is_ws(text[p]))
            p++;
        p++;
    }
    for (;;) {
        while (p < len && is_ws(text[p]))
            p++;
        if (p >= len)
            return 0; /* the document ends inside the array: the tokenizer reports it */
        char c = text[p];
        if (depth == ndim) {
            /* inside a leaf array: a number, or ']' for an empty one */
            if (c == ']' && count[depth - 1] == 0)
                goto close;
            {
                /* The hot loop: "1.234,-5.678,..." into a float array, "12,-5,..." into an
                 * integer one; anything else (an integer among floats, the first float among
                 * integers, the last element of a row) goes the general way below. */
                const char *t = text + p;
                const cs_num_kind_t want = is_float ? CS_NUM_FLOAT : CS_NUM_INT;
                size_t nn = n, room = len - p; /* short_number reads up to 32 bytes ahead */
                while (room >= 32 && nn < cap) {
                    size_t l2;
                    double d2 = 0;
                    int64_t i2 = 0;
                    if (short_number(t, &l2, &i2, &d2) != want || t[l2] != ',')
                        break;
                    if (is_float)
                        data[nn++].d = d2;
                    else
                        data[nn++].i = i2;
                    l2 += 1 + (t[l2 + 1] == ' '); /* Python's json.dumps writes ", " */
                    t += l2;
                    room -= l2;
                }
                count[depth - 1] += (int64_t)(nn - n);
                n = nn;
                p = (size_t)(t - text);
                while (p < len && is_ws(text[p]))
                    p++;
                if (p >= len)
                    return 0;
                c = text[p];
            }
            size_t l;
            int64_t iv = 0;
            double dv = 0;
            cs_num_kind_t k;
            if (len - p >= 32 && (k = short_number(text + p, &l, &iv, &dv)) != CS_NUM_INVALID) {
                /* the common case, done inline */
            } else if ((c >= '0' && c <= '9') || c == '-') {
                k = cs_json_parse_number(text + p, len - p, &l, &iv, &dv);
                if (k == CS_NUM_INVALID || k == CS_NUM_BIGINT) {
                    if (!(allow_nan && c == '-' && len - p >= 9 &&
                          memcmp(text + p, "-Infinity", 9) == 0))
                        GIVE_UP(depth); /* a big integer: no enclosing array is numeric */
                    k = CS_NUM_FLOAT, dv = -INFINITY, l = 9;
                }
            } else if (allow_nan && c == 'N' && len - p >= 3 && memcmp(text + p, "NaN", 3) == 0) {
                k = CS_NUM_FLOAT, dv = NAN, l = 3;
            } else if (allow_nan && c == 'I' && len - p >= 8 &&
                       memcmp(text + p, "Infinity", 8) == 0) {
                k = CS_NUM_FLOAT, dv = INFINITY, l = 8;
            } else if (c == '[' && count[depth - 1] == 0) {
                GIVE_UP(doom_depth_above(count, depth)); /* nested deeper than its cousins */
            } else {
                /* a string, bool, null or object (or numbers and arrays side by side): no
                 * enclosing array is numeric */
                GIVE_UP(depth);
            }
            if (n == cap) {
                /* doubling: the copies cost at most as much as the final size */
                data = cs_arena_regrow(arena, n * sizeof(union slot), 2 * n * sizeof(union slot),
                                       &avail);
                if (data == NULL)
                    return 0;
                cap = avail / sizeof(union slot);
            }
            if (k == CS_NUM_INT) {
                if (is_float) {
                    /* numpy makes it a float; the mask remembers it was written as an int */
                    if (mask_cover(mask, n) < 0)
                        return 0;
                    mask->w[n / 64] |= 1ULL << (n % 64);
                    int_inexact |= iv > (1LL << 53) || iv < -(1LL << 53);
                    data[n++].d = (double)iv;
                    int_literals = true;
                } else {
                    data[n++].i = iv;
                }
            } else {
                if (!is_float) {
                    if (n > 0 && mask_cover(mask, n) < 0)
                        return 0;
                    for (size_t j = 0; j < n; j++) {
                        int_inexact |= data[j].i > (1LL << 53) || data[j].i < -(1LL << 53);
                        data[j].d = (double)data[j].i;
                        mask->w[j / 64] |= 1ULL << (j % 64);
                    }
                    int_literals = n > 0;
                    is_float = true;
                }
                data[n++].d = dv;
            }
            count[depth - 1]++;
            p += l;
            if (p < len && text[p] == ',') {
                p++;
                continue;
            }
            while (p < len && is_ws(text[p]))
                p++;
            if (p >= len)
                return 0;
            if (text[p] == ',') {
                p++;
                continue;
            }
            if (text[p] != ']')
                GIVE_UP(depth); /* not JSON */
        } else {
            /* inside an outer array: '[' opens the next row, ']' closes an empty outer array */
            if (c == '[') {
                open_at[depth] = p;
                p++;
                depth++;
                count[depth - 1] = 0;
                continue;
            }
            if (!(c == ']' && count[depth - 1] == 0)) {
                /* the first element of a row: a number where its cousins nest deeper, or
                 * something that is no number (then no enclosing array is numeric) */
                bool number = (c >= '0' && c <= '9') || c == '-' || c == 'N' || c == 'I';
                GIVE_UP(number ? doom_depth_above(count, depth) : depth);
            }
        }
    close:
        /* text[p] == ']': close the array at `depth` */
        if (shape[depth - 1] < 0)
            shape[depth - 1] = count[depth - 1];
        else if (shape[depth - 1] != count[depth - 1])
            GIVE_UP(doom_depth_above(count, depth)); /* ragged */
        p++;
        if (depth == 1)
            break;
        depth--;
        count[depth - 1]++;
        while (p < len && is_ws(text[p]))
            p++;
        if (p >= len)
            return 0;
        if (text[p] == ',') {
            p++;
            while (p < len && is_ws(text[p]))
                p++;
            if (p >= len)
                return 0;
            if (text[p] != '[')
                GIVE_UP(depth); /* a row next to something else: mixed, or not numeric */
            open_at[depth] = p;
            p++;
            depth++;
            count[depth - 1] = 0;
            continue;
        }
        if (text[p] != ']')
            GIVE_UP(depth); /* not JSON */
        c = ']';
        goto close;
    }
#ifdef CS_JSON_TESTING
    cs__json_scanned += p - start;
#endif
    /* Dimensions never reached (e.g. "[[]]" has no leaf values) have size 0 when an outer
     * dimension closed empty before them. */
    for (uint32_t d = 0; d < ndim; d++)
        if (shape[d] < 0)
            shape[d] = 0;
    cs_arena_commit(arena, n * sizeof(union slot));
    cs_numarray_t *na = cs_arena_alloc(arena, sizeof(*na));
    int64_t *sh = cs_arena_alloc(arena, ndim * sizeof(int64_t));
    uint64_t *int_mask = NULL;
    if (int_literals) {
        /* the words past the last integer literal were never cleared */
        if (mask_cover(mask, n) < 0 ||
            (int_mask = cs_arena_alloc(arena, (n / 64 + 1) * sizeof(*int_mask))) == NULL)
            return 0;
        memcpy(int_mask, mask->w, (n / 64 + 1) * sizeof(*int_mask));
    }
    if (na == NULL || sh == NULL)
        return 0;
    memcpy(sh, shape, ndim * sizeof(int64_t));
    na->dtype = is_float || n == 0 ? CS_DTYPE_FLOAT64 : CS_DTYPE_INT64;
    na->ndim = ndim;
    na->int_literals = int_literals;
    na->int_inexact = int_inexact;
    na->int_mask = int_mask;
    na->shape = sh;
    na->data = data;
    na->count = n;
    na->raw = text + start - 1;
    na->raw_len = p - start + 1;
    out->type = CS_JSON_NUMARRAY;
    out->len = (uint32_t)n;
    out->u.num = na;
    return p;
give_up:
#ifdef CS_JSON_TESTING
    cs__json_scanned += p - start;
#endif
    doom(dm, open_at, doomed_depth);
    return 0;
#undef GIVE_UP
}

int cs_json_parse(const char *text, size_t len, const cs_json_options_t *opt, cs_arena_t *arena,
                  cs_json_t *out, cs_json_error_t *err) {
    uint8_t kinds_small[256];
    uint32_t max_depth = opt->max_depth ? opt->max_depth : 512;
    uint8_t *kinds = max_depth <= sizeof(kinds_small) ? kinds_small : malloc(max_depth);
    frame_t *frames = malloc(max_depth * sizeof(frame_t));
    scratch_t sc = {0};
    int_mask_t mask = {0};
    doomed_t *dm = malloc(sizeof(*dm));
    cs_json_t doc = {0};
    int rc = CS_ENOMEM;
    if (kinds == NULL || frames == NULL || dm == NULL) {
        snprintf(err->message, sizeof(err->message), "out of memory");
        goto done;
    }
    dm->n = dm->next = 0;
    cs_json_lexer_t lx;
    cs_json_lexer_init(&lx, text, len, max_depth, kinds, opt->allow_nan, err);
    const char *pending_key = NULL;
    uint32_t pending_key_len = 0;
    cs_tok_t tok;
    for (;;) {
        cs_json_t v;
        memset(&v, 0, sizeof(v));
        switch (cs_json_next(&lx, &tok)) {
        case CS_TOK_ERROR:
            rc = CS_EPARSE;
            goto done;
        case CS_TOK_END:
            *out = doc;
            rc = 0;
            goto done;
        case CS_TOK_KEY: {
            char *k = cs_arena_alloc_bytes(arena, tok.len + 1);
            if (k == NULL)
                goto oom;
            pending_key_len = (uint32_t)cs_json_decode_string(&tok, k);
            pending_key = k;
            continue;
        }
        case CS_TOK_BEGIN_ARRAY:
            if (opt->numeric_arrays) {
                size_t end = 0;
                if (!doomed_at(dm, lx.pos - 1)) {
                    end = scan_numarray(text, len, lx.pos, opt->allow_nan, max_depth - lx.depth + 1,
                                        arena, &mask, dm, &v);
                } else {
#ifdef CS_JSON_TESTING
                    /* the proof that skipping is exact: the scan would have given up (its
                     * work is not counted, it is not done outside this mode) */
                    doomed_t scratch = {.n = 0};
                    size_t counted = cs__json_scanned;
                    if (scan_numarray(text, len, lx.pos, opt->allow_nan, max_depth - lx.depth + 1,
                                      arena, &mask, &scratch, &v))
                        abort();
                    cs__json_scanned = counted;
#endif
                }
                if (end) {
                    cs_json_lexer_array_consumed(&lx, end);
                    break;
                }
            }
            /* fall through */
        case CS_TOK_BEGIN_OBJECT: {
            frames[lx.depth - 1] = (frame_t){sc.len, sc.klen, pending_key, pending_key_len,
                                             tok.type == CS_TOK_BEGIN_OBJECT};
            pending_key = NULL;
            continue;
        }
        case CS_TOK_END_ARRAY:
        case CS_TOK_END_OBJECT: {
            const frame_t *f = &frames[lx.depth];
            size_t count = sc.len - f->start;
            v.type = f->object ? CS_JSON_OBJECT : CS_JSON_ARRAY;
            v.len = (uint32_t)count;
            if (!f->object) {
                cs_json_t *items = cs_arena_alloc(arena, count * sizeof(cs_json_t));
                if (items == NULL)
                    goto oom;
                if (count)
                    memcpy(items, sc.v + f->start, count * sizeof(cs_json_t));
                v.u.items = items;
            } else {
                cs_json_member_t *m = cs_arena_alloc(arena, count * sizeof(cs_json_member_t));
                if (m == NULL)
                    goto oom;
                for (size_t j = 0; j < count; j++)
                    m[j] = (cs_json_member_t){sc.k[f->kstart + j].key, sc.k[f->kstart + j].len,
                                              sc.v[f->start + j]};
                v.u.members = m;
            }
            sc.len = f->start;
            sc.klen = f->kstart;
            pending_key = f->key;
            pending_key_len = f->key_len;
            break;
        }
        case CS_TOK_STRING: {
            char *s = cs_arena_alloc_bytes(arena, tok.len + 1);
            if (s == NULL)
                goto oom;
            v.type = CS_JSON_STRING;
            v.len = (uint32_t)cs_json_decode_string(&tok, s);
            v.u.s = s;
            break;
        }
        case CS_TOK_INT:
            v.type = CS_JSON_INT;
            v.u.i = tok.i;
            break;
        case CS_TOK_BIGINT: {
            char *s = cs_arena_alloc_bytes(arena, tok.len + 1);
            if (s == NULL)
                goto oom;
            memcpy(s, tok.start, tok.len);
            s[tok.len] = '\0';
            v.type = CS_JSON_BIGINT;
            v.len = (uint32_t)tok.len;
            v.u.s = s;
            break;
        }
        case CS_TOK_FLOAT:
            v.type = CS_JSON_FLOAT;
            v.u.d = tok.d;
            break;
        case CS_TOK_TRUE:
            v.type = CS_JSON_TRUE;
            break;
        case CS_TOK_FALSE:
            v.type = CS_JSON_FALSE;
            break;
        case CS_TOK_NULL:
            v.type = CS_JSON_NULL;
            break;
        }
        /* a complete value: attach it to its container, or it is the document */
        if (lx.depth == 0) {
            doc = v;
            continue; /* the next token must be CS_TOK_END */
        }
        if (scratch_push(&sc, &v) < 0 || (frames[lx.depth - 1].object &&
                                          scratch_push_key(&sc, pending_key, pending_key_len) < 0))
            goto oom;
        pending_key = NULL;
    }
oom:
    snprintf(err->message, sizeof(err->message), "out of memory");
    err->offset = lx.pos;
done:
    free(sc.v);
    free(sc.k);
    free(mask.w);
    free(dm);
    free(frames);
    if (kinds != kinds_small)
        free(kinds);
    return rc;
}

const cs_json_t *cs_json_get(const cs_json_t *obj, const char *key) {
    if (obj == NULL || obj->type != CS_JSON_OBJECT)
        return NULL;
    size_t kl = strlen(key);
    for (uint32_t i = obj->len; i-- > 0;) {
        const cs_json_member_t *m = &obj->u.members[i];
        if (m->key_len == kl && memcmp(m->key, key, kl) == 0)
            return &m->value;
    }
    return NULL;
}
