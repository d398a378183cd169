"""Build of the compiled evaluator (lepot.calculator._evaluator); metadata lives in pyproject.toml."""

import glob

from Cython.Build import cythonize
from setuptools import Extension, setup

evaluator = Extension(
    "lepot.calculator._evaluator",
    sources=["calculator/_evaluator.pyx"],
    include_dirs=["calculator/core"],
    depends=glob.glob("calculator/core/*.hpp"),
    language="c++",
    extra_compile_args=["-O3", "-std=c++17", "-fopenmp", "-march=native"],
    extra_link_args=["-fopenmp"],
)

setup(ext_modules=cythonize([evaluator], compiler_directives={"language_level": 3}))
