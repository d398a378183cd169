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
// PosteriorEvaluator inverts Cᵀ once when it is built (W = C⁻ᵀ, lower triangular) and computes u_i = W z_i
// for blocks of centres (32 with AVX-512, 16 otherwise; in a cache-line aligned work buffer the caller owns),
// several rows of W at a time in registers, skipping the leading columns that are zero for every centre of a
// block (the other species' blocks). The ASE calculator (through the Cython bindings) and the LAMMPS plugin
// both call it: project() keeps u_i, variances() only |u_i|² and Σ_i u_i.
#pragma once

#include <algorithm>
#include <cstddef>
#include <stdexcept>
#include <string>
#include <vector>

#include "aligned_storage.hpp"
#include "simd_lanes.hpp"

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
        invert_factor();
        parameters_.factor = std::vector<double>();  // W replaces it
    }

    // the file's parameters without the packed factor (released once W = C⁻ᵀ is built)
    const PosteriorParameters& parameters() const { return parameters_; }
    int n_columns() const { return parameters_.n_columns; }

    // u_i = C⁻ᵀ z_i of n centres, z_i = v_κ(a) B(i) in coefficient block κ and 1 in the E0 column of a.
    // species: [n] species index of each centre; features: [n][n_features], B(i); u: [n][n_columns],
    // overwritten (eV per unit noise).
    void project(int n, const int* species, const double* features, AlignedDoubles& work, double* u) const {
        apply<true>(n, species, features, work, u, nullptr, nullptr);
    }

    // |u_i|² of n centres (eV² per unit noise) into variance [n], and Σ_i u_i added to sum [n_columns]
    // (nullptr: not wanted), without storing u.
    void variances(int n, const int* species, const double* features, AlignedDoubles& work, double* variance,
                   double* sum) const {
        apply<false>(n, species, features, work, nullptr, variance, sum);
    }

