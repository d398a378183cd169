# distutils: language = c++
# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True, initializedcheck=False
"""Cython bindings over the header-only C++ core in calculator/core/.

This module holds no mathematics and no file rules of its own. It
- fills the core's plain-data BasisParameters / ModelParameters from a Python Basis / Model
  (lepot.calculator.basis, lepot.calculator.model) and lets the core assemble the kernels
  (core/model_parameters.hpp, the same sequence the LAMMPS plugin runs);
- binds the core's parameter-file reader (core/parameter_file.hpp) and LE radial basis
  (core/laplacian_eigenstates.hpp);
- releases the GIL and runs the per-atom kernels over centres with OpenMP;
- recomputes a reused neighbour list's pair vectors in one compiled loop (`pair_vectors`).
Inputs of the compute methods must already be laid out by the Python layer
(lepot.calculator.descriptors / potential): neighbour pairs sorted by centre, species as indices into
the basis' species list, all arrays C-contiguous.
"""
from cython.parallel cimport prange, threadid
from libc.stdint cimport int64_t
from libcpp cimport bool as cbool
from libcpp.memory cimport unique_ptr
from libcpp.string cimport string
from libcpp.vector cimport vector

cimport openmp

import json

import numpy as np


cdef extern from "radial_spline.hpp" namespace "lepot" nogil:
    cdef cppclass RadialSpline:
        RadialSpline(int, int, double, const double*, const double*) except +
        int n_functions()
        int padded_functions()
        void evaluate_with_derivatives "evaluate<true>"(double, double, double, double*, double*)


cdef extern from "spherical_harmonics.hpp" namespace "lepot" nogil:
    cdef cppclass SphericalHarmonics:
        SphericalHarmonics(int) except +
        int size()
        int scratch_size()
        void compute_with_gradients "compute<true>"(const double*, double*, double*, double*)


cdef extern from "laplacian_eigenstates.hpp" namespace "lepot" nogil:
    vector[double] core_spherical_bessel_zeros "lepot::spherical_bessel_zeros"(int, int) except +

    cdef cppclass CoreLaplacianEigenstates "lepot::LaplacianEigenstates":
        CoreLaplacianEigenstates(double, int, int) except +
        const vector[int]& n_radial()
        int n_functions()
        double zero(int)
        int angular_order(int)
        double normalisation(int)
        void evaluate(int, double, double&, double&)


cdef extern from "density_expansion.hpp" namespace "lepot" nogil:
    double min_pair_distance "lepot::min_pair_distance"

    cdef cppclass DensityWorkspace:
        vector[double] density

    cdef cppclass DensityExpansion:
        int n_density()
        int n_species()
        void expand(int, int, const double*, const int*, DensityWorkspace&) except +


cdef extern from "descriptor_kernel.hpp" namespace "lepot" nogil:
    cdef cppclass DescriptorWorkspace:
        DensityWorkspace density

    cdef cppclass DescriptorKernel:
        int n_features()
        int n_factorised_features()
        const DensityExpansion& expansion()
        void compute_atom_values "compute_atom<false>"(
            int, int, const double*, const int*, DescriptorWorkspace&, double*, double*, const int64_t*, int64_t,
            double*) except +
        void compute_atom_gradients "compute_atom<true>"(
            int, int, const double*, const int*, DescriptorWorkspace&, double*, double*, const int64_t*, int64_t,
            double*) except +


cdef extern from "potential_kernel.hpp" namespace "lepot" nogil:
    cdef cppclass PotentialWorkspace:
        pass

    int polynomial_lanes

    cdef cppclass PotentialKernel:
        int n_monomials()
        void compute_atoms(int, int, const int*, const int64_t*, const double*, const int*, PotentialWorkspace&,
                           double*, double*) except +


