// The AVX2 + FMA variant: 8 lanes, fused multiply-add (so its last bits differ from the baseline's); float16
// weights are widened with F16C, bfloat16 ones with a 16-bit shift, int8 ones sign-extended and converted.
#include "variants.h"

#ifdef L2S_X86
#include <immintrin.h>

#define ROWWISE_ATTR __attribute__((target("avx2,fma,f16c")))
#define VEC __m256
#define LANES 8
#define VZERO() _mm256_setzero_ps()
#define VLOAD(p) _mm256_loadu_ps(p)
#define VSTORE(p, v) _mm256_storeu_ps((p), (v))
#define VMADD(acc, a, b) _mm256_fmadd_ps((a), (b), (acc))
// 4 x 3 accumulators + 3 weight vectors + 1 input vector = the 16 ymm registers.
/// LANES float16 / bfloat16 values at p widened to a vector (step kernels and l2s_widen_avx2).
#define WIDEN_F16(p) _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(p)))
#define WIDEN_BF16(p) \
    _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(_mm_loadu_si128((const __m128i *)(p))), 16))
#define BLOCK_OUTPUTS 3

#define ROWWISE_NAME l2s_rowwise_avx2
#define WEIGHT float
#define WLOAD(p) VLOAD(p)
#define WSCALAR(p) (*(p))
#include "rowwise_body.h"

#define ROWWISE_NAME l2s_rowwise_avx2_f16
#define WEIGHT uint16_t
#define WLOAD(p) WIDEN_F16(p)
#define WSCALAR(p) l2s_float16_to_float(*(p))
#include "rowwise_body.h"

#define ROWWISE_NAME l2s_rowwise_avx2_bf16
#define WEIGHT uint16_t
#define WLOAD(p) WIDEN_BF16(p)
#define WSCALAR(p) l2s_bfloat16_to_float(*(p))
#include "rowwise_body.h"

#define WIDEN_NAME l2s_widen_avx2
#include "widen_body.h"

#endif
