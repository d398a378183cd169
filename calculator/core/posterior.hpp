// The posterior of a fitted linear potential's coefficients, as a parameter file stores it (docs/uncertainty.md).
//
// The fit minimises L(w) = ½ (|X w − y|² + λ |D w|²) over the design columns w (weighted rows X, y; ridge
// λ D²). Its Hessian is H = Xᵀ X + λ D² = Cᵀ C, with C upper triangular [n_columns][n_columns]. A centre
// atom i of species a enters the columns as z_i = M_a [B(i); 1]: the coefficient columns are n_centre
// blocks of n_features, block κ holding v_κ(a) B(i) (v = centre_channels, one-hot for one coefficient
// vector per species), followed, when the reference energies were fitted, by one E0 column per species
// (1 in the column of a). With u_i = C⁻ᵀ z_i [n_columns] (eV per unit noise):
//   local prediction rigidity  LPR_i = 1 / |u_i|²                          eV⁻²
//   local-energy uncertainty   σ_i   = sqrt(posterior_scale |u_i|²)         eV
//   structure energy           σ_E   = sqrt(posterior_scale |Σ_i u_i|² + (energy_noise N)²)   eV
//   extrapolation grade        γ_i   = sqrt(|u_i|² / reference_variance)   (1: the median fitted environment)
//
// PosteriorEvaluator::project computes u_i for blocks of centres by forward substitution with Cᵀ (row k of
// C is contiguous in the packed layout and is applied to every centre of a block while it is in cache).
// The ASE calculator (through the Cython bindings) and the LAMMPS plugin both call it.
#pragma once

#include <algorithm>
#include <cstddef>
#include <stdexcept>
#include <string>
#include <vector>

namespace lepot {

struct PosteriorParameters {
    bool present = false;                 // false: the file has "uncertainty": null
    int n_centre = 0;                     // coefficient blocks κ
    std::vector<double> centre_channels;  // shape [n_centre][n_species], v_κ(a)
    bool reference_energy_columns = false;  // one E0 column per species after the coefficient blocks
    int n_columns = 0;                    // n_centre n_features (+ n_species)
    std::vector<double> factor;           // packed rows of C: row j holds C[j][j..n_columns-1]; n_columns(n_columns+1)/2
    double posterior_scale = 0.0;         // α², multiplies |u|² (dimensionless; calibrated on validation data)
    double energy_noise = 0.0;            // τ, eV/atom: noise of a structure's energy per atom beyond the posterior
    double reference_variance = 0.0;      // eV²: median |u_i|² of the environments the calibration saw
};

class PosteriorEvaluator {
public:
    PosteriorEvaluator() = default;
    PosteriorEvaluator(PosteriorParameters parameters, int n_species, int n_features)
        : parameters_(std::move(parameters)), n_species_(n_species), n_features_(n_features) {
        const PosteriorParameters& p = parameters_;
        const size_t columns = static_cast<size_t>(p.n_centre) * n_features + (p.reference_energy_columns ? n_species : 0);
        if (!p.present || columns != static_cast<size_t>(p.n_columns) ||
            p.centre_channels.size() != static_cast<size_t>(p.n_centre) * n_species ||
            p.factor.size() != columns * (columns + 1) / 2)
            throw std::invalid_argument("posterior: " + std::to_string(p.n_columns) + " columns and a factor of " +
                                        std::to_string(p.factor.size()) + " numbers do not match " +
                                        std::to_string(p.n_centre) + " centre channels of " + std::to_string(n_features) +
                                        " features");
        row_start_.resize(columns + 1);  // shape [n_columns+1], offset of C[k][k] in the packed factor
        for (size_t k = 0, start = 0; k <= columns; start += columns - k, ++k) row_start_[k] = start;
    }

    const PosteriorParameters& parameters() const { return parameters_; }
    int n_columns() const { return parameters_.n_columns; }

    // z_i of n centres: v_κ(a) B(i) in coefficient block κ, 1 in the E0 column of a. species: [n] species index
    // of each centre; features: [n][n_features], B(i); z: [n][n_columns], overwritten.
    void atom_columns(int n, const int* species, const double* features, double* z) const {
        const PosteriorParameters& p = parameters_;
        const size_t columns = static_cast<size_t>(p.n_columns);
        const size_t coefficients = static_cast<size_t>(p.n_centre) * n_features_;
        for (int i = 0; i < n; ++i) {
            double* zi = z + i * columns;
            std::fill(zi, zi + columns, 0.0);
            for (int kappa = 0; kappa < p.n_centre; ++kappa) {
                const double weight = p.centre_channels[static_cast<size_t>(kappa) * n_species_ + species[i]];
                double* block = zi + static_cast<size_t>(kappa) * n_features_;
                for (int q = 0; q < n_features_; ++q) block[q] = weight * features[static_cast<size_t>(i) * n_features_ + q];
            }
            if (p.reference_energy_columns) zi[coefficients + species[i]] = 1.0;
        }
    }

    // u_i = C⁻ᵀ z_i of n centres (arguments as atom_columns); u: [n][n_columns], overwritten (eV per unit noise).
    void project(int n, const int* species, const double* features, double* u) const {
        const PosteriorParameters& p = parameters_;
        const size_t columns = static_cast<size_t>(p.n_columns);
        atom_columns(n, species, features, u);
        // forward substitution Cᵀ u = z, column by column of Cᵀ (= row k of C), over blocks of centres
        for (int begin = 0; begin < n; begin += centre_block) {
            const int end = std::min(n, begin + centre_block);
            for (size_t k = 0; k < columns; ++k) {
                const double* row = p.factor.data() + row_start_[k];  // C[k][k..columns-1]
                const double inverse_diagonal = 1.0 / row[0];
                for (int i = begin; i < end; ++i) {
                    double* ui = u + i * columns;
                    const double uk = ui[k] * inverse_diagonal;
                    ui[k] = uk;
                    if (uk == 0.0) continue;
                    for (size_t j = k + 1; j < columns; ++j) ui[j] -= row[j - k] * uk;
                }
            }
        }
    }

    // |u_i|² of n centres (eV² per unit noise); work: resized to [n][n_columns].
    void variances(int n, const int* species, const double* features, std::vector<double>& work, double* variance) const {
        const size_t columns = static_cast<size_t>(parameters_.n_columns);
        work.resize(static_cast<size_t>(n) * columns);
        project(n, species, features, work.data());
        for (int i = 0; i < n; ++i) {
            const double* ui = work.data() + i * columns;
            double sum = 0.0;
            for (size_t j = 0; j < columns; ++j) sum += ui[j] * ui[j];
            variance[i] = sum;
        }
    }

private:
    static constexpr int centre_block = 16;  // centres sharing one pass over C
    PosteriorParameters parameters_;
    int n_species_ = 0;
    int n_features_ = 0;
    std::vector<size_t> row_start_;  // shape [n_columns+1]
};

}  // namespace lepot