cdef extern from "model_parameters.hpp" namespace "lepot" nogil:
    cdef cppclass BasisParameters:
        double cutoff_radius
        double cutoff_width
        vector[int] n_radial
        int n_nodes
        vector[double] spline_values
        vector[double] spline_derivatives
        int n_species
        int n_pseudo
        vector[double] embedding
        int n_features
        vector[int] term_feature
        vector[double] term_coefficient
        vector[int] term_factor_offsets
        vector[int] factors
        vector[int] contraction_channels
        vector[double] contraction_weights
        vector[int] core_pair_species
        vector[double] core_pair_radii

    cdef cppclass ModelParameters:
        BasisParameters basis
        vector[int] atomic_numbers
        vector[double] coefficients
        vector[double] reference_energies


cdef extern from "posterior.hpp" namespace "lepot" nogil:
    cdef cppclass PosteriorParameters:
        cbool present
        int n_centre
        vector[double] centre_channels
        cbool reference_energy_columns
        int n_columns
        vector[double] factor
        double posterior_scale
        double local_variance_scale
        double energy_noise
        double atom_energy_noise
        double force_posterior_scale
        double reference_variance

    cdef enum class PosteriorPrecision:
        double_precision
        single_precision

    PosteriorPrecision posterior_precision(const string&) except +
    double core_structure_energy_uncertainty "lepot::structure_energy_uncertainty"(
        const PosteriorParameters&, double, double, double)
    double core_local_energy_uncertainty "lepot::local_energy_uncertainty"(const PosteriorParameters&, double)

    cdef cppclass PosteriorWorkspace:
        PosteriorWorkspace() except +

    cdef cppclass PosteriorEvaluator:
        PosteriorEvaluator(PosteriorParameters, int, int, PosteriorPrecision) except +
        int n_columns()
        void project(int, const int*, const double*, PosteriorWorkspace&, double*)


cdef extern from "parameter_file.hpp" namespace "lepot" nogil:
    const char* parameter_file_format
    int parameter_file_version

    cdef cppclass ParameterFile:
        ModelParameters model
        vector[string] species
        int n_max
        int l_max
        cbool compressed
        int body_order
        vector[int] feature_body_order
        vector[int] feature_index
        vector[int] feature_channel_offsets
        vector[int] feature_channels
        PosteriorParameters posterior
        string metadata

    ParameterFile core_parse_parameter_file "lepot::parse_parameter_file"(const string&, const string&) except +
    ParameterFile core_load_parameter_file "lepot::load_parameter_file"(const string&) except +


cdef extern from *:
    """
    #include "model_parameters.hpp"
    static lepot::DescriptorKernel* new_descriptor_kernel(const lepot::BasisParameters& basis) {
        return new lepot::DescriptorKernel(lepot::make_descriptor_kernel(basis));
    }
    static lepot::PotentialKernel* new_potential_kernel(const lepot::ModelParameters& model) {
        return new lepot::PotentialKernel(lepot::make_potential_kernel(model));
    }
    """
    DescriptorKernel* new_descriptor_kernel(const BasisParameters&) except +
    PotentialKernel* new_potential_kernel(const ModelParameters&) except +


#: Pairs closer than this (Å) are overlapping atoms; every front end refuses them (core/density_expansion.hpp).
MIN_PAIR_DISTANCE = min_pair_distance
#: The "format" string and the format_version the core reader reads and lepot writes.
PARAMETER_FILE_FORMAT = parameter_file_format.decode()
PARAMETER_FILE_VERSION = parameter_file_version


cdef vector[double] as_doubles(values) except *:
    cdef const double[::1] flat = np.ascontiguousarray(values, dtype=np.float64).reshape(-1)
    cdef vector[double] out
    if flat.shape[0] > 0:
        out.assign(&flat[0], &flat[0] + flat.shape[0])
    return out


cdef vector[int] as_ints(values) except *:
    cdef const int[::1] flat = np.ascontiguousarray(values, dtype=np.int32).reshape(-1)
    cdef vector[int] out
    if flat.shape[0] > 0:
        out.assign(&flat[0], &flat[0] + flat.shape[0])
    return out


