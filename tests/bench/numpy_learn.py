# numpy_learn.py — the peers of cajal's learning benchmark (run by
# tests/bench/learn.lua with Debian's /usr/bin/python3, python3-numpy and
# python3-sklearn), one measurement per call so that the caller can
# alternate it with cajal's:
#
#   numpy_learn.py oja    X.npy w0.npy eta          Oja's rule, one pass in row order
#   numpy_learn.py sanger X.npy W0.npy eta          Sanger's rule (k = rows of W0)
#   numpy_learn.py code   X.npy D.npy lambda        SparseCoder(lasso_cd) codes
#   numpy_learn.py dict   X.npy m lambda epochs     MiniBatchDictionaryLearning
#
# Each prints "TIME <seconds>" (CPU time of the computation alone) and
# writes its result next to X.npy (oja.npy, sanger.npy, codes.npy,
# dict.npy: the dictionary as d x m, atoms in columns, as cajal's).
import os
import sys
import time

import numpy as np


def oja(X, w, eta):
    for x in X:
        y = w @ x
        w += eta * y * (x - y * w)
    return w


def sanger(X, W, eta):
    for x in X:
        y = W @ x
        W += eta * (np.outer(y, x) - np.tril(np.outer(y, y)) @ W)
    return W


def main():
    what, xpath = sys.argv[1], sys.argv[2]
    X = np.load(xpath)
    out = os.path.dirname(xpath)
    if what in ("oja", "sanger"):
        w = np.load(sys.argv[3]).copy()
        eta = float(sys.argv[4])
        t0 = time.process_time()
        w = (oja if what == "oja" else sanger)(X, w, eta)
        t = time.process_time() - t0
        np.save(os.path.join(out, what + ".npy"), w)
    elif what == "code":
        from sklearn.decomposition import SparseCoder
        D = np.load(sys.argv[3])
        lam = float(sys.argv[4])
        # SparseCoder's lasso_cd minimises 1/2 |x - a D^T|^2 + alpha |a|_1 per
        # sample (it divides alpha by n_features for Lasso, whose loss is
        # scaled the same way): cajal's objective with lambda = alpha
        coder = SparseCoder(dictionary=D.T.copy(), transform_algorithm="lasso_cd",
                            transform_alpha=lam, transform_max_iter=2000)
        t0 = time.process_time()
        A = coder.transform(X)
        t = time.process_time() - t0
        np.save(os.path.join(out, "codes.npy"), A)
    else:
        from sklearn.decomposition import MiniBatchDictionaryLearning
        m, lam, epochs = int(sys.argv[3]), float(sys.argv[4]), int(sys.argv[5])
        dl = MiniBatchDictionaryLearning(n_components=m, alpha=lam, batch_size=256,
                                         max_iter=epochs, fit_algorithm="cd",
                                         transform_algorithm="lasso_cd", random_state=0)
        t0 = time.process_time()
        dl.fit(X)
        t = time.process_time() - t0
        np.save(os.path.join(out, "dict.npy"), dl.components_.T.copy())
    print(f"TIME {t:.6f}")
    sys.stdout.flush()


main()
