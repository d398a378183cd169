// density_expansion.hpp: density gradients against finite differences (with the core-repulsion handover; for
// a small basis and for one with more than eight radial functions per l and l_max 8),
// pairs handed over entirely, an empty neighbour list, an atom alone in a huge box, a single radial
// channel, and coincident atoms (refused).
#include "density_expansion.hpp"

#include <random>
#include <vector>

#include "check.hpp"
#include "model_parameters.hpp"
#include "small_basis.hpp"

using namespace native_test;

// ∂(h R Y)_{nlm}/∂r of every pair from the cache of expand_with_pair_cache() (cached_gradient_block over the
// species runs), shape [n_nlm][3][n_neigh]; zero for pairs that add nothing.
std::vector<double> pair_gradients(const lepot::DensityExpansion& expansion, int centre, const std::vector<double>& vectors,
                                   const std::vector<int>& species, lepot::DensityWorkspace& ws) {
    const int n_neigh = static_cast<int>(species.size()), n_nlm = expansion.layout().n_nlm();
    expansion.expand_with_pair_cache(centre, n_neigh, vectors.data(), species.data(), ws);
    std::vector<double> result(static_cast<size_t>(n_nlm) * 3 * n_neigh, 0.0);
    std::vector<double> block(static_cast<size_t>(n_nlm) * 3 * lepot::simd_block);
    for (int begin = 0; begin < ws.n_slots; begin += lepot::simd_block) {
        expansion.cached_gradient_block(begin, ws, block.data());
        for (int b = 0; b < lepot::simd_block; ++b) {
            const int p = ws.inside_pair[begin + b];
            if (p < 0) continue;
            for (int row = 0; row < 3 * n_nlm; ++row) result[row * n_neigh + p] = block[row * lepot::simd_block + b];
        }
    }
    return result;
}

