/* test_main.c - the unit test runner: every test_* function registered in tests.h runs once. */
#include "tests/unit/harness.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int th_failed_checks;

#define T(name) void name(void);
#include "tests/unit/tests.h"
#undef T

static const struct {
    const char *name;
    void (*fn)(void);
} TESTS[] = {
#define T(name) {#name, name},
#include "tests/unit/tests.h"
#undef T
};

int main(int argc, char **argv) {
    int passed = 0, failed = 0;
    for (size_t i = 0; i < sizeof TESTS / sizeof TESTS[0]; i++) {
        if (argc > 1 && !strstr(TESTS[i].name, argv[1])) continue;
        /* tests of the PostgreSQL backend need the server tests/run_all.sh starts */
        if (strstr(TESTS[i].name, "_pg_") && !getenv("IMGAPI_TEST_PG")) continue;
        int before = th_failed_checks;
        TESTS[i].fn();
        if (th_failed_checks == before) {
            passed++;
            printf("ok   %s\n", TESTS[i].name);
        } else {
            failed++;
            printf("FAIL %s\n", TESTS[i].name);
        }
    }
    printf("%d passed, %d failed\n", passed, failed);
    return failed ? 1 : 0;
}
