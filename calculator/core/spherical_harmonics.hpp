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
        for (int l = 0; l <= l_max; ++l) {
            for (int m = 0; m <= l; ++m) {
                // (l-m)!/(l+m)! accumulated as a product to stay in range
                double ratio = 1.0;
                for (int f = l - m + 1; f <= l + m; ++f) ratio /= f;
                double k = std::sqrt((2.0 * l + 1.0) / (4.0 * M_PI) * ratio);
                if (m > 0) k *= std::sqrt(2.0);
                normalisation_[ylm_index(l, m)] = k;
                normalisation_[ylm_index(l, -m)] = k;
            }
        }
    }

    int l_max() const { return l_max_; }
    int size() const { return (l_max_ + 1) * (l_max_ + 1); }
    // Scratch needed by compute(): doubles.
    int scratch_size() const { return 2 * size() + 2 * (l_max_ + 1); }

    // vector: r (Å), must be non-zero.
    // ylm:      shape [(l_max+1)^2]
    // gradient: shape [(l_max+1)^2][3], ∂Y_lm(r/|r|)/∂r in 1/Å (only written if with_gradients)
    // scratch:  shape [scratch_size()]
    template <bool with_gradients>
    void compute(const double vector[3], double* ylm, double* gradient, double* scratch) const {
        const double r = std::sqrt(vector[0] * vector[0] + vector[1] * vector[1] + vector[2] * vector[2]);
        const double inv_r = 1.0 / r;
        const double x = vector[0] * inv_r, y = vector[1] * inv_r, z = vector[2] * inv_r;
        const int n = size();
        double* q = scratch;                  // shape [(l_max+1)^2], Q_l^m at index ylm_index(l, m), m >= 0
        double* dq = scratch + n;             // shape [(l_max+1)^2], dQ_l^m/du_z
        double* c = scratch + 2 * n;          // shape [l_max+1], Re (x + i y)^m
        double* s = c + (l_max_ + 1);         // shape [l_max+1], Im (x + i y)^m

        c[0] = 1.0;
        s[0] = 0.0;
        for (int m = 1; m <= l_max_; ++m) {
            c[m] = x * c[m - 1] - y * s[m - 1];
            s[m] = x * s[m - 1] + y * c[m - 1];
        }

        double q_mm = 1.0;  // (2m-1)!!
        for (int m = 0; m <= l_max_; ++m) {
            if (m > 0) q_mm *= (2.0 * m - 1.0);
            q[ylm_index(m, m)] = q_mm;
            dq[ylm_index(m, m)] = 0.0;
            if (m + 1 <= l_max_) {
                q[ylm_index(m + 1, m)] = (2.0 * m + 1.0) * z * q_mm;
                dq[ylm_index(m + 1, m)] = (2.0 * m + 1.0) * q_mm;
            }
            for (int l = m + 2; l <= l_max_; ++l) {
                const double a = (2.0 * l - 1.0) / (l - m);
                const double b = (l + m - 1.0) / (l - m);
                const double q1 = q[ylm_index(l - 1, m)], q2 = q[ylm_index(l - 2, m)];
                q[ylm_index(l, m)] = a * z * q1 - b * q2;
                dq[ylm_index(l, m)] = a * (q1 + z * dq[ylm_index(l - 1, m)]) - b * dq[ylm_index(l - 2, m)];
            }
        }

        for (int l = 0; l <= l_max_; ++l) {
            for (int m = -l; m <= l; ++m) {
                const int am = m < 0 ? -m : m;
                const int idx = ylm_index(l, m);
                const double k = normalisation_[idx];
                const double ql = q[ylm_index(l, am)];
                // azimuthal factor and its u_x, u_y derivatives: d(x+iy)^m/dx = m (x+iy)^(m-1), d/dy = i m (x+iy)^(m-1)
                double phi, dphi_dx = 0.0, dphi_dy = 0.0;
                if (m >= 0) {
                    phi = c[am];
                    if (with_gradients && am > 0) {
                        dphi_dx = am * c[am - 1];
                        dphi_dy = -am * s[am - 1];
                    }
                } else {
                    phi = s[am];
                    if (with_gradients) {
                        dphi_dx = am * s[am - 1];
                        dphi_dy = am * c[am - 1];
                    }
                }
                ylm[idx] = k * ql * phi;
                if (with_gradients) {
                    const double gx = k * ql * dphi_dx;
                    const double gy = k * ql * dphi_dy;
                    const double gz = k * dq[ylm_index(l, am)] * phi;
                    const double radial = x * gx + y * gy + z * gz;
                    gradient[3 * idx + 0] = (gx - radial * x) * inv_r;
                    gradient[3 * idx + 1] = (gy - radial * y) * inv_r;
                    gradient[3 * idx + 2] = (gz - radial * z) * inv_r;
                }
            }
        }
    }

private:
    int l_max_;
    std::vector<double> normalisation_;  // shape [(l_max+1)^2]
};

}  // namespace lepot
