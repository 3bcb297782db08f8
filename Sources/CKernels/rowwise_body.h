// The register-blocked row-wise product, written once and instantiated per instruction set and weight format by
// rowwise_*.c, which define before including it:
//   ROWWISE_ATTR      the function attribute selecting the instruction set (empty for the baseline)
//   VEC, LANES        the vector type and its float count
//   VZERO() VLOAD(p) VSTORE(p, v) VMADD(acc, a, b)   zero, unaligned load/store, acc + a * b (fused or not)
//   BLOCK_OUTPUTS     outputs per block (4 rows x BLOCK_OUTPUTS accumulators must fit the register file)
// and, for each inclusion (undefined again at the end of this file):
//   ROWWISE_NAME      the entry point's name
//   WEIGHT            the stored weight type (float, or uint16_t for float16/bfloat16 bits)
//   WLOAD(p)          LANES weights at p widened to a VEC; WSCALAR(p) one weight at p widened to a float
// Widening float16 and bfloat16 to float32 is exact, so a half-precision weight gives the very bits its widened
// float32 copy gives, in every variant.
//
// Summation order of one value y[b, j] (the same in every block shape, hence batch-invariant): lane l of one
// accumulator takes x[k] * w[k] for k = l, l + LANES, ... in increasing k up to the last whole vector; the lanes
// are then folded in halves (l += l + LANES/2, ..., down to one); the scalar tail k >= that is added last, in order.
// A block only decides which (row, output) pairs share the loads of one pass over k: each weight vector is loaded
// once per 4 rows, each input vector once per BLOCK_OUTPUTS outputs.

#ifndef L2S_ROWWISE_COMMON
#define L2S_ROWWISE_COMMON

// Separate multiply and add where the source says so (the tails, the baseline): no silent fusing by the compiler.
#pragma STDC FP_CONTRACT OFF

#define BLOCK_ROWS 4
#define L2S_PASTE2(a, b) a##_##b
#define L2S_PASTE(a, b) L2S_PASTE2(a, b)
/// A helper's name local to one inclusion.
#define LOCAL(name) L2S_PASTE(ROWWISE_NAME, name)

/// The fixed fold of one accumulator's lanes to a float.
static inline __attribute__((always_inline)) float fold(float *lanes) {
    for (int width = LANES / 2; width >= 1; width /= 2) {
        for (int i = 0; i < width; i++) lanes[i] = lanes[i] + lanes[i + width];
    }
    return lanes[0];
}

#endif

/// Rows [b0, b0 + R) x outputs [j0, j0 + C); R and C are constants after inlining, so the accumulators live in
/// registers.
static inline __attribute__((always_inline)) ROWWISE_ATTR void LOCAL(block)(
    int R, int C, const WEIGHT *w, ptrdiff_t inputs, ptrdiff_t outputs, ptrdiff_t j0,
    const float *x, ptrdiff_t b0, float *y, int accumulate) {
    VEC acc[BLOCK_ROWS][BLOCK_OUTPUTS];
#pragma clang loop unroll(full)
    for (int r = 0; r < R; r++) {
#pragma clang loop unroll(full)
        for (int c = 0; c < C; c++) acc[r][c] = VZERO();
    }
    const ptrdiff_t vectorEnd = inputs - inputs % LANES;
    const WEIGHT *wj = w + j0 * inputs;  // [C, inputs]
    const float *xb = x + b0 * inputs;  // [R, inputs]
    // The next block's weight rows are requested while this block computes: once the FMAs fill the out-of-order
    // window, the hardware prefetcher alone no longer keeps enough reads in flight to stay at memory bandwidth.
    const WEIGHT *next = j0 + 2 * C <= outputs ? wj + C * inputs : wj;
    for (ptrdiff_t k = 0; k < vectorEnd; k += LANES) {
        VEC wv[BLOCK_OUTPUTS];
#pragma clang loop unroll(full)
        for (int c = 0; c < C; c++) {
            __builtin_prefetch(next + c * inputs + k, 0, 2);
            wv[c] = WLOAD(wj + c * inputs + k);
        }
#pragma clang loop unroll(full)
        for (int r = 0; r < R; r++) {
            VEC xv = VLOAD(xb + r * inputs + k);
#pragma clang loop unroll(full)
            for (int c = 0; c < C; c++) acc[r][c] = VMADD(acc[r][c], xv, wv[c]);
        }
    }
    for (int r = 0; r < R; r++) {
        for (int c = 0; c < C; c++) {
            float lanes[LANES];
            VSTORE(lanes, acc[r][c]);
            float total = fold(lanes);
            const float *xr = xb + r * inputs;
            const WEIGHT *wc = wj + c * inputs;
            for (ptrdiff_t k = vectorEnd; k < inputs; k++) total = total + xr[k] * WSCALAR(wc + k);
            float *out = y + (b0 + r) * outputs + j0 + c;
            *out = accumulate ? *out + total : total;
        }
    }
}

/// Every row for outputs [j0, j0 + C): blocks of 4 rows, then one block of the remaining 1-3.
static inline __attribute__((always_inline)) ROWWISE_ATTR void LOCAL(all_rows)(
    int C, const WEIGHT *w, ptrdiff_t inputs, ptrdiff_t outputs, ptrdiff_t j0, const float *x,
    ptrdiff_t rows, float *y, int accumulate) {
    ptrdiff_t b = 0;
    for (; b + BLOCK_ROWS <= rows; b += BLOCK_ROWS) {
        LOCAL(block)(BLOCK_ROWS, C, w, inputs, outputs, j0, x, b, y, accumulate);
    }
    switch (rows - b) {
    case 3: LOCAL(block)(3, C, w, inputs, outputs, j0, x, b, y, accumulate); break;
    case 2: LOCAL(block)(2, C, w, inputs, outputs, j0, x, b, y, accumulate); break;
    case 1: LOCAL(block)(1, C, w, inputs, outputs, j0, x, b, y, accumulate); break;
    default: break;
    }
}

ROWWISE_ATTR void ROWWISE_NAME(
    const WEIGHT *w, ptrdiff_t inputs, ptrdiff_t outputs, ptrdiff_t begin, ptrdiff_t end,
    const float *x, ptrdiff_t rows, float *y, int accumulate) {
    ptrdiff_t j = begin;
    for (; j + BLOCK_OUTPUTS <= end; j += BLOCK_OUTPUTS) {
        LOCAL(all_rows)(BLOCK_OUTPUTS, w, inputs, outputs, j, x, rows, y, accumulate);
    }
    for (; j < end; j++) LOCAL(all_rows)(1, w, inputs, outputs, j, x, rows, y, accumulate);
}

#undef ROWWISE_NAME
#undef WEIGHT
#undef WLOAD
#undef WSCALAR
