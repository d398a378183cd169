"""Peak memory of the fit's design reduction and ridge solve against lepot.fitting.memory's estimate.

    .venv/bin/python benchmarks/fit_memory.py

For n columns and m rows per chunk, each measurement runs in a fresh process: three chunks of random
rows are folded into a TriangularFactor (lepot.fitting.design) and the GCV ridge solve runs
(lepot.fitting.solver), the code `lepot fit` runs. The peak resident memory above the process's baseline
is compared with peak_bytes(n, m) (without the descriptor-gradient share, which this does not allocate).
The estimate's constants (FACTOR_COPIES, ROW_COPIES) are chosen so that it stays above every measurement.
"""

import json
import subprocess
import sys

from common import machine_line

from lepot.fitting.memory import peak_bytes, readable

MEASURE = """
import json, resource, sys
import numpy as np
from lepot.fitting.design import TriangularFactor
from lepot.fitting.solver import solve
n, m = int(sys.argv[1]), int(sys.argv[2])
def peak():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024.0
baseline = peak()
rng = np.random.default_rng(0)
factor = TriangularFactor(n)
for _ in range(3):
    factor.add(rng.normal(size=(m, n)), rng.normal(size=m))
solve(factor, "gcv")
print(json.dumps(peak() - baseline))
"""

SIZES = [(1000, 500), (2000, 2000), (3000, 2000), (3000, 9000), (5000, 2000), (6000, 500)]


def main():
    print(machine_line())
    print("| columns n | rows per chunk m | measured peak | estimate | estimate ÷ measured |")
    print("|---|---|---|---|---|")
    for n, m in SIZES:
        completed = subprocess.run([sys.executable, "-c", MEASURE, str(n), str(m)], capture_output=True, text=True,
                                   check=True, env={"OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"})
        measured = json.loads(completed.stdout)
        estimate = peak_bytes(n, m, extra_factors=0)
        print(f"| {n} | {m} | {readable(measured)} | {readable(estimate)} | {estimate / measured:.2f} |")


if __name__ == "__main__":
    main()
