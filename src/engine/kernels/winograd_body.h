/* winograd_body.h - the input and output transforms of winograd.c, instantiated per vector
 * width: winograd.c defines WT_VW (lanes: channels per step) and WT_NAME(x) and includes this
 * file inside a `#pragma GCC target` region (or none, for the portable width). */

typedef float WT_NAME(vt) __attribute__((vector_size(WT_VW * 4)));
typedef float WT_NAME(vtu) __attribute__((vector_size(WT_VW * 4), aligned(4)));
#define VT WT_NAME(vt)
#define VTU WT_NAME(vtu)

/* The input pixel (iy, ix) of the convolved image, WT_VW channels from ci, zero outside. */
static inline __attribute__((always_inline)) VT WT_NAME(pixel)(const wino_job_t *j, int iy, int ix,
                                                               int ci) {
    VT z = {0};
    if (iy < 0 || iy >= j->h || ix < 0 || ix >= j->w) return z;
    int cin = j->c->cin;
    return *(const VTU *)(j->x + ((size_t)(iy >> j->up) * (j->w >> j->up) + (ix >> j->up)) * cin +
                          ci);
}

typedef uint32_t WT_NAME(vu32) __attribute__((vector_size(WT_VW * 4)));
typedef uint16_t WT_NAME(vu16) __attribute__((vector_size(WT_VW * 2)));
typedef uint16_t WT_NAME(vu16u) __attribute__((vector_size(WT_VW * 2), aligned(2)));

/* The lanes of v rounded to bfloat16, nearest even: the same bits as f32_to_bf16 for every
 * finite value (the transform of finite activations is finite). */
static inline __attribute__((always_inline)) WT_NAME(vu16) WT_NAME(to_bf16)(VT v) {
    WT_NAME(vu32) x = (WT_NAME(vu32))v;
    x = (x + 0x7fffu + ((x >> 16) & 1u)) >> 16;
    return __builtin_convertvector(x, WT_NAME(vu16));
}

/* V_e[t][ci] = (B^T d B)_e for tiles t0 .. t0 + nt, at V + e * es + t * ts + ci (elements):
 * floats, or with bf16 (a constant where it is inlined) bfloat16 values. */
static inline __attribute__((always_inline)) void WT_NAME(input_transform_to)(const wino_job_t *j,
                                                                              int t0, int nt,
                                                                              void *V, size_t es,
                                                                              size_t ts, int bf16) {
    int cin = j->c->cin;
    for (int t = 0; t < nt; t++) {
        int ty = (t0 + t) / j->tw, tx = (t0 + t) % j->tw;
        int y0 = 2 * ty - 1, x0 = 2 * tx - 1;
        /* a tile whose 4x4 window lies inside the image reads its pixels without checks */
        int inside = y0 >= 0 && y0 + 3 < j->h && x0 >= 0 && x0 + 3 < j->w;
        size_t at[4][4]; /* the window's pixel offsets in x (inside tiles) */
        for (int a = 0; a < 4 && inside; a++)
            for (int b = 0; b < 4; b++)
                at[a][b] = ((size_t)((y0 + a) >> j->up) * (size_t)(j->w >> j->up) +
                            (size_t)((x0 + b) >> j->up)) *
                           (size_t)cin;
        for (int ci = 0; ci < cin; ci += WT_VW) {
            VT d[4][4], r[4][4];
            if (inside)
                for (int a = 0; a < 4; a++)
                    for (int b = 0; b < 4; b++)
                        d[a][b] = *(const VTU *)(j->x + at[a][b] + ci);
            else
                for (int a = 0; a < 4; a++)
                    for (int b = 0; b < 4; b++)
                        d[a][b] = WT_NAME(pixel)(j, y0 + a, x0 + b, ci);
            for (int b = 0; b < 4; b++) {
                r[0][b] = d[0][b] - d[2][b];
                r[1][b] = d[1][b] + d[2][b];
                r[2][b] = d[2][b] - d[1][b];
                r[3][b] = d[1][b] - d[3][b];
            }
            for (int a = 0; a < 4; a++) {
                VT v[4] = {r[a][0] - r[a][2], r[a][1] + r[a][2], r[a][2] - r[a][1],
                           r[a][1] - r[a][3]};
                for (int b = 0; b < 4; b++) {
                    size_t at_v = (size_t)(a * 4 + b) * es + (size_t)t * ts + ci;
                    if (bf16)
                        *(WT_NAME(vu16u) *)((uint16_t *)V + at_v) = WT_NAME(to_bf16)(v[b]);
                    else
                        *(VTU *)((float *)V + at_v) = v[b];
                }
            }
        }
    }
}

