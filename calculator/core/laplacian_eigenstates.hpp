// Laplacian-eigenstate (LE) radial basis: spherical Bessel functions, their zeros, the eigenvalue
// selection of (n, l) and the normalised radial functions (Bigi et al., "A smooth basis for atomistic
// machine learning").
//
//   S_nl(r) = N_nl j_l(z_nl r / r_c),   z_nl = (n+1)-th positive zero of j_l,
//   N_nl    = sqrt(2 / r_c^3) / |j_{l+1}(z_nl)|     so that ∫_0^{r_c} r^2 S_nl(r)^2 dr = 1.
//
// Selection for a size n_max: keep every (n, l) with z_nl^2 <= (n_max π)^2 (the l = 0 eigenvalue of
// n = n_max - 1) and l <= l_max; trailing l with no function are dropped, so n_radial(l) is
// non-increasing and n_radial(0) = n_max. The radial function the model uses is f_c(r) S_nl(r); only
// S_nl is tabulated (cutoff_function.hpp applies f_c).
//
// This is the one implementation of the LE functions: Python builds its spline tables with it (through
// the Cython bindings) and the parameter-file reader checks stored tables against it. Units: r, r_c in Å,
// S_nl in Å^(-3/2), dS_nl/dr in Å^(-5/2).
#pragma once

#include <cmath>
#include <stdexcept>
#include <string>
#include <vector>

