// Plain-data description of a descriptor basis and of a potential, and the one assembly sequence that
// turns it into the compiled kernels. Every front end builds its kernels here: the parameter-file
// reader (parameter_file.hpp) fills a ModelParameters for the LAMMPS plugin and for Python, and the
// Cython bindings fill the same structs from a Python Basis / Model built in memory.
#pragma once

#include <stdexcept>
#include <string>
#include <vector>

#include "core_repulsion.hpp"
#include "couplings.hpp"
#include "cutoff_function.hpp"
#include "density_contraction.hpp"
#include "density_expansion.hpp"
#include "descriptor_kernel.hpp"
#include "potential_kernel.hpp"
#include "radial_spline.hpp"

namespace lepot {

struct BasisParameters {
    double cutoff_radius = 0.0;               // r_c, Å
    double cutoff_width = 0.0;                // δ of the shifted cosine, Å
    std::vector<int> n_radial;                // shape [n_angular], LE n_l for l = 0..n_angular-1
    int n_nodes = 0;                          // spline nodes r_k = k r_c / (n_nodes - 1)
    std::vector<double> spline_values;        // shape [n_nodes][n_functions], S_nl(r_k)
    std::vector<double> spline_derivatives;   // shape [n_nodes][n_functions], dS_nl/dr(r_k)
    int n_species = 0;
    int n_pseudo = 0;
    std::vector<double> embedding;            // shape [n_species][n_pseudo][n_radial[0]], u_{k n}(species)
    int n_features = 0;
    std::vector<int> term_feature;            // shape [n_terms]
    std::vector<double> term_coefficient;     // shape [n_terms]
    std::vector<int> term_factor_offsets;     // shape [n_terms+1]
    std::vector<int> factors;                 // shape [term_factor_offsets[n_terms]], density indices
    std::vector<int> contraction_channels;    // shape [n_angular] K_l of the tensor-reduced channels, or empty: none
    std::vector<double> contraction_weights;  // W_l[k][p][n] for l in turn (density_contraction.hpp)
    std::vector<int> core_pair_species;       // shape [n_core_pairs][2], species indices of each ZBL pair
    std::vector<double> core_pair_radii;      // shape [n_core_pairs][2], r_inner, r_outer (Å)

    int n_functions() const {
        int total = 0;
        for (int n : n_radial) total += n;
        return total;
    }
    int n_terms() const { return static_cast<int>(term_feature.size()); }
    int n_core_pairs() const { return static_cast<int>(core_pair_species.size() / 2); }
};

struct ModelParameters {
    BasisParameters basis;
    std::vector<int> atomic_numbers;         // shape [n_species]
    std::vector<double> coefficients;        // shape [n_species][n_features], w_q(a): eV per unit of B_q
    std::vector<double> reference_energies;  // shape [n_species], E0 in eV
};

inline void require_size(size_t actual, size_t expected, const char* what) {
    if (actual != expected)
        throw std::invalid_argument(std::string("model parameters: ") + what + " has " + std::to_string(actual) +
                                    " entries, expected " + std::to_string(expected));
}

inline PairSwitch make_pair_switch(const BasisParameters& basis) {
    require_size(basis.core_pair_species.size(), 2 * static_cast<size_t>(basis.n_core_pairs()), "core_pair_species");
    require_size(basis.core_pair_radii.size(), 2 * static_cast<size_t>(basis.n_core_pairs()), "core_pair_radii");
    return PairSwitch(basis.n_species, basis.n_core_pairs(), basis.core_pair_species.data(), basis.core_pair_radii.data());
}

inline DensityExpansion make_density_expansion(const BasisParameters& basis) {
    if (basis.n_radial.empty()) throw std::invalid_argument("model parameters: n_radial is empty");
    const int n_functions = basis.n_functions();
    require_size(basis.spline_values.size(), static_cast<size_t>(basis.n_nodes) * n_functions, "spline_values");
    require_size(basis.spline_derivatives.size(), static_cast<size_t>(basis.n_nodes) * n_functions,
                 "spline_derivatives");
    require_size(basis.embedding.size(), static_cast<size_t>(basis.n_species) * basis.n_pseudo * basis.n_radial[0],
                 "embedding");
    RadialSpline spline(n_functions, basis.n_nodes, basis.cutoff_radius, basis.spline_values.data(),
                        basis.spline_derivatives.data());
    DensityLayout layout(static_cast<int>(basis.n_radial.size()) - 1, basis.n_radial.data());
    return DensityExpansion(std::move(spline), CutoffFunction(basis.cutoff_radius, basis.cutoff_width),
                            std::move(layout), basis.n_species, basis.n_pseudo, basis.embedding.data(),
                            make_pair_switch(basis));
}

inline DensityContraction make_density_contraction(const BasisParameters& basis) {
    if (basis.contraction_channels.empty()) {
        if (!basis.contraction_weights.empty())
            throw std::invalid_argument("model parameters: contraction weights without channel counts");
        return DensityContraction();
    }
    return DensityContraction(basis.n_pseudo, basis.n_radial, basis.contraction_channels, basis.contraction_weights);
}

// n_density: the size of the vector the couplings index, [A ; Ã] with a contraction
inline CouplingSet make_coupling_set(const BasisParameters& basis, int n_density) {
    const int n_terms = basis.n_terms();
    require_size(basis.term_coefficient.size(), n_terms, "term_coefficient");
    require_size(basis.term_factor_offsets.size(), static_cast<size_t>(n_terms) + 1, "term_factor_offsets");
    if (basis.term_factor_offsets[n_terms] < 0) throw std::invalid_argument("model parameters: negative factor count");
    require_size(basis.factors.size(), basis.term_factor_offsets[n_terms], "factors");
    return CouplingSet(basis.n_features, n_density, n_terms, basis.term_feature.data(), basis.term_coefficient.data(),
                       basis.term_factor_offsets.data(), basis.factors.data());
}

inline DescriptorKernel make_descriptor_kernel(const BasisParameters& basis) {
    DensityExpansion expansion = make_density_expansion(basis);
    DensityContraction contraction = make_density_contraction(basis);
    CouplingSet couplings = make_coupling_set(basis, contraction.n_extended(expansion.n_density()));
    return DescriptorKernel(std::move(expansion), std::move(couplings), std::move(contraction));
}

inline PotentialKernel make_potential_kernel(const ModelParameters& model) {
    const BasisParameters& basis = model.basis;
    const size_t n_species = basis.n_species;
    require_size(model.atomic_numbers.size(), n_species, "atomic_numbers");
    require_size(model.coefficients.size(), n_species * basis.n_features, "coefficients");
    require_size(model.reference_energies.size(), n_species, "reference_energies");
    DensityExpansion expansion = make_density_expansion(basis);
    DensityContraction contraction = make_density_contraction(basis);
    const CouplingSet couplings = make_coupling_set(basis, contraction.n_extended(expansion.n_density()));
    CoreRepulsion repulsion(basis.n_species, model.atomic_numbers.data(), expansion.handover());
    return PotentialKernel(std::move(expansion), couplings, model.coefficients.data(), model.reference_energies.data(),
                           std::move(repulsion), std::move(contraction));
}

}  // namespace lepot
