// descriptor_kernel.hpp: gradients and strain derivatives of both gradient paths against finite
// differences (with core-repulsion handover pairs); a feature that looks factorised at first and is not (which once wrote past a buffer while
// classifying it); an empty neighbour list, a single channel, and coincident atoms; the features of a block of
// centres (CouplingSet::evaluate_centres from the potential kernel's densities, as the LAMMPS grade takes them)
// against one centre at a time.
#include "descriptor_kernel.hpp"

#include <vector>

#include "check.hpp"
#include "model_parameters.hpp"
#include "small_basis.hpp"

using namespace native_test;

namespace {
const int centre = 1;  // species of the centre (core-repulsion pairs (0, 1) and (1, 1) where present)

std::vector<double> features_of(const lepot::DescriptorKernel& kernel, const std::vector<double>& vectors,
                                const std::vector<int>& species) {
    lepot::DescriptorWorkspace ws;
    std::vector<double> features(kernel.n_features());
    kernel.compute_atom<false>(centre < kernel.expansion().n_species() ? centre : 0, static_cast<int>(species.size()),
                               vectors.data(), species.data(), ws, features.data(), nullptr, nullptr, 0, nullptr);
    return features;
}

// Gradient rows (pairs, then the centre) and strain of one centre against finite differences.
void check_gradients(const lepot::DescriptorKernel& kernel, const std::vector<double>& vectors,
                     const std::vector<int>& species, const std::string& name) {
    const int n_neigh = static_cast<int>(species.size()), nf = kernel.n_features();
    std::vector<int64_t> rows(n_neigh);
    for (int p = 0; p < n_neigh; ++p) rows[p] = p;
    std::vector<double> features(nf), gradients(static_cast<size_t>(n_neigh + 1) * 3 * nf, 0.0), strain(9 * nf, 0.0);
    lepot::DescriptorWorkspace ws;
    kernel.compute_atom<true>(centre < kernel.expansion().n_species() ? centre : 0, n_neigh, vectors.data(),
                              species.data(), ws, features.data(), gradients.data(), rows.data(), n_neigh, strain.data());
    const std::vector<double> values = features_of(kernel, vectors, species);
    for (int q = 0; q < nf; ++q) check_close(features[q], values[q], 1e-14, name + ": values equal in both modes");
    const double h = 1e-6;
    for (int p = 0; p < n_neigh; ++p)
        for (int alpha = 0; alpha < 3; ++alpha) {
            std::vector<double> plus = vectors, minus = vectors;
            plus[3 * p + alpha] += h;
            minus[3 * p + alpha] -= h;
            const std::vector<double> fp = features_of(kernel, plus, species), fm = features_of(kernel, minus, species);
            for (int q = 0; q < nf; ++q) {
                const double numeric = (fp[q] - fm[q]) / (2 * h);
                check_close(gradients[(static_cast<size_t>(p) * 3 + alpha) * nf + q], numeric, 1e-7, name + ": ∂B/∂r_j");
            }
        }
    for (int q = 0; q < nf; ++q)
        for (int alpha = 0; alpha < 3; ++alpha) {
            double sum = 0.0;
            for (int p = 0; p < n_neigh; ++p) sum += gradients[(static_cast<size_t>(p) * 3 + alpha) * nf + q];
            check_close(gradients[(static_cast<size_t>(n_neigh) * 3 + alpha) * nf + q], -sum, 1e-12,
                        name + ": centre row = -Σ pair rows");
        }
    for (int alpha = 0; alpha < 3; ++alpha)
        for (int beta = 0; beta < 3; ++beta) {
            auto strained = [&](double epsilon) {
                std::vector<double> moved = vectors;
                for (int p = 0; p < n_neigh; ++p) moved[3 * p + alpha] += epsilon * vectors[3 * p + beta];
                return moved;
            };
            const std::vector<double> fp = features_of(kernel, strained(h), species);
            const std::vector<double> fm = features_of(kernel, strained(-h), species);
            for (int q = 0; q < nf; ++q)
                check_close(strain[(3 * alpha + beta) * nf + q], (fp[q] - fm[q]) / (2 * h), 1e-7, name + ": ∂B/∂ε");
        }
}
}  // namespace

