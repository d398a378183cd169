# distutils: language = c++
# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True, initializedcheck=False
"""Cython bindings over the header-only C++ core in calculator/core/.

This module holds no mathematics of its own: it checks array shapes, releases the GIL and runs the
core's per-atom kernels over centres with OpenMP. Inputs must already be validated and laid out by
the Python layer (lepot.calculator.descriptors): neighbour pairs sorted by centre, species as
indices into the basis' species list, all arrays C-contiguous.
"""
from cython.parallel cimport prange, threadid
from libc.stdint cimport int64_t
from libcpp cimport bool as cbool
from libcpp.memory cimport unique_ptr
from libcpp.vector cimport vector

cimport openmp

import numpy as np


cdef extern from "radial_spline.hpp" namespace "lepot" nogil:
    cdef cppclass RadialSpline:
        RadialSpline(int, int, double, const double*, const double*) except +
        int n_functions()
        void evaluate_with_derivatives "evaluate<true>"(double, double*, double*)


cdef extern from "cutoff_function.hpp" namespace "lepot" nogil:
    cdef cppclass CutoffFunction:
        CutoffFunction(double, double) except +


cdef extern from "spherical_harmonics.hpp" namespace "lepot" nogil:
    cdef cppclass SphericalHarmonics:
        SphericalHarmonics(int) except +
        int size()
        int scratch_size()
        void compute_with_gradients "compute<true>"(const double*, double*, double*, double*)


cdef extern from "density_expansion.hpp" namespace "lepot" nogil:
    cdef cppclass DensityLayout:
        DensityLayout(int, const int*) except +
        int n_nlm()

    cdef cppclass DensityWorkspace:
        vector[double] density

    cdef cppclass DensityExpansion:
        DensityExpansion(RadialSpline, CutoffFunction, DensityLayout, int, int, const double*) except +
        int n_density()
        int n_species()
        void expand(int, const double*, const int*, DensityWorkspace&)


cdef extern from "couplings.hpp" namespace "lepot" nogil:
    cdef cppclass CouplingSet:
        CouplingSet(int, int, int, const int*, const double*, const int*, const int*) except +
        int n_features()


cdef extern from "descriptor_kernel.hpp" namespace "lepot" nogil:
    cdef cppclass DescriptorWorkspace:
        DensityWorkspace density

    cdef cppclass DescriptorKernel:
        DescriptorKernel(DensityExpansion, CouplingSet) except +
        int n_features()
        int n_factorised_features()
        const DensityExpansion& expansion()
        void compute_atom_values "compute_atom<false>"(
            int, const double*, const int*, DescriptorWorkspace&, double*, double*, const int64_t*, int64_t, double*)
        void compute_atom_gradients "compute_atom<true>"(
            int, const double*, const int*, DescriptorWorkspace&, double*, double*, const int64_t*, int64_t, double*)


cdef extern from "core_repulsion.hpp" namespace "lepot" nogil:
    cdef cppclass CoreRepulsion:
        CoreRepulsion()
        CoreRepulsion(int, const int*, const double*, const double*) except +


cdef extern from "potential_kernel.hpp" namespace "lepot" nogil:
    cdef cppclass PotentialWorkspace:
        pass

    cdef cppclass PotentialKernel:
        PotentialKernel(DensityExpansion, const CouplingSet&, const double*, const double*, CoreRepulsion) except +
        int n_monomials()
        double compute_atom(int, int, const double*, const int*, PotentialWorkspace&, double*)


cdef DensityExpansion* new_density_expansion(double cutoff, double cutoff_width,
                                             const double[:, ::1] spline_values,
                                             const double[:, ::1] spline_derivatives,
                                             const int[::1] n_radial_per_l,
                                             const double[:, :, ::1] embedding) except NULL:
    """A heap-allocated DensityExpansion from the basis arrays (the caller deletes it)."""
    if spline_values.shape[0] != spline_derivatives.shape[0] or spline_values.shape[1] != spline_derivatives.shape[1]:
        raise ValueError("spline values and derivatives must have the same shape")
    if embedding.shape[2] != n_radial_per_l[0]:
        raise ValueError(f"embedding has {embedding.shape[2]} radial channels, the layout needs {n_radial_per_l[0]}")
    cdef unique_ptr[RadialSpline] spline
    cdef unique_ptr[CutoffFunction] cutoff_function
    cdef unique_ptr[DensityLayout] layout
    spline.reset(new RadialSpline(spline_values.shape[1], spline_values.shape[0], cutoff,
                                  &spline_values[0, 0], &spline_derivatives[0, 0]))
    cutoff_function.reset(new CutoffFunction(cutoff, cutoff_width))
    layout.reset(new DensityLayout(n_radial_per_l.shape[0] - 1, &n_radial_per_l[0]))
    return new DensityExpansion(spline.get()[0], cutoff_function.get()[0], layout.get()[0], embedding.shape[0],
                                embedding.shape[1], &embedding[0, 0, 0])


