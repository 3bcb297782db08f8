// The AVX2 + FMA variant: 8 lanes, fused multiply-add (so its last bits differ from the baseline's).
#include "variants.h"

#ifdef L2S_X86
#include <immintrin.h>

#define ROWWISE_NAME l2s_rowwise_avx2
#define ROWWISE_ATTR __attribute__((target("avx2,fma")))
#define VEC __m256
#define LANES 8
#define VZERO() _mm256_setzero_ps()
#define VLOAD(p) _mm256_loadu_ps(p)
#define VSTORE(p, v) _mm256_storeu_ps((p), (v))
#define VMADD(acc, a, b) _mm256_fmadd_ps((a), (b), (acc))
// 4 x 3 accumulators + 3 weight vectors + 1 input vector = the 16 ymm registers.
#define BLOCK_OUTPUTS 3

#include "rowwise_body.h"
#endif
