// laplacian_eigenstates.hpp: spherical Bessel functions against closed forms in every evaluation branch,
// zeros, the LE selection, normalisation by quadrature, derivatives by finite differences, limits.
#include "laplacian_eigenstates.hpp"

#include <cmath>

#include "check.hpp"

using namespace native_test;

namespace {
// Closed forms of j_0, j_1, j_2 (valid away from x = 0)
double closed_form(int l, double x) {
    const double s = std::sin(x), c = std::cos(x);
    if (l == 0) return s / x;
    if (l == 1) return s / (x * x) - c / x;
    return (3.0 / (x * x) - 1.0) * s / x - 3.0 * c / (x * x);
}
}  // namespace

int main() {
    // every branch: power series (x <= 2), downward recursion (2 < x <= l_max), upward (x > l_max)
    for (double x : {0.5, 1.7, 2.0, 2.5, 4.0, 7.5, 11.0, 19.9, 20.5, 33.0, 80.0}) {
        double values[21];
        lepot::spherical_bessel(20, x, values);
        for (int l = 0; l <= 2; ++l)
            check_close(values[l], closed_form(l, x), 1e-13, "j_" + std::to_string(l) + "(" + std::to_string(x) + ")");
        // recurrence j_{l-1} + j_{l+1} = (2l+1)/x j_l holds across the whole table
        for (int l = 1; l < 20; ++l)
            check_close(values[l - 1] + values[l + 1], (2 * l + 1) / x * values[l], 1e-12, "recurrence at l=" + std::to_string(l));
    }
    double at_zero[4];
    lepot::spherical_bessel(3, 0.0, at_zero);
    check(at_zero[0] == 1.0 && at_zero[1] == 0.0 && at_zero[3] == 0.0, "j_l(0) = δ_l0");

    // zeros: j_l(z) = 0, interlacing z_{n,l} < z_{n,l+1} < z_{n+1,l}, z_{n,0} = (n+1) π
    const int l_max = 8, n_zeros = 6;
    const std::vector<double> zeros = lepot::spherical_bessel_zeros(l_max, n_zeros);
    for (int l = 0; l <= l_max; ++l)
        for (int n = 0; n < n_zeros; ++n) {
            const double z = zeros[l * n_zeros + n];
            check(std::fabs(lepot::spherical_bessel(l, z)) < 1e-14, "j_l vanishes at its zero");
            if (l == 0) check_close(z, M_PI * (n + 1), 1e-15, "zeros of j_0");
            if (l > 0) check(zeros[(l - 1) * n_zeros + n] < z, "interlacing below");
            if (l > 0 && n + 1 < n_zeros) check(z < zeros[(l - 1) * n_zeros + n + 1], "interlacing above");
        }
    check_throws<std::invalid_argument>([] { lepot::spherical_bessel_zeros(-1, 3); }, "need l_max >= 0", "negative l_max");

    // selection: every kept z_nl² <= (n_max π)², counts non-increasing, n_0 = n_max
    const lepot::LaplacianEigenstates basis(4.5, 6, 8);
    const std::vector<int>& sizes = basis.n_radial();
    check(sizes[0] == 6, "n_radial(0) = n_max");
    for (size_t l = 1; l < sizes.size(); ++l) check(sizes[l] <= sizes[l - 1], "n_radial non-increasing");
    for (int f = 0; f < basis.n_functions(); ++f) check(basis.zero(f) <= 6 * M_PI * (1 + 1e-12), "kept eigenvalues");

    // normalisation ∫_0^rc r² S² dr = 1 and orthogonality within one l (Simpson, 4000 intervals)
    const int intervals = 4000;
    for (int f = 0; f < basis.n_functions(); ++f)
        for (int g = f; g < basis.n_functions() && basis.angular_order(g) == basis.angular_order(f); ++g) {
            double integral = 0.0;
            for (int k = 0; k <= intervals; ++k) {
                const double r = 4.5 * k / intervals;
                double sf, dsf, sg, dsg;
                basis.evaluate(f, r, sf, dsf);
                basis.evaluate(g, r, sg, dsg);
                const double weight = (k == 0 || k == intervals) ? 1.0 : (k % 2 ? 4.0 : 2.0);
                integral += weight * r * r * sf * sg;
            }
            integral *= 4.5 / intervals / 3.0;
            check_close(integral, f == g ? 1.0 : 0.0, 1e-9, "orthonormality " + std::to_string(f) + "," + std::to_string(g));
        }

    // dS/dr against central differences, including near r = 0
    for (int f = 0; f < basis.n_functions(); ++f)
        for (double r : {1e-3, 0.3, 2.2, 4.4}) {
            double value, derivative;
            basis.evaluate(f, r, value, derivative);
            const double numeric = central_difference(
                [&](double x) {
                    double v, d;
                    basis.evaluate(f, x, v, d);
                    return v;
                },
                r, 1e-5);
            check_close(derivative, numeric, 1e-7, "dS/dr of function " + std::to_string(f));
        }

    check_throws<std::invalid_argument>([] { lepot::LaplacianEigenstates(5.0, 0, 3); }, "n_max must be in [1, 128]", "n_max 0");
    check_throws<std::invalid_argument>([] { lepot::LaplacianEigenstates(5.0, 129, 3); }, "n_max must be in", "n_max 129");
    check_throws<std::invalid_argument>([] { lepot::LaplacianEigenstates(5.0, 4, 21); }, "l_max must be in [0, 20]", "l_max 21");
    check_throws<std::invalid_argument>([] { lepot::LaplacianEigenstates(-1.0, 4, 3); }, "cutoff radius", "negative cutoff");
    // one channel: n_max = 1, l_max = 0
    const lepot::LaplacianEigenstates single(3.0, 1, 0);
    check(single.n_functions() == 1 && single.n_radial().size() == 1, "a single radial function");
    return finish("laplacian_eigenstates");
}
