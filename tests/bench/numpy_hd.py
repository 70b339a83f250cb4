# numpy_hd.py — the numpy side of tests/bench/hd.lua: the same hypervector
# operations at d = 10 000 and the same capsule routing, written in numpy
# (Debian's /usr/bin/python3 and python3-numpy), data laid out as cajal
# keeps it: bsc bit-packed in uint64 words, map and hrr float64, fhrr
# complex128.
#
# Run by hand:  /usr/bin/python3 tests/bench/numpy_hd.py [op ...]
# (ops: bsc_bind1, bsc_bind, bsc_bundle, bsc_sim, the same for map, hrr and
# fhrr, route_b1, route_b32; default all). Prints "T <op> <seconds>" per
# operation: the median CPU time of one call,
# calls timed in groups of at least 2 ms (at least 5 groups and 0.3 s). Where numpy has two
# reasonable ways (Hamming similarity: a popcount table or unpacking to
# +-1 and a matrix product; fhrr similarity: a complex product or a real
# one on the (re, im) view; routing sums: einsum or broadcasting), both
# are timed and the faster is reported.
import sys
import time

import numpy as np

D = 10000
NBIND, NBUNDLE, NQ, NMEM = 100, 500, 100, 500
rng = np.random.default_rng(1)


def median_time(f):
    k = 1
    while True:
        t0 = time.process_time()
        for _ in range(k):
            f()
        if time.process_time() - t0 >= 2e-3:
            break
        k *= 2
    times, total = [], 0.0
    while (len(times) < 5 or total < 0.3) and len(times) < 200:
        t0 = time.process_time()
        for _ in range(k):
            f()
        t = time.process_time() - t0
        times.append(t / k)
        total += t
    return float(np.median(times))


WANT = set(sys.argv[1:])


def report(name, *fs):
    if WANT and name not in WANT:
        return
    print(f"T {name} {min(median_time(f) for f in fs):.9g}")
    sys.stdout.flush()


def wanted(*names):
    return not WANT or any(n in WANT for n in names)


# ---- bsc: rows of ceil(d/64) uint64 words --------------------------------
W = (D + 63) // 64
POP8 = np.array([bin(i).count("1") for i in range(256)], dtype=np.uint8)


def bsc_random(n):
    x = rng.integers(0, 2 ** 64, size=(n, W), dtype=np.uint64)
    if D % 64:
        x[:, -1] &= np.uint64((1 << (D % 64)) - 1)
    return x


def bsc_bits(x):
    return np.unpackbits(x.view(np.uint8), axis=1, bitorder="little")[:, :D]


def bsc_bundle(x):
    n = x.shape[0]
    count = bsc_bits(x).sum(axis=0, dtype=np.int32)
    bits = (2 * count > n).astype(np.uint8)
    if n % 2 == 0:
        bits |= (2 * count == n) & rng.integers(0, 2, D, dtype=np.uint8)
    out = np.zeros(W * 64, dtype=np.uint8)
    out[:D] = bits
    return np.packbits(out, bitorder="little").view(np.uint64)


def bsc_sim_table(q, m):
    h = np.empty((q.shape[0], m.shape[0]), dtype=np.int64)
    for i in range(q.shape[0]):
        h[i] = POP8[np.bitwise_xor(q[i], m).view(np.uint8)].sum(axis=1, dtype=np.int64)
    return 1 - 2 * h / D


def bsc_sim_matmul(q, m):
    a = bsc_bits(q).astype(np.float32) * 2 - 1
    b = bsc_bits(m).astype(np.float32) * 2 - 1
    return (a @ b.T) / D


def bench_bsc():
    if not wanted("bsc_bind1", "bsc_bind", "bsc_bundle", "bsc_sim"):
        return
    a, b = bsc_random(NBIND), bsc_random(NBIND)
    a1, b1 = a[0], b[0]
    report("bsc_bind1", lambda: np.bitwise_xor(a1, b1))
    report("bsc_bind", lambda: np.bitwise_xor(a, b))
    x = bsc_random(NBUNDLE)
    report("bsc_bundle", lambda: bsc_bundle(x))
    q, m = bsc_random(NQ), bsc_random(NMEM)
    report("bsc_sim", lambda: bsc_sim_table(q, m), lambda: bsc_sim_matmul(q, m))


