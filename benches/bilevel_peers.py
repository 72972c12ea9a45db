"""Side-by-side: benchopt's F2SA (JAX) on benchopt's own quadratic against
optlab's stochastic penalty methods on the same-shaped quadratic, one run.

A measurement tool, not a dependency. The peer side rebuilds benchopt's
`simulated` quadratic (benchmark_bilevel HEAD 3ad65dc,
`benchmark_utils/gen_matrices.py`: rank-one sample Hessians with spectra
log-spaced in [mu, L], rank-one cross terms with singular values in
[mu, L_cross], standard normal linear terms; random_state 2442) and runs
F2SA with benchopt's schedule (steps c/(k+1)^e, e = 5/7, 4/7, 4/7, 1/7;
independent minibatches of 64 from a per-epoch permutation of the blocks)
at benchopt's tuned parameters (`config/quadratics_021424_best_params.yml`:
step 0.1, outer_ratio 1, lmbda0 1, delta_lmbda 0.01, 10 inner steps),
jit-compiled, 100 iterations per compiled chunk. The value gap is
psi(x) - psi* with psi in closed form, as benchopt's `metrics` computes it.
Our side runs `optlab bilevel --problem quadratic-stochastic` (our draw of
the same distributions) to the gap 1e-4.

    python -m venv /tmp/peers && /tmp/peers/bin/pip install numpy jax
    cargo build --release -p optlab
    /tmp/peers/bin/python benches/bilevel_peers.py [--optlab target/release/optlab] [--seconds 60]

Prints a Markdown table: batch-gradient calls and time to the gap 1e-4
(or the best gap within the time budget).
"""
import argparse
import json
import subprocess
import time

import jax
import jax.numpy as jnp
import numpy as np

jax.config.update("jax_enable_x64", True)

p = argparse.ArgumentParser()
p.add_argument("--optlab", default="target/release/optlab")
p.add_argument("--seconds", type=float, default=60.0)
p.add_argument("--seeds", type=int, default=3)
args = p.parse_args()

D_IN, D_OUT, N_IN, N_OUT, MU, L, L_CROSS, BATCH = 100, 10, 32768, 1024, 0.1, 1.0, 0.1, 64


def level(key, n, l_cross):
    """Samples of one level: a (n, D_IN), b (n, D_OUT), p (n, D_OUT), q (n, D_IN), c, d."""
    k = jax.random.split(key, 10)
    u, _, _ = jnp.linalg.svd(jax.random.normal(k[0], (D_IN, 1)))
    az = u @ jnp.diag(jnp.logspace(np.log10(MU) / 2, np.log10(L) / 2, D_IN)) @ u.T
    a = jax.random.normal(k[1], (n, D_IN)) @ az
    u, _, _ = jnp.linalg.svd(jax.random.normal(k[2], (D_OUT, 1)))
    sx = jnp.r_[0.0, jnp.logspace(np.log10(MU) / 2, np.log10(L) / 2, D_OUT - 1)]
    ax = u @ jnp.diag(sx) @ u.T
    b = jax.random.normal(k[3], (n, D_OUT)) @ ax
    u, _, v = jnp.linalg.svd(jax.random.normal(k[4], (D_OUT, D_IN)))
    dmat = jnp.zeros((D_OUT, D_IN)).at[:D_OUT, :D_OUT].set(
        jnp.diag(jnp.logspace(np.log10(MU), np.log10(l_cross), D_OUT)))
    w = jax.random.normal(k[5], (n, D_IN))
    pp = (u @ dmat @ w.T).T
    qq = w @ v.T
    return dict(a=a, b=b, p=pp, q=qq,
                c=jax.random.normal(k[6], (n, D_IN)),
                d=jax.random.normal(k[7], (n, D_OUT)))


def means(s):
    n = s["a"].shape[0]
    return dict(hzz=s["a"].T @ s["a"] / n, hxx=s["b"].T @ s["b"] / n,
                cross=s["p"].T @ s["q"] / n, cz=s["c"].mean(0), dx=s["d"].mean(0))


def value_function(inner, outer):
    """psi(x) = 1/2 x'Qx + r'x + s and its minimum (closed form)."""
    gi, go = means(inner), means(outer)
    j = -np.linalg.solve(gi["hzz"], gi["cross"].T)
    z0 = -np.linalg.solve(gi["hzz"], gi["cz"])
    fcj = go["cross"] @ j
    q = j.T @ go["hzz"] @ j + go["hxx"] + fcj + fcj.T
    q = 0.5 * (q + q.T)
    r = j.T @ go["hzz"] @ z0 + go["cross"] @ z0 + j.T @ go["cz"] + go["dx"]
    s = 0.5 * z0 @ go["hzz"] @ z0 + go["cz"] @ z0
    xs = -np.linalg.solve(q, r)
    return (lambda x: 0.5 * x @ q @ x + r @ x + s), s + 0.5 * r @ xs, np.linalg.eigvalsh(q).min()


