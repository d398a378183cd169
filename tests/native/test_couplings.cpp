// couplings.hpp: evaluation and factor-slot partial derivatives against finite differences, eight centres at
// once against one at a time, a set with no terms, one with a single channel, and refusal of inconsistent
// term lists.
#include "couplings.hpp"

#include <vector>

#include "check.hpp"

using namespace native_test;

int main() {
    // B_0 = 2 A_0, B_1 = A_1 A_2 - 0.5 A_0 A_0 A_3, B_2 = A_3^4 (a repeated factor)
    const std::vector<int> feature = {0, 1, 1, 2};
    const std::vector<double> coefficient = {2.0, 1.0, -0.5, 1.0};
    const std::vector<int> offsets = {0, 1, 3, 6, 10};
    const std::vector<int> factors = {0, 1, 2, 0, 0, 3, 3, 3, 3, 3};
    const lepot::CouplingSet set(3, 4, 4, feature.data(), coefficient.data(), offsets.data(), factors.data());
    std::vector<double> density = {0.3, -1.2, 0.8, 0.45}, features(3), slots(set.n_factor_slots());
    set.evaluate(density.data(), features.data());
    check_close(features[0], 0.6, 1e-15, "B_0");
    check_close(features[1], -1.2 * 0.8 - 0.5 * 0.09 * 0.45, 1e-15, "B_1");
    check_close(features[2], std::pow(0.45, 4), 1e-15, "B_2");
    set.partial_derivatives(density.data(), slots.data());
    // Σ over the slots holding A_a of each term's partial = ∂(term)/∂A_a, checked on every term and index
    for (int t = 0; t < set.n_terms(); ++t)
        for (int a = 0; a < 4; ++a) {
            double analytic = 0.0;
            for (int f = set.term_factor_begin(t); f < set.term_factor_end(t); ++f)
                if (set.factor(f) == a) analytic += slots[f];
            auto term = [&](double value) {
                std::vector<double> shifted = density;
                shifted[a] = value;
                double product = set.coefficient(t);
                for (int f = set.term_factor_begin(t); f < set.term_factor_end(t); ++f) product *= shifted[set.factor(f)];
                return product;
            };
            check_close(analytic, central_difference(term, density[a], 1e-6), 1e-8, "slot partials");
        }

    // eight centres at once (lane w = centre w; three lanes used, the rest zero) against one at a time
    std::vector<double> lane_density(4 * 8, 0.0), lane_features(3 * 8, -1.0);
    const std::vector<std::vector<double>> centres = {density, {-0.7, 0.1, 2.0, -0.3}, {1.5, 0.25, -0.6, 0.9}};
    for (size_t w = 0; w < centres.size(); ++w)
        for (int a = 0; a < 4; ++a) lane_density[a * 8 + w] = centres[w][a];
    set.evaluate_lanes<8>(lane_density.data(), lane_features.data());
    for (size_t w = 0; w < 8; ++w) {
        std::vector<double> one(3, 0.0);
        if (w < centres.size()) set.evaluate(centres[w].data(), one.data());
        for (int q = 0; q < 3; ++q) check_close(lane_features[q * 8 + w], one[q], 1e-15, "lane w = centre w");
    }

    // no terms at all: every feature is zero
    const std::vector<int> no_offsets = {0};
    const lepot::CouplingSet empty(2, 4, 0, nullptr, nullptr, no_offsets.data(), nullptr);
    std::vector<double> two(2, 7.0);
    empty.evaluate(density.data(), two.data());
    check(two[0] == 0.0 && two[1] == 0.0 && empty.n_factor_slots() == 0, "a set with no terms");

    const std::vector<int> bad_factor = {0, 1, 2, 0, 0, 4, 3, 3, 3, 3};
    check_throws<std::invalid_argument>(
        [&] { lepot::CouplingSet(3, 4, 4, feature.data(), coefficient.data(), offsets.data(), bad_factor.data()); },
        "factor index 4 out of range", "factor out of range");
    const std::vector<int> unsorted = {1, 0, 1, 2};
    check_throws<std::invalid_argument>(
        [&] { lepot::CouplingSet(3, 4, 4, unsorted.data(), coefficient.data(), offsets.data(), factors.data()); },
        "grouped by feature", "unsorted terms");
    const std::vector<int> empty_term = {0, 1, 1, 6, 10};
    check_throws<std::invalid_argument>(
        [&] { lepot::CouplingSet(3, 4, 4, feature.data(), coefficient.data(), empty_term.data(), factors.data()); },
        "has no factors", "term without factors");
    const std::vector<double> nan_coefficient = {2.0, std::nan(""), -0.5, 1.0};
    check_throws<std::invalid_argument>(
        [&] { lepot::CouplingSet(3, 4, 4, feature.data(), nan_coefficient.data(), offsets.data(), factors.data()); },
        "non-finite coefficient", "NaN coefficient");
    return finish("couplings");
}
