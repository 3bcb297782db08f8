// The portable variant: clang vector extensions (two SSE2 registers per vector on x86-64, NEON on arm64), multiply
// and add rounded separately. The only variant built on arm64.
#include "variants.h"

typedef float l2s_v8 __attribute__((vector_size(32)));
/// The same vector at float alignment, for unaligned loads and stores through a pointer.
typedef float l2s_v8_unaligned __attribute__((vector_size(32), aligned(4)));

#define ROWWISE_ATTR
#define VEC l2s_v8
#define LANES 8
#define VZERO() ((l2s_v8){0, 0, 0, 0, 0, 0, 0, 0})
#define VLOAD(p) (*(const l2s_v8_unaligned *)(p))
#define VSTORE(p, v) (*(l2s_v8_unaligned *)(p) = (v))
#define VMADD(acc, a, b) ((acc) + (a) * (b))
// 4 x 2 accumulators: 16 SSE registers' worth; the loads come from memory operands.
#define BLOCK_OUTPUTS 2
typedef uint32_t l2s_u8 __attribute__((vector_size(32)));
typedef int32_t l2s_i8 __attribute__((vector_size(32)));
typedef uint16_t l2s_h8_unaligned __attribute__((vector_size(16), aligned(2)));

/// Eight bfloat16 weights at p widened: each is the upper half of its float32.
#define WIDEN_BF16(p) ((l2s_v8)(__builtin_convertvector(*(const l2s_h8_unaligned *)(p), l2s_u8) << 16))

/// Eight float16 weights at p widened exactly, branch-free so that it vectorizes without F16C: normal numbers
/// re-bias the exponent, subnormals are mantissa * 2^-24 (an exact int-to-float conversion and power-of-two
/// scaling, never a float32 subnormal, so it holds under flush-to-zero too), infinities and NaNs keep their
/// mantissa under an all-ones exponent.
#define WIDEN_F16(p)                                                                                     \
    ({                                                                                                   \
        l2s_u8 h_ = __builtin_convertvector(*(const l2s_h8_unaligned *)(p), l2s_u8);                     \
        l2s_u8 exponent_ = h_ & 0x7c00u;                                                                 \
        l2s_u8 rest_ = (h_ & 0x7fffu) << 13;                                                             \
        l2s_u8 normal_ = rest_ + (112u << 23);                                                           \
        l2s_u8 special_ = rest_ | 0x7f800000u;                                                           \
        l2s_u8 subnormal_ = (l2s_u8)(__builtin_convertvector((l2s_i8)(h_ & 0x3ffu), l2s_v8) * 0x1p-24f); \
        l2s_u8 isSubnormal_ = (l2s_u8)(exponent_ == 0);                                                  \
        l2s_u8 isSpecial_ = (l2s_u8)(exponent_ == 0x7c00u);                                              \
        l2s_u8 bits_ = (normal_ & ~(isSubnormal_ | isSpecial_)) | (subnormal_ & isSubnormal_)            \
            | (special_ & isSpecial_);                                                                   \
        (l2s_v8)(bits_ | ((h_ & 0x8000u) << 16));                                                        \
    })

#define ROWWISE_NAME l2s_rowwise_baseline
#define WEIGHT float
#define WLOAD(p) VLOAD(p)
#define WSCALAR(p) (*(p))
#include "rowwise_body.h"

#define ROWWISE_NAME l2s_rowwise_baseline_f16
#define WEIGHT uint16_t
#define WLOAD(p) WIDEN_F16(p)
#define WSCALAR(p) l2s_float16_to_float(*(p))
#include "rowwise_body.h"

#define ROWWISE_NAME l2s_rowwise_baseline_bf16
#define WEIGHT uint16_t
#define WLOAD(p) WIDEN_BF16(p)
#define WSCALAR(p) l2s_bfloat16_to_float(*(p))
#include "rowwise_body.h"

#define WIDEN_NAME l2s_widen_baseline
#include "widen_body.h"