cdef BasisParameters basis_parameters(basis) except *:
    """The core's description of a lepot.calculator.basis.Basis."""
    cdef BasisParameters parameters
    couplings = basis.couplings
    parameters.cutoff_radius = basis.radial.cutoff
    parameters.cutoff_width = basis.radial.cutoff_width
    parameters.n_radial = as_ints(basis.radial.n_radial)
    parameters.n_nodes = basis.spline.node_values.shape[0]
    parameters.spline_values = as_doubles(basis.spline.node_values)
    parameters.spline_derivatives = as_doubles(basis.spline.node_derivatives)
    parameters.n_species = basis.embedding.shape[0]
    parameters.n_pseudo = basis.embedding.shape[1]
    parameters.embedding = as_doubles(basis.embedding)
    parameters.n_features = couplings.n_features
    parameters.term_feature = as_ints(couplings.term_feature)
    parameters.term_coefficient = as_doubles(couplings.term_coefficient)
    parameters.term_factor_offsets = as_ints(couplings.term_factor_offsets)
    parameters.factors = as_ints(couplings.factors)
    if basis.contraction is not None:
        parameters.contraction_channels = as_ints(basis.contraction.channels)
        parameters.contraction_weights = as_doubles(basis.contraction.flat_weights())
    if basis.core_repulsion is not None:
        index = {symbol: i for i, symbol in enumerate(basis.species)}
        pairs = list(basis.core_repulsion.pairs.items())
        parameters.core_pair_species = as_ints([[index[a], index[b]] for (a, b), _ in pairs])
        parameters.core_pair_radii = as_doubles([list(radii) for _, radii in pairs])
    return parameters


cdef ModelParameters model_parameters(model) except *:
    """The core's description of a lepot.calculator.model.Model."""
    cdef ModelParameters parameters
    basis = model.basis
    parameters.basis = basis_parameters(basis)
    parameters.atomic_numbers = as_ints(basis.atomic_numbers)
    parameters.coefficients = as_doubles(model.coefficients)
    parameters.reference_energies = as_doubles(model.reference_energies)
    return parameters


cdef dict parameter_file_dict(ParameterFile& parsed):
    """A ParameterFile as numpy arrays (shapes as in core/parameter_file.hpp)."""
    cdef BasisParameters* basis = &parsed.model.basis
    n_species, n_functions = basis.n_species, sum(basis.n_radial)
    n_pairs = basis.core_pair_species.size() // 2
    return {
        "species": [symbol.decode() for symbol in parsed.species],
        "atomic_numbers": np.array(parsed.model.atomic_numbers, dtype=np.int64),
        "cutoff_radius": basis.cutoff_radius,
        "cutoff_width": basis.cutoff_width,
        "n_max": parsed.n_max,
        "l_max": parsed.l_max,
        "n_radial": list(basis.n_radial),
        "spline_values": np.array(basis.spline_values, dtype=np.float64).reshape(basis.n_nodes, n_functions),
        "spline_derivatives": np.array(basis.spline_derivatives, dtype=np.float64).reshape(basis.n_nodes, n_functions),
        "compressed": parsed.compressed,
        "embedding": np.array(basis.embedding, dtype=np.float64).reshape(n_species, basis.n_pseudo, basis.n_radial[0]),
        "body_order": parsed.body_order,
        "feature_body_order": np.array(parsed.feature_body_order, dtype=np.int64),
        "feature_index": np.array(parsed.feature_index, dtype=np.int64),
        "feature_channel_offsets": np.array(parsed.feature_channel_offsets, dtype=np.int64),
        "feature_channels": np.array(parsed.feature_channels, dtype=np.int64).reshape(-1, 3),
        "term_feature": np.array(basis.term_feature, dtype=np.int32),
        "term_coefficient": np.array(basis.term_coefficient, dtype=np.float64),
        "term_factor_offsets": np.array(basis.term_factor_offsets, dtype=np.int32),
        "factors": np.array(basis.factors, dtype=np.int32),
        "coefficients": np.array(parsed.model.coefficients, dtype=np.float64).reshape(n_species, basis.n_features),
        "reference_energies": np.array(parsed.model.reference_energies, dtype=np.float64),
        "contraction_channels": list(basis.contraction_channels),
        "contraction_weights": np.array(basis.contraction_weights, dtype=np.float64),
        "core_pair_species": np.array(basis.core_pair_species, dtype=np.int64).reshape(n_pairs, 2),
        "core_pair_radii": np.array(basis.core_pair_radii, dtype=np.float64).reshape(n_pairs, 2),
        "uncertainty": posterior_dict(parsed.posterior, n_species),
        "metadata": json.loads(parsed.metadata.decode()),
    }


