// Timing driver for benchmarks/density_kernel.py: the density kernel and the whole per-atom kernel of a
// parameter file, on rattled crystal environments, against one core's measured FMA peak.
//
//   density_kernel FILE LATTICE A [ENVIRONMENTS]     LATTICE: bcc | diamond, A: lattice constant (Å)
//
// Prints one line of key=value pairs (read by the Python script):
//   pairs_per_atom   mean neighbours inside the cutoff
//   density_ns       ns per atom of the density kernel: the expansion (R, R', Y, ∇Y, A) plus the force
//                    back-projection of a fixed adjoint (what the MD kernel does besides the polynomial)
//   atom_ns          ns per atom of PotentialKernel::compute_atoms over all environments at once (energy and
//                    pair gradients; the polynomial in blocks of lepot::polynomial_lanes centres, as in LAMMPS)
//   density_flops    counted flops of the density kernel per atom (formula in density_kernel.py)
//   peak_gflops      one core's FMA peak, measured by independent vector FMAs (best of 256- and 512-bit)
//   polynomial_ns_W  ns per atom of the energy polynomial alone (EnergyPolynomial::evaluate_lanes<W>, energy
//                    and adjoint) for W = 1, 4, 8, 16, 32 centres at once, on the environments' densities
//                    (-1 for a tensor-reduced file, whose polynomial reads [A ; Ã])
#include <immintrin.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <random>
#include <string>
#include <vector>

#include "parameter_file.hpp"

namespace {

using Clock = std::chrono::steady_clock;

// Neighbour vectors (inside `cutoff`) of `count` centres of a rattled crystal, one centre per environment.
struct Environments {
    std::vector<std::vector<double>> vectors;  // [count][n_neigh * 3]
    std::vector<std::vector<int>> species;     // [count][n_neigh], all 0
};

Environments make_environments(const std::string& lattice, double a, double cutoff, int count) {
    std::vector<std::array<double, 3>> basis;
    if (lattice == "bcc") {
        basis = {{0, 0, 0}, {0.5, 0.5, 0.5}};
    } else if (lattice == "diamond") {
        basis = {{0, 0, 0}, {0, 0.5, 0.5}, {0.5, 0, 0.5}, {0.5, 0.5, 0},
                 {0.25, 0.25, 0.25}, {0.25, 0.75, 0.75}, {0.75, 0.25, 0.75}, {0.75, 0.75, 0.25}};
    } else {
        throw std::invalid_argument("lattice must be bcc or diamond");
    }
    std::mt19937_64 generator(12345);
    std::normal_distribution<double> rattle(0.0, 0.05);  // Å
    const int cells = static_cast<int>(cutoff / a) + 2;
    Environments environments;
    for (int e = 0; e < count; ++e) {
        std::vector<double> vectors;
        for (int i = -cells; i <= cells; ++i)
            for (int j = -cells; j <= cells; ++j)
                for (int k = -cells; k <= cells; ++k)
                    for (const auto& b : basis) {
                        double v[3] = {(i + b[0]) * a + rattle(generator), (j + b[1]) * a + rattle(generator),
                                       (k + b[2]) * a + rattle(generator)};
                        const double r = std::sqrt(v[0] * v[0] + v[1] * v[1] + v[2] * v[2]);
                        if (r < 0.5 || r >= cutoff) continue;  // the centre itself, and pairs outside
                        vectors.insert(vectors.end(), v, v + 3);
                    }
        environments.species.emplace_back(vectors.size() / 3, 0);
        environments.vectors.push_back(std::move(vectors));
    }
    return environments;
}

// Best over `repeats` passes of the mean ns per call of `body(e)` over all environments.
template <class Body>
double best_ns_per_atom(int count, int repeats, Body body) {
    for (int e = 0; e < count; ++e) body(e);  // warm-up
    double best = 1e300;
    for (int r = 0; r < repeats; ++r) {
        const auto start = Clock::now();
        for (int e = 0; e < count; ++e) body(e);
        const double ns = std::chrono::duration<double, std::nano>(Clock::now() - start).count() / count;
        best = std::min(best, ns);
    }
    return best;
}

// GFLOP/s of `chains` independent FMA chains on vectors of type V (one core, best of 5).
template <class V, class Fma>
double fma_gflops(Fma fma, V a, V b, int lanes) {
    constexpr int chains = 12;
    const long iterations = 20'000'000;
    double best = 0.0;
    for (int r = 0; r < 5; ++r) {
        V acc[chains];
        for (int c = 0; c < chains; ++c) acc[c] = b;
        const auto start = Clock::now();
        for (long i = 0; i < iterations; ++i)
            for (int c = 0; c < chains; ++c) acc[c] = fma(acc[c], a, b);
        const double seconds = std::chrono::duration<double>(Clock::now() - start).count();
        V total = acc[0];
        for (int c = 1; c < chains; ++c) total = total + acc[c];
        volatile double sink = reinterpret_cast<double*>(&total)[0];  // keeps every chain alive
        (void)sink;
        best = std::max(best, 2.0 * lanes * chains * iterations / seconds * 1e-9);
    }
    return best;
}

double fma_peak_gflops() {
    const double avx2 = fma_gflops<__m256d>([](__m256d x, __m256d y, __m256d z) { return _mm256_fmadd_pd(x, y, z); },
                                            _mm256_set1_pd(0.999999), _mm256_set1_pd(1e-7), 4);
#ifdef __AVX512F__
    const double avx512 = fma_gflops<__m512d>(
        [](__m512d x, __m512d y, __m512d z) { return _mm512_fmadd_pd(x, y, z); }, _mm512_set1_pd(0.999999),
        _mm512_set1_pd(1e-7), 8);
    return std::max(avx2, avx512);
#else
    return avx2;
#endif
}

// ns per atom of evaluate_lanes<W> with the lanes filled from `densities` in turn (best of 9 passes over
// all of them); -1 when the polynomial does not read the plain density (a tensor-reduced file).
template <int W>
double polynomial_ns_per_atom(const lepot::EnergyPolynomial& polynomial, const std::vector<std::vector<double>>& densities,
                              double& checksum) {
    const size_t n_density = polynomial.n_density();
    if (densities.front().size() != n_density) return -1.0;
    const int count = static_cast<int>(densities.size());
    const int n_blocks = (count + W - 1) / W;
    // cache-line aligned, as PotentialWorkspace's lane arrays
    lepot::AlignedDoubles lanes(static_cast<size_t>(n_blocks) * n_density * W), adjoint(n_density * W);  // [block][n_density][W]
    for (int e = 0; e < n_blocks * W; ++e)
        for (size_t a = 0; a < n_density; ++a)
            lanes[(static_cast<size_t>(e / W) * n_density + a) * W + e % W] = densities[e % count][a];
    double energies[W];
    return best_ns_per_atom(1, 9, [&](int) {
               for (int b = 0; b < n_blocks; ++b) {
                   polynomial.evaluate_lanes<W>(0, lanes.data() + static_cast<size_t>(b) * n_density * W,
                                                adjoint.data(), energies);
                   checksum += energies[0];
               }
           }) /
           (n_blocks * W);
}

}  // namespace

