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
// Gradient algorithm: two paths, chosen per feature when the kernel is built from the coupling list.
//
// (1) Factorised path, for features of body order <= 2 (B = c A_{c1,00}, or B = c Σ_m A_{c1,m} A_{c2,m}
// with c1, c2 radial channels (k, n, l) of equal l). With ∂A_{c,m}/∂r_ij = u_{kn}(a_j) (R'_nl r̂ Y_lm +
// R_nl ∇Y_lm), the m-sum factorises into per-pair channel projections P_c = Σ_m A_{c,m} Y_lm and
// Q_c = Σ_m A_{c,m} ∇Y_lm (4 n_density multiply-adds per pair), after which every feature costs a fixed
// handful of operations per pair:
//   ∂B/∂r_ij = c [ r̂ (uR'_{c1} P_{c2} + uR'_{c2} P_{c1}) + uR_{c1} Q_{c2} + uR_{c2} Q_{c1} ],
// with uR_c = u_{kn}(a_j) R_nl(r_ij). A ν = 1 feature uses c2 = a constant channel (P = Y_00, Q = 0,
// uR = uR' = 0).
//
// (2) Generic path, for every other feature (ν >= 3): ∂B_q/∂r_ij,α = Σ_a G_qa u_{k_a n_a}(a_j)
// ∂(R Y)_{nlm_a}/∂r_ij,α with G_qa = ∂B_q/∂A_a, computed once per centre by summing the factor-slot
// partial products D_f = ∂(term t)/∂A[factor f] into the unique (q, a) entries of G (high body orders
// have many slots per entry). The blocks of `pair_block` pairs are the density cache's species runs (padded
// with zero-weight slots, density_expansion.hpp), so the embedding weight u is constant over a block; for
// each species the entries with u != 0 are precomputed, grouped by feature, weight folded in. For each
// block, ∂(R Y) of its pairs is formed from the cached R, R', Y, ∇Y into a small buffer, each
// feature's gradient for the block's pairs is accumulated in registers over its entries, and is written
// straight to the output rows, the centre row and the strain.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

#include "couplings.hpp"
#include "density_contraction.hpp"
#include "density_expansion.hpp"

namespace lepot {

constexpr int pair_block = simd_block;  // the density cache's species runs

struct DescriptorWorkspace {
    DensityWorkspace density;
    // factorised path (body order <= 2); n_channels = n_pseudo * n_radial_functions, plus one constant channel
    std::vector<double> channel_projection;       // shape [n_channels+1], P_c = Σ_m A_{c,m} Y_lm
    std::vector<double> channel_projection_grad;  // shape [3][n_channels+1], Q_c,α = Σ_m A_{c,m} ∂_α Y_lm
    std::vector<double> channel_radial;           // shape [n_channels+1], u_{kn}(a_j) R_nl
    std::vector<double> channel_radial_deriv;     // shape [n_channels+1], u_{kn}(a_j) dR_nl/dr
    // generic path (body order >= 3)
    std::vector<double> block_vectors;     // shape [pair_block][3], r_ij of the current block (padding: 0)
    std::vector<double> block_gradients;   // shape [n_nlm][3][pair_block], ∂(R Y)_{nlm}/∂r_ij,α of the block
    std::vector<double> extended;          // shape [n_density + n_contracted], [A ; Ã] (with a contraction)
    std::vector<double> slot_derivatives;  // shape [n_factor_slots], ∂(term)/∂A[factor]
    std::vector<double> entry_values;      // shape [n_entries], G_qa
};

class DescriptorKernel {
public:
    // contraction: the tensor-reduced channels the couplings may also index (none by default)
    DescriptorKernel(DensityExpansion expansion, CouplingSet couplings,
                     DensityContraction contraction = DensityContraction())
        : expansion_(std::move(expansion)), couplings_(std::move(couplings)), contraction_(std::move(contraction)) {
        if (couplings_.n_density() != contraction_.n_extended(expansion_.n_density()))
            throw std::invalid_argument("descriptor kernel: couplings index " + std::to_string(couplings_.n_density()) +
                                        " density coefficients but the expansion (with its contraction) has " +
                                        std::to_string(contraction_.n_extended(expansion_.n_density())));
        build_channels();
        classify_features();
        build_species_slots();
    }

    const DensityExpansion& expansion() const { return expansion_; }
    const CouplingSet& couplings() const { return couplings_; }
    int n_features() const { return couplings_.n_features(); }
    // Features whose gradients take the factorised (body order <= 2) path.
    int n_factorised_features() const { return static_cast<int>(factorised_feature_.size()); }

