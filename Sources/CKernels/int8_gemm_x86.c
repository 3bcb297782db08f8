// The int8 product's x86 kernels (l2s_kernels.h, int8_gemm.c): AVX-512 VNNI and AVX2 sums over the packed layout,
// exact int32 and the epilogue of every variant, so the same bits as the portable loop. Compiled with `target`
// attributes and called only where the CPU has the instructions.
#include "int8_variants.h"
#include "l2s_kernels.h"

#ifdef L2S_X86
#include <immintrin.h>
#include <stdlib.h>

// Never fused, as in int8_gemm.c (the epilogue, in int8_variants.h, is compiled under the same pragma).
#pragma STDC FP_CONTRACT OFF

#define VNNI_ATTR __attribute__((target("avx512f,avx512bw,avx512vnni")))
/// Rows per register block and 16-output vectors per block: 8 x 3 accumulators + 3 weight vectors + 1 broadcast
/// row of the 32 zmm registers.
#define VNNI_ROWS 8
#define VNNI_VECTORS 3

/// Rows [r0, r0 + R) x vectors [block, block + C) of 16 outputs, R and C constants after inlining.
static inline __attribute__((always_inline)) VNNI_ATTR void vnni_block(
    int R, int C, const uint8_t *q, const float *rowScales, ptrdiff_t r0, const int8_t *packed,
    const int32_t *sums, const float *scales, ptrdiff_t groups, ptrdiff_t outputs, ptrdiff_t block, ptrdiff_t end,
    float *y, int accumulate) {
    __m512i acc[VNNI_ROWS][VNNI_VECTORS];
#pragma clang loop unroll(full)
    for (int r = 0; r < R; r++) {
#pragma clang loop unroll(full)
        for (int c = 0; c < C; c++) acc[r][c] = _mm512_setzero_si512();
    }
    const ptrdiff_t stride = groups * PACK_OUTPUTS * PACK_INPUTS;  // bytes per packed 16-output block
    const int8_t *w = packed + block * stride;
    const ptrdiff_t padded = groups * PACK_INPUTS;
    for (ptrdiff_t g = 0; g < groups; g++) {
        __m512i wv[VNNI_VECTORS];
#pragma clang loop unroll(full)
        for (int c = 0; c < C; c++) wv[c] = _mm512_loadu_si512(w + c * stride + g * PACK_OUTPUTS * PACK_INPUTS);
#pragma clang loop unroll(full)
        for (int r = 0; r < R; r++) {
            int32_t four;
            __builtin_memcpy(&four, q + (r0 + r) * padded + g * PACK_INPUTS, sizeof four);
            __m512i a = _mm512_set1_epi32(four);
#pragma clang loop unroll(full)
            for (int c = 0; c < C; c++) acc[r][c] = _mm512_dpbusd_epi32(acc[r][c], a, wv[c]);
        }
    }
    // Unrolled like the loops above, so the accumulators stay in registers (indexed at run time, they would live in
    // a stack array zeroed by memset on every call).
#pragma clang loop unroll(full)
    for (int c = 0; c < C; c++) {
        ptrdiff_t j = (block + c) * PACK_OUTPUTS;
        ptrdiff_t valid = end - j < PACK_OUTPUTS ? end - j : PACK_OUTPUTS;
        __mmask16 mask = (__mmask16)((1u << valid) - 1u);
        __m512i compensation = _mm512_slli_epi32(_mm512_maskz_loadu_epi32(mask, sums + j), 7);
        __m512 weightScales = _mm512_maskz_loadu_ps(mask, scales + j);
#pragma clang loop unroll(full)
        for (int r = 0; r < R; r++) {
            __m512 sum = _mm512_cvtepi32_ps(_mm512_sub_epi32(acc[r][c], compensation));
            __m512 value = _mm512_mul_ps(_mm512_mul_ps(sum, _mm512_set1_ps(rowScales[r0 + r])), weightScales);
            float *out = y + (r0 + r) * outputs + j;
            if (accumulate) value = _mm512_add_ps(_mm512_maskz_loadu_ps(mask, out), value);
            _mm512_mask_storeu_ps(out, mask, value);
        }
    }
}

