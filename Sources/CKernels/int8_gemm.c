// The int8 product of decoding steps and prompt passes (l2s_kernels.h): rows quantised to int8 on the fly, weights
// packed once at load, int32 sums, one float epilogue. Integer sums are exact, so every variant and every blocking
// gives the same int32 and, through the same float epilogue, the same bits: the result depends on the weights and the
// row alone. Kernels: AVX-512 VNNI and AVX2 (`vpmaddubsw`) in int8_gemm_x86.c, portable C here.
#include "l2s_kernels.h"
#include "int8_variants.h"
#include "variants.h"

#include <math.h>
#include <stdlib.h>

#ifdef L2S_X86
#include <immintrin.h>
#endif

// The quantisation and epilogue multiply where the source says so: never fused, so every variant rounds alike.
#pragma STDC FP_CONTRACT OFF

ptrdiff_t l2s_int8_padded_inputs(ptrdiff_t inputs) { return (inputs + PACK_INPUTS - 1) / PACK_INPUTS * PACK_INPUTS; }

ptrdiff_t l2s_int8_packed_size(ptrdiff_t inputs, ptrdiff_t outputs) {
    ptrdiff_t blocks = (outputs + PACK_OUTPUTS - 1) / PACK_OUTPUTS;
    return blocks * PACK_OUTPUTS * l2s_int8_padded_inputs(inputs);
}

void l2s_int8_pack(const int8_t *w, ptrdiff_t inputs, ptrdiff_t outputs, int8_t *packed, int32_t *sums) {
    ptrdiff_t padded = l2s_int8_padded_inputs(inputs);
    ptrdiff_t groups = padded / PACK_INPUTS;
    ptrdiff_t blocks = (outputs + PACK_OUTPUTS - 1) / PACK_OUTPUTS;
    for (ptrdiff_t block = 0; block < blocks; block++) {
        for (ptrdiff_t group = 0; group < groups; group++) {
            int8_t *out = packed + (block * groups + group) * PACK_OUTPUTS * PACK_INPUTS;
            for (int lane = 0; lane < PACK_OUTPUTS; lane++) {
                ptrdiff_t j = block * PACK_OUTPUTS + lane;
                for (int i = 0; i < PACK_INPUTS; i++) {
                    ptrdiff_t k = group * PACK_INPUTS + i;
                    out[lane * PACK_INPUTS + i] = j < outputs && k < inputs ? w[j * inputs + k] : 0;
                }
            }
        }
    }
    for (ptrdiff_t j = 0; j < outputs; j++) {
        int32_t sum = 0;
        for (ptrdiff_t k = 0; k < inputs; k++) sum += w[j * inputs + k];
        sums[j] = sum;
    }
}

// Quantisation, of weight rows at load and of input rows per product, one rule for both: scale = max|v| / 127 (0 for
// an all-zero row), level = v * (127 / max) clamped to [-127, 127] and rounded to nearest, ties to even, by adding
// and removing 1.5 * 2^23 (no fraction bit survives; exact for |v| < 2^22). NaN levels, and every level of a row
// whose maximum is infinite, are 0. Each operation rounds once (no fusing), so any compiler or ISA gives the same.

/// The largest of `largest` and the magnitudes of `count` values; NaN never wins.
static inline float largest_magnitude(const float *values, ptrdiff_t count, float largest) {
    for (ptrdiff_t k = 0; k < count; k++) {
        float magnitude = fabsf(values[k]);
        largest = magnitude > largest ? magnitude : largest;
    }
    return largest;
}

/// 127 / largest, or 0 for an all-zero row.
static inline float inverse_scale(float largest) { return largest > 0 ? 127.0f / largest : 0.0f; }

/// The level of one value.
static inline int32_t level(float value, float inverse) {
    float scaled = value * inverse;
    scaled = scaled == scaled ? (scaled > 127.0f ? 127.0f : (scaled < -127.0f ? -127.0f : scaled)) : 0.0f;
    return (int32_t)((scaled + 12582912.0f) - 12582912.0f);
}

/// A quantised row's bytes from input `from` on: each level + 128, then the padding up to `padded` (level 0).
static inline void store_levels(
    const float *row, ptrdiff_t from, ptrdiff_t inputs, ptrdiff_t padded, float inverse, uint8_t *out) {
    for (ptrdiff_t k = from; k < inputs; k++) out[k] = (uint8_t)(level(row[k], inverse) + 128);
    for (ptrdiff_t k = inputs; k < padded; k++) out[k] = 128;
}

