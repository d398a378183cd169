// The posterior of a fitted linear potential's coefficients, as a parameter file stores it (docs/uncertainty.md).
//
// The fit minimises L(w) = ½ (|X w − y|² + λ |D w|²) over the design columns w (weighted rows X, y; ridge
// λ D²). Its Hessian is H = Xᵀ X + λ D² = Cᵀ C, with C upper triangular [n_columns][n_columns]. A centre
// atom i of species a enters the columns as z_i = M_a [B(i); 1]: the coefficient columns are n_centre
// blocks of n_features, block κ holding v_κ(a) B(i) (v = centre_channels, one-hot for one coefficient
// vector per species), followed, when the reference energies were fitted, by one E0 column per species
// (1 in the column of a). With u_i = C⁻ᵀ z_i [n_columns] (eV per unit noise):
//   local prediction rigidity  LPR_i = 1 / |u_i|²                          eV⁻²
//   local-energy uncertainty   σ_i   = sqrt((posterior_scale + local_variance_scale) |u_i|² + atom_energy_noise²)
//                                                                                                      eV
//   structure energy           σ_E   = sqrt(posterior_scale |Σ_i u_i|² + local_variance_scale Σ_i |u_i|²
//                                          + (energy_noise N)² + atom_energy_noise² N)                 eV
//   extrapolation grade        γ_i   = sqrt(|u_i|² / reference_variance)   (1: the median fitted environment)
//
// PosteriorEvaluator inverts Cᵀ once when it is built (W = C⁻ᵀ, lower triangular, packed by rows) and
// computes u_i = W z_i for blocks of centres (in double, 32 with AVX-512, 16 with AVX, 8 otherwise; twice as
// many in single precision; in a cache-line aligned block the caller owns), several rows of W at a time in
// registers, skipping the leading columns that are zero for every centre of a block (the other species'
// blocks). The ASE calculator (through the Cython bindings) and the LAMMPS plugin both call it: project()
// keeps u_i, variances() only |u_i|² and Σ_i u_i.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <stdexcept>
#include <string>
#include <type_traits>
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
    double posterior_scale = 0.0;         // α², multiplies |u|² (dimensionless; calibrated on held-out energies)
    double local_variance_scale = 0.0;    // β², multiplies Σ_i |u_i|² in σ_E: an independent error per local energy
    double energy_noise = 0.0;            // τ, eV/atom: noise of a structure's energy per atom beyond the posterior
    double atom_energy_noise = 0.0;       // η, eV: an independent noise of every local energy (η² N in σ_E²)
    double force_posterior_scale = 0.0;   // α_F², multiplies |C⁻ᵀ x|² of a force row (calibrated on held-out forces)
    double reference_variance = 0.0;      // eV²: median |u_i|² of the environments the calibration saw
};

// σ_i in eV of one local energy from |u_i|² (variance, unit noise): its posterior variance and the independent
// local error terms of σ_E (so a one-atom structure has σ_E² = σ_i² + τ²), the formula's one home.
inline double local_energy_uncertainty(const PosteriorParameters& p, double variance) {
    return std::sqrt((p.posterior_scale + p.local_variance_scale) * variance + p.atom_energy_noise * p.atom_energy_noise);
}

// σ_E in eV of a structure of n_atoms centres, from |Σ_i u_i|² (summed_norm2) and Σ_i |u_i|² (variance_sum), both
// at unit noise: the formula's one home (the LAMMPS plugin and, through the bindings, the ASE calculator).
inline double structure_energy_uncertainty(const PosteriorParameters& p, double summed_norm2, double variance_sum,
                                           double n_atoms) {
    const double noise = p.energy_noise * n_atoms;
    return std::sqrt(p.posterior_scale * summed_norm2 + p.local_variance_scale * variance_sum + noise * noise +
                     p.atom_energy_noise * p.atom_energy_noise * n_atoms);
}

