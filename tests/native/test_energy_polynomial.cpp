// energy_polynomial.hpp: the contracted polynomial equals Σ_q w_q B_q and its adjoint equals finite
// differences, for degrees 1-5 mixed, for a polynomial with no terms (which once read past the end of its
// degree table) and for one with a single term; the lane-interleaved evaluation (4, 8 and 16 centres) equals
// one centre at a time in every lane; cubic pairs (a, b) of every size from 1 to 12 monomials (the
// compile-time sizes 1-8 and the general loop), several per run and in no particular order, give the same;
// non-finite coefficients are refused.
#include "energy_polynomial.hpp"

#include <algorithm>
#include <random>
#include <vector>

#include "check.hpp"

using namespace native_test;

namespace {
// W different densities in the lanes: each lane's energy and adjoint equal evaluate() of that density.
template <int W>
void check_lanes(const lepot::EnergyPolynomial& polynomial, int species, int n_density, const std::string& name) {
    std::mt19937 generator(11 + W);
    std::uniform_real_distribution<double> uniform(-1.0, 1.0);
    std::vector<double> lane_density(n_density * W), lane_adjoint(n_density * W), energies(W);
    for (double& a : lane_density) a = uniform(generator);
    polynomial.evaluate_lanes<W>(species, lane_density.data(), lane_adjoint.data(), energies.data());
    for (int w = 0; w < W; ++w) {
        std::vector<double> density(n_density), adjoint(n_density);
        for (int a = 0; a < n_density; ++a) density[a] = lane_density[a * W + w];
        check_close(energies[w], polynomial.evaluate(species, density.data(), adjoint.data()), 1e-13,
                    name + ": lane energy = one centre");
        for (int a = 0; a < n_density; ++a)
            check_close(lane_adjoint[a * W + w], adjoint[a], 1e-13, name + ": lane adjoint = one centre");
    }
}

void check_against_features(const lepot::CouplingSet& set, int n_species, const std::vector<double>& coefficients,
                            std::vector<double> density, const std::string& name) {
    const lepot::EnergyPolynomial polynomial(set, n_species, coefficients.data());
    std::vector<double> features(set.n_features()), adjoint(set.n_density());
    set.evaluate(density.data(), features.data());
    for (int s = 0; s < n_species; ++s) {
        double expected = 0.0;
        for (int q = 0; q < set.n_features(); ++q) expected += coefficients[s * set.n_features() + q] * features[q];
        const double energy = polynomial.evaluate(s, density.data(), adjoint.data());
        check_close(energy, expected, 1e-12, name + ": energy = Σ w B");
        for (int a = 0; a < set.n_density(); ++a) {
            auto energy_at = [&](double value) {
                std::vector<double> shifted = density, scratch(set.n_density());
                shifted[a] = value;
                return polynomial.evaluate(s, shifted.data(), scratch.data());
            };
            check_close(adjoint[a], central_difference(energy_at, density[a], 1e-6), 1e-7, name + ": adjoint");
        }
        check_lanes<4>(polynomial, s, set.n_density(), name);
        check_lanes<8>(polynomial, s, set.n_density(), name);
        check_lanes<16>(polynomial, s, set.n_density(), name);
    }
}
}  // namespace

