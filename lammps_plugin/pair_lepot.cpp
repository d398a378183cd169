// See pair_lepot.h.
#include "pair_lepot.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "atom.h"
#include "comm.h"
#include "error.h"
#include "force.h"
#include "memory.h"
#include "model_parameters.hpp"
#include "neigh_list.h"
#include "neighbor.h"
#include "parameter_file.hpp"
#include "update.h"
#include "utils.h"

using namespace LAMMPS_NS;

PairLepot::PairLepot(LAMMPS *lmp) : Pair(lmp) {
    single_enable = 0;
    restartinfo = 0;
    one_coeff = 1;
    manybody_flag = 1;
    centroidstressflag = CENTROID_NOTAVAIL;
    nextra = 1;  // pvector[0]: the system's energy uncertainty σ_E (eV), on rank 0
    pvector = new double[nextra];
    pvector[0] = 0.0;
}

PairLepot::~PairLepot() {
    delete[] pvector;
    memory->destroy(grade_);
    memory->destroy(sigma_);
    memory->destroy(lpr_);
    if (allocated) {
        memory->destroy(setflag);
        memory->destroy(cutsq);
        memory->destroy(scale);
    }
}

void PairLepot::allocate() {
    allocated = 1;
    const int n = atom->ntypes;
    memory->create(setflag, n + 1, n + 1, "pair:setflag");
    memory->create(cutsq, n + 1, n + 1, "pair:cutsq");
    memory->create(scale, n + 1, n + 1, "pair:scale");
    for (int i = 1; i <= n; ++i)
        for (int j = i; j <= n; ++j) setflag[i][j] = 0;
}

void PairLepot::require_metal_units() {
    if (std::strcmp(update->unit_style, "metal") != 0)
        error->all(FLERR, "pair_style lepot requires 'units metal' (eV, Å); current units are '{}'",
                   update->unit_style);
}

// pair_style lepot [uncertainty_precision double|single] (the model file goes in pair_coeff)
void PairLepot::settings(int narg, char **arg) {
    posterior_precision_ = lepot::PosteriorPrecision::double_precision;
    for (int i = 0; i < narg; i += 2) {
        if (std::strcmp(arg[i], "uncertainty_precision") != 0)
            error->all(FLERR, "pair_style lepot: unknown keyword '{}' (the only keyword is uncertainty_precision; "
                              "the model file goes in pair_coeff)", arg[i]);
        if (i + 1 >= narg) error->all(FLERR, "pair_style lepot: uncertainty_precision needs a value (double or single)");
        try {
            posterior_precision_ = lepot::posterior_precision(arg[i + 1]);
        } catch (const std::exception &problem) {
            error->all(FLERR, "pair_style lepot: {}", problem.what());
        }
    }
    // a repeated pair_style keeps the instance, and its evaluator has already released the file's factor
    if (posterior_ && posterior_->precision() != posterior_precision_)
        error->all(FLERR, "pair_style lepot: uncertainty_precision cannot change once an uncertainty has been "
                          "computed (the posterior's factor is no longer held); use 'clear' and set up again");
    require_metal_units();
}

// The file's text on every rank: rank 0 reads it with the core's reader (which names the problem if it
// cannot), then the outcome and the text are broadcast so that all ranks stop or go on together.
std::string PairLepot::read_on_rank_zero(const std::string &path) {
    std::string text, problem;
    if (comm->me == 0) {
        try {
            text = lepot::read_parameter_text(path);
        } catch (const std::exception &failure) {
            problem = failure.what();
        }
    }
    long lengths[2] = {static_cast<long>(problem.size()), static_cast<long>(text.size())};
    MPI_Bcast(lengths, 2, MPI_LONG, 0, world);
    problem.resize(lengths[0]);
    text.resize(lengths[1]);
    if (lengths[0] > 0) {
        MPI_Bcast(problem.data(), static_cast<int>(lengths[0]), MPI_CHAR, 0, world);
        error->all(FLERR, "pair_style lepot: {}", problem);
    }
    const long chunk = 1L << 30;  // MPI counts are int
    for (long offset = 0; offset < lengths[1]; offset += chunk)
        MPI_Bcast(text.data() + offset, static_cast<int>(std::min(chunk, lengths[1] - offset)), MPI_CHAR, 0, world);
    return text;
}

