// Run-time choice between the kernel variants. The variant is passed in by the caller (Swift resolves it once per
// process, honouring L2S_ISA), so tests can run every supported variant in one process.
#include "l2s_kernels.h"
#include "variants.h"

int l2s_variant_supported(int variant) {
    switch (variant) {
    case L2S_VARIANT_BASELINE:
        return 1;
#ifdef L2S_X86
    case L2S_VARIANT_AVX2:
        // __builtin_cpu_supports also checks that the OS saves the wide registers (XGETBV).
        __builtin_cpu_init();
        return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") && __builtin_cpu_supports("f16c");
    case L2S_VARIANT_AVX512:
        __builtin_cpu_init();
        return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")
            && __builtin_cpu_supports("f16c");
#endif
    default:
        return 0;
    }
}

void l2s_rowwise_product(
    int variant, const float *w, ptrdiff_t inputs, ptrdiff_t outputs, ptrdiff_t begin, ptrdiff_t end,
    const float *x, ptrdiff_t rows, float *y, int accumulate) {
    switch (variant) {
#ifdef L2S_X86
    case L2S_VARIANT_AVX2:
        l2s_rowwise_avx2(w, inputs, outputs, begin, end, x, rows, y, accumulate);
        return;
    case L2S_VARIANT_AVX512:
        l2s_rowwise_avx512(w, inputs, outputs, begin, end, x, rows, y, accumulate);
        return;
#endif
    default:
        l2s_rowwise_baseline(w, inputs, outputs, begin, end, x, rows, y, accumulate);
        return;
    }
}

void l2s_rowwise_product_half(
    int variant, int format, const uint16_t *w, ptrdiff_t inputs, ptrdiff_t outputs, ptrdiff_t begin,
    ptrdiff_t end, const float *x, ptrdiff_t rows, float *y, int accumulate) {
    int bfloat = format == L2S_HALF_BFLOAT16;
    switch (variant) {
#ifdef L2S_X86
    case L2S_VARIANT_AVX2:
        (bfloat ? l2s_rowwise_avx2_bf16 : l2s_rowwise_avx2_f16)(
            w, inputs, outputs, begin, end, x, rows, y, accumulate);
        return;
    case L2S_VARIANT_AVX512:
        (bfloat ? l2s_rowwise_avx512_bf16 : l2s_rowwise_avx512_f16)(
            w, inputs, outputs, begin, end, x, rows, y, accumulate);
        return;
#endif
    default:
        (bfloat ? l2s_rowwise_baseline_bf16 : l2s_rowwise_baseline_f16)(
            w, inputs, outputs, begin, end, x, rows, y, accumulate);
        return;
    }
}

void l2s_widen_half(int variant, int format, const uint16_t *w, ptrdiff_t count, float *out) {
    int bfloat = format == L2S_HALF_BFLOAT16;
    switch (variant) {
#ifdef L2S_X86
    case L2S_VARIANT_AVX2: l2s_widen_avx2(bfloat, w, count, out); return;
    case L2S_VARIANT_AVX512: l2s_widen_avx512(bfloat, w, count, out); return;
#endif
    default: l2s_widen_baseline(bfloat, w, count, out); return;
    }
}
