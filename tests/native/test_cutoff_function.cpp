// cutoff_function.hpp: values at the ends, C1 continuity, derivative by finite differences, the series
// against libm's cosine and sine, a block of distances against one at a time, bad input.
#include "cutoff_function.hpp"

#include "check.hpp"

using namespace native_test;

int main() {
    const lepot::CutoffFunction cutoff(5.0, 1.0);
    double derivative;
    check(cutoff.evaluate(0.0, derivative) == 1.0 && derivative == 0.0, "one inside");
    check(cutoff.evaluate(4.0, derivative) == 1.0 && derivative == 0.0, "one at r_c - δ");
    check(cutoff.evaluate(5.0, derivative) == 0.0 && derivative == 0.0, "zero at r_c");
    check(cutoff.evaluate(7.0, derivative) == 0.0 && derivative == 0.0, "zero beyond r_c");
    check_close(cutoff.evaluate(4.5, derivative), 0.5, 1e-15, "half way");
    for (double r : {4.0 + 1e-9, 5.0 - 1e-9}) {
        cutoff.evaluate(r, derivative);
        check(std::fabs(derivative) < 1e-7, "derivative continuous at the ends");
    }
    for (double r : {4.1, 4.5, 4.93}) {
        cutoff.evaluate(r, derivative);
        const double numeric = central_difference([&](double x) { double d; return cutoff.evaluate(x, d); }, r, 1e-6);
        check_close(derivative, numeric, 1e-8, "df_c/dr");
    }
    // the Taylor series against the definition with libm's cos and sin, on a fine grid across the cosine part
    const double width = 1.3, radius = 4.7, start = radius - width;  // a width and radius of no special form
    const lepot::CutoffFunction other(radius, width);
    double worst_value = 0.0, worst_derivative = 0.0;
    for (int i = 0; i <= 100000; ++i) {
        const double r = start - 0.01 + (width + 0.02) * i / 100000.0;
        const double value = other.evaluate(r, derivative);
        const double phase = M_PI * (r - start) / width;
        const bool inside = r > start && r < radius;
        const double expected = r <= start ? 1.0 : (inside ? 0.5 * (1.0 + std::cos(phase)) : 0.0);
        const double expected_derivative = inside ? -0.5 * M_PI / width * std::sin(phase) : 0.0;
        worst_value = std::fmax(worst_value, std::fabs(value - expected));
        worst_derivative = std::fmax(worst_derivative, std::fabs(derivative - expected_derivative));
    }
    check(worst_value <= 1e-15, "f_c within 1e-15 of (1 + cos)/2: " + std::to_string(worst_value));
    check(worst_derivative <= 1e-14, "df_c/dr within 1e-14 of its libm form: " + std::to_string(worst_derivative));
    const double block[8] = {0.5, 3.4, 3.41, 3.9, 4.05, 4.6999, 4.7, 9.0};
    double values[8], derivatives[8];
    other.evaluate_block<8>(block, values, derivatives);
    for (int i = 0; i < 8; ++i) {
        const double value = other.evaluate(block[i], derivative);
        check(values[i] == value && derivatives[i] == derivative, "a block equals one at a time");
    }
    check_throws<std::invalid_argument>([] { lepot::CutoffFunction(0.0, 1.0); }, "cutoff radius must be positive", "zero radius");
    check_throws<std::invalid_argument>([] { lepot::CutoffFunction(5.0, 6.0); }, "cutoff width", "width above radius");
    check_throws<std::invalid_argument>([] { lepot::CutoffFunction(5.0, 0.0); }, "cutoff width", "zero width");
    return finish("cutoff_function");
}
