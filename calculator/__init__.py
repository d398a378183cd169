"""lepot.calculator — the evaluator (compiled core + bindings), parameter files and the ASE calculator.

Public entry points:
    build_basis(...) -> Basis                         descriptor basis (lepot.calculator.basis)
    DescriptorCalculator(basis).compute(atoms, ...)   descriptors and their gradients
    Model, load_model(path)                           parameter files (lepot.calculator.model)
    Potential(model).compute(atoms)                   energy, forces, virials
    LepotCalculator(model)                            the ASE calculator (lepot.calculator.ase)
"""

from .ase import LepotCalculator
from .basis import Basis, Contraction, CoreRepulsion, build_basis
from .descriptors import DescriptorCalculator, Descriptors
from .model import Model, ModelFileError, load_model
from .potential import Potential

__all__ = [
    "Basis",
    "Contraction",
    "CoreRepulsion",
    "DescriptorCalculator",
    "Descriptors",
    "LepotCalculator",
    "Model",
    "ModelFileError",
    "Potential",
    "build_basis",
    "load_model",
]
