/* bbpe.c - byte-level BPE (bbpe.h): loading tokenizer.json or vocab.json + merges.txt, added
 * tokens, NFC, the pre-tokenizer pattern written out as a matcher, and the merges. Unicode
 * classes and normalisation come from ICU. */
#include "engine/text/bbpe.h"
#include "engine/text/bpe_merge.h"
#include "common/buf.h"
#include "common/status.h"
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unicode/uchar.h>
#include <unicode/unorm2.h>
#include <unicode/ustring.h>

typedef struct {
    char *s;
    size_t len;
    int32_t id;
} added_t;

struct bbpe {
    char **tok;      /* id -> symbol (UTF-8 of GPT-2's byte characters), NULL for holes */
    size_t nid;      /* ids 0 .. nid - 1 */
    int32_t *slots;  /* symbol -> id, open addressing, -1 empty */
    size_t nslots;   /* a power of two */
    uint64_t *pkeys; /* merge pair (a << 32 | b) + 1, 0 empty */
    uint64_t *pvals; /* rank << 32 | merged id */
    size_t npslots;  /* a power of two */
    added_t *added;  /* longest first */
    size_t nadded;
    int32_t byte_id[256]; /* the single-byte symbols */
    char byte_str[256][4];
};

/* ---- maps ---- */

static uint64_t hash_bytes(const char *s, size_t n) {
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < n; i++)
        h = (h ^ (uint8_t)s[i]) * 1099511628211ull;
    return h;
}

static int32_t lookup(const bbpe_t *t, const char *s, size_t n) {
    for (size_t h = hash_bytes(s, n) & (t->nslots - 1);; h = (h + 1) & (t->nslots - 1)) {
        int32_t id = t->slots[h];
        if (id < 0) return -1;
        if (strlen(t->tok[id]) == n && !memcmp(t->tok[id], s, n)) return id;
    }
}

/* Enters id's symbol (slots has room: at most half full); a symbol seen before keeps its id. */
static void enter(bbpe_t *t, int32_t id) {
    const char *s = t->tok[id];
    size_t n = strlen(s);
    for (size_t h = hash_bytes(s, n) & (t->nslots - 1);; h = (h + 1) & (t->nslots - 1)) {
        if (t->slots[h] < 0) {
            t->slots[h] = id;
            return;
        }
        if (!strcmp(t->tok[t->slots[h]], s)) return;
    }
}

static uint64_t pair_key(int32_t a, int32_t b) {
    return ((uint64_t)(uint32_t)a << 32 | (uint32_t)b) + 1;
}

static size_t pair_slot(uint64_t k, size_t cap) {
    k ^= k >> 33;
    k *= 0xff51afd7ed558ccdull;
    k ^= k >> 33;
    return (size_t)k & (cap - 1);
}

static void pair_enter(bbpe_t *t, int32_t a, int32_t b, uint32_t rank, int32_t merged) {
    uint64_t key = pair_key(a, b);
    for (size_t h = pair_slot(key, t->npslots);; h = (h + 1) & (t->npslots - 1)) {
        if (t->pkeys[h] == key) return; /* the first (lowest) rank wins */
        if (!t->pkeys[h]) {
            t->pkeys[h] = key;
            t->pvals[h] = (uint64_t)rank << 32 | (uint32_t)merged;
            return;
        }
    }
}

static int pair_find(const void *ctx, int32_t a, int32_t b, uint32_t *rank, int32_t *merged) {
    const bbpe_t *t = ctx;
    uint64_t key = pair_key(a, b);
    for (size_t h = pair_slot(key, t->npslots);; h = (h + 1) & (t->npslots - 1)) {
        if (!t->pkeys[h]) return 0;
        if (t->pkeys[h] == key) {
            *rank = (uint32_t)(t->pvals[h] >> 32);
            *merged = (int32_t)(uint32_t)t->pvals[h];
            return 1;
        }
    }
}

static size_t pow2_at_least(size_t n) {
    size_t c = 16;
    while (c < n)
        c *= 2;
    return c;
}

