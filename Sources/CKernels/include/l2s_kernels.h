// Hand-written numeric kernels of l2s, compiled once per instruction set and chosen at run time (docs/kernels.md).
// Plain C with `target` attributes: no global -march flag, so one binary runs on every x86-64 and builds on arm64.
#ifndef L2S_KERNELS_H
#define L2S_KERNELS_H

#include <stddef.h>
#include <stdint.h>

/// Kernel variants, lowest first. The numbers are stable: with the weights, a variant fixes a decoder's bits.
enum {
    /// Portable C (SSE2 on x86-64, NEON on arm64), separate multiply and add.
    L2S_VARIANT_BASELINE = 0,
    /// AVX2 + FMA (+ F16C for float16 weights), 8 lanes.
    L2S_VARIANT_AVX2 = 1,
    /// AVX-512F, 16 lanes.
    L2S_VARIANT_AVX512 = 2,
};

/// 1 when this CPU and OS can run `variant`, else 0. The baseline is always supported.
int l2s_variant_supported(int variant);

/// y[b, j] = x[b, :] . w[j, :] (or y[b, j] += that value when `accumulate`) for rows b in [0, rows) and outputs
/// j in [begin, end); w is [outputs, inputs], x [rows, inputs], y [rows, outputs], all row-major.
/// Each value is summed in one order fixed by `variant` alone (never by `rows`, `begin` or `end`), so a row's
/// results do not depend on its batch-mates or on how outputs are split over threads.
/// `variant` must be supported (l2s_variant_supported); the caller checks.
void l2s_rowwise_product(
    int variant, const float *w, ptrdiff_t inputs, ptrdiff_t outputs, ptrdiff_t begin, ptrdiff_t end,
    const float *x, ptrdiff_t rows, float *y, int accumulate);

/// 16-bit weight formats the kernels widen in registers.
enum {
    /// IEEE 754 binary16.
    L2S_HALF_FLOAT16 = 0,
    /// bfloat16 (the upper half of a float32).
    L2S_HALF_BFLOAT16 = 1,
};

/// l2s_rowwise_product for weights stored as 16-bit `format` bits, widened to float32 in registers. Widening is
/// exact, so the results are bit-identical to l2s_rowwise_product on the widened weights, variant for variant.
void l2s_rowwise_product_half(
    int variant, int format, const uint16_t *w, ptrdiff_t inputs, ptrdiff_t outputs, ptrdiff_t begin,
    ptrdiff_t end, const float *x, ptrdiff_t rows, float *y, int accumulate);

/// Widens `count` 16-bit `format` values into float32, exactly (the same values in every variant).
void l2s_widen_half(int variant, int format, const uint16_t *w, ptrdiff_t count, float *out);

/// The int8 product of decoding steps and prompt passes (dynamic quantisation, as CTranslate2 runs int8): each input
/// row is quantised to int8 with its own scale (max|x| / 127, to nearest), multiplied by int8 weight rows in exact
/// int32 sums, and y[r, j] = (float(sum) * rowScale[r]) * scale[j] (or y += that). Exact integer sums and one
/// epilogue make the result the same in every variant, blocking and thread split. Inputs are padded to
/// l2s_int8_padded_inputs(inputs).

/// Inputs rounded up to the packed group (4).
ptrdiff_t l2s_int8_padded_inputs(ptrdiff_t inputs);
/// Bytes of the packed form of an [outputs, inputs] int8 matrix.
ptrdiff_t l2s_int8_packed_size(ptrdiff_t inputs, ptrdiff_t outputs);
/// Packs int8 weights w [outputs, inputs] (row-major) into `packed` (l2s_int8_packed_size bytes: blocks of 16
/// outputs x groups of 4 inputs, zero-padded) and writes each row's sum of weights to `sums` [outputs].
void l2s_int8_pack(const int8_t *w, ptrdiff_t inputs, ptrdiff_t outputs, int8_t *packed, int32_t *sums);
/// Quantises weights w [rows, inputs] to int8 levels q and one scale per row (max|row| / 127; the rule of
/// int8_gemm.c, shared with l2s_int8_quantize_rows). Returns -1, or the index of the first non-finite weight (then
/// nothing is written).
ptrdiff_t l2s_int8_quantize_weights(const float *w, ptrdiff_t rows, ptrdiff_t inputs, int8_t *q, float *scales);
/// Quantises x [rows, inputs] into q [rows, padded inputs] (each level + 128, as unsigned bytes; padding is level 0)
/// and rowScales [rows]. Every variant gives the same bytes (AVX-512 computes 16 at a time where the int8 product is
/// accelerated).
void l2s_int8_quantize_rows(
    int variant, const float *x, ptrdiff_t rows, ptrdiff_t inputs, uint8_t *q, float *rowScales);
/// The kernels of the int8 product; every one gives the same bits.
enum {
    /// Portable C.
    L2S_INT8_PORTABLE = 0,
    /// AVX2 `vpmaddubsw` on |level| and sign-moved weights.
    L2S_INT8_AVX2 = 1,
    /// AVX-512 VNNI `vpdpbusd`.
    L2S_INT8_VNNI = 2,
};
/// The int8 product kernel `variant` runs on this CPU (`variant` must be supported).
int l2s_int8_gemm_kernel(int variant);
/// y[r, j] for rows [0, rows) and outputs [begin, end) (begin a multiple of 16); `variant` must be supported.
void l2s_int8_gemm(
    int variant, const uint8_t *q, const float *rowScales, ptrdiff_t rows, const int8_t *packed,
    const int32_t *sums, const float *scales, ptrdiff_t inputs, ptrdiff_t outputs, ptrdiff_t begin, ptrdiff_t end,
    float *y, int accumulate);

#endif