void PairLepot::coeff(int narg, char **arg) {
    const int ntypes = atom->ntypes;
    if (narg != 3 + ntypes)
        error->all(FLERR, "pair_coeff for lepot needs: * * model.json followed by one element (or NULL) for each of "
                          "the {} atom types, got {} arguments", ntypes, narg);
    if (std::strcmp(arg[0], "*") != 0 || std::strcmp(arg[1], "*") != 0)
        error->all(FLERR, "pair_coeff for lepot must start with * *");
    if (!allocated) allocate();

    // LAMMPS's potential-file lookup: the path as given, else its name in the LAMMPS_POTENTIALS folder
    std::string path = utils::get_potential_file_path(arg[2]);
    if (path.empty()) path = arg[2];
    const std::string text = read_on_rank_zero(path);
    try {
        const lepot::ParameterFile file = lepot::parse_parameter_file(text, path);
        kernel_ = std::make_unique<lepot::PotentialKernel>(lepot::make_potential_kernel(file.model));
        species_ = file.species;
        cutoff_ = file.model.basis.cutoff_radius;
        couplings_.reset();
        posterior_.reset();
        posterior_parameters_ = file.posterior;  // the evaluator (which inverts the factor) is made on first use
        n_model_species_ = file.model.basis.n_species;
        if (file.posterior.present)
            couplings_ = std::make_unique<lepot::CouplingSet>(
                lepot::make_coupling_set(file.model.basis, kernel_->n_extended()));
        model_path_ = path;
    } catch (const std::exception &problem) {
        error->all(FLERR, "pair_style lepot: {}", problem.what());
    }
    if (comm->me == 0) utils::logmesg(lmp, "pair_style lepot: loaded {} ({} species)\n", path, species_.size());

    type_species_.assign(ntypes + 1, -1);
    for (int type = 1; type <= ntypes; ++type) {
        const std::string element = arg[2 + type];
        if (element == "NULL") continue;
        const auto found = std::find(species_.begin(), species_.end(), element);
        if (found == species_.end()) {
            std::string known;
            for (const auto &s : species_) known += (known.empty() ? "" : " ") + s;
            error->all(FLERR, "pair_coeff: element {} (atom type {}) is not in lepot model {} (species: {})", element,
                       type, path, known);
        }
        type_species_[type] = static_cast<int>(found - species_.begin());
    }
    for (int i = 1; i <= ntypes; ++i)
        for (int j = i; j <= ntypes; ++j) {
            setflag[i][j] = (type_species_[i] >= 0 && type_species_[j] >= 0) ? 1 : 0;
            scale[i][j] = 1.0;
        }
}

void PairLepot::init_style() {
    require_metal_units();
    if (force->newton_pair == 0) error->all(FLERR, "pair_style lepot requires newton_pair on");
    if (!kernel_) error->all(FLERR, "pair_style lepot: no model loaded (pair_coeff * * model.json ...)");
    neighbor->add_request(this, NeighConst::REQ_FULL);
}

double PairLepot::init_one(int i, int j) {
    if (setflag[i][j] == 0) error->all(FLERR, "All pair coeffs are not set");
    scale[j][i] = scale[i][j];
    return cutoff_;
}

void *PairLepot::extract(const char *name, int &dim) {
    dim = 2;
    if (std::strcmp(name, "scale") == 0) return static_cast<void *>(scale);
    dim = 0;
    if (std::strcmp(name, "grade_flag") == 0 || std::strcmp(name, "sigma_flag") == 0 || std::strcmp(name, "lpr_flag") == 0)
        return static_cast<void *>(&uncertainty_flag_);
    return nullptr;
}

void *PairLepot::extract_peratom(const char *name, int &ncol) {
    ncol = 0;
    if (std::strcmp(name, "grade") == 0) return static_cast<void *>(grade_);
    if (std::strcmp(name, "sigma") == 0) return static_cast<void *>(sigma_);
    if (std::strcmp(name, "lpr") == 0) return static_cast<void *>(lpr_);
    return nullptr;
}

