// Per-atom energy and its analytic gradient for the linear (optionally compressed) model, by adjoint.
//
//   E_i = E0(a_i) + Σ_m C_m(a_i) Π A_i[...]  + ½ Σ_j φ_{a_i a_j}(r_ij) s(r_ij)        (eV)
//   (A_i with the core-repulsion handover 1 - s of close pairs, density_expansion.hpp)
//   g_a = ∂E_i/∂A_a                          from the contracted polynomial, once per centre (with a
//                                            tensor-reduced contraction, through [A ; Ã]: density_contraction.hpp)
//   h_s[nlm] = Σ_k u_{k n}(s) g_{k, nlm}      the adjoint seen by a neighbour of species s
//   ∂E_i/∂r_ij = Σ_nlm h_{a_j}[nlm] ∇(R_nl Y_lm)(r_ij) + ½ (φ s)'(r_ij) r̂_ij         (eV/Å)
//
// compute_atoms() takes LAMMPS-style per-atom data for centres of one species and writes E_i and
// ∂E_i/∂r_ij per pair. The caller tallies forces F_j -= ∂E_i/∂r_ij, F_i += ∂E_i/∂r_ij and the virial
// W -= r_ij ⊗ ∂E_i/∂r_ij. The cost of forces is one more pass over the neighbours (reusing each pair's
// R, R', Y, ∇Y from the density pass), independent of the number of invariants.
//
// Centres go through the polynomial in blocks of polynomial_lanes (fewer lanes for a short tail): the
// densities of a block are interleaved [n_extended][lanes] and every monomial is evaluated for all its
// centres with the same few vector instructions (docs/design-notes.md 16). Each centre of a block keeps
// its own pair cache between the density pass and the back-projection.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

#include "core_repulsion.hpp"
#include "couplings.hpp"
#include "density_contraction.hpp"
#include "density_expansion.hpp"
#include "energy_polynomial.hpp"

namespace lepot {

// Centres whose polynomial is evaluated together (EnergyPolynomial::evaluate_lanes); a tail of at most
// tail_threshold centres goes in one block of tail_lanes instead (cheaper than one half-empty full block).
// 8 lanes: as fast per atom as 16 in the polynomial alone and 1.04x faster in LAMMPS (half the pair caches
// per block; docs/design-notes.md 16).
constexpr int polynomial_lanes = 8;
constexpr int tail_lanes = 4;
constexpr int tail_threshold = 4;

// A domain_error (coincident atoms, a non-finite vector) raised for one centre of a compute_atoms call.
struct CentreDomainError : std::domain_error {
    int centre;  // the index into compute_atoms' `centres`, not the centre itself
    CentreDomainError(int centre_position, const std::string& what) : std::domain_error(what), centre(centre_position) {}
};

struct PotentialWorkspace {
    std::vector<DensityWorkspace> lanes;    // shape [polynomial_lanes], the density pass of each centre of a block
    // the lane arrays start on a cache line, so that each channel's W lanes fill whole lines and the
    // polynomial's vector loads and stores never split one (unaligned: 1.57x slower, docs/design-notes.md 16)
    AlignedDoubles lane_density;            // shape [n_extended][lanes], [A ; Ã] of the block's centres
    AlignedDoubles lane_adjoint;            // shape [n_extended][lanes], ∂E_i/∂[A ; Ã]
    std::vector<double> extended;           // shape [n_extended], [A ; Ã] of one centre (with a contraction)
    std::vector<double> extended_adjoint;   // shape [n_extended], ∂E_i/∂[A ; Ã] of one centre (∂E_i/∂A without
                                            //   a contraction)
    std::vector<double> adjoint;          // shape [n_density], ∂E_i/∂A (with a contraction: Wᵀ of the above)
    std::vector<double> species_adjoint;  // shape [n_species][n_nlm], h_s
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
    const EnergyPolynomial& polynomial() const { return polynomial_; }
    // Length of a centre's [A ; Ã] (A without a contraction): what the couplings index.
    int n_extended() const { return polynomial_.n_density(); }

    // All centres in `centres` must be of species centre_species. Centre c has the pairs
    // [neighbour_offsets[c], neighbour_offsets[c+1]); its energy goes to energies[c] (eV) and its pairs'
    // ∂E_c/∂r_cj to the same rows of pair_gradients (eV/Å). Other entries are left alone. With `densities`,
    // centre c's [A ; Ã] also goes to its row (for CouplingSet::evaluate_centres: the features of the same
    // step without expanding again).
    // centres: [n_centres]; neighbour_offsets: [max centre + 2]; neighbour_vectors: [n_pairs][3] (Å, r_j - r_c);
    // neighbour_species: [n_pairs]; energies: [max centre + 1]; pair_gradients: [n_pairs][3];
    // densities: [max centre + 1][n_extended] or nullptr
    // Throws CentreDomainError for coincident atoms or a non-finite vector.
    void compute_atoms(int centre_species, int n_centres, const int* centres, const int64_t* neighbour_offsets,
                       const double* neighbour_vectors, const int* neighbour_species, PotentialWorkspace& ws,
                       double* energies, double* pair_gradients, double* densities = nullptr) const {
        for (int done = 0; done < n_centres;) {
            const int remaining = n_centres - done;
            const int count = remaining > tail_threshold ? std::min(remaining, polynomial_lanes)
                                                         : std::min(remaining, tail_lanes);
            if (remaining > tail_threshold)
                compute_block<polynomial_lanes>(centre_species, count, done, centres, neighbour_offsets,
                                                neighbour_vectors, neighbour_species, ws, energies, pair_gradients,
                                                densities);
            else
                compute_block<tail_lanes>(centre_species, count, done, centres, neighbour_offsets, neighbour_vectors,
                                          neighbour_species, ws, energies, pair_gradients, densities);
            done += count;
        }
    }