// The arithmetic of u = W z. Double: exact to round-off (the default; ASE and LAMMPS agree to 1e-10). Single:
// W and z rounded to float32 and the sums in float32, about twice as fast; |u|² within 1e-3 relative of
// double (at worst 8e-4 over the mlearn training atoms of the shipped files, σ_E 1e-4; docs/uncertainty.md),
// and two descriptor vectors that differ by round-off can give values that differ by that much (rounding z to
// float32 is not continuous), so ASE and LAMMPS then agree to that accuracy, not to 1e-10.
enum class PosteriorPrecision { double_precision, single_precision };

// "double" or "single" (the LAMMPS keyword's and the ASE argument's values); anything else is refused.
inline PosteriorPrecision posterior_precision(const std::string& name) {
    if (name == "double") return PosteriorPrecision::double_precision;
    if (name == "single") return PosteriorPrecision::single_precision;
    throw std::invalid_argument("uncertainty precision must be 'double' or 'single', got '" + name + "'");
}

// The evaluator's transposed block of z, owned by the caller (one per thread).
struct PosteriorWorkspace {
    AlignedDoubles block;         // shape [n_columns][lanes], double precision
    AlignedFloats single_block;   // shape [n_columns][lanes], single precision
};

class PosteriorEvaluator {
public:
    PosteriorEvaluator() = default;
    PosteriorEvaluator(PosteriorParameters parameters, int n_species, int n_features,
                       PosteriorPrecision precision = PosteriorPrecision::double_precision)
        : parameters_(std::move(parameters)), n_species_(n_species), n_features_(n_features), precision_(precision) {
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
        if (precision_ == PosteriorPrecision::single_precision) {
            inverse_single_.assign(inverse_.begin(), inverse_.end());
            inverse_ = std::vector<double>();
        }
    }

    // the file's parameters without the packed factor (released once W = C⁻ᵀ is built)
    const PosteriorParameters& parameters() const { return parameters_; }
    int n_columns() const { return parameters_.n_columns; }
    PosteriorPrecision precision() const { return precision_; }

    // u_i = C⁻ᵀ z_i of n centres, z_i = v_κ(a) B(i) in coefficient block κ and 1 in the E0 column of a.
    // species: [n] species index of each centre; features: [n_features][n], B_q(i) at features[q n + i]
    // (feature-major, as CouplingSet::evaluate_centres writes them); u: [n][n_columns], overwritten
    // (eV per unit noise).
    void project(int n, const int* species, const double* features, PosteriorWorkspace& work, double* u) const {
        apply<true>(n, species, features, work, u, nullptr, nullptr);
    }

    // |u_i|² of n centres (eV² per unit noise) into variance [n], and Σ_i u_i added to sum [n_columns]
    // (nullptr: not wanted), without storing u.
    void variances(int n, const int* species, const double* features, PosteriorWorkspace& work, double* variance,
                   double* sum) const {
        apply<false>(n, species, features, work, nullptr, variance, sum);
    }

private:
    // Centres evaluated together (Lanes) and rows of W per pass (Rows): Rows x Lanes accumulators stay in vector
    // registers. W is read once per block of centres (7.4 MB for Mo.json's 1361 columns in double: from L3), so
    // more lanes reuse it more; the z block [n_columns][Lanes] (350 KB) stays in L2. Measured on the Mo.json
    // posterior (docs/uncertainty.md), AVX-512: double 32 x 6 15 µs per centre (91 % of the FMA peak; 16 x 8
    // and 24 x 8 15.4-16, 32 x 7 17), single 64 x 4 7.9 µs (64 x 5 and 64 x 6 the same); AVX2 (same core):
    // double 16 x 2 32 µs, single 32 x 2 16 µs (3 rows: 30 and 31). Four registers per row on every target
    // (SSE2: 16 registers in all).
    template <class T>
    struct Blocking {
        static constexpr int registers = 4;  // per row of accumulators
        static constexpr int values_per_register = register_lanes * static_cast<int>(sizeof(double) / sizeof(T));
        static constexpr int lanes = registers * values_per_register;
        static constexpr int rows = register_lanes == 8 ? (sizeof(T) == sizeof(double) ? 6 : 4) : 2;
        using Register = typename std::conditional<sizeof(T) == sizeof(double), register_vector, register_floats>::type;
    };