/* ---- loading ---- */

void bbpe_free(bbpe_t *t) {
    if (!t) return;
    for (size_t i = 0; t->tok && i < t->nid; i++)
        free(t->tok[i]);
    for (size_t i = 0; i < t->nadded; i++)
        free(t->added[i].s);
    free(t->tok);
    free(t->slots);
    free(t->pkeys);
    free(t->pvals);
    free(t->added);
    free(t);
}

static void put_utf8(uint32_t cp, char *out) {
    if (cp < 0x80) {
        out[0] = (char)cp;
    } else if (cp < 0x800) {
        out[0] = (char)(0xC0 | cp >> 6);
        out[1] = (char)(0x80 | (cp & 63));
    } else {
        out[0] = (char)(0xE0 | cp >> 12);
        out[1] = (char)(0x80 | ((cp >> 6) & 63));
        out[2] = (char)(0x80 | (cp & 63));
    }
}

/* GPT-2's bytes_to_unicode: printable Latin-1 bytes stand for themselves, the other 68 bytes for
 * U+0100 onwards in byte order. */
static void byte_chars(char str[256][4]) {
    int extra = 0;
    for (int b = 0; b < 256; b++) {
        int direct = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || b >= 0xAE;
        memset(str[b], 0, 4);
        put_utf8(direct ? (uint32_t)b : 256u + (uint32_t)extra++, str[b]);
    }
}

/* The vocabulary object {symbol: id} and the added tokens [{content, id}] into t. */
static int load_vocab(bbpe_t *t, json_t *vocab, json_t *added, char *err, size_t errlen) {
    if (!json_is_object(vocab)) {
        snprintf(err, errlen, "tokenizer: no vocabulary object");
        return IMG_EFORMAT;
    }
    json_int_t maxid = -1;
    const char *k;
    json_t *v;
    json_object_foreach(vocab, k, v) {
        if (!json_is_integer(v) || json_integer_value(v) < 0 ||
            json_integer_value(v) >= (1 << 24)) {
            snprintf(err, errlen, "tokenizer: the id of '%.40s' is not an integer from 0 to 2^24",
                     k);
            return IMG_EFORMAT;
        }
        maxid = json_integer_value(v) > maxid ? json_integer_value(v) : maxid;
    }
    size_t i;
    json_array_foreach(added, i, v) {
        json_t *id = json_object_get(v, "id");
        if (!json_is_string(json_object_get(v, "content")) || !json_is_integer(id) ||
            json_integer_value(id) < 0 || json_integer_value(id) >= (1 << 24)) {
            snprintf(err, errlen, "tokenizer: added token %zu has no content or id", i);
            return IMG_EFORMAT;
        }
        maxid = json_integer_value(id) > maxid ? json_integer_value(id) : maxid;
    }
    t->nid = (size_t)(maxid + 1);
    t->tok = calloc(t->nid ? t->nid : 1, sizeof *t->tok);
    t->nslots = pow2_at_least(2 * t->nid + 2);
    t->slots = malloc(t->nslots * sizeof *t->slots);
    t->added = calloc(json_array_size(added) + 1, sizeof *t->added);
    if (!t->tok || !t->slots || !t->added) return IMG_ENOMEM;
    memset(t->slots, 0xff, t->nslots * sizeof *t->slots);
    json_object_foreach(vocab, k, v) {
        json_int_t id = json_integer_value(v);
        if (t->tok[id]) {
            snprintf(err, errlen, "tokenizer: id %lld is given twice", (long long)id);
            return IMG_EFORMAT;
        }
        if (!(t->tok[id] = strdup(k))) return IMG_ENOMEM;
        enter(t, (int32_t)id);
    }
    json_array_foreach(added, i, v) {
        const char *s = json_string_value(json_object_get(v, "content"));
        json_int_t id = json_integer_value(json_object_get(v, "id"));
        if (!*s) continue;
        added_t *a = &t->added[t->nadded++];
        a->len = strlen(s);
        a->id = (int32_t)id;
        if (!(a->s = strdup(s))) return IMG_ENOMEM;
        if (!t->tok[id]) {
            if (!(t->tok[id] = strdup(s))) return IMG_ENOMEM;
            enter(t, (int32_t)id);
        }
    }
    return IMG_OK;
}

