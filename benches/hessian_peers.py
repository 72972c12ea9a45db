"""Side-by-side: `optlab spectrum` against PyHessian on the same PyTorch model.

A measurement tool, not a dependency. One MLP 20-30-30-5 (tanh, biases,
1 715 parameters) is trained in PyTorch with softmax cross-entropy
(`nn.CrossEntropyLoss`, the mean over samples: the same loss as ours) on a
5-cluster mixture (N = 1 000, unit-norm centres, noise 0.05). Its inputs,
labels and weights are written as NPY (weights flattened layer by layer,
`weight.flatten(order='F')` then `bias`, our layout), and:

1. PyHessian (`pyhessian.hessian` on the full batch, float32 as its users
   run it) computes the top eigenvalue (`eigenvalues()`, power iteration,
   maxIter 100, tol 1e-3) and the trace (`trace()`, Hutchinson, maxIter
   100, tol 1e-3; we report mean ± standard error of its samples);
2. `optlab spectrum --mlp --weights ... --data npy:...` computes the top
   eigenvalue (Lanczos, Ritz residual) and the Hutchinson trace with 100
   probes (± standard error), and the exact values (`--exact`);
3. torch's dense Hessian (`torch.func.hessian`, float64) is written and
   read back by `optlab spectrum --matrix H.npy --exact`: the two Hessians
   agree entry for entry.

    cargo build --release -p optlab
    python benches/hessian_peers.py [--optlab target/release/optlab]

Needs numpy, torch and pyhessian (pip install pyhessian). Prints a Markdown
table; `benches/results/hessian_peers.md` holds the last run.
"""
import argparse
import copy
import json
import os
import subprocess
import tempfile
import time

import numpy as np
import torch
from pyhessian import hessian

ap = argparse.ArgumentParser()
ap.add_argument("--optlab", default="target/release/optlab")
args = ap.parse_args()

torch.manual_seed(0)
rng = np.random.default_rng(0)
N, D, K, NOISE = 1000, 20, 5, 0.05
centres = rng.standard_normal((K, D))
centres /= np.linalg.norm(centres, axis=1, keepdims=True)
labels = np.arange(N) % K
X = centres[labels] + NOISE * rng.standard_normal((N, D))

model = torch.nn.Sequential(
    torch.nn.Linear(D, 30), torch.nn.Tanh(),
    torch.nn.Linear(30, 30), torch.nn.Tanh(),
    torch.nn.Linear(30, K),
).double()
crit = torch.nn.CrossEntropyLoss()
xt, yt = torch.tensor(X), torch.tensor(labels)
opt = torch.optim.SGD(model.parameters(), lr=0.5)
for _ in range(300):
    opt.zero_grad()
    loss = crit(model(xt), yt)
    loss.backward()
    opt.step()
print(f"trained: loss {loss.item():.4e}")

tmp = tempfile.mkdtemp()
flat = []
for m in model:
    if isinstance(m, torch.nn.Linear):
        flat.append(m.weight.detach().numpy().flatten(order="F"))
        flat.append(m.bias.detach().numpy())
w = np.concatenate(flat)
np.save(os.path.join(tmp, "X.npy"), X)
np.save(os.path.join(tmp, "labels.npy"), labels.astype(np.float64))
np.save(os.path.join(tmp, "weights.npy"), w)


def optlab(*extra, ok=(0,)):
    cmd = [args.optlab, "spectrum", *extra, "--json"]
    t0 = time.perf_counter()
    out = subprocess.run(cmd, capture_output=True, text=True)
    wall = time.perf_counter() - t0
    if out.returncode not in ok:
        raise SystemExit(f"{' '.join(cmd)}: {out.stderr}")
    return json.loads(out.stdout), wall


mlp = ["--mlp", "--data", f"npy:{tmp}/X.npy,{tmp}/labels.npy", "--hidden", "30,30",
       "--loss", "ce", "--weights", f"{tmp}/weights.npy"]
ours, ours_wall = optlab(*mlp, "--top-k", "1", "--trace", "hutchinson", "--samples", "100",
                         "--density-runs", "1", "--density-steps", "2")
exact, exact_wall = optlab(*mlp, "--exact", "--top-k", "1")

# PyHessian, float32 on the same weights (a copy: the float64 model stays).
m32 = copy.deepcopy(model).float()
hc = hessian(m32, crit, data=(xt.float(), yt), cuda=False)
t0 = time.perf_counter()
top, _ = hc.eigenvalues()
t_eig = time.perf_counter() - t0
t0 = time.perf_counter()
tr = hc.trace()
t_tr = time.perf_counter() - t0
tr = np.array(tr)
tr_mean, tr_se = tr.mean(), tr.std(ddof=1) / np.sqrt(len(tr))
# PyHessian stops its trace when the running mean moves by < 1e-3: run it to
# 100 samples as well (tol 0) for a like-for-like error bar.
t0 = time.perf_counter()
tr100 = np.array(hc.trace(maxIter=100, tol=0.0))
t_tr100 = time.perf_counter() - t0
# Cost of one Hessian-vector product (PyHessian's double backward), float32
# and float64, against ours (the `seconds` of a 100-probe Hutchinson run).
from pyhessian.utils import hessian_vector_product