def grads(s, x, z, start):
    """Minibatch gradients (d/dz, d/dx) over the contiguous block at `start`."""
    sl = lambda m: jax.lax.dynamic_slice_in_dim(m, start, BATCH)
    a, b, p_, q, c, d = (sl(s[k]) for k in "abpqcd")
    az, bx, px, qz = a @ z, b @ x, p_ @ x, q @ z
    gz = (a * az[:, None] + q * px[:, None] + c).mean(0)
    gx = (b * bx[:, None] + p_ * qz[:, None] + d).mean(0)
    return gz, gx


def sampler(key, n):
    k1, k2 = jax.random.split(key)
    return dict(order=jax.random.permutation(k1, n // BATCH), i=jnp.array(0), key=k2)


def draw(st):
    start = st["order"][st["i"]] * BATCH
    i = st["i"] + 1

    def reset(st):
        k1, k2 = jax.random.split(st["key"])
        return dict(order=jax.random.permutation(k1, st["order"]), i=jnp.array(0), key=k2)

    st = dict(st, i=i)
    st = jax.lax.cond(i == st["order"].shape[0], reset, lambda s: s, st)
    return start, st


def f2sa_chunk(inner, outer, steps):
    consts = jnp.array([0.1, 0.1, 0.1, 0.01])
    expo = jnp.array([5 / 7, 4 / 7, 4 / 7, 1 / 7])

    def one(carry, _):
        x, y, z, lam, k, si, so = carry
        lr_y, lr_z, lr_x, dl = consts / (k + 1.0) ** expo

        def inner_step(c, _):
            y, z, si, so = c
            s1, si = draw(si)
            s2, si = draw(si)
            s3, so = draw(so)
            gy = lam * grads(inner, x, y, s1)[0] + grads(outer, x, y, s3)[0]
            gz = grads(inner, x, z, s2)[0]
            return (y - lr_y * gy, z - lr_z * gz, si, so), None

        (y, z, si, so), _ = jax.lax.scan(inner_step, (y, z, si, so), None, length=10)
        s0, so = draw(so)
        s1, si = draw(si)
        s2, si = draw(si)
        dx = grads(outer, x, y, s0)[1] + lam * (grads(inner, x, y, s1)[1] - grads(inner, x, z, s2)[1])
        return (x - lr_x * dx, y, z, lam + dl, k + 1.0, si, so), None

    return jax.jit(lambda carry: jax.lax.scan(one, carry, None, length=steps)[0])


def run_peer(seed):
    key = jax.random.PRNGKey(2442)
    for _ in range(20):
        keys = jax.random.split(key, 2)
        inner, outer = level(keys[0], N_IN, L_CROSS), level(keys[1], N_OUT, L_CROSS)
        psi, psi_star, eig = value_function(inner, outer)
        key = keys[1]
        if eig >= 1e-12:
            break
    chunk = f2sa_chunk(inner, outer, 100)
    ks = jax.random.split(jax.random.PRNGKey(seed), 2)
    carry = (-2.0 * jnp.ones(D_OUT), jnp.zeros(D_IN), jnp.zeros(D_IN), 1.0, 0.0,
             sampler(ks[0], N_IN), sampler(ks[1], N_OUT))
    carry = chunk(carry)  # compile (these 100 iterations are not timed)
    carry = (-2.0 * jnp.ones(D_OUT), jnp.zeros(D_IN), jnp.zeros(D_IN), 1.0, 0.0,
             sampler(ks[0], N_IN), sampler(ks[1], N_OUT))
    t0, iters, best, hit, diverged = time.perf_counter(), 0, np.inf, None, False
    while time.perf_counter() - t0 < args.seconds:
        carry = chunk(carry)
        iters += 100
        gap = float(psi(np.asarray(carry[0]))) - psi_star
        if np.isfinite(gap):
            best = min(best, gap)
        if gap <= 1e-4 and hit is None:
            hit = (iters * 33, time.perf_counter() - t0)
            break
        if not np.isfinite(gap) or gap > 1e6:
            diverged = True
            break
    return hit, best, iters, time.perf_counter() - t0, diverged


def run_ours(method, seed):
    out = subprocess.run([args.optlab, "bilevel", "--problem", "quadratic-stochastic",
                          "--method", method, "--seed", str(seed), "--json"],
                         capture_output=True, text=True)
    v = json.loads(out.stdout)
    return v["gradient_calls"], v["seconds"], v["value_gap"], v["converged"]


print("| method | seed | batch-gradient calls to gap 1e-4 | time | best gap |")
print("|---|---|---|---|---|")
for seed in range(args.seeds):
    hit, best, iters, secs, diverged = run_peer(seed)
    why = "diverged (gap > 1e6) at" if diverged else "not within"
    calls = f"{hit[0]}" if hit else f"{why} {iters} iterations ({iters * 33} calls)"
    t = f"{hit[1]:.2f} s" if hit else f"{secs:.1f} s"
    print(f"| benchopt F2SA (JAX, jit) | {seed} | {calls} | {t} | {best:.2e} |", flush=True)
    for m in ["penalty-2ts", "penalty-storm"]:
        c, s, g, ok = run_ours(m, seed)
        print(f"| optlab {m} | {seed} | {c if ok else 'not reached'} | {s:.2f} s | {g:.2e} |", flush=True)
