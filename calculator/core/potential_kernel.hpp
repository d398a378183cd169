// Per-atom energy and its analytic gradient for the linear (optionally compressed) model, by adjoint.
//
//   E_i = E0(a_i) + Σ_m C_m(a_i) Π A_i[...]  + ½ Σ_j φ_{a_i a_j}(r_ij) s(r_ij)        (eV)
//   (A_i with the core-repulsion handover 1 - s of close pairs, density_expansion.hpp)
//   g_a = ∂E_i/∂A_a                          from the contracted polynomial, once per centre (with a
//                                            tensor-reduced contraction, through [A ; Ã]: density_contraction.hpp)
//   h_s[nlm] = Σ_k u_{k n}(s) g_{k, nlm}      the adjoint seen by a neighbour of species s
//   ∂E_i/∂r_ij = Σ_nlm h_{a_j}[nlm] ∇(R_nl Y_lm)(r_ij) + ½ (φ s)'(r_ij) r̂_ij         (eV/Å)
//
// compute_atom() takes LAMMPS-style per-atom data and returns E_i, writing ∂E_i/∂r_ij per pair. The
// caller tallies forces F_j -= ∂E_i/∂r_ij, F_i += ∂E_i/∂r_ij and the virial W -= r_ij ⊗ ∂E_i/∂r_ij.
// The cost of forces is one more pass over the neighbours (reusing each pair's R, R', Y, ∇Y from the
// density pass), independent of the number of invariants.
#pragma once

#include <cmath>
#include <stdexcept>
#include <string>
#include <vector>

#include "core_repulsion.hpp"
#include "couplings.hpp"
#include "density_contraction.hpp"
#include "density_expansion.hpp"
#include "energy_polynomial.hpp"

namespace lepot {

struct PotentialWorkspace {
    DensityWorkspace density;
    std::vector<double> extended;           // shape [n_density + n_contracted], [A ; Ã] (with a contraction)
    std::vector<double> extended_adjoint;   // shape [n_density + n_contracted], ∂E_i/∂[A ; Ã]
    std::vector<double> adjoint;          // shape [n_density], ∂E_i/∂A
    std::vector<double> species_adjoint;  // shape [n_species][n_nlm], h_s
    std::vector<char> species_present;    // shape [n_species]
};

class PotentialKernel {
public:
    // coefficients: [n_species][n_features] (eV); reference_energies: [n_species] (eV)
    // core_repulsion: ZBL of the same pairs the expansion hands over (the same PairSwitch)
    // contraction: the tensor-reduced channels the couplings may also index (none by default)
    PotentialKernel(DensityExpansion expansion, const CouplingSet& couplings, const double* coefficients,
                    const double* reference_energies, CoreRepulsion core_repulsion,
                    DensityContraction contraction = DensityContraction())
        : expansion_(std::move(expansion)),
          contraction_(std::move(contraction)),
          polynomial_(couplings, expansion_.n_species(), coefficients),
          reference_energies_(reference_energies, reference_energies + expansion_.n_species()),
          core_repulsion_(std::move(core_repulsion)) {
        if (couplings.n_density() != contraction_.n_extended(expansion_.n_density()))
            throw std::invalid_argument("potential: couplings and density expansion disagree on the density size");
        for (double e : reference_energies_)
            if (!std::isfinite(e)) throw std::invalid_argument("potential: non-finite reference energy");
        if (core_repulsion_.max_range() > expansion_.cutoff())
            throw std::invalid_argument("potential: core repulsion range exceeds the cutoff radius");
    }

    const DensityExpansion& expansion() const { return expansion_; }
    int n_monomials() const { return polynomial_.n_monomials(); }

    // neighbour_vectors: [n_neigh][3] (Å); neighbour_species: [n_neigh]; pair_gradients: [n_neigh][3] (eV/Å)
    // Returns E_i (eV).
    double compute_atom(int centre_species, int n_neigh, const double* neighbour_vectors,
                        const int* neighbour_species, PotentialWorkspace& ws, double* pair_gradients) const {
        const int n_species = expansion_.n_species();
        const int n_nlm = expansion_.layout().n_nlm();
        expansion_.expand_with_pair_cache(centre_species, n_neigh, neighbour_vectors, neighbour_species, ws.density);
        double energy = reference_energies_[centre_species];
        ws.adjoint.resize(expansion_.n_density());
        if (contraction_.enabled()) {
            ws.extended.resize(polynomial_.n_density());
            ws.extended_adjoint.resize(polynomial_.n_density());
            contraction_.forward(ws.density.density.data(), ws.extended.data());
            energy += polynomial_.evaluate(centre_species, ws.extended.data(), ws.extended_adjoint.data());
            contraction_.backward(ws.extended_adjoint.data(), ws.adjoint.data());
        } else {
            energy += polynomial_.evaluate(centre_species, ws.density.density.data(), ws.adjoint.data());
        }

        ws.species_present.assign(n_species, 0);
        for (int p = 0; p < n_neigh; ++p) ws.species_present[neighbour_species[p]] = 1;
        ws.species_adjoint.assign(static_cast<size_t>(n_species) * n_nlm, 0.0);
        const DensityLayout& layout = expansion_.layout();
        for (int s = 0; s < n_species; ++s) {
            if (!ws.species_present[s]) continue;
            double* h = &ws.species_adjoint[static_cast<size_t>(s) * n_nlm];
            for (int k = 0; k < expansion_.n_pseudo(); ++k) {
                if (!expansion_.contributes(s, k)) continue;
                const double* g = &ws.adjoint[static_cast<size_t>(k) * n_nlm];
                for (int l = 0; l <= layout.l_max(); ++l) {
                    const int width = 2 * l + 1;
                    for (int n = 0; n < layout.n_radial(l); ++n) {
                        const double u = expansion_.embedding(s, k, n);
                        const int base = layout.nlm_offset(l) + n * width;
                        for (int mm = 0; mm < width; ++mm) h[base + mm] += u * g[base + mm];
                    }
                }
            }
        }

        expansion_.project_adjoint(n_neigh, ws.species_adjoint.data(), ws.density, pair_gradients);
        if (core_repulsion_.enabled()) {
            for (int p = 0; p < n_neigh; ++p) {
                const double* v = neighbour_vectors + 3 * p;
                double* out = pair_gradients + 3 * p;
                const double r = std::sqrt(v[0] * v[0] + v[1] * v[1] + v[2] * v[2]);
                double derivative;
                energy += 0.5 * core_repulsion_.pair_energy(centre_species, neighbour_species[p], r, derivative);
                for (int alpha = 0; alpha < 3; ++alpha) out[alpha] += 0.5 * derivative * v[alpha] / r;
            }
        }
        return energy;
    }

private:
    DensityExpansion expansion_;
    DensityContraction contraction_;
    EnergyPolynomial polynomial_;
    std::vector<double> reference_energies_;  // shape [n_species], E0 in eV
    CoreRepulsion core_repulsion_;
};

}  // namespace lepot