static void WT_NAME(input_transform)(const wino_job_t *j, int t0, int nt, float *V, size_t es,
                                     size_t ts) {
    WT_NAME(input_transform_to)(j, t0, nt, V, es, ts, 0);
}

/* input_transform with V written as bfloat16 (precision bf16): the GEMMs read it as it is, at
 * half the bytes and without a rounding pass of their own. */
static void WT_NAME(input_transform_bf16)(const wino_job_t *j, int t0, int nt, uint16_t *V,
                                          size_t es, size_t ts) {
    WT_NAME(input_transform_to)(j, t0, nt, V, es, ts, 1);
}

/* Y = A^T M A (+ bias) for tiles t0 .. t0 + nt and output channels [o0, o1), the pixels inside
 * the image; M_e[t][o] at M + e * es + t * ts + o. */
static void WT_NAME(output_transform)(const wino_job_t *j, int t0, int nt, const float *M,
                                      size_t es, size_t ts, int o0, int o1) {
    const conv2d_t *c = j->c;
    int cout = c->cout;
    for (int t = 0; t < nt; t++) {
        int ty = (t0 + t) / j->tw, tx = (t0 + t) % j->tw;
        for (int o = o0; o < o1; o += WT_VW) {
            VT m[4][4], s[2][4];
            for (int e = 0; e < 16; e++)
                m[e / 4][e % 4] = *(const VTU *)(M + (size_t)e * es + (size_t)t * ts + o);
            for (int b = 0; b < 4; b++) {
                s[0][b] = m[0][b] + m[1][b] + m[2][b];
                s[1][b] = m[1][b] - m[2][b] - m[3][b];
            }
            VT bias = {0};
            if (c->bias) bias = *(const VTU *)(c->bias + o);
            for (int a = 0; a < 2; a++) {
                int oy = 2 * ty + a;
                if (oy >= j->h) break;
                VT out[2] = {s[a][0] + s[a][1] + s[a][2] + bias,
                             s[a][1] - s[a][2] - s[a][3] + bias};
                for (int b = 0; b < 2; b++) {
                    int ox = 2 * tx + b;
                    if (ox >= j->w) break;
                    VTU *dst = (VTU *)(j->y + ((size_t)oy * j->w + ox) * cout + o);
                    *dst = j->accumulate ? *dst + out[b] : out[b];
                }
            }
        }
    }
}

/* F(4x4, 3x3): V_e[t][ci] = (B^T d B)_e over 6x6 windows, for tiles t0 .. t0 + nt. */
static void WT_NAME(input_transform4)(const wino_job_t *j, int t0, int nt, float *V, size_t es,
                                      size_t ts) {
    int cin = j->c->cin;
    for (int t = 0; t < nt; t++) {
        int ty = (t0 + t) / j->tw, tx = (t0 + t) % j->tw;
        int y0 = 4 * ty - 1, x0 = 4 * tx - 1;
        int inside = y0 >= 0 && y0 + 5 < j->h && x0 >= 0 && x0 + 5 < j->w;
        size_t at[6][6];
        for (int a = 0; a < 6 && inside; a++)
            for (int b = 0; b < 6; b++)
                at[a][b] = ((size_t)((y0 + a) >> j->up) * (size_t)(j->w >> j->up) +
                            (size_t)((x0 + b) >> j->up)) *
                           (size_t)cin;
        for (int ci = 0; ci < cin; ci += WT_VW) {
            VT r[6][6];
            for (int b = 0; b < 6; b++) { /* B^T times column b */
                VT d[6];
                for (int a = 0; a < 6; a++)
                    d[a] = inside ? *(const VTU *)(j->x + at[a][b] + ci)
                                  : WT_NAME(pixel)(j, y0 + a, x0 + b, ci);
                VT p = d[4] - 4 * d[2], q = d[3] - 4 * d[1], s = d[4] - d[2], u = 2 * (d[3] - d[1]);
                r[0][b] = 4 * d[0] - 5 * d[2] + d[4];
                r[1][b] = p + q;
                r[2][b] = p - q;
                r[3][b] = s + u;
                r[4][b] = s - u;
                r[5][b] = 4 * d[1] - 5 * d[3] + d[5];
            }
            for (int a = 0; a < 6; a++) { /* row a times B */
                const VT *d = r[a];
                VT p = d[4] - 4 * d[2], q = d[3] - 4 * d[1], s = d[4] - d[2], u = 2 * (d[3] - d[1]);
                VT v[6] = {4 * d[0] - 5 * d[2] + d[4], p + q, p - q, s + u, s - u,
                           4 * d[1] - 5 * d[3] + d[5]};
                for (int b = 0; b < 6; b++)
                    *(VTU *)(V + (size_t)(a * 6 + b) * es + (size_t)t * ts + ci) = v[b];
            }
        }
    }
}