static int by_length_desc(const void *a, const void *b) {
    const added_t *x = a, *y = b;
    return x->len < y->len ? 1 : x->len > y->len ? -1 : 0;
}

/* The merges ("a b" strings or [a, b] pairs), rank = position. */
static int load_merges(bbpe_t *t, char **lines, size_t n, char *err, size_t errlen) {
    t->npslots = pow2_at_least(2 * n + 2);
    t->pkeys = calloc(t->npslots, sizeof *t->pkeys);
    t->pvals = calloc(t->npslots, sizeof *t->pvals);
    if (!t->pkeys || !t->pvals) return IMG_ENOMEM;
    buf_t m = {0};
    int rc = IMG_OK;
    for (size_t r = 0; r < n && !rc; r++) {
        const char *sp = strchr(lines[r], ' ');
        if (!sp || sp == lines[r] || !sp[1] || strchr(sp + 1, ' ')) {
            snprintf(err, errlen, "tokenizer: merge %zu is not two symbols", r + 1);
            rc = IMG_EFORMAT;
            break;
        }
        size_t la = (size_t)(sp - lines[r]), lb = strlen(sp + 1);
        m.len = 0;
        if (buf_append(&m, lines[r], la) || buf_append(&m, sp + 1, lb)) {
            rc = IMG_ENOMEM;
            break;
        }
        int32_t a = lookup(t, lines[r], la), b = lookup(t, sp + 1, lb),
                c = lookup(t, (const char *)m.data, m.len);
        if (a < 0 || b < 0 || c < 0) {
            snprintf(err, errlen,
                     "tokenizer: merge %zu ('%.40s') names a symbol the vocabulary lacks", r + 1,
                     lines[r]);
            rc = IMG_EFORMAT;
            break;
        }
        pair_enter(t, a, b, (uint32_t)r, c);
    }
    buf_free(&m);
    return rc;
}

static int finish(bbpe_t *t, char *err, size_t errlen) {
    qsort(t->added, t->nadded, sizeof *t->added, by_length_desc);
    byte_chars(t->byte_str);
    for (int b = 0; b < 256; b++)
        if ((t->byte_id[b] = lookup(t, t->byte_str[b], strlen(t->byte_str[b]))) < 0) {
            snprintf(
                err, errlen,
                "tokenizer: the vocabulary lacks the symbol of byte 0x%02x: not a byte-level BPE",
                b);
            return IMG_EFORMAT;
        }
    return IMG_OK;
}

/* The merges of a JSON array as "a b" lines (pointers into the array's strings, or into
 * *joined for [a, b] pairs; both freed by the caller). */
static int merge_lines(json_t *merges, char ***lines, char **joined, char *err, size_t errlen) {
    size_t n = json_array_size(merges), i, total = 1;
    json_t *v;
    json_array_foreach(merges, i, v) {
        if (json_is_array(v) && json_array_size(v) == 2 && json_is_string(json_array_get(v, 0)) &&
            json_is_string(json_array_get(v, 1)))
            total += json_string_length(json_array_get(v, 0)) +
                     json_string_length(json_array_get(v, 1)) + 2;
        else if (!json_is_string(v)) {
            snprintf(err, errlen, "tokenizer: merge %zu is neither \"a b\" nor [a, b]", i + 1);
            return IMG_EFORMAT;
        }
    }
    *lines = malloc((n ? n : 1) * sizeof **lines);
    *joined = malloc(total);
    if (!*lines || !*joined) return IMG_ENOMEM;
    char *p = *joined;
    json_array_foreach(merges, i, v) {
        if (json_is_string(v)) {
            (*lines)[i] = (char *)json_string_value(v);
            continue;
        }
        (*lines)[i] = p;
        p += sprintf(p, "%s %s", json_string_value(json_array_get(v, 0)),
                     json_string_value(json_array_get(v, 1))) +
             1;
    }
    return IMG_OK;
}

