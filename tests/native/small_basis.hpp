// Small bases for the native tests, built from the core's own LE functions: one-hot (or given) embedding,
// features ν = 1 (A_{k n 0 0}), ν = 2 (power spectrum Σ_m A_{c1,m} A_{c2,m} / sqrt(2l+1)) and, if asked,
// a few ν = 3 products with arbitrary coefficients (finite-difference tests need no invariance).
#pragma once

#include <cmath>
#include <vector>

#include "laplacian_eigenstates.hpp"
#include "model_parameters.hpp"

namespace native_test {

struct Feature {
    std::vector<std::vector<int>> terms;  // density indices of each term's factors
    std::vector<double> coefficients;     // one per term
};

inline void append_features(lepot::BasisParameters& basis, const std::vector<Feature>& features) {
    if (basis.term_factor_offsets.empty()) basis.term_factor_offsets.push_back(0);
    for (const Feature& feature : features) {
        for (size_t t = 0; t < feature.terms.size(); ++t) {
            basis.term_feature.push_back(basis.n_features);
            basis.term_coefficient.push_back(feature.coefficients[t]);
            basis.factors.insert(basis.factors.end(), feature.terms[t].begin(), feature.terms[t].end());
            basis.term_factor_offsets.push_back(static_cast<int>(basis.factors.size()));
        }
        ++basis.n_features;
    }
}

// Density index of (k, n, l, m) in the core's layout.
inline int density_index(const std::vector<int>& n_radial, int k, int n, int l, int m) {
    int n_nlm = 0, offset = 0;
    for (int j = 0; j < static_cast<int>(n_radial.size()); ++j) {
        if (j == l) offset = n_nlm;
        n_nlm += n_radial[j] * (2 * j + 1);
    }
    return k * n_nlm + offset + n * (2 * l + 1) + l + m;
}

// An LE basis of `n_species` species (one-hot embedding unless n_pseudo > 0 gives a dense one); with
// core_repulsion, species pairs (0, 1) and (1, 1) are handed over to ZBL in [0.25, 0.5] and [0.3, 0.55] r_c.
inline lepot::BasisParameters small_basis(double cutoff, int n_max, int l_max, int n_species, bool third_order,
                                          int n_pseudo = 0, bool core_repulsion = false) {
    lepot::BasisParameters basis;
    const lepot::LaplacianEigenstates eigenstates(cutoff, n_max, l_max);
    basis.cutoff_radius = cutoff;
    basis.cutoff_width = 0.25 * cutoff;
    basis.n_radial = eigenstates.n_radial();
    basis.n_nodes = 401;
    const int n_functions = eigenstates.n_functions();
    basis.spline_values.resize(static_cast<size_t>(basis.n_nodes) * n_functions);
    basis.spline_derivatives.resize(basis.spline_values.size());
    for (int k = 0; k < basis.n_nodes; ++k)
        for (int f = 0; f < n_functions; ++f)
            eigenstates.evaluate(f, cutoff * k / (basis.n_nodes - 1), basis.spline_values[k * n_functions + f],
                                 basis.spline_derivatives[k * n_functions + f]);
    basis.n_species = n_species;
    basis.n_pseudo = n_pseudo > 0 ? n_pseudo : n_species;
    const int n_radial_max = basis.n_radial[0];
    basis.embedding.assign(static_cast<size_t>(n_species) * basis.n_pseudo * n_radial_max, 0.0);
    for (int s = 0; s < n_species; ++s)
        for (int k = 0; k < basis.n_pseudo; ++k)
            for (int n = 0; n < n_radial_max; ++n)
                basis.embedding[(static_cast<size_t>(s) * basis.n_pseudo + k) * n_radial_max + n] =
                    n_pseudo > 0 ? std::cos(1.0 + s + 2.0 * k + 0.3 * n) : (s == k ? 1.0 : 0.0);

    std::vector<Feature> features;
    const int n_angular = static_cast<int>(basis.n_radial.size());
    for (int k = 0; k < basis.n_pseudo; ++k)
        for (int n = 0; n < n_radial_max; ++n)
            features.push_back({{{density_index(basis.n_radial, k, n, 0, 0)}}, {1.0}});
    for (int l = 0; l < n_angular; ++l)
        for (int k1 = 0; k1 < basis.n_pseudo; ++k1)
            for (int n1 = 0; n1 < basis.n_radial[l]; ++n1)
                for (int k2 = k1; k2 < basis.n_pseudo; ++k2)
                    for (int n2 = (k2 == k1 ? n1 : 0); n2 < basis.n_radial[l]; ++n2) {
                        Feature feature;
                        for (int m = -l; m <= l; ++m) {
                            feature.terms.push_back({density_index(basis.n_radial, k1, n1, l, m),
                                                     density_index(basis.n_radial, k2, n2, l, m)});
                            feature.coefficients.push_back(1.0 / std::sqrt(2.0 * l + 1.0));
                        }
                        features.push_back(feature);
                    }
    if (third_order && n_angular >= 2) {
        for (int k = 0; k < basis.n_pseudo; ++k) {
            features.push_back({{{density_index(basis.n_radial, k, 0, 0, 0), density_index(basis.n_radial, k, 0, 1, -1),
                                  density_index(basis.n_radial, k, 1, 1, -1)},
                                 {density_index(basis.n_radial, k, 0, 0, 0), density_index(basis.n_radial, k, 0, 1, 1),
                                  density_index(basis.n_radial, k, 0, 1, 0)}},
                                {0.7, -0.4}});
            features.push_back({{{density_index(basis.n_radial, k, 1, 0, 0), density_index(basis.n_radial, k, 0, 1, 0),
                                  density_index(basis.n_radial, k, 0, 1, 0), density_index(basis.n_radial, k, 0, 0, 0)}},
                                {1.3}});
        }
    }
    append_features(basis, features);
    if (core_repulsion && n_species >= 2) {
        basis.core_pair_species = {0, 1, 1, 1};
        basis.core_pair_radii = {0.25 * cutoff, 0.5 * cutoff, 0.3 * cutoff, 0.55 * cutoff};
    }
    return basis;
}

}  // namespace native_test
