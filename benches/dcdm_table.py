#!/usr/bin/env python3
"""Iterations and wall time to rtol 1e-4 and 1e-6 for DCDM, CG, IC(0)-PCG and
MG-PCG on the built-in scenes: the table of crates/deep-cg/README.md.

Runs the `optlab` binary (built with `--features burn`) once per
(scene, size, method, tolerance); DCDM runs once to the tighter tolerance and
reads the iteration and elapsed time at which it crossed the looser one from
its `residual_history` / `history_seconds` (same run, so no second 128³ solve).
Results are appended to a JSON-lines file, so an interrupted sweep resumes.

    cargo build --release -p optlab --features burn
    python benches/dcdm_table.py --bin target/release/optlab \\
        --sizes 32 64 128 --out docs/figures/dcdm_table.jsonl
    python benches/dcdm_table.py --out docs/figures/dcdm_table.jsonl --markdown

Timing is wall time on whatever machine runs it (the README says which);
`seconds` = setup (factorisation / hierarchy / model load) + solve.
"""

import argparse
import json
import os
import subprocess
import sys

SCENES = ["smoke-plume", "sphere", "bunny", "mixed"]
BASELINES = ["cg", "ic0-pcg", "mg-pcg"]
RTOLS = [1e-4, 1e-6]


def run(binary, scene, n, method, rtol, max_iters, extra=()):
    cmd = [binary, "poisson", "--scene", scene, "--grid", str(n), "--method", method,
           "--rtol", str(rtol), "--max-iters", str(max_iters), "--json", *extra]
    p = subprocess.run(cmd, capture_output=True, text=True)
    if not p.stdout.strip():
        raise RuntimeError(f"{' '.join(cmd)} failed: {p.stderr}")
    return json.loads(p.stdout)


def first_below(history, tol):
    for i, h in enumerate(history):
        if h <= tol:
            return i
    return None


def sweep(args):
    done = set()
    if os.path.exists(args.out):
        with open(args.out) as f:
            for line in f:
                r = json.loads(line)
                done.add((r["scene"], r["grid"], r["method"], r["rtol"], r.get("residual_mode")))
    out = open(args.out, "a")

    def emit(rec):
        out.write(json.dumps(rec) + "\n")
        out.flush()
        print(json.dumps(rec), file=sys.stderr)

    for n in args.sizes:
        for scene in args.scenes:
            for method in args.methods:
                if method == "dcdm":
                    modes = args.residual_modes
                    for mode in modes:
                        if (scene, n, "dcdm", RTOLS[0], mode) in done:
                            continue
                        cap = args.dcdm_max_iters.get(n, 100)
                        extra = ["--residual", mode]
                        if args.model:
                            extra += ["--model", args.model]
                        d = run(args.bin, scene, n, "dcdm", RTOLS[-1], cap, extra)
                        for rtol in RTOLS:
                            it = first_below(d["residual_history"], rtol)
                            emit({
                                "scene": scene, "grid": n, "method": "dcdm", "rtol": rtol,
                                "residual_mode": mode,
                                "converged": it is not None,
                                "iterations": it if it is not None else d["iterations"],
                                "seconds": d["setup_seconds"] + (
                                    d["history_seconds"][it] if it is not None else d["seconds"]),
                                "model_seconds_total": d["model_seconds"],
                                "final_residual": d["residual_history"][-1],
                                "max_iters": cap,
                            })
                else:
                    for rtol in RTOLS:
                        if (scene, n, method, rtol, None) in done:
                            continue
                        d = run(args.bin, scene, n, method, rtol, args.max_iters)
                        emit({
                            "scene": scene, "grid": n, "method": method, "rtol": rtol,
                            "converged": d["converged"], "iterations": d["iterations"],
                            "seconds": d["setup_seconds"] + d["seconds"],
                            "final_residual": d["relative_residual"],
                        })


def markdown(args):
    rows = {}
    with open(args.out) as f:
        for line in f:
            r = json.loads(line)
            if r["method"] == "dcdm" and r.get("residual_mode") != "recompute":
                continue
            rows[(r["scene"], r["grid"], r["method"], r["rtol"])] = r
    methods = ["dcdm", "ic0-pcg", "mg-pcg", "cg"]
    names = {"dcdm": "DCDM", "ic0-pcg": "IC(0)-PCG", "mg-pcg": "MG-PCG", "cg": "CG"}

    def cell(r):
        if r is None:
            return "–"
        it = f"{r['iterations']}" if r["converged"] else f"✗ >{r['iterations']}"
        s = r["seconds"]
        t = f"{s * 1e3:.0f} ms" if s < 1 else f"{s:.1f} s"
        return f"{it} / {t}"

    for rtol in RTOLS:
        print(f"\nrtol {rtol:g} — iterations / wall time (setup + solve)\n")
        print("| scene | N | " + " | ".join(names[m] for m in methods) + " |")
        print("|---|---|" + "---|" * len(methods))
        for scene in SCENES:
            for n in sorted({k[1] for k in rows}):
                if not any((scene, n, m, rtol) in rows for m in methods):
                    continue
                print(f"| {scene} | {n}³ | " + " | ".join(
                    cell(rows.get((scene, n, m, rtol))) for m in methods) + " |")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--bin", default="target/release/optlab")
    ap.add_argument("--sizes", type=int, nargs="+", default=[32, 64, 128])
    ap.add_argument("--scenes", nargs="+", default=SCENES)
    ap.add_argument("--methods", nargs="+", default=["dcdm"] + BASELINES)
    ap.add_argument("--residual-modes", nargs="+", default=["recompute"])
    ap.add_argument("--model", help="weights file (default: the shipped ones)")
    ap.add_argument("--max-iters", type=int, default=5000, help="baselines' iteration cap")
    ap.add_argument("--dcdm-cap", nargs="+", default=["32:150", "64:80", "128:40"],
                    help="DCDM iteration cap per size, N:CAP")
    ap.add_argument("--out", default="dcdm_table.jsonl")
    ap.add_argument("--markdown", action="store_true", help="print the tables from --out")
    args = ap.parse_args()
    args.dcdm_max_iters = {int(a): int(b) for a, b in (s.split(":") for s in args.dcdm_cap)}
    if args.markdown:
        markdown(args)
    else:
        sweep(args)


if __name__ == "__main__":
    main()
