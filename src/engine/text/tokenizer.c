/* tokenizer.c - CLIP BPE: vocabulary loading, text cleaning, pre-tokenization and merges.
 * Unicode normalisation, case mapping and character classes come from ICU. */
#include "engine/text/tokenizer.h"
#include "engine/text/bpe_merge.h"
#include "common/buf.h"
#include "common/status.h"
#include "engine/io/builtin.h"
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unicode/uchar.h>
#include <unicode/unorm2.h>
#include <unicode/ustring.h>
#include <zlib.h>

#include "engine/text/html_entities.inc"

static uint32_t *utf8_decode(const char *s, size_t len, size_t *n);

#define MAP_BITS 18
#define MAP_SIZE (1u << MAP_BITS)

struct tokenizer {
    char **vocab; /* id -> token string (byte-level unicode, UTF-8) */
    size_t nvocab;
    int32_t *str_slots;     /* open addressing: vocab id or -1 */
    uint64_t *pair_keys;    /* (a << 32 | b) + 1, 0 = empty */
    uint64_t *pair_vals;    /* rank << 32 | merged id */
    int32_t byte_id[256];   /* id of the single-byte symbol */
    int32_t byte_eow[256];  /* id of the byte + "</w>" symbol */
    char byte_str[256][4];  /* bytes_to_unicode, UTF-8 */
    int16_t cp_byte[512];   /* its inverse: code point -> byte, -1 when none */
    int32_t sot, eot;
};

/* ---- small hash maps ---- */

static uint32_t fnv1a(const char *s, size_t n) {
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < n; i++) h = (h ^ (uint8_t)s[i]) * 16777619u;
    return h;
}

static int32_t str_lookup(const tokenizer_t *t, const char *s, size_t n) {
    uint32_t h = fnv1a(s, n) & (MAP_SIZE - 1);
    for (;;) {
        int32_t id = t->str_slots[h];
        if (id < 0) return -1;
        if (strlen(t->vocab[id]) == n && memcmp(t->vocab[id], s, n) == 0) return id;
        h = (h + 1) & (MAP_SIZE - 1);
    }
}

static int str_insert(tokenizer_t *t, int32_t id) {
    const char *s = t->vocab[id];
    uint32_t h = fnv1a(s, strlen(s)) & (MAP_SIZE - 1);
    for (size_t probes = 0; probes < MAP_SIZE; probes++) {
        if (t->str_slots[h] < 0) {
            t->str_slots[h] = id;
            return IMG_OK;
        }
        if (strcmp(t->vocab[t->str_slots[h]], s) == 0) return IMG_EEXIST;
        h = (h + 1) & (MAP_SIZE - 1);
    }
    return IMG_ENOMEM;
}

static uint32_t pair_hash(uint64_t k) {
    k ^= k >> 33;
    k *= 0xff51afd7ed558ccdULL;
    k ^= k >> 33;
    return (uint32_t)k & (MAP_SIZE - 1);
}

static int pair_insert(tokenizer_t *t, int32_t a, int32_t b, uint32_t rank, int32_t merged) {
    uint64_t key = ((uint64_t)(uint32_t)a << 32 | (uint32_t)b) + 1;
    uint32_t h = pair_hash(key);
    for (size_t probes = 0; probes < MAP_SIZE; probes++) {
        if (t->pair_keys[h] == 0 || t->pair_keys[h] == key) {
            if (t->pair_keys[h] == key) return IMG_OK; /* the first (lowest) rank wins */
            t->pair_keys[h] = key;
            t->pair_vals[h] = (uint64_t)rank << 32 | (uint32_t)merged;
            return IMG_OK;
        }
        h = (h + 1) & (MAP_SIZE - 1);
    }
    return IMG_ENOMEM;
}

static int pair_lookup(const void *ctx, int32_t a, int32_t b, uint32_t *rank, int32_t *merged) {
    const tokenizer_t *t = ctx;
    uint64_t key = ((uint64_t)(uint32_t)a << 32 | (uint32_t)b) + 1;
    uint32_t h = pair_hash(key);
    for (;;) {
        if (t->pair_keys[h] == 0) return 0;
        if (t->pair_keys[h] == key) {
            *rank = (uint32_t)(t->pair_vals[h] >> 32);
            *merged = (int32_t)(uint32_t)t->pair_vals[h];
            return 1;
        }
        h = (h + 1) & (MAP_SIZE - 1);
    }
}

