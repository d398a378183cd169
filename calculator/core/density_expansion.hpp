// Density (A) basis: A_{k,nlm}(i) = Σ_j u_{k n}(a_j) h_{a_i a_j}(r_ij) R_nl(r_ij) Y_lm(r̂_ij)
//
// R_nl(r) = f_c(r) S_nl(r): S_nl is the splined LE function N_nl j_l(z_nl r / r_c), f_c the analytic cutoff.
// h_ab(r) = 1 - s_ab(r) hands close pairs over to the ZBL core repulsion (core_repulsion.hpp): 1 beyond
// r_outer of the pair, 0 at and below r_inner (then the neighbour contributes nothing); h = 1 for pairs
// without core repulsion. Every method therefore takes the centre's species.
//
// Public layout of the radial-angular channel index "nlm" (size n_nlm), used by the couplings:
//   for l in 0..l_max, for n in 0..n_radial(l)-1, for m in -l..l  ->  nlm_offset[l] + n (2l+1) + (l + m)
// Density index a = k * n_nlm + nlm, with k the pseudo-element (k = element when uncompressed).
//
// Kernel layout (docs/design-notes.md "Density kernel"): the pairs that add to the density ("inside
// pairs") are cached structure-of-arrays, pairs fastest, sorted by neighbour species, each species' run
// padded with zero-weight pairs to a multiple of simd_block. Every loop over pairs (harmonics,
// accumulation of A, force back-projection) is then a multiply-add over consecutive pairs with
// broadcast coefficients, without gathers.
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

#include "aligned_storage.hpp"
#include "core_repulsion.hpp"
#include "cutoff_function.hpp"
#include "radial_spline.hpp"
#include "simd_lanes.hpp"
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
    int n_lm() const { return (l_max_ + 1) * (l_max_ + 1); }
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