def hvp_seconds(mdl, x):
    ps = [p for p in mdl.parameters()]
    loss = crit(mdl(x), yt)
    g = torch.autograd.grad(loss, ps, create_graph=True)
    v = [torch.randn_like(p) for p in ps]
    t0 = time.perf_counter()
    for _ in range(100):
        hessian_vector_product(g, ps, v)
    return (time.perf_counter() - t0) / 100


hvp32 = hvp_seconds(m32, xt.float())
hvp64 = hvp_seconds(model, xt)
hut, _ = optlab(*mlp, "--top-k", "1", "--max-steps", "1", "--tol", "0", "--trace", "hutchinson",
                "--samples", "400", "--density-runs", "1", "--density-steps", "2", ok=(0, 1))

# The dense Hessian from torch (float64) read back by optlab.
model.double()
params = [p.detach().clone() for p in model.parameters()]
shapes = [p.shape for p in params]


def loss_of(flat_p):
    chunks, i = [], 0
    for s in shapes:
        n = int(np.prod(s))
        chunks.append(flat_p[i:i + n].reshape(s))
        i += n
    out = torch.func.functional_call(
        model, {name: c for (name, _), c in zip(model.named_parameters(), chunks)}, (xt,))
    return crit(out, yt)


p0 = torch.cat([p.reshape(-1) for p in params])
t0 = time.perf_counter()
H = torch.func.hessian(loss_of)(p0).numpy()
t_dense = time.perf_counter() - t0
# Reorder torch's (row-major weight) parameter order into ours (column-major).
perm, off = [], 0
for s in shapes:
    n = int(np.prod(s))
    idx = np.arange(n).reshape(s)
    perm.append(off + (idx.flatten(order="F") if len(s) == 2 else idx))
    off += n
perm = np.concatenate(perm)
H = H[np.ix_(perm, perm)]
H = 0.5 * (H + H.T)
np.save(os.path.join(tmp, "H.npy"), H)
dense, dense_wall = optlab("--matrix", f"{tmp}/H.npy", "--exact", "--top-k", "1")
ev = np.linalg.eigvalsh(H)

lam = exact["top_eigenvalues"][0]
rows = [
    ("exact (optlab --exact, f64)", lam, 0.0, exact["trace"], 0.0, exact_wall, "dense H, G, R"),
    ("torch dense H + NumPy eigvalsh", ev[-1], 0.0, H.trace(), 0.0, t_dense, "torch.func.hessian"),
    ("optlab Lanczos + Hutchinson (100)", ours["top_eigenvalues"][0], ours["ritz_residuals"][0],
     ours["trace"], ours["trace_stderr"], ours_wall, f"{ours['matvecs']} HVPs"),
    ("PyHessian eigenvalues() + trace()", top[0], float("nan"), tr_mean, tr_se, t_eig + t_tr,
     f"power {t_eig:.2f} s, {len(tr)} Hutchinson samples {t_tr:.2f} s"),
    ("PyHessian trace(maxIter=100, tol=0)", float("nan"), float("nan"), tr100.mean(),
     tr100.std(ddof=1) / 10.0, t_tr100, "100 Hutchinson samples"),
]
print("| method | λ_max | ± (Ritz residual) | Tr H | ± (stderr) | seconds | notes |")
print("|---|---|---|---|---|---|---|")
for name, l, lr, t, ts, sec, note in rows:
    print(f"| {name} | {l:.6f} | {lr:.1e} | {t:.4f} | {ts:.4f} | {sec:.2f} | {note} |")
print()
print(f"optlab on torch's dense H: λ_max {dense['top_eigenvalues'][0]:.10f}, trace {dense['trace']:.10f}"
      f" (ours {lam:.10f}, {exact['trace']:.10f})")
print(f"one HVP: PyHessian (double backward) {hvp32 * 1e3:.2f} ms in float32, {hvp64 * 1e3:.2f} ms"
      f" in float64; optlab (R-op, float64) {hut['seconds'] / hut['matvecs'] * 1e3:.2f} ms"
      f" (a {hut['matvecs']}-product run in {hut['seconds']:.2f} s, forward pass included)")
print(f"|λ_PyHessian − λ_exact| / λ_exact = {abs(top[0] - lam) / lam:.1e} (its tol 1e-3);"
      f" |Tr_PyHessian − Tr_exact| = {abs(tr_mean - exact['trace']):.4f} = "
      f"{abs(tr_mean - exact['trace']) / tr_se:.2f} of its stderr;"
      f" ours {abs(ours['trace'] - exact['trace']) / ours['trace_stderr']:.2f} of ours")
