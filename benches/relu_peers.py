"""Side-by-side: optlab's convex ReLU ADMM against CVXPY + Clarabel on the
same program (same data, same gate generators, same beta), one run.

A measurement tool, not a dependency. The issue's speed setup: n = 500,
d = 30, P = 50 sampled Gaussian generators, squared loss with +-1 targets,
beta = 0.1 max_i ||(D_i X)^T y||. The data and generators are written to a
CSV and an NPY file and passed to `optlab relu --data FILE.csv --gates
H.npy --beta B`; CVXPY solves
    min 1/2 ||sum_i D_i X (v_i - w_i) - y||^2 + beta sum_i (||v_i|| + ||w_i||)
    s.t. (2 D_i - I) X v_i >= 0, (2 D_i - I) X w_i >= 0
with Clarabel at its default tolerances (and once at 1e-9 for the reference
objective). Our ADMM runs at residual tolerance 1e-4 (the issue's bar).

    python -m venv /tmp/peers && /tmp/peers/bin/pip install numpy cvxpy clarabel
    cargo build --release -p optlab
    /tmp/peers/bin/python benches/relu_peers.py [--optlab target/release/optlab] [--n 500 --d 30 --p 50]
"""
import argparse
import json
import os
import subprocess
import tempfile
import time

import cvxpy as cp
import numpy as np

p = argparse.ArgumentParser()
p.add_argument("--optlab", default="target/release/optlab")
p.add_argument("--n", type=int, default=500)
p.add_argument("--d", type=int, default=30)
p.add_argument("--p", type=int, default=50)
p.add_argument("--rho", type=float, default=None, help="default: optlab's (beta)")
p.add_argument("--seed", type=int, default=0)
args = p.parse_args()

rng = np.random.default_rng(args.seed)
n, d = args.n, args.d
X = rng.standard_normal((n, d))
wt = rng.standard_normal(d)
y = np.where(np.maximum(X @ wt, 0) - 0.5 > 0, 1.0, -1.0)
H = rng.standard_normal((d, args.p))
D = (X @ H >= 0).astype(float)
_, keep = np.unique(D, axis=1, return_index=True)
keep = np.sort(keep)
H, D = H[:, keep], D[:, keep]
P = D.shape[1]
beta = 0.1 * max(np.linalg.norm(X.T @ (D[:, i] * y)) for i in range(P))

tmp = tempfile.mkdtemp()
csv = os.path.join(tmp, "data.csv")
np.savetxt(csv, np.column_stack([X, y]), delimiter=",", fmt="%.17g")
gates = os.path.join(tmp, "gates.npy")
np.save(gates, np.ascontiguousarray(H))

t = time.perf_counter()
cmd = [args.optlab, "relu", "--data", csv, "--gates", gates, "--beta", repr(float(beta)), "--tol", "1e-4", "--json"]
if args.rho is not None:
    cmd += ["--rho", repr(args.rho)]
out = subprocess.run(cmd, capture_output=True, text=True)
wall_ours = time.perf_counter() - t
if not out.stdout:
    raise SystemExit(f"optlab failed: {out.stderr}")
ours = json.loads(out.stdout)


def solve(**tol):
    V, W = cp.Variable((d, P)), cp.Variable((d, P))
    pred = cp.sum(cp.multiply(D, X @ (V - W)), axis=1)
    obj = 0.5 * cp.sum_squares(pred - y) + beta * (cp.mixed_norm(V.T, 2, 1) + cp.mixed_norm(W.T, 2, 1))
    E = 2 * D - 1
    prob = cp.Problem(cp.Minimize(obj), [cp.multiply(E, X @ V) >= 0, cp.multiply(E, X @ W) >= 0])
    t = time.perf_counter()
    prob.solve(solver=cp.CLARABEL, **tol)
    return prob.value, time.perf_counter() - t, prob.solver_stats.solve_time


ref, _, _ = solve(tol_gap_abs=1e-9, tol_gap_rel=1e-9, tol_feas=1e-9)
val, wall, solve_time = solve()

print(f"n = {n}, d = {d}, P = {P}, beta = {beta:.4g}")
print("| solver | objective | rel. gap to reference | cone violation | iterations | time |")
print("|---|---|---|---|---|---|")
print(f"| CVXPY {cp.__version__} + Clarabel (defaults) | {val:.8g} | {abs(val - ref) / ref:.1e} | — | — | "
      f"{wall:.2f} s (Clarabel {solve_time:.2f} s) |")
print(f"| optlab relu (ADMM, rho {ours['rho']:.3g}, tol 1e-4) | {ours['objective']:.8g} | "
      f"{abs(ours['objective'] - ref) / ref:.1e} | {ours['cone_violation']:.1e} | {ours['iterations']} | "
      f"{ours['seconds']:.2f} s ({wall_ours:.2f} s with start-up) |")
print(f"speed-up: {wall / ours['seconds']:.1f}x (CVXPY wall) / {solve_time / ours['seconds']:.1f}x (Clarabel solve)")
