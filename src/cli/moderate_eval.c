/* moderate_eval.c - `imgapi moderate --eval FILE`: runs a labelled evaluation set (see
 * moderation/eval/README.md) through moderation at both levels and prints recall per category,
 * false refusals of harmless prompts, and both per language. A report: it never fails on a
 * figure (exit 1 only when the file cannot be read or parsed). */
#include "cli/moderate_eval.h"
#include "common/clock.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define EVAL_MAX_LANGS 32
#define EVAL_MAX_CATS 16

typedef struct {
    char name[32];
    int n, hit_auto, hit_low, wrong_cat; /* hit: refused (any category) */
    int n_low;                           /* rows expected refused at low */
} cat_row_t;

typedef struct {
    char lang[8];
    int harmful, caught, harmless, false_refusals, minors, minors_low_caught;
} lang_row_t;

static cat_row_t *cat_of(cat_row_t *cats, int *ncats, const char *name) {
    for (int i = 0; i < *ncats; i++)
        if (!strcmp(cats[i].name, name)) return &cats[i];
    if (*ncats == EVAL_MAX_CATS) return NULL;
    cat_row_t *c = &cats[(*ncats)++];
    memset(c, 0, sizeof *c);
    snprintf(c->name, sizeof c->name, "%s", name);
    return c;
}

static lang_row_t *lang_of(lang_row_t *langs, int *n, const char *lang) {
    for (int i = 0; i < *n; i++)
        if (!strcmp(langs[i].lang, lang)) return &langs[i];
    if (*n == EVAL_MAX_LANGS) return NULL;
    lang_row_t *l = &langs[(*n)++];
    memset(l, 0, sizeof *l);
    snprintf(l->lang, sizeof l->lang, "%s", lang);
    return l;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double pct(int a, int b) {
    return b ? 100.0 * a / b : 100.0;
}

int moderate_eval(const moderation_t *m, const char *path, FILE *out, FILE *errf) {
    FILE *f = fopen(path, "r");
    if (!f) {
        fprintf(errf, "imgapi: cannot read %s\n", path);
        return 1;
    }
    cat_row_t cats[EVAL_MAX_CATS];
    lang_row_t langs[EVAL_MAX_LANGS];
    int ncats = 0, nlangs = 0, harmless = 0, false_auto = 0, false_low = 0, rows = 0, lineno = 0;
    double worst = 0, total = 0;
    double *times = NULL; /* per row, for the 99th percentile */
    size_t ntimes = 0, captimes = 0;
    char *line = NULL;
    size_t cap = 0;
    ssize_t len;
    int rc = 0;
    while ((len = getline(&line, &cap, f)) > 0) {
        lineno++;
        if (line[len - 1] == '\n') line[--len] = 0;
        if (!line[0] || line[0] == '#') continue;
        char *fields[4], *save = NULL, *p = line;
        int nf = 0;
        for (; nf < 4; nf++) {
            fields[nf] = p;
            char *tab = nf < 3 ? strchr(p, '\t') : NULL;
            if (nf < 3 && !tab) break;
            if (tab) *tab = 0, p = tab + 1;
        }
        (void)save;
        if (nf != 4) {
            fprintf(errf, "imgapi: %s:%d: expected 4 tab-separated fields\n", path, lineno);
            rc = 1;
            break;
        }
        const char *want_auto = fields[0], *want_low = fields[1], *lang = fields[2],
                   *prompt = fields[3];
        mod_result_t ra, rl;
        double t0 = clock_mono();
        if (mod_check(m, prompt, MOD_LEVEL_AUTO, &ra) || mod_check(m, prompt, MOD_LEVEL_LOW, &rl)) {
            fprintf(errf, "imgapi: out of memory\n");
            rc = 1;
            break;
        }
        double dt = (clock_mono() - t0) / 2;
        if (ntimes == captimes) {
            captimes = captimes ? 2 * captimes : 256;
            double *nt = realloc(times, captimes * sizeof *nt);
            if (!nt) {
                fprintf(errf, "imgapi: out of memory\n");
                rc = 1;
                break;
            }
            times = nt;
        }
        times[ntimes++] = dt;
        total += dt;
        if (dt > worst) worst = dt;
        rows++;
        lang_row_t *lr = lang_of(langs, &nlangs, lang);
        if (!strcmp(want_auto, "allow")) {
            harmless++;
            false_auto += ra.refused;
            false_low += rl.refused;
            if (lr) lr->harmless++, lr->false_refusals += ra.refused;
            continue;
        }
        cat_row_t *c = cat_of(cats, &ncats, want_auto);
        if (!c) continue;
        c->n++;
        c->hit_auto += ra.refused;
        c->wrong_cat += ra.refused && strcmp(ra.category, want_auto) != 0;
        if (strcmp(want_low, "allow")) c->n_low++, c->hit_low += rl.refused;
        if (lr) {
            lr->harmful++;
            lr->caught += ra.refused;
            if (!strcmp(want_auto, "sexual_minors"))
                lr->minors++, lr->minors_low_caught += rl.refused;
        }
    }
    free(line);
    fclose(f);
    if (rc) {
        free(times);
        return rc;
    }
    fprintf(out, "%s: %d prompts, %d harmful, %d harmless\n\n", path, rows, rows - harmless,
            harmless);
    fprintf(out, "%-16s %5s %13s %13s %11s\n", "category", "n", "recall auto", "recall low",
            "other cat.");
    for (int i = 0; i < ncats; i++) {
        char low[24] = "-";
        if (cats[i].n_low)
            snprintf(low, sizeof low, "%6.1f%% %3d", pct(cats[i].hit_low, cats[i].n_low),
                     cats[i].hit_low);
        fprintf(out, "%-16s %5d %8.1f%% %3d %13s %11d\n", cats[i].name, cats[i].n,
                pct(cats[i].hit_auto, cats[i].n), cats[i].hit_auto, low, cats[i].wrong_cat);
    }
    fprintf(out, "%-16s %5d   false refusals: auto %d (%.1f%%), low %d (%.1f%%)\n\n", "harmless",
            harmless, false_auto, 100.0 - pct(harmless - false_auto, harmless), false_low,
            100.0 - pct(harmless - false_low, harmless));
    fprintf(out, "%-6s %8s %13s %15s %10s %16s\n", "lang", "harmful", "recall auto",
            "minors at low", "harmless", "false refusals");
    for (int i = 0; i < nlangs; i++) {
        const lang_row_t *l = &langs[i];
        fprintf(out, "%-6s %8d %12.1f%% %8d/%-6d %10d %9d (%.1f%%)\n", l->lang, l->harmful,
                pct(l->caught, l->harmful), l->minors_low_caught, l->minors, l->harmless,
                l->false_refusals, 100.0 - pct(l->harmless - l->false_refusals, l->harmless));
    }
    qsort(times, ntimes, sizeof *times, cmp_double);
    double p99 =
        ntimes ? times[(ntimes * 99) / 100 < ntimes ? (ntimes * 99) / 100 : ntimes - 1] : 0;
    free(times);
    fprintf(out, "\ndecision time: mean %.3f ms, p99 %.3f ms, max %.3f ms per prompt and level\n",
            rows ? total / rows * 1000 : 0, p99 * 1000, worst * 1000);
    return 0;
}
