// Invariants (B basis) as a sparse polynomial in the density coefficients A:
//   B_q = Σ_{t : feature(t) = q} c_t Π_{s < ν_t} A[factor(t, s)]
// Every body order uses this one representation: ν = 1 terms have one factor (A_{k n 0 0}),
// ν = 2 terms two (Σ_m A_{k1 n1 l m} A_{k2 n2 l m} / sqrt(2l+1)), higher orders their generalised
// Clebsch-Gordan products. The term lists are built in Python (lepot.calculator.couplings) and
// travel in the parameter file.
//
// Terms are grouped by feature (term_feature non-decreasing), so feature q owns the contiguous terms
// feature_term_offsets[q] .. feature_term_offsets[q+1]-1. For gradients, every factor slot f of term t
// gets its partial product  c_t Π_{f' ≠ f} A[factor(f')]  = ∂(term t)/∂A[factor(f)].
#pragma once

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <string>
#include <vector>

#include "aligned_storage.hpp"
#include "simd_lanes.hpp"

namespace lepot {

// Centres per pass of CouplingSet::evaluate_centres: with 16, Mo.json's 1360 features took 2.7 µs per centre
// against 4.2 with 8 (the index loads and loop control of a term shared by more centres; docs/design-notes.md 17).
constexpr int coupling_lanes = 16;

// evaluate_centres' lane-interleaved buffers, owned by the caller.
struct CouplingLanes {
    AlignedDoubles density;   // shape [n_density][coupling_lanes], the densities of a pass's centres
    AlignedDoubles features;  // shape [n_features][coupling_lanes]
};

class CouplingSet {
public:
    // Features whose terms all have this many factors or fewer get a loop with the count fixed at compile time.
    static constexpr int max_fixed_degree = 5;

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
        feature_term_offsets_.assign(n_features + 1, 0);
        for (int t = 0; t < n_terms; ++t) {
            if (t > 0 && term_feature_[t] < term_feature_[t - 1])
                throw std::invalid_argument("couplings: terms must be grouped by feature (term " + std::to_string(t) +
                                            ")");
            feature_term_offsets_[term_feature_[t] + 1] += 1;
        }
        for (int q = 0; q < n_features; ++q) feature_term_offsets_[q + 1] += feature_term_offsets_[q];
        feature_degree_.assign(n_features, 0);
        for (int q = 0; q < n_features; ++q) {
            const int begin = feature_term_offsets_[q], end = feature_term_offsets_[q + 1];
            if (begin == end) continue;
            const int degree = term_factor_offsets_[begin + 1] - term_factor_offsets_[begin];
            bool uniform = degree <= max_fixed_degree;
            for (int t = begin; t < end && uniform; ++t)
                uniform = term_factor_offsets_[t + 1] - term_factor_offsets_[t] == degree;
            if (uniform) feature_degree_[q] = degree;
        }
    }

    int n_features() const { return n_features_; }
    int n_density() const { return n_density_; }
    int n_terms() const { return static_cast<int>(term_feature_.size()); }
    int n_factor_slots() const { return static_cast<int>(factors_.size()); }
    int feature_term_begin(int q) const { return feature_term_offsets_[q]; }
    int feature_term_end(int q) const { return feature_term_offsets_[q + 1]; }
    int term_factor_begin(int t) const { return term_factor_offsets_[t]; }
    int term_factor_end(int t) const { return term_factor_offsets_[t + 1]; }
    int factor(int f) const { return factors_[f]; }
    double coefficient(int t) const { return term_coefficient_[t]; }

    // density: [n_density]; features: [n_features] (overwritten)
    void evaluate(const double* density, double* features) const { evaluate_lanes<1>(density, features); }

    // evaluate() for W centres at once, lane w of every array being centre w: lane_density [n_density][W],
    // lane_features [n_features][W] (overwritten). A feature's terms are contiguous: each lane sums them in a
    // register, term by term in order, each product ((c_t A_1) A_2) ... left to right (the same arithmetic for
    // every W, so lane w equals a one-centre evaluation). A feature whose terms all have D <= max_fixed_degree
    // factors runs a loop with D fixed at compile time (2x faster than a run-time factor count for Mo.json's
    // cubic terms, docs/design-notes.md 17).
    template <int W>
    void evaluate_lanes(const double* lane_density, double* lane_features) const {
        for (int q = 0; q < n_features_; ++q) {
            switch (feature_degree_[q]) {
                case 1: sum_feature<W, 1>(q, lane_density, lane_features); break;
                case 2: sum_feature<W, 2>(q, lane_density, lane_features); break;
                case 3: sum_feature<W, 3>(q, lane_density, lane_features); break;
                case 4: sum_feature<W, 4>(q, lane_density, lane_features); break;
                case 5: sum_feature<W, 5>(q, lane_density, lane_features); break;
                default: sum_feature<W, 0>(q, lane_density, lane_features);
            }
        }
    }