/* F(4x4, 3x3): Y = A^T M A (+ bias) for tiles t0 .. t0 + nt and output channels [o0, o1). */
static void WT_NAME(output_transform4)(const wino_job_t *j, int t0, int nt, const float *M,
                                       size_t es, size_t ts, int o0, int o1) {
    const conv2d_t *c = j->c;
    int cout = c->cout;
    for (int t = 0; t < nt; t++) {
        int ty = (t0 + t) / j->tw, tx = (t0 + t) % j->tw;
        for (int o = o0; o < o1; o += WT_VW) {
            VT s[4][6];
            for (int b = 0; b < 6; b++) { /* A^T times column b */
                VT m[6];
                for (int a = 0; a < 6; a++)
                    m[a] = *(const VTU *)(M + (size_t)(a * 6 + b) * es + (size_t)t * ts + o);
                VT p = m[1] + m[2], q = m[1] - m[2], r = m[3] + m[4], u = m[3] - m[4];
                s[0][b] = m[0] + p + r;
                s[1][b] = q + 2 * u;
                s[2][b] = p + 4 * r;
                s[3][b] = q + 8 * u + m[5];
            }
            VT bias = {0};
            if (c->bias) bias = *(const VTU *)(c->bias + o);
            for (int a = 0; a < 4; a++) {
                int oy = 4 * ty + a;
                if (oy >= j->h) break;
                const VT *m = s[a];
                VT p = m[1] + m[2], q = m[1] - m[2], r = m[3] + m[4], u = m[3] - m[4];
                VT out[4] = {m[0] + p + r + bias, q + 2 * u + bias, p + 4 * r + bias,
                             q + 8 * u + m[5] + bias};
                for (int b = 0; b < 4; b++) {
                    int ox = 4 * tx + b;
                    if (ox >= j->w) break;
                    VTU *dst = (VTU *)(j->y + ((size_t)oy * j->w + ox) * cout + o);
                    *dst = j->accumulate ? *dst + out[b] : out[b];
                }
            }
        }
    }
}

/* U_e = G g G^T for nc consecutive input channels of one panel: g[tap][i] is the GEMM_NR
 * columns of tap tap for channel i; U_e's rows land at u + e * ufloats + at + i * GEMM_NR.
 * The same operations in the same order as a scalar loop: every width gives the same bits. */
static void WT_NAME(weights_combine)(const float (*G)[3], int n,
                                     const float (*g)[WEIGHT_CHUNK][GEMM_NR], int nc, float *u,
                                     size_t ufloats, size_t at) {
    for (int i = 0; i < nc; i++)
        for (int l = 0; l < GEMM_NR; l += WT_VW) {
            VT t[6][3]; /* G g: row r of the n, column (kx) k */
            for (int r = 0; r < n; r++)
                for (int k = 0; k < 3; k++)
                    t[r][k] = G[r][0] * *(const VTU *)&g[k][i][l] +
                              G[r][1] * *(const VTU *)&g[3 + k][i][l] +
                              G[r][2] * *(const VTU *)&g[6 + k][i][l];
            for (int r = 0; r < n; r++)
                for (int s = 0; s < n; s++)
                    *(VTU *)(u + (size_t)(r * n + s) * ufloats + at + (size_t)i * GEMM_NR + l) =
                        t[r][0] * G[s][0] + t[r][1] * G[s][1] + t[r][2] * G[s][2];
        }
}

#undef VT
#undef VTU
