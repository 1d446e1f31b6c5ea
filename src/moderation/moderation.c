/* moderation.c - rules parsing and prompt classification. */
#include "moderation/moderation.h"
#include "common/status.h"
#include "moderation/words.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "moderation_rules.inc" /* MODERATION_RULES: moderation/rules.txt, generated at build */

#define MAX_CATS 16
#define MAX_GROUPS 16

typedef struct {
    int cat; /* category index, or group index for group phrases */
    words_t words;
} phrase_t;

typedef struct {
    phrase_t *p;
    int n, cap;
} phrases_t;

typedef struct {
    char name[32];
    int always;
} category_t;

struct moderation {
    int version;
    category_t cats[MAX_CATS];
    int ncats;
    char groups[MAX_GROUPS][32];
    int ngroups;
    phrases_t terms, allows, members; /* members: .cat = group index */
    struct {
        int cat, a, b;
    } combine[MAX_CATS];
    int ncombine;
};

static void phrases_free(phrases_t *p) {
    for (int i = 0; i < p->n; i++) words_free(&p->p[i].words);
    free(p->p);
}

void mod_free(moderation_t *m) {
    if (!m) return;
    phrases_free(&m->terms);
    phrases_free(&m->allows);
    phrases_free(&m->members);
    free(m);
}

int mod_version(const moderation_t *m) { return m->version; }

static int add_phrase(phrases_t *p, int idx, const char *text) {
    if (p->n == p->cap) {
        int cap = p->cap ? 2 * p->cap : 64;
        phrase_t *q = realloc(p->p, sizeof *q * (size_t)cap);
        if (!q) return IMG_ENOMEM;
        p->p = q;
        p->cap = cap;
    }
    phrase_t *ph = &p->p[p->n];
    ph->cat = idx;
    if (words_split(text, &ph->words)) return IMG_ENOMEM;
    if (ph->words.n == 0) {
        words_free(&ph->words);
        return IMG_EFORMAT;
    }
    p->n++;
    return IMG_OK;
}

static int find_cat(const moderation_t *m, const char *name) {
    for (int i = 0; i < m->ncats; i++)
        if (!strcmp(m->cats[i].name, name)) return i;
    return -1;
}

static int find_group(moderation_t *m, const char *name, int create) {
    for (int i = 0; i < m->ngroups; i++)
        if (!strcmp(m->groups[i], name)) return i;
    if (!create || m->ngroups == MAX_GROUPS || strlen(name) >= 32) return -1;
    strcpy(m->groups[m->ngroups], name);
    return m->ngroups++;
}

