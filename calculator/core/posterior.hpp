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
#pragma once

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

}  // namespace lepot