/* ---- construction ---- */

static int utf8_put(uint32_t cp, char *out) {
    if (cp < 0x80) { out[0] = (char)cp; return 1; }
    if (cp < 0x800) { out[0] = (char)(0xC0 | cp >> 6); out[1] = (char)(0x80 | (cp & 63)); return 2; }
    if (cp < 0x10000) {
        out[0] = (char)(0xE0 | cp >> 12); out[1] = (char)(0x80 | ((cp >> 6) & 63));
        out[2] = (char)(0x80 | (cp & 63)); return 3;
    }
    out[0] = (char)(0xF0 | cp >> 18); out[1] = (char)(0x80 | ((cp >> 12) & 63));
    out[2] = (char)(0x80 | ((cp >> 6) & 63)); out[3] = (char)(0x80 | (cp & 63)); return 4;
}

/* GPT-2/CLIP's reversible byte -> printable-unicode map; `order` gets the bytes in the order
 * the reference's dict iterates them (the first 256 vocabulary ids). */
static void bytes_to_unicode(char str[256][4], int order[256]) {
    int n = 0, extra = 0;
    uint32_t cp[256];
    int is_direct[256] = {0};
    for (int b = '!'; b <= '~'; b++) is_direct[b] = 1;
    for (int b = 0xA1; b <= 0xAC; b++) is_direct[b] = 1;
    for (int b = 0xAE; b <= 0xFF; b++) is_direct[b] = 1;
    for (int b = 0; b < 256; b++)
        if (is_direct[b]) {
            cp[b] = (uint32_t)b;
            order[n++] = b;
        }
    for (int b = 0; b < 256; b++)
        if (!is_direct[b]) {
            cp[b] = 256u + (uint32_t)extra++;
            order[n++] = b;
        }
    for (int b = 0; b < 256; b++) {
        memset(str[b], 0, 4);
        utf8_put(cp[b], str[b]);
    }
}

static tokenizer_t *tok_new(size_t cap) {
    tokenizer_t *t = calloc(1, sizeof *t);
    if (!t) return NULL;
    t->vocab = calloc(cap, sizeof *t->vocab);
    t->str_slots = malloc(MAP_SIZE * sizeof *t->str_slots);
    t->pair_keys = calloc(MAP_SIZE, sizeof *t->pair_keys);
    t->pair_vals = calloc(MAP_SIZE, sizeof *t->pair_vals);
    if (!t->vocab || !t->str_slots || !t->pair_keys || !t->pair_vals) {
        tok_free(t);
        return NULL;
    }
    memset(t->str_slots, 0xff, MAP_SIZE * sizeof *t->str_slots);
    int order[256];
    bytes_to_unicode(t->byte_str, order);
    memset(t->cp_byte, 0xff, sizeof t->cp_byte);
    for (int b = 0; b < 256; b++) {
        size_t m;
        uint32_t *cp = utf8_decode(t->byte_str[b], strlen(t->byte_str[b]), &m);
        if (cp && m == 1 && cp[0] < 512) t->cp_byte[cp[0]] = (int16_t)b;
        free(cp);
    }
    return t;
}

void tok_free(tokenizer_t *t) {
    if (!t) return;
    if (t->vocab)
        for (size_t i = 0; i < t->nvocab; i++) free(t->vocab[i]);
    free(t->vocab);
    free(t->str_slots);
    free(t->pair_keys);
    free(t->pair_vals);
    free(t);
}

