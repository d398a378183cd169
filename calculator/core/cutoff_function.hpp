// Smooth radial cutoff f_c(r), applied analytically on top of the splined LE functions.
//
// Shifted cosine over a width δ below the cutoff radius r_c:
//   f_c(r) = 1                                      r <= r_c - δ
//          = (1 + cos(π (r - r_c + δ) / δ)) / 2      r_c - δ < r < r_c
//          = 0                                      r >= r_c
// f_c and df_c/dr are continuous everywhere, so energies and forces are continuous as a neighbour
// crosses r_c. The cutoff is not splined: its kink in d²f_c/dr² at r_c - δ would limit the spline
// accuracy, while the LE functions themselves are smooth. The cosine and sine are Taylor series
// evaluated for a block of pairs at once (no libm call per pair; within 1e-15 of libm's, tested).
#pragma once

#include <cmath>
#include <stdexcept>

namespace lepot {

class CutoffFunction {
public:
    CutoffFunction(double cutoff, double width) : cutoff_(cutoff), width_(width) {
        if (!(cutoff > 0.0) || !std::isfinite(cutoff)) throw std::invalid_argument("cutoff radius must be positive");
        if (!(width > 0.0) || !(width <= cutoff))
            throw std::invalid_argument("cutoff width must be in (0, cutoff radius]");
    }

    double cutoff() const { return cutoff_; }
    double width() const { return width_; }

    // Returns f_c(r); writes df_c/dr (1/Å) to derivative.
    double evaluate(double r, double& derivative) const {
        double value;
        evaluate_block<1>(&r, &value, &derivative);
        return value;
    }

    // f_c and df_c/dr (1/Å) of Width distances at once (r, value, derivative: [Width], Å). With
    // z = π (r - r_c + δ)/δ - π/2 in [-π/2, π/2] on the cosine part: f_c = (1 - sin z)/2 and
    // df_c/dr = -π/(2δ) cos z, sin and cos by their Taylor series to z^21 and z^22 (remainders below 1e-18
    // for |z| <= π/2), as multiply-adds over the Width lanes.
    template <int Width>
    void evaluate_block(const double* r, double* value, double* derivative) const {
        const double start = cutoff_ - width_, scale = M_PI / width_;
#pragma omp simd
        for (int i = 0; i < Width; ++i) {
            const double z = scale * (std::fmin(std::fmax(r[i], start), cutoff_) - start) - 0.5 * M_PI;
            const double z2 = z * z;
            const double sine = z * series(sine_series, z2), cosine = series(cosine_series, z2);
            value[i] = r[i] <= start ? 1.0 : (r[i] >= cutoff_ ? 0.0 : 0.5 * (1.0 - sine));
            derivative[i] = r[i] <= start || r[i] >= cutoff_ ? 0.0 : -0.5 * scale * cosine;
        }
    }

private:
    // Taylor coefficients in z², highest power first: sin z = z Σ_k (-1)^k z^2k / (2k+1)!, k = 10..0, and
    // cos z = Σ_k (-1)^k z^2k / (2k)!, k = 11..0.
    static constexpr double sine_series[11] = {
        1.0 / 51090942171709440000.0, -1.0 / 121645100408832000.0, 1.0 / 355687428096000.0,
        -1.0 / 1307674368000.0,       1.0 / 6227020800.0,           -1.0 / 39916800.0,
        1.0 / 362880.0,               -1.0 / 5040.0,                1.0 / 120.0,
        -1.0 / 6.0,                   1.0};
    static constexpr double cosine_series[12] = {
        -1.0 / 1124000727777607680000.0, 1.0 / 2432902008176640000.0, -1.0 / 6402373705728000.0,
        1.0 / 20922789888000.0,          -1.0 / 87178291200.0,        1.0 / 479001600.0,
        -1.0 / 3628800.0,                1.0 / 40320.0,               -1.0 / 720.0,
        1.0 / 24.0,                      -0.5,                        1.0};

    // Σ_k coefficients[k] x^(N-1-k) by Horner's rule.
    template <int N>
    static double series(const double (&coefficients)[N], double x) {
        double sum = coefficients[0];
#pragma GCC unroll 16
        for (int k = 1; k < N; ++k) sum = sum * x + coefficients[k];
        return sum;
    }

    double cutoff_;
    double width_;
};

}  // namespace lepot