    // One centre: neighbour_vectors [n_neigh][3] (Å); neighbour_species [n_neigh]; pair_gradients [n_neigh][3]
    // (eV/Å). Returns E_i (eV). Throws std::domain_error as compute_atoms.
    double compute_atom(int centre_species, int n_neigh, const double* neighbour_vectors,
                        const int* neighbour_species, PotentialWorkspace& ws, double* pair_gradients) const {
        const int centre = 0;
        const int64_t offsets[2] = {0, n_neigh};
        double energy = 0.0;
        compute_atoms(centre_species, 1, &centre, offsets, neighbour_vectors, neighbour_species, ws, &energy,
                      pair_gradients);
        return energy;
    }

private:
    // compute_atoms for `count` <= W centres: centres[first], ..., centres[first + count - 1].
    template <int W>
    void compute_block(int centre_species, int count, int first, const int* centres, const int64_t* neighbour_offsets,
                       const double* neighbour_vectors, const int* neighbour_species, PotentialWorkspace& ws,
                       double* energies, double* pair_gradients, double* densities) const {
        const int n_extended = polynomial_.n_density();
        if (ws.lanes.size() < static_cast<size_t>(W)) ws.lanes.resize(W);
        ws.lane_density.assign(static_cast<size_t>(n_extended) * W, 0.0);  // empty lanes: zero density
        ws.lane_adjoint.resize(static_cast<size_t>(n_extended) * W);
        ws.extended.resize(n_extended);
        ws.extended_adjoint.resize(n_extended);
        for (int lane = 0; lane < count; ++lane) {
            const int centre = centres[first + lane];
            const int64_t begin = neighbour_offsets[centre];
            const int n_neigh = static_cast<int>(neighbour_offsets[centre + 1] - begin);
            try {
                expansion_.expand_with_pair_cache(centre_species, n_neigh, neighbour_vectors + 3 * begin,
                                                  neighbour_species + begin, ws.lanes[lane]);
            } catch (const std::domain_error& problem) {
                throw CentreDomainError(first + lane, problem.what());
            }
            const double* extended = ws.lanes[lane].density.data();
            if (contraction_.enabled()) {
                contraction_.forward(extended, ws.extended.data());
                extended = ws.extended.data();
            }
            for (int a = 0; a < n_extended; ++a) ws.lane_density[static_cast<size_t>(a) * W + lane] = extended[a];
            if (densities) std::copy_n(extended, n_extended, densities + static_cast<size_t>(centre) * n_extended);
        }
        alignas(64) double lane_energies[W];
        polynomial_.evaluate_lanes<W>(centre_species, ws.lane_density.data(), ws.lane_adjoint.data(), lane_energies);
        for (int lane = 0; lane < count; ++lane) {
            const int centre = centres[first + lane];
            const int64_t begin = neighbour_offsets[centre];
            const int n_neigh = static_cast<int>(neighbour_offsets[centre + 1] - begin);
            for (int a = 0; a < n_extended; ++a)
                ws.extended_adjoint[a] = ws.lane_adjoint[static_cast<size_t>(a) * W + lane];
            energies[centre] = reference_energies_[centre_species] + lane_energies[lane] +
                               back_project(centre_species, n_neigh, neighbour_vectors + 3 * begin,
                                            neighbour_species + begin, ws.lanes[lane], ws,
                                            pair_gradients + 3 * begin);
        }
    }

    // Forces of one centre from ws.extended_adjoint and its density pass: writes ∂E_i/∂r_ij per pair and
    // returns the core-repulsion energy (eV).
    double back_project(int centre_species, int n_neigh, const double* neighbour_vectors,
                        const int* neighbour_species, DensityWorkspace& density, PotentialWorkspace& ws,
                        double* pair_gradients) const {
        const double* adjoint = ws.extended_adjoint.data();  // ∂E_i/∂A, shape [n_density]
        if (contraction_.enabled()) {
            ws.adjoint.resize(expansion_.n_density());
            contraction_.backward(ws.extended_adjoint.data(), ws.adjoint.data());
            adjoint = ws.adjoint.data();
        }

        expansion_.species_adjoint(adjoint, density, ws.species_adjoint);
        expansion_.project_adjoint(n_neigh, ws.species_adjoint.data(), density, pair_gradients);
        double energy = 0.0;
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

    DensityExpansion expansion_;
    DensityContraction contraction_;
    EnergyPolynomial polynomial_;
    std::vector<double> reference_energies_;  // shape [n_species], E0 in eV
    CoreRepulsion core_repulsion_;
};

}  // namespace lepot
