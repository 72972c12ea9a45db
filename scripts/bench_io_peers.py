"""Side-by-side I/O timings of the peers for linalg-core's `io` bench.

Same inputs as `cargo bench -p linalg-core -- io`: the 5-point Laplacian on a
96x96 grid (9216 rows, 45 696 entries) as a general coordinate Matrix Market
file, and a 1000x100 float64 NPY array. Run with SciPy/NumPy installed:

    python scripts/bench_io_peers.py

Prints the median of 20 runs for scipy.io.mmread / mmwrite and np.load.
"""
import io
import statistics
import time

import numpy as np
import scipy.io
import scipy.sparse as sp


def median_ms(f, reps=20):
    f()
    ts = []
    for _ in range(reps):
        t = time.perf_counter()
        f()
        ts.append(time.perf_counter() - t)
    return 1e3 * statistics.median(ts)


g = 96
t = sp.diags([-1.0, 2.0, -1.0], [-1, 0, 1], shape=(g, g))
lap = (sp.kron(sp.eye(g), t) + sp.kron(t, sp.eye(g))).tocoo()
assert lap.nnz == 45696
buf = io.BytesIO()
scipy.io.mmwrite(buf, lap)
text = buf.getvalue()

arr = (np.arange(100_000, dtype=np.float64) * 0.001).reshape(1000, 100)
nbuf = io.BytesIO()
np.save(nbuf, arr)
npy = nbuf.getvalue()

print(f"scipy {scipy.__version__}, numpy {np.__version__}")
print(f"scipy.io.mmread  45k entries: {median_ms(lambda: scipy.io.mmread(io.BytesIO(text))):.2f} ms")
print(f"scipy.io.mmwrite 45k entries: {median_ms(lambda: scipy.io.mmwrite(io.BytesIO(), lap)):.2f} ms")
print(f"np.load 1000x100 float64:     {median_ms(lambda: np.load(io.BytesIO(npy))) * 1e3:.1f} us")