// Per-thread scratch; buffers are sized on first use and reused.
// Inside pairs are the pairs that add to the density (inside the cutoff and not handed over entirely to
// the core repulsion); slot i indexes them in the kernel layout (sorted by species, runs padded).
struct DensityWorkspace {
    AlignedDoubles ylm_scratch;        // shape [SphericalHarmonics::scratch_size(simd_block)]
    std::vector<double> density;       // shape [n_pseudo * n_nlm], A_{k,nlm} of the current centre
    std::vector<double> pair_sums;     // shape [n_nlm], Σ R_nl Y_lm over one species' inside pairs
    // the inside pairs of the last expand / expand_with_pair_cache
    int n_slots = 0;                        // inside pairs plus padding
    std::vector<int> inside_index;          // shape [n_neigh], slot i of pair p, or -1 if it adds nothing
    std::vector<int> inside_pair;           // shape [n_slots], pair p in slot i, or -1 for padding
    std::vector<int> species_begin;         // shape [n_species+1], slots of species s: [begin[s], begin[s+1])
    std::vector<int> species_fill;          // shape [n_species], counting-sort positions
    std::vector<double> pair_distance;      // shape [n_neigh], |r_ij| (Å)
    std::vector<double> pair_handover;        // shape [n_neigh], h = 1 - s_ab(r) (1 without core repulsion)
    std::vector<double> pair_handover_deriv;  // shape [n_neigh], dh/dr (1/Å)
    // F below is the spline's padded_functions(): Σ_l n_l rounded up to whole blocks (padding functions are 0)
    AlignedDoubles slot_radial;         // shape [n_slots][radial_row_length()], R_nl slot by slot (what the
                                        //   accumulation of A reads; padding slots: 0)
    AlignedDoubles block_radial_deriv;  // shape [simd_block][F], dR/dr of one block slot by slot
    AlignedDoubles pair_unit;          // shape [3][n_slots], r̂_ij (padding: ẑ)
    AlignedDoubles pair_inverse_distance;  // shape [n_slots], 1/|r_ij| (padding: 0)
    AlignedDoubles pair_radial;        // shape [F][n_slots], R_nl (padding: 0)
    AlignedDoubles pair_radial_deriv;  // shape [F][n_slots], dR_nl/dr (with gradients)
    AlignedDoubles pair_ylm;           // shape [(l_max+1)^2][n_slots]
    // with gradients, the factors of ∇F_lm (SphericalHarmonics::compute_block; ∇Y_lm = tangential_gradient of it)
    AlignedDoubles pair_legendre;        // shape [n_legendre][n_slots], q_lm = K_lm Q_l^m(u_z), m >= 0
    AlignedDoubles pair_legendre_deriv;  // shape [n_legendre][n_slots], q'_lm = K_lm dQ_l^m/du_z
    AlignedDoubles pair_phases;          // shape [2][l_max+1][n_slots], c_m = Re (u_x + i u_y)^m, then s_m = Im
    AlignedDoubles block_adjoint;        // shape [2][(l_max+1)^2][simd_block], H_lm then H'_lm of one block
    // pair_major_cache(): the same pairs slot by slot
    std::vector<double> pair_major_radial;        // shape [n_slots][n_radial_functions]
    std::vector<double> pair_major_radial_deriv;  // shape [n_slots][n_radial_functions]
    std::vector<double> pair_major_ylm;           // shape [n_slots][(l_max+1)^2]
    std::vector<double> pair_major_ylm_grad;      // shape [n_slots][(l_max+1)^2][3], ∇Y_lm
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
        channel_embedding_.reserve(static_cast<size_t>(n_species) * n_pseudo * layout_.n_nlm());
        for (int s = 0; s < n_species; ++s)
            for (int k = 0; k < n_pseudo; ++k)
                for (int l = 0; l <= layout_.l_max(); ++l)
                    for (int n = 0; n < layout_.n_radial(l); ++n)
                        channel_embedding_.insert(channel_embedding_.end(), 2 * l + 1, embedding(s, k, n));
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
        cache_pairs<false>(centre_species, n_neigh, neighbour_vectors, neighbour_species, ws);
        accumulate(ws);
    }

    // As expand(), and keeps every inside pair's R, dR/dr, Y and ∇Y in ws.pair_* (kernel layout) for
    // project_adjoint() and the descriptor gradients.
    void expand_with_pair_cache(int centre_species, int n_neigh, const double* neighbour_vectors,
                                const int* neighbour_species, DensityWorkspace& ws) const {
        cache_pairs<true>(centre_species, n_neigh, neighbour_vectors, neighbour_species, ws);
        accumulate(ws);
    }

    // h_s[nlm] = Σ_k u_{kn}(s) ∂E/∂A_{k,nlm} (what project_adjoint reads) into out [n_species][n_nlm], for the
    // neighbour species with inside pairs in the last expand_with_pair_cache() (zero for the others);
    // adjoint: ∂E/∂A, shape [n_pseudo][n_nlm]
    void species_adjoint(const double* adjoint, const DensityWorkspace& ws, std::vector<double>& out) const {
        const int n_nlm = layout_.n_nlm();
        out.assign(static_cast<size_t>(n_species_) * n_nlm, 0.0);
        for (int s = 0; s < n_species_; ++s) {
            if (ws.species_begin[s] == ws.species_begin[s + 1]) continue;
            double* h = out.data() + static_cast<size_t>(s) * n_nlm;
            for (int k = 0; k < n_pseudo_; ++k) {
                if (!contributes(s, k)) continue;
                const double* weight = channel_embedding_.data() + (static_cast<size_t>(s) * n_pseudo_ + k) * n_nlm;
                const double* g = adjoint + static_cast<size_t>(k) * n_nlm;
#pragma omp simd
                for (int c = 0; c < n_nlm; ++c) h[c] += weight[c] * g[c];
            }
        }
    }

    // ∂E/∂r_ij = Σ_{nlm} h_{a_j}[nlm] ∇(h R_nl Y_lm)(r_ij) into pair_gradients [n_neigh][3] for every pair of
    // the last expand_with_pair_cache(); zero for pairs that add nothing.
    // species_adjoint: [n_species][n_nlm], h_s = Σ_k u_{kn}(s) ∂E/∂A_{k,nlm}
    // Per block of simd_block pairs (project_block): H_lm = Σ_n h_nlm R_nl and H'_lm = Σ_n h_nlm R'_nl, then
    // ∂E/∂r = Σ_lm H'_lm Y_lm r̂ + T(Σ_lm H_lm ∇F_lm), T the tangential projection, applied once per pair.
    void project_adjoint(int n_neigh, const double* species_adjoint, DensityWorkspace& ws,
                         double* pair_gradients) const {
        std::fill(pair_gradients, pair_gradients + 3 * static_cast<size_t>(n_neigh), 0.0);
        ws.block_adjoint.resize(2 * static_cast<size_t>(layout_.n_lm()) * simd_block);
        for (int s = 0; s < n_species_; ++s) {
            const double* h = species_adjoint + static_cast<size_t>(s) * layout_.n_nlm();
            for (int begin = ws.species_begin[s]; begin < ws.species_begin[s + 1]; begin += simd_block)
                project_block(h, begin, ws, pair_gradients);
        }
    }

    // The inside pairs of the last expand_with_pair_cache() pair-major, for code that works one pair at a
    // time (the descriptor kernel's factorised gradients): ws.pair_major_* rows of slot i hold R_nl, dR_nl/dr
    // (radial layout), Y_lm and ∇Y_lm ([(l_max+1)^2][3], the tangential gradient). One sequential pass over
    // the kernel layout per centre.
    void pair_major_cache(DensityWorkspace& ws) const {
        const size_t stride = ws.n_slots, n_functions = layout_.n_radial_functions(), n_lm = layout_.n_lm();
        ws.pair_major_radial.resize(stride * n_functions);
        ws.pair_major_radial_deriv.resize(stride * n_functions);
        ws.pair_major_ylm.resize(stride * n_lm);
        ws.pair_major_ylm_grad.resize(3 * stride * n_lm);
        for (size_t f = 0; f < n_functions; ++f)
            for (size_t i = 0; i < stride; ++i) {
                ws.pair_major_radial[i * n_functions + f] = ws.pair_radial[f * stride + i];
                ws.pair_major_radial_deriv[i * n_functions + f] = ws.pair_radial_deriv[f * stride + i];
            }
        const double* unit = ws.pair_unit.data();
        double polynomial_gradient[3][simd_block];  // ∇F_lm of one block of slots
        for (size_t begin = 0; begin < stride; begin += simd_block)
            for (int l = 0; l <= layout_.l_max(); ++l)
                for (int m = -l; m <= l; ++m) {
                    const size_t lm = ylm_index(l, m);
                    harmonics_.polynomial_gradient<simd_block>(l, m, stride, ws.pair_legendre.data() + begin,
                                                               ws.pair_legendre_deriv.data() + begin,
                                                               ws.pair_phases.data() + begin, polynomial_gradient[0],
                                                               simd_block);
                    for (size_t i = begin; i < begin + simd_block; ++i) {
                        ws.pair_major_ylm[i * n_lm + lm] = ws.pair_ylm[lm * stride + i];
                        const double u[3] = {unit[i], unit[stride + i], unit[2 * stride + i]};
                        double* g = &ws.pair_major_ylm_grad[3 * (i * n_lm + lm)];
                        for (int alpha = 0; alpha < 3; ++alpha) g[alpha] = polynomial_gradient[alpha][i - begin];
                        SphericalHarmonics::tangential_gradient(u, ws.pair_inverse_distance[i], g);
                    }
                }
    }

    // ∇_{r_ij}(h R_nl Y_lm) (1/Å times the units of R) of the simd_block slots begin.. of the last
    // expand_with_pair_cache() (one species' run: begin a multiple of simd_block), from the cached values,
    // into block[(3 nlm + α) * simd_block + b], i.e. block shape [n_nlm][3][simd_block]; padding slots give 0.
    void cached_gradient_block(int begin, const DensityWorkspace& ws, double* block) const {
        const size_t stride = ws.n_slots;
        const double* ux = ws.pair_unit.data() + begin;
        const double* uy = ux + stride;
        const double* uz = uy + stride;
        const double* inverse_distance = ws.pair_inverse_distance.data() + begin;
        for (int l = 0; l <= layout_.l_max(); ++l) {
            const int width = 2 * l + 1;
            for (int mm = 0; mm < width; ++mm) {
                const size_t lm = l * l + mm;
                const double* y = ws.pair_ylm.data() + lm * stride + begin;
                double polynomial_gradient[3][simd_block];  // ∇F_lm
                harmonics_.polynomial_gradient<simd_block>(l, mm - l, stride, ws.pair_legendre.data() + begin,
                                                           ws.pair_legendre_deriv.data() + begin,
                                                           ws.pair_phases.data() + begin, polynomial_gradient[0],
                                                           simd_block);
                const double* fx = polynomial_gradient[0];
                const double* fy = polynomial_gradient[1];
                const double* fz = polynomial_gradient[2];
                double gx[simd_block], gy[simd_block], gz[simd_block];  // ∇Y = (∇F - (u·∇F) u) / r
#pragma omp simd
                for (int b = 0; b < simd_block; ++b) {
                    const double radial = ux[b] * fx[b] + uy[b] * fy[b] + uz[b] * fz[b];
                    gx[b] = (fx[b] - radial * ux[b]) * inverse_distance[b];
                    gy[b] = (fy[b] - radial * uy[b]) * inverse_distance[b];
                    gz[b] = (fz[b] - radial * uz[b]) * inverse_distance[b];
                }
                for (int n = 0; n < layout_.n_radial(l); ++n) {
                    const size_t f = layout_.radial_offset(l) + n;
                    const double* r = ws.pair_radial.data() + f * stride + begin;
                    const double* dr = ws.pair_radial_deriv.data() + f * stride + begin;
                    double* out = block + 3 * static_cast<size_t>(layout_.nlm_offset(l) + n * width + mm) * simd_block;
#pragma omp simd
                    for (int b = 0; b < simd_block; ++b) {
                        const double dr_y = dr[b] * y[b];
                        out[b] = dr_y * ux[b] + r[b] * gx[b];
                        out[simd_block + b] = dr_y * uy[b] + r[b] * gy[b];
                        out[2 * simd_block + b] = dr_y * uz[b] + r[b] * gz[b];
                    }
                }
            }
        }
    }