cdef posterior_dict(PosteriorParameters& posterior, int n_species):
    """The "uncertainty" content (None for null): the packed factor unpacked to [n_columns][n_columns]."""
    if not posterior.present:
        return None
    n = posterior.n_columns
    factor = np.zeros((n, n))
    factor[np.triu_indices(n)] = np.array(posterior.factor, dtype=np.float64)
    return {
        "centre_channels": np.array(posterior.centre_channels, dtype=np.float64).reshape(posterior.n_centre, n_species),
        "reference_energy_columns": posterior.reference_energy_columns,
        "factor": factor,
        "posterior_scale": posterior.posterior_scale,
        "local_variance_scale": posterior.local_variance_scale,
        "energy_noise": posterior.energy_noise,
        "atom_energy_noise": posterior.atom_energy_noise,
        "force_posterior_scale": posterior.force_posterior_scale,
        "reference_variance": posterior.reference_variance,
    }


def parse_parameter_file(text, source):
    """Validate the text (str or bytes) of a parameter file with the core reader; returns its content as a
    dict of arrays. Raises ValueError "<source>: <problem>" for a file the core refuses."""
    cdef string data = text.encode() if isinstance(text, str) else bytes(text)
    cdef string name = str(source).encode()
    cdef ParameterFile parsed
    with nogil:
        parsed = core_parse_parameter_file(data, name)
    return parameter_file_dict(parsed)


def load_parameter_file(path):
    """Read and validate a parameter file with the core reader (as the LAMMPS plugin does)."""
    cdef string name = str(path).encode()
    cdef ParameterFile parsed
    with nogil:
        parsed = core_load_parameter_file(name)
    return parameter_file_dict(parsed)


def spherical_bessel_zeros(int l_max, int n_zeros):
    """First ``n_zeros`` positive zeros of j_l for l = 0..l_max, shape [l_max+1][n_zeros]."""
    return np.array(core_spherical_bessel_zeros(l_max, n_zeros)).reshape(l_max + 1, n_zeros)


cdef class LaplacianEigenstates:
    """The core's LE radial functions S_nl for a cutoff (Å), n_max and l_max (core/laplacian_eigenstates.hpp)."""

    cdef unique_ptr[CoreLaplacianEigenstates] functions
    cdef readonly double cutoff
    cdef readonly int n_max
    cdef readonly int l_max

    def __cinit__(self, double cutoff, int n_max, int l_max):
        self.functions.reset(new CoreLaplacianEigenstates(cutoff, n_max, l_max))
        self.cutoff, self.n_max, self.l_max = cutoff, n_max, l_max

    def __reduce__(self):
        return LaplacianEigenstates, (self.cutoff, self.n_max, self.l_max)

    @property
    def n_radial(self):
        """n_l for l = 0 .. (last l with a function)."""
        return list(self.functions.get().n_radial())

    @property
    def zeros(self):
        """z_nl in layout order (for l, for n), shape [n_functions]."""
        cdef int f
        return np.array([self.functions.get().zero(f) for f in range(self.functions.get().n_functions())])

    @property
    def normalisation(self):
        """N_nl in layout order, shape [n_functions], Å^(-3/2)."""
        cdef int f
        return np.array([self.functions.get().normalisation(f) for f in range(self.functions.get().n_functions())])

    def evaluate(self, r):
        """S_nl(r) and dS_nl/dr at distances r (Å, in [0, cutoff]), each shape [len(r)][n_functions]."""
        cdef const double[::1] distances = np.ascontiguousarray(r, dtype=np.float64).reshape(-1)
        cdef int n_functions = self.functions.get().n_functions()
        values = np.zeros((distances.shape[0], n_functions))
        derivatives = np.zeros((distances.shape[0], n_functions))
        cdef double[:, ::1] value_view = values
        cdef double[:, ::1] derivative_view = derivatives
        cdef Py_ssize_t i
        cdef int f
        for i in range(distances.shape[0]):
            for f in range(n_functions):
                self.functions.get().evaluate(f, distances[i], value_view[i, f], derivative_view[i, f])
        return values, derivatives


