// Smooth radial cutoff f_c(r), applied analytically on top of the splined LE functions.
//
// Shifted cosine over a width δ below the cutoff radius r_c:
//   f_c(r) = 1                                      r <= r_c - δ
//          = (1 + cos(π (r - r_c + δ) / δ)) / 2      r_c - δ < r < r_c
//          = 0                                      r >= r_c
// f_c and df_c/dr are continuous everywhere, so energies and forces are continuous as a neighbour
// crosses r_c. The cutoff is not splined: its kink in d²f_c/dr² at r_c - δ would limit the spline
// accuracy, while the LE functions themselves are smooth.
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
        const double start = cutoff_ - width_;
        if (r <= start) {
            derivative = 0.0;
            return 1.0;
        }
        if (r >= cutoff_) {
            derivative = 0.0;
            return 0.0;
        }
        const double phase = M_PI * (r - start) / width_;
        derivative = -0.5 * M_PI / width_ * std::sin(phase);
        return 0.5 * (1.0 + std::cos(phase));
    }

private:
    double cutoff_;
    double width_;
};

}  // namespace lepot