ptrdiff_t l2s_int8_quantize_weights(const float *w, ptrdiff_t rows, ptrdiff_t inputs, int8_t *q, float *scales) {
    for (ptrdiff_t index = 0; index < rows * inputs; index++) {
        if (!isfinite(w[index])) return index;
    }
    for (ptrdiff_t r = 0; r < rows; r++) {
        const float *row = w + r * inputs;
        float largest = largest_magnitude(row, inputs, 0);
        float inverse = inverse_scale(largest);
        scales[r] = largest / 127.0f;
        for (ptrdiff_t k = 0; k < inputs; k++) q[r * inputs + k] = (int8_t)level(row[k], inverse);
    }
    return -1;
}

#ifdef L2S_X86
/// The rows' levels with AVX-512: the same operations as `level`, 16 at a time, so the same bytes (each rounds
/// once, and a maximum does not depend on the order it is taken in).
static __attribute__((target("avx512f,avx512bw"))) void quantize_rows_avx512(
    const float *x, ptrdiff_t rows, ptrdiff_t inputs, uint8_t *q, float *scales) {
    ptrdiff_t padded = l2s_int8_padded_inputs(inputs);
    const __m512 limit = _mm512_set1_ps(127.0f), magic = _mm512_set1_ps(12582912.0f);
    for (ptrdiff_t r = 0; r < rows; r++) {
        const float *row = x + r * inputs;
        uint8_t *out = q + r * padded;
        __m512 largest = _mm512_setzero_ps();
        ptrdiff_t k = 0;
        for (; k + 16 <= inputs; k += 16) {
            __m512 magnitude = _mm512_abs_ps(_mm512_loadu_ps(row + k));
            // NaN never wins: keep `largest` where the comparison is unordered.
            largest = _mm512_mask_mov_ps(largest, _mm512_cmp_ps_mask(magnitude, largest, _CMP_GT_OQ), magnitude);
        }
        float top = _mm512_reduce_max_ps(largest);
        top = largest_magnitude(row + k, inputs - k, top);
        float inverse = inverse_scale(top);
        scales[r] = top / 127.0f;
        const __m512 scale = _mm512_set1_ps(inverse);
        for (k = 0; k + 16 <= inputs; k += 16) {
            __m512 scaled = _mm512_mul_ps(_mm512_loadu_ps(row + k), scale);
            __mmask16 ordered = _mm512_cmp_ps_mask(scaled, scaled, _CMP_ORD_Q);
            scaled = _mm512_maskz_mov_ps(ordered, scaled);
            scaled = _mm512_min_ps(_mm512_max_ps(scaled, _mm512_sub_ps(_mm512_setzero_ps(), limit)), limit);
            __m512i levels = _mm512_cvttps_epi32(_mm512_sub_ps(_mm512_add_ps(scaled, magic), magic));
            levels = _mm512_add_epi32(levels, _mm512_set1_epi32(128));
            _mm_storeu_si128((__m128i *)(out + k), _mm512_cvtepi32_epi8(levels));
        }
        store_levels(row, k, inputs, padded, inverse, out);
    }
}

/// The same with AVX2, 8 at a time: the same operations, so the same bytes.
static __attribute__((target("avx2"))) void quantize_rows_avx2(
    const float *x, ptrdiff_t rows, ptrdiff_t inputs, uint8_t *q, float *scales) {
    ptrdiff_t padded = l2s_int8_padded_inputs(inputs);
    const __m256 limit = _mm256_set1_ps(127.0f), magic = _mm256_set1_ps(12582912.0f);
    const __m256 signless = _mm256_castsi256_ps(_mm256_set1_epi32(0x7fffffff));
    for (ptrdiff_t r = 0; r < rows; r++) {
        const float *row = x + r * inputs;
        uint8_t *out = q + r * padded;
        __m256 largest = _mm256_setzero_ps();
        ptrdiff_t k = 0;
        for (; k + 8 <= inputs; k += 8) {
            __m256 magnitude = _mm256_and_ps(_mm256_loadu_ps(row + k), signless);
            // NaN never wins: keep `largest` where the comparison is unordered.
            largest = _mm256_blendv_ps(largest, magnitude, _mm256_cmp_ps(magnitude, largest, _CMP_GT_OQ));
        }
        float lanes[8];
        _mm256_storeu_ps(lanes, largest);
        float top = 0;
        for (int lane = 0; lane < 8; lane++) top = lanes[lane] > top ? lanes[lane] : top;
        top = largest_magnitude(row + k, inputs - k, top);
        float inverse = inverse_scale(top);
        scales[r] = top / 127.0f;
        const __m256 scale = _mm256_set1_ps(inverse);
        for (k = 0; k + 8 <= inputs; k += 8) {
            __m256 scaled = _mm256_mul_ps(_mm256_loadu_ps(row + k), scale);
            scaled = _mm256_and_ps(scaled, _mm256_cmp_ps(scaled, scaled, _CMP_ORD_Q));
            scaled = _mm256_min_ps(_mm256_max_ps(scaled, _mm256_sub_ps(_mm256_setzero_ps(), limit)), limit);
            __m256i levels = _mm256_cvttps_epi32(_mm256_sub_ps(_mm256_add_ps(scaled, magic), magic));
            int32_t values[8];
            _mm256_storeu_si256((__m256i *)values, levels);
            for (int lane = 0; lane < 8; lane++) out[k + lane] = (uint8_t)(values[lane] + 128);
        }
        store_levels(row, k, inputs, padded, inverse, out);
    }
}
#endif