private:
    // Centres evaluated together, and rows of W per pass (rows x lanes accumulators stay in registers). W is
    // read once per block of centres (15 MB for Mo.json's 1361 columns: from L3 or memory), so more lanes
    // reuse it more; the z block [n_columns][lanes] (350 KB at 32) stays in L2. Measured on the Mo.json
    // posterior (docs/uncertainty.md): with AVX-512, 32 lanes x 6 rows 17 µs per centre against 24-25 for
    // 16 x 4 (64 lanes: 33-36); with AVX2, 16 x 2 41-43 µs against 49-50 for 16 x 4 and 54-56 for 32 x 6.
    static constexpr int lanes = register_lanes == 8 ? 32 : 16;
    static constexpr int rows = register_lanes == 8 ? 6 : 2;

    // W = C⁻ᵀ, lower triangular, dense rows [n_columns][n_columns] (zeros above the diagonal): row j of W
    // holds what u_j needs, so u = W z is a sequence of dot products over the leading j+1 columns.
    void invert_factor() {
        const PosteriorParameters& p = parameters_;
        const size_t n = static_cast<size_t>(p.n_columns);
        std::vector<size_t> row_start(n + 1);  // offset of C[k][k] in the packed factor
        for (size_t k = 0, start = 0; k <= n; start += n - k, ++k) row_start[k] = start;
        inverse_.assign(n * n, 0.0);
        // column e of Cᵀ-solve: Cᵀ w = e_e gives column e of W; forward substitution in C's row order
        std::vector<double> column(n);
        for (size_t e = 0; e < n; ++e) {
            std::fill(column.begin(), column.end(), 0.0);
            column[e] = 1.0;
            for (size_t k = e; k < n; ++k) {
                const double* row = p.factor.data() + row_start[k];  // C[k][k..n-1]
                const double uk = column[k] / row[0];
                column[k] = uk;
                if (uk == 0.0) continue;
                for (size_t j = k + 1; j < n; ++j) column[j] -= row[j - k] * uk;
            }
            for (size_t j = e; j < n; ++j) inverse_[j * n + e] = column[j];
        }
    }

    // z of one centre into out[k * stride] (stride `lanes`: one lane of a transposed block)
    void column_of(int species, const double* features, double* out, size_t stride) const {
        const PosteriorParameters& p = parameters_;
        const size_t columns = static_cast<size_t>(p.n_columns);
        for (size_t k = 0; k < columns; ++k) out[k * stride] = 0.0;
        for (int kappa = 0; kappa < p.n_centre; ++kappa) {
            const double weight = p.centre_channels[static_cast<size_t>(kappa) * n_species_ + species];
            const size_t block = static_cast<size_t>(kappa) * n_features_;
            for (int q = 0; q < n_features_; ++q) out[(block + q) * stride] = weight * features[q];
        }
        if (p.reference_energy_columns) out[(static_cast<size_t>(p.n_centre) * n_features_ + species) * stride] = 1.0;
    }

    // u = W z for blocks of `lanes` centres: z transposed into work [n_columns][lanes], then `rows` rows of W
    // at a time against it, only over the columns some centre of the block has non-zero.
    template <bool store>
    void apply(int n, const int* species, const double* features, AlignedDoubles& work, double* u,
               double* variance, double* sum) const {
        const size_t columns = static_cast<size_t>(parameters_.n_columns);
        work.resize(columns * lanes);
        double* z = work.data();  // shape [n_columns][lanes], each row two whole cache lines
        for (int begin = 0; begin < n; begin += lanes) {
            const int count = std::min(lanes, n - begin);
            size_t first = columns;  // first column any centre of the block has non-zero
            for (int a = 0; a < lanes; ++a) {
                if (a < count)
                    column_of(species[begin + a], features + static_cast<size_t>(begin + a) * n_features_, z + a, lanes);
                else
                    for (size_t k = 0; k < columns; ++k) z[k * lanes + a] = 0.0;
            }
            for (size_t k = 0; k < columns && first == columns; ++k)
                for (int a = 0; a < count; ++a)
                    if (z[k * lanes + a] != 0.0) first = k;
            double squares[lanes] = {};
            for (size_t j0 = 0; j0 < columns; j0 += rows) {
                const int height = static_cast<int>(std::min<size_t>(rows, columns - j0));
                double acc[rows][lanes] = {};
                if (height == rows)
                    accumulate_rows<rows>(inverse_.data() + j0 * columns, columns, z, first, j0 + rows, acc[0]);
                else
                    for (int r = 0; r < height; ++r)
                        accumulate_rows<1>(inverse_.data() + (j0 + r) * columns, columns, z, first, j0 + r + 1, acc[r]);
                for (int r = 0; r < height; ++r) {
                    double total = 0.0;
                    for (int a = 0; a < lanes; ++a) squares[a] += acc[r][a] * acc[r][a];
                    for (int a = 0; a < count; ++a) total += acc[r][a];
                    if (sum) sum[j0 + r] += total;
                    if (store)
                        for (int a = 0; a < count; ++a) u[static_cast<size_t>(begin + a) * columns + j0 + r] = acc[r][a];
                }
            }
            if (variance)
                for (int a = 0; a < count; ++a) variance[begin + a] = squares[a];
        }
    }

    // acc[r lanes + a] += Σ_{k in [first, last)} W[j0 + r][k] z[k][a] for R rows of W starting at `w` (row
    // stride `stride`); R and the lane count are compile-time, so the R x lanes sums stay in vector registers.
    template <int R>
    static void accumulate_rows(const double* w, size_t stride, const double* z, size_t first, size_t last,
                                double* acc) {
        alignas(64) double local[R * lanes] = {};
        for (size_t k = first; k < last; ++k) {
            const double* zk = z + k * lanes;
            for (int r = 0; r < R; ++r) {
                const double weight = w[r * stride + k];
                double* out = local + r * lanes;
#pragma omp simd
                for (int a = 0; a < lanes; ++a) out[a] += weight * zk[a];
            }
        }
        for (int r = 0; r < R * lanes; ++r) acc[r] += local[r];
    }

    PosteriorParameters parameters_;
    int n_species_ = 0;
    int n_features_ = 0;
    std::vector<double> inverse_;  // shape [n_columns][n_columns], W = C⁻ᵀ (lower triangular, dense)
};

}  // namespace lepot
