/*
 * hist.c - pgstate-bench's latency histogram; see hist.h.
 */
#include "hist.h"

static int msb64(uint64_t v) {
#if defined(__GNUC__) || defined(__clang__)
    return 63 - __builtin_clzll(v);
#else
    int m = 0;
    while (v >>= 1) m++;
    return m;
#endif
}

static unsigned h_index(uint64_t v) {
    if (v > H_MAX_VALUE) v = H_MAX_VALUE;
    if (v < H_SUB) return (unsigned)v;
    int shift = msb64(v) - (H_SUB_BITS - 1); /* >= 1; v >> shift in [128, 255] */
    return H_SUB + (unsigned)(shift - 1) * H_HALF + (unsigned)((v >> shift) - H_HALF);
}

/* Highest value that lands in bucket i. */
static uint64_t h_bucket_high(unsigned i) {
    if (i < H_SUB) return i;
    unsigned shift = (i - H_SUB) / H_HALF + 1;
    uint64_t sub = (i - H_SUB) % H_HALF + H_HALF;
    return ((sub + 1) << shift) - 1;
}

void h_record(hist *h, uint64_t v) {
    if (v == 0) v = 1;
    h->buckets[h_index(v)]++;
    if (h->count == 0 || v < h->min) h->min = v;
    if (v > h->max) h->max = v;
    h->count++;
    h->sum += v;
}

void h_merge(hist *into, const hist *from) {
    if (from->count == 0) return;
    for (unsigned i = 0; i < H_BUCKETS; i++) into->buckets[i] += from->buckets[i];
    if (into->count == 0 || from->min < into->min) into->min = from->min;
    if (from->max > into->max) into->max = from->max;
    into->count += from->count;
    into->sum += from->sum;
}

/* Value at percentile p (0 < p <= 100), in ns: the upper edge of the bucket
   holding the ceil(p% * count)-th smallest value, never above the maximum. */
uint64_t h_percentile(const hist *h, double p) {
    if (h->count == 0) return 0;
    double want = p / 100.0 * (double)h->count;
    uint64_t rank = (uint64_t)want;
    if ((double)rank < want) rank++;
    if (rank < 1) rank = 1;
    if (rank > h->count) rank = h->count;
    uint64_t seen = 0;
    for (unsigned i = 0; i < H_BUCKETS; i++) {
        seen += h->buckets[i];
        if (seen >= rank) {
            uint64_t v = h_bucket_high(i);
            if (v > h->max) v = h->max;
            if (v < h->min) v = h->min;
            return v;
        }
    }
    return h->max;
}
