// Cubic Hermite spline tables for a set of radial functions R_p(r) on [0, r_max].
//
// The tables (node values and node derivatives) are produced by lepot.calculator.radial_basis
// and travel in the parameter file, so every front end evaluates bit-identical radial functions.
// The derivative returned is the exact derivative of the interpolant, so forces computed from it
// are the exact gradient of the splined energy. The table is padded with zero functions to whole vector
// blocks, so evaluate() runs over whole registers without remainder loops.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <stdexcept>
#include <string>
#include <vector>

#include "simd_lanes.hpp"

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
        padded_functions_ = (n_functions + simd_block - 1) / simd_block * simd_block;
        spacing_ = r_max / (n_nodes - 1);
        inverse_spacing_ = 1.0 / spacing_;
        for (size_t i = 0; i < static_cast<size_t>(n_nodes) * n_functions; ++i)
            if (!std::isfinite(node_values[i]) || !std::isfinite(node_derivatives[i]))
                throw std::invalid_argument("radial spline: non-finite table entry at node " +
                                            std::to_string(i / n_functions) + ", function " +
                                            std::to_string(i % n_functions));
        const size_t width = padded_functions_;
        coefficients_.assign(static_cast<size_t>(n_nodes - 1) * 4 * width, 0.0);  // padding columns stay 0
        for (int k = 0; k + 1 < n_nodes; ++k) {
            for (int p = 0; p < n_functions; ++p) {
                const double y0 = node_values[k * n_functions + p];
                const double y1 = node_values[(k + 1) * n_functions + p];
                const double d0 = node_derivatives[k * n_functions + p] * spacing_;
                const double d1 = node_derivatives[(k + 1) * n_functions + p] * spacing_;
                double* c = &coefficients_[static_cast<size_t>(k) * 4 * width + p];
                c[0] = y0;
                c[width] = d0;
                c[2 * width] = 3.0 * (y1 - y0) - 2.0 * d0 - d1;
                c[3 * width] = 2.0 * (y0 - y1) + d0 + d1;
            }
        }
    }

    int n_functions() const { return n_functions_; }
    // n_functions rounded up to whole vector blocks: the length of evaluate()'s outputs.
    int padded_functions() const { return padded_functions_; }
    int n_nodes() const { return n_nodes_; }
    double r_max() const { return r_max_; }

    // The splined functions S_p times a weight w(r): values[p] = w S_p(r) and, with derivatives,
    // derivatives[p] = w dS_p/dr + w' S_p(r) (1/Å), for p < padded_functions() (0 beyond n_functions, and 0
    // for r >= r_max). weight = 1, weight_deriv = 0 gives S and S'. values, derivatives: shape
    // [padded_functions()].
    template <bool with_derivatives>
    void evaluate(double r, double weight, double weight_deriv, double* values, double* derivatives) const {
        const size_t width = padded_functions_;
        if (!(r < r_max_)) {
            std::fill(values, values + width, 0.0);
            if (with_derivatives) std::fill(derivatives, derivatives + width, 0.0);
            return;
        }
        const double x = r * inverse_spacing_;
        int k = static_cast<int>(x);
        if (k > n_nodes_ - 2) k = n_nodes_ - 2;
        const double t = x - k;
        const double* c0 = &coefficients_[static_cast<size_t>(k) * 4 * width];
        const double* c1 = c0 + width;
        const double* c2 = c1 + width;
        const double* c3 = c2 + width;
        const double slope_weight = weight * inverse_spacing_;
        using V = register_vector;
        for (size_t p = 0; p < width; p += register_lanes) {
            const V a0 = load_lanes<V>(c0 + p), a1 = load_lanes<V>(c1 + p), a2 = load_lanes<V>(c2 + p),
                    a3 = load_lanes<V>(c3 + p);
            const V value = a0 + t * (a1 + t * (a2 + t * a3));
            store_lanes(values + p, weight * value);
            if (!with_derivatives) continue;
            const V slope = a1 + t * (2.0 * a2 + t * (3.0 * a3));  // dS/dt
            store_lanes(derivatives + p, slope_weight * slope + weight_deriv * value);
        }
    }

private:
    int n_functions_;
    int padded_functions_;
    int n_nodes_;
    double r_max_;
    double spacing_;
    double inverse_spacing_;
    // shape [n_nodes - 1][4][padded_functions]: value = c0 + c1 t + c2 t^2 + c3 t^3, t = (r - r_k) / spacing
    std::vector<double> coefficients_;
};

}  // namespace lepot
