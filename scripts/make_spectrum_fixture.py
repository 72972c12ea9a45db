"""Fixture for `optlab spectrum` on a 2 000 × 2 000 dense symmetric matrix,
computed by NumPy's `eigvalsh` (LAPACK syevd).

Run from the repository root with NumPy installed:

    python scripts/make_spectrum_fixture.py

The matrix is given by a formula, so the test rebuilds it instead of
shipping 32 MB (`crates/optlab/tests/spectrum.rs` writes it as NPY):

    A_ij = sin((i + 1)(j + 1)·0.001 + (i + j)·0.37) / √n + δ_ij · 5 · 0.95^i,  i, j = 0..n−1

Writes crates/optlab/tests/fixtures/spectrum_2000.json: the ten largest and
five smallest eigenvalues, the trace and the Frobenius norm.
"""
import json
import os

import numpy as np

n = 2000
i = np.arange(n, dtype=np.float64)[:, None]
j = np.arange(n, dtype=np.float64)[None, :]
a = np.sin((i + 1.0) * (j + 1.0) * 0.001 + (i + j) * 0.37) / np.sqrt(n)
a[np.arange(n), np.arange(n)] += 5.0 * 0.95 ** np.arange(n)
assert np.array_equal(a, a.T)
ev = np.linalg.eigvalsh(a)
out = {
    "n": n,
    "formula": "sin((i+1)(j+1)*0.001 + (i+j)*0.37)/sqrt(n) + delta_ij*5*0.95^i",
    "top_eigenvalues": ev[::-1][:10].tolist(),
    "bottom_eigenvalues": ev[:5].tolist(),
    "trace": float(np.trace(a)),
    "frobenius": float(np.linalg.norm(a)),
    "numpy": np.__version__,
}
path = os.path.join("crates", "optlab", "tests", "fixtures", "spectrum_2000.json")
with open(path, "w") as f:
    json.dump(out, f, indent=1)
print(path, out["top_eigenvalues"][:3])