static int load_tokenizer_json(bbpe_t *t, const char *path, char *err, size_t errlen) {
    json_error_t je;
    json_t *root = json_load_file(path, 0, &je);
    if (!root) {
        snprintf(err, errlen, "%s: %s", path, je.text);
        return json_error_code(&je) == json_error_out_of_memory ? IMG_ENOMEM : IMG_EFORMAT;
    }
    json_t *model = json_object_get(root, "model");
    const char *type = json_string_value(json_object_get(model, "type"));
    int rc = IMG_OK;
    if (!model || (type && strcmp(type, "BPE"))) {
        snprintf(err, errlen, "%s: not a BPE tokenizer (model.type %s)", path,
                 type ? type : "missing");
        rc = IMG_EFORMAT;
    }
    json_t *added = json_object_get(root, "added_tokens");
    if (!rc)
        rc = load_vocab(t, json_object_get(model, "vocab"), json_is_array(added) ? added : NULL,
                        err, errlen);
    char **lines = NULL, *joined = NULL;
    json_t *merges = json_object_get(model, "merges");
    if (!rc && !json_is_array(merges)) {
        snprintf(err, errlen, "%s: no model.merges list", path);
        rc = IMG_EFORMAT;
    }
    if (!rc) rc = merge_lines(merges, &lines, &joined, err, errlen);
    if (!rc) rc = load_merges(t, lines, json_array_size(merges), err, errlen);
    free(lines);
    free(joined);
    json_decref(root);
    return rc;
}

/* vocab.json, merges.txt and the added tokens of tokenizer_config.json (when there is one) in dir.
 */
static int load_vocab_merges(bbpe_t *t, const char *dir, char *err, size_t errlen) {
    char path[4096];
    json_error_t je;
    snprintf(path, sizeof path, "%s/vocab.json", dir);
    json_t *vocab = json_load_file(path, 0, &je);
    if (!vocab) {
        snprintf(err, errlen, "%s: %s", path, je.text);
        return json_error_code(&je) == json_error_out_of_memory      ? IMG_ENOMEM
               : json_error_code(&je) == json_error_cannot_open_file ? IMG_EIO
                                                                     : IMG_EFORMAT;
    }
    snprintf(path, sizeof path, "%s/tokenizer_config.json", dir);
    json_t *cfg = json_load_file(path, 0, &je); /* optional */
    int rc = !cfg && json_error_code(&je) == json_error_out_of_memory ? IMG_ENOMEM : IMG_OK;
    json_t *dec = cfg ? json_object_get(cfg, "added_tokens_decoder") : NULL;
    json_t *added = json_array(); /* [{content, id}] as tokenizer.json has them */
    if (!added) rc = IMG_ENOMEM;
    const char *k;
    json_t *v;
    json_object_foreach(dec, k, v) {
        if (rc) break;
        json_t *one = json_object_get(v, "content")
                          ? json_pack("{s:O, s:I}", "content", json_object_get(v, "content"), "id",
                                      (json_int_t)strtol(k, NULL, 10))
                          : NULL;
        if (!one || json_array_append_new(added, one)) rc = IMG_ENOMEM;
    }
    if (!rc) rc = load_vocab(t, vocab, added, err, errlen);
    json_decref(added);
    json_decref(cfg);
    json_decref(vocab);
    snprintf(path, sizeof path, "%s/merges.txt", dir);
    FILE *f = rc ? NULL : fopen(path, "rb");
    if (!rc && !f) {
        snprintf(err, errlen, "cannot read %s", path);
        rc = IMG_EIO;
    }
    buf_t text = {0};
    char chunk[65536];
    size_t r;
    while (f && !rc && (r = fread(chunk, 1, sizeof chunk, f)) > 0)
        if (buf_append(&text, chunk, r)) rc = IMG_ENOMEM;
    if (f) fclose(f);
    if (!rc && buf_append(&text, "", 1)) rc = IMG_ENOMEM;
    char **lines = NULL;
    size_t n = 0, cap = 0;
    for (char *p = rc ? NULL : (char *)text.data, *e; p && *p && !rc; p = e ? e + 1 : NULL) {
        e = strchr(p, '\n');
        if (e) *e = 0;
        size_t l = strlen(p);
        if (l && p[l - 1] == '\r') p[--l] = 0;
        if (!l || !strncmp(p, "#version", 8)) continue;
        if (n == cap) {
            cap = cap ? 2 * cap : 4096;
            char **g = realloc(lines, cap * sizeof *g);
            if (!g) {
                rc = IMG_ENOMEM;
                break;
            }
            lines = g;
        }
        lines[n++] = p;
    }
    if (!rc) rc = load_merges(t, lines, n, err, errlen);
    free(lines);
    buf_free(&text);
    return rc;
}

