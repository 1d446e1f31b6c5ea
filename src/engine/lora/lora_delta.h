/* lora_delta.h - the weight difference one adapter module makes, by the published definition of
 * each format. W is the base weight [out, in, kh, kw] (or [out, in]); ΔW is written in its
 * layout, with the file's alpha / rank applied and the user's strength not:
 *   LoRA / LoCon  ΔW = up · down · alpha/r           up [out, r], down [r, in·kh·kw]
 *                 with lora_mid (Tucker): ΔW[o,c,k] = Σ up[o,a] mid[a,b,k] down[b,c]
 *   LoHa          ΔW = (w1a · w1b) ⊙ (w2a · w2b) · alpha/r
 *                 with hada_t1/t2 (Tucker): (w·)[o,c,k] = Σ t[i,j,k] w_b[j,c] w_a[i,o]
 *   LoKr          ΔW = kron(w1, w2) · alpha/r, w1 = lokr_w1 or w1a · w1b, w2 = lokr_w2 or
 *                 w2a · w2b or the Tucker product with lokr_t2; alpha/r is 1 when neither factor
 *                 is decomposed
 *   full          ΔW = diff
 * PEFT's lora_A / lora_B are down / up; a file without alpha has alpha = r. DoRA (dora_scale) is
 * applied by the caller (lora.c), on the merged weight. */
#ifndef IMGAPI_ENGINE_LORA_LORA_DELTA_H
#define IMGAPI_ENGINE_LORA_LORA_DELTA_H
#include "engine/io/safetensors.h"
#include <stddef.h>

typedef enum {
    LP_DOWN,
    LP_UP,
    LP_MID,
    LP_ALPHA,
    LP_DORA,
    LP_HADA_W1A,
    LP_HADA_W1B,
    LP_HADA_W2A,
    LP_HADA_W2B,
    LP_HADA_T1,
    LP_HADA_T2,
    LP_LOKR_W1,
    LP_LOKR_W1A,
    LP_LOKR_W1B,
    LP_LOKR_W2,
    LP_LOKR_W2A,
    LP_LOKR_W2B,
    LP_LOKR_T2,
    LP_DIFF,
    LP_COUNT
} lora_part_t;

/* The part a tensor name's suffix names ("x.lora_down.weight" -> LP_DOWN, *module_len the
 * length of "x"); -1 when the suffix is none of them. */
int lora_part_of(const char *name, size_t *module_len);

/* ΔW of one module whose parts (NULL where absent) are p, for base weight w (its shape), into
 * dw (w->numel values). IMG_EFORMAT with the reason in err when the parts make no known adapter
 * or their shapes do not fit w; IMG_ENOMEM. */
int lora_delta(const st_tensor_t *const p[LP_COUNT], const st_tensor_t *w, float *dw, char *err,
               size_t errlen);

#endif
