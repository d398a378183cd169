// posterior.hpp: u = C⁻ᵀ z solves Cᵀ u = z (z built here from its definition) for blocks of 1–70 centres of two species with two centre
// channels and E0 columns; variances are |u|², sums are Σ u; centres alone give the values they give in a
// block; single precision within the float32 rounding bound of the exact u (and not equal to it), alone = in a
// block there too; mismatched sizes are refused.
#include "posterior.hpp"

#include <cmath>
#include <random>

#include "check.hpp"

using namespace native_test;

int main() {
    std::mt19937 generator(3);
    std::normal_distribution<double> normal;
    const int n_species = 2, n_features = 37;
    lepot::PosteriorParameters p;
    p.present = true;
    p.n_centre = 2;
    p.centre_channels = {1.0, 0.3, -0.5, 1.2};  // shape [n_centre][n_species]
    p.reference_energy_columns = true;
    const int n = p.n_centre * n_features + n_species;
    p.n_columns = n;
    std::vector<double> factor(static_cast<size_t>(n) * n, 0.0);  // shape [n][n], upper triangular C
    for (int i = 0; i < n; ++i)
        for (int j = i; j < n; ++j) {
            factor[i * n + j] = i == j ? 3.0 + std::fabs(normal(generator)) : 0.3 * normal(generator);
            p.factor.push_back(factor[i * n + j]);
        }
    const lepot::PosteriorEvaluator posterior(p, n_species, n_features);
    const lepot::PosteriorEvaluator single(p, n_species, n_features, lepot::PosteriorPrecision::single_precision);
    // W = C⁻ᵀ written out here (forward substitution of Cᵀ W = I), for the single-precision bound
    std::vector<double> inverse(static_cast<size_t>(n) * n, 0.0);  // shape [n][n], lower triangular
    for (int e = 0; e < n; ++e)
        for (int j = e; j < n; ++j) {
            double value = j == e ? 1.0 : 0.0;
            for (int k = e; k < j; ++k) value -= factor[k * n + j] * inverse[k * n + e];
            inverse[j * n + e] = value / factor[j * n + j];
        }
    lepot::PosteriorWorkspace work;
    for (int m : {1, 15, 16, 17, 31, 32, 33, 37, 63, 64, 65, 70}) {  // whole blocks and tails of 8 to 64 lanes
        std::vector<int> species(m);
        std::vector<double> features(static_cast<size_t>(n_features) * m);  // shape [n_features][m]
        for (int i = 0; i < m; ++i) {
            species[i] = (i * 7) % n_species;
            for (int q = 0; q < n_features; ++q) features[q * m + i] = normal(generator);
        }
        std::vector<double> u(static_cast<size_t>(m) * n), z(static_cast<size_t>(m) * n), variance(m), sum(n, 0.0);
        posterior.project(m, species.data(), features.data(), work, u.data());
        std::vector<double> u_single(u.size());
        single.project(m, species.data(), features.data(), work, u_single.data());
        for (int i = 0; i < m; ++i) {  // z_i written out here: v_κ(a) B(i) in block κ, 1 in the E0 column of a
            for (int kappa = 0; kappa < p.n_centre; ++kappa)
                for (int q = 0; q < n_features; ++q)
                    z[i * n + kappa * n_features + q] = p.centre_channels[kappa * n_species + species[i]] * features[q * m + i];
            z[i * n + p.n_centre * n_features + species[i]] = 1.0;
        }
        posterior.variances(m, species.data(), features.data(), work, variance.data(), sum.data());
        for (int i = 0; i < m; ++i) {
            double squared = 0.0;
            for (int j = 0; j < n; ++j) {
                double lhs = 0.0;  // (Cᵀ u)_j
                for (int k = 0; k <= j; ++k) lhs += factor[k * n + j] * u[i * n + k];
                check_close(lhs, z[i * n + j], 1e-12, "C^T u = z");
                squared += u[i * n + j] * u[i * n + j];
            }
            check_close(variance[i], squared, 1e-12 * squared, "variance = |u|^2");
            std::vector<double> alone(n), own_features(n_features);
            for (int q = 0; q < n_features; ++q) own_features[q] = features[q * m + i];
            posterior.project(1, &species[i], own_features.data(), work, alone.data());
            for (int j = 0; j < n; ++j) check(alone[j] == u[i * n + j], "a centre alone = in a block");
            // single precision: W and z rounded to float32 and summed in float32, so |û_j − u_j| <=
            // (j + 3) ε Σ_k |W_jk| |z_k|, ε = 2⁻²⁴ (forward error bound of a dot product, Higham §3.1)
            for (int j = 0; j < n; ++j) {
                double magnitude = 0.0;
                for (int k = 0; k <= j; ++k) magnitude += std::fabs(inverse[j * n + k] * z[i * n + k]);
                const double bound = (j + 3) * std::ldexp(1.0, -24) * magnitude;
                check(std::fabs(u_single[i * n + j] - u[i * n + j]) <= bound, "single precision within its bound");
            }
            single.project(1, &species[i], own_features.data(), work, alone.data());
            for (int j = 0; j < n; ++j) check(alone[j] == u_single[i * n + j], "single: a centre alone = in a block");
        }
        bool rounded = false;  // single precision is what was computed
        for (size_t k = 0; k < u.size(); ++k) rounded = rounded || u_single[k] != u[k];
        check(rounded, "single precision differs from double");
        std::vector<double> single_variance(m), single_sum(n, 0.0);
        single.variances(m, species.data(), features.data(), work, single_variance.data(), single_sum.data());
        for (int i = 0; i < m; ++i) {
            double squared = 0.0;
            for (int j = 0; j < n; ++j) squared += u_single[i * n + j] * u_single[i * n + j];
            check_close(single_variance[i], squared, 1e-12 * squared, "single: variance = |û|^2");
        }
        for (int j = 0; j < n; ++j) {
            double total = 0.0;
            for (int i = 0; i < m; ++i) total += u[i * n + j];
            check_close(sum[j], total, 1e-12 * (1.0 + std::fabs(total)), "sum = Σ u");
        }
    }
    lepot::PosteriorParameters short_factor = p;
    short_factor.factor.pop_back();
    check_throws<std::invalid_argument>([&] { lepot::PosteriorEvaluator(short_factor, n_species, n_features); },
                                        "do not match", "a factor one number short");
    check_throws<std::invalid_argument>([&] { lepot::PosteriorEvaluator(p, n_species, n_features + 1); },
                                        "do not match", "more features than the columns hold");
    return finish("posterior");
}