void PairLepot::compute(int eflag, int vflag) {
    ev_init(eflag, vflag);
    if (uncertainty_flag_) {
        if (!posterior_ && posterior_parameters_.present) {
            try {
                posterior_ = std::make_unique<lepot::PosteriorEvaluator>(
                    std::move(posterior_parameters_), n_model_species_, couplings_->n_features(), posterior_precision_);
                posterior_parameters_ = lepot::PosteriorParameters();  // the evaluator holds them now
            } catch (const std::exception &problem) {
                error->all(FLERR, "pair_style lepot: {}", problem.what());
            }
        }
        if (!posterior_)
            error->all(FLERR, "pair_style lepot: grade, sigma and lpr need a parameter file that stores the "
                              "coefficients' posterior (\"uncertainty\"; lepot fit writes it by default); {} has none",
                       model_path_);
        if (atom->nmax > peratom_size_) {
            peratom_size_ = atom->nmax;
            memory->grow(grade_, peratom_size_, "pair:grade");
            memory->grow(sigma_, peratom_size_, "pair:sigma");
            memory->grow(lpr_, peratom_size_, "pair:lpr");
        }
        std::fill(grade_, grade_ + atom->nlocal, 0.0);  // atoms of NULL types keep 0
        std::fill(sigma_, sigma_ + atom->nlocal, 0.0);
        std::fill(lpr_, lpr_ + atom->nlocal, 0.0);
        projection_sum_.assign(posterior_->n_columns() + 2, 0.0);  // Σ_i u_i, Σ_i |u_i|², the number of atoms
    }
    double **x = atom->x;
    double **f = atom->f;
    const int *type = atom->type;
    const int nlocal = atom->nlocal;
    const int newton = force->newton_pair;
    const double cutoff_squared = cutoff_ * cutoff_;
    const double overlap_squared = lepot::min_pair_distance * lepot::min_pair_distance;

    // Chunks of local atoms: gather each chunk's pairs, let the core evaluate its centres species by species
    // (in blocks of lepot::polynomial_lanes, PotentialKernel::compute_atoms), then tally per pair.
    const int chunk_size = 8 * lepot::polynomial_lanes;
    const int n_species = static_cast<int>(species_.size());
    for (int chunk_begin = 0; chunk_begin < list->inum; chunk_begin += chunk_size) {
        const int chunk_end = std::min(list->inum, chunk_begin + chunk_size);
        chunk_atoms_.clear();
        neighbour_offsets_.assign(1, 0);
        neighbour_vectors_.clear();
        neighbour_species_.clear();
        neighbour_index_.clear();
        for (int ii = chunk_begin; ii < chunk_end; ++ii) {
            const int i = list->ilist[ii];
            if (type_species_[type[i]] < 0) continue;
            const int *neighbours = list->firstneigh[i];
            for (int jj = 0; jj < list->numneigh[i]; ++jj) {
                const int j = neighbours[jj] & NEIGHMASK;
                const int species = type_species_[type[j]];
                if (species < 0) continue;
                const double dx = x[j][0] - x[i][0], dy = x[j][1] - x[i][1], dz = x[j][2] - x[i][2];
                const double r2 = dx * dx + dy * dy + dz * dz;
                if (r2 >= cutoff_squared) continue;
                if (!(r2 >= overlap_squared))
                    error->one(FLERR, "pair_style lepot: atoms {} and {} overlap (distance {:.3g} Å)", atom->tag[i],
                               atom->tag[j], std::sqrt(r2));
                neighbour_vectors_.insert(neighbour_vectors_.end(), {dx, dy, dz});
                neighbour_species_.push_back(species);
                neighbour_index_.push_back(j);
            }
            chunk_atoms_.push_back(i);
            neighbour_offsets_.push_back(static_cast<int64_t>(neighbour_species_.size()));
        }
        const int n_centres = static_cast<int>(chunk_atoms_.size());
        centre_energies_.resize(n_centres);
        pair_gradients_.resize(neighbour_vectors_.size());
        if (uncertainty_flag_) centre_densities_.resize(static_cast<size_t>(n_centres) * kernel_->n_extended());
        for (int s = 0; s < n_species; ++s) {
            species_centres_.clear();
            for (int c = 0; c < n_centres; ++c)
                if (type_species_[type[chunk_atoms_[c]]] == s) species_centres_.push_back(c);
            if (species_centres_.empty()) continue;
            try {
                kernel_->compute_atoms(s, static_cast<int>(species_centres_.size()), species_centres_.data(),
                                       neighbour_offsets_.data(), neighbour_vectors_.data(),
                                       neighbour_species_.data(), workspace_, centre_energies_.data(),
                                       pair_gradients_.data(), uncertainty_flag_ ? centre_densities_.data() : nullptr);
            } catch (const lepot::CentreDomainError &problem) {
                error->one(FLERR, "pair_style lepot: atom {}: {}", atom->tag[chunk_atoms_[species_centres_[problem.centre]]],
                           problem.what());
            } catch (const std::exception &problem) {
                error->one(FLERR, "pair_style lepot: {}", problem.what());
            }
        }

        if (uncertainty_flag_) compute_uncertainty();

        for (int c = 0; c < n_centres; ++c) {
            const int i = chunk_atoms_[c];
            const double factor = scale[type[i]][type[i]];
            if (eflag_global) eng_vdwl += factor * centre_energies_[c];
            if (eflag_atom) eatom[i] += factor * centre_energies_[c];
            for (int64_t p = neighbour_offsets_[c]; p < neighbour_offsets_[c + 1]; ++p) {
                const int j = neighbour_index_[p];
                // ∂E_i/∂r_ij, scaled; force on i is +g, on j is -g
                const double g[3] = {factor * pair_gradients_[3 * p], factor * pair_gradients_[3 * p + 1],
                                     factor * pair_gradients_[3 * p + 2]};
                f[i][0] += g[0];
                f[i][1] += g[1];
                f[i][2] += g[2];
                f[j][0] -= g[0];
                f[j][1] -= g[1];
                f[j][2] -= g[2];
                if (vflag_either) {
                    const double *v = &neighbour_vectors_[3 * p];
                    ev_tally_xyz(i, j, nlocal, newton, 0.0, 0.0, g[0], g[1], g[2], -v[0], -v[1], -v[2]);
                }
            }
        }
    }
    if (uncertainty_flag_) {  // σ_E of the whole system: Σ_i u_i, Σ_i |u_i|² and N over all ranks
        MPI_Allreduce(MPI_IN_PLACE, projection_sum_.data(), static_cast<int>(projection_sum_.size()), MPI_DOUBLE,
                      MPI_SUM, world);
        const size_t n_columns = projection_sum_.size() - 2;
        double squared = 0.0;
        for (size_t j = 0; j < n_columns; ++j) squared += projection_sum_[j] * projection_sum_[j];
        pvector[0] = comm->me == 0 ? lepot::structure_energy_uncertainty(posterior_->parameters(), squared,
                                                                          projection_sum_[n_columns],
                                                                          projection_sum_[n_columns + 1])
                                   : 0.0;
    }
    if (vflag_fdotr) virial_fdotr_compute();
}