cdef CouplingSet* new_coupling_set(int n_features, int n_density, const int[::1] term_feature,
                                   const double[::1] term_coefficient, const int[::1] term_factor_offsets,
                                   const int[::1] factors) except NULL:
    """A heap-allocated CouplingSet from the coupling arrays (the caller deletes it)."""
    cdef int n_terms = term_feature.shape[0]
    if term_coefficient.shape[0] != n_terms or term_factor_offsets.shape[0] != n_terms + 1:
        raise ValueError("coupling term arrays have inconsistent lengths")
    if factors.shape[0] != term_factor_offsets[n_terms]:
        raise ValueError("coupling factor array length does not match term_factor_offsets")
    cdef int dummy = 0
    return new CouplingSet(n_features, n_density, n_terms, &term_feature[0] if n_terms > 0 else &dummy,
                           &term_coefficient[0] if n_terms > 0 else <const double*>NULL, &term_factor_offsets[0],
                           &factors[0] if factors.shape[0] > 0 else &dummy)


cdef int new_basis_parts(tuple basis_arguments, DensityExpansion** expansion, CouplingSet** couplings) except -1:
    """Heap-allocate the density expansion and coupling set described by ``Basis.evaluator_arguments()``:
    (cutoff, cutoff_width, spline values [n_nodes][n_functions], spline derivatives, n_radial [l_max+1],
    embedding [n_species][n_pseudo][n_radial(0)], n_features, term_feature, term_coefficient,
    term_factor_offsets, factors). The caller deletes both."""
    (cutoff, cutoff_width, spline_values, spline_derivatives, n_radial_per_l, embedding, n_features,
     term_feature, term_coefficient, term_factor_offsets, factors) = basis_arguments
    expansion[0] = new_density_expansion(cutoff, cutoff_width, spline_values, spline_derivatives,
                                         n_radial_per_l, embedding)
    try:
        couplings[0] = new_coupling_set(n_features, expansion[0].n_density(), term_feature, term_coefficient,
                                        term_factor_offsets, factors)
    except BaseException:
        del expansion[0]
        expansion[0] = NULL
        raise
    return 0


def spherical_harmonics(int l_max, const double[:, ::1] vectors not None):
    """Real spherical harmonics of the directions of ``vectors`` (shape [n][3], non-zero).

    Returns ``(ylm, gradients)`` with shapes [n][(l_max+1)^2] and [n][(l_max+1)^2][3]; index
    l*l + l + m; gradients are ∂Y_lm(r/|r|)/∂r in 1/length.
    """
    if vectors.shape[1] != 3:
        raise ValueError(f"vectors must have shape [n, 3], got [{vectors.shape[0]}, {vectors.shape[1]}]")
    cdef SphericalHarmonics* harmonics = new SphericalHarmonics(l_max)
    cdef int n = vectors.shape[0]
    cdef int width = harmonics.size()
    ylm = np.zeros((n, width))
    gradients = np.zeros((n, width, 3))
    cdef double[:, ::1] ylm_view = ylm
    cdef double[:, :, ::1] gradient_view = gradients
    cdef vector[double] scratch
    scratch.resize(harmonics.scratch_size())
    cdef int i
    try:
        for i in range(n):
            harmonics.compute_with_gradients(&vectors[i, 0], &ylm_view[i, 0], &gradient_view[i, 0, 0], scratch.data())
    finally:
        del harmonics
    return ylm, gradients


