// The portable variant: clang vector extensions (two SSE2 registers per vector on x86-64, NEON on arm64), multiply
// and add rounded separately. The only variant built on arm64.
#include "variants.h"

typedef float l2s_v8 __attribute__((vector_size(32)));
/// The same vector at float alignment, for unaligned loads and stores through a pointer.
typedef float l2s_v8_unaligned __attribute__((vector_size(32), aligned(4)));

#define ROWWISE_NAME l2s_rowwise_baseline
#define ROWWISE_ATTR
#define VEC l2s_v8
#define LANES 8
#define VZERO() ((l2s_v8){0, 0, 0, 0, 0, 0, 0, 0})
#define VLOAD(p) (*(const l2s_v8_unaligned *)(p))
#define VSTORE(p, v) (*(l2s_v8_unaligned *)(p) = (v))
#define VMADD(acc, a, b) ((acc) + (a) * (b))
// 4 x 2 accumulators: 16 SSE registers' worth; the loads come from memory operands.
#define BLOCK_OUTPUTS 2

#include "rowwise_body.h"