int bbpe_load(const char *path, bbpe_t **out, char *err, size_t errlen) {
    *out = NULL;
    bbpe_t *t = calloc(1, sizeof *t); /* owned by *out, or freed below */
    if (!t) {
        snprintf(err, errlen, "out of memory loading tokenizer %s", path);
        return IMG_ENOMEM;
    }
    struct stat st;
    char json[4096];
    int rc;
    if (stat(path, &st)) {
        snprintf(err, errlen, "cannot read tokenizer %s", path);
        rc = IMG_EIO;
    } else if (!S_ISDIR(st.st_mode)) {
        rc = load_tokenizer_json(t, path, err, errlen);
    } else {
        snprintf(json, sizeof json, "%s/tokenizer.json", path);
        rc = stat(json, &st) == 0 ? load_tokenizer_json(t, json, err, errlen)
                                  : load_vocab_merges(t, path, err, errlen);
    }
    if (!rc) rc = finish(t, err, errlen);
    if (rc == IMG_ENOMEM) snprintf(err, errlen, "out of memory loading tokenizer %s", path);
    if (rc) {
        bbpe_free(t);
        return rc;
    }
    *out = t;
    return IMG_OK;
}

size_t bbpe_vocab_size(const bbpe_t *t) {
    return t->nid;
}

int32_t bbpe_id(const bbpe_t *t, const char *token) {
    return lookup(t, token, strlen(token));
}

/* ---- pre-tokenization ---- */

/* Code points of UTF-8 s[0..len) with the byte offset of each (off[n] = len); an invalid byte is
 * a code point of its own, 0xFFFD with its one byte. Arrays malloc'd by the caller (len + 1). */
static size_t decode(const char *s, size_t len, uint32_t *cp, size_t *off) {
    size_t n = 0;
    for (size_t i = 0; i < len;) {
        const uint8_t *u = (const uint8_t *)s + i;
        uint32_t c = 0xFFFD;
        size_t l = 1;
        if (u[0] < 0x80) {
            c = u[0];
        } else if ((u[0] & 0xE0) == 0xC0 && i + 1 < len && (u[1] & 0xC0) == 0x80 && u[0] >= 0xC2) {
            c = (uint32_t)(u[0] & 31) << 6 | (u[1] & 63), l = 2;
        } else if ((u[0] & 0xF0) == 0xE0 && i + 2 < len && (u[1] & 0xC0) == 0x80 &&
                   (u[2] & 0xC0) == 0x80) {
            c = (uint32_t)(u[0] & 15) << 12 | (uint32_t)(u[1] & 63) << 6 | (u[2] & 63), l = 3;
            if (c < 0x800 || (c >= 0xD800 && c < 0xE000)) c = 0xFFFD, l = 1;
        } else if ((u[0] & 0xF8) == 0xF0 && i + 3 < len && (u[1] & 0xC0) == 0x80 &&
                   (u[2] & 0xC0) == 0x80 && (u[3] & 0xC0) == 0x80) {
            c = (uint32_t)(u[0] & 7) << 18 | (uint32_t)(u[1] & 63) << 12 |
                (uint32_t)(u[2] & 63) << 6 | (u[3] & 63);
            l = 4;
            if (c < 0x10000 || c > 0x10FFFF) c = 0xFFFD, l = 1;
        }
        cp[n] = c;
        off[n++] = i;
        i += l;
    }
    off[n] = len;
    return n;
}

