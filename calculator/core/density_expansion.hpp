// Density (A) basis: A_{k,nlm}(i) = Σ_j u_{k n}(a_j) h_{a_i a_j}(r_ij) R_nl(r_ij) Y_lm(r̂_ij)
//
// R_nl(r) = f_c(r) S_nl(r): S_nl is the splined LE function N_nl j_l(z_nl r / r_c), f_c the analytic cutoff.
// h_ab(r) = 1 - s_ab(r) hands close pairs over to the ZBL core repulsion (core_repulsion.hpp): 1 beyond
// r_outer of the pair, 0 at and below r_inner (then the neighbour contributes nothing); h = 1 for pairs
// without core repulsion. Every method therefore takes the centre's species.
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

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <string>
#include <vector>

#include "core_repulsion.hpp"
#include "cutoff_function.hpp"
#include "radial_spline.hpp"
#include "spherical_harmonics.hpp"

namespace lepot {

// Neighbours closer than this (Å) are overlapping atoms: Y_lm of r = 0 is undefined. Every front end
// refuses them; the kernels throw std::domain_error if they are given one.
constexpr double min_pair_distance = 1e-4;

// value = Σ_i value_coefficients[i] Y_i and gradient = Σ_i gradient_coefficients[i] ∇Y_i over `count`
// consecutive harmonics; ylm: [count], ylm_grad: [count][3].
inline void project_on_harmonics(int count, const double* value_coefficients, const double* gradient_coefficients,
                                 const double* ylm, const double* ylm_grad, double& value, double gradient[3]) {
    double v = 0.0, gx = 0.0, gy = 0.0, gz = 0.0;
    for (int i = 0; i < count; ++i) {
        v += value_coefficients[i] * ylm[i];
        gx += gradient_coefficients[i] * ylm_grad[3 * i];
        gy += gradient_coefficients[i] * ylm_grad[3 * i + 1];
        gz += gradient_coefficients[i] * ylm_grad[3 * i + 2];
    }
    value = v;
    gradient[0] = gx;
    gradient[1] = gy;
    gradient[2] = gz;
}

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

// Per-thread scratch for one pair at a time; buffers are sized once and reused.
struct DensityWorkspace {
    std::vector<double> radial;        // shape [n_radial_functions], R_nl(r)
    std::vector<double> radial_deriv;  // shape [n_radial_functions], dR_nl/dr
    std::vector<double> ylm;           // shape [(l_max+1)^2]
    std::vector<double> ylm_grad;      // shape [(l_max+1)^2][3]
    std::vector<double> ylm_scratch;   // shape [SphericalHarmonics::scratch_size()]
    std::vector<double> density;       // shape [n_pseudo * n_nlm], A_{k,nlm} of the current centre
    std::vector<double> contracted;        // shape [(l_max+1)^2], contract_cached_gradient() scratch H_lm
    std::vector<double> contracted_deriv;  // shape [(l_max+1)^2], H'_lm
    // expand_with_pair_cache(): per-pair values kept for the force pass
    std::vector<double> pair_radial;        // shape [n_neigh][n_radial_functions], R_nl
    std::vector<double> pair_radial_deriv;  // shape [n_neigh][n_radial_functions], dR_nl/dr
    std::vector<double> pair_ylm;           // shape [n_neigh][(l_max+1)^2]
    std::vector<double> pair_ylm_grad;      // shape [n_neigh][(l_max+1)^2][3]
    std::vector<char> pair_inside;          // shape [n_neigh], |r| < cutoff
};

class DensityExpansion {
public:
    // spline columns must follow the radial layout above; embedding shape [n_species][n_pseudo][n_radial_max];
    // handover: the core-repulsion pairs (s_ab), or an empty switch for none
    DensityExpansion(RadialSpline spline, CutoffFunction cutoff_function, DensityLayout layout, int n_species,
                     int n_pseudo, const double* embedding_table, PairSwitch handover = PairSwitch())
        : spline_(std::move(spline)), cutoff_function_(cutoff_function), layout_(std::move(layout)),
          harmonics_(layout_.l_max()), n_species_(n_species), n_pseudo_(n_pseudo), handover_(std::move(handover)) {
        if (spline_.r_max() != cutoff_function_.cutoff())
            throw std::invalid_argument("density expansion: spline range and cutoff radius differ");
        if (spline_.n_functions() != layout_.n_radial_functions())
            throw std::invalid_argument("density expansion: spline has " + std::to_string(spline_.n_functions()) +
                                        " functions but the layout needs " +
                                        std::to_string(layout_.n_radial_functions()));
        if (n_species < 1 || n_pseudo < 1)
            throw std::invalid_argument("density expansion: n_species and n_pseudo must be >= 1");
        if (handover_.max_range() > cutoff_function_.cutoff())
            throw std::invalid_argument("density expansion: core repulsion range exceeds the cutoff radius");
        const size_t size = static_cast<size_t>(n_species) * n_pseudo * layout_.n_radial_max();
        embedding_.assign(embedding_table, embedding_table + size);
        for (double w : embedding_)
            if (!std::isfinite(w)) throw std::invalid_argument("density expansion: non-finite embedding weight");
        contributes_.assign(static_cast<size_t>(n_species) * n_pseudo, 0);
        for (int s = 0; s < n_species; ++s)
            for (int k = 0; k < n_pseudo; ++k)
                for (int n = 0; n < layout_.n_radial_max(); ++n)
                    if (embedding(s, k, n) != 0.0) contributes_[static_cast<size_t>(s) * n_pseudo + k] = 1;
    }

