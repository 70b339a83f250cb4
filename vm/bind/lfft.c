/*
 * lfft.c — cj.fft, cj.ifft, cj.rfft, cj.irfft, cj.fftfreq, cj.rfftfreq:
 * the Lua face of vm/core/fft.h (FFTW).
 *
 * cajal arrays have no complex dtype: a complex array is a float64 array
 * whose last dimension has size 2 (real part, imaginary part), the
 * interleaved layout of C99 complex and FFTW, so nothing is converted on
 * the way in or out. Transforms run along one axis of the other
 * dimensions (default the last): the lines are gathered into a contiguous
 * buffer (padded with zeros or cut to the length n), transformed as one
 * batch, and put back in the original order.
 */
#include "lanalysis.h"

#include <math.h>
#include <string.h>

#include "fft.h"

enum { FFT, IFFT, RFFT, IRFFT };

static int corefail(lua_State *L, int arg)
{
  if (arg > 0) return luaL_argerror(L, arg, cj_errmsg());
  return luaL_error(L, "%s", cj_errmsg());
}

static int transform(lua_State *L, int kind)
{
  static const char *const known[] = { "n", "axis", "complex", NULL };
  larray *a = cj_toarray(L, 1), *buf, *out, *r;
  int o = cj_opts(L, 2, known);
  int cin = kind == IFFT || kind == IRFFT || (kind == FFT && cj_optbool(L, o, "complex", 0));
  int cout = kind != IRFFT, nd = a->a.ndim - cin, axis, isint;
  int64_t m, n, lin, lout, shape[CJ_MAXDIM], rows;
  lua_Integer ax;
  cj_array v, vb, t;
  int st = CJ_OK;
  if (kind != FFT && cj_opthas(L, o, "complex")) cj_opterror(L, o, "complex", "is only for cj.fft");
  if (cin && (a->a.ndim < 2 || a->a.shape[a->a.ndim - 1] != 2))
    luaL_argerror(L, 1, "complex array expected (float64 with a last dimension of size 2: re, im)");
  if (nd < 1) luaL_argerror(L, 1, "array with at least one dimension expected");
  ax = cj_optint(L, o, "axis", nd);
  if (ax < 0) ax += nd + 1;
  if (ax < 1 || ax > nd) cj_opterror(L, o, "axis", "out of range 1..%d", nd);
  axis = (int)ax - 1;
  m = a->a.shape[axis];
  n = (kind == IRFFT) ? 2 * (m - 1) : m;
  if (cj_optget(L, o, "n") != LUA_TNIL) {
    lua_Integer v0 = lua_tointegerx(L, -1, &isint);
    if (!isint || v0 < 1) cj_opterror(L, o, "n", "must be a positive integer");
    n = (int64_t)v0;
  }
  lua_pop(L, 1);
  if (n < 1) luaL_argerror(L, 1, "transform length must be positive (irfft of one value needs opts.n)");
  lin = (kind == IRFFT) ? n / 2 + 1 : n;
  lout = (kind == RFFT) ? n / 2 + 1 : n;
  /* the input with the transform axis last, in a zeroed buffer of length lin */
  if (cj_array_transpose(&v, &a->a, axis, nd - 1)) corefail(L, 1);
  memcpy(shape, v.shape, sizeof shape);
  shape[nd - 1] = lin;
  buf = cj_newarray(L, CJ_F64, a->a.ndim, shape);
  if (cj_array_slice(&vb, &buf->a, nd - 1, 0, m < lin ? m : lin, 1) ||
      cj_array_slice(&t, &v, nd - 1, 0, m < lin ? m : lin, 1) || cj_array_copy(&vb, &t))
    corefail(L, 1);
  rows = cj_array_numel(&buf->a) / (lin * (cin ? 2 : 1));
  shape[nd - 1] = lout;
  if (cout) shape[nd] = 2;
  out = cj_newarray(L, CJ_F64, nd + cout, shape);
  switch (kind) {
  case FFT:
    if (cin) st = cj_fft_c2c(n, rows, buf->a.data, out->a.data, 0);
    else {
      /* real input: complex input with zero imaginary parts */
      int64_t s2[CJ_MAXDIM];
      larray *c;
      memcpy(s2, buf->a.shape, sizeof s2);
      s2[nd] = 2;
      c = cj_newarray(L, CJ_F64, nd + 1, s2);
      for (int64_t k = 0; k < rows * n; k++) ((double *)c->a.data)[2 * k] = ((double *)buf->a.data)[k];
      st = cj_fft_c2c(n, rows, c->a.data, out->a.data, 0);
      lua_pop(L, 1);
    }
    break;
  case IFFT: st = cj_fft_c2c(n, rows, buf->a.data, out->a.data, 1); break;
  case RFFT: st = cj_fft_r2c(n, rows, buf->a.data, out->a.data); break;
  default: st = cj_fft_c2r(n, rows, buf->a.data, out->a.data); break;
  }
  if (st) corefail(L, 0);
  /* back to the original order of dimensions */
  memcpy(shape, a->a.shape, sizeof shape);
  shape[axis] = lout;
  if (cout) shape[nd] = 2;
  r = cj_newarray(L, CJ_F64, nd + cout, shape);
  r->dim = a->dim;
  if (cj_array_transpose(&v, &r->a, axis, nd - 1) || cj_array_copy(&v, &out->a)) corefail(L, 0);
  return 1;
}