static int is_L(uint32_t c) {
    int8_t t = u_charType((UChar32)c);
    return t >= U_UPPERCASE_LETTER && t <= U_OTHER_LETTER;
}

static int is_N(uint32_t c) {
    int8_t t = u_charType((UChar32)c);
    return t == U_DECIMAL_DIGIT_NUMBER || t == U_LETTER_NUMBER || t == U_OTHER_NUMBER;
}

static int is_S(uint32_t c) {
    return u_isUWhiteSpace((UChar32)c);
}

static int is_crlf(uint32_t c) {
    return c == '\r' || c == '\n';
}

static uint32_t lower_ascii(uint32_t c) {
    return c >= 'A' && c <= 'Z' ? c + 32 : c;
}

/* The length of the piece the pattern matches at cp[i] (i < n; always at least 1). */
static size_t piece(const uint32_t *cp, size_t n, size_t i) {
    uint32_t c = cp[i];
    /* (?i:'s|'t|'re|'ve|'m|'ll|'d) */
    if (c == '\'' && i + 1 < n) {
        uint32_t a = lower_ascii(cp[i + 1]), b = i + 2 < n ? lower_ascii(cp[i + 2]) : 0;
        if (a == 's' || a == 't' || a == 'm' || a == 'd') return 2;
        if ((a == 'r' && b == 'e') || (a == 'v' && b == 'e') || (a == 'l' && b == 'l')) return 3;
    }
    /* [^\r\n\p{L}\p{N}]?\p{L}+ */
    size_t j = i;
    if (!is_crlf(c) && !is_L(c) && !is_N(c) && i + 1 < n && is_L(cp[i + 1])) j = i + 1;
    if (is_L(cp[j])) {
        while (j < n && is_L(cp[j]))
            j++;
        return j - i;
    }
    /* \p{N} */
    if (is_N(c)) return 1;
    /* ' ?[^\s\p{L}\p{N}]+[\r\n]*' */
    j = c == ' ' ? i + 1 : i;
    if (j < n && !is_S(cp[j]) && !is_L(cp[j]) && !is_N(cp[j])) {
        while (j < n && !is_S(cp[j]) && !is_L(cp[j]) && !is_N(cp[j]))
            j++;
        while (j < n && is_crlf(cp[j]))
            j++;
        return j - i;
    }
    /* the rest start with white space: \s*[\r\n]+ (ending after the run's last CR or LF), then
     * \s+(?!\S) (the run but its last character when a non-space follows), then \s+ */
    size_t k = i;
    while (k < n && is_S(cp[k]))
        k++;
    for (size_t p = k; p > i; p--)
        if (is_crlf(cp[p - 1])) return p - i;
    if (k == n) return k - i;
    if (k - i >= 2) return k - 1 - i;
    return k > i ? k - i : 1; /* a lone character outside every class: its own piece */
}

/* ---- merging ---- */

static int merge_piece(const bbpe_t *t, const uint8_t *bytes, size_t n, buf_t *out) {
    int32_t stack[64];
    int32_t *sym = n <= 64 ? stack : malloc(n * sizeof *sym); /* freed here */
    if (!sym) return IMG_ENOMEM;
    for (size_t i = 0; i < n; i++)
        sym[i] = t->byte_id[bytes[i]];
    size_t m = bpe_merge(sym, n, pair_find, t);
    int rc = buf_append(out, sym, m * sizeof *sym);
    if (sym != stack) free(sym);
    return rc;
}

/* NFC of UTF-8 s[0..len) as malloc'd UTF-8 (*outlen bytes); NULL when out of memory. Text ICU
 * cannot read (an invalid byte) is left as it is. */
