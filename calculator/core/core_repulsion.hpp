// Short-range core repulsion: for each listed species pair, the model hands the pair over to the ZBL
// universal screened-Coulomb potential between r_inner and r_outer.
//
//   s_ab(r) = 1                                   r <= r_inner
//           = 1 - 10x³ + 15x⁴ - 6x⁵,  x = (r - r_inner)/(r_outer - r_inner)
//           = 0                                   r >= r_outer
//   φ_ab(r) = (Z_a Z_b e² / 4πε₀) / r · Σ_k c_k exp(-d_k r / a_ab),   a_ab = 0.46850 Å / (Z_a^0.23 + Z_b^0.23)
//
//   E_core = Σ_{i<j} φ_ab(r_ij) s_ab(r_ij)              (each pair's energy split equally between i and j)
//   and every neighbour's contribution to the density is weighted by 1 - s_ab(r_ij) (density_expansion.hpp),
//   so below r_inner only ZBL acts on the pair, whatever the fitted model would do there.
//
// s is C², so energy, forces and force derivatives are continuous at both ends of the switch. lepot fit
// places r_outer at the shortest distance of the pair in the training data, so the fitted model is
// unchanged wherever there is data. Energies in eV, lengths in Å.
#pragma once

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <string>
#include <vector>

namespace lepot {

// The switch s_ab(r) of the listed species pairs (unlisted pairs: s = 0, no handover).
class PairSwitch {
public:
    PairSwitch() = default;

    // pair_species: [n_pairs][2] species indices (unordered, each pair at most once);
    // pair_radii: [n_pairs][2] r_inner, r_outer in Å.
    PairSwitch(int n_species, int n_pairs, const int* pair_species, const double* pair_radii) : n_species_(n_species) {
        if (n_species < 1 || n_pairs < 0) throw std::invalid_argument("core repulsion: negative size");
        radii_.assign(static_cast<size_t>(n_species) * n_species, Radii{});
        for (int p = 0; p < n_pairs; ++p) {
            const int a = pair_species[2 * p], b = pair_species[2 * p + 1];
            const double inner = pair_radii[2 * p], outer = pair_radii[2 * p + 1];
            const std::string name = "core repulsion: pair " + std::to_string(p);
            if (a < 0 || a >= n_species || b < 0 || b >= n_species)
                throw std::invalid_argument(name + " names a species index outside [0, " + std::to_string(n_species) + ")");
            if (!(inner >= 0.0) || !(outer > inner) || !std::isfinite(outer))
                throw std::invalid_argument(name + " needs 0 <= r_inner < r_outer");
            Radii& forward = radii_[static_cast<size_t>(a) * n_species + b];
            if (forward.active) throw std::invalid_argument(name + " repeats a species pair");
            forward = Radii{true, inner, outer};
            radii_[static_cast<size_t>(b) * n_species + a] = forward;
            max_range_ = std::max(max_range_, outer);
        }
    }

    bool enabled() const { return max_range_ > 0.0; }
    double max_range() const { return max_range_; }
    bool active(int a, int b) const { return enabled() && radii_[static_cast<size_t>(a) * n_species_ + b].active; }

    // s_ab(r); writes ds/dr (1/Å).
    double value(int a, int b, double r, double& derivative) const {
        derivative = 0.0;
        if (!enabled()) return 0.0;
        const Radii& radii = radii_[static_cast<size_t>(a) * n_species_ + b];
        if (!radii.active || !(r < radii.outer)) return 0.0;
        if (!(r > radii.inner)) return 1.0;
        const double width = radii.outer - radii.inner;
        const double x = (r - radii.inner) / width;
        derivative = x * x * (-30.0 + x * (60.0 - 30.0 * x)) / width;
        return 1.0 + x * x * x * (-10.0 + x * (15.0 - 6.0 * x));
    }

private:
    struct Radii {
        bool active = false;
        double inner = 0.0;  // Å
        double outer = 0.0;  // Å
    };
    int n_species_ = 0;
    double max_range_ = 0.0;
    std::vector<Radii> radii_;  // shape [n_species][n_species]
};

class CoreRepulsion {
public:
    static constexpr double coulomb_constant = 14.399645478425668;  // e²/(4πε₀) in eV·Å (CODATA 2018)

    CoreRepulsion() = default;

    // atomic_numbers: [n_species]; switch_: the listed pairs and their radii.
    CoreRepulsion(int n_species, const int* atomic_numbers, PairSwitch pair_switch)
        : n_species_(n_species), switch_(std::move(pair_switch)) {
        screening_.resize(static_cast<size_t>(n_species) * n_species);
        for (int a = 0; a < n_species; ++a)
            for (int b = 0; b < n_species; ++b) {
                const double za = atomic_numbers[a], zb = atomic_numbers[b];
                Screening& s = screening_[static_cast<size_t>(a) * n_species + b];
                s.prefactor = coulomb_constant * za * zb;
                s.inverse_length = (std::pow(za, 0.23) + std::pow(zb, 0.23)) / 0.46850;
            }
    }

    bool enabled() const { return switch_.enabled(); }
    double max_range() const { return switch_.max_range(); }
    const PairSwitch& pair_switch() const { return switch_; }

    // Pair energy φ s (eV) of species a and b at distance r; writes its r-derivative (eV/Å).
    double pair_energy(int a, int b, double r, double& derivative) const {
        double ds;
        const double s = switch_.value(a, b, r, ds);
        derivative = 0.0;
        if (s == 0.0) return 0.0;
        const Screening& p = screening_[static_cast<size_t>(a) * n_species_ + b];
        static const double c[4] = {0.18175, 0.50986, 0.28022, 0.02817};
        static const double d[4] = {3.19980, 0.94229, 0.40290, 0.20162};
        double screening = 0.0, dscreening = 0.0;
        for (int k = 0; k < 4; ++k) {
            const double e = c[k] * std::exp(-d[k] * p.inverse_length * r);
            screening += e;
            dscreening -= d[k] * p.inverse_length * e;
        }
        const double phi = p.prefactor * screening / r;
        const double dphi = p.prefactor * (dscreening / r - screening / (r * r));
        derivative = dphi * s + phi * ds;
        return phi * s;
    }

private:
    struct Screening {
        double prefactor = 0.0;       // Z_a Z_b e²/(4πε₀), eV·Å
        double inverse_length = 0.0;  // 1/a_ab, 1/Å
    };
    int n_species_ = 0;
    PairSwitch switch_;
    std::vector<Screening> screening_;  // shape [n_species][n_species]
};

}  // namespace lepot