int main() {
    std::mt19937 generator(7);
    std::uniform_real_distribution<double> uniform(-1.0, 1.0);
    const int n_density = 6, n_species = 2;
    // features of degree 1..5, with repeated factors, shared monomials across features, cubic pair runs
    const std::vector<std::vector<int>> terms = {{0}, {1}, {0, 2}, {2, 2}, {1, 3},      {0, 1, 2}, {0, 1, 4},
                                                 {0, 2, 5}, {1, 1, 1}, {3, 4, 5, 5}, {0, 1, 2, 3, 4}, {2, 0}};
    std::vector<int> feature, offsets = {0}, factors;
    std::vector<double> coefficient;
    for (size_t t = 0; t < terms.size(); ++t) {
        feature.push_back(static_cast<int>(t / 2));
        coefficient.push_back(uniform(generator));
        factors.insert(factors.end(), terms[t].begin(), terms[t].end());
        offsets.push_back(static_cast<int>(factors.size()));
    }
    const int n_features = feature.back() + 1;
    const lepot::CouplingSet set(n_features, n_density, static_cast<int>(terms.size()), feature.data(),
                                 coefficient.data(), offsets.data(), factors.data());
    std::vector<double> coefficients(n_species * n_features), density(n_density);
    for (double& w : coefficients) w = uniform(generator);
    for (double& a : density) a = uniform(generator);
    check_against_features(set, n_species, coefficients, density, "degrees 1-5");

    // no terms: energy 0, adjoint 0 (the degree table must cover degree 1 even when empty)
    const std::vector<int> no_offsets = {0};
    const lepot::CouplingSet empty(3, n_density, 0, nullptr, nullptr, no_offsets.data(), nullptr);
    const std::vector<double> empty_coefficients(n_species * 3, 1.0);
    const lepot::EnergyPolynomial none(empty, n_species, empty_coefficients.data());
    std::vector<double> adjoint(n_density, 9.0);
    check(none.evaluate(1, density.data(), adjoint.data()) == 0.0 && none.n_monomials() == 0, "no terms: zero energy");
    for (double g : adjoint) check(g == 0.0, "no terms: zero adjoint");

    // a single cubic term, and zero coefficients (every monomial dropped)
    const std::vector<int> one_feature = {0}, one_offsets = {0, 3}, one_factors = {4, 1, 4};
    const std::vector<double> one_coefficient = {0.5};
    const lepot::CouplingSet single(1, n_density, 1, one_feature.data(), one_coefficient.data(), one_offsets.data(),
                                    one_factors.data());
    check_against_features(single, 1, {1.7}, density, "a single term");
    check_against_features(single, 1, {0.0}, density, "zero coefficients");

    // cubic pairs of sizes 1..12 in runs of several pairs (factors shuffled, so not in the evaluation order)
    std::vector<int> cubic_feature, cubic_offsets = {0}, cubic_factors;
    std::vector<double> cubic_coefficient;
    const int n_cubic_density = 40;
    for (int a = 0; a < 4; ++a)
        for (int b = a; b < a + 7; ++b) {
            const int size = (a * 7 + b) % 12 + 1;  // every size appears
            for (int k = 0; k < size; ++k) {
                std::vector<int> term = {b + 1 + 2 * k, a, b};
                std::shuffle(term.begin(), term.end(), generator);
                cubic_feature.push_back(static_cast<int>(cubic_coefficient.size()));
                cubic_coefficient.push_back(uniform(generator));
                cubic_factors.insert(cubic_factors.end(), term.begin(), term.end());
                cubic_offsets.push_back(static_cast<int>(cubic_factors.size()));
            }
        }
    const int n_cubic_features = static_cast<int>(cubic_feature.size());
    const lepot::CouplingSet cubic_set(n_cubic_features, n_cubic_density, n_cubic_features, cubic_feature.data(),
                                       cubic_coefficient.data(), cubic_offsets.data(), cubic_factors.data());
    std::vector<double> cubic_weights(n_cubic_features), cubic_density(n_cubic_density);
    for (double& w : cubic_weights) w = uniform(generator);
    for (double& a : cubic_density) a = uniform(generator);
    check_against_features(cubic_set, 1, cubic_weights, cubic_density, "cubic pairs of sizes 1-12");

    std::vector<double> bad = coefficients;
    bad[3] = std::nan("");
    check_throws<std::invalid_argument>([&] { lepot::EnergyPolynomial(set, n_species, bad.data()); }, "non-finite coefficient",
                                        "NaN coefficient");
    return finish("energy_polynomial");
}
