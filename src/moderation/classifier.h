/* classifier.h - the learned second stage of moderation: a fastText-style model over a prompt's
 * normalised words (hashed words, word pairs and character 3-5-grams -> averaged embeddings ->
 * one ReLU layer -> one sigmoid per head), trained by train/moderation_train.py. It scores the
 * meaning of the whole prompt, so it refuses paraphrases, other languages and misspellings that
 * no rule lists. Heads are factors ("sexual", "minor", "violence", ...); the file's combine
 * table names categories that are the conjunction of two heads (sexual_minors = sexual and
 * minor). Each head has its own threshold, chosen on a validation split. Weights are read-only
 * after loading, so one classifier serves every thread. */
#ifndef IMGAPI_MODERATION_CLASSIFIER_H
#define IMGAPI_MODERATION_CLASSIFIER_H
#include "moderation/words.h"
#include <stddef.h>

#define CLS_MAX_CLASSES 16
#define CLS_MAX_COMBINES 8

typedef struct classifier classifier_t;

/* Parses a classifier file held in memory (data stays owned by the caller and must outlive the
 * classifier: weights are read in place). IMG_EFORMAT on a malformed file. */
int cls_load(const unsigned char *data, size_t len, classifier_t **out);
/* The classifier built into the binary (moderation/classifier.bin). */
int cls_load_builtin(classifier_t **out);
void cls_free(classifier_t *c);

int cls_classes(const classifier_t *c); /* heads */
const char *cls_class_name(const classifier_t *c, int k);
float cls_threshold(const classifier_t *c, int k);
int cls_combines(const classifier_t *c);
/* Combine i: the category *name refused when head *a reaches *ta and head *b reaches *tb (a
 * combine has thresholds of its own: a head may need more certainty alone than in a pair). */
void cls_combine(const classifier_t *c, int i, int *a, int *b, float *ta, float *tb,
                 const char **name);

/* Head probabilities of normalised words into probs[cls_classes(c)]. IMG_ENOMEM or IMG_OK. */
int cls_score(const classifier_t *c, const words_t *w, float *probs);

#endif
