# numpy_array.py — the numpy side of cajal's array benchmark (run by
# tests/bench/array.lua with Debian's /usr/bin/python3 and python3-numpy).
#
# Run by hand:  /usr/bin/python3 tests/bench/numpy_array.py [n] [m]
# Prints the best CPU time of one operation on n doubles (default 1e7):
#   BENCH numpy_<op>_ms <ms> ms        into a preallocated out= array
#   BENCH numpy_<op>_alloc_ms <ms> ms  allocating the result (a + b)
# for op in add (a + b), muladd (a * b + c), exp (exp(a)), the other
# elementary functions log, log1p, sin, cos, tanh, sigmoid (scipy.special.expit)
# of a, and exp32 (exp of a as float32), and
#   BENCH numpy_matmul_gflops <GFLOP/s> GFLOP/s   for an m x m product (default 1000; m = 0: none),
# timed by the wall clock (BLAS may use several threads).
import sys
import time

import numpy as np


def best(f, reps, clock=time.process_time):
    t = 1e30
    for _ in range(reps):
        t0 = clock()
        f()
        t = min(t, clock() - t0)
    return t * 1e3


def main():
    n = int(float(sys.argv[1])) if len(sys.argv) > 1 else 10_000_000
    m = int(sys.argv[2]) if len(sys.argv) > 2 else 1000
    a = np.arange(n, dtype=np.float64) / n
    b = 1 - a
    c = np.full(n, 0.5)
    o = np.empty(n)

    def muladd_out():
        np.multiply(a, b, out=o)
        np.add(o, c, out=o)

    ops = {
        "add": (lambda: np.add(a, b, out=o), lambda: a + b),
        "muladd": (muladd_out, lambda: a * b + c),
        "exp": (lambda: np.exp(a, out=o), lambda: np.exp(a)),
    }
    # the elementary functions of cajal's vector paths (a in [0, 1), as cajal's side)
    try:
        from scipy.special import expit
    except ImportError:
        expit = None
    for name, f in (("log", np.log), ("log1p", np.log1p), ("sin", np.sin), ("cos", np.cos),
                    ("tanh", np.tanh), ("sigmoid", expit)):
        if f is not None:
            ops[name] = ((lambda f=f: f(a, out=o)), (lambda f=f: f(a)))
    a32, o32 = a.astype(np.float32), np.empty(n, dtype=np.float32)
    ops["exp32"] = (lambda: np.exp(a32, out=o32), lambda: np.exp(a32))
    for name, (inplace, alloc) in ops.items():
        print(f"BENCH numpy_{name}_ms {best(inplace, 7):.2f} ms")
        print(f"BENCH numpy_{name}_alloc_ms {best(alloc, 7):.2f} ms")

    if m <= 0:                        # the rounds after the first: no product
        sys.stdout.flush()
        return
    rng = np.random.default_rng(1)
    x = rng.standard_normal((m, m))
    y = rng.standard_normal((m, m))
    t = best(lambda: x @ y, 5, time.perf_counter) / 1e3
    print(f"BENCH numpy_matmul_gflops {2.0 * m ** 3 / t / 1e9:.2f} GFLOP/s")
    sys.stdout.flush()


main()
