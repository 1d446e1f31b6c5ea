/* pricing.c - what a request costs and how many tokens it reports. */
#include "api/pricing.h"
#include <ctype.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

void price_table_default(price_table_t *t) {
    memset(t, 0, sizeof *t);
    static const int64_t def[3][3] = {
        {5000, 6000, 6000}, {11000, 15000, 15000}, {36000, 52000, 52000}};
    for (int q = 0; q < 3; q++)
        for (int s = 0; s < 3; s++)
            t->micro[QUALITY_LOW + q][SIZE_1024x1024 + s] = def[q][s];
    t->input_image = 1000; /* $0.001 an input image of an edit */
}

int64_t price_cost(const price_table_t *t, api_quality_t q, api_size_t s, int n) {
    int64_t cost;
    if (n < 0 || t->micro[q][s] < 0 || __builtin_mul_overflow(t->micro[q][s], (int64_t)n, &cost))
        return INT64_MAX; /* more than any balance can hold: refused as insufficient credits */
    return cost;
}

int price_output_tokens(api_quality_t q, api_size_t s) {
    static const int tok[3][3] = {{272, 400, 408}, {1056, 1568, 1584}, {4160, 6208, 6240}};
    if (q < QUALITY_LOW || s < SIZE_1024x1024) return 0;
    return tok[q - QUALITY_LOW][s - SIZE_1024x1024];
}

void price_format_usd(int64_t micro, char *out, int outlen) {
    const char *sign = micro < 0 ? "-" : "";
    int64_t a = micro < 0 ? -micro : micro;
    snprintf(out, (size_t)outlen, "%s%lld.%06lld", sign, (long long)(a / 1000000),
             (long long)(a % 1000000));
}

int price_parse_usd(const char *s, int64_t *micro) {
    int64_t whole = 0, frac = 0;
    int fd = 0, digits = 0;
    const char *p = s;
    while (isdigit((unsigned char)*p)) {
        whole = whole * 10 + (*p++ - '0');
        if (whole > 1000000000000LL)
            return -1; /* over a trillion dollars: micro-dollars overflow */
        digits++;
    }
    if (*p == '.') {
        p++;
        while (isdigit((unsigned char)*p)) {
            if (fd < 6) {
                frac = frac * 10 + (*p - '0');
                fd++;
            } else if (*p != '0') {
                return -1; /* finer than a micro-dollar */
            }
            p++;
            digits++;
        }
    }
    if (*p || !digits) return -1;
    while (fd < 6) {
        frac *= 10;
        fd++;
    }
    *micro = whole * 1000000 + frac;
    return 0;
}
