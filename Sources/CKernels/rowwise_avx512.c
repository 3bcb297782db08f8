// The AVX-512F variant: 16 lanes, fused multiply-add (its lane count makes its last bits differ from AVX2's).
#include "variants.h"

#ifdef L2S_X86
#include <immintrin.h>

#define ROWWISE_NAME l2s_rowwise_avx512
#define ROWWISE_ATTR __attribute__((target("avx512f")))
#define VEC __m512
#define LANES 16
#define VZERO() _mm512_setzero_ps()
#define VLOAD(p) _mm512_loadu_ps(p)
#define VSTORE(p, v) _mm512_storeu_ps((p), (v))
#define VMADD(acc, a, b) _mm512_fmadd_ps((a), (b), (acc))
// 4 x 6 accumulators + 6 weight vectors + 1 input vector of the 32 zmm registers.
#define BLOCK_OUTPUTS 6

#include "rowwise_body.h"
#endif
