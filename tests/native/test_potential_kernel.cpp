// potential_kernel.hpp (assembled by model_parameters.hpp): E_i and ∂E_i/∂r_ij against finite
// differences with ZBL core repulsion and a compressed density, an atom with no neighbours (E0), an atom
// alone in a huge box, coincident atoms (refused, naming the centre), inconsistent parameters (refused),
// and compute_atoms over 1-37 centres (full blocks, tail blocks, centres in any order) equal to one centre
// at a time.
#include "potential_kernel.hpp"

#include <algorithm>
#include <numeric>
#include <random>
#include <vector>

#include "check.hpp"
#include "model_parameters.hpp"
#include "small_basis.hpp"

using namespace native_test;

namespace {
lepot::ModelParameters small_model(int n_pseudo) {
    lepot::ModelParameters model;
    model.basis = small_basis(4.2, 4, 3, 2, true, n_pseudo, true);
    model.atomic_numbers = {42, 74};
    std::mt19937 generator(3);
    std::normal_distribution<double> normal(0.0, 0.05);
    model.coefficients.resize(2 * model.basis.n_features);
    for (double& w : model.coefficients) w = normal(generator);
    model.reference_energies = {-4.5, -7.25};
    return model;
}
}  // namespace

int main() {
    for (int n_pseudo : {0, 2}) {
        const lepot::PotentialKernel kernel = lepot::make_potential_kernel(small_model(n_pseudo));
        const std::string name = n_pseudo ? "compressed" : "one-hot";
        const std::vector<double> vectors = random_vectors(6, 0.7, 4.5, 9);  // some inside the ZBL switch, some beyond r_c
        const std::vector<int> species = {1, 0, 1, 1, 0, 0};
        lepot::PotentialWorkspace ws;
        std::vector<double> gradients(vectors.size()), scratch(vectors.size());
        const double energy = kernel.compute_atom(1, 6, vectors.data(), species.data(), ws, gradients.data());
        for (int p = 0; p < 6; ++p)
            for (int alpha = 0; alpha < 3; ++alpha) {
                auto energy_at = [&](double value) {
                    std::vector<double> moved = vectors;
                    moved[3 * p + alpha] = value;
                    return kernel.compute_atom(1, 6, moved.data(), species.data(), ws, scratch.data());
                };
                check_close(gradients[3 * p + alpha], central_difference(energy_at, vectors[3 * p + alpha], 1e-6), 1e-7,
                            name + ": ∂E_i/∂r_ij");
            }
        check(std::isfinite(energy), name + ": finite energy");

        // no neighbours, or only images far beyond the cutoff: E_i = E0
        check(kernel.compute_atom(0, 0, nullptr, nullptr, ws, nullptr) == -4.5, name + ": an atom with no neighbours");
        const std::vector<double> far = {0.0, 0.0, 500.0};
        const std::vector<int> zero = {0};
        std::vector<double> far_gradient(3, 1.0);
        check(kernel.compute_atom(1, 1, far.data(), zero.data(), ws, far_gradient.data()) == -7.25,
              name + ": alone in a huge box");
        check(far_gradient[0] == 0.0 && far_gradient[1] == 0.0 && far_gradient[2] == 0.0, name + ": no force there");

        const std::vector<double> coincident = {1.0, 1.0, 0.0, 0.0, 0.0, 0.0};
        const std::vector<int> two = {0, 1};
        check_throws<std::domain_error>(
            [&] { kernel.compute_atom(0, 2, coincident.data(), two.data(), ws, scratch.data()); },
            "a neighbour at distance 0", name + ": coincident atoms");

        // many centres at once: full blocks and tail blocks equal one centre at a time, to rounding
        for (int n_centres : {1, 3, 4, 5, 9, 16, 17, 37}) {
            std::vector<int64_t> offsets = {0};
            std::vector<double> all_vectors;
            std::vector<int> all_species;
            for (int c = 0; c < n_centres; ++c) {
                const int n_neigh = c % 4 == 3 ? 0 : 3 + c % 5;  // some centres with no neighbours
                const std::vector<double> v = random_vectors(n_neigh, 0.9, 4.5, 100 + c);
                all_vectors.insert(all_vectors.end(), v.begin(), v.end());
                for (int p = 0; p < n_neigh; ++p) all_species.push_back((c + p) % 2);
                offsets.push_back(offsets.back() + n_neigh);
            }
            std::vector<int> centres(n_centres);
            std::iota(centres.begin(), centres.end(), 0);
            std::reverse(centres.begin(), centres.end());  // any order
            std::vector<double> energies(n_centres, 0.0), batch_gradients(all_vectors.size() + 3, 0.0);
            kernel.compute_atoms(1, n_centres, centres.data(), offsets.data(), all_vectors.data(), all_species.data(), ws,
                                 energies.data(), batch_gradients.data());
            lepot::PotentialWorkspace single;
            for (int c = 0; c < n_centres; ++c) {
                const int n_neigh = static_cast<int>(offsets[c + 1] - offsets[c]);
                std::vector<double> one(3 * n_neigh + 3);
                const double energy = kernel.compute_atom(1, n_neigh, all_vectors.data() + 3 * offsets[c],
                                                          all_species.data() + offsets[c], single, one.data());
                check_close(energies[c], energy, 1e-13, name + ": compute_atoms energy = one centre");
                for (int k = 0; k < 3 * n_neigh; ++k)
                    check_close(batch_gradients[3 * offsets[c] + k], one[k], 1e-13,
                                name + ": compute_atoms gradients = one centre");
            }
        }

        // a bad centre inside a block is named by its position in `centres`
        const std::vector<int64_t> bad_offsets = {0, 1, 3, 4};
        const std::vector<double> bad_vectors = {1.5, 0.0, 0.0, 0.0, 0.0, 0.0, 1.0, 1.0, 0.0, 0.0, 2.0, 0.0};
        const std::vector<int> bad_species = {0, 1, 0, 1};
        const std::vector<int> bad_centres = {2, 1, 0};
        std::vector<double> bad_energies(3), bad_gradients(bad_vectors.size());
        int named = -1;
        try {
            kernel.compute_atoms(0, 3, bad_centres.data(), bad_offsets.data(), bad_vectors.data(), bad_species.data(), ws,
                                 bad_energies.data(), bad_gradients.data());
        } catch (const lepot::CentreDomainError& problem) {
            named = problem.centre;
        }
        check(named == 1, name + ": the coincident pair's centre is named");
    }

    lepot::ModelParameters bad = small_model(0);
    bad.coefficients.pop_back();
    check_throws<std::invalid_argument>([&] { lepot::make_potential_kernel(bad); }, "coefficients has", "short coefficients");
    bad = small_model(0);
    bad.basis.core_pair_radii = {0.8, 9.0, 1.0, 1.9};
    check_throws<std::invalid_argument>([&] { lepot::make_potential_kernel(bad); }, "core repulsion range exceeds",
                                        "core repulsion beyond the cutoff");
    bad = small_model(0);
    bad.basis.spline_values.resize(10);
    check_throws<std::invalid_argument>([&] { lepot::make_potential_kernel(bad); }, "spline_values has", "short spline");
    bad = small_model(0);
    bad.reference_energies[1] = std::nan("");
    check_throws<std::invalid_argument>([&] { lepot::make_potential_kernel(bad); }, "non-finite reference energy",
                                        "NaN reference energy");
    return finish("potential_kernel");
}
