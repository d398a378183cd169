// Density (A) basis: A_{k,nlm}(i) = Σ_j u_{k n}(a_j) R_nl(r_ij) Y_lm(r̂_ij)
//
// R_nl(r) = f_c(r) S_nl(r): S_nl is the splined LE function N_nl j_l(z_nl r / r_c), f_c the analytic cutoff.
//
// Layout of the radial-angular channel index "nlm" (size n_nlm):
//   for l in 0..l_max, for n in 0..n_radial(l)-1, for m in -l..l  ->  nlm_offset[l] + n (2l+1) + (l + m)
// Layout of radial functions (spline columns): for l, for n -> radial_offset[l] + n.
// Density index a = k * n_nlm + nlm, with k the pseudo-element (k = element when uncompressed).
//
// The embedding u has shape [n_species][n_pseudo][n_radial_max] (n_radial_max = n_radial(0)):
// a species-to-pseudo-element weight, optionally different for each radial index n (tensor-reduced
// form). One-hot u (identity over species, equal for all n) gives the element-resolved density.
#pragma once

#include <cmath>
#include <stdexcept>
#include <string>
#include <vector>

#include "cutoff_function.hpp"
#include "radial_spline.hpp"
#include "spherical_harmonics.hpp"

namespace lepot {

class DensityLayout {
public:
    DensityLayout(int l_max, const int* n_radial_per_l /* shape [l_max+1] */) : l_max_(l_max) {
        if (l_max < 0) throw std::invalid_argument("density layout: l_max must be >= 0");
        n_radial_.assign(n_radial_per_l, n_radial_per_l + l_max + 1);
        radial_offset_.assign(l_max + 2, 0);
        nlm_offset_.assign(l_max + 2, 0);
        for (int l = 0; l <= l_max; ++l) {
            if (n_radial_[l] < 1)
                throw std::invalid_argument("density layout: every l <= l_max needs at least one radial function (l = " +
                                            std::to_string(l) + ")");
            if (l > 0 && n_radial_[l] > n_radial_[l - 1])
                throw std::invalid_argument("density layout: n_radial(l) must not increase with l");
            radial_offset_[l + 1] = radial_offset_[l] + n_radial_[l];
            nlm_offset_[l + 1] = nlm_offset_[l] + n_radial_[l] * (2 * l + 1);
        }
    }

    int l_max() const { return l_max_; }
    int n_radial(int l) const { return n_radial_[l]; }
    int n_radial_max() const { return n_radial_[0]; }
    int n_radial_functions() const { return radial_offset_[l_max_ + 1]; }
    int n_nlm() const { return nlm_offset_[l_max_ + 1]; }
    int radial_offset(int l) const { return radial_offset_[l]; }
    int nlm_offset(int l) const { return nlm_offset_[l]; }

private:
    int l_max_;
    std::vector<int> n_radial_;       // shape [l_max+1]
    std::vector<int> radial_offset_;  // shape [l_max+2]
    std::vector<int> nlm_offset_;     // shape [l_max+2]
};

// Per-thread scratch for one centre atom. Buffers grow as needed and are reused.
struct DensityWorkspace {
    std::vector<double> radial;        // shape [n_radial_functions]
    std::vector<double> radial_deriv;  // shape [n_radial_functions]
    std::vector<double> ylm;           // shape [(l_max+1)^2]
    std::vector<double> ylm_grad;      // shape [(l_max+1)^2][3]
    std::vector<double> ylm_scratch;   // shape [SphericalHarmonics::scratch_size()]
    std::vector<double> pair_ry;       // shape [n_neigh][n_nlm], R_nl(r_ij) Y_lm(r̂_ij)
    std::vector<double> pair_dry;      // shape [n_neigh][n_nlm][3], ∇_{r_ij} (R_nl Y_lm) in 1/Å
    std::vector<double> density;       // shape [n_pseudo * n_nlm], A_{k,nlm}
};

class DensityExpansion {
public:
    // spline columns must follow the radial layout above; embedding shape [n_species][n_pseudo][n_radial_max]
    DensityExpansion(RadialSpline spline, CutoffFunction cutoff_function, DensityLayout layout, int n_species,
                     int n_pseudo, const double* embedding)
        : spline_(std::move(spline)), cutoff_function_(cutoff_function), layout_(std::move(layout)),
          harmonics_(layout_.l_max()), n_species_(n_species), n_pseudo_(n_pseudo) {
        if (spline_.r_max() != cutoff_function_.cutoff())
            throw std::invalid_argument("density expansion: spline range and cutoff radius differ");
        if (spline_.n_functions() != layout_.n_radial_functions())
            throw std::invalid_argument("density expansion: spline has " + std::to_string(spline_.n_functions()) +
                                        " functions but the layout needs " +
                                        std::to_string(layout_.n_radial_functions()));
        if (n_species < 1 || n_pseudo < 1)
            throw std::invalid_argument("density expansion: n_species and n_pseudo must be >= 1");
        const size_t size = static_cast<size_t>(n_species) * n_pseudo * layout_.n_radial_max();
        embedding_.assign(embedding, embedding + size);
        for (double w : embedding_)
            if (!std::isfinite(w)) throw std::invalid_argument("density expansion: non-finite embedding weight");
    }

