// Real, orthonormal spherical harmonics Y_lm(r/|r|) and their Cartesian gradients.
//
// Convention (no Condon-Shortley phase), index l*l + l + m for m = -l..l:
//   Y_l0      = K_l0 P_l^0(cos θ)
//   Y_lm, m>0 = sqrt(2) K_lm P_l^m(cos θ) cos(m φ)
//   Y_lm, m<0 = sqrt(2) K_l|m| P_l^|m|(cos θ) sin(|m| φ)
// with K_lm = sqrt((2l+1)/(4π) (l-m)!/(l+m)!) and P_l^m without the (-1)^m phase.
//
// Evaluated in Cartesian form on the unit vector u = r/|r|: P_l^m(u_z) sin^m θ = Q_l^m(u_z) (u_x + i u_y)^m,
// Q_l^m from the standard three-term recursion in u_z, so nothing divides by sin θ and points on the
// z axis are regular. The gradient is the tangential part of the gradient of that polynomial
// extension divided by |r|: ∇Y = (1 - u uᵀ) ∇_u F(u) / |r|.
#pragma once

#include <cmath>
#include <stdexcept>
#include <vector>

#include "simd_lanes.hpp"

namespace lepot {

inline int ylm_index(int l, int m) { return l * l + l + m; }

class SphericalHarmonics {
public:
    static constexpr int max_supported_l = 20;

    explicit SphericalHarmonics(int l_max) : l_max_(l_max) {
        if (l_max < 0 || l_max > max_supported_l)
            throw std::invalid_argument("spherical harmonics: l_max must be in [0, 20]");
        const int n = (l_max + 1) * (l_max + 1);
        normalisation_.assign(n, 0.0);
        recursion_a_.assign(n, 0.0);
        recursion_b_.assign(n, 0.0);
        for (int l = 0; l <= l_max; ++l) {
            for (int m = 0; m <= l; ++m) {
                // (l-m)!/(l+m)! accumulated as a product to stay in range
                double ratio = 1.0;
                for (int f = l - m + 1; f <= l + m; ++f) ratio /= f;
                double k = std::sqrt((2.0 * l + 1.0) / (4.0 * M_PI) * ratio);
                if (m > 0) k *= std::sqrt(2.0);
                normalisation_[ylm_index(l, m)] = k;
                normalisation_[ylm_index(l, -m)] = k;
                if (l >= m + 2) {
                    recursion_a_[ylm_index(l, m)] = (2.0 * l - 1.0) / (l - m);
                    recursion_b_[ylm_index(l, m)] = (l + m - 1.0) / (l - m);
                }
            }
        }
    }

    int l_max() const { return l_max_; }
    int size() const { return (l_max_ + 1) * (l_max_ + 1); }
    // Entries of the Legendre factors (m >= 0): (l_max+1)(l_max+2)/2, at legendre_index(l, m).
    int n_legendre() const { return (l_max_ + 1) * (l_max_ + 2) / 2; }
    static int legendre_index(int l, int m) { return l * (l + 1) / 2 + m; }

    // Scratch needed by compute() (width 1) and compute_block<Width>(): doubles.
    int scratch_size(int width = 1) const { return 2 * (l_max_ + 1) * width; }

    // vector: r (Å), must be non-zero.
    // ylm:      shape [(l_max+1)^2]
    // gradient: shape [(l_max+1)^2][3], ∂Y_lm(r/|r|)/∂r in 1/Å (only written if with_gradients)
    // scratch:  shape [scratch_size()]
    template <bool with_gradients>
    void compute(const double vector[3], double* ylm, double* gradient, double* scratch) const {
        const double inv_r = 1.0 / std::sqrt(vector[0] * vector[0] + vector[1] * vector[1] + vector[2] * vector[2]);
        const double u[3] = {vector[0] * inv_r, vector[1] * inv_r, vector[2] * inv_r};
        constexpr int max_legendre = (max_supported_l + 1) * (max_supported_l + 2) / 2;
        double legendre[max_legendre], legendre_deriv[max_legendre], phases[2 * (max_supported_l + 1)];
        compute_block<with_gradients, 1>(1, u, u + 1, u + 2, ylm, legendre, legendre_deriv, phases, scratch);
        if (!with_gradients) return;
        for (int l = 0; l <= l_max_; ++l)
            for (int m = -l; m <= l; ++m) {
                double* g = gradient + 3 * ylm_index(l, m);
                polynomial_gradient<1>(l, m, 1, legendre, legendre_deriv, phases, g, 1);
                tangential_gradient(u, inv_r, g);
            }
    }

