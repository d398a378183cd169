// Per-atom descriptors B_q(i) and their analytic gradients.
//
// compute_atom() takes one centre's neighbours as LAMMPS-style per-atom data (vectors r_ij = r_j - r_i
// and species indices) and writes
//   features[q]                 = B_q(i)
//   gradients[pair_rows[p]]    += ∂B_q(i)/∂r_j     for the neighbour atom j of pair p   shape [3][n_features]
//   gradients[centre_row]      -= Σ_p ∂B_q(i)/∂r_ij  (translation invariance: ∂/∂r_i = -Σ_j ∂/∂r_ij)
//   strain[α][β][q]            += Σ_p ∂B_q(i)/∂r_ij,α r_ij,β   (∂B_q(i)/∂ε_αβ for r -> (1 + ε) r)
// Several pairs may share one gradient row (periodic images of the same atom); a self-image pair
// (j = i) adds and subtracts the same row, as it must, since r_ii' does not depend on r_i.
//
// Gradient algorithm. ∂B_q/∂r_ij,α = Σ_a G_qa u_{k_a n_a}(a_j) ∂(R Y)_{nlm_a}/∂r_ij,α with G_qa = ∂B_q/∂A_a,
// computed once per centre by summing the factor-slot partial products D_f = ∂(term t)/∂A[factor f] into
// the unique (q, a) entries of G (high body orders have many slots per entry). The neighbours are sorted by species
// into blocks of `pair_block` pairs (the last block of a species padded with pairs beyond the cutoff,
// which contribute exactly zero), so the embedding weight u is constant over a block; for each species
// the factor slots with u != 0 are precomputed, grouped by feature, weight folded in. For each block,
// ∂(R Y) of its pairs goes into a small buffer, each feature's gradient for the block's pairs is
// accumulated in registers over its slots, and is written straight to the output rows, the centre row
// and the strain. Cost: about n_factor_slots x 3 x n_neigh multiply-adds per centre.
#pragma once

#include <algorithm>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

#include "couplings.hpp"
#include "density_expansion.hpp"

namespace lepot {

constexpr int pair_block = 8;

struct DescriptorWorkspace {
    DensityWorkspace density;
    std::vector<int> order;                // shape [n_neigh], original pair index in species-sorted order
    std::vector<int> cursor;               // shape [n_species], counting-sort fill positions
    std::vector<int> species_offsets;      // shape [n_species+1], sorted pairs of species s: [offsets[s], offsets[s+1])
    std::vector<double> block_vectors;     // shape [pair_block][3], r_ij of the current block (padding: beyond cutoff)
    std::vector<double> block_gradients;   // shape [n_nlm][3][pair_block], ∂(R Y)_{nlm}/∂r_ij,α of the block
    std::vector<double> slot_derivatives;  // shape [n_factor_slots], ∂(term)/∂A[factor]
    std::vector<double> entry_values;      // shape [n_entries], G_qa
};

class DescriptorKernel {
public:
    DescriptorKernel(DensityExpansion expansion, CouplingSet couplings)
        : expansion_(std::move(expansion)), couplings_(std::move(couplings)) {
        if (couplings_.n_density() != expansion_.n_density())
            throw std::invalid_argument("descriptor kernel: couplings index " + std::to_string(couplings_.n_density()) +
                                        " density coefficients but the expansion has " +
                                        std::to_string(expansion_.n_density()));
        build_species_slots();
    }

    const DensityExpansion& expansion() const { return expansion_; }
    const CouplingSet& couplings() const { return couplings_; }
    int n_features() const { return couplings_.n_features(); }

