"""Side-by-side: optlab's convex ReLU ADMM against pilancilab's pyscnn
(augmented Lagrangian `scnn.solvers.AL` on `scnn.models.ConvexReLU`) on the
same program: same data, same gate vectors, same regulariser, float64.

A measurement tool, not a dependency. pyscnn's objective is
    ||yhat - y||^2 / (2 n c) + lam sum_i (||v_i|| + ||w_i||)
so lam = beta / (n c) (c = 1) makes it ours divided by n. pyscnn uses the
gate convention `X g > 0`, Bai's code and optlab `X g >= 0`: on standardised
real data with Gaussian gates no product is exactly 0, so the patterns agree
(checked below). `unitize_data=False` (pyscnn rescales columns by default).

Data: breast cancer and wine (classes 0 vs 1) from scikit-learn (the same
tables `datasets` embeds), standardised, all rows, labels +-1.

    python -m venv /tmp/scnn && /tmp/scnn/bin/pip install pyscnn scikit-learn   # ~5.9 GB (CUDA torch)
    cargo build --release -p optlab
    /tmp/scnn/bin/python benches/relu_pyscnn.py [--optlab target/release/optlab] [--p 50] [--beta-frac 0.1]
"""
import argparse
import json
import os
import subprocess
import tempfile
import time

import numpy as np
from sklearn.datasets import load_breast_cancer, load_wine

from scnn.metrics import Metrics
from scnn.models import ConvexReLU
from scnn.optimize import optimize_model
from scnn.regularizers import NeuronGL1
from scnn.solvers import AL

ap = argparse.ArgumentParser()
ap.add_argument("--optlab", default="target/release/optlab")
ap.add_argument("--p", type=int, default=50)
ap.add_argument("--beta-frac", type=float, default=0.1)
ap.add_argument("--seed", type=int, default=0)
ap.add_argument("--tol", type=float, default=1e-6)
ap.add_argument("--scnn-tol", type=float, default=None,
                help="AL tol and constraint_tol (default: pyscnn's, 1e-6 each)")
ap.add_argument("--scnn-max-iters", type=int, default=None,
                help="AL max_primal_iters and max_dual_iters (default: pyscnn's, 10000 each)")
ap.add_argument("--data", nargs="+", default=["breast_cancer", "wine"])
args = ap.parse_args()


def data(name):
    if name == "breast_cancer":
        X, t = load_breast_cancer(return_X_y=True)
        y = np.where(t == 1, 1.0, -1.0)
    else:
        X, t = load_wine(return_X_y=True)
        keep = t <= 1
        X, y = X[keep], np.where(t[keep] == 1, 1.0, -1.0)
    X = (X - X.mean(0)) / X.std(0)
    return X, y


def objective(X, y, V, W, beta, D):
    pred = np.sum(D * (X @ (V - W)), axis=1)
    cone = max(0.0, float(-np.min((2 * D - 1) * (X @ V))), float(-np.min((2 * D - 1) * (X @ W))))
    return 0.5 * np.sum((pred - y) ** 2) + beta * (np.linalg.norm(V, axis=0).sum() + np.linalg.norm(W, axis=0).sum()), cone


print("| data | n, d, P | beta | solver | objective (ours) | rel. diff | cone violation | time |")
print("|---|---|---|---|---|---|---|---|")
for name in args.data:
    X, y = data(name)
    n, d = X.shape
    rng = np.random.default_rng(args.seed)
    G = rng.standard_normal((d, args.p))
    D = (X @ G >= 0).astype(float)
    assert np.all(np.abs(X @ G) > 0), "a gate product is exactly 0: conventions would differ"
    _, keep = np.unique(D, axis=1, return_index=True)
    keep = np.sort(keep)
    G, D = G[:, keep], D[:, keep]
    P = G.shape[1]
    beta = args.beta_frac * max(np.linalg.norm(X.T @ (D[:, i] * y)) for i in range(P))

    tmp = tempfile.mkdtemp()
    csv = os.path.join(tmp, "data.csv")
    np.savetxt(csv, np.column_stack([X, y]), delimiter=",", fmt="%.17g")
    gates = os.path.join(tmp, "gates.npy")
    np.save(gates, np.ascontiguousarray(G))
    t = time.perf_counter()
    out = subprocess.run(
        [args.optlab, "relu", "--data", csv, "--gates", gates, "--beta", repr(float(beta)),
         "--tol", repr(args.tol), "--max-iters", "100000", "--json"],
        capture_output=True, text=True)
    wall_ours = time.perf_counter() - t
    if not out.stdout:
        raise SystemExit(f"optlab failed: {out.stderr}")
    ours = json.loads(out.stdout)

    model = ConvexReLU(G, c=1)
    al_args = {}
    if args.scnn_tol is not None:
        al_args.update(tol=args.scnn_tol, constraint_tol=args.scnn_tol)
    if args.scnn_max_iters is not None:
        al_args.update(max_primal_iters=args.scnn_max_iters, max_dual_iters=args.scnn_max_iters)
    solver = AL(model, **al_args)
    t = time.perf_counter()
    model, _ = optimize_model(model, solver, Metrics(), X, y.reshape(-1, 1),
                                 regularizer=NeuronGL1(beta / n), unitize_data=False, return_convex=True,
                                 dtype="float64", device="cpu")
    wall_scnn = time.perf_counter() - t
    # pyscnn sorts its patterns (np.unique) and drops the zero one, so the
    # returned gates are reordered: the patterns come from them.
    V, W = model.parameters[0][0].T, model.parameters[1][0].T
    D_scnn = (X @ model.G >= 0).astype(float)
    val, cone = objective(X, y, V, W, beta, D_scnn)
    ref = ours["objective"]
    print(f"| {name} | {n}, {d}, {P} | {beta:.4g} | optlab relu (ADMM, tol {args.tol:g}, {ours['iterations']} it.) | "
          f"{ref:.10g} | — | {ours['cone_violation']:.1e} | {ours['seconds']:.3f} s ({wall_ours:.2f} s with start-up) |")
    label = "defaults" if not al_args else ", ".join(f"{k} {v:g}" for k, v in al_args.items())
    print(f"| {name} | {n}, {d}, {P} | {beta:.4g} | pyscnn AL ({label}, float64) | {val:.10g} | "
          f"{(val - ref) / ref:.1e} | {cone:.1e} | {wall_scnn:.2f} s |")
    print(f"|   | | | certificate (ours): p* >= {ours['dual_bound']:.10g}, gap <= {ours['gap_bound']:.1e} | | | | "
          f"speed-up {wall_scnn / ours['seconds']:.1f}x |")