# ---- map, hrr, fhrr ----------------------------------------------------------
def cosine(q, m):
    s = q @ m.T
    return s / np.outer(np.linalg.norm(q, axis=1), np.linalg.norm(m, axis=1))


def bench_real(name, make, bind):
    if not wanted(*(f"{name}_{op}" for op in ("bind1", "bind", "bundle", "sim"))):
        return
    a, b = make(NBIND), make(NBIND)
    a1, b1 = a[0], b[0]
    report(f"{name}_bind1", lambda: bind(a1, b1))
    report(f"{name}_bind", lambda: bind(a, b))
    x = make(NBUNDLE)
    report(f"{name}_bundle", lambda: x.sum(axis=0))
    q, m = make(NQ), make(NMEM)
    report(f"{name}_sim", lambda: cosine(q, m))


def map_random(n):
    return rng.integers(0, 2, size=(n, D)).astype(np.float64) * 2 - 1


def hrr_random(n):
    return rng.standard_normal((n, D)) / np.sqrt(D)


def hrr_bind(a, b):
    return np.fft.irfft(np.fft.rfft(a) * np.fft.rfft(b), n=D)


def fhrr_random(n):
    return np.exp(1j * rng.uniform(0, 2 * np.pi, size=(n, D)))


def fhrr_sim_complex(q, m):
    s = np.real(q @ m.conj().T)
    return s / np.outer(np.linalg.norm(q, axis=1), np.linalg.norm(m, axis=1))


def fhrr_sim_real(q, m):
    return cosine(q.view(np.float64), m.view(np.float64))


def bench_fhrr():
    if not wanted("fhrr_bind1", "fhrr_bind", "fhrr_bundle", "fhrr_sim"):
        return
    a, b = fhrr_random(NBIND), fhrr_random(NBIND)
    a1, b1 = a[0], b[0]
    report("fhrr_bind1", lambda: a1 * b1)
    report("fhrr_bind", lambda: a * b)
    x = fhrr_random(NBUNDLE)
    report("fhrr_bundle", lambda: x.sum(axis=0))
    q, m = fhrr_random(NQ), fhrr_random(NMEM)
    report("fhrr_sim", lambda: fhrr_sim_complex(q, m), lambda: fhrr_sim_real(q, m))


# ---- capsule routing (Procedure 1) -------------------------------------------
def squash(s):
    n2 = (s * s).sum(axis=-1, keepdims=True)
    return s * np.sqrt(n2) / (1 + n2)


def route_einsum(uh, r):
    b = np.zeros(uh.shape[:-1])
    for _ in range(r):
        e = np.exp(b - b.max(axis=-1, keepdims=True))
        c = e / e.sum(axis=-1, keepdims=True)
        v = squash(np.einsum("...ij,...ijd->...jd", c, uh))
        b = b + np.einsum("...ijd,...jd->...ij", uh, v)
    return v, c, b


def route_broadcast(uh, r):
    b = np.zeros(uh.shape[:-1])
    for _ in range(r):
        e = np.exp(b - b.max(axis=-1, keepdims=True))
        c = e / e.sum(axis=-1, keepdims=True)
        v = squash((c[..., None] * uh).sum(axis=-3))
        b = b + (uh * v[..., None, :, :]).sum(axis=-1)
    return v, c, b


def bench_routing():
    for batch in (1, 32):
        if not wanted(f"route_b{batch}"):
            continue
        uh = rng.standard_normal((batch, 1152, 10, 16)) * 0.05
        if batch == 1:
            uh = uh[0]
        report(f"route_b{batch}", lambda: route_einsum(uh, 3), lambda: route_broadcast(uh, 3))


def main():
    bench_bsc()
    bench_real("map", map_random, lambda a, b: a * b)
    bench_real("hrr", hrr_random, hrr_bind)
    bench_fhrr()
    bench_routing()


main()