    static size_t row_start(size_t j) { return j * (j + 1) / 2; }  // offset of W[j][0] in the packed rows

    // W = C⁻ᵀ, lower triangular, packed by rows (row j: W[j][0..j]): row j of W holds what u_j needs, so
    // u = W z is a sequence of dot products over the leading j+1 columns.
    void invert_factor() {
        const PosteriorParameters& p = parameters_;
        const size_t n = static_cast<size_t>(p.n_columns);
        std::vector<size_t> factor_start(n + 1);  // offset of C[k][k] in the packed factor
        for (size_t k = 0, start = 0; k <= n; start += n - k, ++k) factor_start[k] = start;
        inverse_.assign(row_start(n), 0.0);
        // column e of Cᵀ-solve: Cᵀ w = e_e gives column e of W; forward substitution in C's row order
        std::vector<double> column(n);
        for (size_t e = 0; e < n; ++e) {
            std::fill(column.begin(), column.end(), 0.0);
            column[e] = 1.0;
            for (size_t k = e; k < n; ++k) {
                const double* row = p.factor.data() + factor_start[k];  // C[k][k..n-1]
                const double uk = column[k] / row[0];
                column[k] = uk;
                if (uk == 0.0) continue;
                for (size_t j = k + 1; j < n; ++j) column[j] -= row[j - k] * uk;
            }
            for (size_t j = e; j < n; ++j) inverse_[row_start(j) + e] = column[j];
        }
    }

    template <bool store>
    void apply(int n, const int* species, const double* features, PosteriorWorkspace& work, double* u,
               double* variance, double* sum) const {
        if (precision_ == PosteriorPrecision::single_precision)
            apply_in<float, store>(inverse_single_.data(), n, species, features, work.single_block, u, variance, sum);
        else
            apply_in<double, store>(inverse_.data(), n, species, features, work.block, u, variance, sum);
    }

    // z of centres begin .. begin + count - 1 into the block z [n_columns][Lanes] (empty lanes zero), from
    // feature-major features [n_features][n]
    template <class T, int Lanes>
    void fill_block(int n, int begin, int count, const int* species, const double* features, T* z) const {
        const PosteriorParameters& p = parameters_;
        const size_t coefficient_rows = static_cast<size_t>(p.n_centre) * n_features_;
        for (int kappa = 0; kappa < p.n_centre; ++kappa) {
            double weight[Lanes];  // v_κ(a) of each centre's species
            for (int a = 0; a < count; ++a)
                weight[a] = p.centre_channels[static_cast<size_t>(kappa) * n_species_ + species[begin + a]];
            T* rows = z + static_cast<size_t>(kappa) * n_features_ * Lanes;
            for (int q = 0; q < n_features_; ++q) {  // every lane written once: no clearing pass
                const double* values = features + static_cast<size_t>(q) * n + begin;
                T* row = rows + static_cast<size_t>(q) * Lanes;
                for (int a = 0; a < count; ++a) row[a] = static_cast<T>(weight[a] * values[a]);
                std::fill(row + count, row + Lanes, T(0));
            }
        }
        std::fill(z + coefficient_rows * Lanes, z + static_cast<size_t>(p.n_columns) * Lanes, T(0));  // E0 rows
        if (p.reference_energy_columns)
            for (int a = 0; a < count; ++a) z[(coefficient_rows + species[begin + a]) * Lanes + a] = T(1);
    }

