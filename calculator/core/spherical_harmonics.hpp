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
    int scratch_size(int width = 1) const { return (2 * size() + 2 * (l_max_ + 1)) * width; }

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
        const int n = size();
        double* q = scratch;                   // shape [(l_max+1)^2][Width], Q_l^m at ylm_index(l, m), m >= 0
        double* dq = q + n * Width;            // shape [(l_max+1)^2][Width], dQ_l^m/du_z
        double* c = dq + n * Width;            // shape [l_max+1][Width], Re (x + i y)^m
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
        double q_mm = 1.0;  // (2m-1)!!
        for (int m = 0; m <= l_max_; ++m) {
            if (m > 0) q_mm *= (2.0 * m - 1.0);
            double* q0 = q + ylm_index(m, m) * Width;
            double* dq0 = dq + ylm_index(m, m) * Width;
            for (int i = 0; i < Width; ++i) {
                q0[i] = q_mm;
                dq0[i] = 0.0;
            }
            if (m + 1 > l_max_) continue;
            double* q1 = q + ylm_index(m + 1, m) * Width;
            double* dq1 = dq + ylm_index(m + 1, m) * Width;
            const double first = (2.0 * m + 1.0) * q_mm;
#pragma omp simd
            for (int i = 0; i < Width; ++i) {
                q1[i] = first * z[i];
                dq1[i] = first;
            }
            for (int l = m + 2; l <= l_max_; ++l) {
                const double a = recursion_a_[ylm_index(l, m)], b = recursion_b_[ylm_index(l, m)];
                const double *qa = q + ylm_index(l - 1, m) * Width, *qb = q + ylm_index(l - 2, m) * Width;
                const double *dqa = dq + ylm_index(l - 1, m) * Width, *dqb = dq + ylm_index(l - 2, m) * Width;
                double *ql = q + ylm_index(l, m) * Width, *dql = dq + ylm_index(l, m) * Width;
#pragma omp simd
                for (int i = 0; i < Width; ++i) {
                    ql[i] = a * z[i] * qa[i] - b * qb[i];
                    dql[i] = a * (qa[i] + z[i] * dqa[i]) - b * dqb[i];
                }
            }
        }
        for (int l = 0; l <= l_max_; ++l) {
            for (int m = -l; m <= l; ++m) {
                const int am = m < 0 ? -m : m;
                const int idx = ylm_index(l, m);
                const double k = normalisation_[idx];
                const double* ql = q + ylm_index(l, am) * Width;
                const double* dql = dq + ylm_index(l, am) * Width;
                // azimuthal factor phi and its u_x, u_y derivatives:
                // d(x+iy)^m/dx = m (x+iy)^(m-1), d/dy = i m (x+iy)^(m-1)
                const double* phi = (m >= 0 ? c : s) + am * Width;
                double* out = ylm + idx * stride;
#pragma omp simd
                for (int i = 0; i < Width; ++i) out[i] = k * ql[i] * phi[i];
                if (!with_gradients) continue;
                double* gradient_x = gradient + 3 * idx * stride;
                double* gradient_y = gradient_x + stride;
                double* gradient_z = gradient_y + stride;
                // m > 0: (m c_{m-1}, -m s_{m-1});  m < 0: (|m| s_{|m|-1}, |m| c_{|m|-1});  m = 0: (0, 0)
                const double* along_x = (m > 0 ? c : s) + (am > 0 ? am - 1 : 0) * Width;
                const double* along_y = (m > 0 ? s : c) + (am > 0 ? am - 1 : 0) * Width;
                const double scale_x = k * am, scale_y = m > 0 ? -k * am : k * am;
#pragma omp simd
                for (int i = 0; i < Width; ++i) {
                    gradient_x[i] = scale_x * ql[i] * along_x[i];
                    gradient_y[i] = scale_y * ql[i] * along_y[i];
                    gradient_z[i] = k * dql[i] * phi[i];
                }
            }
        }
    }

private:
    int l_max_;
    std::vector<double> normalisation_;  // shape [(l_max+1)^2]
    std::vector<double> recursion_a_;    // shape [(l_max+1)^2], (2l-1)/(l-m) at ylm_index(l, m), l >= m+2
    std::vector<double> recursion_b_;    // shape [(l_max+1)^2], (l+m-1)/(l-m)
};

}  // namespace lepot