    const DensityLayout& layout() const { return layout_; }
    int n_species() const { return n_species_; }
    int n_pseudo() const { return n_pseudo_; }
    int n_density() const { return n_pseudo_ * layout_.n_nlm(); }
    double cutoff() const { return cutoff_function_.cutoff(); }
    // u_{k n}(species)
    double embedding(int species, int k, int n) const {
        return embedding_[(static_cast<size_t>(species) * n_pseudo_ + k) * layout_.n_radial_max() + n];
    }
    // Whether neighbours of this species add anything to pseudo-element k (false for most k when one-hot).
    bool contributes(int species, int k) const { return contributes_[static_cast<size_t>(species) * n_pseudo_ + k]; }

    const PairSwitch& handover() const { return handover_; }

    // A_{k,nlm} of one centre (of species centre_species) into ws.density.
    // neighbour_vectors: shape [n_neigh][3], r_j - r_i in Å (all 0 < |r|; those at or beyond the cutoff add nothing)
    // neighbour_species: shape [n_neigh], species index in [0, n_species)
    void expand(int centre_species, int n_neigh, const double* neighbour_vectors, const int* neighbour_species,
                DensityWorkspace& ws) const {
        prepare(ws);
        ws.density.assign(n_density(), 0.0);
        for (int p = 0; p < n_neigh; ++p) {
            if (!radial_angular<false>(neighbour_vectors + 3 * p, centre_species, neighbour_species[p], ws)) continue;
            accumulate(neighbour_species[p], ws.radial.data(), ws.ylm.data(), ws.density.data());
        }
    }

    // As expand(), and keeps every pair's R, dR/dr, Y and ∇Y in ws.pair_* for contract_cached_gradient().
    void expand_with_pair_cache(int centre_species, int n_neigh, const double* neighbour_vectors,
                                const int* neighbour_species, DensityWorkspace& ws) const {
        prepare(ws);
        ws.density.assign(n_density(), 0.0);
        const size_t n_radial = layout_.n_radial_functions(), n_lm = harmonics_.size();
        ws.pair_radial.resize(n_neigh * n_radial);
        ws.pair_radial_deriv.resize(n_neigh * n_radial);
        ws.pair_ylm.resize(n_neigh * n_lm);
        ws.pair_ylm_grad.resize(3 * n_neigh * n_lm);
        ws.pair_inside.assign(n_neigh, 0);
        for (int p = 0; p < n_neigh; ++p) {
            if (!radial_angular<true>(neighbour_vectors + 3 * p, centre_species, neighbour_species[p], ws)) continue;
            ws.pair_inside[p] = 1;
            std::copy(ws.radial.begin(), ws.radial.end(), ws.pair_radial.begin() + p * n_radial);
            std::copy(ws.radial_deriv.begin(), ws.radial_deriv.end(), ws.pair_radial_deriv.begin() + p * n_radial);
            std::copy(ws.ylm.begin(), ws.ylm.end(), ws.pair_ylm.begin() + p * n_lm);
            std::copy(ws.ylm_grad.begin(), ws.ylm_grad.end(), ws.pair_ylm_grad.begin() + 3 * p * n_lm);
            accumulate(neighbour_species[p], ws.radial.data(), ws.ylm.data(), ws.density.data());
        }
    }

