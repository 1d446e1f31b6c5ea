/* pricing.h - price table (micro-dollars per image) and OpenAI-style token accounting. */
#ifndef IMGAPI_API_PRICING_H
#define IMGAPI_API_PRICING_H
#include "api/params.h"
#include <stdint.h>

/* The highest price one image may be given ($10,000): n images of it stay far inside 64 bits. */
#define PRICE_MAX_MICRO 10000000000LL

typedef struct {
    /* [quality LOW..HIGH][size 1024x1024, 1536x1024, 1024x1536], micro-dollars per image */
    int64_t micro[QUALITY_COUNT][SIZE_COUNT];
    int64_t input_image; /* per input image of an edit (SPEC §11) */
} price_table_t;

/* OpenAI's list prices for gpt-image-1-mini (SPEC section 6). */
void price_table_default(price_table_t *t);
/* Cost of n images of a resolved quality and size (checked: INT64_MAX when it does not fit). */
int64_t price_cost(const price_table_t *t, api_quality_t q, api_size_t s, int n);
/* Image output tokens per image (OpenAI's published table for GPT image models). */
int price_output_tokens(api_quality_t q, api_size_t s);
/* Formats micro-dollars as dollars with 6 decimals into out. */
void price_format_usd(int64_t micro, char *out, int outlen);
/* Parses "12.34" dollars into micro-dollars; returns -1 when not a valid non-negative amount. */
int price_parse_usd(const char *s, int64_t *micro);

#endif