int main() {
    const lepot::DensityExpansion expansion = lepot::make_density_expansion(small_basis(4.0, 4, 3, 2, false, 3, true));
    const int n_density = expansion.n_density(), n_nlm = expansion.layout().n_nlm();
    lepot::DensityWorkspace ws;

    // finite differences of A with respect to each neighbour vector, against cached_gradient_block + embedding
    // (which reads the pair rows, not the slot-by-slot copy the accumulation of A reads): for the basis above
    // and for one with more than eight radial functions per l and l up to 8 (the accumulation's second block
    // of eight n and second tile of harmonics), with species runs longer than one block of eight pairs
    const int n_neigh = 5;
    std::vector<double> vectors = random_vectors(n_neigh, 1.0, 4.3, 11);  // in and beyond the handover, beyond r_c
    const std::vector<int> species = {0, 1, 1, 0, 1};
    const int centre = 1;
    const lepot::DensityExpansion wide = lepot::make_density_expansion(small_basis(4.0, 11, 8, 2, false, 3, true));
    check(wide.layout().n_radial(0) > lepot::simd_block && wide.layout().l_max() == 8, "the wide basis is wide");
    const std::vector<int> many_species = {0, 1, 1, 0, 1, 1, 0, 1, 1, 1, 0, 1, 1, 1, 1, 0, 0, 1, 1, 1};
    struct Case {
        const lepot::DensityExpansion* expansion;
        std::vector<double> vectors;
        std::vector<int> species;
    };
    for (const Case& test : {Case{&expansion, vectors, species},
                             Case{&wide, random_vectors(20, 1.0, 4.3, 12), many_species}}) {
        const lepot::DensityExpansion& tested = *test.expansion;
        const int count = static_cast<int>(test.species.size()), nlm_total = tested.layout().n_nlm();
        const std::vector<double> block = pair_gradients(tested, centre, test.vectors, test.species, ws);
        for (int p = 0; p < count; ++p)
            for (int alpha = 0; alpha < 3; ++alpha) {
                std::vector<double> plus = test.vectors, minus = test.vectors;
                plus[3 * p + alpha] += 1e-6;
                minus[3 * p + alpha] -= 1e-6;
                tested.expand(centre, count, plus.data(), test.species.data(), ws);
                const std::vector<double> a_plus = ws.density;
                tested.expand(centre, count, minus.data(), test.species.data(), ws);
                for (int k = 0; k < tested.n_pseudo(); ++k)
                    for (int l = 0; l <= tested.layout().l_max(); ++l)
                        for (int n = 0; n < tested.layout().n_radial(l); ++n)
                            for (int mm = 0; mm < 2 * l + 1; ++mm) {
                                const int nlm = tested.layout().nlm_offset(l) + n * (2 * l + 1) + mm;
                                const int a = k * nlm_total + nlm;
                                const double analytic =
                                    tested.embedding(test.species[p], k, n) * block[(3 * nlm + alpha) * count + p];
                                check_close(analytic, (a_plus[a] - ws.density[a]) / 2e-6, 1e-7,
                                            "∂A/∂r by finite differences");
                            }
            }
    }

    // the force back-projection equals ∂A/∂r contracted with h, for a small and a larger radial basis
    // (n_max 4 and 11), several species, a dense embedding and the handover
    for (int n_max : {4, 11}) {
        const lepot::DensityExpansion dense = lepot::make_density_expansion(small_basis(4.0, n_max, 3, 2, false, 3, true));
        const int nlm_count = dense.layout().n_nlm();
        std::vector<double> h(2 * static_cast<size_t>(nlm_count));  // shape [n_species][n_nlm]
        std::mt19937 generator(5);
        std::uniform_real_distribution<double> uniform(-1.0, 1.0);
        for (double& value : h) value = uniform(generator);
        std::vector<double> gradients(3 * n_neigh);
        const std::vector<double> expected_block = pair_gradients(dense, centre, vectors, species, ws);
        dense.project_adjoint(n_neigh, h.data(), ws, gradients.data());
        for (int p = 0; p < n_neigh; ++p)
            for (int alpha = 0; alpha < 3; ++alpha) {
                double expected = 0.0;
                for (int nlm = 0; nlm < nlm_count; ++nlm)
                    expected += h[species[p] * nlm_count + nlm] * expected_block[(3 * nlm + alpha) * n_neigh + p];
                check_close(gradients[3 * p + alpha], expected, 1e-12, "project_adjoint = h · ∂(R Y)/∂r");
            }
    }

    // a pair inside r_inner of its handover adds nothing; the same vector for an unlisted pair does
    const std::vector<double> close_pair = {0.3, 0.4, 0.2};
    const std::vector<int> one_species = {1}, zero_species = {0};
    expansion.expand(1, 1, close_pair.data(), one_species.data(), ws);
    for (double a : ws.density) check(a == 0.0, "a pair handed over entirely adds nothing");
    expansion.expand(0, 1, close_pair.data(), zero_species.data(), ws);
    check(ws.density[0] != 0.0, "an unlisted pair at the same distance does");

    // no neighbours: A = 0
    expansion.expand(0, 0, nullptr, nullptr, ws);
    check(static_cast<int>(ws.density.size()) == n_density, "density size");
    for (double a : ws.density) check(a == 0.0, "empty neighbour list gives A = 0");

    // an atom alone in a huge box: its only "neighbours" are periodic images far beyond the cutoff
    const std::vector<double> far = {1000.0, 0.0, 0.0, 0.0, -1000.0, 0.0};
    const std::vector<int> far_species = {0, 0};
    expansion.expand_with_pair_cache(0, 2, far.data(), far_species.data(), ws);
    for (double a : ws.density) check(a == 0.0, "images beyond the cutoff add nothing");
    std::vector<double> h(static_cast<size_t>(expansion.n_species()) * n_nlm, 1.0);
    double gradient[6] = {1.0, 1.0, 1.0, 1.0, 1.0, 1.0};
    expansion.project_adjoint(2, h.data(), ws, gradient);
    for (double g : gradient) check(g == 0.0, "no gradient beyond the cutoff");

    // one radial channel (n_max = 1, l_max = 0), one species
    const lepot::DensityExpansion single = lepot::make_density_expansion(small_basis(3.0, 1, 0, 1, false));
    const std::vector<double> one = {0.0, 1.5, 0.0};
    const std::vector<int> zero = {0};
    single.expand(0, 1, one.data(), zero.data(), ws);
    check(ws.density.size() == 1 && ws.density[0] > 0.0, "a single channel");

    // coincident atoms and non-finite vectors are refused
    const std::vector<double> coincident = {1.0, 0.0, 0.0, 0.0, 0.0, 0.0};
    const std::vector<int> two_species = {0, 1};
    check_throws<std::domain_error>([&] { expansion.expand(0, 2, coincident.data(), two_species.data(), ws); },
                                    "a neighbour at distance 0", "coincident atoms");
    const std::vector<double> close = {5e-5, 0.0, 0.0};
    check_throws<std::domain_error>([&] { expansion.expand_with_pair_cache(0, 1, close.data(), zero.data(), ws); },
                                    "closer than 1e-4", "atoms closer than 1e-4 Å");
    const std::vector<double> not_finite = {std::nan(""), 0.0, 1.0};
    check_throws<std::domain_error>([&] { expansion.expand(0, 1, not_finite.data(), zero.data(), ws); }, "non-finite",
                                    "NaN position");
    return finish("density_expansion");
}
