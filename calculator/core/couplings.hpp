// Invariants (B basis) as a sparse polynomial in the density coefficients A:
//   B_q = Σ_{t : feature(t) = q} c_t Π_{s < ν_t} A[factor(t, s)]
// Every body order uses this one representation: ν = 1 terms have one factor (A_{k n 0 0}),
// ν = 2 terms two (Σ_m A_{k1 n1 l m} A_{k2 n2 l m} / sqrt(2l+1)), higher orders their generalised
// Clebsch-Gordan products. The term lists are built in Python (lepot.calculator.couplings) and
// travel in the parameter file.
//
// For gradients the set is also stored transposed, grouped by density index a:
//   entry e = (term t, factor position s) with factor(t, s) = a;
//   ∂B_q/∂A_a = Σ_{e in row a, feature(e) = q} c_t Π_{s' ≠ s} A[factor(t, s')].
#pragma once

#include <cmath>
#include <stdexcept>
#include <string>
#include <vector>

namespace lepot {

class CouplingSet {
public:
    // term_feature: [n_terms]; term_coefficient: [n_terms]; term_factor_offsets: [n_terms+1];
    // factors: [term_factor_offsets[n_terms]] density indices in [0, n_density)
    CouplingSet(int n_features, int n_density, int n_terms, const int* term_feature, const double* term_coefficient,
                const int* term_factor_offsets, const int* factors)
        : n_features_(n_features), n_density_(n_density) {
        if (n_features < 0 || n_density < 1 || n_terms < 0)
            throw std::invalid_argument("couplings: negative size");
        if (term_factor_offsets[0] != 0) throw std::invalid_argument("couplings: term_factor_offsets[0] must be 0");
        term_feature_.assign(term_feature, term_feature + n_terms);
        term_coefficient_.assign(term_coefficient, term_coefficient + n_terms);
        term_factor_offsets_.assign(term_factor_offsets, term_factor_offsets + n_terms + 1);
        factors_.assign(factors, factors + term_factor_offsets[n_terms]);
        for (int t = 0; t < n_terms; ++t) {
            if (term_feature_[t] < 0 || term_feature_[t] >= n_features)
                throw std::invalid_argument("couplings: term " + std::to_string(t) + " has feature index out of range");
            if (term_factor_offsets_[t + 1] <= term_factor_offsets_[t])
                throw std::invalid_argument("couplings: term " + std::to_string(t) + " has no factors");
            if (!std::isfinite(term_coefficient_[t]))
                throw std::invalid_argument("couplings: term " + std::to_string(t) + " has a non-finite coefficient");
        }
        for (int f : factors_)
            if (f < 0 || f >= n_density)
                throw std::invalid_argument("couplings: factor index " + std::to_string(f) + " out of range [0, " +
                                            std::to_string(n_density) + ")");
        build_transpose();
    }

    int n_features() const { return n_features_; }
    int n_density() const { return n_density_; }
    int n_terms() const { return static_cast<int>(term_feature_.size()); }
    int n_entries() const { return static_cast<int>(entry_term_.size()); }
    int entry_begin(int a) const { return entry_offsets_[a]; }
    int entry_end(int a) const { return entry_offsets_[a + 1]; }
    int entry_feature(int e) const { return entry_feature_[e]; }

    // density: [n_density]; features: [n_features] (overwritten)
    void evaluate(const double* density, double* features) const {
        for (int q = 0; q < n_features_; ++q) features[q] = 0.0;
        const int n_terms = this->n_terms();
        for (int t = 0; t < n_terms; ++t) {
            double product = term_coefficient_[t];
            for (int f = term_factor_offsets_[t]; f < term_factor_offsets_[t + 1]; ++f) product *= density[factors_[f]];
            features[term_feature_[t]] += product;
        }
    }

    // entry_values: [n_entries], entry e gets c_t Π_{s' ≠ s_e} A[factor(t, s')]
    void partial_derivatives(const double* density, double* entry_values) const {
        const int n_entries = this->n_entries();
        for (int e = 0; e < n_entries; ++e) {
            const int t = entry_term_[e];
            const int skip = term_factor_offsets_[t] + entry_position_[e];
            double product = term_coefficient_[t];
            for (int f = term_factor_offsets_[t]; f < term_factor_offsets_[t + 1]; ++f)
                if (f != skip) product *= density[factors_[f]];
            entry_values[e] = product;
        }
    }

private:
    void build_transpose() {
        entry_offsets_.assign(n_density_ + 1, 0);
        for (int f : factors_) entry_offsets_[f + 1] += 1;
        for (int a = 0; a < n_density_; ++a) entry_offsets_[a + 1] += entry_offsets_[a];
        const size_t n_entries = factors_.size();
        entry_term_.resize(n_entries);
        entry_position_.resize(n_entries);
        entry_feature_.resize(n_entries);
        std::vector<int> fill(entry_offsets_.begin(), entry_offsets_.end() - 1);
        for (int t = 0; t < n_terms(); ++t) {
            for (int f = term_factor_offsets_[t]; f < term_factor_offsets_[t + 1]; ++f) {
                const int e = fill[factors_[f]]++;
                entry_term_[e] = t;
                entry_position_[e] = f - term_factor_offsets_[t];
                entry_feature_[e] = term_feature_[t];
            }
        }
    }

    int n_features_;
    int n_density_;
    std::vector<int> term_feature_;         // shape [n_terms]
    std::vector<double> term_coefficient_;  // shape [n_terms]
    std::vector<int> term_factor_offsets_;  // shape [n_terms+1]
    std::vector<int> factors_;              // shape [n_factors]
    std::vector<int> entry_offsets_;        // shape [n_density+1]
    std::vector<int> entry_term_;           // shape [n_entries]
    std::vector<int> entry_position_;       // shape [n_entries]
    std::vector<int> entry_feature_;        // shape [n_entries]
};

}  // namespace lepot
