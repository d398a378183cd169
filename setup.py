"""Build of the compiled evaluator (lepot.calculator._evaluator); metadata lives in pyproject.toml.

The core's parameter-file reader uses the nlohmann/json headers of the PyPI `nlohmann-json` package (a
build requirement; the LAMMPS plugin is compiled against the same installed headers). The core is
compiled with -O3 and OpenMP, and by default with -march=native: lepot is built from source on the
machine that runs it (as LAMMPS usually is), and the descriptor-gradient kernel gains from wide SIMD. Set LEPOT_PORTABLE_BUILD=1 for a binary that runs on any x86-64 / aarch64 CPU.
"""

import glob
import os

import nlohmann_json
from Cython.Build import cythonize
from setuptools import Extension, setup

# -fno-wrapv: Python's own CFLAGS carry -fwrapv, which stops GCC vectorising the core's pair loops (measured:
# the density kernel 2x slower); the generated and core code do not rely on wrapping signed arithmetic.
compile_args = ["-O3", "-std=c++17", "-fopenmp", "-fno-wrapv"]
if os.environ.get("LEPOT_PORTABLE_BUILD", "0") != "1":
    compile_args.append("-march=native")

evaluator = Extension(
    "lepot.calculator._evaluator",
    sources=["calculator/_evaluator.pyx"],
    # the core's parameter-file reader parses JSON with nlohmann/json (PyPI `nlohmann-json`, header-only)
    include_dirs=["calculator/core", str(nlohmann_json.get_include())],
    depends=glob.glob("calculator/core/*.hpp"),
    language="c++",
    extra_compile_args=compile_args,
    extra_link_args=["-fopenmp"],
)

setup(ext_modules=cythonize([evaluator], compiler_directives={"language_level": 3}))
