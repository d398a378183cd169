// potential_kernel.hpp (assembled by model_parameters.hpp): E_i and ∂E_i/∂r_ij against finite
// differences with ZBL core repulsion and a compressed density, an atom with no neighbours (E0), an atom
// alone in a huge box, coincident atoms (refused), and inconsistent parameters (refused).
#include "potential_kernel.hpp"

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