    // ∇Y = (∇F - (u·∇F) u) / |r| in place, from the polynomial gradient ∇F (1/Å).
    static void tangential_gradient(const double u[3], double inv_r, double gradient[3]) {
        const double radial = u[0] * gradient[0] + u[1] * gradient[1] + u[2] * gradient[2];
        for (int alpha = 0; alpha < 3; ++alpha) gradient[alpha] = (gradient[alpha] - radial * u[alpha]) * inv_r;
    }

    // Y_lm of Width unit vectors u at once and, with gradients, the factors of their polynomial extension
    // F_lm = q_l|m|(u_z) φ_m(u_x, u_y), from which ∇F_lm follows (polynomial_gradient):
    //   q_lm = K_lm Q_l^m(u_z) and q'_lm = K_lm dQ_l^m/du_z for m >= 0 (normalisation included);
    //   φ_m = c_m = Re (u_x + i u_y)^m for m >= 0 and φ_-m = s_m = Im (u_x + i u_y)^m.
    // ∇Y_lm(r) = (∇F - (u·∇F) u) / |r| (tangential_gradient), a linear map of ∇F that callers apply once to
    // sums over lm. The recursions run on registers of Width vectors (one register for Width = 8 with
    // AVX-512). Inputs and outputs are columns of arrays with `stride` columns:
    // x, y, z:        [Width], the unit vectors r/|r|
    // ylm:            shape [(l_max+1)^2][stride], columns 0..Width-1 written
    // legendre:       shape [n_legendre()][stride], q_lm at legendre_index(l, m)    (only with gradients)
    // legendre_deriv: shape [n_legendre()][stride], q'_lm                          (only with gradients)
    // phases:         shape [2][l_max+1][stride], c_m then s_m                      (only with gradients)
    // scratch:        shape [scratch_size(Width)]
    template <bool with_gradients, int Width>
    void compute_block(size_t stride, const double* x, const double* y, const double* z, double* ylm, double* legendre,
                       double* legendre_deriv, double* phases, double* scratch) const {
        using V = typename LaneRegisters<Width>::type;
        constexpr int parts = LaneRegisters<Width>::count, part_width = LaneRegisters<Width>::width;
        double* c = scratch;                   // shape [l_max+1][Width], Re (x + i y)^m
        double* s = c + (l_max_ + 1) * Width;  // shape [l_max+1][Width], Im (x + i y)^m
        for (int j = 0; j < parts; ++j) {  // the powers (x + i y)^m by complex multiplication, in registers
            const size_t column = j * part_width;
            const V ux = load_lanes<V>(x + column), uy = load_lanes<V>(y + column);
            V cosine = broadcast_lanes<V>(1.0), sine = broadcast_lanes<V>(0.0);
            for (int m = 0; m <= l_max_; ++m) {
                if (m > 0) {
                    const V next_cosine = ux * cosine - uy * sine;
                    sine = ux * sine + uy * cosine;
                    cosine = next_cosine;
                }
                store_lanes(c + m * Width + column, cosine);
                store_lanes(s + m * Width + column, sine);
                if (!with_gradients) continue;
                store_lanes(phases + m * stride + column, cosine);
                store_lanes(phases + (l_max_ + 1 + m) * stride + column, sine);
            }
        }
        V uz[parts];
        for (int j = 0; j < parts; ++j) uz[j] = load_lanes<V>(z + j * part_width);
        // For each m >= 0, Q_l^m for l = m, m+1, ... by the three-term recursion, keeping the last two (and
        // their u_z-derivatives) in registers, and Y_{l,±m} and the factors written as each is produced.
        double q_mm = 1.0;  // (2m-1)!!
        for (int m = 0; m <= l_max_; ++m) {
            if (m > 0) q_mm *= (2.0 * m - 1.0);
            V q_previous[parts], q_current[parts], dq_previous[parts], dq_current[parts];
            for (int j = 0; j < parts; ++j) {
                q_previous[j] = dq_previous[j] = dq_current[j] = broadcast_lanes<V>(0.0);
                q_current[j] = broadcast_lanes<V>(q_mm);
            }
            for (int l = m; l <= l_max_; ++l) {
                if (l == m + 1) {
                    const double first = (2.0 * m + 1.0) * q_mm;
                    for (int j = 0; j < parts; ++j) {
                        q_previous[j] = q_current[j];
                        dq_previous[j] = dq_current[j];
                        q_current[j] = first * uz[j];
                        dq_current[j] = broadcast_lanes<V>(first);
                    }
                } else if (l >= m + 2) {
                    const double a = recursion_a_[ylm_index(l, m)], b = recursion_b_[ylm_index(l, m)];
                    for (int j = 0; j < parts; ++j) {
                        const V q_next = a * uz[j] * q_current[j] - b * q_previous[j];
                        const V dq_next = a * (q_current[j] + uz[j] * dq_current[j]) - b * dq_previous[j];
                        q_previous[j] = q_current[j];
                        dq_previous[j] = dq_current[j];
                        q_current[j] = q_next;
                        dq_current[j] = dq_next;
                    }
                }
                const double k = normalisation_[ylm_index(l, m)];
                for (int j = 0; j < parts; ++j) {
                    const size_t column = j * part_width;
                    const V q = k * q_current[j];
                    store_lanes(ylm + ylm_index(l, m) * stride + column, q * load_lanes<V>(c + m * Width + column));
                    if (m > 0)
                        store_lanes(ylm + ylm_index(l, -m) * stride + column, q * load_lanes<V>(s + m * Width + column));
                    if (!with_gradients) continue;
                    store_lanes(legendre + legendre_index(l, m) * stride + column, q);
                    store_lanes(legendre_deriv + legendre_index(l, m) * stride + column, k * dq_current[j]);
                }
            }
        }
    }