    // centre_species: species index of the centre; neighbour_vectors: [n_neigh][3] (Å); neighbour_species:
    // [n_neigh]; features: [n_features]
    // gradients: base of [n_samples][3][n_features] or nullptr; pair_rows: [n_neigh] rows into it
    // strain: [3][3][n_features] or nullptr. Gradient outputs are accumulated into, never cleared.
    template <bool with_gradients>
    void compute_atom(int centre_species, int n_neigh, const double* neighbour_vectors, const int* neighbour_species,
                      DescriptorWorkspace& ws, double* features, double* gradients, const int64_t* pair_rows,
                      int64_t centre_row, double* strain) const {
        if (!with_gradients) {
            expansion_.expand(centre_species, n_neigh, neighbour_vectors, neighbour_species, ws.density);
            couplings_.evaluate(extended_density(ws), features);
            return;
        }
        expansion_.expand_with_pair_cache(centre_species, n_neigh, neighbour_vectors, neighbour_species, ws.density);
        const double* density = extended_density(ws);
        couplings_.evaluate(density, features);
        double* centre = gradients ? gradients + centre_row * 3 * n_features() : nullptr;
        if (!factorised_feature_.empty()) {
            expansion_.pair_major_cache(ws.density);
            prepare_channel_buffers(ws);
            for (int p = 0; p < n_neigh; ++p) {
                if (ws.density.inside_index[p] < 0) continue;
                double* row = gradients ? gradients + pair_rows[p] * 3 * n_features() : nullptr;
                factorised_pair_contribution(p, neighbour_vectors + 3 * p, neighbour_species[p], ws, row, centre,
                                             strain);
            }
        }
        if (generic_feature_.empty()) return;
        ws.slot_derivatives.resize(couplings_.n_factor_slots());
        couplings_.partial_derivatives(density, ws.slot_derivatives.data());
        ws.entry_values.assign(n_entries_, 0.0);
        for (size_t f = 0; f < slot_entry_.size(); ++f)
            if (slot_entry_[f] >= 0) ws.entry_values[slot_entry_[f]] += ws.slot_derivatives[f];
        ws.block_vectors.resize(3 * pair_block);
        ws.block_gradients.resize(static_cast<size_t>(expansion_.layout().n_nlm()) * 3 * pair_block);
        const DensityWorkspace& cache = ws.density;  // inside pairs in species runs padded to pair_block
        for (int s = 0; s < expansion_.n_species(); ++s) {
            for (int begin = cache.species_begin[s]; begin < cache.species_begin[s + 1]; begin += pair_block) {
                int count = 0;  // real pairs come first in a run, padding last
                while (count < pair_block && cache.inside_pair[begin + count] >= 0) ++count;
                for (int i = 0; i < pair_block; ++i)
                    for (int alpha = 0; alpha < 3; ++alpha)
                        ws.block_vectors[3 * i + alpha] =
                            i < count ? neighbour_vectors[3 * cache.inside_pair[begin + i] + alpha] : 0.0;
                expansion_.cached_gradient_block(begin, cache, ws.block_gradients.data());
                double* rows[pair_block];
                for (int i = 0; i < pair_block; ++i)
                    rows[i] = gradients && i < count
                                  ? gradients + pair_rows[cache.inside_pair[begin + i]] * 3 * n_features()
                                  : nullptr;
                generic_block_contribution(s, count, ws, rows, centre, strain);
            }
        }
    }

private:
    // The vector the couplings index: A, or [A ; Ã] with a contraction (then in ws.extended).
    const double* extended_density(DescriptorWorkspace& ws) const {
        if (!contraction_.enabled()) return ws.density.density.data();
        ws.extended.resize(couplings_.n_density());
        contraction_.forward(ws.density.density.data(), ws.extended.data());
        return ws.extended.data();
    }

    // Radial channels c = k n_radial_functions + radial_offset(l) + n, and the channel and m of every density index.
    void build_channels() {
        const DensityLayout& layout = expansion_.layout();
        const int n_radial = layout.n_radial_functions(), n_nlm = layout.n_nlm();
        n_channels_ = expansion_.n_pseudo() * n_radial;
        channel_start_.resize(n_channels_);
        channel_l_.resize(n_channels_);
        channel_pseudo_.resize(n_channels_);
        channel_n_.resize(n_channels_);
        channel_radial_index_.resize(n_channels_);
        channel_of_density_.resize(expansion_.n_density());
        m_of_density_.resize(expansion_.n_density());
        for (int k = 0; k < expansion_.n_pseudo(); ++k)
            for (int l = 0; l <= layout.l_max(); ++l)
                for (int n = 0; n < layout.n_radial(l); ++n) {
                    const int c = k * n_radial + layout.radial_offset(l) + n;
                    channel_start_[c] = k * n_nlm + layout.nlm_offset(l) + n * (2 * l + 1);
                    channel_l_[c] = l;
                    channel_pseudo_[c] = k;
                    channel_n_[c] = n;
                    channel_radial_index_[c] = layout.radial_offset(l) + n;
                    for (int mm = 0; mm < 2 * l + 1; ++mm) {
                        channel_of_density_[channel_start_[c] + mm] = c;
                        m_of_density_[channel_start_[c] + mm] = mm;
                    }
                }
    }