static char *nfc(const char *s, size_t len, size_t *outlen) {
    UErrorCode e = U_ZERO_ERROR;
    const UNormalizer2 *norm = unorm2_getNFCInstance(&e);
    int32_t n16 = 0, nb = 0, n8 = 0;
    if (len >= (size_t)INT32_MAX / 4) e = U_ILLEGAL_ARGUMENT_ERROR;
    if (U_SUCCESS(e)) {
        u_strFromUTF8(NULL, 0, &n16, s, (int32_t)len, &e); /* the length only */
        if (e == U_BUFFER_OVERFLOW_ERROR) e = U_ZERO_ERROR;
    }
    if (U_SUCCESS(e)) {
        /* UTF-16 before and after (NFC at most triples a text); freed here */
        UChar *a = malloc(sizeof(UChar) * (size_t)(n16 + 1)),
              *b = malloc(sizeof(UChar) * (size_t)(3 * n16 + 4));
        char *res = NULL; /* owned by the caller */
        if (a && b) {
            u_strFromUTF8(a, n16 + 1, NULL, s, (int32_t)len, &e);
            nb = unorm2_normalize(norm, a, n16, b, 3 * n16 + 4, &e);
            if (U_SUCCESS(e)) u_strToUTF8(NULL, 0, &n8, b, nb, &e);
            if (e == U_BUFFER_OVERFLOW_ERROR) e = U_ZERO_ERROR;
            if (U_SUCCESS(e) && (res = malloc((size_t)n8 + 1)))
                u_strToUTF8(res, n8 + 1, NULL, b, nb, &e);
        }
        int oom = !a || !b || (U_SUCCESS(e) && !res);
        free(a);
        free(b);
        if (oom) return NULL;
        if (U_SUCCESS(e)) {
            res[n8] = 0;
            *outlen = (size_t)n8;
            return res;
        }
        free(res);
    }
    char *copy = malloc(len + 1); /* unreadable: as it is; owned by the caller */
    if (!copy) return NULL;
    memcpy(copy, s, len);
    copy[len] = 0;
    *outlen = len;
    return copy;
}

/* The ids of text between added tokens. */
static int encode_plain(const bbpe_t *t, const char *s, size_t len, buf_t *out) {
    size_t nlen = 0;
    char *norm = nfc(s, len, &nlen); /* freed here */
    if (!norm) return IMG_ENOMEM;
    uint32_t *cp = malloc((nlen + 1) * sizeof *cp);
    size_t *off = malloc((nlen + 1) * sizeof *off);
    int rc = cp && off ? IMG_OK : IMG_ENOMEM;
    size_t n = rc ? 0 : decode(norm, nlen, cp, off);
    for (size_t i = 0; i < n && !rc;) {
        size_t l = piece(cp, n, i);
        rc = merge_piece(t, (const uint8_t *)norm + off[i], off[i + l] - off[i], out);
        i += l;
    }
    free(cp);
    free(off);
    free(norm);
    return rc;
}

int bbpe_encode(const bbpe_t *t, const char *text, int32_t **ids, size_t *n) {
    buf_t out = {0};
    int rc = IMG_OK;
    size_t len = strlen(text), start = 0, i = 0;
    while (!rc) {
        const added_t *hit = NULL; /* the longest added token at i */
        for (size_t a = 0; i < len && a < t->nadded && !hit; a++)
            if (t->added[a].len <= len - i && !memcmp(text + i, t->added[a].s, t->added[a].len))
                hit = &t->added[a];
        if (i < len && !hit) {
            i++;
            continue;
        }
        if (i > start) rc = encode_plain(t, text + start, i - start, &out);
        if (rc || !hit) break;
        rc = buf_append(&out, &hit->id, sizeof hit->id);
        i += hit->len;
        start = i;
    }
    if (!rc && !out.data && buf_append(&out, "", 0)) rc = IMG_ENOMEM;
    if (rc) {
        buf_free(&out);
        return rc;
    }
    *ids = (int32_t *)(void *)out.data;
    *n = out.len / sizeof(int32_t);
    return IMG_OK;
}