def evaluate_radial_spline(double r_max, const double[:, ::1] node_values not None,
                           const double[:, ::1] node_derivatives not None, const double[::1] r not None):
    """Evaluate a radial spline table (shapes [n_nodes][n_functions]) at distances ``r``.

    Returns ``(values, derivatives)`` of shape [len(r)][n_functions].
    """
    if node_values.shape[0] != node_derivatives.shape[0] or node_values.shape[1] != node_derivatives.shape[1]:
        raise ValueError("node_values and node_derivatives must have the same shape")
    cdef unique_ptr[RadialSpline] spline
    spline.reset(new RadialSpline(node_values.shape[1], node_values.shape[0], r_max,
                                  &node_values[0, 0], &node_derivatives[0, 0]))
    cdef int n = r.shape[0]
    values = np.zeros((n, node_values.shape[1]))
    derivatives = np.zeros((n, node_values.shape[1]))
    cdef double[:, ::1] value_view = values
    cdef double[:, ::1] derivative_view = derivatives
    cdef int i
    for i in range(n):
        spline.get().evaluate_with_derivatives(r[i], &value_view[i, 0], &derivative_view[i, 0])
    return values, derivatives


cdef class DescriptorEvaluator:
    """The compiled descriptor kernel for one basis.

    Construct it through :class:`lepot.calculator.descriptors.DescriptorCalculator`, which builds the
    arguments from a :class:`lepot.calculator.basis.Basis`.
    """

    cdef unique_ptr[DescriptorKernel] kernel
    cdef readonly int n_features
    cdef readonly int n_factorised_features  # features whose gradients take the body-order <= 2 path
    cdef readonly int n_density
    cdef readonly int n_species

    def __cinit__(self, tuple basis_arguments):
        cdef DensityExpansion* expansion = NULL
        cdef CouplingSet* couplings = NULL
        new_basis_parts(basis_arguments, &expansion, &couplings)
        try:
            self.kernel.reset(new DescriptorKernel(expansion[0], couplings[0]))
        finally:
            del expansion
            del couplings
        self.n_features = self.kernel.get().n_features()
        self.n_factorised_features = self.kernel.get().n_factorised_features()
        self.n_density = self.kernel.get().expansion().n_density()
        self.n_species = self.kernel.get().expansion().n_species()

    def density(self, const double[:, ::1] vectors not None, const int[::1] neighbour_species not None,
                const int64_t[::1] centre_offsets not None):
        """Density coefficients A, shape [n_centres][n_density] (for tests and analysis)."""
        cdef int n_centres = centre_offsets.shape[0] - 1
        result = np.zeros((n_centres, self.n_density))
        cdef double[:, ::1] out = result
        cdef DescriptorWorkspace workspace
        cdef const DensityExpansion* expansion = &self.kernel.get().expansion()
        cdef int i, a
        cdef int64_t begin
        cdef double dummy_vector[3]
        cdef int dummy_species = 0
        for i in range(n_centres):
            begin = centre_offsets[i]
            expansion.expand(<int>(centre_offsets[i + 1] - begin),
                                    &vectors[begin, 0] if centre_offsets[i + 1] > begin else dummy_vector,
                                    &neighbour_species[begin] if centre_offsets[i + 1] > begin else &dummy_species,
                                    workspace.density)
            for a in range(self.n_density):
                out[i, a] = workspace.density.density[a]
        return result

    def compute(self, const double[:, ::1] vectors not None,
                const int[::1] neighbour_species not None,
                const int64_t[::1] centre_offsets not None,
                double[:, ::1] features not None,
                double[:, :, ::1] gradients=None,
                const int64_t[::1] pair_rows=None,
                const int64_t[::1] centre_rows=None,
                double[:, :, :, ::1] strain=None,
                int n_threads=0):
        """Fill ``features`` [n_centres][n_features] and, if given, accumulate into ``gradients``
        [n_samples][3][n_features] (rows chosen by ``pair_rows`` [n_pairs] and ``centre_rows``
        [n_centres]) and ``strain`` [n_centres][3][3][n_features]. Pairs [n_pairs] are sorted by
        centre; centre i owns pairs centre_offsets[i] .. centre_offsets[i+1]-1.
        """
        cdef int n_centres = centre_offsets.shape[0] - 1
        cdef int64_t n_pairs = vectors.shape[0]
        if features.shape[0] != n_centres or features.shape[1] != self.n_features:
            raise ValueError(f"features must have shape [{n_centres}, {self.n_features}]")
        if neighbour_species.shape[0] != n_pairs or centre_offsets[n_centres] != n_pairs:
            raise ValueError("neighbour arrays have inconsistent lengths")
        cdef cbool with_positions = gradients is not None
        cdef cbool with_strain = strain is not None
        if with_positions:
            if pair_rows is None or centre_rows is None:
                raise ValueError("position gradients need pair_rows and centre_rows")
            if gradients.shape[1] != 3 or gradients.shape[2] != self.n_features:
                raise ValueError("gradients must have shape [n_samples, 3, n_features]")
            if pair_rows.shape[0] != n_pairs or centre_rows.shape[0] != n_centres:
                raise ValueError("pair_rows / centre_rows have the wrong length")
        if with_strain and (strain.shape[0] != n_centres or strain.shape[1] != 3 or strain.shape[2] != 3
                            or strain.shape[3] != self.n_features):
            raise ValueError(f"strain must have shape [{n_centres}, 3, 3, {self.n_features}]")
        if n_threads <= 0:
            n_threads = openmp.omp_get_max_threads()

        cdef vector[DescriptorWorkspace] workspaces
        workspaces.resize(n_threads)
        cdef DescriptorKernel* kernel = self.kernel.get()
        cdef double dummy_vector[3]
        cdef int dummy_species = 0
        cdef int64_t dummy_row = 0
        cdef double* gradient_base = &gradients[0, 0, 0] if with_positions and gradients.shape[0] > 0 else NULL
        cdef int i, n_neigh
        cdef int64_t begin
        cdef const double* vector_ptr
        cdef const int* species_ptr
        cdef const int64_t* row_ptr
        cdef int64_t centre_row
        cdef double* strain_ptr
        if n_centres == 0:
            return
        with nogil:
            for i in prange(n_centres, num_threads=n_threads, schedule="dynamic", chunksize=4):
                begin = centre_offsets[i]
                n_neigh = <int>(centre_offsets[i + 1] - begin)
                vector_ptr = &vectors[begin, 0] if n_neigh > 0 else dummy_vector
                species_ptr = &neighbour_species[begin] if n_neigh > 0 else &dummy_species
                if with_positions or with_strain:
                    row_ptr = &pair_rows[begin] if with_positions and n_neigh > 0 else &dummy_row
                    centre_row = centre_rows[i] if with_positions else 0
                    strain_ptr = &strain[i, 0, 0, 0] if with_strain else NULL
                    kernel.compute_atom_gradients(n_neigh, vector_ptr, species_ptr, workspaces[threadid()],
                                                  &features[i, 0], gradient_base, row_ptr, centre_row, strain_ptr)
                else:
                    kernel.compute_atom_values(n_neigh, vector_ptr, species_ptr, workspaces[threadid()],
                                               &features[i, 0], NULL, NULL, 0, NULL)


