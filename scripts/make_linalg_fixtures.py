"""Fixtures for linalg-core's I/O tests, written by NumPy/SciPy.

Run from the repository root with NumPy and SciPy installed:

    python scripts/make_linalg_fixtures.py

Writes into crates/linalg-core/tests/fixtures/:
- numpy_f64_2d.npy, numpy_f64_1d.npy, numpy_f32_2d.npy: np.save of the arrays
  below; our writer must reproduce them byte for byte.
- fortran.npy (Fortran order) and int64.npy (unsupported dtype): inputs the
  reader must reject.
- scipy_sym.mtx: scipy.io.mmwrite of a small symmetric sparse matrix, read back
  by our reader and compared with the dense values listed in its test.
"""
import os

import numpy as np
import scipy.io
import scipy.sparse

out = os.path.join("crates", "linalg-core", "tests", "fixtures")
os.makedirs(out, exist_ok=True)

# Values with an exact f64 meaning, shared with the Rust test.
a = np.array([[1.5, -2.25, 3.0], [0.1, 1e-300, -7.0e10]], dtype=np.float64)
np.save(os.path.join(out, "numpy_f64_2d.npy"), a)
np.save(os.path.join(out, "numpy_f64_1d.npy"), np.arange(7, dtype=np.float64) / 8.0)
np.save(os.path.join(out, "numpy_f32_2d.npy"), a.astype(np.float32))
np.save(os.path.join(out, "fortran.npy"), np.asfortranarray(np.ones((3, 2))))
np.save(os.path.join(out, "int64.npy"), np.arange(4, dtype=np.int64))

m = scipy.sparse.coo_matrix(
    np.array([[4.0, -1.0, 0.0, 0.5], [-1.0, 4.0, -1.0, 0.0], [0.0, -1.0, 4.0, 0.0], [0.5, 0.0, 0.0, 3.0]])
)
scipy.io.mmwrite(os.path.join(out, "scipy_sym.mtx"), m, symmetry="symmetric")
print("numpy", np.__version__, "scipy", scipy.__version__)