    // A feature takes the factorised path if its terms are exactly c A_{c1,00} (one term, one factor,
    // l = 0) or exactly {c A_{c1,m} A_{c2,m} : m = 0..2l} (equal coefficients, equal l, every m once).
    void classify_features() {
        const int n_features = couplings_.n_features();
        for (int q = 0; q < n_features; ++q) {
            const int first = couplings_.feature_term_begin(q), last = couplings_.feature_term_end(q);
            int c1 = -1, c2 = -1;
            const double coefficient = last > first ? couplings_.coefficient(first) : 0.0;
            bool factorised = last > first;
            for (int t = first; factorised && t < last; ++t)  // products of contracted channels: generic path
                for (int f = couplings_.term_factor_begin(t); f < couplings_.term_factor_end(t); ++f)
                    if (couplings_.factor(f) >= expansion_.n_density()) factorised = false;
            if (factorised && last - first == 1 &&
                couplings_.term_factor_end(first) - couplings_.term_factor_begin(first) == 1) {
                c1 = channel_of_density_[couplings_.factor(couplings_.term_factor_begin(first))];
                c2 = n_channels_;
                factorised = channel_l_[c1] == 0;
            } else if (factorised) {
                const int f0 = couplings_.term_factor_begin(first);
                c1 = channel_of_density_[couplings_.factor(f0)];
                c2 = channel_of_density_[couplings_.factor(f0 + 1)];
                const int width = 2 * channel_l_[c1] + 1;
                std::vector<char> seen(width, 0);
                factorised = channel_l_[c1] == channel_l_[c2] && last - first == width;
                for (int t = first; factorised && t < last; ++t) {
                    const int f = couplings_.term_factor_begin(t);
                    if (couplings_.term_factor_end(t) - f != 2 || couplings_.coefficient(t) != coefficient) {
                        factorised = false;
                        break;
                    }
                    const int a1 = couplings_.factor(f), a2 = couplings_.factor(f + 1);
                    const int mm = m_of_density_[a1];
                    // mm < width only once a1 is known to lie in channel c1
                    factorised = channel_of_density_[a1] == c1 && channel_of_density_[a2] == c2 &&
                                 m_of_density_[a2] == mm && !seen[mm];
                    if (factorised) seen[mm] = 1;
                }
            }
            if (factorised) {
                factorised_feature_.push_back(q);
                factorised_channels_.push_back(c1);
                factorised_channels_.push_back(c2);
                factorised_coefficient_.push_back(coefficient);
            } else {
                generic_feature_.push_back(q);
            }
        }
    }

    // The unique (q, a) entries of G = ∂B/∂A of the generic features and, for each species s and generic
    // feature, the entries with u_{k_a n_a}(s) != 0, their weight and the row 3 nlm_a of ∂(R Y)_{nlm_a} in
    // the block buffer. Factor slots of factorised features map to no entry (-1).
    void build_species_slots() {
        const int n_species = expansion_.n_species(), n_generic = static_cast<int>(generic_feature_.size());
        const int n_nlm = expansion_.layout().n_nlm();
        slot_entry_.assign(couplings_.n_factor_slots(), -1);
        std::vector<int> entry_density;  // shape [n_entries], a
        std::vector<int> feature_entry_offsets(n_generic + 1, 0);
        std::vector<int> entry_of_density(couplings_.n_density(), -1);  // per-feature scratch
        for (int g = 0; g < n_generic; ++g) {
            const int q = generic_feature_[g];
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
            feature_entry_offsets[g + 1] = static_cast<int>(entry_density.size());
        }
        n_entries_ = static_cast<int>(entry_density.size());
        slot_offsets_.assign(static_cast<size_t>(n_species) * n_generic + 1, 0);
        for (int s = 0; s < n_species; ++s) {
            for (int g = 0; g < n_generic; ++g) {
                for (int e = feature_entry_offsets[g]; e < feature_entry_offsets[g + 1]; ++e) {
                    const int a = entry_density[e];
                    if (a >= expansion_.n_density()) {  // Ã_{k,lm}: one slot per n, weight Σ_p W_l[k][p][n] u_{pn}(s)
                        add_contracted_slots(s, e, a - expansion_.n_density());
                        continue;
                    }
                    const int c = channel_of_density_[a];
                    const double w = expansion_.embedding(s, channel_pseudo_[c], channel_n_[c]);
                    if (w == 0.0) continue;
                    slot_index_.push_back(e);
                    slot_weight_.push_back(w);
                    slot_row_.push_back(3 * (a % n_nlm));
                }
                slot_offsets_[static_cast<size_t>(s) * n_generic + g + 1] = static_cast<int>(slot_index_.size());
            }
        }
    }

