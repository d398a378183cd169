// cutoff_function.hpp: values at the ends, C1 continuity, derivative by finite differences, bad input.
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
    check_throws<std::invalid_argument>([] { lepot::CutoffFunction(0.0, 1.0); }, "cutoff radius must be positive", "zero radius");
    check_throws<std::invalid_argument>([] { lepot::CutoffFunction(5.0, 6.0); }, "cutoff width", "width above radius");
    check_throws<std::invalid_argument>([] { lepot::CutoffFunction(5.0, 0.0); }, "cutoff width", "zero width");
    return finish("cutoff_function");
}