/* Looks up the byte symbols and the special tokens once the vocabulary is complete. */
static int finish(tokenizer_t *t, char *err, size_t errlen) {
    for (int b = 0; b < 256; b++) {
        char s[16];
        snprintf(s, sizeof s, "%s</w>", t->byte_str[b]);
        t->byte_id[b] = str_lookup(t, t->byte_str[b], strlen(t->byte_str[b]));
        t->byte_eow[b] = str_lookup(t, s, strlen(s));
        if (t->byte_id[b] < 0 || t->byte_eow[b] < 0) {
            snprintf(err, errlen, "the vocabulary lacks the byte symbols of a CLIP BPE vocabulary");
            return IMG_EFORMAT;
        }
    }
    t->sot = str_lookup(t, "<|startoftext|>", 15);
    t->eot = str_lookup(t, "<|endoftext|>", 13);
    if (t->sot < 0 || t->eot < 0) {
        snprintf(err, errlen, "the vocabulary lacks <|startoftext|> or <|endoftext|>");
        return IMG_EFORMAT;
    }
    return IMG_OK;
}

static int add_vocab(tokenizer_t *t, const char *s, size_t n, size_t cap) {
    if (t->nvocab >= cap) return IMG_EFORMAT;
    char *c = malloc(n + 1);
    if (!c) return IMG_ENOMEM;
    memcpy(c, s, n);
    c[n] = 0;
    t->vocab[t->nvocab] = c;
    int rc = str_insert(t, (int32_t)t->nvocab);
    t->nvocab++;
    return rc == IMG_EEXIST ? IMG_OK : rc;
}

/* Adds merges from "a b" lines; with build_vocab the merged tokens are appended to the vocab. */
static int add_merges(tokenizer_t *t, char **lines, size_t nlines, int build_vocab, size_t cap,
                      char *err, size_t errlen) {
    for (size_t i = 0; i < nlines; i++) {
        char *sp = strchr(lines[i], ' ');
        if (!sp || strchr(sp + 1, ' ')) {
            snprintf(err, errlen, "merges line %zu is not 'a b'", i + 1);
            return IMG_EFORMAT;
        }
        size_t la = (size_t)(sp - lines[i]), lb = strlen(sp + 1);
        char merged[512];
        if (la + lb >= sizeof merged) {
            snprintf(err, errlen, "merges line %zu is too long", i + 1);
            return IMG_EFORMAT;
        }
        memcpy(merged, lines[i], la);
        memcpy(merged + la, sp + 1, lb + 1);
        if (build_vocab) {
            int rc = add_vocab(t, merged, la + lb, cap);
            if (rc) return rc;
        }
        int32_t a = str_lookup(t, lines[i], la), b = str_lookup(t, sp + 1, lb),
                m = str_lookup(t, merged, la + lb);
        if (a < 0 || b < 0 || m < 0) {
            snprintf(err, errlen, "merges line %zu uses a token missing from the vocabulary", i + 1);
            return IMG_EFORMAT;
        }
        int rc = pair_insert(t, a, b, (uint32_t)i, m);
        if (rc) return rc;
    }
    return IMG_OK;
}

/* Splits text into lines in place (handles \r\n); returns a malloc'd array. */
static char **split_lines(char *text, size_t *n) {
    size_t cap = 1024, k = 0;
    char **lines = malloc(cap * sizeof *lines);
    if (!lines) return NULL;
    char *p = text;
    while (*p) {
        char *e = strchr(p, '\n');
        if (e) *e = 0;
        size_t l = strlen(p);
        if (l && p[l - 1] == '\r') p[l - 1] = 0;
        if (k == cap) {
            cap *= 2;
            char **q = realloc(lines, cap * sizeof *q);
            if (!q) {
                free(lines);
                return NULL;
            }
            lines = q;
        }
        lines[k++] = p;
        if (!e) break;
        p = e + 1;
    }
    *n = k;
    return lines;
}

