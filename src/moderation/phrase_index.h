/* phrase_index.h - which rule phrases can start at a prompt's word: a hash table from a key
 * (a rule phrase's first word as written, squeezed, or its stem in the rule's language) to the
 * ids of the phrases it starts. A prompt word looks up the same keys of its own readings, and
 * only the phrases found are then matched in full, instead of every phrase at every word. */
#ifndef IMGAPI_MODERATION_PHRASE_INDEX_H
#define IMGAPI_MODERATION_PHRASE_INDEX_H

typedef struct phrase_index phrase_index_t;

int pidx_new(phrase_index_t **out);
void pidx_free(phrase_index_t *x);
/* Adds id under key (copied). IMG_ENOMEM. */
int pidx_add(phrase_index_t *x, const char *key, int id);
/* The ids under key (owned by x; *n of them), or NULL and *n 0. */
const int *pidx_get(const phrase_index_t *x, const char *key, int *n);

#endif
