// The per-instruction-set entry points behind l2s_rowwise_product(_half), and the exact scalar widenings of the
// 16-bit formats; arguments as documented in l2s_kernels.h.
#ifndef L2S_VARIANTS_H
#define L2S_VARIANTS_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#if defined(__x86_64__) || defined(__i386__)
#define L2S_X86 1
#endif

/// The arguments every entry point takes after its weights.
#define L2S_ROWWISE_ARGS                                                                                     \
    ptrdiff_t inputs, ptrdiff_t outputs, ptrdiff_t begin, ptrdiff_t end, const float *x, ptrdiff_t rows, float *y, \
        int accumulate

/// Declares the float32, float16 and bfloat16 entry points of one variant.
#define L2S_DECLARE_VARIANT(name)                         \
    void name(const float *w, L2S_ROWWISE_ARGS);          \
    void name##_f16(const uint16_t *w, L2S_ROWWISE_ARGS); \
    void name##_bf16(const uint16_t *w, L2S_ROWWISE_ARGS);

L2S_DECLARE_VARIANT(l2s_rowwise_baseline)
void l2s_widen_baseline(int bfloat, const uint16_t *w, ptrdiff_t count, float *out);
#ifdef L2S_X86
void l2s_widen_avx2(int bfloat, const uint16_t *w, ptrdiff_t count, float *out);
void l2s_widen_avx512(int bfloat, const uint16_t *w, ptrdiff_t count, float *out);
#endif
#ifdef L2S_X86
L2S_DECLARE_VARIANT(l2s_rowwise_avx2)
L2S_DECLARE_VARIANT(l2s_rowwise_avx512)
#endif

/// IEEE binary16 bits to float, exactly (subnormals, infinities and NaN payloads included).
static inline float l2s_float16_to_float(uint16_t h) {
    uint32_t sign = (uint32_t)(h & 0x8000u) << 16;
    uint32_t exponent = (h >> 10) & 0x1fu;
    uint32_t mantissa = h & 0x3ffu;
    uint32_t bits;
    if (exponent == 0) {
        float magnitude = (float)mantissa * 0x1p-24f;  // exact: mantissa < 2^10
        return sign ? -magnitude : magnitude;
    } else if (exponent == 0x1f) {
        bits = sign | 0x7f800000u | (mantissa << 13);
    } else {
        bits = sign | ((exponent + 112u) << 23) | (mantissa << 13);
    }
    float value;
    memcpy(&value, &bits, sizeof value);
    return value;
}

/// bfloat16 bits (the upper half of a float32) to float, exactly.
static inline float l2s_bfloat16_to_float(uint16_t h) {
    uint32_t bits = (uint32_t)h << 16;
    float value;
    memcpy(&value, &bits, sizeof value);
    return value;
}

#endif