int tok_load_bpe_gz(const char *path, tokenizer_t **out, char *err, size_t errlen) {
    gzFile gz = gzopen(path, "rb");
    if (!gz) {
        snprintf(err, errlen, "cannot open %s", path);
        return IMG_EIO;
    }
    buf_t b = {0};
    char chunk[65536];
    int r;
    while ((r = gzread(gz, chunk, sizeof chunk)) > 0)
        if (buf_append(&b, chunk, (size_t)r)) break;
    int gzerr;
    gzerror(gz, &gzerr);
    gzclose(gz);
    if (r < 0 || gzerr < 0 || !b.data) {
        buf_free(&b);
        snprintf(err, errlen, "%s is not a readable gzip file", path);
        return IMG_EFORMAT;
    }
    size_t nlines;
    char **lines = split_lines((char *)b.data, &nlines);
    /* The reference uses lines[1 : 49152-256-2+1]: 48894 merges after a version line. */
    const size_t nmerges = 49152 - 256 - 2;
    if (!lines || nlines < nmerges + 1) {
        free(lines);
        buf_free(&b);
        if (!lines) {
            snprintf(err, errlen, "out of memory reading %s", path);
            return IMG_ENOMEM;
        }
        snprintf(err, errlen, "%s has too few merges for a CLIP vocabulary", path);
        return IMG_EFORMAT;
    }
    size_t cap = 512 + nmerges + 2;
    tokenizer_t *t = tok_new(cap);
    int rc = t ? IMG_OK : IMG_ENOMEM;
    int order[256];
    char tmp[256][4];
    bytes_to_unicode(tmp, order);
    for (int i = 0; i < 256 && rc == IMG_OK; i++)
        rc = add_vocab(t, t->byte_str[order[i]], strlen(t->byte_str[order[i]]), cap);
    for (int i = 0; i < 256 && rc == IMG_OK; i++) {
        char s[16];
        int l = snprintf(s, sizeof s, "%s</w>", t->byte_str[order[i]]);
        rc = add_vocab(t, s, (size_t)l, cap);
    }
    if (rc == IMG_OK) rc = add_merges(t, lines + 1, nmerges, 1, cap, err, errlen);
    if (rc == IMG_OK) rc = add_vocab(t, "<|startoftext|>", 15, cap);
    if (rc == IMG_OK) rc = add_vocab(t, "<|endoftext|>", 13, cap);
    if (rc == IMG_OK) rc = finish(t, err, errlen);
    free(lines);
    buf_free(&b);
    if (rc) {
        if (!err[0]) snprintf(err, errlen, "cannot build the vocabulary from %s", path);
        tok_free(t);
        return rc;
    }
    *out = t;
    return IMG_OK;
}

/* The whole file (or built-in file), NUL-terminated; caller frees. */
static char *read_file(const char *path, size_t *len) {
    buf_t b = {0};
    if (builtin_is(path)) {
        const void *data;
        if (builtin_find(path, &data, len) || buf_append(&b, data, *len)) {
            free(b.data);
            return NULL;
        }
        return (char *)b.data;
    }
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    char chunk[65536];
    size_t r;
    while ((r = fread(chunk, 1, sizeof chunk, f)) > 0)
        if (buf_append(&b, chunk, r)) break;
    fclose(f);
    if (!b.data) buf_append(&b, "", 0);
    *len = b.len;
    return (char *)b.data;
}

int tok_load_vocab_merges(const char *vocab_json, const char *merges_txt, tokenizer_t **out,
                          char *err, size_t errlen) {
    json_error_t je;
    size_t vlen;
    char *vtext = read_file(vocab_json, &vlen);
    if (!vtext) {
        snprintf(err, errlen, "cannot read %s", vocab_json);
        return IMG_EIO;
    }
    json_t *v = json_loadb(vtext, vlen, 0, &je);
    free(vtext);
    if (!v || !json_is_object(v)) {
        snprintf(err, errlen, "%s is not a JSON object: %.100s", vocab_json, v ? "" : je.text);
        json_decref(v);
        return IMG_EFORMAT;
    }
    size_t n = json_object_size(v);
    tokenizer_t *t = tok_new(n);
    int rc = t ? IMG_OK : IMG_ENOMEM;
    const char *k;
    json_t *id;
    if (t) {
        t->nvocab = n;
        json_object_foreach(v, k, id) {
            json_int_t i = json_is_integer(id) ? json_integer_value(id) : -1;
            if (i < 0 || (size_t)i >= n || t->vocab[i]) {
                snprintf(err, errlen, "%s: ids must be 0..%zu, each once", vocab_json, n - 1);
                rc = IMG_EFORMAT;
                break;
            }
            t->vocab[i] = strdup(k);
            if (!t->vocab[i]) {
                rc = IMG_ENOMEM;
                break;
            }
        }
        for (size_t i = 0; i < n && rc == IMG_OK; i++) rc = str_insert(t, (int32_t)i);
        if (rc == IMG_EEXIST) rc = IMG_OK;
    }
    json_decref(v);
    size_t len;
    char *text = rc == IMG_OK ? read_file(merges_txt, &len) : NULL;
    if (rc == IMG_OK && !text) {
        snprintf(err, errlen, "cannot read %s", merges_txt);
        rc = IMG_EIO;
    }
    if (rc == IMG_OK) {
        size_t nl;
        char **lines = split_lines(text, &nl);
        size_t first = 0;
        if (!lines) nl = 0; /* out of memory: said below */
        while (first < nl && (strncmp(lines[first], "#version", 8) == 0 || !lines[first][0])) first++;
        while (nl > first && !lines[nl - 1][0]) nl--;
        rc = lines ? add_merges(t, lines + first, nl - first, 0, n, err, errlen) : IMG_ENOMEM;
        free(lines);
    }
    free(text);
    if (rc == IMG_OK) rc = finish(t, err, errlen);
    if (rc) {
        tok_free(t);
        return rc;
    }
    *out = t;
    return IMG_OK;
}