def spherical_harmonics(int l_max, const double[:, ::1] vectors not None):
    """Real spherical harmonics of the directions of ``vectors`` (shape [n][3], non-zero).

    Returns ``(ylm, gradients)`` with shapes [n][(l_max+1)^2] and [n][(l_max+1)^2][3]; index
    l*l + l + m; gradients are ∂Y_lm(r/|r|)/∂r in 1/length.
    """
    if vectors.shape[1] != 3:
        raise ValueError(f"vectors must have shape [n, 3], got [{vectors.shape[0]}, {vectors.shape[1]}]")
    cdef unique_ptr[SphericalHarmonics] harmonics
    harmonics.reset(new SphericalHarmonics(l_max))
    cdef int n = vectors.shape[0]
    cdef int width = harmonics.get().size()
    ylm = np.zeros((n, width))
    gradients = np.zeros((n, width, 3))
    cdef double[:, ::1] ylm_view = ylm
    cdef double[:, :, ::1] gradient_view = gradients
    cdef vector[double] scratch
    scratch.resize(harmonics.get().scratch_size())
    cdef int i
    for i in range(n):
        harmonics.get().compute_with_gradients(&vectors[i, 0], &ylm_view[i, 0], &gradient_view[i, 0, 0], scratch.data())
    return ylm, gradients


def pair_vectors(const double[:, ::1] positions not None, const int64_t[::1] centres not None,
                 const int64_t[::1] neighbours not None, const double[:, ::1] shift_vectors not None,
                 double[:, ::1] out not None):
    """out[p] = positions[neighbours[p]] - positions[centres[p]] + shift_vectors[p] (Å) for every pair p: the
    vectors of a reused Verlet list (lepot.calculator.neighbours.VerletPairs) without numpy's temporaries."""
    cdef int64_t n_pairs = centres.shape[0]
    cdef int64_t n_atoms = positions.shape[0]
    if (neighbours.shape[0] != n_pairs or shift_vectors.shape[0] != n_pairs or out.shape[0] != n_pairs
            or positions.shape[1] != 3 or shift_vectors.shape[1] != 3 or out.shape[1] != 3):
        raise ValueError("pair arrays have inconsistent shapes")
    cdef int64_t p, i, j
    cdef int alpha
    with nogil:
        for p in range(n_pairs):
            i = centres[p]
            j = neighbours[p]
            if i < 0 or i >= n_atoms or j < 0 or j >= n_atoms:
                with gil:
                    raise ValueError(f"pair {p} names atom {i} or {j} outside [0, {n_atoms})")
            for alpha in range(3):
                out[p, alpha] = positions[j, alpha] - positions[i, alpha] + shift_vectors[p, alpha]


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
    values = np.zeros((n, spline.get().padded_functions()))  # the kernel's padded rows
    derivatives = np.zeros((n, spline.get().padded_functions()))
    cdef double[:, ::1] value_view = values
    cdef double[:, ::1] derivative_view = derivatives
    cdef int i
    for i in range(n):
        spline.get().evaluate_with_derivatives(r[i], 1.0, 0.0, &value_view[i, 0], &derivative_view[i, 0])
    return values[:, :node_values.shape[1]], derivatives[:, :node_values.shape[1]]


