/*
 * vmath.h — vectorised elementary functions for the elementwise kernels of
 * arrmath.c: exp, log, log1p, sin, cos, tan, tanh and the logistic sigmoid
 * of float64 and float32 lines, through SLEEF's vector functions of at most
 * 1 ulp error (the "u10" variants; on AVX-512F the float64 exp is vmath.c's
 * own, below 0.55 ulp on the tests' inputs), at the widest vector width the
 * processor runs: AVX-512F (8 doubles, 16 floats), AVX2 with FMA (4, 8),
 * else SSE2/SSE4.1 (2, 4, SLEEF choosing between them). Elsewhere than on
 * x86-64 (or when asked) the scalar libm kernels of arrmath.c are used.
 *
 * Every element goes through the same vector function, whatever its
 * position in the array and the array's strides (tails and strided lines
 * are gathered into a buffer, padded, and scattered back), so a result does
 * not depend on layout; it may differ in the last bit between two paths
 * (two machines, or CAJAL_VMATH=libm and the default).
 *
 * The path is chosen once, on first use: the environment variable
 * CAJAL_VMATH ("auto", "avx512", "avx2", "sse", "libm"; "auto" or anything
 * else: the widest the processor supports), or cj_vmath_use().
 */
#ifndef CJ_VMATH_H
#define CJ_VMATH_H

#include "array.h"

/* The kernel computing op on lines of dtype t on the current path (p[0]
 * out, p[1] in, both of dtype t, as arrmath.c's unary kernels), or NULL
 * when the current path has none for (op, t): the caller then uses libm. */
cj_kernel cj_vmath_kernel(cj_unop op, cj_dtype t);

/* Select a path by name: "auto" (the widest supported), "avx512", "avx2",
 * "sse" or "libm". An unknown name, or a path this processor (or this
 * build) cannot run, fails with CJ_EINVAL and a message naming it; the
 * previous path then stays. Not meant to be called while another thread
 * runs array operations. */
int cj_vmath_use(const char *name);

/* Name of the path in use ("avx512", "avx2", "sse" or "libm"). */
const char *cj_vmath_name(void);

/* 1 when this processor and build can run the named path. */
int cj_vmath_supported(const char *name);

#endif
