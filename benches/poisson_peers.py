"""Side-by-side: optlab's Poisson solvers vs PyAMG SA-PCG and SciPy CG.

A measurement tool, not a dependency. For each scene and grid, the exact
matrix and right-hand side are written by `optlab poisson --write-matrix
--write-rhs`; our solvers run through `optlab poisson --json` and the peers
on the same files, in the same run, at the same relative tolerance.

    cargo build --release -p optlab
    python benches/poisson_peers.py [--optlab target/release/optlab] [--grids 32 64]

Needs numpy, scipy and pyamg. Prints a Markdown table: iterations, setup,
solve and total time (ms; median of --reps runs), and the true relative
residual ||b - Ax|| / ||b|| of each answer.
"""
import argparse
import json
import os
import statistics
import subprocess
import tempfile
import time

import numpy as np
import pyamg
import scipy
import scipy.io
import scipy.sparse.linalg as spla

p = argparse.ArgumentParser()
p.add_argument("--optlab", default=os.path.join("target", "release", "optlab"))
p.add_argument("--grids", type=int, nargs="+", default=[32, 64])
p.add_argument("--scenes", nargs="+", default=["box", "smoke-plume"])
p.add_argument("--rtol", type=float, default=1e-8)
p.add_argument("--reps", type=int, default=3)
args = p.parse_args()


def ours(scene, n, method, extra=()):
    runs = []
    for _ in range(args.reps):
        out = subprocess.run(
            [args.optlab, "poisson", "--scene", scene, "--grid", str(n), "--method", method,
             "--rtol", str(args.rtol), "--json", *extra],
            check=True, capture_output=True, text=True).stdout
        runs.append(json.loads(out))
    r = runs[0]
    setup = statistics.median(x["setup_seconds"] for x in runs) * 1e3
    solve = statistics.median(x["seconds"] for x in runs) * 1e3
    tot = statistics.median((x["setup_seconds"] + x["seconds"]) for x in runs) * 1e3
    return r["iterations"], setup, solve, tot, r["relative_residual"]


def timed(f):
    ts, out = [], None
    for _ in range(args.reps):
        t = time.perf_counter()
        out = f()
        ts.append(time.perf_counter() - t)
    return out, statistics.median(ts) * 1e3


print(f"numpy {np.__version__}, scipy {scipy.__version__}, pyamg {pyamg.__version__}; rtol {args.rtol}; median of {args.reps}")
print()
print("| scene | N | solver | iterations | setup ms | solve ms | total ms | true rel. residual |")
print("|---|---|---|---|---|---|---|---|")
with tempfile.TemporaryDirectory() as tmp:
    for n in args.grids:
        for scene in args.scenes:
            mtx, rhs = os.path.join(tmp, "A.mtx"), os.path.join(tmp, "b.npy")
            subprocess.run([args.optlab, "poisson", "--scene", scene, "--grid", str(n), "--method", "mg-pcg",
                            "--write-matrix", mtx, "--write-rhs", rhs, "--json"], check=True, capture_output=True)
            a_full = scipy.io.mmread(mtx).tocsr()
            b_full = np.load(rhs)
            keep = np.flatnonzero(np.diff(a_full.indptr) > 0)  # drop the zero rows of non-fluid cells
            a = a_full[keep][:, keep].tocsr()
            b = b_full[keep]
            if scene == "box":
                assert (a != pyamg.gallery.poisson((n, n, n), format="csr")).nnz == 0, "box is the textbook matrix"
            rel = lambda x: np.linalg.norm(b - a @ x) / np.linalg.norm(b)
            for method in ["mg-pcg", "ic0-pcg", "cg"]:
                it, s, v, t, rr = ours(scene, n, method)
                print(f"| {scene} | {n} | optlab {method} | {it} | {s:.1f} | {v:.1f} | {t:.1f} | {rr:.1e} |")
            # PyAMG smoothed aggregation as CG preconditioner, constant near-null space.
            ml, ts = timed(lambda: pyamg.smoothed_aggregation_solver(a, B=np.ones((a.shape[0], 1)), max_coarse=10))
            res = []
            x, tv = timed(lambda: (res.clear(), ml.solve(b, tol=args.rtol, accel="cg", maxiter=2000, residuals=res))[1])
            print(f"| {scene} | {n} | PyAMG SA-PCG | {len(res) - 1} | {ts:.1f} | {tv:.1f} | {ts + tv:.1f} | {rel(x):.1e} |")
            its = []
            (x, info), tv = timed(lambda: (its.clear(), spla.cg(a, b, rtol=args.rtol, maxiter=20000,
                                                                  callback=lambda _: its.append(1)))[1])
            print(f"| {scene} | {n} | SciPy CG | {len(its)} | 0.0 | {tv:.1f} | {tv:.1f} | {rel(x):.1e} |")
