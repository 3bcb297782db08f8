// The AVX-512F variant: 16 lanes, fused multiply-add (its lane count makes its last bits differ from AVX2's).
#include "variants.h"

#ifdef L2S_X86
#include <immintrin.h>

#define ROWWISE_ATTR __attribute__((target("avx512f,avx2,fma,f16c")))
#define VEC __m512
#define LANES 16
#define VZERO() _mm512_setzero_ps()
#define VLOAD(p) _mm512_loadu_ps(p)
#define VSTORE(p, v) _mm512_storeu_ps((p), (v))
#define VMADD(acc, a, b) _mm512_fmadd_ps((a), (b), (acc))
// 4 x 6 accumulators + 6 weight vectors + 1 input vector of the 32 zmm registers.
/// LANES float16 / bfloat16 values at p widened to a vector (step kernels and l2s_widen_avx512).
#define WIDEN_F16(p) _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)(p)))
#define WIDEN_BF16(p) \
    _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(_mm256_loadu_si256((const __m256i *)(p))), 16))
#define BLOCK_OUTPUTS 6

#define ROWWISE_NAME l2s_rowwise_avx512
#define WEIGHT float
#define WLOAD(p) VLOAD(p)
#define WSCALAR(p) (*(p))
#include "rowwise_body.h"

#define ROWWISE_NAME l2s_rowwise_avx512_f16
#define WEIGHT uint16_t
#define WLOAD(p) WIDEN_F16(p)
#define WSCALAR(p) l2s_float16_to_float(*(p))
#include "rowwise_body.h"

#define ROWWISE_NAME l2s_rowwise_avx512_bf16
#define WEIGHT uint16_t
#define WLOAD(p) WIDEN_BF16(p)
#define WSCALAR(p) l2s_bfloat16_to_float(*(p))
#include "rowwise_body.h"

#define WIDEN_NAME l2s_widen_avx512
#include "widen_body.h"

#endif
