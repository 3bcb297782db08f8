// 16-bit weights widened into float32, exactly: written once and instantiated by each rowwise_*.c after it defines
// ROWWISE_ATTR, LANES and VSTORE (as for rowwise_body.h), WIDEN_F16(p) and WIDEN_BF16(p) (LANES values at p widened
// to a vector, as its 16-bit step kernels load them) and WIDEN_NAME, the entry point's name.

/// For products that take float32 weights (prompt passes): `count` values of w into out.
ROWWISE_ATTR void WIDEN_NAME(int bfloat, const uint16_t *w, ptrdiff_t count, float *out) {
    ptrdiff_t k = 0;
    if (bfloat) {
        for (; k + LANES <= count; k += LANES) VSTORE(out + k, WIDEN_BF16(w + k));
    } else {
        for (; k + LANES <= count; k += LANES) VSTORE(out + k, WIDEN_F16(w + k));
    }
    for (; k < count; k++) out[k] = bfloat ? l2s_bfloat16_to_float(w[k]) : l2s_float16_to_float(w[k]);
}

#undef WIDEN_NAME
