/* harness.h - minimal assertions for the unit tests: a failed CHECK marks the test failed. */
#ifndef IMGAPI_TESTS_HARNESS_H
#define IMGAPI_TESTS_HARNESS_H
#include <stdio.h>

extern int th_failed_checks;

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            th_failed_checks++;                                                                    \
            fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond);               \
        }                                                                                          \
    } while (0)

#define CHECK_EQ_INT(a, b)                                                                         \
    do {                                                                                           \
        long long _a = (long long)(a), _b = (long long)(b);                                        \
        if (_a != _b) {                                                                            \
            th_failed_checks++;                                                                    \
            fprintf(stderr, "%s:%d: %s == %lld, expected %lld\n", __FILE__, __LINE__, #a, _a, _b); \
        }                                                                                          \
    } while (0)

#endif