    const DensityLayout& layout() const { return layout_; }
    const RadialSpline& spline() const { return spline_; }
    int n_species() const { return n_species_; }
    int n_pseudo() const { return n_pseudo_; }
    int n_density() const { return n_pseudo_ * layout_.n_nlm(); }
    double cutoff() const { return cutoff_function_.cutoff(); }
    // u_{k n}(species)
    double embedding(int species, int k, int n) const {
        return embedding_[(static_cast<size_t>(species) * n_pseudo_ + k) * layout_.n_radial_max() + n];
    }

    void prepare(DensityWorkspace& ws, int n_neigh) const {
        const int n_nlm = layout_.n_nlm();
        ws.radial.resize(layout_.n_radial_functions());
        ws.radial_deriv.resize(layout_.n_radial_functions());
        ws.ylm.resize(harmonics_.size());
        ws.ylm_grad.resize(3 * harmonics_.size());
        ws.ylm_scratch.resize(harmonics_.scratch_size());
        if (ws.pair_ry.size() < static_cast<size_t>(n_neigh) * n_nlm) {
            ws.pair_ry.resize(static_cast<size_t>(n_neigh) * n_nlm);
            ws.pair_dry.resize(static_cast<size_t>(n_neigh) * n_nlm * 3);
        }
        ws.density.assign(n_density(), 0.0);
    }

    // Fills ws.density (and ws.pair_ry / ws.pair_dry for the neighbours) for one centre.
    // neighbour_vectors: shape [n_neigh][3], r_j - r_i in Å (all with 0 < |r| ; those >= cutoff add nothing)
    // neighbour_species: shape [n_neigh], species index in [0, n_species)
    template <bool with_gradients>
    void expand(int n_neigh, const double* neighbour_vectors, const int* neighbour_species, DensityWorkspace& ws) const {
        prepare(ws, n_neigh);
        const int n_nlm = layout_.n_nlm();
        const int l_max = layout_.l_max();
        for (int p = 0; p < n_neigh; ++p) {
            const double* v = neighbour_vectors + 3 * p;
            const double r = std::sqrt(v[0] * v[0] + v[1] * v[1] + v[2] * v[2]);
            double* ry = &ws.pair_ry[static_cast<size_t>(p) * n_nlm];
            double* dry = with_gradients ? &ws.pair_dry[static_cast<size_t>(p) * n_nlm * 3] : nullptr;
            if (!(r < cutoff())) {
                for (int c = 0; c < n_nlm; ++c) ry[c] = 0.0;
                if (with_gradients)
                    for (int c = 0; c < 3 * n_nlm; ++c) dry[c] = 0.0;
                continue;
            }
            spline_.evaluate<with_gradients>(r, ws.radial.data(), ws.radial_deriv.data());
            double fc_deriv;
            const double fc = cutoff_function_.evaluate(r, fc_deriv);
            for (int f = 0; f < layout_.n_radial_functions(); ++f) {
                if (with_gradients) ws.radial_deriv[f] = fc * ws.radial_deriv[f] + fc_deriv * ws.radial[f];
                ws.radial[f] *= fc;
            }
            harmonics_.compute<with_gradients>(v, ws.ylm.data(), ws.ylm_grad.data(), ws.ylm_scratch.data());
            const double inv_r = 1.0 / r;
            const double ux = v[0] * inv_r, uy = v[1] * inv_r, uz = v[2] * inv_r;
            for (int l = 0; l <= l_max; ++l) {
                const int width = 2 * l + 1;
                for (int n = 0; n < layout_.n_radial(l); ++n) {
                    const double radial = ws.radial[layout_.radial_offset(l) + n];
                    const int base = layout_.nlm_offset(l) + n * width;
                    for (int mm = 0; mm < width; ++mm) {
                        const int lm = l * l + mm;
                        ry[base + mm] = radial * ws.ylm[lm];
                        if (with_gradients) {
                            const double dradial = ws.radial_deriv[layout_.radial_offset(l) + n] * ws.ylm[lm];
                            const double* g = &ws.ylm_grad[3 * lm];
                            dry[3 * (base + mm) + 0] = dradial * ux + radial * g[0];
                            dry[3 * (base + mm) + 1] = dradial * uy + radial * g[1];
                            dry[3 * (base + mm) + 2] = dradial * uz + radial * g[2];
                        }
                    }
                }
            }
            const int species = neighbour_species[p];
            for (int k = 0; k < n_pseudo_; ++k) {
                double* a_k = &ws.density[static_cast<size_t>(k) * n_nlm];
                for (int l = 0; l <= l_max; ++l) {
                    const int width = 2 * l + 1;
                    for (int n = 0; n < layout_.n_radial(l); ++n) {
                        const double w = embedding(species, k, n);
                        if (w == 0.0) continue;
                        const int base = layout_.nlm_offset(l) + n * width;
                        for (int mm = 0; mm < width; ++mm) a_k[base + mm] += w * ry[base + mm];
                    }
                }
            }
        }
    }

private:
    RadialSpline spline_;
    CutoffFunction cutoff_function_;
    DensityLayout layout_;
    SphericalHarmonics harmonics_;
    int n_species_;
    int n_pseudo_;
    std::vector<double> embedding_;  // shape [n_species][n_pseudo][n_radial_max]
};

}  // namespace lepot