int main(int argc, char** argv) {
    if (argc < 4) {
        std::fprintf(stderr, "usage: %s FILE bcc|diamond A [ENVIRONMENTS]\n", argv[0]);
        return 2;
    }
    const lepot::ParameterFile file = lepot::load_parameter_file(argv[1]);
    const lepot::PotentialKernel kernel = lepot::make_potential_kernel(file.model);
    const lepot::DensityExpansion& expansion = kernel.expansion();
    const int count = argc > 4 ? std::stoi(argv[4]) : 64;
    const Environments environments = make_environments(argv[2], std::stod(argv[3]), expansion.cutoff(), count);

    double pairs = 0.0;
    size_t max_pairs = 0;
    for (const auto& s : environments.species) {
        pairs += s.size();
        max_pairs = std::max(max_pairs, s.size());
    }
    pairs /= count;

    std::mt19937_64 generator(7);
    std::uniform_real_distribution<double> uniform(-1.0, 1.0);
    std::vector<double> adjoint(static_cast<size_t>(expansion.n_species()) * expansion.layout().n_nlm());  // h_s[nlm]
    for (double& h : adjoint) h = uniform(generator);
    std::vector<double> pair_gradients(3 * max_pairs);  // shape [n_neigh][3]
    lepot::DensityWorkspace density_workspace;
    lepot::PotentialWorkspace workspace;
    double checksum = 0.0;

    const double density_ns = best_ns_per_atom(count, 41, [&](int e) {
        const int n = static_cast<int>(environments.species[e].size());
        expansion.expand_with_pair_cache(0, n, environments.vectors[e].data(), environments.species[e].data(),
                                         density_workspace);
        expansion.project_adjoint(n, adjoint.data(), density_workspace, pair_gradients.data());
        checksum += pair_gradients[0];
    });
    std::vector<int64_t> offsets = {0};        // shape [count+1]
    std::vector<double> all_vectors;           // shape [n_pairs][3]
    std::vector<int> all_species, centres;     // shape [n_pairs], [count]
    for (int e = 0; e < count; ++e) {
        all_vectors.insert(all_vectors.end(), environments.vectors[e].begin(), environments.vectors[e].end());
        all_species.insert(all_species.end(), environments.species[e].begin(), environments.species[e].end());
        offsets.push_back(static_cast<int64_t>(all_species.size()));
        centres.push_back(e);
    }
    std::vector<double> energies(count), all_gradients(all_vectors.size());
    const double atom_ns = best_ns_per_atom(1, 41, [&](int) {
        kernel.compute_atoms(0, count, centres.data(), offsets.data(), all_vectors.data(), all_species.data(), workspace,
                             energies.data(), all_gradients.data());
        checksum += energies[0];
    }) / count;
    std::vector<std::vector<double>> densities;  // [count][n_density]
    for (int e = 0; e < count; ++e) {
        expansion.expand_with_pair_cache(0, static_cast<int>(environments.species[e].size()),
                                         environments.vectors[e].data(), environments.species[e].data(),
                                         density_workspace);
        densities.push_back(density_workspace.density);
    }
    const double polynomial_ns[5] = {polynomial_ns_per_atom<1>(kernel.polynomial(), densities, checksum),
                                     polynomial_ns_per_atom<4>(kernel.polynomial(), densities, checksum),
                                     polynomial_ns_per_atom<8>(kernel.polynomial(), densities, checksum),
                                     polynomial_ns_per_atom<16>(kernel.polynomial(), densities, checksum),
                                     polynomial_ns_per_atom<32>(kernel.polynomial(), densities, checksum)};
    const double peak = fma_peak_gflops();
    std::printf("pairs_per_atom=%.3f density_ns=%.1f atom_ns=%.1f peak_gflops=%.2f monomials=%d polynomial_ns_1=%.1f "
                "polynomial_ns_4=%.1f polynomial_ns_8=%.1f polynomial_ns_16=%.1f polynomial_ns_32=%.1f checksum=%.6g\n",
                pairs, density_ns, atom_ns, peak, kernel.n_monomials(), polynomial_ns[0], polynomial_ns[1],
                polynomial_ns[2], polynomial_ns[3], polynomial_ns[4], checksum);
    return 0;
}