/// Every row for vectors [block, block + C): blocks of 8 rows, then one of the remaining 1-7.
static inline __attribute__((always_inline)) VNNI_ATTR void vnni_rows(
    int C, const uint8_t *q, const float *rowScales, ptrdiff_t rows, const int8_t *packed, const int32_t *sums,
    const float *scales, ptrdiff_t groups, ptrdiff_t outputs, ptrdiff_t block, ptrdiff_t end, float *y,
    int accumulate) {
    ptrdiff_t r = 0;
#define VNNI_CALL(R) vnni_block(R, C, q, rowScales, r, packed, sums, scales, groups, outputs, block, end, y, accumulate)
    for (; r + VNNI_ROWS <= rows; r += VNNI_ROWS) VNNI_CALL(VNNI_ROWS);
    switch (rows - r) {
    case 7: VNNI_CALL(7); break;
    case 6: VNNI_CALL(6); break;
    case 5: VNNI_CALL(5); break;
    case 4: VNNI_CALL(4); break;
    case 3: VNNI_CALL(3); break;
    case 2: VNNI_CALL(2); break;
    case 1: VNNI_CALL(1); break;
    default: break;
    }
#undef VNNI_CALL
}

VNNI_ATTR void l2s_int8_gemm_vnni(
    const uint8_t *q, const float *rowScales, ptrdiff_t rows, const int8_t *packed, const int32_t *sums,
    const float *scales, ptrdiff_t inputs, ptrdiff_t outputs, ptrdiff_t begin, ptrdiff_t end, float *y,
    int accumulate) {
    ptrdiff_t groups = l2s_int8_padded_inputs(inputs) / PACK_INPUTS;
    ptrdiff_t block = begin / PACK_OUTPUTS;
    ptrdiff_t blocks = (end + PACK_OUTPUTS - 1) / PACK_OUTPUTS;
    for (; block + VNNI_VECTORS <= blocks; block += VNNI_VECTORS) {
        vnni_rows(VNNI_VECTORS, q, rowScales, rows, packed, sums, scales, groups, outputs, block, end, y, accumulate);
    }
    for (; block < blocks; block++) {
        vnni_rows(1, q, rowScales, rows, packed, sums, scales, groups, outputs, block, end, y, accumulate);
    }
}

#define AVX2_ATTR __attribute__((target("avx2")))
/// Rows per register block: 4 rows x 2 vectors (one packed block of 16 outputs) of 16 ymm registers.
#define AVX2_ROWS 4

