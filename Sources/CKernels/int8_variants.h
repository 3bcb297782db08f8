// The packed layout and epilogue shared by the int8 product's kernels (int8_gemm.c, int8_gemm_x86.c), and the x86
// entry points; arguments as documented in l2s_kernels.h.
#ifndef L2S_INT8_VARIANTS_H
#define L2S_INT8_VARIANTS_H

#include <stddef.h>
#include <stdint.h>

#include "variants.h"

/// Outputs per packed block: one 512-bit vector of int32 sums.
#define PACK_OUTPUTS 16
/// Inputs per packed group: the 4 bytes one VNNI lane multiplies and adds.
#define PACK_INPUTS 4

// The epilogue multiplies where the source says so: never fused, so every variant rounds alike.
#pragma STDC FP_CONTRACT OFF

/// y[r, j] (+)= float(sum) * rowScale * weightScale, sum = (q - 128) . w: the one epilogue of every variant.
static inline float epilogue(int32_t sum, float rowScale, float weightScale) {
    return ((float)sum * rowScale) * weightScale;
}

#ifdef L2S_X86
void l2s_int8_gemm_vnni(
    const uint8_t *q, const float *rowScales, ptrdiff_t rows, const int8_t *packed, const int32_t *sums,
    const float *scales, ptrdiff_t inputs, ptrdiff_t outputs, ptrdiff_t begin, ptrdiff_t end, float *y,
    int accumulate);
void l2s_int8_gemm_avx2(
    const uint8_t *q, const float *rowScales, ptrdiff_t rows, const int8_t *packed, const float *scales,
    ptrdiff_t inputs, ptrdiff_t outputs, ptrdiff_t begin, ptrdiff_t end, float *y, int accumulate);
#endif

#endif
