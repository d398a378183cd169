// The linear model contracted into a sparse polynomial of the density coefficients (PACE's "C-tilde").
//
// E_i = Σ_q w_q(a_i) B_q(i) = Σ_q w_q(a_i) Σ_{t of q} c_t Π_f A[factor(f)] = Σ_m C_m(a_i) Π_{f of m} A[factor(f)]
//
// Terms with the same multiset of factors (from any features) are merged into one monomial m, so the
// per-atom cost depends on the distinct monomials only, not on how the invariants were enumerated.
// Monomials whose coefficient is zero for every centre species are dropped. Monomials are stored
// ordered by degree, so degrees 1 and 2 (radial and power-spectrum terms) run through dedicated loops.
#pragma once

#include <algorithm>
#include <cmath>
#include <map>
#include <stdexcept>
#include <string>
#include <vector>

#include "couplings.hpp"

namespace lepot {

class EnergyPolynomial {
public:
    // weights: [n_species][n_features], w_q for centres of each species (eV per unit of B_q)
    EnergyPolynomial(const CouplingSet& couplings, int n_species, const double* weights)
        : n_species_(n_species), n_density_(couplings.n_density()) {
        if (n_species < 1) throw std::invalid_argument("energy polynomial: n_species must be >= 1");
        const int n_features = couplings.n_features();
        for (size_t i = 0; i < static_cast<size_t>(n_species) * n_features; ++i)
            if (!std::isfinite(weights[i])) throw std::invalid_argument("energy polynomial: non-finite weight");
        std::map<std::vector<int>, std::vector<double>> merged;  // sorted factors -> coefficient per species
        for (int q = 0; q < n_features; ++q) {
            for (int t = couplings.feature_term_begin(q); t < couplings.feature_term_end(q); ++t) {
                std::vector<int> key;
                for (int f = couplings.term_factor_begin(t); f < couplings.term_factor_end(t); ++f)
                    key.push_back(couplings.factor(f));
                std::sort(key.begin(), key.end());
                std::vector<double>& coefficient = merged[key];
                coefficient.resize(n_species, 0.0);
                for (int s = 0; s < n_species; ++s)
                    coefficient[s] += weights[static_cast<size_t>(s) * n_features + q] * couplings.coefficient(t);
            }
        }
        factor_offsets_.push_back(0);
        std::vector<std::vector<double>> kept;
        size_t max_degree = 0;
        for (const auto& entry : merged) max_degree = std::max(max_degree, entry.first.size());
        degree_offsets_.assign(max_degree + 2, 0);
        for (size_t degree = 1; degree <= max_degree; ++degree) {
            for (const auto& [key, coefficient] : merged) {
                if (key.size() != degree) continue;
                if (std::all_of(coefficient.begin(), coefficient.end(), [](double c) { return c == 0.0; })) continue;
                factors_.insert(factors_.end(), key.begin(), key.end());
                factor_offsets_.push_back(static_cast<int>(factors_.size()));
                kept.push_back(coefficient);
            }
            degree_offsets_[degree + 1] = static_cast<int>(kept.size());
        }
        const int n_monomials = static_cast<int>(kept.size());
        coefficients_.assign(static_cast<size_t>(n_species) * n_monomials, 0.0);
        for (int m = 0; m < n_monomials; ++m)
            for (int s = 0; s < n_species; ++s) coefficients_[static_cast<size_t>(s) * n_monomials + m] = kept[m][s];
    }

    int n_monomials() const { return static_cast<int>(factor_offsets_.size()) - 1; }
    int n_density() const { return n_density_; }

    // Energy of a centre of `species` (eV, without E0) and its adjoint g_a = ∂E/∂A_a, adjoint: [n_density].
    double evaluate(int species, const double* density, double* adjoint) const {
        const int n_monomials = this->n_monomials();
        const double* coefficient = &coefficients_[static_cast<size_t>(species) * n_monomials];
        for (int a = 0; a < n_density_; ++a) adjoint[a] = 0.0;
        double energy = 0.0;
        const int max_degree = static_cast<int>(degree_offsets_.size()) - 2;
        for (int m = degree_begin(1); m < degree_end(1); ++m) {
            const int a = factors_[factor_offsets_[m]];
            energy += coefficient[m] * density[a];
            adjoint[a] += coefficient[m];
        }
        if (max_degree >= 2) {
            for (int m = degree_begin(2); m < degree_end(2); ++m) {
                const int a = factors_[factor_offsets_[m]], b = factors_[factor_offsets_[m] + 1];
                const double c = coefficient[m];
                energy += c * density[a] * density[b];
                adjoint[a] += c * density[b];
                adjoint[b] += c * density[a];
            }
        }
        for (int m = max_degree >= 3 ? degree_begin(3) : n_monomials; m < n_monomials; ++m) {
            const double c = coefficient[m];
            if (c == 0.0) continue;
            const int begin = factor_offsets_[m], end = factor_offsets_[m + 1];
            double product = c;
            for (int f = begin; f < end; ++f) product *= density[factors_[f]];
            energy += product;
            for (int f = begin; f < end; ++f) {
                double partial = c;
                for (int g = begin; g < end; ++g)
                    if (g != f) partial *= density[factors_[g]];
                adjoint[factors_[f]] += partial;
            }
        }
        return energy;
    }

private:
    int degree_begin(int degree) const { return degree_offsets_[degree]; }
    int degree_end(int degree) const { return degree_offsets_[degree + 1]; }

    int n_species_;
    int n_density_;
    std::vector<int> degree_offsets_;   // shape [max_degree+2], monomials of degree d: [offsets[d], offsets[d+1])
    std::vector<int> factor_offsets_;   // shape [n_monomials+1]
    std::vector<int> factors_;          // shape [n_factor_slots], sorted within each monomial
    std::vector<double> coefficients_;  // shape [n_species][n_monomials], C_m(species) in eV
};

}  // namespace lepot
