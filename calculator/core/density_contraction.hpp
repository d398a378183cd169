// Tensor-reduced density (Darby et al.): for each l a linear map takes the (pseudo-element, radial) channels
// of the density to K_l contracted channels,
//
//   Ã_{k,lm} = Σ_p Σ_{n < n_l} W_l[k][p][n] A_{p,nlm}          k = 0..K_l-1
//
// and the invariants of higher body order are products of the Ã only (docs/compression.md). The couplings
// index an extended density vector [A ; Ã] of size n_density + n_contracted:
//
//   index of Ã_{k,lm} = n_density + contracted_offset[l] + k (2l+1) + (l + m)
//
// (the layout of A with n -> k and no pseudo-element blocks). forward() appends Ã to A; backward() maps the
// adjoint ∂E/∂[A ; Ã] back onto A: g_A += Σ_k W_l[k][p][n] g_Ã,k,lm. With K_l = 0 for every l the
// contraction is absent and both are plain copies.
#pragma once

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <string>
#include <vector>

namespace lepot {

class DensityContraction {
public:
    // No contraction: the extended vector is A itself.
    DensityContraction() = default;

    // n_radial: [l_max+1] radial sizes of the density; channels: [l_max+1] K_l (>= 0);
    // weights: W_l[k][p][n] for l = 0..l_max in turn, Σ_l K_l n_pseudo n_l numbers
    DensityContraction(int n_pseudo, const std::vector<int>& n_radial, const std::vector<int>& channels,
                       const std::vector<double>& weights)
        : n_pseudo_(n_pseudo), n_radial_(n_radial), channels_(channels) {
        if (channels.size() != n_radial.size())
            throw std::invalid_argument("density contraction: " + std::to_string(channels.size()) +
                                        " channel counts for " + std::to_string(n_radial.size()) + " angular orders");
        if (n_pseudo < 1) throw std::invalid_argument("density contraction: n_pseudo must be >= 1");
        const int l_max = static_cast<int>(n_radial.size()) - 1;
        nlm_offset_.assign(l_max + 2, 0);
        contracted_offset_.assign(l_max + 2, 0);
        weight_offset_.assign(l_max + 2, 0);
        for (int l = 0; l <= l_max; ++l) {
            if (channels[l] < 0)
                throw std::invalid_argument("density contraction: negative channel count at l = " + std::to_string(l));
            nlm_offset_[l + 1] = nlm_offset_[l] + n_radial[l] * (2 * l + 1);
            contracted_offset_[l + 1] = contracted_offset_[l] + channels[l] * (2 * l + 1);
            weight_offset_[l + 1] = weight_offset_[l] + static_cast<size_t>(channels[l]) * n_pseudo * n_radial[l];
        }
        n_density_ = n_pseudo * nlm_offset_[l_max + 1];
        if (weights.size() != weight_offset_[l_max + 1])
            throw std::invalid_argument("density contraction: " + std::to_string(weights.size()) +
                                        " weights, expected " + std::to_string(weight_offset_[l_max + 1]));
        for (double w : weights)
            if (!std::isfinite(w)) throw std::invalid_argument("density contraction: non-finite weight");
        weights_ = weights;
    }

    bool enabled() const { return contracted_offset_.empty() ? false : n_contracted() > 0; }
    int n_contracted() const { return contracted_offset_.empty() ? 0 : contracted_offset_.back(); }
    int l_max() const { return static_cast<int>(n_radial_.size()) - 1; }
    int channels(int l) const { return channels_[l]; }
    int contracted_offset(int l) const { return contracted_offset_[l]; }
    // W_l[k][p][n]
    double weight(int l, int k, int p, int n) const {
        return weights_[weight_offset_[l] + (static_cast<size_t>(k) * n_pseudo_ + p) * n_radial_[l] + n];
    }
    // Size of the extended vector [A ; Ã] for a density of n_density coefficients.
    int n_extended(int n_density) const { return n_density + n_contracted(); }

    // extended: [n_density + n_contracted] = [A ; Ã] from density: [n_density] (n_pseudo * n_nlm, A's layout)
    void forward(const double* density, double* extended) const {
        std::copy(density, density + n_density_, extended);
        double* contracted = extended + n_density_;
        const int n_nlm = nlm_offset_.back();
        for (int l = 0; l <= l_max(); ++l) {
            const int width = 2 * l + 1;
            for (int k = 0; k < channels_[l]; ++k) {
                double* out = contracted + contracted_offset_[l] + k * width;
                std::fill(out, out + width, 0.0);
                for (int p = 0; p < n_pseudo_; ++p)
                    for (int n = 0; n < n_radial_[l]; ++n) {
                        const double w = weight(l, k, p, n);
                        const double* a = density + static_cast<size_t>(p) * n_nlm + nlm_offset_[l] + n * width;
                        for (int mm = 0; mm < width; ++mm) out[mm] += w * a[mm];
                    }
            }
        }
    }

    // adjoint: [n_density] = extended_adjoint[0:n_density] + Wᵀ extended_adjoint[n_density:], from
    // extended_adjoint: [n_density + n_contracted] (∂E/∂[A ; Ã])
    void backward(const double* extended_adjoint, double* adjoint) const {
        std::copy(extended_adjoint, extended_adjoint + n_density_, adjoint);
        const double* contracted = extended_adjoint + n_density_;
        const int n_nlm = nlm_offset_.back();
        for (int l = 0; l <= l_max(); ++l) {
            const int width = 2 * l + 1;
            for (int k = 0; k < channels_[l]; ++k) {
                const double* g = contracted + contracted_offset_[l] + k * width;
                for (int p = 0; p < n_pseudo_; ++p)
                    for (int n = 0; n < n_radial_[l]; ++n) {
                        const double w = weight(l, k, p, n);
                        double* out = adjoint + static_cast<size_t>(p) * n_nlm + nlm_offset_[l] + n * width;
                        for (int mm = 0; mm < width; ++mm) out[mm] += w * g[mm];
                    }
            }
        }
    }

private:
    int n_pseudo_ = 1;
    int n_density_ = 0;
    std::vector<int> n_radial_;             // shape [l_max+1]
    std::vector<int> channels_;             // shape [l_max+1], K_l
    std::vector<int> nlm_offset_;           // shape [l_max+2], A's layout within one pseudo-element
    std::vector<int> contracted_offset_;    // shape [l_max+2], Ã's layout
    std::vector<size_t> weight_offset_;     // shape [l_max+2], start of W_l in weights_
    std::vector<double> weights_;           // shape [Σ_l K_l][n_pseudo][n_l] (ragged over l)
};

}  // namespace lepot