int tok_load(const char *path, tokenizer_t **out, char *err, size_t errlen) {
    if (!path || !*path) {
        snprintf(
            err, errlen,
            "no tokenizer given (model.ID.tokenizer: a bpe_simple_vocab_16e6.txt.gz, a vocab.json "
            "beside its merges.txt, or a tokenizer folder)");
        return IMG_EINVAL;
    }
    size_t l = strlen(path);
    char a[4096], b[4096];
    if (l > 3 && strcmp(path + l - 3, ".gz") == 0) return tok_load_bpe_gz(path, out, err, errlen);
    if (l > 10 && strcmp(path + l - 10, "vocab.json") == 0) {
        snprintf(b, sizeof b, "%.*smerges.txt", (int)(l - 10), path);
        return tok_load_vocab_merges(path, b, out, err, errlen);
    }
    snprintf(a, sizeof a, "%s/vocab.json", path);
    snprintf(b, sizeof b, "%s/merges.txt", path);
    return tok_load_vocab_merges(a, b, out, err, errlen);
}

int32_t tok_sot(const tokenizer_t *t) { return t->sot; }
int32_t tok_eot(const tokenizer_t *t) { return t->eot; }
size_t tok_vocab_size(const tokenizer_t *t) { return t->nvocab; }

/* ---- text cleaning ---- */

static int is_space(uint32_t c) {
    return (c >= 9 && c <= 13) || (c >= 0x1c && c <= 0x20) || c == 0x85 || c == 0xa0 ||
           c == 0x1680 || (c >= 0x2000 && c <= 0x200a) || c == 0x2028 || c == 0x2029 ||
           c == 0x202f || c == 0x205f || c == 0x3000;
}

static int is_letter(uint32_t c) {
    int8_t t = u_charType((UChar32)c);
    return t >= U_UPPERCASE_LETTER && t <= U_OTHER_LETTER;
}

static int is_number(uint32_t c) {
    int8_t t = u_charType((UChar32)c);
    return t == U_DECIMAL_DIGIT_NUMBER || t == U_LETTER_NUMBER || t == U_OTHER_NUMBER;
}

/* Decodes UTF-8 (invalid bytes become U+FFFD) into a malloc'd code point array. */
static uint32_t *utf8_decode(const char *s, size_t len, size_t *n) {
    uint32_t *out = malloc((len + 1) * sizeof *out);
    if (!out) return NULL;
    size_t k = 0, i = 0;
    const uint8_t *p = (const uint8_t *)s;
    while (i < len) {
        uint32_t c = p[i];
        int extra = c < 0x80 ? 0 : (c & 0xE0) == 0xC0 ? 1 : (c & 0xF0) == 0xE0 ? 2 : (c & 0xF8) == 0xF0 ? 3 : -1;
        uint32_t cp = extra == 0 ? c : extra == 1 ? c & 0x1F : extra == 2 ? c & 0x0F : c & 0x07;
        int ok = extra >= 0 && i + (size_t)extra < len;
        for (int j = 1; ok && j <= extra; j++) {
            if ((p[i + j] & 0xC0) != 0x80)
                ok = 0;
            else
                cp = cp << 6 | (p[i + j] & 0x3F);
        }
        if (!ok || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) {
            out[k++] = 0xFFFD;
            i++;
            continue;
        }
        out[k++] = cp;
        i += 1 + (size_t)extra;
    }
    *n = k;
    return out;
}

