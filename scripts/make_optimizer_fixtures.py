"""Fixtures for optimizers' tests: iterates of PyTorch's Adam / Adam(amsgrad)
and torch-optimizer's DiffGrad, in float64.

Run from the repository root with torch and torch-optimizer installed:

    python scripts/make_optimizer_fixtures.py

Writes crates/optimizers/tests/fixtures/{problem}_{method}.npy, each a
(51 × n) array: row k is the iterate after k steps (row 0 the start).

Problems (the Rust tests build the same ones):
- quad: f(x) = ½xᵀAx − bᵀx, n = 5, A_ij = 1/(i+j+1) + (i+1)δ_ij, b_i = (−1)^i,
  x0 = 0.
- rosen: 2-D Rosenbrock 100(y − x²)² + (1 − x)², x0 = (−1.2, 1).
Methods (50 steps each): adam (lr 0.05), amsgrad (lr 0.05), diffgrad (lr 0.05),
diffgrad_wd (lr 0.05, weight_decay 0.01); β = (0.9, 0.999), eps = 1e-8.
"""
import os

import numpy as np
import torch
import torch_optimizer

torch.set_default_dtype(torch.float64)
out = os.path.join("crates", "optimizers", "tests", "fixtures")
os.makedirs(out, exist_ok=True)

n = 5
A = torch.tensor([[1.0 / (i + j + 1) + (i + 1) * (i == j) for j in range(n)] for i in range(n)])
b = torch.tensor([(-1.0) ** i for i in range(n)])
problems = {
    "quad": (lambda x: 0.5 * x @ A @ x - b @ x, torch.zeros(n)),
    "rosen": (lambda x: 100 * (x[1] - x[0] ** 2) ** 2 + (1 - x[0]) ** 2, torch.tensor([-1.2, 1.0])),
}
methods = {
    "adam": lambda p: torch.optim.Adam(p, lr=0.05, betas=(0.9, 0.999), eps=1e-8),
    "amsgrad": lambda p: torch.optim.Adam(p, lr=0.05, betas=(0.9, 0.999), eps=1e-8, amsgrad=True),
    "diffgrad": lambda p: torch_optimizer.DiffGrad(p, lr=0.05, betas=(0.9, 0.999), eps=1e-8),
    "diffgrad_wd": lambda p: torch_optimizer.DiffGrad(p, lr=0.05, betas=(0.9, 0.999), eps=1e-8,
                                                      weight_decay=0.01),
}
for pname, (f, x0) in problems.items():
    for mname, make in methods.items():
        x = x0.clone().requires_grad_(True)
        opt = make([x])
        traj = [x.detach().clone().numpy()]
        for _ in range(50):
            opt.zero_grad()
            f(x).backward()
            opt.step()
            traj.append(x.detach().clone().numpy())
        np.save(os.path.join(out, f"{pname}_{mname}.npy"), np.array(traj, dtype=np.float64))
        print(pname, mname, traj[-1])
print("torch", torch.__version__, "torch-optimizer", torch_optimizer.__version__)
