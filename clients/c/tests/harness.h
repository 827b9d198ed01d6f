/*
 * harness.h - tiny test harness shared by the C tests (libc only).
 *
 *   CHECK(cond) / CHECKF(cond, fmt, ...) record a failure in the current test;
 *   RUN(fn) runs one test function and counts it as passed or failed;
 *   harness_summary() prints the closing "N passed, M failed" line and returns
 *   the process exit code.
 */
#ifndef PGSTATE_TEST_HARNESS_H
#define PGSTATE_TEST_HARNESS_H

#include <stdio.h>

static int h_passed, h_failed, h_cur_failures;
static const char *h_cur_name = "";

#define CHECKF(cond, ...)                                                                   \
    do {                                                                                    \
        if (!(cond)) {                                                                      \
            h_cur_failures++;                                                               \
            fprintf(stderr, "  FAIL [%s] %s:%d: %s: ", h_cur_name, __FILE__, __LINE__, #cond); \
            fprintf(stderr, __VA_ARGS__);                                                   \
            fprintf(stderr, "\n");                                                          \
        }                                                                                   \
    } while (0)

#define CHECK(cond) CHECKF(cond, "%s", "")

#define RUN(fn)                                                                             \
    do {                                                                                    \
        h_cur_name = #fn;                                                                   \
        h_cur_failures = 0;                                                                 \
        fn();                                                                               \
        if (h_cur_failures == 0) {                                                          \
            h_passed++;                                                                     \
            printf("ok   %s\n", #fn);                                                       \
        } else {                                                                            \
            h_failed++;                                                                     \
            printf("FAIL %s (%d checks failed)\n", #fn, h_cur_failures);                    \
        }                                                                                   \
        fflush(stdout);                                                                     \
    } while (0)

static inline int harness_summary(void) {
    (void)h_cur_name;
    (void)h_cur_failures;
    printf("%d passed, %d failed\n", h_passed, h_failed);
    return h_failed == 0 ? 0 : 1;
}

#endif /* PGSTATE_TEST_HARNESS_H */