namespace lepot {

// Largest n_max and l_max a basis may declare (l is also limited by spherical_harmonics.hpp).
constexpr int max_radial_size = 128;
constexpr int max_angular_order = 20;

// j_0(x) .. j_l_max(x) into values [l_max+1] for x >= 0.
// x > l_max: upward recursion from j_0, j_1 (stable there). x <= 2: power series. Otherwise Miller's
// downward recursion normalised with Σ_k (2k+1) j_k(x)^2 = 1, which holds for every x.
inline void spherical_bessel(int l_max, double x, double* values) {
    if (x > l_max && x > 2.0) {
        const double s = std::sin(x), c = std::cos(x);
        values[0] = s / x;
        if (l_max >= 1) values[1] = s / (x * x) - c / x;
        for (int l = 1; l < l_max; ++l) values[l + 1] = (2 * l + 1) / x * values[l] - values[l - 1];
        return;
    }
    if (x <= 2.0) {
        // j_l(x) = x^l / (2l+1)!! Σ_k (-x²/2)^k / (k! (2l+3)(2l+5)...(2l+2k+1)); 30 terms reach round-off for x <= 2
        double leading = 1.0;  // x^l / (2l+1)!!
        for (int l = 0; l <= l_max; ++l) {
            if (l > 0) leading *= x / (2 * l + 1);
            double term = 1.0, sum = 1.0;
            for (int k = 1; k < 30; ++k) {
                term *= -0.5 * x * x / (k * (2.0 * l + 2.0 * k + 1.0));
                sum += term;
            }
            values[l] = leading * sum;
        }
        return;
    }
    const int start = l_max + 20 + 2 * static_cast<int>(std::sqrt(40.0 * (l_max + x)));
    double above = 0.0, current = 1.0, norm = 0.0;  // unnormalised j_{l+1} and j_l
    for (int l = start; l >= 0; --l) {
        if (l <= l_max) values[l] = current;
        norm += (2 * l + 1) * current * current;
        if (l == 0) break;
        const double below = (2 * l + 1) / x * current - above;
        above = current;
        current = below;
        if (std::fabs(current) > 1e100) {  // rescale what is kept so far (values[l..l_max] once stored)
            above *= 1e-100;
            current *= 1e-100;
            norm *= 1e-200;
            for (int k = l; k <= l_max; ++k) values[k] *= 1e-100;
        }
    }
    const double scale = 1.0 / std::sqrt(norm);
    for (int l = 0; l <= l_max; ++l) values[l] *= scale;
}

// j_l(x) alone.
inline double spherical_bessel(int l, double x) {
    std::vector<double> values(l + 1);
    spherical_bessel(l, x, values.data());
    return values[l];
}

// j_l(x) and dj_l/dx for x >= 0 (dj_0/dx = -j_1; dj_l/dx = j_{l-1} - (l+1) j_l / x).
inline void spherical_bessel_with_derivative(int l, double x, double& value, double& derivative) {
    double scratch[max_angular_order + 3];
    std::vector<double> heap;
    double* values = scratch;
    if (l + 2 > max_angular_order + 3) {
        heap.resize(l + 2);
        values = heap.data();
    }
    spherical_bessel(l + 1, x, values);
    value = values[l];
    if (l == 0) {
        derivative = -values[1];
    } else if (x == 0.0) {
        derivative = l == 1 ? 1.0 / 3.0 : 0.0;
    } else {
        derivative = values[l - 1] - (l + 1) * values[l] / x;
    }
}

// First n_zeros positive zeros of j_l for l = 0..l_max, shape [l_max+1][n_zeros].
// Interlacing z_{n,l} < z_{n,l+1} < z_{n+1,l} brackets the zeros of j_{l+1} between consecutive zeros
// of j_l, starting from z_{n,0} = (n+1) π; each is refined by bisection to the last bit.
inline std::vector<double> spherical_bessel_zeros(int l_max, int n_zeros) {
    if (l_max < 0 || n_zeros < 1) throw std::invalid_argument("spherical Bessel zeros: need l_max >= 0 and n_zeros >= 1");
    const int n_needed = n_zeros + l_max + 1;
    std::vector<double> previous(n_needed);
    for (int n = 0; n < n_needed; ++n) previous[n] = M_PI * (n + 1);
    std::vector<double> zeros(static_cast<size_t>(l_max + 1) * n_zeros);
    for (int n = 0; n < n_zeros; ++n) zeros[n] = previous[n];
    std::vector<double> values(l_max + 1);
    for (int l = 1; l <= l_max; ++l) {
        std::vector<double> current(previous.size() - 1);
        for (size_t k = 0; k + 1 < previous.size(); ++k) {
            double low = previous[k], high = previous[k + 1];
            spherical_bessel(l, low, values.data());
            const double sign_low = values[l];
            while (true) {
                const double middle = 0.5 * (low + high);
                if (middle <= low || middle >= high) break;
                spherical_bessel(l, middle, values.data());
                if ((values[l] < 0.0) == (sign_low < 0.0)) {
                    low = middle;
                } else {
                    high = middle;
                }
            }
            current[k] = 0.5 * (low + high);
        }
        for (int n = 0; n < n_zeros; ++n) zeros[static_cast<size_t>(l) * n_zeros + n] = current[n];
        previous = current;
    }
    return zeros;
}

// The LE functions of one basis, in layout order (for l, for n: radial_offset(l) + n).
class LaplacianEigenstates {
public:
    LaplacianEigenstates(double cutoff, int n_max, int l_max) : cutoff_(cutoff) {
        if (!(cutoff > 0.0) || !std::isfinite(cutoff))
            throw std::invalid_argument("LE basis: the cutoff radius must be positive and finite");
        if (n_max < 1 || n_max > max_radial_size)
            throw std::invalid_argument("LE basis: n_max must be in [1, " + std::to_string(max_radial_size) + "], got " +
                                        std::to_string(n_max));
        if (l_max < 0 || l_max > max_angular_order)
            throw std::invalid_argument("LE basis: l_max must be in [0, " + std::to_string(max_angular_order) +
                                        "], got " + std::to_string(l_max));
        const std::vector<double> zeros = spherical_bessel_zeros(l_max, n_max);
        const double limit = (n_max * M_PI) * (n_max * M_PI) * (1.0 + 1e-12);
        for (int l = 0; l <= l_max; ++l) {
            int count = 0;
            while (count < n_max && zeros[static_cast<size_t>(l) * n_max + count] *
                                            zeros[static_cast<size_t>(l) * n_max + count] <= limit)
                ++count;
            if (count == 0) break;  // z_{0,l} grows with l: no higher l has a function either
            n_radial_.push_back(count);
            for (int n = 0; n < count; ++n) {
                const double z = zeros[static_cast<size_t>(l) * n_max + n];
                zeros_.push_back(z);
                angular_.push_back(l);
                const double next = spherical_bessel(l + 1, z);
                normalisation_.push_back(std::sqrt(2.0 / (cutoff * cutoff * cutoff)) / std::fabs(next));
            }
        }
    }

    double cutoff() const { return cutoff_; }
    // n_l for l = 0 .. (number of angular channels - 1), shape [n_angular]
    const std::vector<int>& n_radial() const { return n_radial_; }
    int n_functions() const { return static_cast<int>(zeros_.size()); }
    double zero(int f) const { return zeros_[f]; }
    int angular_order(int f) const { return angular_[f]; }
    double normalisation(int f) const { return normalisation_[f]; }

    // S_f(r) and dS_f/dr of function f (layout order) at r in [0, r_c].
    void evaluate(int f, double r, double& value, double& derivative) const {
        const double scale = zeros_[f] / cutoff_;
        double j, dj;
        spherical_bessel_with_derivative(angular_[f], scale * r, j, dj);
        value = normalisation_[f] * j;
        derivative = normalisation_[f] * scale * dj;
    }

private:
    double cutoff_;
    std::vector<int> n_radial_;          // shape [n_angular]
    std::vector<double> zeros_;          // shape [n_functions], z_nl
    std::vector<int> angular_;           // shape [n_functions], l
    std::vector<double> normalisation_;  // shape [n_functions], N_nl (Å^(-3/2))
};

}  // namespace lepot
