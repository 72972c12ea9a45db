"""Fixtures for sinkhorn-newton's tests, computed by POT.

Run from the repository root with NumPy and POT installed:

    python scripts/make_ot_fixtures.py

Writes into crates/sinkhorn-newton/tests/fixtures/ (all float64 NPY):
- assign_{a,b,M,plan,cost}.npy: random assignment, n = 60, C_ij ~ U[0, 1]
  (seed 0), uniform marginals, reg = 0.05, `ot.sinkhorn(..., method='sinkhorn_log')`
  run to stopThr 1e-15.
- clouds_{a,b,M,plan,cost}.npy: 2-D Gaussian point clouds (n = 40, m = 30,
  seed 1), squared Euclidean cost divided by its max, Dirichlet marginals,
  reg = 0.1, same solver.
- clouds_emd.npy: the exact OT cost `ot.emd2(a, b, M)` of the clouds problem.
"""
import os

import numpy as np
import ot

out = os.path.join("crates", "sinkhorn-newton", "tests", "fixtures")
os.makedirs(out, exist_ok=True)


def save(name, a, b, M, reg):
    P = ot.sinkhorn(a, b, M, reg, method="sinkhorn_log", stopThr=1e-15, numItermax=1_000_000)
    for key, val in [("a", a), ("b", b), ("M", M), ("plan", P), ("cost", np.array([np.sum(P * M)]))]:
        np.save(os.path.join(out, f"{name}_{key}.npy"), np.ascontiguousarray(val, dtype=np.float64))
    err = np.abs(P.sum(1) - a).sum() + np.abs(P.sum(0) - b).sum()
    print(name, "marginal error", err)


rng = np.random.default_rng(0)
n = 60
save("assign", np.full(n, 1 / n), np.full(n, 1 / n), rng.uniform(0, 1, (n, n)), 0.05)

rng = np.random.default_rng(1)
xs = rng.normal(size=(40, 2))
xt = rng.normal(size=(30, 2)) + np.array([1.0, 0.5])
M = ot.dist(xs, xt, metric="sqeuclidean")
M /= M.max()
a = rng.dirichlet(np.ones(40))
b = rng.dirichlet(np.ones(30))
save("clouds", a, b, M, 0.1)
np.save(os.path.join(out, "clouds_emd.npy"), np.array([ot.emd2(a, b, M)]))
print("POT", ot.__version__)
