// radial_spline.hpp: a cubic Hermite spline reproduces cubics exactly, its derivative is the
// interpolant's, the weighted form is the product rule, the padding functions are zero, it is zero at and
// beyond r_max, and bad tables are refused.
#include "radial_spline.hpp"

#include <vector>

#include "check.hpp"

using namespace native_test;

int main() {
    // two functions: p(r) = 1 - 2r + 0.5 r² - 0.1 r³ and q(r) = r³ on [0, 3] with 7 nodes
    const int n_nodes = 7, n_functions = 2;
    const double r_max = 3.0;
    std::vector<double> values(n_nodes * n_functions), derivatives(n_nodes * n_functions);
    auto p = [](double r) { return 1 - 2 * r + 0.5 * r * r - 0.1 * r * r * r; };
    auto dp = [](double r) { return -2 + r - 0.3 * r * r; };
    for (int k = 0; k < n_nodes; ++k) {
        const double r = r_max * k / (n_nodes - 1);
        values[k * 2] = p(r);
        derivatives[k * 2] = dp(r);
        values[k * 2 + 1] = r * r * r;
        derivatives[k * 2 + 1] = 3 * r * r;
    }
    const lepot::RadialSpline spline(n_functions, n_nodes, r_max, values.data(), derivatives.data());
    check(spline.padded_functions() == lepot::simd_block, "two functions pad to one block");
    std::vector<double> v(spline.padded_functions()), d(spline.padded_functions());
    for (double r : {0.0, 0.2, 1.0, 1.37, 2.5, 2.999999}) {
        spline.evaluate<true>(r, 1.0, 0.0, v.data(), d.data());
        check_close(v[0], p(r), 1e-13, "cubic p reproduced");
        check_close(d[0], dp(r), 1e-12, "cubic p' reproduced");
        check_close(v[1], r * r * r, 1e-13, "r³ reproduced");
        for (int f = n_functions; f < spline.padded_functions(); ++f)
            check(v[f] == 0.0 && d[f] == 0.0, "padding functions are zero");
        const double w = 0.7 - 0.1 * r, dw = -0.1;  // a weight w(r) and its derivative
        std::vector<double> weighted(v.size()), weighted_deriv(v.size());
        spline.evaluate<true>(r, w, dw, weighted.data(), weighted_deriv.data());
        check_close(weighted[0], w * p(r), 1e-13, "w p");
        check_close(weighted_deriv[0], w * dp(r) + dw * p(r), 1e-12, "(w p)' by the product rule");
    }
    for (double r : {3.0, 3.5, 1e300}) {
        spline.evaluate<true>(r, 1.0, 0.0, v.data(), d.data());
        check(v[0] == 0.0 && v[1] == 0.0 && d[0] == 0.0 && d[1] == 0.0, "zero at and beyond r_max");
    }
    // one function, two nodes: the smallest table
    const double one_value[2] = {1.0, 0.0}, one_derivative[2] = {0.0, 0.0};
    const lepot::RadialSpline smallest(1, 2, 1.0, one_value, one_derivative);
    smallest.evaluate<false>(0.5, 1.0, 0.0, v.data(), nullptr);
    check_close(v[0], 0.5, 1e-15, "two-node spline");

    std::vector<double> broken = values;
    broken[5] = std::nan("");
    check_throws<std::invalid_argument>([&] { lepot::RadialSpline(2, 7, 3.0, broken.data(), derivatives.data()); },
                                        "non-finite table entry at node 2, function 1", "NaN node");
    check_throws<std::invalid_argument>([&] { lepot::RadialSpline(2, 1, 3.0, values.data(), derivatives.data()); },
                                        "n_nodes must be >= 2", "one node");
    check_throws<std::invalid_argument>([&] { lepot::RadialSpline(0, 7, 3.0, values.data(), derivatives.data()); },
                                        "n_functions must be >= 1", "no functions");
    check_throws<std::invalid_argument>([&] { lepot::RadialSpline(2, 7, -3.0, values.data(), derivatives.data()); },
                                        "r_max must be positive", "negative range");
    return finish("radial_spline");
}
