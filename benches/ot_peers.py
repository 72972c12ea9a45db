"""Side-by-side: optlab's Sinkhorn and SNS vs POT, on the same files, in one run.

A measurement tool, not a dependency. Each problem is written by
`optlab ot --problem NAME --write-problem DIR` (so both sides read the same
float64 cost and marginals); ours run through `optlab ot --json`, POT
(`ot.sinkhorn`) on the loaded arrays.

    cargo build --release -p optlab
    python benches/ot_peers.py [--optlab target/release/optlab] [--quick]

Needs numpy and POT. Prints two Markdown tables:

1. time to marginal error 1e-9, where the error is ours for every solver:
   ||r - P1||_1 + ||c - P^T 1||_1, computed on the returned plan. POT stops on
   its own criterion (the 2-norm of the column-marginal violation) with
   stopThr = 1e-10, and the table shows the L1 error its plan reached.
2. time per iteration at n = 2000 point clouds, eps = 0.01: 200 sweeps of
   each (50 for the log-domain ones), no early stop.
"""
import argparse
import json
import os
import subprocess
import tempfile
import time
import warnings

import numpy as np
import ot

p = argparse.ArgumentParser()
p.add_argument("--optlab", default=os.path.join("target", "release", "optlab"))
p.add_argument("--quick", action="store_true", help="skip the slow log-domain Sinkhorn runs at eta=1200")
args = p.parse_args()
warnings.filterwarnings("ignore")
TOL = 1e-9


def write(problem, d):
    subprocess.run([args.optlab, "ot", "--problem", problem, "--eta", "1", "--write-problem", d,
                    "--method", "sinkhorn", "--max-iters", "1", "--tol", "1"],
                   check=False, capture_output=True)
    return [np.load(os.path.join(d, f)) for f in ("a.npy", "b.npy", "C.npy")]


def ours(d, eta, method, extra=()):
    cmd = [args.optlab, "ot", "--cost", f"{d}/C.npy", "--a", f"{d}/a.npy", "--b", f"{d}/b.npy",
           "--eta", repr(eta), "--method", method, "--json", *extra]
    out = subprocess.run(cmd, capture_output=True, text=True)
    return json.loads(out.stdout)


def l1_error(P, a, b):
    return np.abs(P.sum(1) - a).sum() + np.abs(P.sum(0) - b).sum()


def pot(a, b, C, eta, method, max_iter):
    # POT needs positive marginals for the log domain: drop zero-mass bins, as we do.
    ri, ci = a > 0, b > 0
    a, b, C = a[ri], b[ci], C[np.ix_(ri, ci)]
    # One run: POT stops on the 2-norm of the column-marginal violation (its
    # rows are exact after each sweep), so stopThr = 1e-10 puts its L1 error
    # near our 1e-9; the table shows the L1 error each run actually reached.
    thr = TOL / 10
    t = time.perf_counter()
    P, log = ot.sinkhorn(a, b, C, 1.0 / eta, method=method, stopThr=thr,
                         numItermax=max_iter, log=True)
    sec = time.perf_counter() - t
    err = l1_error(P, a, b)
    return dict(iterations=log["niter"], seconds=sec, marginal_error=err, cost=float(np.sum(P * C)),
                thr=thr)


rows = []
cases = [
    ("random assignment n=500", "random-assignment:500:0", 1200.0),
    ("random assignment n=500", "random-assignment:500:0", 100.0),
    ("W2 digits 0→1 (8×8)", "digits-w2:0:1", 1200.0),
    ("W2 Gaussian mixtures 28×28", "gaussian-w2:0", 1200.0),
    ("W1 Gaussian mixtures 28×28", "gaussian-w1:0", 1200.0),
]
with tempfile.TemporaryDirectory() as tmp:
    for label, problem, eta in cases:
        d = os.path.join(tmp, problem.replace(":", "_"))
        a, b, C = write(problem, d)
        runs = []
        sns_extra = ["--sinkhorn-iters", "700", "--shift-mu", "1", "--cg-rtol", "0.1"] if "w1" in problem else []
        runs.append(("optlab sns" + (" (N1=700, μ=1, CG rtol 0.1)" if sns_extra else ""),
                     ours(d, eta, "sns", sns_extra)))
        runs.append(("optlab sinkhorn (kernel + absorption)", ours(d, eta, "sinkhorn", ["--max-iters", "200000"])))
        slow = eta > 1000 and problem.startswith("random")
        if not (slow and args.quick):
            runs.append(("optlab sinkhorn (log domain)",
                         ours(d, eta, "sinkhorn", ["--sinkhorn-method", "log", "--max-iters", "200000"])))
            runs.append(("POT sinkhorn_log", pot(a, b, C, eta, "sinkhorn_log", 200000)))
        runs.append(("POT sinkhorn (kernel)", pot(a, b, C, eta, "sinkhorn", 200000)))
        for name, r in runs:
            it = r["iterations"]
            if "newton_iterations" in r and r["newton_iterations"]:
                it = f'{r["sinkhorn_iterations"]} + {r["newton_iterations"]}'
            rows.append((label, f"{eta:g}", name, it, r["seconds"], r["marginal_error"], r["cost"]))
            print(rows[-1], flush=True)

    print("\n| problem | η | solver | iterations | time (s) | marginal error | ⟨C, P⟩ |")
    print("|---|---|---|---|---|---|---|")
    for label, eta, name, it, sec, err, cost in rows:
        e = "NaN" if not np.isfinite(err) else f"{err:.1e}"
        print(f"| {label} | {eta} | {name} | {it} | {sec:.3f} | {e} | {cost:.10f} |")

    # Per-iteration cost at n = 2000, eps = 0.01.
    d = os.path.join(tmp, "clouds")
    a, b, C = write("clouds:2000:0", d)
    eta = 100.0
    per = []
    r = ours(d, eta, "sinkhorn", ["--max-iters", "200", "--tol", "1e-300"])
    per.append(("optlab sinkhorn (kernel + absorption)", r["seconds"] / r["iterations"]))
    r = ours(d, eta, "sinkhorn", ["--sinkhorn-method", "log", "--max-iters", "50", "--tol", "1e-300"])
    per.append(("optlab sinkhorn (log domain)", r["seconds"] / r["iterations"]))
    for method, k in [("sinkhorn", 200), ("sinkhorn_log", 50)]:
        t = time.perf_counter()
        ot.sinkhorn(a, b, C, 1.0 / eta, method=method, stopThr=0.0, numItermax=k)
        per.append((f"POT {method}", (time.perf_counter() - t) / k))
    print("\n| n = 2000 clouds, ε = 0.01 | ms per iteration |")
    print("|---|---|")
    for name, s in per:
        print(f"| {name} | {s * 1e3:.2f} |")
    print(f"\nPOT {ot.__version__}, NumPy {np.__version__}")
