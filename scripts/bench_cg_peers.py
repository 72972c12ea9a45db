"""SciPy's CG on the problem of `cargo bench -p optlab-benches` (krylov).

The 5-point Laplacian on a g x g grid (Dirichlet), b = A·1, x0 = 0,
rtol = 1e-8, for g = 64 and 128. Prints iterations and the median of 20 runs.

    python scripts/bench_cg_peers.py
"""
import statistics
import time

import numpy as np
import scipy
import scipy.sparse as sp
import scipy.sparse.linalg as spla


def laplacian(g):
    t = sp.diags([-1.0, 2.0, -1.0], [-1, 0, 1], shape=(g, g))
    return (sp.kron(sp.eye(g), t) + sp.kron(t, sp.eye(g))).tocsr()


print(f"scipy {scipy.__version__}, numpy {np.__version__}")
for g in (64, 128):
    a = laplacian(g)
    b = a @ np.ones(g * g)
    its = []
    x, info = spla.cg(a, b, rtol=1e-8, maxiter=10 * g * g, callback=lambda xk: its.append(1))
    assert info == 0
    n_it = len(its)
    ts = []
    for _ in range(20):
        t0 = time.perf_counter()
        spla.cg(a, b, rtol=1e-8, maxiter=10 * g * g)
        ts.append(time.perf_counter() - t0)
    err = np.abs(x - 1).max()
    print(f"scipy.sparse.linalg.cg g={g}: {n_it} iterations, {1e3 * statistics.median(ts):.2f} ms, |x-1|_inf={err:.1e}")