    // neighbour_vectors: [n_neigh][3] (Å); neighbour_species: [n_neigh]; features: [n_features]
    // gradients: base of [n_samples][3][n_features] or nullptr; pair_rows: [n_neigh] rows into it
    // strain: [3][3][n_features] or nullptr. Gradient outputs are accumulated into, never cleared.
    template <bool with_gradients>
    void compute_atom(int n_neigh, const double* neighbour_vectors, const int* neighbour_species,
                      DescriptorWorkspace& ws, double* features, double* gradients, const int64_t* pair_rows,
                      int64_t centre_row, double* strain) const {
        expansion_.expand(n_neigh, neighbour_vectors, neighbour_species, ws.density);
        couplings_.evaluate(ws.density.density.data(), features);
        if (!with_gradients) return;
        ws.slot_derivatives.resize(couplings_.n_factor_slots());
        couplings_.partial_derivatives(ws.density.density.data(), ws.slot_derivatives.data());
        ws.entry_values.assign(n_entries_, 0.0);
        for (size_t f = 0; f < slot_entry_.size(); ++f) ws.entry_values[slot_entry_[f]] += ws.slot_derivatives[f];
        sort_by_species(n_neigh, neighbour_species, ws);
        ws.block_vectors.resize(3 * pair_block);
        ws.block_gradients.resize(static_cast<size_t>(expansion_.layout().n_nlm()) * 3 * pair_block);
        double* centre = gradients ? gradients + centre_row * 3 * n_features() : nullptr;
        for (int s = 0; s < expansion_.n_species(); ++s) {
            for (int begin = ws.species_offsets[s]; begin < ws.species_offsets[s + 1]; begin += pair_block) {
                const int count = std::min(pair_block, ws.species_offsets[s + 1] - begin);
                for (int i = 0; i < pair_block; ++i)
                    for (int alpha = 0; alpha < 3; ++alpha)
                        ws.block_vectors[3 * i + alpha] =
                            i < count ? neighbour_vectors[3 * ws.order[begin + i] + alpha]
                                      : (alpha == 0 ? 2.0 * expansion_.cutoff() : 0.0);
                expansion_.gradient_block(pair_block, ws.block_vectors.data(), pair_block, ws.density,
                                          ws.block_gradients.data());
                double* rows[pair_block];
                for (int i = 0; i < pair_block; ++i)
                    rows[i] = gradients && i < count ? gradients + pair_rows[ws.order[begin + i]] * 3 * n_features()
                                                     : nullptr;
                block_contribution(s, count, ws, rows, centre, strain);
            }
        }
    }

private:
    // The unique (q, a) entries of G = ∂B/∂A and, for each species s and feature q, the entries with
    // u_{k_a n_a}(s) != 0, their weight and the row 3 nlm_a of ∂(R Y)_{nlm_a} in the block buffer.
    void build_species_slots() {
        const int n_species = expansion_.n_species(), n_features = couplings_.n_features();
        const DensityLayout& layout = expansion_.layout();
        const int n_nlm = layout.n_nlm();
        std::vector<int> radial_of_nlm(n_nlm);  // n of every nlm channel
        for (int l = 0; l <= layout.l_max(); ++l)
            for (int n = 0; n < layout.n_radial(l); ++n)
                for (int mm = 0; mm < 2 * l + 1; ++mm) radial_of_nlm[layout.nlm_offset(l) + n * (2 * l + 1) + mm] = n;
        slot_entry_.assign(couplings_.n_factor_slots(), 0);
        std::vector<int> entry_density;                    // shape [n_entries], a
        std::vector<int> feature_entry_offsets(n_features + 1, 0);
        std::vector<int> entry_of_density(couplings_.n_density(), -1);  // per-feature scratch
        for (int q = 0; q < n_features; ++q) {
            const int first = static_cast<int>(entry_density.size());
            for (int t = couplings_.feature_term_begin(q); t < couplings_.feature_term_end(q); ++t) {
                for (int f = couplings_.term_factor_begin(t); f < couplings_.term_factor_end(t); ++f) {
                    const int a = couplings_.factor(f);
                    if (entry_of_density[a] < first) {
                        entry_of_density[a] = static_cast<int>(entry_density.size());
                        entry_density.push_back(a);
                    }
                    slot_entry_[f] = entry_of_density[a];
                }
            }
            feature_entry_offsets[q + 1] = static_cast<int>(entry_density.size());
        }
        n_entries_ = static_cast<int>(entry_density.size());
        slot_offsets_.assign(static_cast<size_t>(n_species) * n_features + 1, 0);
        for (int s = 0; s < n_species; ++s) {
            for (int q = 0; q < n_features; ++q) {
                for (int e = feature_entry_offsets[q]; e < feature_entry_offsets[q + 1]; ++e) {
                    const int a = entry_density[e];
                    const int nlm = a % n_nlm;
                    const double w = expansion_.embedding(s, a / n_nlm, radial_of_nlm[nlm]);
                    if (w == 0.0) continue;
                    slot_index_.push_back(e);
                    slot_weight_.push_back(w);
                    slot_row_.push_back(3 * nlm);
                }
                slot_offsets_[static_cast<size_t>(s) * n_features + q + 1] = static_cast<int>(slot_index_.size());
            }
        }
    }

