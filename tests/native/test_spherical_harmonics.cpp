// spherical_harmonics.hpp: closed forms for l <= 2, points on the z axis, gradients by finite
// differences (tangential, 1/|r|), and the l_max limit.
#include "spherical_harmonics.hpp"

#include <vector>

#include "check.hpp"

using namespace native_test;

int main() {
    const int l_max = 6;
    const lepot::SphericalHarmonics harmonics(l_max);
    std::vector<double> ylm(harmonics.size()), gradient(3 * harmonics.size()), scratch(harmonics.scratch_size());
    const double v[3] = {0.3, -1.1, 0.7};
    harmonics.compute<true>(v, ylm.data(), gradient.data(), scratch.data());
    const double r = std::sqrt(0.09 + 1.21 + 0.49), x = v[0] / r, y = v[1] / r, z = v[2] / r;
    check_close(ylm[0], 0.5 / std::sqrt(M_PI), 1e-15, "Y_00");
    const double c1 = std::sqrt(3.0 / (4.0 * M_PI));
    check_close(ylm[lepot::ylm_index(1, -1)], c1 * y, 1e-15, "Y_1,-1");
    check_close(ylm[lepot::ylm_index(1, 0)], c1 * z, 1e-15, "Y_10");
    check_close(ylm[lepot::ylm_index(1, 1)], c1 * x, 1e-15, "Y_11");
    check_close(ylm[lepot::ylm_index(2, 0)], std::sqrt(5.0 / (16.0 * M_PI)) * (3 * z * z - 1), 1e-14, "Y_20");
    check_close(ylm[lepot::ylm_index(2, -2)], std::sqrt(15.0 / (4.0 * M_PI)) * x * y, 1e-14, "Y_2,-2");

    // gradients against central differences of Y_lm(r) in each Cartesian direction
    std::vector<double> plus(harmonics.size()), minus(harmonics.size()), unused(3 * harmonics.size());
    for (int alpha = 0; alpha < 3; ++alpha) {
        double shifted_plus[3] = {v[0], v[1], v[2]}, shifted_minus[3] = {v[0], v[1], v[2]};
        shifted_plus[alpha] += 1e-6;
        shifted_minus[alpha] -= 1e-6;
        harmonics.compute<false>(shifted_plus, plus.data(), unused.data(), scratch.data());
        harmonics.compute<false>(shifted_minus, minus.data(), unused.data(), scratch.data());
        for (int i = 0; i < harmonics.size(); ++i)
            check_close(gradient[3 * i + alpha], (plus[i] - minus[i]) / 2e-6, 1e-8, "∇Y by finite differences");
    }
    // on the z axis (no division by sin θ): finite values and gradients
    for (double sign : {1.0, -1.0}) {
        const double axis[3] = {0.0, 0.0, 2.0 * sign};
        harmonics.compute<true>(axis, ylm.data(), gradient.data(), scratch.data());
        for (double g : gradient) check(std::isfinite(g), "finite gradient on the z axis");
        check_close(ylm[lepot::ylm_index(1, 0)], sign * c1, 1e-15, "Y_10 on the axis");
    }
    check_throws<std::invalid_argument>([] { lepot::SphericalHarmonics(21); }, "l_max must be in [0, 20]", "l_max 21");
    check_throws<std::invalid_argument>([] { lepot::SphericalHarmonics(-1); }, "l_max must be in [0, 20]", "l_max -1");
    return finish("spherical_harmonics");
}