    // The slots of G entry e on the contracted coefficient Ã_{k,lm} (index `contracted` within Ã) for neighbours
    // of species s: ∂Ã_{k,lm}/∂r = Σ_n (Σ_p W_l[k][p][n] u_{pn}(s)) ∂(R_nl Y_lm)/∂r.
    void add_contracted_slots(int s, int e, int contracted) {
        const DensityLayout& layout = expansion_.layout();
        int l = 0;
        while (contraction_.contracted_offset(l + 1) <= contracted) ++l;
        const int width = 2 * l + 1, within = contracted - contraction_.contracted_offset(l);
        const int k = within / width, mm = within % width;
        for (int n = 0; n < layout.n_radial(l); ++n) {
            double w = 0.0;
            for (int p = 0; p < expansion_.n_pseudo(); ++p)
                w += contraction_.weight(l, k, p, n) * expansion_.embedding(s, p, n);
            if (w == 0.0) continue;
            slot_index_.push_back(e);
            slot_weight_.push_back(w);
            slot_row_.push_back(3 * (layout.nlm_offset(l) + n * width + mm));
        }
    }

    // Per centre: room for the channel buffers and the constant channel's values.
    void prepare_channel_buffers(DescriptorWorkspace& ws) const {
        ws.channel_projection.resize(n_channels_ + 1);
        ws.channel_projection_grad.resize(3 * static_cast<size_t>(n_channels_ + 1));
        ws.channel_radial.resize(n_channels_ + 1);
        ws.channel_radial_deriv.resize(n_channels_ + 1);
        ws.channel_projection_grad[n_channels_] = 0.0;
        ws.channel_projection_grad[(n_channels_ + 1) + n_channels_] = 0.0;
        ws.channel_projection_grad[2 * (n_channels_ + 1) + n_channels_] = 0.0;
        ws.channel_radial[n_channels_] = 0.0;
        ws.channel_radial_deriv[n_channels_] = 0.0;
    }

    // Factorised-path gradients of pair p (inside the cutoff, species s, vector v) into its row, the centre
    // row and the strain (each may be nullptr).
    void factorised_pair_contribution(int p, const double* v, int s, DescriptorWorkspace& ws, double* row,
                                      double* centre, double* strain) const {
        const DensityWorkspace& d = ws.density;
        const size_t i = d.inside_index[p], n_functions = expansion_.layout().n_radial_functions();
        const size_t n_lm = expansion_.layout().n_lm();
        const double* radial = &d.pair_major_radial[i * n_functions];
        const double* radial_deriv = &d.pair_major_radial_deriv[i * n_functions];
        const double* ylm = &d.pair_major_ylm[i * n_lm];
        const double* ylm_grad = &d.pair_major_ylm_grad[3 * i * n_lm];
        const double* density = d.density.data();
        const int stride = n_channels_ + 1;
        double* P = ws.channel_projection.data();
        double* Qx = ws.channel_projection_grad.data();
        double* Qy = Qx + stride;
        double* Qz = Qy + stride;
        double* uR = ws.channel_radial.data();
        double* uRd = ws.channel_radial_deriv.data();
        for (int c = 0; c < n_channels_; ++c) {
            const int l = channel_l_[c];
            const double* a = density + channel_start_[c];
            double projection_grad[3];
            project_on_harmonics(2 * l + 1, a, a, ylm + l * l, ylm_grad + 3 * l * l, P[c], projection_grad);
            Qx[c] = projection_grad[0];
            Qy[c] = projection_grad[1];
            Qz[c] = projection_grad[2];
            const double u = expansion_.embedding(s, channel_pseudo_[c], channel_n_[c]);
            uR[c] = u * radial[channel_radial_index_[c]];
            uRd[c] = u * radial_deriv[channel_radial_index_[c]];
        }
        P[n_channels_] = ylm[0];
        const double inv_r = 1.0 / std::sqrt(v[0] * v[0] + v[1] * v[1] + v[2] * v[2]);
        const double ux = v[0] * inv_r, uy = v[1] * inv_r, uz = v[2] * inv_r;
        const int nf = n_features();
        const int n_factorised = static_cast<int>(factorised_feature_.size());
        for (int f = 0; f < n_factorised; ++f) {
            const int q = factorised_feature_[f];
            const int c1 = factorised_channels_[2 * f], c2 = factorised_channels_[2 * f + 1];
            const double coefficient = factorised_coefficient_[f];
            const double radial_part = uRd[c1] * P[c2] + uRd[c2] * P[c1];
            const double gx = coefficient * (ux * radial_part + uR[c1] * Qx[c2] + uR[c2] * Qx[c1]);
            const double gy = coefficient * (uy * radial_part + uR[c1] * Qy[c2] + uR[c2] * Qy[c1]);
            const double gz = coefficient * (uz * radial_part + uR[c1] * Qz[c2] + uR[c2] * Qz[c1]);
            if (row) {
                row[q] += gx;
                row[nf + q] += gy;
                row[2 * nf + q] += gz;
            }
            if (centre) {
                centre[q] -= gx;
                centre[nf + q] -= gy;
                centre[2 * nf + q] -= gz;
            }
            if (strain) {
                const double g[3] = {gx, gy, gz};
                for (int alpha = 0; alpha < 3; ++alpha)
                    for (int beta = 0; beta < 3; ++beta) strain[(3 * alpha + beta) * nf + q] += g[alpha] * v[beta];
            }
        }
    }

