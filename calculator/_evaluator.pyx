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
        void expand(int, const double*, const int*, DensityWorkspace&)


cdef extern from "couplings.hpp" namespace "lepot" nogil:
    cdef cppclass CouplingSet:
        CouplingSet(int, int, int, const int*, const double*, const int*, const int*) except +


cdef extern from "descriptor_kernel.hpp" namespace "lepot" nogil:
    cdef cppclass DescriptorWorkspace:
        DensityWorkspace density

    cdef cppclass DescriptorKernel:
        DescriptorKernel(DensityExpansion, CouplingSet) except +
        int n_features()
        const DensityExpansion& expansion()
        void compute_atom_values "compute_atom<false>"(
            int, const double*, const int*, DescriptorWorkspace&, double*, double*, const int64_t*, int64_t, double*)
        void compute_atom_gradients "compute_atom<true>"(
            int, const double*, const int*, DescriptorWorkspace&, double*, double*, const int64_t*, int64_t, double*)


def max_threads():
    """Number of OpenMP threads a parallel region uses by default (honours OMP_NUM_THREADS)."""
    return openmp.omp_get_max_threads()


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
    cdef readonly int n_density
    cdef readonly int n_species

    def __cinit__(self, double cutoff, double cutoff_width,
                  const double[:, ::1] spline_values not None,
                  const double[:, ::1] spline_derivatives not None,
                  const int[::1] n_radial_per_l not None,
                  const double[:, :, ::1] embedding not None,
                  int n_features,
                  const int[::1] term_feature not None,
                  const double[::1] term_coefficient not None,
                  const int[::1] term_factor_offsets not None,
                  const int[::1] factors not None):
        if spline_values.shape[0] != spline_derivatives.shape[0] or spline_values.shape[1] != spline_derivatives.shape[1]:
            raise ValueError("spline values and derivatives must have the same shape")
        cdef int n_terms = term_feature.shape[0]
        if term_coefficient.shape[0] != n_terms or term_factor_offsets.shape[0] != n_terms + 1:
            raise ValueError("coupling term arrays have inconsistent lengths")
        if n_terms > 0 and factors.shape[0] != term_factor_offsets[n_terms]:
            raise ValueError("coupling factor array length does not match term_factor_offsets")
        if embedding.shape[2] != n_radial_per_l[0]:
            raise ValueError(f"embedding has {embedding.shape[2]} radial channels, the layout needs {n_radial_per_l[0]}")
        cdef int dummy_factor = 0
        cdef const int* factor_ptr = &factors[0] if factors.shape[0] > 0 else &dummy_factor
        cdef RadialSpline* spline = new RadialSpline(spline_values.shape[1], spline_values.shape[0], cutoff,
                                                     &spline_values[0, 0], &spline_derivatives[0, 0])
        cdef CutoffFunction* cutoff_function = NULL
        cdef DensityLayout* layout = NULL
        cdef DensityExpansion* expansion = NULL
        cdef CouplingSet* couplings = NULL
        try:
            cutoff_function = new CutoffFunction(cutoff, cutoff_width)
            layout = new DensityLayout(n_radial_per_l.shape[0] - 1, &n_radial_per_l[0])
            expansion = new DensityExpansion(spline[0], cutoff_function[0], layout[0], embedding.shape[0],
                                             embedding.shape[1], &embedding[0, 0, 0])
            couplings = new CouplingSet(n_features, expansion.n_density(), n_terms, &term_feature[0],
                                        &term_coefficient[0], &term_factor_offsets[0], factor_ptr)
            self.kernel.reset(new DescriptorKernel(expansion[0], couplings[0]))
        finally:
            del spline
            del cutoff_function
            del layout
            del expansion
            del couplings
        self.n_features = n_features
        self.n_density = self.kernel.get().expansion().n_density()
        self.n_species = embedding.shape[0]

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
