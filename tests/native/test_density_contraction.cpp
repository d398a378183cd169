// density_contraction.hpp: Ã = W A by hand on a small layout, backward() is the transpose of forward()
// (⟨W a, g⟩ = ⟨a, Wᵀ g⟩ for random a, g), an absent contraction copies, and malformed weights are refused.
#include "density_contraction.hpp"

#include <random>
#include <vector>

#include "check.hpp"

using namespace native_test;

int main() {
    // two pseudo-elements, n_radial = [3, 2] (l = 0, 1), K = [2, 1]
    const std::vector<int> n_radial = {3, 2}, channels = {2, 1};
    const int n_pseudo = 2, n_nlm = 3 + 2 * 3, n_density = n_pseudo * n_nlm, n_contracted = 2 + 1 * 3;
    std::mt19937 generator(3);
    std::uniform_real_distribution<double> uniform(-1.0, 1.0);
    std::vector<double> weights(2 * 2 * 3 + 1 * 2 * 2);  // W_0 [2][2][3], W_1 [1][2][2]
    for (double& w : weights) w = uniform(generator);
    const lepot::DensityContraction contraction(n_pseudo, n_radial, channels, weights);
    check(contraction.enabled() && contraction.n_contracted() == n_contracted, "sizes");
    check(contraction.n_extended(n_density) == n_density + n_contracted, "extended size");

    std::vector<double> density(n_density), extended(n_density + n_contracted);
    for (double& a : density) a = uniform(generator);
    contraction.forward(density.data(), extended.data());
    for (int a = 0; a < n_density; ++a) check(extended[a] == density[a], "A is copied first");
    // Ã_{k,00} = Σ_p Σ_n W_0[k][p][n] A_{p,n00};  Ã_{0,1m} = Σ_p Σ_n W_1[0][p][n] A_{p,n1m}
    for (int k = 0; k < 2; ++k) {
        double expected = 0.0;
        for (int p = 0; p < 2; ++p)
            for (int n = 0; n < 3; ++n) expected += weights[(k * 2 + p) * 3 + n] * density[p * n_nlm + n];
        check_close(extended[n_density + k], expected, 1e-14, "l = 0 channel by hand");
    }
    for (int mm = 0; mm < 3; ++mm) {
        double expected = 0.0;
        for (int p = 0; p < 2; ++p)
            for (int n = 0; n < 2; ++n) expected += weights[12 + p * 2 + n] * density[p * n_nlm + 3 + n * 3 + mm];
        check_close(extended[n_density + 2 + mm], expected, 1e-14, "l = 1 channel by hand");
    }

    // backward is the transpose: <forward(a), g> = <a, backward(g)>
    std::vector<double> extended_adjoint(n_density + n_contracted), adjoint(n_density);
    for (double& g : extended_adjoint) g = uniform(generator);
    contraction.backward(extended_adjoint.data(), adjoint.data());
    double left = 0.0, right = 0.0;
    for (int a = 0; a < n_density + n_contracted; ++a) left += extended[a] * extended_adjoint[a];
    for (int a = 0; a < n_density; ++a) right += density[a] * adjoint[a];
    check_close(left, right, 1e-13, "backward = forward transposed");

    // no contraction: nothing added
    const lepot::DensityContraction none;
    check(!none.enabled() && none.n_extended(n_density) == n_density, "absent contraction");
    // K_l = 0 everywhere: absent too
    const lepot::DensityContraction zero(n_pseudo, n_radial, {0, 0}, {});
    check(!zero.enabled(), "all K_l = 0");

    check_throws<std::invalid_argument>([&] { lepot::DensityContraction(n_pseudo, n_radial, {2}, weights); },
                                        "angular orders", "channel counts for every l");
    check_throws<std::invalid_argument>([&] { lepot::DensityContraction(n_pseudo, n_radial, {2, 2}, weights); },
                                        "weights, expected", "weights of the wrong length");
    check_throws<std::invalid_argument>([&] { lepot::DensityContraction(n_pseudo, n_radial, {-1, 1}, weights); },
                                        "negative channel count", "negative channel count");
    std::vector<double> bad = weights;
    bad[4] = std::nan("");
    check_throws<std::invalid_argument>([&] { lepot::DensityContraction(n_pseudo, n_radial, channels, bad); },
                                        "non-finite weight", "non-finite weight");
    return finish("density_contraction");
}
