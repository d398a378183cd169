// The linear model contracted into a sparse polynomial of the density coefficients (PACE's "C-tilde").
//
// E_i = Σ_q w_q(a_i) B_q(i) = Σ_q w_q(a_i) Σ_{t of q} c_t Π_f A[factor(f)] = Σ_m C_m(a_i) Π_{f of m} A[factor(f)]
//
// Terms with the same multiset of factors (from any features) are merged into one monomial m, so the
// per-atom cost depends on the distinct monomials only, not on how the invariants were enumerated.
// Monomials whose coefficient is zero for every centre species are dropped. Monomials are stored
// ordered by degree (and lexicographically within a degree), so each degree runs its own loop.
//
// Degree 3, C A_a A_b A_c with a <= b <= c, is evaluated through its leading pairs (a, b):
//   P_ab = A_a A_b,  S_ab = Σ_c C_abc A_c,  E += Σ_ab P_ab S_ab,  g_a += A_b S_ab,  g_b += A_a S_ab,
//   g_c += C_abc P_ab   (scattered in the same pass),
// so every monomial costs one gathered and one scattered multiply-add. Pairs come in runs of equal a,
// over which g_a and the energy are summed in registers. The scatter of g_c targets the small adjoint
// array, which stays in L1 (a pass gathering P_ab instead would read the [n_cubic_pairs] array out of
// order; docs/design-notes.md).
//
// Within a run the pairs are ordered by their number of monomials (most first), and consecutive pairs with
// the same number form a group whose inner loop has that trip count fixed at compile time (1 to
// max_unrolled_pair_size; longer pairs take the general loop). A pair has 1 to ~24 monomials (Mo.json: 3.9
// on average), so a data-dependent inner loop mispredicts its exit at nearly every pair; this order and the
// fixed trip counts remove that (docs/design-notes.md 16).
//
// The loops run over W centres of one species at once (evaluate_lanes<W>, densities interleaved
// [n_density][W]): the index loads, the coefficient and the loop control of a monomial are then shared
// by W centres, and each multiply-add is one vector instruction. This is what made the polynomial fast
// (docs/design-notes.md 16); evaluate() is the same code with W = 1.
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
    // coefficients: [n_species][n_features], w_q for centres of each species (eV per unit of B_q)
    EnergyPolynomial(const CouplingSet& couplings, int n_species, const double* coefficients)
        : n_species_(n_species), n_density_(couplings.n_density()) {
        if (n_species < 1) throw std::invalid_argument("energy polynomial: n_species must be >= 1");
        const int n_features = couplings.n_features();
        for (size_t i = 0; i < static_cast<size_t>(n_species) * n_features; ++i)
            if (!std::isfinite(coefficients[i])) throw std::invalid_argument("energy polynomial: non-finite coefficient");
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
                    coefficient[s] += coefficients[static_cast<size_t>(s) * n_features + q] * couplings.coefficient(t);
            }
        }
        factor_offsets_.push_back(0);
        std::vector<std::vector<double>> kept;
        size_t max_degree = 0;
        for (const auto& entry : merged) max_degree = std::max(max_degree, entry.first.size());
        degree_offsets_.assign(std::max<size_t>(max_degree, 1) + 2, 0);  // degree 1 always has a (maybe empty) range
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
        if (max_degree >= 3) build_cubic_pairs();
    }

    int n_monomials() const { return static_cast<int>(factor_offsets_.size()) - 1; }
    int n_density() const { return n_density_; }

    // Energy of a centre of `species` (eV, without E0) and its adjoint g_a = ∂E/∂A_a, adjoint: [n_density].
    double evaluate(int species, const double* density, double* adjoint) const {
        double energy;
        evaluate_lanes<1>(species, density, adjoint, &energy);
        return energy;
    }

    // The same for W centres of one species at once, lane-interleaved: lane w holds centre w. Every
    // monomial then costs the same few instructions for W centres as for one (docs/design-notes.md 16).
    // density, adjoint: [n_density][W]; energies: [W] (eV, without E0)
    template <int W>
    void evaluate_lanes(int species, const double* density, double* adjoint, double* energies) const {
        const int n_monomials = this->n_monomials();
        const double* coefficient = coefficients_.data() + static_cast<size_t>(species) * n_monomials;  // may be empty
        auto at = [](const double* values, int a) { return values + static_cast<size_t>(a) * W; };
        auto at_mutable = [](double* values, int a) { return values + static_cast<size_t>(a) * W; };
        for (size_t i = 0; i < static_cast<size_t>(n_density_) * W; ++i) adjoint[i] = 0.0;
        alignas(64) double energy[W] = {};
        const int max_degree = static_cast<int>(degree_offsets_.size()) - 2;
        for (int m = degree_begin(1); m < degree_end(1); ++m) {
            const double c = coefficient[m];
            const double* x = at(density, factors_[factor_offsets_[m]]);
            double* g = at_mutable(adjoint, factors_[factor_offsets_[m]]);
#pragma omp simd
            for (int w = 0; w < W; ++w) {
                energy[w] += c * x[w];
                g[w] += c;
            }
        }
        if (max_degree >= 2) {
            for (int m = degree_begin(2); m < degree_end(2); ++m) {
                const double c = coefficient[m];
                const int* f = &factors_[factor_offsets_[m]];
                const double *xa = at(density, f[0]), *xb = at(density, f[1]);
                double *ga = at_mutable(adjoint, f[0]), *gb = at_mutable(adjoint, f[1]);
#pragma omp simd
                for (int w = 0; w < W; ++w) {
                    energy[w] += c * xa[w] * xb[w];
                    ga[w] += c * xb[w];
                    gb[w] += c * xa[w];
                }
            }
        }
        if (max_degree >= 3) {
            const double* cubic = coefficient + degree_begin(3);
            // runs of pairs sharing their first factor a: ∂E/∂A_a and the energy are summed in registers
            // over the run (E_run = A_a Σ_b A_b S_ab = A_a g_a,run), so no store-to-load chain on adjoint[a]
            for (size_t run = 0; run + 1 < run_offsets_.size(); ++run) {
                // a local copy of A_a: the compiler then knows that the adjoint stores leave it alone
                alignas(64) double xa[W], run_adjoint[W] = {};
                std::copy_n(at(density, run_first_[run]), W, xa);
                for (int group = run_group_offsets_[run]; group < run_group_offsets_[run + 1]; ++group) {
                    const int begin = group_pair_offsets_[group], end = group_pair_offsets_[group + 1];
                    static_assert(max_unrolled_pair_size == 8, "the cases below must match max_unrolled_pair_size");
                    switch (pair_offsets_[begin + 1] - pair_offsets_[begin]) {
                        case 1: cubic_pairs<W, 1>(begin, end, cubic, density, adjoint, xa, run_adjoint); break;
                        case 2: cubic_pairs<W, 2>(begin, end, cubic, density, adjoint, xa, run_adjoint); break;
                        case 3: cubic_pairs<W, 3>(begin, end, cubic, density, adjoint, xa, run_adjoint); break;
                        case 4: cubic_pairs<W, 4>(begin, end, cubic, density, adjoint, xa, run_adjoint); break;
                        case 5: cubic_pairs<W, 5>(begin, end, cubic, density, adjoint, xa, run_adjoint); break;
                        case 6: cubic_pairs<W, 6>(begin, end, cubic, density, adjoint, xa, run_adjoint); break;
                        case 7: cubic_pairs<W, 7>(begin, end, cubic, density, adjoint, xa, run_adjoint); break;
                        case 8: cubic_pairs<W, 8>(begin, end, cubic, density, adjoint, xa, run_adjoint); break;
                        default: cubic_pairs<W, 0>(begin, end, cubic, density, adjoint, xa, run_adjoint);
                    }
                }
                double* ga = at_mutable(adjoint, run_first_[run]);
#pragma omp simd
                for (int w = 0; w < W; ++w) {
                    energy[w] += xa[w] * run_adjoint[w];
                    ga[w] += run_adjoint[w];
                }
            }
        }
        if (max_degree >= 4) {
            for (int m = degree_begin(4); m < degree_end(4); ++m) {
                const int* f = &factors_[factor_offsets_[m]];
                const double c = coefficient[m];
                const double *xa = at(density, f[0]), *xb = at(density, f[1]), *xd = at(density, f[2]),
                             *xe = at(density, f[3]);
                double *ga = at_mutable(adjoint, f[0]), *gb = at_mutable(adjoint, f[1]), *gd = at_mutable(adjoint, f[2]),
                       *ge = at_mutable(adjoint, f[3]);
#pragma omp simd
                for (int w = 0; w < W; ++w) {
                    const double ab = c * xa[w] * xb[w], de = xd[w] * xe[w];
                    energy[w] += ab * de;
                    ga[w] += c * xb[w] * de;
                    gb[w] += c * xa[w] * de;
                    gd[w] += ab * xe[w];
                    ge[w] += ab * xd[w];
                }
            }
        }
        for (int m = max_degree >= 5 ? degree_begin(5) : n_monomials; m < n_monomials; ++m) {
            const double c = coefficient[m];
            if (c == 0.0) continue;  // a monomial of another species only (kept when any species uses it)
            const int begin = factor_offsets_[m], end = factor_offsets_[m + 1];
            for (int f = begin; f < end; ++f) {
                alignas(64) double partial[W];  // c Π_{g ≠ f} A_g per lane
#pragma omp simd
                for (int w = 0; w < W; ++w) partial[w] = c;
                for (int g = begin; g < end; ++g) {
                    if (g == f) continue;
                    const double* x = at(density, factors_[g]);
#pragma omp simd
                    for (int w = 0; w < W; ++w) partial[w] *= x[w];
                }
                double* out = at_mutable(adjoint, factors_[f]);
                const double* x = at(density, factors_[f]);
#pragma omp simd
                for (int w = 0; w < W; ++w) out[w] += partial[w];
                if (f == begin) {
#pragma omp simd
                    for (int w = 0; w < W; ++w) energy[w] += partial[w] * x[w];
                }
            }
        }
        for (int w = 0; w < W; ++w) energies[w] = energy[w];
    }