static int buf_put_cp(buf_t *b, uint32_t cp) {
    char tmp[4];
    return buf_append(b, tmp, (size_t)utf8_put(cp, tmp));
}

/* ICU round trip: UTF-8 -> UTF-16 -> f() -> UTF-8. mode 0 = NFC, 1 = lower case. */
static char *icu_transform(const char *s, int mode) {
    UErrorCode e = U_ZERO_ERROR;
    int32_t n16 = 0;
    u_strFromUTF8WithSub(NULL, 0, &n16, s, -1, 0xFFFD, NULL, &e);
    e = U_ZERO_ERROR;
    UChar *u = malloc(((size_t)n16 + 1) * sizeof(UChar));
    if (!u) return NULL;
    u_strFromUTF8WithSub(u, n16 + 1, NULL, s, -1, 0xFFFD, NULL, &e);
    UChar *v = NULL;
    int32_t nv = 0;
    for (int32_t cap = n16 * 3 + 16;; cap *= 2) {
        free(v);
        v = malloc((size_t)cap * sizeof(UChar));
        if (!v) break;
        e = U_ZERO_ERROR;
        if (mode == 0) {
            const UNormalizer2 *nfc = unorm2_getNFCInstance(&e);
            if (U_SUCCESS(e)) nv = unorm2_normalize(nfc, u, n16, v, cap, &e);
        } else {
            nv = u_strToLower(v, cap, u, n16, "", &e);
        }
        if (e != U_BUFFER_OVERFLOW_ERROR) break;
    }
    free(u);
    if (!v || U_FAILURE(e)) {
        free(v);
        return NULL;
    }
    int32_t n8 = 0;
    e = U_ZERO_ERROR;
    u_strToUTF8(NULL, 0, &n8, v, nv, &e);
    char *out = malloc((size_t)n8 + 1);
    e = U_ZERO_ERROR;
    if (out) u_strToUTF8(out, n8 + 1, NULL, v, nv, &e);
    free(v);
    if (out && U_FAILURE(e)) {
        free(out);
        return NULL;
    }
    return out;
}

static int cmp_entity(const void *key, const void *elem) {
    return strcmp(key, *(const char *const *)elem);
}

static const char *entity_value(const char *name) {
    const void *hit = bsearch(name, HTML_ENTITIES, sizeof HTML_ENTITIES / sizeof HTML_ENTITIES[0],
                              sizeof HTML_ENTITIES[0], cmp_entity);
    return hit ? ((const char *const *)hit)[1] : NULL;
}

