# numpy_info.py — the numpy/scipy side of the information and coding
# benchmark (tests/bench/info.lua runs it with Debian's /usr/bin/python3,
# pinned to one core, alternating with cajal on the same data files).
#
#   /usr/bin/python3 tests/bench/numpy_info.py TASK DIR REPS
#
# Tasks (data written by info.lua into DIR as .npy):
#   mi_none, mi_miller_madow, mi_shuffle, mi_nsb  mutual information of the
#       paired labels x, y (1e6 samples): the count table by bincount, then
#       the plug-in, Miller-Madow, the mean of 100 label permutations
#       subtracted, or NSB (the integral over beta by scipy.integrate.quad)
#   words  plug-in entropy of the 10-bin words (1 ms bins) of each of 1000
#       neurons over 100 s, from spike times and indices
#   glm    Poisson GLM with 20-tap stimulus and history filters on 100 s of
#       1 ms bins, by Newton's method (IRLS) as cajal's
# Prints "TIME <ms>" (median CPU time over REPS) and "VALUE <x>" (a result
# to cross-check with cajal's).
import sys
import time

import numpy as np
from scipy import integrate, special


def mi_table(x, y):
    xi, yi = x.astype(np.int64), y.astype(np.int64)
    nx, ny = xi.max() + 1, yi.max() + 1
    return np.bincount(xi * ny + yi, minlength=nx * ny).reshape(nx, ny).astype(np.float64)


def entropy_counts(c):
    c = c[c > 0]
    n = c.sum()
    return np.log(n) - (c * np.log(c)).sum() / n


def mi_plugin(t):
    n = t.sum()
    hr = entropy_counts(t.sum(0))
    hrs = sum(t[s].sum() / n * entropy_counts(t[s]) for s in range(t.shape[0]) if t[s].sum() > 0)
    return hr - hrs


def mi_mm(t):
    n = t.sum()
    rs = sum((t[s] > 0).sum() - 1 for s in range(t.shape[0]) if t[s].sum() > 0)
    r = (t.sum(0) > 0).sum() - 1
    return mi_plugin(t) - (rs - r) / (2 * n)


def mi_shuffle(x, y, nshuf=100, seed=1):
    t = mi_table(x, y)
    rng = np.random.default_rng(seed)
    null = [mi_plugin(mi_table(x, rng.permutation(y))) for _ in range(nshuf)]
    return mi_plugin(t) - np.mean(null)


def nsb_entropy(counts, K):
    n = counts[counts > 0]
    N = n.sum()

    def logw(x):
        b = np.exp(x)
        lw = special.gammaln(K * b) - special.gammaln(N + K * b) + (special.gammaln(n + b) - special.gammaln(b)).sum()
        return lw + np.log(K * special.polygamma(1, K * b + 1) - special.polygamma(1, b + 1)) + x

    def h1(x):
        b = np.exp(x)
        A = N + K * b
        return special.digamma(A + 1) - ((n + b) / A * special.digamma(n + b + 1)).sum() \
            - (K - len(n)) * b / A * special.digamma(b + 1)

    grid = np.linspace(-np.log(K) - 35, 23, 400)
    g = np.array([logw(x) for x in grid])
    gmax = g.max()
    lo, hi = grid[max(g.argmax() - 60, 0)], grid[min(g.argmax() + 60, len(grid) - 1)]
    w = lambda x: np.exp(logw(x) - gmax)
    z = integrate.quad(w, lo, hi, limit=200)[0]
    return integrate.quad(lambda x: w(x) * h1(x), lo, hi, limit=200)[0] / z


def mi_nsb(t):
    n = t.sum()
    K = t.shape[1]
    hr = nsb_entropy(t.sum(0), K)
    hrs = sum(t[s].sum() / n * nsb_entropy(t[s], K) for s in range(t.shape[0]) if t[s].sum() > 0)
    return hr - hrs


def words(times, idx, nneur, T, dt=0.001, L=10):
    nb = int(np.floor(T / dt + 1e-9))
    bins = np.floor(times / dt + 1e-9).astype(np.int64)
    ok = bins < nb
    bits = np.zeros((nneur, nb), dtype=np.uint16)
    bits[idx[ok].astype(np.int64), bins[ok]] = 1
    nw = nb - L + 1
    codes = np.zeros((nneur, nw), dtype=np.int64)
    for k in range(L):
        codes = (codes << 1) | bits[:, k:k + nw]
    flat = (codes + (np.arange(nneur, dtype=np.int64) * (1 << L))[:, None]).ravel()
    c = np.bincount(flat, minlength=nneur << L).reshape(nneur, 1 << L).astype(np.float64)
    h = np.empty(nneur)
    for j in range(nneur):
        h[j] = entropy_counts(c[j]) / np.log(2)
    return h.mean()


def glm_fit(s, y, dt=0.001, lags=20, hlags=20, tol=1e-10, maxit=50):
    T = len(s)
    sp = np.concatenate([np.zeros(lags - 1), s])
    Xs = np.lib.stride_tricks.sliding_window_view(sp, lags)[:, ::-1]          # s[t - l]
    yp = np.concatenate([np.zeros(hlags), y[:-1]])
    Xh = np.lib.stride_tricks.sliding_window_view(yp, hlags)[:, ::-1]         # y[t - 1 - j]
    X = np.hstack([np.ones((T, 1)), Xs, Xh])
    w = np.zeros(X.shape[1])
    w[0] = np.log(y.mean() / dt)
    gl = special.gammaln(y + 1)

    def ll(w):
        eta = np.minimum(X @ w, 700)
        mu = dt * np.exp(eta)
        return (y * (eta + np.log(dt)) - mu - gl).sum(), mu

    cur, mu = ll(w)
    for it in range(maxit):
        g = X.T @ (y - mu)
        H = X.T @ (mu[:, None] * X)
        d = np.linalg.solve(H, g)
        dec = g @ d
        if dec <= tol * (1 + abs(cur)):
            w = w + d
            break
        a = 1.0
        while True:
            new, mnew = ll(w + a * d)
            if new >= cur + 1e-4 * a * dec or a < 1e-12:
                break
            a /= 2
        w, cur, mu = w + a * d, new, mnew
    return w


def main():
    task, d, reps = sys.argv[1], sys.argv[2], int(sys.argv[3])
    if task.startswith("mi_"):
        x, y = np.load(d + "/mi_x.npy"), np.load(d + "/mi_y.npy")
        f = {
            "mi_none": lambda: mi_plugin(mi_table(x, y)),
            "mi_miller_madow": lambda: mi_mm(mi_table(x, y)),
            "mi_shuffle": lambda: mi_shuffle(x, y),
            "mi_nsb": lambda: mi_nsb(mi_table(x, y)),
        }[task]
    elif task == "words":
        t, i = np.load(d + "/spk_t.npy"), np.load(d + "/spk_i.npy")
        f = lambda: words(t, i, 1000, 100.0)
    else:
        s, y = np.load(d + "/glm_s.npy"), np.load(d + "/glm_y.npy")
        f = lambda: glm_fit(s, y)
    times, v = [], None
    for _ in range(reps):
        t0 = time.process_time()
        v = f()
        times.append(time.process_time() - t0)
    if task == "glm":
        v = float(np.corrcoef(v[1:21], np.load(d + "/glm_k.npy"))[0, 1])
    elif task.startswith("mi_"):
        v = v / np.log(2)
    print(f"TIME {np.median(times) * 1e3:.3f}")
    print(f"VALUE {v:.10g}")


if __name__ == "__main__":
    main()
