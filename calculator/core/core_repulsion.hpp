// Optional short-range core repulsion: the ZBL universal screened-Coulomb pair potential, switched off
// smoothly between r_inner and r_outer for each species pair.
//
//   φ_ab(r) = (Z_a Z_b e² / 4πε₀) / r · Σ_k c_k exp(-d_k r / a_ab),   a_ab = 0.46850 Å / (Z_a^0.23 + Z_b^0.23)
//   E_core  = Σ_{i<j} φ_ab(r_ij) s_ab(r_ij),   s = 1 - 10x³ + 15x⁴ - 6x⁵,  x = (r - r_inner)/(r_outer - r_inner) in [0, 1]
//
// s is C², so energy, forces and force derivatives are continuous at both ends of the switch.
// Energies in eV, lengths in Å. Each pair's energy is split equally between its two atoms.
#pragma once

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <string>
#include <vector>

namespace lepot {

class CoreRepulsion {
public:
    static constexpr double coulomb_constant = 14.399645478425668;  // e²/(4πε₀) in eV·Å (CODATA 2018)

    CoreRepulsion() = default;

    // atomic_numbers: [n_species]; pair_species: [n_pairs][2] species indices (unordered, each pair at most
    // once); pair_radii: [n_pairs][2] r_inner, r_outer in Å. Pairs not listed have no repulsion.
    CoreRepulsion(int n_species, const int* atomic_numbers, int n_pairs, const int* pair_species,
                  const double* pair_radii)
        : n_species_(n_species) {
        if (n_species < 1 || n_pairs < 0) throw std::invalid_argument("core repulsion: negative size");
        parameters_.resize(static_cast<size_t>(n_species) * n_species);
        for (int p = 0; p < n_pairs; ++p) {
            const int a = pair_species[2 * p], b = pair_species[2 * p + 1];
            const double inner = pair_radii[2 * p], outer = pair_radii[2 * p + 1];
            const std::string name = "core repulsion: pair " + std::to_string(p);
            if (a < 0 || a >= n_species || b < 0 || b >= n_species)
                throw std::invalid_argument(name + " names a species index outside [0, " + std::to_string(n_species) + ")");
            if (!(inner >= 0.0) || !(outer > inner) || !std::isfinite(outer))
                throw std::invalid_argument(name + " needs 0 <= r_inner < r_outer");
            PairParameters& forward = parameters_[static_cast<size_t>(a) * n_species + b];
            if (forward.active) throw std::invalid_argument(name + " repeats a species pair");
            const double za = atomic_numbers[a], zb = atomic_numbers[b];
            forward.active = true;
            forward.prefactor = coulomb_constant * za * zb;
            forward.inverse_screening_length = (std::pow(za, 0.23) + std::pow(zb, 0.23)) / 0.46850;
            forward.r_inner = inner;
            forward.r_outer = outer;
            parameters_[static_cast<size_t>(b) * n_species + a] = forward;
            max_r_outer_ = std::max(max_r_outer_, outer);
        }
        enabled_ = max_r_outer_ > 0.0;
    }

    bool enabled() const { return enabled_; }
    double max_range() const { return max_r_outer_; }

    // Pair energy φ s (eV) of species a and b at distance r; writes its r-derivative (eV/Å).
    double pair_energy(int a, int b, double r, double& derivative) const {
        derivative = 0.0;
        if (!enabled_) return 0.0;
        const PairParameters& p = parameters_[static_cast<size_t>(a) * n_species_ + b];
        if (!p.active || !(r < p.r_outer)) return 0.0;
        static const double c[4] = {0.18175, 0.50986, 0.28022, 0.02817};
        static const double d[4] = {3.19980, 0.94229, 0.40290, 0.20162};
        double screening = 0.0, dscreening = 0.0;
        for (int k = 0; k < 4; ++k) {
            const double e = c[k] * std::exp(-d[k] * p.inverse_screening_length * r);
            screening += e;
            dscreening -= d[k] * p.inverse_screening_length * e;
        }
        const double phi = p.prefactor * screening / r;
        const double dphi = p.prefactor * (dscreening / r - screening / (r * r));
        double s = 1.0, ds = 0.0;
        if (r > p.r_inner) {
            const double width = p.r_outer - p.r_inner;
            const double x = (r - p.r_inner) / width;
            s = 1.0 + x * x * x * (-10.0 + x * (15.0 - 6.0 * x));
            ds = x * x * (-30.0 + x * (60.0 - 30.0 * x)) / width;
        }
        derivative = dphi * s + phi * ds;
        return phi * s;
    }

private:
    struct PairParameters {
        bool active = false;
        double prefactor = 0.0;                 // Z_a Z_b e²/(4πε₀), eV·Å
        double inverse_screening_length = 0.0;  // 1/a_ab, 1/Å
        double r_inner = 0.0;
        double r_outer = 0.0;
    };
    int n_species_ = 0;
    bool enabled_ = false;
    double max_r_outer_ = 0.0;
    std::vector<PairParameters> parameters_;  // shape [n_species][n_species]
};

}  // namespace lepot