private:
    // Distance and handover weight h = 1 - s of a pair and dh/dr; false if the pair adds nothing (|r| >= cutoff,
    // or handed over to the core repulsion entirely). The cutoff f_c is applied per block (cache_pairs).
    // Throws std::domain_error for |r| < min_pair_distance (coincident atoms) or a non-finite vector.
    bool pair_distance(const double* v, int centre_species, int neighbour_species, double& r, double& handover,
                       double& handover_deriv) const {
        r = std::sqrt(v[0] * v[0] + v[1] * v[1] + v[2] * v[2]);
        if (!(r >= min_pair_distance))
            throw std::domain_error("density expansion: a neighbour at distance " + std::to_string(r) +
                                    " Å (atoms closer than 1e-4 Å overlap, non-finite positions are refused)");
        if (!(r < cutoff())) return false;
        handover = 1.0;
        handover_deriv = 0.0;
        if (handover_.enabled()) {
            double ds;
            const double s = handover_.value(centre_species, neighbour_species, r, ds);
            if (s >= 1.0) return false;
            handover = 1.0 - s;
            handover_deriv = -ds;
        }
        return true;
    }

    // The inside pairs of one centre in the kernel layout (ws.pair_*): sorted by species, padded runs.
    // Per block of simd_block slots: r̂ and 1/r, R and R' slot by slot (the spline), R and R' transposed
    // into rows (with gradients: what the back-projection reads), Y and the factors of ∇F.
    template <bool with_gradients>
    void cache_pairs(int centre_species, int n_neigh, const double* vectors, const int* species,
                     DensityWorkspace& ws) const {
        ws.inside_index.assign(n_neigh, -1);
        ws.pair_distance.resize(n_neigh);
        ws.pair_handover.resize(n_neigh);
        ws.pair_handover_deriv.resize(n_neigh);
        ws.species_begin.assign(n_species_ + 1, 0);
        for (int p = 0; p < n_neigh; ++p) {
            if (!pair_distance(vectors + 3 * p, centre_species, species[p], ws.pair_distance[p], ws.pair_handover[p],
                               ws.pair_handover_deriv[p]))
                continue;
            ws.inside_index[p] = 0;
            ws.species_begin[species[p] + 1] += 1;
        }
        for (int s = 0; s < n_species_; ++s)
            ws.species_begin[s + 1] =
                ws.species_begin[s] + (ws.species_begin[s + 1] + simd_block - 1) / simd_block * simd_block;
        const int stride = ws.n_slots = ws.species_begin[n_species_];
        ws.inside_pair.assign(stride, -1);
        ws.species_fill.assign(ws.species_begin.begin(), ws.species_begin.end() - 1);
        for (int p = 0; p < n_neigh; ++p) {
            if (ws.inside_index[p] < 0) continue;
            const int i = ws.species_fill[species[p]]++;
            ws.inside_index[p] = i;
            ws.inside_pair[i] = p;
        }
        const int n_functions = spline_.padded_functions(), n_lm = harmonics_.size();
        ws.pair_unit.assign(3 * static_cast<size_t>(stride), 0.0);
        ws.pair_inverse_distance.assign(stride, 0.0);
        ws.pair_ylm.resize(static_cast<size_t>(n_lm) * stride);
        if (with_gradients) {
            ws.pair_radial.resize(static_cast<size_t>(n_functions) * stride);
            ws.pair_radial_deriv.resize(static_cast<size_t>(n_functions) * stride);
            ws.pair_legendre.resize(static_cast<size_t>(harmonics_.n_legendre()) * stride);
            ws.pair_legendre_deriv.resize(static_cast<size_t>(harmonics_.n_legendre()) * stride);
            ws.pair_phases.resize(2 * static_cast<size_t>(layout_.l_max() + 1) * stride);
        }
        ws.ylm_scratch.resize(harmonics_.scratch_size(simd_block));
        const int row_length = radial_row_length();
        ws.slot_radial.resize(static_cast<size_t>(stride) * row_length);
        ws.block_radial_deriv.resize(static_cast<size_t>(simd_block) * n_functions);
        double* unit = ws.pair_unit.data();
        for (int begin = 0; begin < stride; begin += simd_block) {
            double distance[simd_block], cutoff_value[simd_block], cutoff_deriv[simd_block];
            for (int b = 0; b < simd_block; ++b) {
                const int p = ws.inside_pair[begin + b];
                distance[b] = p < 0 ? cutoff() : ws.pair_distance[p];
            }
            cutoff_function_.evaluate_block<simd_block>(distance, cutoff_value, cutoff_deriv);
            for (int b = 0; b < simd_block; ++b) {
                const int i = begin + b, p = ws.inside_pair[i];
                double* radial = ws.slot_radial.data() + static_cast<size_t>(i) * row_length;
                double* radial_deriv = ws.block_radial_deriv.data() + b * n_functions;
                if (p < 0) {  // padding: no weight, any unit vector
                    unit[2 * static_cast<size_t>(stride) + i] = 1.0;
                    std::fill(radial, radial + n_functions, 0.0);
                    std::fill(radial_deriv, radial_deriv + n_functions, 0.0);
                    continue;
                }
                const double* v = vectors + 3 * p;
                const double inverse_distance = 1.0 / ws.pair_distance[p];
                ws.pair_inverse_distance[i] = inverse_distance;
                for (int alpha = 0; alpha < 3; ++alpha)
                    unit[alpha * static_cast<size_t>(stride) + i] = v[alpha] * inverse_distance;
                const double weight = cutoff_value[b] * ws.pair_handover[p];
                const double weight_deriv =
                    cutoff_deriv[b] * ws.pair_handover[p] + cutoff_value[b] * ws.pair_handover_deriv[p];
                spline_.evaluate<with_gradients>(ws.pair_distance[p], weight, weight_deriv, radial, radial_deriv);
            }
            if (with_gradients)  // the block's slots [simd_block][F] into the rows [F][stride], 8 x 8 tiles
                for (int f = 0; f < n_functions; f += simd_block) {
                    transpose_tile(ws.slot_radial.data() + static_cast<size_t>(begin) * row_length + f, row_length,
                                   ws.pair_radial.data() + static_cast<size_t>(f) * stride + begin, stride);
                    transpose_tile(ws.block_radial_deriv.data() + f, n_functions,
                                   ws.pair_radial_deriv.data() + static_cast<size_t>(f) * stride + begin, stride);
                }
            harmonics_.compute_block<with_gradients, simd_block>(
                stride, unit + begin, unit + stride + begin, unit + 2 * static_cast<size_t>(stride) + begin,
                ws.pair_ylm.data() + begin, with_gradients ? ws.pair_legendre.data() + begin : nullptr,
                with_gradients ? ws.pair_legendre_deriv.data() + begin : nullptr,
                with_gradients ? ws.pair_phases.data() + begin : nullptr, ws.ylm_scratch.data());
        }
    }

    // project_adjoint() for the slots [begin, begin + simd_block) of one species' run, h = h_s.
    // First H_lm and H'_lm of the block into ws.block_adjoint (radial_projection), then, per order m >= 0 and
    // with q, q' and c, s of the harmonics' factors (SphericalHarmonics::compute_block):
    //   A±_m = Σ_l q_lm H_{l,±m},  B±_m = Σ_l q'_lm H_{l,±m},  C±_m = Σ_l q_lm H'_{l,±m}
    //   Σ_lm H'_lm Y_lm    += C+_m c_m + C-_m s_m
    //   Σ_lm H_lm ∂F/∂u_z  += B+_m c_m + B-_m s_m
    //   Σ_lm H_lm ∂F/∂u_x  += m (A+_m c_{m-1} + A-_m s_{m-1}),  ∂F/∂u_y: m (A-_m c_{m-1} - A+_m s_{m-1})
    // (polynomial_gradient written out and summed over l before the phases multiply).
    void project_block(const double* h, int begin, DensityWorkspace& ws, double* pair_gradients) const {
        using V = register_vector;
        constexpr int parts = simd_block / register_lanes;
        const size_t stride = ws.n_slots;
        const int l_max = layout_.l_max();
        double* weighted = ws.block_adjoint.data();                                                // H  [lm][b]
        double* weighted_deriv = weighted + static_cast<size_t>(layout_.n_lm()) * simd_block;  // H' [lm][b]
        for (int l = 0; l <= l_max; ++l) {
            const int width = 2 * l + 1, tiles = (width + max_projection_tile - 1) / max_projection_tile;
            for (int t = 0; t < tiles; ++t) {  // tiles of nearly equal size
                const int m0 = t * width / tiles, m1 = (t + 1) * width / tiles;
                radial_projection_tile(m1 - m0, l, m0, h, begin, ws, weighted, weighted_deriv);
            }
        }
        V radial_sum[parts], gradient_x[parts], gradient_y[parts], gradient_z[parts];  // Σ_lm over the block
        for (int j = 0; j < parts; ++j) radial_sum[j] = gradient_x[j] = gradient_y[j] = gradient_z[j] = V{};
        const double* cosine = ws.pair_phases.data() + begin;
        const double* sine = cosine + (l_max + 1) * stride;
        for (int m = 0; m <= l_max; ++m)
            for (int j = 0; j < parts; ++j) {
                const size_t column = j * register_lanes;
                V a_plus = {}, b_plus = {}, c_plus = {}, a_minus = {}, b_minus = {}, c_minus = {};
                for (int l = m; l <= l_max; ++l) {
                    const size_t factor = SphericalHarmonics::legendre_index(l, m) * stride + begin + column;
                    const V q = load_lanes<V>(ws.pair_legendre.data() + factor);
                    const V dq = load_lanes<V>(ws.pair_legendre_deriv.data() + factor);
                    const size_t plus = ylm_index(l, m) * simd_block + column;
                    const V h_plus = load_lanes<V>(weighted + plus), dh_plus = load_lanes<V>(weighted_deriv + plus);
                    a_plus += q * h_plus;
                    b_plus += dq * h_plus;
                    c_plus += q * dh_plus;
                    const size_t minus = ylm_index(l, -m) * simd_block + column;  // m = 0: the same; s_0 = 0
                    const V h_minus = load_lanes<V>(weighted + minus), dh_minus = load_lanes<V>(weighted_deriv + minus);
                    a_minus += q * h_minus;
                    b_minus += dq * h_minus;
                    c_minus += q * dh_minus;
                }
                const V c_m = load_lanes<V>(cosine + m * stride + column), s_m = load_lanes<V>(sine + m * stride + column);
                radial_sum[j] += c_plus * c_m + c_minus * s_m;
                gradient_z[j] += b_plus * c_m + b_minus * s_m;
                if (m == 0) continue;
                const V c_lower = load_lanes<V>(cosine + (m - 1) * stride + column),
                        s_lower = load_lanes<V>(sine + (m - 1) * stride + column);
                gradient_x[j] += static_cast<double>(m) * (a_plus * c_lower + a_minus * s_lower);
                gradient_y[j] += static_cast<double>(m) * (a_minus * c_lower - a_plus * s_lower);
            }
        for (int b = 0; b < simd_block; ++b) {
            const int p = ws.inside_pair[begin + b];
            if (p < 0) continue;
            const int j = b / register_lanes, lane = b % register_lanes;
            const double u[3] = {ws.pair_unit[begin + b], ws.pair_unit[stride + begin + b],
                                 ws.pair_unit[2 * stride + begin + b]};
            double* out = pair_gradients + 3 * static_cast<size_t>(p);
            out[0] = gradient_x[j][lane];
            out[1] = gradient_y[j][lane];
            out[2] = gradient_z[j][lane];
            SphericalHarmonics::tangential_gradient(u, ws.pair_inverse_distance[begin + b], out);
            for (int alpha = 0; alpha < 3; ++alpha) out[alpha] += radial_sum[j][lane] * u[alpha];
        }
    }

    // Harmonics per radial_projection pass: its 2 Tile accumulators of a block stay in registers (32 with
    // AVX-512; 16 with AVX, two per block). Chosen on benchmarks/density_kernel.py (docs/design-notes.md 14).
    static constexpr int max_projection_tile = register_lanes == 8 ? 12 : 3;

    // radial_projection<tile> for a run-time tile of 1..max_projection_tile harmonics.
    void radial_projection_tile(int tile, int l, int m0, const double* h, int begin, const DensityWorkspace& ws,
                                double* weighted, double* weighted_deriv) const {
        static_assert(max_projection_tile <= 12, "the cases below must reach max_projection_tile");
        switch (tile) {
            case 1: return radial_projection<1>(l, m0, h, begin, ws, weighted, weighted_deriv);
            case 2: return radial_projection<2>(l, m0, h, begin, ws, weighted, weighted_deriv);
            case 3: return radial_projection<3>(l, m0, h, begin, ws, weighted, weighted_deriv);
            case 4: return radial_projection<4>(l, m0, h, begin, ws, weighted, weighted_deriv);
            case 5: return radial_projection<5>(l, m0, h, begin, ws, weighted, weighted_deriv);
            case 6: return radial_projection<6>(l, m0, h, begin, ws, weighted, weighted_deriv);
            case 7: return radial_projection<7>(l, m0, h, begin, ws, weighted, weighted_deriv);
            case 8: return radial_projection<8>(l, m0, h, begin, ws, weighted, weighted_deriv);
            case 9: return radial_projection<9>(l, m0, h, begin, ws, weighted, weighted_deriv);
            case 10: return radial_projection<10>(l, m0, h, begin, ws, weighted, weighted_deriv);
            case 11: return radial_projection<11>(l, m0, h, begin, ws, weighted, weighted_deriv);
            default: return radial_projection<12>(l, m0, h, begin, ws, weighted, weighted_deriv);
        }
    }

    // radial_projection<Tile, N> with the radial count n_radial(l) fixed at compile time up to 8 (the loop over n
    // unrolled: measured 1.35x faster for the whole back-projection than a run-time count, design-notes 14),
    // N = 0 (run-time count) beyond.
    template <int Tile>
    void radial_projection(int l, int m0, const double* h, int begin, const DensityWorkspace& ws, double* weighted,
                           double* weighted_deriv) const {
        switch (layout_.n_radial(l)) {
            case 1: return radial_projection<Tile, 1>(l, m0, h, begin, ws, weighted, weighted_deriv);
            case 2: return radial_projection<Tile, 2>(l, m0, h, begin, ws, weighted, weighted_deriv);
            case 3: return radial_projection<Tile, 3>(l, m0, h, begin, ws, weighted, weighted_deriv);
            case 4: return radial_projection<Tile, 4>(l, m0, h, begin, ws, weighted, weighted_deriv);
            case 5: return radial_projection<Tile, 5>(l, m0, h, begin, ws, weighted, weighted_deriv);
            case 6: return radial_projection<Tile, 6>(l, m0, h, begin, ws, weighted, weighted_deriv);
            case 7: return radial_projection<Tile, 7>(l, m0, h, begin, ws, weighted, weighted_deriv);
            case 8: return radial_projection<Tile, 8>(l, m0, h, begin, ws, weighted, weighted_deriv);
            default: return radial_projection<Tile, 0>(l, m0, h, begin, ws, weighted, weighted_deriv);
        }
    }

    // H_lm = Σ_n h_nlm R_nl and H'_lm = Σ_n h_nlm R'_nl for the Tile harmonics m0.. of degree l over the block
    // of slots at `begin`, into weighted / weighted_deriv [lm][simd_block]: each radial row loaded once for
    // the tile, each coefficient broadcast once for the block; N radial functions (0: n_radial(l)).
    template <int Tile, int N>
    void radial_projection(int l, int m0, const double* h, int begin, const DensityWorkspace& ws, double* weighted,
                           double* weighted_deriv) const {
        using V = register_vector;
        constexpr int parts = simd_block / register_lanes;
        const size_t stride = ws.n_slots;
        const int width = 2 * l + 1, n_count = N > 0 ? N : layout_.n_radial(l);
        V sums[Tile][parts] = {}, deriv_sums[Tile][parts] = {};
        const double* radial = ws.pair_radial.data() + layout_.radial_offset(l) * stride + begin;
        const double* radial_deriv = ws.pair_radial_deriv.data() + layout_.radial_offset(l) * stride + begin;
        const double* coefficients = h + layout_.nlm_offset(l) + m0;
        for (int n = 0; n < n_count; ++n) {
            V r[parts], dr[parts];
            for (int j = 0; j < parts; ++j) {
                r[j] = load_lanes<V>(radial + n * stride + j * register_lanes);
                dr[j] = load_lanes<V>(radial_deriv + n * stride + j * register_lanes);
            }
            for (int t = 0; t < Tile; ++t) {
                const double c = coefficients[n * width + t];
                for (int j = 0; j < parts; ++j) {
                    sums[t][j] += c * r[j];
                    deriv_sums[t][j] += c * dr[j];
                }
            }
        }
        for (int t = 0; t < Tile; ++t)
            for (int j = 0; j < parts; ++j) {
                const size_t out = (l * l + m0 + t) * simd_block + j * register_lanes;
                store_lanes(weighted + out, sums[t][j]);
                store_lanes(weighted_deriv + out, deriv_sums[t][j]);
            }
    }

    // A_{k,nlm} = Σ_s u_{kn}(s) Σ_{inside pairs i of species s} R_nl(i) Y_lm(i) into ws.density: per species
    // the pair sums S_nlm (pair_sums: outer products of each pair's R_nl, eight n at a time, with its Y_lm,
    // summed in registers), then A_k += u_k(s) S over all channels at once.
    void accumulate(DensityWorkspace& ws) const {
        const int n_nlm = layout_.n_nlm();
        ws.density.assign(n_density(), 0.0);
        ws.pair_sums.resize(n_nlm);
        for (int s = 0; s < n_species_; ++s) {
            const int begin = ws.species_begin[s], end = ws.species_begin[s + 1];
            if (begin == end) continue;
            int pairs_end = begin;  // the run's padding slots come last and add nothing
            while (pairs_end < end && ws.inside_pair[pairs_end] >= 0) ++pairs_end;
            for (int l = 0; l <= layout_.l_max(); ++l) {
                const int width = 2 * l + 1;
                for (int n0 = 0; n0 < layout_.n_radial(l); n0 += simd_block)
                    for (int m0 = 0; m0 < width; m0 += max_sum_tile)
                        pair_sums_tile(std::min(max_sum_tile, width - m0), l, n0, m0, begin, pairs_end, ws);
            }
            const double* sums = ws.pair_sums.data();
            for (int k = 0; k < n_pseudo_; ++k) {
                if (!contributes(s, k)) continue;
                const double* weight = channel_embedding_.data() + (static_cast<size_t>(s) * n_pseudo_ + k) * n_nlm;
                double* density = ws.density.data() + static_cast<size_t>(k) * n_nlm;
#pragma omp simd
                for (int c = 0; c < n_nlm; ++c) density[c] += weight[c] * sums[c];
            }
        }
    }

    // Harmonics whose pair sums are formed in one pass: max_sum_tile accumulators of a block of n in registers
    // (one register each with AVX-512: every l <= 7 takes one pass; two each with AVX). Fewer, shorter passes
    // were measured slower with AVX-512 (docs/design-notes.md 14).
    static constexpr int max_sum_tile = register_lanes == 8 ? 16 : 6;

    // pair_sums<tile> for a run-time tile of 1..max_sum_tile harmonics.
    void pair_sums_tile(int tile, int l, int n0, int m0, int begin, int end, DensityWorkspace& ws) const {
        static_assert(max_sum_tile <= 16, "the cases below must reach max_sum_tile");
        switch (tile) {
            case 1: return pair_sums<1>(l, n0, m0, begin, end, ws);
            case 2: return pair_sums<2>(l, n0, m0, begin, end, ws);
            case 3: return pair_sums<3>(l, n0, m0, begin, end, ws);
            case 4: return pair_sums<4>(l, n0, m0, begin, end, ws);
            case 5: return pair_sums<5>(l, n0, m0, begin, end, ws);
            case 6: return pair_sums<6>(l, n0, m0, begin, end, ws);
            case 7: return pair_sums<7>(l, n0, m0, begin, end, ws);
            case 8: return pair_sums<8>(l, n0, m0, begin, end, ws);
            case 9: return pair_sums<9>(l, n0, m0, begin, end, ws);
            case 10: return pair_sums<10>(l, n0, m0, begin, end, ws);
            case 11: return pair_sums<11>(l, n0, m0, begin, end, ws);
            case 12: return pair_sums<12>(l, n0, m0, begin, end, ws);
            case 13: return pair_sums<13>(l, n0, m0, begin, end, ws);
            case 14: return pair_sums<14>(l, n0, m0, begin, end, ws);
            case 15: return pair_sums<15>(l, n0, m0, begin, end, ws);
            default: return pair_sums<16>(l, n0, m0, begin, end, ws);
        }
    }

    // S_nlm for the radial indices n0..n0+7 (those below n_radial(l)) and the Tile harmonics m0.. of degree l,
    // over the slots [begin, end), into ws.pair_sums: for each slot, one broadcast Y_lm times the slot's eight
    // R_nl (contiguous in slot_radial) per harmonic, so the sums over slots need no horizontal additions.
    template <int Tile>
    void pair_sums(int l, int n0, int m0, int begin, int end, DensityWorkspace& ws) const {
        const size_t stride = ws.n_slots, row_length = radial_row_length();
        const double* y = ws.pair_ylm.data() + (l * l + m0) * stride;
        const double* radial = ws.slot_radial.data() + layout_.radial_offset(l) + n0;
        using V = register_vector;
        constexpr int parts = simd_block / register_lanes;
        V sums[Tile][parts] = {};  // [m - m0][n - n0]
        for (int i = begin; i < end; ++i) {
            V r[parts];
            for (int j = 0; j < parts; ++j) r[j] = load_lanes<V>(radial + i * row_length + j * register_lanes);
            for (int t = 0; t < Tile; ++t) {
                const double y_lm = y[t * stride + i];
                for (int j = 0; j < parts; ++j) sums[t][j] += y_lm * r[j];
            }
        }
        const int width = 2 * l + 1, n_count = std::min(simd_block, layout_.n_radial(l) - n0);
        double* out = ws.pair_sums.data() + layout_.nlm_offset(l) + n0 * width + m0;
        for (int n = 0; n < n_count; ++n)
            for (int t = 0; t < Tile; ++t) out[n * width + t] = sums[t][n / register_lanes][n % register_lanes];
    }

    // Length of a slot's row in slot_radial: the spline's padded functions (whole blocks) plus one block, so
    // that pair_sums' eight-wide loads from the last functions of a row stay inside it.
    int radial_row_length() const { return spline_.padded_functions() + simd_block; }

    RadialSpline spline_;
    CutoffFunction cutoff_function_;
    DensityLayout layout_;
    SphericalHarmonics harmonics_;
    int n_species_;
    int n_pseudo_;
    std::vector<double> embedding_;  // shape [n_species][n_pseudo][n_radial_max]
    std::vector<char> contributes_;  // shape [n_species][n_pseudo]
    std::vector<double> channel_embedding_;  // shape [n_species][n_pseudo][n_nlm]: u_{k n}(s) of each channel nlm
    PairSwitch handover_;            // s_ab of the core-repulsion pairs
};

}  // namespace lepot