/* Python's html.unescape: numeric and named character references, HTML5 rules. */
static char *html_unescape(const char *s) {
    buf_t b = {0};
    size_t n;
    uint32_t *cp = utf8_decode(s, strlen(s), &n);
    if (!cp) return NULL;
    for (size_t i = 0; i < n;) {
        if (cp[i] != '&' || i + 1 >= n) {
            buf_put_cp(&b, cp[i++]);
            continue;
        }
        size_t j = i + 1;
        if (cp[j] == '#') {
            int hex = j + 1 < n && (cp[j + 1] == 'x' || cp[j + 1] == 'X');
            size_t k = j + 1 + (size_t)hex, d0 = k;
            uint64_t num = 0;
            while (k < n && (hex ? (cp[k] < 128 && strchr("0123456789abcdefABCDEF", (int)cp[k]) && cp[k])
                                 : (cp[k] >= '0' && cp[k] <= '9'))) {
                uint32_t dv = cp[k] <= '9' ? cp[k] - '0' : (cp[k] | 32) - 'a' + 10;
                if (num < 0x1000000) num = num * (hex ? 16 : 10) + dv;
                k++;
            }
            if (k == d0) { /* not a reference */
                buf_put_cp(&b, cp[i++]);
                continue;
            }
            if (k < n && cp[k] == ';') k++;
            const char *rep = NULL;
            for (size_t q = 0; q < sizeof HTML_INVALID_CHARREFS / sizeof HTML_INVALID_CHARREFS[0]; q++)
                if (HTML_INVALID_CHARREFS[q].code == num) rep = HTML_INVALID_CHARREFS[q].value;
            if (rep) {
                buf_append(&b, rep, strlen(rep));
            } else if ((num >= 0xD800 && num <= 0xDFFF) || num > 0x10FFFF) {
                buf_put_cp(&b, 0xFFFD);
            } else {
                int invalid = 0;
                for (size_t q = 0; q < sizeof HTML_INVALID_CODEPOINTS / sizeof HTML_INVALID_CODEPOINTS[0]; q++)
                    if (HTML_INVALID_CODEPOINTS[q] == num) invalid = 1;
                if (!invalid) buf_put_cp(&b, (uint32_t)num);
            }
            i = k;
            continue;
        }
        /* named: [^\t\n\f <&#;]{1,32};? */
        size_t k = j;
        while (k < n && k - j < 32 && !strchr("\t\n\f <&#;", (int)(cp[k] < 128 ? cp[k] : 'x')) )
            k++;
        if (k == j) {
            buf_put_cp(&b, cp[i++]);
            continue;
        }
        if (k < n && cp[k] == ';') k++;
        /* s = cp[j..k): the whole name, else its longest prefix (>= 2 chars) that is a name */
        char name[40];
        size_t len = k - j, ascii = 0;
        while (ascii < len && cp[j + ascii] < 128) ascii++;
        for (size_t q = 0; q < ascii; q++) name[q] = (char)cp[j + q];
        const char *val = NULL;
        size_t used = 0;
        if (ascii == len) {
            name[len] = 0;
            val = entity_value(name);
            used = len;
        }
        for (size_t x = len - 1; !val && x >= 2; x--) {
            if (x > ascii) continue;
            name[x] = 0;
            val = entity_value(name);
            used = x;
        }
        if (val) {
            buf_append(&b, val, strlen(val));
            for (size_t q = j + used; q < k; q++) buf_put_cp(&b, cp[q]);
        } else {
            for (size_t q = i; q < k; q++) buf_put_cp(&b, cp[q]);
        }
        i = k;
    }
    free(cp);
    if (!b.data) buf_append(&b, "", 0);
    return (char *)b.data;
}

/* Collapses whitespace runs to one space and trims both ends. */
static char *whitespace_clean(const char *s) {
    size_t n;
    uint32_t *cp = utf8_decode(s, strlen(s), &n);
    if (!cp) return NULL;
    buf_t b = {0};
    int pending = 0;
    for (size_t i = 0; i < n; i++) {
        if (is_space(cp[i])) {
            pending = b.len > 0;
            continue;
        }
        if (pending) buf_append(&b, " ", 1);
        pending = 0;
        buf_put_cp(&b, cp[i]);
    }
    free(cp);
    if (!b.data) buf_append(&b, "", 0);
    return (char *)b.data;
}

char *tok_clean_text(const char *text) {
    char *a = icu_transform(text, 0); /* ftfy.fix_text: NFC */
    char *b = a ? html_unescape(a) : NULL;
    char *c = b ? html_unescape(b) : NULL;
    char *d = c ? whitespace_clean(c) : NULL;
    char *e = d ? icu_transform(d, 1) : NULL; /* lower() */
    free(a);
    free(b);
    free(c);
    free(d);
    return e;
}

/* ---- BPE ---- */

static int bpe_word(const tokenizer_t *t, const uint8_t *bytes, size_t n, buf_t *out) {
    int32_t stack[64];
    int32_t *sym = n <= 64 ? stack : malloc(n * sizeof *sym);
    if (!sym) return IMG_ENOMEM;
    for (size_t i = 0; i < n; i++) sym[i] = i + 1 == n ? t->byte_eow[bytes[i]] : t->byte_id[bytes[i]];
    size_t m = bpe_merge(sym, n, pair_lookup, t);
    int rc = buf_append(out, sym, m * sizeof *sym);
    if (sym != stack) free(sym);
    return rc;
}

