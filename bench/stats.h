/* bench/stats.h: what the load generators share to time and rank their samples. */
#pragma once

#include <stddef.h>

/* The monotonic clock, in seconds. */
double bench_now(void);

/* Sorts n samples in place, ascending, for percentiles by index. */
void bench_sort(double *v, size_t n);