private:
    // Pairs with up to this many monomials run with a compile-time trip count (see the header comment).
    static constexpr int max_unrolled_pair_size = 8;

    // The pairs [pair_begin, pair_end) of one group, each with `size` monomials (0: read each pair's own
    // count): S_ab, the scatter of C_abc P_ab into g_c, g_b += A_a S_ab and the run's g_a += A_b S_ab.
    // density, adjoint: [n_density][W]; xa, run_adjoint: [W]
    template <int W, int size>
    void cubic_pairs(int pair_begin, int pair_end, const double* cubic, const double* density, double* adjoint,
                     const double* xa, double* run_adjoint) const {
        auto at = [](const double* values, int a) { return values + static_cast<size_t>(a) * W; };
        auto at_mutable = [](double* values, int a) { return values + static_cast<size_t>(a) * W; };
        for (int p = pair_begin; p < pair_end; ++p) {
            // a local copy of A_b: the compiler then knows that the adjoint stores leave it alone
            alignas(64) double xb[W], ab[W], sum[W] = {};  // A_b, P_ab and S_ab per lane
            std::copy_n(at(density, pair_b_[p]), W, xb);
#pragma omp simd
            for (int w = 0; w < W; ++w) ab[w] = xa[w] * xb[w];
            const int k_begin = pair_offsets_[p], k_end = size > 0 ? k_begin + size : pair_offsets_[p + 1];
            for (int k = k_begin; k < k_end; ++k) {
                const double c = cubic[k];
                const double* xc = at(density, cubic_last_[k]);
                double* gc = at_mutable(adjoint, cubic_last_[k]);
#pragma omp simd
                for (int w = 0; w < W; ++w) {
                    sum[w] += c * xc[w];
                    gc[w] += c * ab[w];
                }
            }
            double* gb = at_mutable(adjoint, pair_b_[p]);
#pragma omp simd
            for (int w = 0; w < W; ++w) {
                run_adjoint[w] += xb[w] * sum[w];
                gb[w] += xa[w] * sum[w];
            }
        }
    }

    // Pair structure of the degree-3 block (see the header comment). The degree-3 monomials arrive in
    // lexicographic order; they are reordered here so that within each run of equal a the pairs are sorted
    // by their number of monomials, most first (b, c ascending among equals).
    void build_cubic_pairs() {
        const int first = degree_begin(3), count = degree_end(3) - first;
        order_cubic_pairs_by_size(first, count);
        std::vector<int> pair_a;  // shape [n_cubic_pairs], first factor of each pair
        pair_offsets_.assign(1, 0);
        cubic_last_.resize(count);
        for (int m = 0; m < count; ++m) {
            const int* f = &factors_[factor_offsets_[first + m]];
            if (pair_a.empty() || pair_a.back() != f[0] || pair_b_.back() != f[1]) {
                if (!pair_a.empty()) pair_offsets_.push_back(m);
                pair_a.push_back(f[0]);
                pair_b_.push_back(f[1]);
            }
            cubic_last_[m] = f[2];
        }
        pair_offsets_.push_back(count);
        run_offsets_.assign(1, 0);
        for (size_t p = 0; p < pair_a.size(); ++p) {
            if (p > 0 && pair_a[p] != pair_a[p - 1]) run_offsets_.push_back(static_cast<int>(p));
            if (p == 0 || pair_a[p] != pair_a[p - 1]) run_first_.push_back(pair_a[p]);
        }
        if (!pair_a.empty()) run_offsets_.push_back(static_cast<int>(pair_a.size()));
        // groups: consecutive pairs of a run with the same size (pairs longer than max_unrolled_pair_size
        // each form their own group; they take the general loop)
        run_group_offsets_.assign(1, 0);
        for (size_t run = 0; run + 1 < run_offsets_.size(); ++run) {
            for (int p = run_offsets_[run]; p < run_offsets_[run + 1]; ++p) {
                const int size = pair_offsets_[p + 1] - pair_offsets_[p];
                if (p == run_offsets_[run] || size > max_unrolled_pair_size ||
                    size != pair_offsets_[p] - pair_offsets_[p - 1])
                    group_pair_offsets_.push_back(p);
            }
            run_group_offsets_.push_back(static_cast<int>(group_pair_offsets_.size()));
        }
        group_pair_offsets_.push_back(static_cast<int>(pair_a.size()));
    }

    // Reorders the degree-3 monomials [first, first + count) (in lexicographic order on entry) to
    // (a, size of the pair (a, b) descending, b, c), moving their factors and coefficients with them.
    void order_cubic_pairs_by_size(int first, int count) {
        auto factors_of = [&](int m) { return &factors_[factor_offsets_[first + m]]; };
        std::vector<int> pair_size(count);  // shape [n_cubic], size of the pair each monomial belongs to
        for (int m = 0; m < count;) {
            int end = m;
            while (end < count && factors_of(end)[0] == factors_of(m)[0] && factors_of(end)[1] == factors_of(m)[1]) ++end;
            std::fill(pair_size.begin() + m, pair_size.begin() + end, end - m);
            m = end;
        }
        std::vector<int> order(count);  // shape [n_cubic], new position -> old position
        for (int m = 0; m < count; ++m) order[m] = m;
        std::stable_sort(order.begin(), order.end(), [&](int x, int y) {
            if (factors_of(x)[0] != factors_of(y)[0]) return factors_of(x)[0] < factors_of(y)[0];
            return pair_size[x] > pair_size[y];
        });
        const std::vector<int> old_factors(factors_);
        const std::vector<double> old_coefficients(coefficients_);
        const int n_monomials = this->n_monomials();
        for (int m = 0; m < count; ++m) {
            std::copy_n(&old_factors[factor_offsets_[first + order[m]]], 3, &factors_[factor_offsets_[first + m]]);
            for (int s = 0; s < n_species_; ++s)
                coefficients_[static_cast<size_t>(s) * n_monomials + first + m] =
                    old_coefficients[static_cast<size_t>(s) * n_monomials + first + order[m]];
        }
    }

    int degree_begin(int degree) const { return degree_offsets_[degree]; }
    int degree_end(int degree) const { return degree_offsets_[degree + 1]; }

    int n_species_;
    int n_density_;
    std::vector<int> degree_offsets_;   // shape [max_degree+2], monomials of degree d: [offsets[d], offsets[d+1])
    std::vector<int> factor_offsets_;   // shape [n_monomials+1]
    std::vector<int> factors_;          // shape [n_factor_slots], sorted within each monomial
    std::vector<double> coefficients_;  // shape [n_species][n_monomials], C_m(species) in eV
    // degree-3 block: pairs (a, b) and the last factor c of each cubic monomial (in monomial order)
    std::vector<int> pair_b_;                   // shape [n_cubic_pairs]
    std::vector<int> pair_offsets_;             // shape [n_cubic_pairs+1], cubic monomials of each pair
    std::vector<int> run_offsets_;              // shape [n_runs+1], pairs sharing their first factor a
    std::vector<int> run_first_;                // shape [n_runs], that a
    std::vector<int> run_group_offsets_;        // shape [n_runs+1], groups of each run
    std::vector<int> group_pair_offsets_;       // shape [n_groups+1], pairs of each group (same size)
    std::vector<int> cubic_last_;               // shape [n_cubic], c
};

}  // namespace lepot