static int starts_with(const uint32_t *cp, size_t n, size_t i, const char *lit) {
    size_t l = strlen(lit);
    if (i + l > n) return 0;
    for (size_t k = 0; k < l; k++)
        if (cp[i + k] != (uint8_t)lit[k]) return 0;
    return 1;
}

int tok_encode(const tokenizer_t *t, const char *text, int32_t **ids, size_t *nids) {
    char *clean = tok_clean_text(text);
    if (!clean) return IMG_ENOMEM;
    size_t n;
    uint32_t *cp = utf8_decode(clean, strlen(clean), &n);
    free(clean);
    if (!cp) return IMG_ENOMEM;
    buf_t out = {0}, word = {0};
    int rc = IMG_OK;
    static const char *const CONTRACTIONS[] = {"'s", "'t", "'re", "'ve", "'m", "'ll", "'d"};
    for (size_t i = 0; i < n && rc == IMG_OK;) {
        size_t j = i;
        int32_t special = -1;
        if (starts_with(cp, n, i, "<|startoftext|>")) {
            special = t->sot;
            j = i + 15;
        } else if (starts_with(cp, n, i, "<|endoftext|>")) {
            special = t->eot;
            j = i + 13;
        } else if (cp[i] == '\'') {
            for (size_t c = 0; c < 7 && j == i; c++)
                if (starts_with(cp, n, i, CONTRACTIONS[c])) j = i + strlen(CONTRACTIONS[c]);
        }
        if (j == i) {
            if (is_letter(cp[i])) {
                while (j < n && is_letter(cp[j])) j++;
            } else if (is_number(cp[i])) {
                j = i + 1;
            } else if (!is_space(cp[i])) {
                while (j < n && !is_space(cp[j]) && !is_letter(cp[j]) && !is_number(cp[j])) j++;
            } else {
                i++;
                continue;
            }
        }
        if (special >= 0) {
            rc = buf_append(&out, &special, sizeof special);
        } else {
            word.len = 0;
            for (size_t k = i; k < j; k++) buf_put_cp(&word, cp[k]);
            rc = bpe_word(t, word.data, word.len, &out);
        }
        i = j;
    }
    free(cp);
    buf_free(&word);
    if (rc) {
        buf_free(&out);
        return rc;
    }
    *nids = out.len / sizeof(int32_t);
    *ids = out.data ? (int32_t *)(void *)out.data : malloc(sizeof(int32_t));
    return *ids ? IMG_OK : IMG_ENOMEM;
}

int tok_context_len(const tokenizer_t *t, const int32_t *ids, size_t n, int32_t pad, int len,
                    int32_t *out) {
    size_t keep = n > (size_t)len - 2 ? (size_t)len - 2 : n;
    out[0] = t->sot;
    for (size_t i = 0; i < keep; i++) out[1 + i] = ids[i];
    out[1 + keep] = t->eot;
    for (size_t i = keep + 2; i < (size_t)len; i++) out[i] = pad;
    return (int)(keep + 1);
}

int tok_context(const tokenizer_t *t, const int32_t *ids, size_t n, int32_t pad,
                int32_t out[TOK_CONTEXT]) {
    return tok_context_len(t, ids, n, pad, TOK_CONTEXT, out);
}

char *tok_decode(const tokenizer_t *t, const int32_t *ids, size_t n) {
    buf_t b = {0};
    for (size_t i = 0; i < n; i++) {
        if (ids[i] < 0 || (size_t)ids[i] >= t->nvocab) continue;
        const char *s = t->vocab[ids[i]];
        size_t l = strlen(s);
        int eow = l >= 4 && strcmp(s + l - 4, "</w>") == 0;
        size_t m;
        uint32_t *cp = utf8_decode(s, eow ? l - 4 : l, &m);
        for (size_t k = 0; cp && k < m; k++) {
            if (cp[k] < 512 && t->cp_byte[cp[k]] >= 0) {
                uint8_t byte = (uint8_t)t->cp_byte[cp[k]];
                buf_append(&b, &byte, 1);
            }
        }
        free(cp);
        if (eow) buf_append(&b, " ", 1);
    }
    if (!b.data) buf_append(&b, "", 0);
    return (char *)b.data;
}
