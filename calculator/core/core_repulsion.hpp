// Optional short-range core repulsion: the ZBL universal screened-Coulomb pair potential, switched off
// smoothly between r_inner and r_outer for each species pair.
//
//   φ_ab(r) = (Z_a Z_b e² / 4πε₀) / r · Σ_k c_k exp(-d_k r / a_ab),   a_ab = 0.46850 Å / (Z_a^0.23 + Z_b^0.23)
//   E_core  = Σ_{i<j} φ_ab(r_ij) s_ab(r_ij),   s = 1 - 10x³ + 15x⁴ - 6x⁵,  x = (r - r_inner)/(r_outer - r_inner) in [0, 1]
//
// s is C², so energy, forces and force derivatives are continuous at both ends of the switch.
// Energies in eV, lengths in Å. Each pair's energy is split equally between its two atoms.
#pragma once

#include <cmath>
#include <stdexcept>
#include <string>
#include <vector>

namespace lepot {

class CoreRepulsion {
public:
    static constexpr double coulomb_constant = 14.399645478425668;  // e²/(4πε₀) in eV·Å (CODATA 2018)

    CoreRepulsion() = default;

    // atomic_numbers: [n_species]; r_inner, r_outer: [n_species][n_species] (symmetric), Å.
    // A pair with r_outer == 0 has no repulsion.
    CoreRepulsion(int n_species, const int* atomic_numbers, const double* r_inner, const double* r_outer)
        : n_species_(n_species) {
        parameters_.resize(static_cast<size_t>(n_species) * n_species);
        for (int a = 0; a < n_species; ++a) {
            for (int b = 0; b < n_species; ++b) {
                const size_t ab = static_cast<size_t>(a) * n_species + b, ba = static_cast<size_t>(b) * n_species + a;
                if (r_inner[ab] != r_inner[ba] || r_outer[ab] != r_outer[ba])
                    throw std::invalid_argument("core repulsion: switching radii must be symmetric in the species pair");
                PairParameters& p = parameters_[ab];
                p.active = r_outer[ab] > 0.0;
                if (!p.active) continue;
                if (!(r_inner[ab] >= 0.0) || !(r_outer[ab] > r_inner[ab]) || !std::isfinite(r_outer[ab]))
                    throw std::invalid_argument("core repulsion: need 0 <= r_inner < r_outer for species pair " +
                                                std::to_string(a) + "-" + std::to_string(b));
                const double za = atomic_numbers[a], zb = atomic_numbers[b];
                p.prefactor = coulomb_constant * za * zb;
                p.inverse_screening_length = (std::pow(za, 0.23) + std::pow(zb, 0.23)) / 0.46850;
                p.r_inner = r_inner[ab];
                p.r_outer = r_outer[ab];
                max_r_outer_ = std::max(max_r_outer_, p.r_outer);
            }
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
