/* flux2_prompt.h - how FLUX.2 [klein] turns a prompt into its text encoder's tokens (diffusers'
 * Flux2KleinPipeline._get_qwen3_prompt_embeds): the prompt as the one user message of Qwen3's
 * chat template with the assistant's turn opened and thinking switched off,
 *
 *   <|im_start|>user\n{prompt}<|im_end|>\n<|im_start|>assistant\n<think>\n\n</think>\n\n
 *
 * tokenized (bbpe.h), cut to the first len tokens, then right-padded to len with <|endoftext|>
 * (the pad token); the mask is 1 for each token of the text, 0 for padding. */
#ifndef IMGAPI_ENGINE_MODELS_FLUX2_PROMPT_H
#define IMGAPI_ENGINE_MODELS_FLUX2_PROMPT_H
#include "engine/text/bbpe.h"
#include <stdint.h>

#define FLUX2_TEXT_LEN 512 /* the pipeline's max_sequence_length */

/* ids[len] and mask[len] (both the caller's) for prompt; *used (may be NULL) gets the number of
 * text tokens before padding, *total (may be NULL) the number the template made before any cut.
 * IMG_EFORMAT when the tokenizer lacks the template's tokens, IMG_ENOMEM. */
int flux2_prompt_tokens(const bbpe_t *t, const char *prompt, int len, int32_t *ids, int32_t *mask,
                        int *used, int *total);

#endif