    // u = W z in precision T for blocks of Lanes centres: z transposed into the block [n_columns][Lanes], then
    // Rows rows of W (packed rows `inverse`) at a time against it, only over the columns some centre of the
    // block has non-zero. Squares and sums are taken in double.
    template <class T, bool store>
    void apply_in(const T* inverse, int n, const int* species, const double* features,
                  std::vector<T, CacheLineAllocator<T>>& block, double* u, double* variance, double* sum) const {
        constexpr int Lanes = Blocking<T>::lanes, Rows = Blocking<T>::rows;
        const size_t columns = static_cast<size_t>(parameters_.n_columns);
        block.resize(columns * Lanes);
        T* z = block.data();  // shape [n_columns][Lanes], each row whole cache lines
        for (int begin = 0; begin < n; begin += Lanes) {
            const int count = std::min(Lanes, n - begin);
            fill_block<T, Lanes>(n, begin, count, species, features, z);
            size_t first = columns;  // first column any centre of the block has non-zero
            for (size_t k = 0; k < columns && first == columns; ++k)
                for (int a = 0; a < count; ++a)
                    if (z[k * Lanes + a] != T(0)) first = k;
            double squares[Lanes] = {};
            for (size_t j0 = 0; j0 < columns; j0 += Rows) {
                const int height = static_cast<int>(std::min<size_t>(Rows, columns - j0));
                alignas(64) T acc[Rows][Lanes];  // u_{j0 + r} of the block's centres
                if (height == Rows)
                    accumulate_rows<T, Rows>(inverse, j0, z, first, acc[0]);
                else
                    for (int r = 0; r < height; ++r) accumulate_rows<T, 1>(inverse, j0 + r, z, first, acc[r]);
                for (int r = 0; r < height; ++r) {
                    double total = 0.0;
                    for (int a = 0; a < Lanes; ++a) squares[a] += static_cast<double>(acc[r][a]) * acc[r][a];
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

    // out[r Lanes + a] = Σ_{k in [first, j0 + r]} W[j0 + r][k] z[k][a] for the R rows j0 .. j0 + R - 1: the
    // columns all R rows have, then the group's triangle. R and the lane count are compile-time, so the
    // R x Lanes sums stay in vector registers.
    template <class T, int R>
    static void accumulate_rows(const T* inverse, size_t j0, const T* z, size_t first, T* out) {
        using V = typename Blocking<T>::Register;
        constexpr int Lanes = Blocking<T>::lanes, parts = Blocking<T>::registers;
        constexpr int width = Blocking<T>::values_per_register;
        const T* row[R];
        for (int r = 0; r < R; ++r) row[r] = inverse + row_start(j0 + r);
        V acc[R][parts];
        for (int r = 0; r < R; ++r)
            for (int j = 0; j < parts; ++j) acc[r][j] = V{};
        auto add_column = [&](size_t k, auto weight_of) {
            V weight[R];
            for (int r = 0; r < R; ++r) weight[r] = broadcast_lanes<V>(weight_of(r));
            for (int j = 0; j < parts; ++j) {
                V zk = load_lanes<V>(z + k * Lanes + j * width);
                keep_in_register(zk);  // one load for the R rows, not a memory operand of each multiply-add
                for (int r = 0; r < R; ++r) acc[r][j] += weight[r] * zk;
            }
        };
        for (size_t k = first; k <= j0; ++k) add_column(k, [&](int r) { return row[r][k]; });
        for (size_t k = std::max(first, j0 + 1); k < j0 + R; ++k)
            add_column(k, [&](int r) { return k <= j0 + r ? row[r][k] : T(0); });
        for (int r = 0; r < R; ++r)
            for (int j = 0; j < parts; ++j) store_lanes(out + r * Lanes + j * width, acc[r][j]);
    }

    PosteriorParameters parameters_;
    int n_species_ = 0;
    int n_features_ = 0;
    PosteriorPrecision precision_ = PosteriorPrecision::double_precision;
    std::vector<double> inverse_;        // shape [n_columns (n_columns + 1) / 2], W = C⁻ᵀ packed by rows (row j: W[j][0..j])
    std::vector<float> inverse_single_;  // the same rounded to float32 (single precision; then inverse_ is empty)
};

}  // namespace lepot
