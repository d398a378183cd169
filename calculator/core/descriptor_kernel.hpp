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
#pragma once

#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

#include "couplings.hpp"
#include "density_expansion.hpp"

namespace lepot {

struct DescriptorWorkspace {
    DensityWorkspace density;
    std::vector<double> entry_values;   // shape [n_entries], ∂B/∂A partial products
    std::vector<double> pair_gradient;  // shape [3][n_features], ∂B(i)/∂r_ij for one pair
};

class DescriptorKernel {
public:
    DescriptorKernel(DensityExpansion expansion, CouplingSet couplings)
        : expansion_(std::move(expansion)), couplings_(std::move(couplings)) {
        if (couplings_.n_density() != expansion_.n_density())
            throw std::invalid_argument("descriptor kernel: couplings index " + std::to_string(couplings_.n_density()) +
                                        " density coefficients but the expansion has " +
                                        std::to_string(expansion_.n_density()));
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
        expansion_.expand<with_gradients>(n_neigh, neighbour_vectors, neighbour_species, ws.density);
        couplings_.evaluate(ws.density.density.data(), features);
        if (!with_gradients) return;

        const int n_features = couplings_.n_features();
        const int n_nlm = expansion_.layout().n_nlm();
        const DensityLayout& layout = expansion_.layout();
        ws.entry_values.resize(couplings_.n_entries());
        couplings_.partial_derivatives(ws.density.density.data(), ws.entry_values.data());
        ws.pair_gradient.resize(3 * static_cast<size_t>(n_features));
        double* pg = ws.pair_gradient.data();
        double* centre = gradients ? gradients + centre_row * 3 * n_features : nullptr;

        for (int p = 0; p < n_neigh; ++p) {
            const double* v = neighbour_vectors + 3 * p;
            if (!(v[0] * v[0] + v[1] * v[1] + v[2] * v[2] < expansion_.cutoff() * expansion_.cutoff())) continue;
            for (int c = 0; c < 3 * n_features; ++c) pg[c] = 0.0;
            const double* dry = &ws.density.pair_dry[static_cast<size_t>(p) * n_nlm * 3];
            const int species = neighbour_species[p];
            for (int k = 0; k < expansion_.n_pseudo(); ++k) {
                for (int l = 0; l <= layout.l_max(); ++l) {
                    const int width = 2 * l + 1;
                    for (int n = 0; n < layout.n_radial(l); ++n) {
                        const double w = expansion_.embedding(species, k, n);
                        if (w == 0.0) continue;
                        const int base = layout.nlm_offset(l) + n * width;
                        for (int mm = 0; mm < width; ++mm) {
                            const int nlm = base + mm;
                            const double dx = w * dry[3 * nlm], dy = w * dry[3 * nlm + 1], dz = w * dry[3 * nlm + 2];
                            const int a = k * n_nlm + nlm;
                            for (int e = couplings_.entry_begin(a); e < couplings_.entry_end(a); ++e) {
                                const int q = couplings_.entry_feature(e);
                                const double g = ws.entry_values[e];
                                pg[q] += g * dx;
                                pg[n_features + q] += g * dy;
                                pg[2 * n_features + q] += g * dz;
                            }
                        }
                    }
                }
            }
            if (gradients) {
                double* row = gradients + pair_rows[p] * 3 * n_features;
                for (int c = 0; c < 3 * n_features; ++c) {
                    row[c] += pg[c];
                    centre[c] -= pg[c];
                }
            }
            if (strain) {
                for (int alpha = 0; alpha < 3; ++alpha)
                    for (int beta = 0; beta < 3; ++beta) {
                        double* out = strain + (3 * alpha + beta) * n_features;
                        const double* g = pg + alpha * n_features;
                        for (int q = 0; q < n_features; ++q) out[q] += g[q] * v[beta];
                    }
            }
        }
    }

private:
    DensityExpansion expansion_;
    CouplingSet couplings_;
};

}  // namespace lepot
