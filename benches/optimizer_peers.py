"""Side-by-side: optlab's optimizers vs SciPy's L-BFGS-B, same problems, one run.

A measurement tool, not a dependency. The problems are rebuilt here exactly
as the `optimizers` crate builds them: the embedded CSV data
(crates/datasets/data), standardised with the population standard
deviation, an intercept column appended, ℓ2 regularisation λ on every
weight; logistic labels ±1 (class 1 → +1), softmax over all classes with
the weight matrix stored column by column. Our methods run through
`optlab optimize --json`; SciPy's `minimize(method='L-BFGS-B')` on the same
f and gradient (NumPy), started from zeros, gtol = 1e-8 on the projected
gradient's ∞-norm, and we report the 2-norm it reached.

    cargo build --release -p optlab
    python benches/optimizer_peers.py [--optlab target/release/optlab]

Prints a Markdown table: iterations, time, final f and ‖∇f‖₂.
"""
import argparse
import gzip
import json
import os
import subprocess
import time

import numpy as np
import scipy
from scipy.optimize import minimize
from scipy.special import log_expit, logsumexp, expit

p = argparse.ArgumentParser()
p.add_argument("--optlab", default=os.path.join("target", "release", "optlab"))
p.add_argument("--reg", type=float, default=1e-3)
args = p.parse_args()
DATA = os.path.join("crates", "datasets", "data")


def load(name):
    with gzip.open(os.path.join(DATA, f"{name}.csv.gz"), "rt") as fh:
        rows = [line.strip().split(",") for line in fh if line.strip()]
    # sklearn-style header (n, d, class names) on all but digits.
    def numeric(r):
        try:
            [float(v) for v in r]
            return True
        except ValueError:
            return False
    body = rows if numeric(rows[0]) else rows[1:]
    data = np.array([[float(v) for v in r] for r in body])
    x, y = data[:, :-1], data[:, -1].astype(int)
    x = (x - x.mean(0)) / np.where(x.std(0) > 0, x.std(0), 1.0)
    return np.hstack([x, np.ones((len(x), 1))]), y


def logistic(name, lam):
    a, y = load(name)
    s = np.where(y == 1, 1.0, -1.0)
    m = len(s)

    def fg(w):
        t = s * (a @ w)
        f = -log_expit(t).sum() / m + 0.5 * lam * w @ w
        g = a.T @ (-s * expit(-t)) / m + lam * w
        return f, g
    return fg, a.shape[1]


def softmax(name, lam):
    a, y = load(name)
    m, d = a.shape
    k = y.max() + 1
    onehot = np.eye(k)[y]

    def fg(x):
        w = x.reshape(k, d).T  # column-major: class blocks of length d
        z = a @ w
        lse = logsumexp(z, axis=1)
        f = (lse - z[np.arange(m), y]).sum() / m + 0.5 * lam * x @ x
        p = np.exp(z - lse[:, None])
        gw = a.T @ (p - onehot) / m
        return f, gw.T.reshape(-1) + lam * x
    return fg, d * k


def ours(problem, method, max_iters):
    out = subprocess.run([args.optlab, "optimize", "--problem", problem, "--method", method,
                          "--max-iters", str(max_iters), "--tol", "1e-8", "--reg", repr(args.reg),
                          "--json"], capture_output=True, text=True)
    if not out.stdout:
        return None
    r = json.loads(out.stdout)
    return r["iterations"], r["seconds"], r["value"], r["grad_norm"]


rows = []
for problem, build in [("logistic:breast_cancer", logistic), ("softmax:digits", softmax),
                       ("softmax:wine", softmax)]:
    fg, n = build({"wine": "wine_data"}.get(problem.split(":")[1], problem.split(":")[1]), args.reg)
    for method, cap in [("grn", 500), ("grn-fisher", 500), ("grn-diag", 20000), ("mishchenko", 500),
                        ("nesterov", 20000), ("gd", 20000)]:
        r = ours(problem, method, cap)
        if r is not None:
            rows.append((problem, f"optlab {method}", *r))
            print(rows[-1], flush=True)
    t = time.perf_counter()
    res = minimize(fg, np.zeros(n), jac=True, method="L-BFGS-B",
                   options=dict(gtol=1e-8, ftol=0.0, maxiter=20000, maxcor=10))
    sec = time.perf_counter() - t
    rows.append((problem, "SciPy L-BFGS-B (m=10)", res.nit, sec, res.fun, np.linalg.norm(fg(res.x)[1])))
    print(rows[-1], flush=True)

print("\n| problem | method | iterations | time (s) | f | ‖∇f‖₂ |")
print("|---|---|---|---|---|---|")
for prob, name, it, sec, f, g in rows:
    print(f"| {prob} | {name} | {it} | {sec:.3f} | {f:.12f} | {g:.1e} |")
print(f"\nSciPy {scipy.__version__}, NumPy {np.__version__}")
