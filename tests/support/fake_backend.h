/* fake_backend.h - a deterministic test generator (tests only): draws a disc whose colours
 * derive from the prompt and seed, in 4 "steps" that honour cancellation. Behaviour knobs for
 * tests, from the environment:
 *   IMGAPI_TEST_STEP_MS   milliseconds each step sleeps (default 0)
 *   a prompt containing "[fail]" makes generation fail (tests the 502 path).
 * An edit returns its input with the colours inverted; with more images (a multi-image edit),
 * the top-left 16 x 16 pixels are the mean colour of the last one, so tests can see that every
 * image arrived. */
#ifndef IMGAPI_TESTS_FAKE_BACKEND_H
#define IMGAPI_TESTS_FAKE_BACKEND_H
#include "queue/generator.h"

const gen_backend_t *fake_backend(void);

#endif
