// posterior.hpp: u = C⁻ᵀ z solves Cᵀ u = z (z built here from its definition) for blocks of 1–70 centres of two species with two centre
// channels and E0 columns; variances are |u|², sums are Σ u; centres alone give the values they give in a
// block; mismatched sizes are refused.
#include "posterior.hpp"

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
    lepot::AlignedDoubles work;
    for (int m : {1, 15, 16, 17, 31, 32, 33, 37, 70}) {  // whole blocks and tails of 16 and 32 lanes
        std::vector<int> species(m);
        std::vector<double> features(static_cast<size_t>(m) * n_features);  // shape [m][n_features]
        for (int i = 0; i < m; ++i) {
            species[i] = (i * 7) % n_species;
            for (int q = 0; q < n_features; ++q) features[i * n_features + q] = normal(generator);
        }
        std::vector<double> u(static_cast<size_t>(m) * n), z(static_cast<size_t>(m) * n), variance(m), sum(n, 0.0);
        posterior.project(m, species.data(), features.data(), work, u.data());
        for (int i = 0; i < m; ++i) {  // z_i written out here: v_κ(a) B(i) in block κ, 1 in the E0 column of a
            for (int kappa = 0; kappa < p.n_centre; ++kappa)
                for (int q = 0; q < n_features; ++q)
                    z[i * n + kappa * n_features + q] = p.centre_channels[kappa * n_species + species[i]] * features[i * n_features + q];
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
            std::vector<double> alone(n);
            posterior.project(1, &species[i], &features[i * n_features], work, alone.data());
            for (int j = 0; j < n; ++j) check(alone[j] == u[i * n + j], "a centre alone = in a block");
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