    // ∇F_lm (m in -l..l) of Width vectors from the factors of compute_block (same layouts and stride) into
    // gradient [3][gradient_stride] (rows x, y, z; columns 0..Width-1). With F = q_l|m| φ_m:
    // ∂F/∂u_z = q'_l|m| φ_m, and ∂(c_m, s_m)/∂u_x = m (c_{m-1}, s_{m-1}), ∂(c_m, s_m)/∂u_y = m (-s_{m-1}, c_{m-1}).
    template <int Width>
    void polynomial_gradient(int l, int m, size_t stride, const double* legendre, const double* legendre_deriv,
                             const double* phases, double* gradient, size_t gradient_stride) const {
        const int order = m < 0 ? -m : m;
        const double* q = legendre + legendre_index(l, order) * stride;
        const double* dq = legendre_deriv + legendre_index(l, order) * stride;
        const double* cosine = phases;
        const double* sine = phases + (l_max_ + 1) * stride;
        const double* phi = (m >= 0 ? cosine : sine) + order * stride;
        const size_t lower = static_cast<size_t>(order > 0 ? order - 1 : 0) * stride;
        const double* along_x = (m >= 0 ? cosine : sine) + lower;
        const double* along_y = (m >= 0 ? sine : cosine) + lower;
        const double scale_x = order, scale_y = m >= 0 ? -order : order;
#pragma omp simd
        for (int i = 0; i < Width; ++i) {
            gradient[i] = scale_x * q[i] * along_x[i];
            gradient[gradient_stride + i] = scale_y * q[i] * along_y[i];
            gradient[2 * gradient_stride + i] = dq[i] * phi[i];
        }
    }

private:
    int l_max_;
    std::vector<double> normalisation_;  // shape [(l_max+1)^2]
    std::vector<double> recursion_a_;    // shape [(l_max+1)^2], (2l-1)/(l-m) at ylm_index(l, m), l >= m+2
    std::vector<double> recursion_b_;    // shape [(l_max+1)^2], (l+m-1)/(l-m)
};

}  // namespace lepot
