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
    // Scratch needed by compute() and compute_block<Width>(): doubles.
    int scratch_size(int width = 1) const { return 2 * (l_max_ + 1) * width; }

    // vector: r (Å), must be non-zero.
    // ylm:      shape [(l_max+1)^2]
    // gradient: shape [(l_max+1)^2][3], ∂Y_lm(r/|r|)/∂r in 1/Å (only written if with_gradients)
    // scratch:  shape [scratch_size()]
    template <bool with_gradients>
    void compute(const double vector[3], double* ylm, double* gradient, double* scratch) const {
        const double inv_r = 1.0 / std::sqrt(vector[0] * vector[0] + vector[1] * vector[1] + vector[2] * vector[2]);
        const double u[3] = {vector[0] * inv_r, vector[1] * inv_r, vector[2] * inv_r};
        compute_block<with_gradients, 1>(1, u, u + 1, u + 2, ylm, gradient, scratch);
        if (!with_gradients) return;
        for (int lm = 0; lm < size(); ++lm) tangential_gradient(u, inv_r, gradient + 3 * lm);
    }

    // ∇Y = (∇F - (u·∇F) u) / |r| in place, from the polynomial gradient ∇F of compute_block (1/Å).
    static void tangential_gradient(const double u[3], double inv_r, double gradient[3]) {
        const double radial = u[0] * gradient[0] + u[1] * gradient[1] + u[2] * gradient[2];
        for (int alpha = 0; alpha < 3; ++alpha) gradient[alpha] = (gradient[alpha] - radial * u[alpha]) * inv_r;
    }

    // Y_lm of Width unit vectors u at once, and the gradient ∇F_lm(u) of their polynomial extension
    // F_lm = K Q_l^|m|(u_z) Re/Im (u_x + i u_y)^|m|; ∇Y_lm(r) = (∇F - (u·∇F) u) / |r| (tangential_gradient),
    // a linear map of ∇F that callers apply once to sums over lm. Every loop below runs over the Width
    // vectors (one vector register for Width = 8). Inputs and outputs are columns of arrays with `stride`
    // columns:
    // x, y, z:  [Width], the unit vectors r/|r|
    // ylm:      shape [(l_max+1)^2][stride], columns 0..Width-1 written
    // gradient: shape [(l_max+1)^2][3][stride], ∇F_lm (only written if with_gradients)
    // scratch:  shape [scratch_size(Width)]
    template <bool with_gradients, int Width>
    void compute_block(size_t stride, const double* x, const double* y, const double* z, double* ylm, double* gradient,
                       double* scratch) const {
        double* c = scratch;                   // shape [l_max+1][Width], Re (x + i y)^m
        double* s = c + (l_max_ + 1) * Width;  // shape [l_max+1][Width], Im (x + i y)^m
        for (int i = 0; i < Width; ++i) {
            c[i] = 1.0;
            s[i] = 0.0;
        }
        for (int m = 1; m <= l_max_; ++m) {
            const double *cp = c + (m - 1) * Width, *sp = s + (m - 1) * Width;
            double *cm = c + m * Width, *sm = s + m * Width;
#pragma omp simd
            for (int i = 0; i < Width; ++i) {
                cm[i] = x[i] * cp[i] - y[i] * sp[i];
                sm[i] = x[i] * sp[i] + y[i] * cp[i];
            }
        }
        // For each m >= 0, Q_l^m for l = m, m+1, ... by the three-term recursion, keeping the last two
        // (and their u_z-derivatives) in registers, and Y_{l,±m}, ∇F_{l,±m} written as each is produced.
        double q_mm = 1.0;  // (2m-1)!!
        for (int m = 0; m <= l_max_; ++m) {
            if (m > 0) q_mm *= (2.0 * m - 1.0);
            double q_previous[Width], q_current[Width], dq_previous[Width], dq_current[Width];
            for (int i = 0; i < Width; ++i) {
                q_previous[i] = 0.0;
                dq_previous[i] = 0.0;
                q_current[i] = q_mm;
                dq_current[i] = 0.0;
            }
            for (int l = m; l <= l_max_; ++l) {
                if (l == m + 1) {
                    const double first = (2.0 * m + 1.0) * q_mm;
#pragma omp simd
                    for (int i = 0; i < Width; ++i) {
                        q_previous[i] = q_current[i];
                        dq_previous[i] = dq_current[i];
                        q_current[i] = first * z[i];
                        dq_current[i] = first;
                    }
                } else if (l >= m + 2) {
                    const double a = recursion_a_[ylm_index(l, m)], b = recursion_b_[ylm_index(l, m)];
#pragma omp simd
                    for (int i = 0; i < Width; ++i) {
                        const double q_next = a * z[i] * q_current[i] - b * q_previous[i];
                        const double dq_next = a * (q_current[i] + z[i] * dq_current[i]) - b * dq_previous[i];
                        q_previous[i] = q_current[i];
                        dq_previous[i] = dq_current[i];
                        q_current[i] = q_next;
                        dq_current[i] = dq_next;
                    }
                }
                write_pair<with_gradients, Width>(l, m, stride, q_current, dq_current, c, s, ylm, gradient);
            }
        }
    }

private:
    // Y_{l,m} and Y_{l,-m} (one of them when m = 0), and their ∇F, from Q_l^m (q) and dQ_l^m/du_z (dq) of Width
    // vectors; c, s: [l_max+1][Width] powers Re/Im (x + i y)^m. Outputs as in compute_block.
    // ∇F: F = K Q(u_z) φ(u_x, u_y), φ = Re/Im (u_x + i u_y)^m; ∂φ/∂u_x = m Re/Im (x+iy)^(m-1) and
    // ∂φ/∂u_y = -m Im / m Re (x+iy)^(m-1) for the cosine (m > 0) / sine (m < 0) harmonic.
    template <bool with_gradients, int Width>
    void write_pair(int l, int m, size_t stride, const double* q, const double* dq, const double* c, const double* s,
                    double* ylm, double* gradient) const {
        for (int sign = 1; sign >= -1; sign -= 2) {
            if (sign < 0 && m == 0) break;
            const int idx = ylm_index(l, sign * m);
            const double k = normalisation_[idx];
            const double* phi = (sign > 0 ? c : s) + m * Width;
            double* out = ylm + idx * stride;
#pragma omp simd
            for (int i = 0; i < Width; ++i) out[i] = k * q[i] * phi[i];
            if (!with_gradients) continue;
            double* gradient_x = gradient + 3 * idx * stride;
            double* gradient_y = gradient_x + stride;
            double* gradient_z = gradient_y + stride;
            const double* along_x = (sign > 0 ? c : s) + (m > 0 ? m - 1 : 0) * Width;
            const double* along_y = (sign > 0 ? s : c) + (m > 0 ? m - 1 : 0) * Width;
            const double scale_x = k * m, scale_y = sign > 0 ? -k * m : k * m;
#pragma omp simd
            for (int i = 0; i < Width; ++i) {
                gradient_x[i] = scale_x * q[i] * along_x[i];
                gradient_y[i] = scale_y * q[i] * along_y[i];
                gradient_z[i] = k * dq[i] * phi[i];
            }
        }
    }

    int l_max_;
    std::vector<double> normalisation_;  // shape [(l_max+1)^2]
    std::vector<double> recursion_a_;    // shape [(l_max+1)^2], (2l-1)/(l-m) at ylm_index(l, m), l >= m+2
    std::vector<double> recursion_b_;    // shape [(l_max+1)^2], (l+m-1)/(l-m)
};

}  // namespace lepot