    // ∇_{r_ij}(h R_nl Y_lm) (1/Å times the units of R) for `count` pairs of one centre species and one
    // neighbour species, pair i into block[(3 nlm + α) * block_width + i], i.e. block shape
    // [n_nlm][3][block_width] with pairs fastest. Pairs at or beyond the cutoff give zeros.
    void gradient_block(int centre_species, int neighbour_species, int count, const double* vectors /* [count][3] */,
                        int block_width, DensityWorkspace& ws, double* block) const {
        prepare(ws);
        const int n_nlm = layout_.n_nlm();
        for (int i = 0; i < count; ++i) {
            double* column = block + i;
            const double* v = vectors + 3 * i;
            if (!radial_angular<true>(v, centre_species, neighbour_species, ws)) {
                for (int c = 0; c < 3 * n_nlm; ++c) column[c * block_width] = 0.0;
                continue;
            }
            const double inv_r = 1.0 / std::sqrt(v[0] * v[0] + v[1] * v[1] + v[2] * v[2]);
            const double ux = v[0] * inv_r, uy = v[1] * inv_r, uz = v[2] * inv_r;
            for (int l = 0; l <= layout_.l_max(); ++l) {
                const int width = 2 * l + 1;
                for (int n = 0; n < layout_.n_radial(l); ++n) {
                    const double radial = ws.radial[layout_.radial_offset(l) + n];
                    const double dradial = ws.radial_deriv[layout_.radial_offset(l) + n];
                    double* out = column + 3 * static_cast<size_t>(layout_.nlm_offset(l) + n * width) * block_width;
                    for (int mm = 0; mm < width; ++mm) {
                        const int lm = l * l + mm;
                        const double dr_y = dradial * ws.ylm[lm];
                        const double* g = &ws.ylm_grad[3 * lm];
                        out[(3 * mm + 0) * block_width] = dr_y * ux + radial * g[0];
                        out[(3 * mm + 1) * block_width] = dr_y * uy + radial * g[1];
                        out[(3 * mm + 2) * block_width] = dr_y * uz + radial * g[2];
                    }
                }
            }
        }
    }

    // Σ_{nlm} h[nlm] ∇_{r}(R_nl Y_lm)(r_p) into gradient[3] for pair p of the last expand_with_pair_cache();
    // zero beyond the cutoff. h: [n_nlm], e.g. ∂E/∂A contracted with the neighbour's embedding weights.
    // Evaluated as Σ_lm [H'_lm Y_lm r̂ + H_lm ∇Y_lm] with H_lm = Σ_n R_nl h_nlm, H'_lm = Σ_n R'_nl h_nlm.
    void contract_cached_gradient(int p, const double* vector, const double* h, DensityWorkspace& ws,
                                  double gradient[3]) const {
        gradient[0] = gradient[1] = gradient[2] = 0.0;
        if (!ws.pair_inside[p]) return;
        const size_t n_radial = layout_.n_radial_functions(), n_lm = harmonics_.size();
        const double* radial_values = &ws.pair_radial[p * n_radial];
        const double* radial_derivs = &ws.pair_radial_deriv[p * n_radial];
        const double* ylm = &ws.pair_ylm[p * n_lm];
        const double* ylm_grad = &ws.pair_ylm_grad[3 * p * n_lm];
        const double inv_r = 1.0 / std::sqrt(vector[0] * vector[0] + vector[1] * vector[1] + vector[2] * vector[2]);
        double* contracted = ws.contracted.data();              // H_lm
        double* contracted_deriv = ws.contracted_deriv.data();  // H'_lm
        for (int l = 0; l <= layout_.l_max(); ++l) {
            const int width = 2 * l + 1;
            double* H = contracted + l * l;
            double* Hd = contracted_deriv + l * l;
            for (int mm = 0; mm < width; ++mm) H[mm] = Hd[mm] = 0.0;
            for (int n = 0; n < layout_.n_radial(l); ++n) {
                const double* hn = h + layout_.nlm_offset(l) + n * width;
                const double radial = radial_values[layout_.radial_offset(l) + n];
                const double radial_deriv = radial_derivs[layout_.radial_offset(l) + n];
                for (int mm = 0; mm < width; ++mm) {
                    H[mm] += radial * hn[mm];
                    Hd[mm] += radial_deriv * hn[mm];
                }
            }
        }
        double radial_part, angular[3];  // Σ H'_lm Y_lm and Σ H_lm ∇Y_lm
        project_on_harmonics(static_cast<int>(n_lm), contracted_deriv, contracted, ylm, ylm_grad, radial_part, angular);
        gradient[0] = angular[0] + radial_part * vector[0] * inv_r;
        gradient[1] = angular[1] + radial_part * vector[1] * inv_r;
        gradient[2] = angular[2] + radial_part * vector[2] * inv_r;
    }

private:
    // A_{k,nlm} += u_{kn}(species) R_nl Y_lm for one neighbour; radial: [n_radial_functions], ylm: [(l_max+1)^2]
    void accumulate(int species, const double* radial, const double* ylm_all, double* density) const {
        const int n_nlm = layout_.n_nlm();
        for (int k = 0; k < n_pseudo_; ++k) {
            if (!contributes(species, k)) continue;
            double* a_k = density + static_cast<size_t>(k) * n_nlm;
            for (int l = 0; l <= layout_.l_max(); ++l) {
                const int width = 2 * l + 1;
                const double* ylm = ylm_all + l * l;
                for (int n = 0; n < layout_.n_radial(l); ++n) {
                    const double weighted = embedding(species, k, n) * radial[layout_.radial_offset(l) + n];
                    double* out = a_k + layout_.nlm_offset(l) + n * width;
                    for (int mm = 0; mm < width; ++mm) out[mm] += weighted * ylm[mm];
                }
            }
        }
    }

