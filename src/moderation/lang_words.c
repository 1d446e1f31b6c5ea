/* lang_words.c - see lang_words.h. */
#include "moderation/lang_words.h"

#include <stdlib.h>
#include <string.h>

#include "moderation/stem.h"

typedef struct {
    const char *word;
    unsigned langs;
} lang_word_t;

#define ES (1u << LANG_ES)
#define FR (1u << LANG_FR)
#define DE (1u << LANG_DE)
#define PT (1u << LANG_PT)
#define IT (1u << LANG_IT)

/* sorted by word (strcmp), one entry per word; left out because they are English words too or
 * common in English prompts: ai, den, die, do, em, im, os, per, sans, sin, sous, tres, uber,
 * um, un, y */
static const lang_word_t WORDS[] = {
    {"al", ES | IT},
    {"alla", IT},
    {"alle", DE | IT},
    {"aos", PT},
    {"auf", DE},
    {"aus", DE},
    {"aux", FR},
    {"avec", FR},
    {"bei", DE},
    {"beim", DE},
    {"ce", FR},
    {"cette", FR},
    {"che", IT},
    {"com", PT},
    {"con", ES | IT},
    {"da", PT | IT},
    {"dal", IT},
    {"dans", FR},
    {"das", PT},
    {"de", ES | FR | PT | IT},
    {"degli", IT},
    {"dei", IT},
    {"del", ES | IT},
    {"della", IT},
    {"delle", IT},
    {"dello", IT},
    {"dem", DE},
    {"der", DE},
    {"des", FR | DE},
    {"di", IT},
    {"dich", DE},
    {"dir", DE},
    {"dos", PT},
    {"du", FR},
    {"durch", DE},
    {"ein", DE},
    {"eine", DE},
    {"einem", DE},
    {"einen", DE},
    {"einer", DE},
    {"eines", DE},
    {"el", ES},
    {"ella", ES},
    {"elle", FR},
    {"ello", ES},
    {"en", ES | FR},
    {"entre", ES | FR | PT},
    {"er", DE},
    {"es", ES | DE},
    {"est", FR},
    {"et", FR},
    {"ete", FR},
    {"foto", ES | DE | PT | IT},
    {"fotografia", ES | PT | IT},
    {"gli", IT},
    {"hace", ES},
    {"ich", DE},
    {"ihr", DE},
    {"ihre", DE},
    {"ihrem", DE},
    {"ihren", DE},
    {"il", FR | IT},
    {"ils", FR},
    {"ist", DE},
    {"kein", DE},
    {"keine", DE},
    {"la", ES | FR | IT},
    {"las", ES},
    {"le", FR},
    {"les", FR},
    {"lo", ES | IT},
    {"los", ES},
    {"mais", FR | PT},
    {"mit", DE},
    {"muito", PT},
    {"muy", ES},
    {"na", PT},
    {"nach", DE},
    {"nas", PT},
    {"nei", IT},
    {"nel", IT},
    {"nella", IT},
    {"nicht", DE},
    {"nos", ES | PT},
    {"nur", DE},
    {"oder", DE},
    {"ohne", DE},
    {"ou", FR | PT},
    {"para", ES | PT},
    {"pelo", PT},
    {"pero", ES},
    {"por", ES | PT},
    {"pour", FR},
    {"que", ES | FR | PT},
    {"qui", FR},
    {"sehr", DE},
    {"sein", DE},
    {"seine", DE},
    {"seinem", DE},
    {"seinen", DE},
    {"sem", PT},
    {"ses", FR},
    {"seu", PT},
    {"sich", DE},
    {"sie", DE},
    {"sobre", ES | PT},
    {"sono", IT},
    {"su", ES},
    {"sua", PT | IT},
    {"sul", IT},
    {"sulla", IT},
    {"suo", IT},
    {"sur", FR},
    {"sus", ES},
    {"uma", PT},
    {"una", ES | IT},
    {"unas", ES},
    {"und", DE},
    {"une", FR},
    {"uno", ES | IT},
    {"unos", ES},
    {"uns", DE},
    {"unter", DE},
    {"vom", DE},
    {"von", DE},
    {"wie", DE},
    {"wir", DE},
    {"zu", DE},
    {"zum", DE},
    {"zur", DE},
};

static int cmp_word(const void *key, const void *entry) {
    return strcmp((const char *)key, ((const lang_word_t *)entry)->word);
}

unsigned lang_function_word(const char *word) {
    const lang_word_t *e =
        bsearch(word, WORDS, sizeof WORDS / sizeof WORDS[0], sizeof WORDS[0], cmp_word);
    return e ? e->langs : 0;
}

int lang_words_sorted(void) {
    for (size_t i = 1; i < sizeof WORDS / sizeof WORDS[0]; i++)
        if (strcmp(WORDS[i - 1].word, WORDS[i].word) >= 0) return 0;
    return 1;
}