int main() {
    const std::vector<double> vectors = random_vectors(7, 0.9, 3.9, 5);
    const std::vector<int> species = {0, 1, 0, 0, 1, 1, 0};

    const lepot::BasisParameters one_hot_basis = small_basis(4.0, 4, 3, 2, true, 0, true);
    const lepot::DescriptorKernel one_hot = lepot::make_descriptor_kernel(one_hot_basis);
    check(one_hot.n_factorised_features() > 0 && one_hot.n_factorised_features() < one_hot.n_features(),
          "both gradient paths in use");
    check_gradients(one_hot, vectors, species, "one-hot, body order <= 4");
    check_gradients(lepot::make_descriptor_kernel(small_basis(4.0, 3, 2, 2, true, 2)), vectors, species, "compressed");

    // A feature of three two-factor terms with equal coefficients whose first term pairs two m of an l = 1
    // channel, and whose later terms use an l = 3 channel: its first term looks like a power spectrum of
    // width 3, the second has m index 6 >= 3. Classification must reject it without touching m index 6.
    lepot::BasisParameters tricky = small_basis(4.0, 4, 3, 1, false);
    const std::vector<int>& n_radial = tricky.n_radial;
    append_features(tricky, {{{{density_index(n_radial, 0, 0, 1, -1), density_index(n_radial, 0, 1, 1, -1)},
                               {density_index(n_radial, 0, 0, 3, 3), density_index(n_radial, 0, 0, 3, 3)},
                               {density_index(n_radial, 0, 0, 1, 1), density_index(n_radial, 0, 1, 1, 1)}},
                              {0.5, 0.5, 0.5}}});
    const lepot::DescriptorKernel kernel = lepot::make_descriptor_kernel(tricky);
    check(kernel.n_factorised_features() == kernel.n_features() - 1, "the look-alike takes the generic path");
    const std::vector<int> single_species(7, 0);
    check_gradients(kernel, vectors, single_species, "look-alike feature");

    // a block of centres with their pairs concatenated (the LAMMPS plugin's layout), taken in a scrambled order,
    // fewer than the lanes (empty lanes) and more (a second pass), their densities from the potential kernel's
    // force pass (as the plugin's grade takes them), against one centre at a time: two species with core
    // repulsion, a compressed basis, and the look-alike feature
    for (const lepot::BasisParameters& basis : {one_hot_basis, small_basis(4.0, 3, 2, 2, true, 2), tricky}) {
        const lepot::DescriptorKernel lanes_kernel = lepot::make_descriptor_kernel(basis);
        lepot::ModelParameters model;
        model.basis = basis;
        model.atomic_numbers.assign(basis.n_species, 42);
        model.coefficients.assign(static_cast<size_t>(basis.n_species) * basis.n_features, 0.25);
        model.reference_energies.assign(basis.n_species, 0.0);
        const lepot::PotentialKernel potential = lepot::make_potential_kernel(model);
        const int n_centres = lepot::coupling_lanes + 5, n_features = lanes_kernel.n_features();
        const int species_of_centres = basis.n_species - 1;
        std::vector<double> all_vectors;
        std::vector<int> all_species;
        std::vector<int64_t> offsets = {0};
        for (int c = 0; c < n_centres; ++c) {
            const std::vector<double> centre_vectors = random_vectors(3 + c % 5, 0.9, 3.9, 11 + c);
            all_vectors.insert(all_vectors.end(), centre_vectors.begin(), centre_vectors.end());
            for (int p = 0; p < 3 + c % 5; ++p) all_species.push_back((p + c) % basis.n_species);
            offsets.push_back(static_cast<int64_t>(all_species.size()));
        }
        std::vector<int> all_centres(n_centres);
        for (int c = 0; c < n_centres; ++c) all_centres[c] = c;
        std::vector<double> energies(n_centres), pair_gradients(all_vectors.size());
        std::vector<double> densities(static_cast<size_t>(n_centres) * potential.n_extended());
        lepot::PotentialWorkspace potential_ws;
        potential.compute_atoms(species_of_centres, n_centres, all_centres.data(), offsets.data(), all_vectors.data(),
                                all_species.data(), potential_ws, energies.data(), pair_gradients.data(),
                                densities.data());
        lepot::DescriptorWorkspace lanes_ws;
        lepot::CouplingLanes coupling_lanes;
        for (const std::vector<int>& order : {std::vector<int>{3, 0, 4, 1},
                                              std::vector<int>{20, 2, 7, 19, 11, 5, 13, 1, 8, 16, 0, 9, 12, 6, 18, 3,
                                                               10, 15, 4, 14, 17}}) {
            const int count = static_cast<int>(order.size());
            std::vector<double> block(static_cast<size_t>(n_features) * count);  // shape [n_features][count]
            lanes_kernel.couplings().evaluate_centres(count, order.data(), densities.data(), coupling_lanes, block.data());
            for (int i = 0; i < count; ++i) {
                const int c = order[i];
                std::vector<double> expected(n_features);
                lanes_kernel.compute_atom<false>(species_of_centres, static_cast<int>(offsets[c + 1] - offsets[c]),
                                                 all_vectors.data() + 3 * offsets[c], all_species.data() + offsets[c],
                                                 lanes_ws, expected.data(), nullptr, nullptr, 0, nullptr);
                for (int q = 0; q < n_features; ++q)
                    check_close(block[static_cast<size_t>(q) * count + i], expected[q], 1e-14,
                                "a block's lane = one centre's features");
            }
        }
    }

    // no neighbours: values of A = 0, nothing written to gradient rows, the centre row stays 0
    const int nf = one_hot.n_features();
    std::vector<double> features(nf), centre_row(3 * nf, 0.0), strain(9 * nf, 0.0);
    lepot::DescriptorWorkspace ws;
    one_hot.compute_atom<true>(0, 0, nullptr, nullptr, ws, features.data(), centre_row.data(), nullptr, 0, strain.data());
    for (double b : features) check(b == 0.0, "no neighbours: B = 0");
    for (double g : centre_row) check(g == 0.0, "no neighbours: no gradient");

    // one radial channel, one species
    const lepot::DescriptorKernel single = lepot::make_descriptor_kernel(small_basis(3.0, 1, 0, 1, false));
    check_gradients(single, random_vectors(3, 1.0, 2.9, 2), {0, 0, 0}, "single channel");

    const std::vector<double> coincident = {0.0, 0.0, 0.0};
    const std::vector<int> zero = {0};
    check_throws<std::domain_error>(
        [&] {
            std::vector<double> out(single.n_features());
            lepot::DescriptorWorkspace scratch;
            single.compute_atom<false>(0, 1, coincident.data(), zero.data(), scratch, out.data(), nullptr, nullptr, 0, nullptr);
        },
        "a neighbour at distance 0", "coincident atoms");
    return finish("descriptor_kernel");
}
