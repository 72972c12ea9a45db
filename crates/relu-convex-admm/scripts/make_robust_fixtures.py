"""Fixtures for relu-convex-admm's robust (adversarial) program, solved by
CVXPY with Clarabel at tight tolerances.

    python -m venv /tmp/peers && /tmp/peers/bin/pip install numpy cvxpy clarabel
    /tmp/peers/bin/python crates/relu-convex-admm/scripts/make_robust_fixtures.py

Data: X = [features | 1] (the last column is a bias and is not perturbed),
targets +-1 from a seeded ReLU teacher; generators: e_bias first (the
all-active pattern), then seeded Gaussian ones; D_i = diag(1[X h_i >= 0]),
duplicates dropped (first occurrence kept). With z_k = sum_i d_ki (v_i - w_i),
the robust program (Bai, Gautam, Sojoudi 2023, Sec. 4) at radius eps is

  min sum_k phi_k(z_k) + beta sum_i (||v_i|| + ||w_i||)
  s.t. (2 d_ki - 1) x_k^T v_i >= eps ||v_i||_1,f  (same for w_i)
  hinge:   phi_k = (1 - y_k x_k^T z_k + eps ||z_k||_1,f)_+
  squared: phi_k = 0.5 (|y_k - x_k^T z_k| + eps ||z_k||_1,f)^2

||.||_1,f sums over the perturbed (non-bias) columns. Writes
tests/fixtures/robust_small_*.json with X (row-major), y, generators
(list of columns), eps, and per loss beta and CVXPY's optimum.
"""
import json
import os

import cvxpy as cp
import numpy as np

here = os.path.join(os.path.dirname(__file__), "..", "tests", "fixtures")
os.makedirs(here, exist_ok=True)

for name, (n, df, p, eps, seed) in {"a": (60, 4, 8, 0.1, 0), "b": (120, 6, 12, 0.05, 1)}.items():
    rng = np.random.default_rng(seed)
    F = rng.standard_normal((n, df))
    w_true = rng.standard_normal(df)
    y = np.sign(np.maximum(F @ w_true, 0) - 0.3 + 0.1 * rng.standard_normal(n))
    y[y == 0] = 1.0
    X = np.hstack([F, np.ones((n, 1))])
    d = df + 1
    e_bias = np.zeros((d, 1))
    e_bias[-1] = 1.0
    H = np.hstack([e_bias, rng.standard_normal((d, p))])
    D = (X @ H >= 0).astype(float)
    _, keep = np.unique(D, axis=1, return_index=True)
    keep = np.sort(keep)
    H, D = H[:, keep], D[:, keep]
    P = D.shape[1]
    E = 2 * D - 1
    V = cp.Variable((d, P))
    W = cp.Variable((d, P))
    Z = D @ (V - W).T  # n x d, rows z_k
    pred = cp.sum(cp.multiply(X, Z), axis=1)
    zl1 = cp.sum(cp.abs(Z[:, :df]), axis=1)
    group = cp.mixed_norm(V.T, 2, 1) + cp.mixed_norm(W.T, 2, 1)
    tv = cp.sum(cp.abs(V[:df, :]), axis=0)
    tw = cp.sum(cp.abs(W[:df, :]), axis=0)
    ones = np.ones((n, 1))
    cons = [
        cp.multiply(E, X @ V) >= eps * (ones @ cp.reshape(tv, (1, P), order="C")),
        cp.multiply(E, X @ W) >= eps * (ones @ cp.reshape(tw, (1, P), order="C")),
    ]
    tight = dict(tol_gap_abs=1e-10, tol_gap_rel=1e-10, tol_feas=1e-10, max_iter=500)
    losses = {}
    for loss, expr, g0 in [
        ("hinge", cp.sum(cp.pos(1 - cp.multiply(y, pred) + eps * zl1)), -y),
        ("squared", 0.5 * cp.sum_squares(cp.abs(y - pred) + eps * zl1), -y),
    ]:
        beta = 0.1 * max(np.linalg.norm(X.T @ (D[:, i] * g0)) for i in range(P))
        prob = cp.Problem(cp.Minimize(expr + beta * group), cons)
        prob.solve(solver=cp.CLARABEL, **tight)
        losses[loss] = dict(beta=beta, objective=float(prob.value), status=prob.status)
        print(name, loss, P, beta, prob.value, prob.status)
    out = dict(
        n=n, d=d, p=P, eps=eps, bias_column=d - 1,
        x=X.ravel().tolist(), y=y.tolist(),
        generators=[H[:, i].tolist() for i in range(P)],
        losses=losses,
        solver=f"cvxpy {cp.__version__} + CLARABEL",
    )
    with open(os.path.join(here, f"robust_small_{name}.json"), "w") as f:
        json.dump(out, f)
