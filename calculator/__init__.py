"""lepot.calculator — the descriptor evaluator (compiled core + bindings) and its Python front end.

Public entry points:
    build_basis(...)          -> Basis            (lepot.calculator.basis)
    DescriptorCalculator(basis).compute(atoms, gradients=("positions", "strain"))
"""

from .basis import Basis, build_basis
from .descriptors import DescriptorCalculator, Descriptors

__all__ = ["Basis", "DescriptorCalculator", "Descriptors", "build_basis"]
