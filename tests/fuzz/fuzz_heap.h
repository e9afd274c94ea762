/*
 * What every fuzz target shares: CHECK (a broken promise aborts, which
 * libFuzzer reports as a crash) and the failing, counting allocator the
 * library is given at start-up: with heap.period p != 0 the k-th
 * allocation since the input started (heap.calls) fails when k % p == 0.
 * A target includes this once, sets heap.period from its input's header
 * and resets heap.calls and heap.failed per input.
 */
#ifndef PGREPL_FUZZ_HEAP_H
#define PGREPL_FUZZ_HEAP_H

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pgrepl/common.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond) ((cond) ? (void)0 : check_failed(__FILE__, #cond, __LINE__))

__attribute__((noreturn)) static void check_failed(const char *file, const char *what, int line)
{
    const char *base = strrchr(file, '/');
    fprintf(stderr, "%s:%d: check failed: %s\n", base != NULL ? base + 1 : file, line, what);
    abort();
}

static struct {
    unsigned long calls;  /* allocation calls since the input started */
    unsigned period;      /* from the input's header */
    unsigned long failed; /* failures injected so far */
    long live;            /* allocations not yet freed */
} heap;

static bool fail_now(void)
{
    heap.calls++;
    if (heap.period == 0 || heap.calls % heap.period != 0)
        return false;
    heap.failed++;
    return true;
}

static void *fz_malloc(size_t n)
{
    if (fail_now())
        return NULL;
    void *p = malloc(n);
    if (p != NULL)
        heap.live++;
    return p;
}

static void *fz_realloc(void *p, size_t n)
{
    if (fail_now())
        return NULL;
    void *q = realloc(p, n);
    if (q != NULL && p == NULL)
        heap.live++;
    return q;
}

static void fz_free(void *p)
{
    if (p != NULL)
        heap.live--;
    free(p);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    static const pgrepl_allocator failing = {fz_malloc, fz_realloc, fz_free};
    (void)argc;
    (void)argv;
    pgrepl_set_allocator(&failing);
    return 0;
}

#endif
