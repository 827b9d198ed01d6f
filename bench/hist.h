/*
 * hist.h - pgstate-bench's latency histogram: HDR-style log buckets over
 * nanoseconds.  One per thread, merged at the end; no locking.
 */
#ifndef PGSTATE_BENCH_HIST_H
#define PGSTATE_BENCH_HIST_H

#include <stdint.h>

/*
 * Values below 256 ns get a bucket each; above, every power-of-two range
 * [2^m, 2^(m+1)) is split into 128 equal buckets, so a bucket is at most 1/128
 * (0.78%) of its values wide.  Covers 1 ns .. 2^37 ns (137 s); larger values
 * are clamped into the last bucket (the exact maximum is kept separately).
 */
#define H_SUB_BITS 8
#define H_SUB (1u << H_SUB_BITS)  /* 256 */
#define H_HALF (H_SUB / 2)        /* 128 */
#define H_MAX_BITS 37
#define H_BUCKETS (H_SUB + (H_MAX_BITS - H_SUB_BITS) * H_HALF)
#define H_MAX_VALUE ((1ull << H_MAX_BITS) - 1)

typedef struct hist {
    uint64_t count;
    uint64_t min;
    uint64_t max;
    uint64_t sum; /* for the mean (ns); fine until 584 years of latency */
    uint64_t buckets[H_BUCKETS];
} hist;

/* Counts one value (ns; 0 counts as 1). */
void h_record(hist *h, uint64_t v);
/* Adds every count of from into into. */
void h_merge(hist *into, const hist *from);
/* Value at percentile p (0 < p <= 100), in ns; 0 for an empty histogram. */
uint64_t h_percentile(const hist *h, double p);

#endif