    // Generic-path gradients of the generic features for one block of pairs of species s (the first `count`
    // are real). rows: [pair_block] output rows [3][n_features] of the pairs (nullptr: not wanted / padding)
    void generic_block_contribution(int s, int count, const DescriptorWorkspace& ws, double* const* rows,
                                    double* centre, double* strain) const {
        const int n_features = couplings_.n_features(), n_generic = static_cast<int>(generic_feature_.size());
        const int* offsets = &slot_offsets_[static_cast<size_t>(s) * n_generic];
        const double* derivative = ws.entry_values.data();
        const double* dry = ws.block_gradients.data();
        const double* v = ws.block_vectors.data();
        for (int g = 0; g < n_generic; ++g) {
            const int q = generic_feature_[g];
            double acc[3][pair_block] = {};
            for (int e = offsets[g]; e < offsets[g + 1]; ++e) {
                const double weight = slot_weight_[e] * derivative[slot_index_[e]];
                const double* d = dry + static_cast<size_t>(slot_row_[e]) * pair_block;
                for (int alpha = 0; alpha < 3; ++alpha)
                    for (int i = 0; i < pair_block; ++i) acc[alpha][i] += weight * d[alpha * pair_block + i];
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
    DensityContraction contraction_;
    // radial channels (k, n, l)
    int n_channels_ = 0;
    std::vector<int> channel_start_;         // shape [n_channels], density index of (k, n, l, m = -l)
    std::vector<int> channel_l_;             // shape [n_channels]
    std::vector<int> channel_pseudo_;        // shape [n_channels], k
    std::vector<int> channel_n_;             // shape [n_channels], n
    std::vector<int> channel_radial_index_;  // shape [n_channels], radial-function column radial_offset(l) + n
    std::vector<int> channel_of_density_;    // shape [n_density]
    std::vector<int> m_of_density_;          // shape [n_density], l + m
    // factorised path
    std::vector<int> factorised_feature_;        // shape [n_factorised], q
    std::vector<int> factorised_channels_;       // shape [n_factorised][2], c1, c2 (c2 = n_channels: constant)
    std::vector<double> factorised_coefficient_;  // shape [n_factorised], c
    // generic path
    std::vector<int> generic_feature_;  // shape [n_generic], q
    int n_entries_ = 0;                 // unique (q, a) entries of G = ∂B/∂A of the generic features
    std::vector<int> slot_entry_;       // shape [n_factor_slots], the G entry each factor slot adds to (-1: none)
    std::vector<int> slot_offsets_;     // shape [n_species * n_generic + 1], CSR into the species lists
    std::vector<int> slot_index_;       // shape [n_species_entries], G entry e
    std::vector<double> slot_weight_;   // shape [n_species_entries], u_{k_a n_a}(s)
    std::vector<int> slot_row_;         // shape [n_species_entries], 3 nlm_a: row of ∂(R Y)_{nlm_a} in the block
};

}  // namespace lepot
