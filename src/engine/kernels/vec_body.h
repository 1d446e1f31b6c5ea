/* vec_body.h - vector helpers shared by the per-ISA kernel bodies (attention_body.h,
 * ops_mt_body.h). The including body has defined VF (float vector), VI (int vector of the same
 * lanes) and VEC_NAME(x) (its per-ISA suffix) and is itself inside a `#pragma GCC target` region.
 */

/* mask ? a : b, lane by lane (mask lanes all ones or all zeros, as vector comparisons give). */
static inline __attribute__((always_inline)) VF VEC_NAME(vsel)(VI mask, VF a, VF b) {
    VI ai, bi;
    memcpy(&ai, &a, sizeof ai);
    memcpy(&bi, &b, sizeof bi);
    VI r = (ai & mask) | (bi & ~mask);
    VF out;
    memcpy(&out, &r, sizeof out);
    return out;
}

static inline __attribute__((always_inline)) VF VEC_NAME(vmax)(VF a, VF b) {
    return VEC_NAME(vsel)(a > b, a, b);
}

/* e^x for x <= 0 (softmax arguments, e^-|v|), clamped at -87: 2^n * taylor6(r), |r| <= ln2/2
 * (relative error ~1e-7). */
static inline __attribute__((always_inline)) VF VEC_NAME(vexp)(VF x) {
    const VF zero = {0};
    x = VEC_NAME(vmax)(x, zero - 87.f);
    VF fx = x * 1.44269504088896341f;
    VF t = fx + 12582912.f; /* round to nearest via the float adder */
    VF n = t - 12582912.f;
    VF r = x - n * 0.693359375f;
    r = r - n * -2.12194440e-4f;
    VF p = zero + 1.f / 720.f;
    p = p * r + 1.f / 120.f;
    p = p * r + 1.f / 24.f;
    p = p * r + 1.f / 6.f;
    p = p * r + 0.5f;
    p = p * r + 1.f;
    p = p * r + 1.f;
    VI e = (__builtin_convertvector(n, VI) + 127) << 23;
    VF scale;
    memcpy(&scale, &e, sizeof scale);
    return p * scale;
}