/// Rows [r0, r0 + R) x the 16 outputs of packed block `block`, R a constant after inlining. `vpmaddubsw` multiplies
/// unsigned by signed bytes, so each row's levels enter as |level| (`magnitudes`) and their signs move onto the
/// weights (`vpsignb` by `levels`): pairs of products stay within 2 x 127 x 127 < 2^15, so no int16 saturates and the
/// int32 sums are exact, the same integers as the VNNI kernel's and the portable loop's (no +128 offset, hence no
/// compensation).
static inline __attribute__((always_inline)) AVX2_ATTR void avx2_block(
    int R, const int8_t *levels, const uint8_t *magnitudes, const float *rowScales, ptrdiff_t r0,
    const int8_t *packed, const float *scales, ptrdiff_t groups, ptrdiff_t outputs, ptrdiff_t block, ptrdiff_t end,
    float *y, int accumulate) {
    __m256i acc[AVX2_ROWS][2];
#pragma clang loop unroll(full)
    for (int r = 0; r < R; r++) acc[r][0] = acc[r][1] = _mm256_setzero_si256();
    const int8_t *w = packed + block * groups * PACK_OUTPUTS * PACK_INPUTS;
    const ptrdiff_t padded = groups * PACK_INPUTS;
    const __m256i ones = _mm256_set1_epi16(1);
    for (ptrdiff_t g = 0; g < groups; g++) {
        const __m256i low = _mm256_loadu_si256((const __m256i *)(w + g * PACK_OUTPUTS * PACK_INPUTS));
        const __m256i high = _mm256_loadu_si256((const __m256i *)(w + g * PACK_OUTPUTS * PACK_INPUTS + 32));
#pragma clang loop unroll(full)
        for (int r = 0; r < R; r++) {
            int32_t four, fourMagnitudes;
            __builtin_memcpy(&four, levels + (r0 + r) * padded + g * PACK_INPUTS, sizeof four);
            __builtin_memcpy(&fourMagnitudes, magnitudes + (r0 + r) * padded + g * PACK_INPUTS, sizeof four);
            const __m256i signs = _mm256_set1_epi32(four), magnitude = _mm256_set1_epi32(fourMagnitudes);
            __m256i pairs = _mm256_maddubs_epi16(magnitude, _mm256_sign_epi8(low, signs));
            acc[r][0] = _mm256_add_epi32(acc[r][0], _mm256_madd_epi16(pairs, ones));
            pairs = _mm256_maddubs_epi16(magnitude, _mm256_sign_epi8(high, signs));
            acc[r][1] = _mm256_add_epi32(acc[r][1], _mm256_madd_epi16(pairs, ones));
        }
    }
#pragma clang loop unroll(full)
    for (int half = 0; half < 2; half++) {
        ptrdiff_t j = block * PACK_OUTPUTS + half * 8;
        ptrdiff_t valid = end - j < 8 ? end - j : 8;
        if (valid <= 0) break;
#pragma clang loop unroll(full)
        for (int r = 0; r < R; r++) {
            int32_t sums[8];
            _mm256_storeu_si256((__m256i *)sums, acc[r][half]);
            float *out = y + (r0 + r) * outputs + j;
            for (ptrdiff_t lane = 0; lane < valid; lane++) {
                float value = epilogue(sums[lane], rowScales[r0 + r], scales[j + lane]);
                out[lane] = accumulate ? out[lane] + value : value;
            }
        }
    }
}

AVX2_ATTR void l2s_int8_gemm_avx2(
    const uint8_t *q, const float *rowScales, ptrdiff_t rows, const int8_t *packed, const float *scales,
    ptrdiff_t inputs, ptrdiff_t outputs, ptrdiff_t begin, ptrdiff_t end, float *y, int accumulate) {
    ptrdiff_t padded = l2s_int8_padded_inputs(inputs);
    ptrdiff_t groups = padded / PACK_INPUTS;
    ptrdiff_t blocks = (end + PACK_OUTPUTS - 1) / PACK_OUTPUTS;
    // Each row's levels as signed bytes and their magnitudes, once per call rather than once per block of outputs.
    int8_t *levels = malloc((size_t)(2 * rows * padded));
    if (!levels) abort();
    uint8_t *magnitudes = (uint8_t *)levels + rows * padded;
    const __m256i offset = _mm256_set1_epi8((char)0x80);
    for (ptrdiff_t i = 0; i < rows * padded; i += 32) {
        if (i + 32 <= rows * padded) {
            // level + 128 xor 0x80 is the level as a signed byte.
            __m256i v = _mm256_xor_si256(_mm256_loadu_si256((const __m256i *)(q + i)), offset);
            _mm256_storeu_si256((__m256i *)(levels + i), v);
            _mm256_storeu_si256((__m256i *)(magnitudes + i), _mm256_abs_epi8(v));
        } else {
            for (ptrdiff_t k = i; k < rows * padded; k++) {
                int8_t level = (int8_t)(q[k] ^ 0x80);
                levels[k] = level;
                magnitudes[k] = (uint8_t)(level < 0 ? -level : level);
            }
        }
    }
    for (ptrdiff_t block = begin / PACK_OUTPUTS; block < blocks; block++) {
        ptrdiff_t r = 0;
#define AVX2_CALL(R) \
    avx2_block(R, levels, magnitudes, rowScales, r, packed, scales, groups, outputs, block, end, y, accumulate)
        for (; r + AVX2_ROWS <= rows; r += AVX2_ROWS) AVX2_CALL(AVX2_ROWS);
        switch (rows - r) {
        case 3: AVX2_CALL(3); break;
        case 2: AVX2_CALL(2); break;
        case 1: AVX2_CALL(1); break;
        default: break;
        }
#undef AVX2_CALL
    }
    free(levels);
}
#endif