    void prepare(DensityWorkspace& ws) const {
        ws.radial.resize(layout_.n_radial_functions());
        ws.radial_deriv.resize(layout_.n_radial_functions());
        ws.ylm.resize(harmonics_.size());
        ws.ylm_grad.resize(3 * harmonics_.size());
        ws.ylm_scratch.resize(harmonics_.scratch_size());
        ws.contracted.resize(harmonics_.size());
        ws.contracted_deriv.resize(harmonics_.size());
    }

    // h R_nl(r) (and its r-derivative), Y_lm (and ∇Y_lm) of one vector into ws; false if the pair adds
    // nothing (|r| >= cutoff, or handed over to the core repulsion entirely).
    // Throws std::domain_error for |r| < min_pair_distance (coincident atoms) or a non-finite vector.
    template <bool with_gradients>
    bool radial_angular(const double* v, int centre_species, int neighbour_species, DensityWorkspace& ws) const {
        const double r = std::sqrt(v[0] * v[0] + v[1] * v[1] + v[2] * v[2]);
        if (!(r >= min_pair_distance))
            throw std::domain_error("density expansion: a neighbour at distance " + std::to_string(r) +
                                    " Å (atoms closer than 1e-4 Å overlap, non-finite positions are refused)");
        if (!(r < cutoff())) return false;
        double fc_deriv;
        double weight = cutoff_function_.evaluate(r, fc_deriv);  // f_c h
        if (handover_.enabled()) {
            double ds;
            const double s = handover_.value(centre_species, neighbour_species, r, ds);
            if (s >= 1.0) return false;
            fc_deriv = fc_deriv * (1.0 - s) - weight * ds;
            weight *= 1.0 - s;
        }
        spline_.evaluate<with_gradients>(r, ws.radial.data(), ws.radial_deriv.data());
        for (int f = 0; f < layout_.n_radial_functions(); ++f) {
            if (with_gradients) ws.radial_deriv[f] = weight * ws.radial_deriv[f] + fc_deriv * ws.radial[f];
            ws.radial[f] *= weight;
        }
        harmonics_.compute<with_gradients>(v, ws.ylm.data(), ws.ylm_grad.data(), ws.ylm_scratch.data());
        return true;
    }

    RadialSpline spline_;
    CutoffFunction cutoff_function_;
    DensityLayout layout_;
    SphericalHarmonics harmonics_;
    int n_species_;
    int n_pseudo_;
    std::vector<double> embedding_;  // shape [n_species][n_pseudo][n_radial_max]
    std::vector<char> contributes_;  // shape [n_species][n_pseudo]
    PairSwitch handover_;            // s_ab of the core-repulsion pairs
};

}  // namespace lepot