    // Counting sort of the pairs by species: ws.order and ws.species_offsets.
    void sort_by_species(int n_neigh, const int* species, DescriptorWorkspace& ws) const {
        const int n_species = expansion_.n_species();
        ws.species_offsets.assign(n_species + 1, 0);
        for (int p = 0; p < n_neigh; ++p) ws.species_offsets[species[p] + 1] += 1;
        for (int s = 0; s < n_species; ++s) ws.species_offsets[s + 1] += ws.species_offsets[s];
        ws.order.resize(n_neigh);
        ws.cursor.assign(ws.species_offsets.begin(), ws.species_offsets.end() - 1);
        for (int p = 0; p < n_neigh; ++p) ws.order[ws.cursor[species[p]]++] = p;
    }

    // Gradients of all features for one block of pairs of species s (the first `count` are real).
    // rows: [pair_block] output rows [3][n_features] of the pairs (nullptr: not wanted / padding)
    void block_contribution(int s, int count, const DescriptorWorkspace& ws, double* const* rows, double* centre,
                            double* strain) const {
        const int n_features = couplings_.n_features();
        const int* offsets = &slot_offsets_[static_cast<size_t>(s) * n_features];
        const double* derivative = ws.entry_values.data();
        const double* dry = ws.block_gradients.data();
        const double* v = ws.block_vectors.data();
        for (int q = 0; q < n_features; ++q) {
            double acc[3][pair_block] = {};
            for (int e = offsets[q]; e < offsets[q + 1]; ++e) {
                const double g = slot_weight_[e] * derivative[slot_index_[e]];
                const double* d = dry + static_cast<size_t>(slot_row_[e]) * pair_block;
                for (int alpha = 0; alpha < 3; ++alpha)
                    for (int i = 0; i < pair_block; ++i) acc[alpha][i] += g * d[alpha * pair_block + i];
            }
            for (int i = 0; i < count; ++i)
                if (rows[i])
                    for (int alpha = 0; alpha < 3; ++alpha) rows[i][alpha * n_features + q] += acc[alpha][i];
            if (centre) {
                for (int alpha = 0; alpha < 3; ++alpha) {
                    double sum = 0.0;
                    for (int i = 0; i < pair_block; ++i) sum += acc[alpha][i];
                    centre[alpha * n_features + q] -= sum;
                }
            }
            if (strain) {
                for (int alpha = 0; alpha < 3; ++alpha)
                    for (int beta = 0; beta < 3; ++beta) {
                        double sum = 0.0;
                        for (int i = 0; i < pair_block; ++i) sum += acc[alpha][i] * v[3 * i + beta];
                        strain[(3 * alpha + beta) * n_features + q] += sum;
                    }
            }
        }
    }

    DensityExpansion expansion_;
    CouplingSet couplings_;
    int n_entries_ = 0;                // unique (q, a) entries of G = ∂B/∂A
    std::vector<int> slot_entry_;      // shape [n_factor_slots], the G entry each factor slot adds to
    std::vector<int> slot_offsets_;    // shape [n_species * n_features + 1], CSR into the species lists
    std::vector<int> slot_index_;      // shape [n_species_entries], G entry e
    std::vector<double> slot_weight_;  // shape [n_species_entries], u_{k_a n_a}(s)
    std::vector<int> slot_row_;        // shape [n_species_entries], 3 nlm_a: row of ∂(R Y)_{nlm_a} in the block
};

}  // namespace lepot
