// The per-instruction-set entry points behind l2s_rowwise_product; arguments as documented in l2s_kernels.h.
#ifndef L2S_VARIANTS_H
#define L2S_VARIANTS_H

#include <stddef.h>

#if defined(__x86_64__) || defined(__i386__)
#define L2S_X86 1
#endif

void l2s_rowwise_baseline(
    const float *w, ptrdiff_t inputs, ptrdiff_t outputs, ptrdiff_t begin, ptrdiff_t end, const float *x,
    ptrdiff_t rows, float *y, int accumulate);

#ifdef L2S_X86
void l2s_rowwise_avx2(
    const float *w, ptrdiff_t inputs, ptrdiff_t outputs, ptrdiff_t begin, ptrdiff_t end, const float *x,
    ptrdiff_t rows, float *y, int accumulate);
void l2s_rowwise_avx512(
    const float *w, ptrdiff_t inputs, ptrdiff_t outputs, ptrdiff_t begin, ptrdiff_t end, const float *x,
    ptrdiff_t rows, float *y, int accumulate);
#endif

#endif
