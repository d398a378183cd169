// Cubic Hermite spline tables for a set of radial functions R_p(r) on [0, r_max].
//
// The tables (node values and node derivatives) are produced by lepot.calculator.radial_basis
// and travel in the parameter file, so every front end evaluates bit-identical radial functions.
// The derivative returned is the exact derivative of the interpolant, so forces computed from it
// are the exact gradient of the splined energy.
#pragma once

#include <cmath>
#include <cstddef>
#include <stdexcept>
#include <string>
#include <vector>

namespace lepot {

class RadialSpline {
public:
    // node_values, node_derivatives: shape [n_nodes][n_functions], nodes at r_k = k * r_max / (n_nodes - 1)
    RadialSpline(int n_functions, int n_nodes, double r_max, const double* node_values,
                 const double* node_derivatives)
        : n_functions_(n_functions), n_nodes_(n_nodes), r_max_(r_max) {
        if (n_functions < 1) throw std::invalid_argument("radial spline: n_functions must be >= 1");
        if (n_nodes < 2) throw std::invalid_argument("radial spline: n_nodes must be >= 2");
        if (!(r_max > 0.0) || !std::isfinite(r_max))
            throw std::invalid_argument("radial spline: r_max must be positive and finite");
        spacing_ = r_max / (n_nodes - 1);
        inverse_spacing_ = 1.0 / spacing_;
        for (size_t i = 0; i < static_cast<size_t>(n_nodes) * n_functions; ++i)
            if (!std::isfinite(node_values[i]) || !std::isfinite(node_derivatives[i]))
                throw std::invalid_argument("radial spline: non-finite table entry at node " +
                                            std::to_string(i / n_functions) + ", function " +
                                            std::to_string(i % n_functions));
        coefficients_.resize(static_cast<size_t>(n_nodes - 1) * 4 * n_functions);
        for (int k = 0; k + 1 < n_nodes; ++k) {
            for (int p = 0; p < n_functions; ++p) {
                const double y0 = node_values[k * n_functions + p];
                const double y1 = node_values[(k + 1) * n_functions + p];
                const double d0 = node_derivatives[k * n_functions + p] * spacing_;
                const double d1 = node_derivatives[(k + 1) * n_functions + p] * spacing_;
                double* c = &coefficients_[static_cast<size_t>(k) * 4 * n_functions + p];
                c[0] = y0;
                c[n_functions] = d0;
                c[2 * n_functions] = 3.0 * (y1 - y0) - 2.0 * d0 - d1;
                c[3 * n_functions] = 2.0 * (y0 - y1) + d0 + d1;
            }
        }
    }

    int n_functions() const { return n_functions_; }
    int n_nodes() const { return n_nodes_; }
    double r_max() const { return r_max_; }

    // values, derivatives: shape [n_functions]; R_p(r) and dR_p/dr (1/Å). Zero for r >= r_max.
    template <bool with_derivatives>
    void evaluate(double r, double* values, double* derivatives) const {
        if (!(r < r_max_)) {
            for (int p = 0; p < n_functions_; ++p) {
                values[p] = 0.0;
                if (with_derivatives) derivatives[p] = 0.0;
            }
            return;
        }
        const double x = r * inverse_spacing_;
        int k = static_cast<int>(x);
        if (k > n_nodes_ - 2) k = n_nodes_ - 2;
        const double t = x - k;
        const size_t width = n_functions_;
        const double* c0 = &coefficients_[static_cast<size_t>(k) * 4 * width];
        const double* c1 = c0 + width;
        const double* c2 = c1 + width;
        const double* c3 = c2 + width;
#pragma omp simd
        for (int p = 0; p < n_functions_; ++p) values[p] = c0[p] + t * (c1[p] + t * (c2[p] + t * c3[p]));
        if (with_derivatives) {
#pragma omp simd
            for (int p = 0; p < n_functions_; ++p)
                derivatives[p] = (c1[p] + t * (2.0 * c2[p] + t * 3.0 * c3[p])) * inverse_spacing_;
        }
    }

private:
    int n_functions_;
    int n_nodes_;
    double r_max_;
    double spacing_;
    double inverse_spacing_;
    // shape [n_nodes - 1][4][n_functions]: value = c0 + c1 t + c2 t^2 + c3 t^3, t = (r - r_k) / spacing
    std::vector<double> coefficients_;
};

}  // namespace lepot