// The chunk's centres: descriptors B(i) from the densities the force pass kept (grouped by species), then
// |u_i|² and the per-atom arrays.
void PairLepot::compute_uncertainty() {
    const int *type = atom->type;
    const int n_centres = static_cast<int>(chunk_atoms_.size());
    uncertainty_order_.clear();
    centre_species_.clear();
    for (int s = 0; s < static_cast<int>(species_.size()); ++s) {
        for (int c = 0; c < n_centres; ++c)
            if (type_species_[type[chunk_atoms_[c]]] == s) uncertainty_order_.push_back(c);
        centre_species_.resize(uncertainty_order_.size(), s);
    }
    centre_features_.resize(static_cast<size_t>(n_centres) * couplings_->n_features());
    centre_variances_.resize(n_centres);
    couplings_->evaluate_centres(n_centres, uncertainty_order_.data(), centre_densities_.data(), coupling_lanes_,
                                 centre_features_.data());
    posterior_->variances(n_centres, centre_species_.data(), centre_features_.data(), posterior_work_,
                          centre_variances_.data(), projection_sum_.data());
    const lepot::PosteriorParameters &p = posterior_->parameters();
    const size_t n_columns = projection_sum_.size() - 2;
    projection_sum_[n_columns + 1] += n_centres;
    for (int k = 0; k < n_centres; ++k) {
        const int i = chunk_atoms_[uncertainty_order_[k]];
        const double variance = centre_variances_[k];
        projection_sum_[n_columns] += variance;
        grade_[i] = std::sqrt(variance / p.reference_variance);
        sigma_[i] = lepot::local_energy_uncertainty(p, variance);
        lpr_[i] = 1.0 / variance;
    }
}
