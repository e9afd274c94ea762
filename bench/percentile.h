/* Sorting and nearest-rank percentiles of int64 samples, shared by the latency benchmark's programs. */
#ifndef PGREPL_BENCH_PERCENTILE_H
#define PGREPL_BENCH_PERCENTILE_H

#include <stddef.h>
#include <stdint.h>

/* qsort comparison of int64_t values, ascending. */
static inline int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

/* Nearest-rank percentile P (0 < P <= 1) of N sorted values; 0 when empty. */
static inline int64_t pct(const int64_t *v, size_t n, double p)
{
    if (n == 0)
        return 0;
    size_t rank = (size_t)((double)n * p + 0.999999);
    if (rank < 1)
        rank = 1;
    if (rank > n)
        rank = n;
    return v[rank - 1];
}

#endif