    // Features of n_centres centres from their densities, e.g. as PotentialKernel::compute_atoms keeps them (so
    // a LAMMPS step's forces and its grade share one expansion): centre c = centres[i] has row c of densities
    // [max centre + 1][n_density]. features: [n_features][n_centres] (feature-major, as PosteriorEvaluator
    // takes them), column i for centres[i]; equal to evaluate() centre by centre. coupling_lanes per pass.
    void evaluate_centres(int n_centres, const int* centres, const double* densities, CouplingLanes& lanes,
                          double* features) const {
        constexpr int W = coupling_lanes;
        lanes.density.resize(static_cast<size_t>(n_density_) * W);
        lanes.features.resize(static_cast<size_t>(n_features_) * W);
        for (int first = 0; first < n_centres; first += W) {
            const int count = std::min(W, n_centres - first);
            for (int i = 0; i < W; ++i) {
                double* lane = lanes.density.data() + i;
                if (i >= count) {  // empty lanes: zero density
                    for (int a = 0; a < n_density_; ++a) lane[static_cast<size_t>(a) * W] = 0.0;
                    continue;
                }
                const double* density = densities + static_cast<size_t>(centres[first + i]) * n_density_;
                for (int a = 0; a < n_density_; ++a) lane[static_cast<size_t>(a) * W] = density[a];
            }
            evaluate_lanes<W>(lanes.density.data(), lanes.features.data());
            for (int q = 0; q < n_features_; ++q)
                std::copy_n(lanes.features.data() + static_cast<size_t>(q) * W, count,
                            features + static_cast<size_t>(q) * n_centres + first);
        }
    }

    // slot_derivatives: [n_factor_slots], slot f of term t gets c_t Π_{f' ≠ f} A[factor(f')]
    void partial_derivatives(const double* density, double* slot_derivatives) const {
        const int n_terms = this->n_terms();
        for (int t = 0; t < n_terms; ++t) {
            const int begin = term_factor_offsets_[t], end = term_factor_offsets_[t + 1];
            for (int f = begin; f < end; ++f) {
                double product = term_coefficient_[t];
                for (int g = begin; g < end; ++g)
                    if (g != f) product *= density[factors_[g]];
                slot_derivatives[f] = product;
            }
        }
    }

private:
    // Feature q of W centres into lane_features[q][W]: its terms with D factors each (D = 0: any number).
    template <int W, int D>
    void sum_feature(int q, const double* lane_density, double* lane_features) const {
        using V = typename LaneRegisters<W>::type;
        constexpr int parts = LaneRegisters<W>::count, width = LaneRegisters<W>::width;
        V sum[parts];
        for (int j = 0; j < parts; ++j) sum[j] = V{};
        const int begin = feature_term_offsets_[q], end = feature_term_offsets_[q + 1];
        const int* factor = factors_.data() + term_factor_offsets_[begin];  // the factors of term t, in order
        for (int t = begin; t < end; ++t) {
            const int n_factors = D > 0 ? D : term_factor_offsets_[t + 1] - term_factor_offsets_[t];
            V product[parts];
            for (int j = 0; j < parts; ++j) product[j] = broadcast_lanes<V>(term_coefficient_[t]);
            for (int f = 0; f < n_factors; ++f) {
                const double* values = lane_density + static_cast<size_t>(factor[f]) * W;
                for (int j = 0; j < parts; ++j) product[j] *= load_lanes<V>(values + j * width);
            }
            for (int j = 0; j < parts; ++j) sum[j] += product[j];
            factor += n_factors;
        }
        for (int j = 0; j < parts; ++j) store_lanes(lane_features + static_cast<size_t>(q) * W + j * width, sum[j]);
    }

    int n_features_;
    int n_density_;
    std::vector<int> term_feature_;         // shape [n_terms]
    std::vector<double> term_coefficient_;  // shape [n_terms]
    std::vector<int> term_factor_offsets_;  // shape [n_terms+1]
    std::vector<int> factors_;              // shape [n_factors]
    std::vector<int> feature_term_offsets_;  // shape [n_features+1]
    std::vector<int> feature_degree_;        // shape [n_features], factors per term when all its terms agree, else 0
};

}  // namespace lepot