int mod_load(const char *text, moderation_t **out, char *err, size_t errlen) {
    moderation_t *m = calloc(1, sizeof *m);
    char *copy = strdup(text);
    if (!m || !copy) {
        free(m);
        free(copy);
        return IMG_ENOMEM;
    }
    int rc = IMG_OK, lineno = 0;
    char *save = NULL;
    for (char *line = strtok_r(copy, "\n", &save); line && !rc; line = strtok_r(NULL, "\n", &save)) {
        lineno++;
        while (*line == ' ' || *line == '\t') line++;
        if (!*line || *line == '#') continue;
        char kw[16], a[64], b[64], c[64];
        int off = 0;
        if (sscanf(line, "%15s %n", kw, &off) != 1) continue;
        const char *rest = line + off;
        if (!strcmp(kw, "version")) {
            m->version = atoi(rest);
        } else if (!strcmp(kw, "category")) {
            if (sscanf(rest, "%63s %63s", a, b) != 2 || m->ncats == MAX_CATS || strlen(a) >= 32 ||
                (strcmp(b, "always") && strcmp(b, "auto")))
                rc = IMG_EFORMAT;
            else {
                strcpy(m->cats[m->ncats].name, a);
                m->cats[m->ncats++].always = !strcmp(b, "always");
            }
        } else if (!strcmp(kw, "term") || !strcmp(kw, "group")) {
            int n2 = 0;
            if (sscanf(rest, "%63s %n", a, &n2) != 1 || !rest[n2]) {
                rc = IMG_EFORMAT;
            } else if (!strcmp(kw, "term")) {
                int cat = find_cat(m, a);
                rc = cat < 0 ? IMG_EFORMAT : add_phrase(&m->terms, cat, rest + n2);
            } else {
                int g = find_group(m, a, 1);
                rc = g < 0 ? IMG_EFORMAT : add_phrase(&m->members, g, rest + n2);
            }
        } else if (!strcmp(kw, "allow")) {
            rc = add_phrase(&m->allows, -1, rest);
        } else if (!strcmp(kw, "combine")) {
            int cat, ga, gb;
            if (sscanf(rest, "%63s %63s %63s", a, b, c) != 3 || (cat = find_cat(m, a)) < 0 ||
                (ga = find_group(m, b, 0)) < 0 || (gb = find_group(m, c, 0)) < 0 || m->ncombine == MAX_CATS)
                rc = IMG_EFORMAT;
            else {
                m->combine[m->ncombine].cat = cat;
                m->combine[m->ncombine].a = ga;
                m->combine[m->ncombine].b = gb;
                m->ncombine++;
            }
        } else {
            rc = IMG_EFORMAT;
        }
        if (rc == IMG_EFORMAT) snprintf(err, errlen, "moderation rules line %d: cannot read '%.80s'", lineno, line);
    }
    free(copy);
    if (!rc && (!m->version || !m->ncats)) {
        snprintf(err, errlen, "moderation rules: a version and at least one category are required");
        rc = IMG_EFORMAT;
    }
    if (rc) {
        mod_free(m);
        return rc;
    }
    *out = m;
    return IMG_OK;
}

int mod_load_default(moderation_t **out, char *err, size_t errlen) {
    return mod_load(MODERATION_RULES, out, err, errlen);
}

/* Does phrase p occur at word i, with at least one of its words not neutralised? */
static int phrase_at(const words_t *w, const unsigned char *neutral, int i, const words_t *p) {
    if (i + p->n > w->n) return 0;
    int live = 0;
    for (int k = 0; k < p->n; k++) {
        if (!word_matches(w->w[i + k], p->w[k])) return 0;
        live |= !(neutral && neutral[i + k]);
    }
    return live;
}

static int occurs(const words_t *w, const unsigned char *neutral, const words_t *p) {
    for (int i = 0; i < w->n; i++)
        if (phrase_at(w, neutral, i, p)) return 1;
    return 0;
}

static int group_occurs(const moderation_t *m, const words_t *w, const unsigned char *neutral, int g) {
    for (int k = 0; k < m->members.n; k++)
        if (m->members.p[k].cat == g && occurs(w, neutral, &m->members.p[k].words)) return 1;
    return 0;
}

int mod_check(const moderation_t *m, const char *prompt, mod_level_t level, mod_result_t *out) {
    memset(out, 0, sizeof *out);
    words_t w;
    if (words_split(prompt, &w)) return IMG_ENOMEM;
    unsigned char *neutral = calloc((size_t)w.n + 1, 1);
    if (!neutral) {
        words_free(&w);
        return IMG_ENOMEM;
    }
    for (int a = 0; a < m->allows.n; a++)
        for (int i = 0; i < w.n; i++)
            if (phrase_at(&w, NULL, i, &m->allows.p[a].words))
                memset(neutral + i, 1, (size_t)m->allows.p[a].words.n);
    for (int c = 0; c < m->ncats && !out->refused; c++) {
        if (level == MOD_LEVEL_LOW && !m->cats[c].always) continue;
        int hit = 0;
        for (int t = 0; t < m->terms.n && !hit; t++)
            if (m->terms.p[t].cat == c) hit = occurs(&w, neutral, &m->terms.p[t].words);
        for (int k = 0; k < m->ncombine && !hit; k++)
            if (m->combine[k].cat == c)
                hit = group_occurs(m, &w, neutral, m->combine[k].a) && group_occurs(m, &w, neutral, m->combine[k].b);
        if (hit) {
            out->refused = 1;
            snprintf(out->category, sizeof out->category, "%s", m->cats[c].name);
        }
    }
    free(neutral);
    words_free(&w);
    return IMG_OK;
}