static int l_fft(lua_State *L) { return transform(L, FFT); }
static int l_ifft(lua_State *L) { return transform(L, IFFT); }
static int l_rfft(lua_State *L) { return transform(L, RFFT); }
static int l_irfft(lua_State *L) { return transform(L, IRFFT); }

/* frequencies of an n-point transform with sample spacing d */
static int freqs(lua_State *L, int half)
{
  int isint;
  lua_Integer n = lua_tointegerx(L, 1, &isint);
  double d = 1;
  cj_dim dd = cj_dimless;
  int64_t len;
  double *f;
  if (!isint || n < 1) luaL_argerror(L, 1, "number of samples must be a positive integer");
  if (!lua_isnoneornil(L, 2) && (!cj_toquantity(L, 2, &d, &dd) || !(d > 0) || !isfinite(d)))
    luaL_argerror(L, 2, "sample spacing must be a positive number or quantity");
  len = half ? n / 2 + 1 : n;
  f = cj_newf64(L, 1, &len, cj_dim_div(cj_dimless, dd));
  for (int64_t k = 0; k < len; k++) {
    int64_t j = (!half && k > (n - 1) / 2) ? k - n : k;
    f[k] = (double)j / ((double)n * d);
  }
  return 1;
}

static int l_fftfreq(lua_State *L) { return freqs(L, 0); }
static int l_rfftfreq(lua_State *L) { return freqs(L, 1); }

static const luaL_Reg funcs[] = {
  { "fft", l_fft }, { "ifft", l_ifft }, { "rfft", l_rfft }, { "irfft", l_irfft },
  { "fftfreq", l_fftfreq }, { "rfftfreq", l_rfftfreq }, { NULL, NULL }
};

#define CPLX "\nComplex arrays: float64 with a last dimension of size 2 (re, im); see cajal-api(3)."

static const cj_doc docs[] = {
  { "fft", "cj.fft(a [, opts]) -> complex array\n"
    "Discrete Fourier transform along one axis (FFTW): X[k] = sum_j x[j] exp(-2 pi i j k / n),\n"
    "unnormalised as numpy.fft.fft. a is real unless opts.complex = true (then its last\n"
    "dimension of size 2 holds re, im). opts.n: transform length (a is cut or padded with\n"
    "zeros), opts.axis: 1-based axis among a's (non-complex) dimensions, default the last.\n"
    "The result has a's shape (axis of length n) plus a last dimension of 2; unit kept." CPLX },
  { "ifft", "cj.ifft(z [, opts]) -> complex array\n"
    "Inverse transform of the complex array z, divided by n (numpy.fft.ifft):\n"
    "cj.ifft(cj.fft(x)) is x with zero imaginary parts. opts.n, opts.axis as cj.fft." CPLX },
  { "rfft", "cj.rfft(a [, opts]) -> complex array\n"
    "Transform of real a keeping the n/2 + 1 non-negative frequencies (numpy.fft.rfft);\n"
    "opts.n, opts.axis as cj.fft." CPLX },
  { "irfft", "cj.irfft(z [, opts]) -> array\n"
    "Inverse of cj.rfft: the real signal of length opts.n (default 2 (m - 1) for m complex\n"
    "values) whose rfft is z (numpy.fft.irfft; the imaginary parts of the zero and Nyquist\n"
    "terms are ignored). opts.axis as cj.fft." CPLX },
  { "fftfreq", "cj.fftfreq(n [, d]) -> array\n"
    "The frequency of each term of an n-point cj.fft with sample spacing d (default 1):\n"
    "0, 1, ..., ceil(n/2) - 1, -floor(n/2), ..., -1 divided by n d (numpy.fft.fftfreq).\n"
    "d a quantity of time gives Hz." },
  { "rfftfreq", "cj.rfftfreq(n [, d]) -> array\n"
    "The frequency of each term of an n-point cj.rfft: 0 .. floor(n/2) over n d." },
  { NULL, NULL }
};

void cj_open_fft(lua_State *L)
{
  luaL_setfuncs(L, funcs, 0);
  cj_setdocs(L, -1, docs);
}