cdef class PotentialEvaluator:
    """The compiled energy/force kernel of one model (weights contracted into the couplings).

    Construct it through :class:`lepot.calculator.potential.Potential`.
    """

    cdef unique_ptr[PotentialKernel] kernel
    cdef readonly int n_species
    cdef readonly int n_monomials

    def __cinit__(self, tuple basis_arguments,
                  const double[:, ::1] weights not None,
                  const double[::1] reference_energies not None,
                  const int[::1] atomic_numbers not None,
                  const double[:, ::1] core_r_inner not None,
                  const double[:, ::1] core_r_outer not None):
        cdef DensityExpansion* expansion = NULL
        cdef CouplingSet* couplings = NULL
        cdef CoreRepulsion* repulsion = NULL
        new_basis_parts(basis_arguments, &expansion, &couplings)
        cdef int n_species = expansion.n_species()
        cdef int n_features = couplings.n_features()
        try:
            if weights.shape[0] != n_species or weights.shape[1] != n_features:
                raise ValueError(f"weights must have shape [{n_species}, {n_features}]")
            if reference_energies.shape[0] != n_species or atomic_numbers.shape[0] != n_species:
                raise ValueError("reference energies / atomic numbers need one entry per species")
            if (core_r_inner.shape[0] != n_species or core_r_inner.shape[1] != n_species
                    or core_r_outer.shape[0] != n_species or core_r_outer.shape[1] != n_species):
                raise ValueError(f"core repulsion radii must have shape [{n_species}, {n_species}]")
            repulsion = new CoreRepulsion(n_species, &atomic_numbers[0], &core_r_inner[0, 0], &core_r_outer[0, 0])
            self.kernel.reset(new PotentialKernel(expansion[0], couplings[0], &weights[0, 0],
                                                  &reference_energies[0], repulsion[0]))
        finally:
            del expansion
            del couplings
            del repulsion
        self.n_species = n_species
        self.n_monomials = self.kernel.get().n_monomials()

    def compute(self, const double[:, ::1] vectors not None,
                const int[::1] neighbour_species not None,
                const int[::1] centre_species not None,
                const int64_t[::1] centre_offsets not None,
                const int64_t[::1] centres not None,
                const int64_t[::1] neighbours not None,
                double[::1] energies not None,
                double[:, ::1] forces not None,
                double[:, ::1] virial not None,
                double[:, :, ::1] atom_virials not None,
                int n_threads=0):
        """Per-atom energies [n_atoms] (eV), forces [n_atoms][3] (eV/Å), virial [3][3] and per-atom virials
        [n_atoms][3][3] (eV), W = -Σ_pairs r_ij ⊗ ∂E_i/∂r_ij, each pair's share split equally between i and j.
        All outputs are overwritten. Pairs are sorted by centre (centre_offsets [n_atoms+1]).
        """
        cdef int n_atoms = centre_offsets.shape[0] - 1
        cdef int64_t n_pairs = vectors.shape[0]
        if (neighbour_species.shape[0] != n_pairs or centres.shape[0] != n_pairs or neighbours.shape[0] != n_pairs
                or centre_offsets[n_atoms] != n_pairs):
            raise ValueError("pair arrays have inconsistent lengths")
        if (centre_species.shape[0] != n_atoms or energies.shape[0] != n_atoms or forces.shape[0] != n_atoms
                or forces.shape[1] != 3 or atom_virials.shape[0] != n_atoms or atom_virials.shape[1] != 3
                or atom_virials.shape[2] != 3 or virial.shape[0] != 3 or virial.shape[1] != 3):
            raise ValueError("output arrays have the wrong shape")
        if n_threads <= 0:
            n_threads = openmp.omp_get_max_threads()
        pair_gradients_array = np.zeros((max(n_pairs, 1), 3))
        cdef double[:, ::1] pair_gradients = pair_gradients_array
        cdef vector[PotentialWorkspace] workspaces
        workspaces.resize(n_threads)
        cdef PotentialKernel* kernel = self.kernel.get()
        cdef double dummy_vector[3]
        cdef int dummy_species = 0
        cdef int i, n_neigh, alpha, beta
        cdef int64_t begin, p, a, b
        cdef double contribution
        with nogil:
            for i in prange(n_atoms, num_threads=n_threads, schedule="dynamic", chunksize=4):
                begin = centre_offsets[i]
                n_neigh = <int>(centre_offsets[i + 1] - begin)
                energies[i] = kernel.compute_atom(centre_species[i], n_neigh,
                                                  &vectors[begin, 0] if n_neigh > 0 else dummy_vector,
                                                  &neighbour_species[begin] if n_neigh > 0 else &dummy_species,
                                                  workspaces[threadid()], &pair_gradients[begin, 0])
            forces[:, :] = 0.0
            virial[:, :] = 0.0
            atom_virials[:, :, :] = 0.0
            for p in range(n_pairs):
                a = centres[p]
                b = neighbours[p]
                for alpha in range(3):
                    forces[a, alpha] += pair_gradients[p, alpha]
                    forces[b, alpha] -= pair_gradients[p, alpha]
                    for beta in range(3):
                        contribution = -vectors[p, alpha] * pair_gradients[p, beta]
                        virial[alpha, beta] += contribution
                        atom_virials[a, alpha, beta] += 0.5 * contribution
                        atom_virials[b, alpha, beta] += 0.5 * contribution