cdef class DescriptorEvaluator:
    """The compiled descriptor kernel for one lepot.calculator.basis.Basis.

    Construct it through :class:`lepot.calculator.descriptors.DescriptorCalculator`.
    """

    cdef unique_ptr[DescriptorKernel] kernel
    cdef readonly int n_features
    cdef readonly int n_factorised_features  # features whose gradients take the body-order <= 2 path
    cdef readonly int n_density
    cdef readonly int n_species

    def __cinit__(self, basis):
        self.kernel.reset(new_descriptor_kernel(basis_parameters(basis)))
        self.n_features = self.kernel.get().n_features()
        self.n_factorised_features = self.kernel.get().n_factorised_features()
        self.n_density = self.kernel.get().expansion().n_density()
        self.n_species = self.kernel.get().expansion().n_species()

    def density(self, const double[:, ::1] vectors not None, const int[::1] neighbour_species not None,
                const int[::1] centre_species not None, const int64_t[::1] centre_offsets not None):
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
            expansion.expand(centre_species[i], <int>(centre_offsets[i + 1] - begin),
                             &vectors[begin, 0] if centre_offsets[i + 1] > begin else dummy_vector,
                             &neighbour_species[begin] if centre_offsets[i + 1] > begin else &dummy_species,
                             workspace.density)
            for a in range(self.n_density):
                out[i, a] = workspace.density.density[a]
        return result

    def compute(self, const double[:, ::1] vectors not None,
                const int[::1] neighbour_species not None,
                const int[::1] centre_species not None,
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
        centre; centre i (of species centre_species[i]) owns pairs centre_offsets[i] .. centre_offsets[i+1]-1.
        """
        cdef int n_centres = centre_offsets.shape[0] - 1
        cdef int64_t n_pairs = vectors.shape[0]
        if centre_species.shape[0] != n_centres:
            raise ValueError("centre_species must have one entry per centre")
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
                    kernel.compute_atom_gradients(centre_species[i], n_neigh, vector_ptr, species_ptr,
                                                  workspaces[threadid()],
                                                  &features[i, 0], gradient_base, row_ptr, centre_row, strain_ptr)
                else:
                    kernel.compute_atom_values(centre_species[i], n_neigh, vector_ptr, species_ptr, workspaces[threadid()],
                                               &features[i, 0], NULL, NULL, 0, NULL)


cdef class PotentialEvaluator:
    """The compiled energy/force kernel of one lepot.calculator.model.Model (coefficients contracted into the
    couplings). Construct it through :class:`lepot.calculator.potential.Potential`.
    """

    cdef unique_ptr[PotentialKernel] kernel
    cdef readonly int n_species
    cdef readonly int n_monomials
    cdef readonly double cutoff

    def __cinit__(self, model):
        self.kernel.reset(new_potential_kernel(model_parameters(model)))
        self.n_species = model.basis.n_species
        self.n_monomials = self.kernel.get().n_monomials()
        self.cutoff = model.basis.cutoff

    def compute(self, const double[:, ::1] vectors not None,
                const int[::1] neighbour_species not None,
                const int[::1] centre_species not None,
                const int64_t[::1] centre_offsets not None,
                const int64_t[::1] centres not None,
                const int64_t[::1] neighbours not None,
                double[::1] energies not None,
                double[:, ::1] forces not None,
                double[:, ::1] virial not None,
                double[:, :, ::1] atom_virials,
                int n_threads=0):
        """Per-atom energies [n_atoms] (eV), forces [n_atoms][3] (eV/Å), virial [3][3] and per-atom virials
        [n_atoms][3][3] (eV; None: not computed), W = -Σ_pairs r_ij ⊗ ∂E_i/∂r_ij, each pair's share split
        equally between i and j. All outputs are overwritten. Pairs are sorted by centre (centre_offsets [n_atoms+1]).
        """
        cdef int n_atoms = centre_offsets.shape[0] - 1
        cdef int64_t n_pairs = vectors.shape[0]
        if (neighbour_species.shape[0] != n_pairs or centres.shape[0] != n_pairs or neighbours.shape[0] != n_pairs
                or centre_offsets[n_atoms] != n_pairs):
            raise ValueError("pair arrays have inconsistent lengths")
        if (centre_species.shape[0] != n_atoms or energies.shape[0] != n_atoms or forces.shape[0] != n_atoms
                or forces.shape[1] != 3 or virial.shape[0] != 3 or virial.shape[1] != 3
                or (atom_virials is not None and (atom_virials.shape[0] != n_atoms or atom_virials.shape[1] != 3
                                                  or atom_virials.shape[2] != 3))):
            raise ValueError("output arrays have the wrong shape")
        if n_threads <= 0:
            n_threads = openmp.omp_get_max_threads()
        # the pairs inside the cutoff, packed per centre as the LAMMPS plugin gathers them (pairs at or beyond
        # the cutoff, such as a Verlet list's skin, add nothing; the kernel would only sort them out again)
        cdef int64_t[::1] packed_pair = np.empty(max(n_pairs, 1), dtype=np.int64)  # original pair of each
        cdef double[:, ::1] packed_vectors = np.empty((max(n_pairs, 1), 3))
        cdef int[::1] packed_species = np.empty(max(n_pairs, 1), dtype=np.int32)
        cdef int64_t[::1] packed_offsets = np.empty(n_atoms + 1, dtype=np.int64)
        cdef double cutoff_squared = self.cutoff * self.cutoff
        cdef int64_t n_packed = 0
        cdef int64_t p, q, a, b
        cdef int i, alpha, beta
        with nogil:
            for i in range(n_atoms):
                packed_offsets[i] = n_packed
                for p in range(centre_offsets[i], centre_offsets[i + 1]):
                    if (vectors[p, 0] * vectors[p, 0] + vectors[p, 1] * vectors[p, 1]
                            + vectors[p, 2] * vectors[p, 2]) >= cutoff_squared:
                        continue
                    packed_pair[n_packed] = p
                    for alpha in range(3):
                        packed_vectors[n_packed, alpha] = vectors[p, alpha]
                    packed_species[n_packed] = neighbour_species[p]
                    n_packed += 1
            packed_offsets[n_atoms] = n_packed
        pair_gradients_array = np.zeros((max(n_packed, 1), 3))
        cdef double[:, ::1] pair_gradients = pair_gradients_array
        # blocks of at most polynomial_lanes centres of one species (the kernel evaluates a block's
        # polynomial for all its centres at once): atoms sorted by species, cut where the species changes
        species_array = np.asarray(centre_species)
        by_species = np.argsort(species_array, kind="stable").astype(np.int32)
        run_ends = np.cumsum(np.bincount(species_array, minlength=1))
        block_starts = [start for run_begin, run_end in zip(np.concatenate(([0], run_ends[:-1])), run_ends)
                        for start in range(run_begin, run_end, polynomial_lanes)]
        cdef int[::1] block_centres = by_species
        cdef int64_t[::1] block_offsets = np.asarray(block_starts + [n_atoms], dtype=np.int64)
        cdef int n_blocks = block_offsets.shape[0] - 1
        cdef vector[PotentialWorkspace] workspaces
        workspaces.resize(n_threads)
        cdef PotentialKernel* kernel = self.kernel.get()
        cdef const double* vector_ptr = &packed_vectors[0, 0]
        cdef const int* species_ptr = &packed_species[0]
        cdef int block
        cdef double contribution
        cdef cbool with_atom_virials = atom_virials is not None
        with nogil:
            for block in prange(n_blocks, num_threads=n_threads, schedule="dynamic", chunksize=1):
                i = block_centres[block_offsets[block]]
                kernel.compute_atoms(centre_species[i], <int>(block_offsets[block + 1] - block_offsets[block]),
                                     &block_centres[block_offsets[block]], &packed_offsets[0], vector_ptr,
                                     species_ptr, workspaces[threadid()], &energies[0], &pair_gradients[0, 0])
            forces[:, :] = 0.0
            virial[:, :] = 0.0
            for q in range(n_packed):
                p = packed_pair[q]
                a = centres[p]
                b = neighbours[p]
                for alpha in range(3):
                    forces[a, alpha] += pair_gradients[q, alpha]
                    forces[b, alpha] -= pair_gradients[q, alpha]
                    for beta in range(3):
                        virial[alpha, beta] -= packed_vectors[q, alpha] * pair_gradients[q, beta]
            if with_atom_virials:
                atom_virials[:, :, :] = 0.0
                for q in range(n_packed):
                    p = packed_pair[q]
                    a = centres[p]
                    b = neighbours[p]
                    for alpha in range(3):
                        for beta in range(3):
                            contribution = -0.5 * packed_vectors[q, alpha] * pair_gradients[q, beta]
                            atom_virials[a, alpha, beta] += contribution
                            atom_virials[b, alpha, beta] += contribution


def check_uncertainty_precision(str name):
    """Raise ValueError unless ``name`` is a precision of the posterior's arithmetic the core knows ("double",
    "single"; core/posterior.hpp owns the names, as pair_style lepot's uncertainty_precision keyword)."""
    posterior_precision(name.encode())


cdef PosteriorParameters posterior_scales(posterior):
    """The scales of a lepot.calculator.uncertainty.Posterior in the core's struct (its factor is not needed)."""
    cdef PosteriorParameters parameters
    parameters.posterior_scale = posterior.posterior_scale
    parameters.local_variance_scale = posterior.local_variance_scale
    parameters.energy_noise = posterior.energy_noise
    parameters.atom_energy_noise = posterior.atom_energy_noise
    return parameters


def structure_energy_uncertainty(posterior, double summed_norm2, double variance_sum, double n_atoms):
    """σ_E (eV) of a structure of ``n_atoms`` centres from |Σ_i u_i|² and Σ_i |u_i|² (unit noise), with the
    scales of ``posterior`` (a lepot.calculator.uncertainty.Posterior): the core's formula, as in LAMMPS."""
    return core_structure_energy_uncertainty(posterior_scales(posterior), summed_norm2, variance_sum, n_atoms)


def local_energy_uncertainties(posterior, variances):
    """σ_i (eV) [n_atoms] from |u_i|² ``variances`` [n_atoms] (unit noise), with the scales of ``posterior``: the
    core's formula, as in LAMMPS."""
    cdef PosteriorParameters parameters = posterior_scales(posterior)
    cdef const double[::1] given = np.ascontiguousarray(variances, dtype=np.float64)
    out = np.empty(given.shape[0])
    cdef double[::1] sigma = out
    cdef Py_ssize_t i
    for i in range(given.shape[0]):
        sigma[i] = core_local_energy_uncertainty(parameters, given[i])
    return out


cdef class PosteriorProjector:
    """The core's PosteriorEvaluator (core/posterior.hpp) for a lepot.calculator.uncertainty.Posterior whose
    centres have ``n_features`` descriptors: u_i = C⁻ᵀ z_i, as the LAMMPS plugin computes them, in the
    arithmetic ``precision`` ("double" or "single", docs/uncertainty.md)."""

    cdef unique_ptr[PosteriorEvaluator] evaluator
    cdef readonly int n_features
    cdef readonly int n_columns
    cdef readonly str precision

    def __cinit__(self, posterior, int n_features, str precision="double"):
        cdef PosteriorParameters parameters
        channels = np.ascontiguousarray(posterior.centre_channels, dtype=np.float64)
        factor = np.asarray(posterior.factor, dtype=np.float64)
        parameters.present = True
        parameters.n_centre = channels.shape[0]
        parameters.centre_channels = as_doubles(channels)
        parameters.reference_energy_columns = bool(posterior.reference_energy_columns)
        parameters.n_columns = factor.shape[0]
        parameters.factor = as_doubles(factor[np.triu_indices(factor.shape[0])])
        self.evaluator.reset(new PosteriorEvaluator(parameters, channels.shape[1], n_features,
                                                    posterior_precision(precision.encode())))
        self.n_features = n_features
        self.precision = precision
        self.n_columns = factor.shape[0]

    def project(self, const int[::1] species not None, const double[:, ::1] features not None):
        """u = C⁻ᵀ z [n_centres][n_columns] for centres of ``species`` [n] (species indices) with ``features``
        [n][n_features]."""
        cdef int n = species.shape[0]
        if features.shape[0] != n or features.shape[1] != self.n_features:
            raise ValueError(f"features must have shape ({n}, {self.n_features}), got {tuple(features.shape)[:2]}")
        u = np.empty((n, self.n_columns))
        cdef double[:, ::1] out = u
        cdef double[:, ::1] by_feature = np.ascontiguousarray(np.asarray(features).T)  # the core's [n_features][n]
        cdef PosteriorWorkspace work
        if n > 0:
            with nogil:
                self.evaluator.get().project(n, &species[0], &by_feature[0, 0], work, &out[0, 0])
        return u
