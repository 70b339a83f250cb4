# boltzmann_peers.py — the peers of tests/bench/boltzmann.lua, one
# measurement per call (CPU time of this process), printed as "RESULT value":
#   rbm DATA.npy NH EPOCHS      sklearn's BernoulliRBM (PCD-1, learning_rate
#                               0.1, batch_size 10) fitted on DATA: samples/s
#   ising L SWEEPS T            the checkerboard Metropolis update of a
#                               periodic L x L Ising lattice in numpy: sweeps/s
import sys
import time

import numpy as np


def rbm(path, nh, epochs):
    from sklearn.neural_network import BernoulliRBM
    X = np.load(path)
    r = BernoulliRBM(n_components=nh, learning_rate=0.1, batch_size=10, n_iter=epochs, random_state=0)
    t = time.process_time()
    r.fit(X)
    return X.shape[0] * epochs / (time.process_time() - t)


def ising(L, sweeps, T):
    beta = 1.0 / T
    rng = np.random.default_rng(1)
    s = np.where(rng.random((L, L)) < 0.5, 1, -1).astype(np.int8)
    ii, jj = np.indices((L, L))
    black = (ii + jj) % 2 == 0
    masks = (black, ~black)
    accept = np.exp(-beta * np.arange(-8, 9, dtype=float))   # exp(-beta dE), dE = -8 .. 8

    def sweep():
        for m in masks:
            nb = np.roll(s, 1, 0) + np.roll(s, -1, 0) + np.roll(s, 1, 1) + np.roll(s, -1, 1)
            dE = 2 * s * nb                                     # J = 1, h = 0
            flip = m & (rng.random((L, L)) < accept[dE + 8])
            np.negative(s, out=s, where=flip)

    for _ in range(5):
        sweep()
    t = time.process_time()
    for _ in range(sweeps):
        sweep()
    return sweeps / (time.process_time() - t)


if __name__ == "__main__":
    kind = sys.argv[1]
    if kind == "rbm":
        v = rbm(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]))
    else:
        v = ising(int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4]))
    print("RESULT %.6g" % v)