void l2s_int8_quantize_rows(
    int variant, const float *x, ptrdiff_t rows, ptrdiff_t inputs, uint8_t *q, float *scales) {
#ifdef L2S_X86
    switch (l2s_int8_gemm_kernel(variant)) {
    case L2S_INT8_VNNI: quantize_rows_avx512(x, rows, inputs, q, scales); return;
    case L2S_INT8_AVX2: quantize_rows_avx2(x, rows, inputs, q, scales); return;
    default: break;
    }
#endif
    ptrdiff_t padded = l2s_int8_padded_inputs(inputs);
    for (ptrdiff_t r = 0; r < rows; r++) {
        const float *row = x + r * inputs;
        uint8_t *out = q + r * padded;
        float largest = largest_magnitude(row, inputs, 0);
        float inverse = inverse_scale(largest);
        scales[r] = largest / 127.0f;
        store_levels(row, 0, inputs, padded, inverse, out);
    }
}

/// Portable sums over the packed layout: exact int32, so the same as any other variant's.
static void int8_gemm_portable(
    const uint8_t *q, const float *rowScales, ptrdiff_t rows, const int8_t *packed, const int32_t *sums,
    const float *scales, ptrdiff_t inputs, ptrdiff_t outputs, ptrdiff_t begin, ptrdiff_t end, float *y,
    int accumulate) {
    ptrdiff_t padded = l2s_int8_padded_inputs(inputs);
    ptrdiff_t groups = padded / PACK_INPUTS;
    for (ptrdiff_t r = 0; r < rows; r++) {
        const uint8_t *row = q + r * padded;
        for (ptrdiff_t j = begin; j < end; j++) {
            const int8_t *block = packed + (j / PACK_OUTPUTS) * groups * PACK_OUTPUTS * PACK_INPUTS;
            int lane = (int)(j % PACK_OUTPUTS);
            int32_t sum = 0;
            for (ptrdiff_t g = 0; g < groups; g++) {
                const int8_t *w = block + g * PACK_OUTPUTS * PACK_INPUTS + lane * PACK_INPUTS;
                for (int i = 0; i < PACK_INPUTS; i++) sum += (int32_t)row[g * PACK_INPUTS + i] * w[i];
            }
            float value = epilogue(sum - 128 * sums[j], rowScales[r], scales[j]);
            y[r * outputs + j] = accumulate ? y[r * outputs + j] + value : value;
        }
    }
}

int l2s_int8_gemm_kernel(int variant) {
#ifdef L2S_X86
    __builtin_cpu_init();
    int vnni = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw")
        && __builtin_cpu_supports("avx512vnni");
    if (variant == L2S_VARIANT_AVX512 && vnni) return L2S_INT8_VNNI;
    if (variant == L2S_VARIANT_AVX2 || variant == L2S_VARIANT_AVX512) return L2S_INT8_AVX2;
#endif
    (void)variant;
    return L2S_INT8_PORTABLE;
}

void l2s_int8_gemm(
    int variant, const uint8_t *q, const float *rowScales, ptrdiff_t rows, const int8_t *packed,
    const int32_t *sums, const float *scales, ptrdiff_t inputs, ptrdiff_t outputs, ptrdiff_t begin, ptrdiff_t end,
    float *y, int accumulate) {
    switch (l2s_int8_gemm_kernel(variant)) {
#ifdef L2S_X86
    case L2S_INT8_VNNI:
        l2s_int8_gemm_vnni(q, rowScales, rows, packed, sums, scales, inputs, outputs, begin, end, y, accumulate);
        return;
    case L2S_INT8_AVX2:
        l2s_int8_gemm_avx2(q, rowScales, rows, packed, scales, inputs, outputs, begin, end, y, accumulate);
        return;
#endif
    default:
        int8_gemm_portable(q, rowScales, rows, packed, sums, scales, inputs, outputs, begin, end, y, accumulate);
        return;
    }
}
