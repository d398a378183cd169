// core_repulsion.hpp: the pair switch s (1 below r_inner, 0 above r_outer, C² in between), the ZBL
// screening summing to one at r -> 0, derivatives against finite differences, symmetry, unlisted pairs,
// and refusal of bad pair lists.
#include "core_repulsion.hpp"

#include <vector>

#include "check.hpp"

using namespace native_test;

int main() {
    const std::vector<int> numbers = {42, 74, 14};
    const std::vector<int> pairs = {0, 1, 2, 2};
    const std::vector<double> radii = {0.8, 2.0, 1.0, 1.5};
    const lepot::CoreRepulsion core(3, numbers.data(), lepot::PairSwitch(3, 2, pairs.data(), radii.data()));
    check(core.enabled() && core.max_range() == 2.0, "enabled, range 2 Å");
    double derivative, other;
    // r -> 0: φ r -> Z_a Z_b e²/(4πε₀) (the four screening coefficients sum to one)
    const double r_small = 1e-7;
    check_close(core.pair_energy(0, 1, r_small, derivative) * r_small, 14.399645478425668 * 42 * 74, 1e-4,
                "unscreened Coulomb limit");
    // symmetric in the pair
    check(core.pair_energy(0, 1, 1.3, derivative) == core.pair_energy(1, 0, 1.3, other) && derivative == other,
          "symmetric");
    // unlisted pairs and r >= r_outer give nothing
    check(core.pair_energy(0, 0, 0.5, derivative) == 0.0 && derivative == 0.0, "unlisted pair");
    check(core.pair_energy(0, 1, 2.0, derivative) == 0.0 && derivative == 0.0, "zero at r_outer");
    // switch: full ZBL at r_inner, zero slope of the switch at both ends (C¹ pair energy)
    const double inside = core.pair_energy(0, 1, 0.8, derivative);
    const double just_outside = core.pair_energy(0, 1, 0.8 + 1e-9, other);
    check_close(inside, just_outside, 1e-6, "continuous at r_inner");
    check_close(derivative, other, 1e-5, "slope continuous at r_inner");
    core.pair_energy(0, 1, 2.0 - 1e-7, derivative);
    check(std::fabs(derivative) < 1e-9, "slope vanishes at r_outer");
    for (double r : {0.3, 0.8, 1.1, 1.9, 1.3}) {
        core.pair_energy(0, 1, r, derivative);
        const double numeric = central_difference([&](double x) { double d; return core.pair_energy(0, 1, x, d); }, r, 1e-6);
        check_close(derivative, numeric, 1e-6, "dφs/dr by finite differences");
        check(derivative < 0.0, "repulsive");
    }

    // the switch itself: values at the ends, slope by finite differences
    const lepot::PairSwitch& pair_switch = core.pair_switch();
    double ds;
    check(pair_switch.value(0, 1, 0.5, ds) == 1.0 && ds == 0.0, "s = 1 below r_inner");
    check(pair_switch.value(1, 0, 2.5, ds) == 0.0 && ds == 0.0, "s = 0 beyond r_outer");
    check(!pair_switch.active(0, 0) && pair_switch.active(2, 2), "listed pairs only");
    for (double r : {0.9, 1.4, 1.95}) {
        pair_switch.value(0, 1, r, ds);
        check_close(ds, central_difference([&](double x) { double d; return pair_switch.value(0, 1, x, d); }, r, 1e-6),
                    1e-7, "ds/dr by finite differences");
    }
    const lepot::CoreRepulsion none(3, numbers.data(), lepot::PairSwitch(3, 0, nullptr, nullptr));
    check(!none.enabled() && none.pair_energy(0, 1, 0.1, derivative) == 0.0, "no pairs: disabled");

    const std::vector<int> repeated = {0, 1, 1, 0};
    const std::vector<double> two_radii = {0.8, 2.0, 0.8, 2.0};
    check_throws<std::invalid_argument>([&] { lepot::PairSwitch(3, 2, repeated.data(), two_radii.data()); },
                                        "repeats a species pair", "repeated pair");
    const std::vector<int> outside = {0, 3};
    check_throws<std::invalid_argument>([&] { lepot::PairSwitch(3, 1, outside.data(), radii.data()); },
                                        "species index outside", "species out of range");
    const std::vector<double> inverted = {2.0, 0.8};
    check_throws<std::invalid_argument>([&] { lepot::PairSwitch(3, 1, pairs.data(), inverted.data()); },
                                        "0 <= r_inner < r_outer", "inverted radii");
    return finish("core_repulsion");
}
