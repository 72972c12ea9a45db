"""Fixtures for relu-convex-admm: the convex reformulation of two-layer ReLU
training (Pilanci & Ergen) solved by CVXPY with Clarabel at tight
tolerances, on small seeded problems with given gate generators.

    python -m venv /tmp/peers && /tmp/peers/bin/pip install numpy cvxpy clarabel
    /tmp/peers/bin/python crates/relu-convex-admm/scripts/make_fixtures.py

Writes tests/fixtures/convex_small_*.json: X (n×d, row-major), y (±1),
(also `losses`: beta and optimum of the same program with the logistic and
hinge losses),
generators H (d×P, column-major as a list of columns), beta, and CVXPY's
optimal objective `½‖Σ D_i X(v_i − w_i) − y‖² + β Σ(‖v_i‖ + ‖w_i‖)` with
D_i = diag(1[X h_i ≥ 0]) (duplicates kept out), cone constraints
(2D_i − I) X v_i ≥ 0, (2D_i − I) X w_i ≥ 0.
"""
import json
import os

import cvxpy as cp
import numpy as np

here = os.path.join(os.path.dirname(__file__), "..", "tests", "fixtures")
os.makedirs(here, exist_ok=True)

for name, (n, d, p, seed) in {"a": (60, 5, 8, 0), "b": (150, 8, 16, 1)}.items():
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d))
    w_true = rng.standard_normal(d)
    y = np.sign(np.maximum(X @ w_true, 0) - 0.3 + 0.1 * rng.standard_normal(n))
    y[y == 0] = 1.0
    H = rng.standard_normal((d, p))
    D = (X @ H >= 0).astype(float)
    _, keep = np.unique(D, axis=1, return_index=True)
    keep = np.sort(keep)
    H, D = H[:, keep], D[:, keep]
    P = D.shape[1]
    beta = 0.1 * max(np.linalg.norm(X.T @ (D[:, i] * y)) for i in range(P))
    V = cp.Variable((d, P))
    W = cp.Variable((d, P))
    pred = cp.sum(cp.multiply(D, X @ (V - W)), axis=1)
    obj = 0.5 * cp.sum_squares(pred - y) + beta * (cp.mixed_norm(V.T, 2, 1) + cp.mixed_norm(W.T, 2, 1))
    E = 2 * D - 1
    cons = [cp.multiply(E, X @ V) >= 0, cp.multiply(E, X @ W) >= 0]
    prob = cp.Problem(cp.Minimize(obj), cons)
    tight = dict(tol_gap_abs=1e-10, tol_gap_rel=1e-10, tol_feas=1e-10, max_iter=500)
    prob.solve(solver=cp.CLARABEL, **tight)
    # The same program with the logistic loss (binary cross-entropy on the
    # logit, +-1 targets) and the hinge loss, beta = 0.1 max_i ||X^T D_i grad(0)||.
    group = cp.mixed_norm(V.T, 2, 1) + cp.mixed_norm(W.T, 2, 1)
    other = {}
    for loss, expr, g0 in [
        ("bce", cp.sum(cp.logistic(-cp.multiply(y, pred))), -0.5 * y),
        ("hinge", cp.sum(cp.pos(1 - cp.multiply(y, pred))), -y),
    ]:
        b = 0.1 * max(np.linalg.norm(X.T @ (D[:, i] * g0)) for i in range(P))
        q = cp.Problem(cp.Minimize(expr + b * group), cons)
        q.solve(solver=cp.CLARABEL, **tight)
        other[loss] = dict(beta=b, objective=float(q.value), status=q.status)
        print(name, loss, b, q.value, q.status)
    out = dict(
        n=n, d=d, p=P, beta=beta,
        x=X.ravel().tolist(), y=y.tolist(),
        generators=[H[:, i].tolist() for i in range(P)],
        objective=float(prob.value),
        status=prob.status,
        losses=other,
        solver=f"cvxpy {cp.__version__} + CLARABEL",
    )
    with open(os.path.join(here, f"convex_small_{name}.json"), "w") as f:
        json.dump(out, f)
    print(name, n, d, P, beta, prob.value, prob.status)
