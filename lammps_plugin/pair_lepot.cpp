// See pair_lepot.h.
#include "pair_lepot.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <fstream>
#include <sstream>

#include "atom.h"
#include "comm.h"
#include "error.h"
#include "force.h"
#include "memory.h"
#include "neigh_list.h"
#include "neighbor.h"
#include "update.h"

using namespace LAMMPS_NS;

namespace {
// Atoms closer than this (Å) are overlapping: the spherical harmonics of r = 0 are undefined.
constexpr double overlap_distance = 1e-4;
}  // namespace

PairLepot::PairLepot(LAMMPS *lmp) : Pair(lmp) {
    single_enable = 0;
    restartinfo = 0;
    one_coeff = 1;
    manybody_flag = 1;
    centroidstressflag = CENTROID_NOTAVAIL;
}

PairLepot::~PairLepot() {
    if (allocated) {
        memory->destroy(setflag);
        memory->destroy(cutsq);
    }
}

void PairLepot::allocate() {
    allocated = 1;
    const int n = atom->ntypes;
    memory->create(setflag, n + 1, n + 1, "pair:setflag");
    memory->create(cutsq, n + 1, n + 1, "pair:cutsq");
    for (int i = 1; i <= n; ++i)
        for (int j = i; j <= n; ++j) setflag[i][j] = 0;
}

void PairLepot::require_metal_units() {
    if (std::strcmp(update->unit_style, "metal") != 0)
        error->all(FLERR, "pair_style lepot requires 'units metal' (eV, Å); current units are '{}'",
                   update->unit_style);
}

void PairLepot::settings(int narg, char ** /*arg*/) {
    if (narg != 0) error->all(FLERR, "pair_style lepot takes no arguments (the model file goes in pair_coeff)");
    require_metal_units();
}

void PairLepot::coeff(int narg, char **arg) {
    const int ntypes = atom->ntypes;
    if (narg != 3 + ntypes)
        error->all(FLERR, "pair_coeff for lepot needs: * * model.json followed by one element (or NULL) for each of "
                          "the {} atom types, got {} arguments", ntypes, narg);
    if (std::strcmp(arg[0], "*") != 0 || std::strcmp(arg[1], "*") != 0)
        error->all(FLERR, "pair_coeff for lepot must start with * *");
    if (!allocated) allocate();
    const std::string path = arg[2];

    // rank 0 reads the file; everyone gets its text and parses the same bytes
    std::string text;
    long length = -1;
    if (comm->me == 0) {
        std::ifstream file(path, std::ios::binary);
        if (file) {
            std::ostringstream buffer;
            buffer << file.rdbuf();
            text = buffer.str();
            length = static_cast<long>(text.size());
        }
    }
    MPI_Bcast(&length, 1, MPI_LONG, 0, world);
    if (length < 0) error->all(FLERR, "pair_style lepot: cannot open parameter file {}", path);
    text.resize(length);
    MPI_Bcast(text.data(), static_cast<int>(length), MPI_CHAR, 0, world);
    try {
        model_ = lepot_lammps::read_model(text, path);
    } catch (const std::exception &problem) {
        error->all(FLERR, "pair_style lepot: {}", problem.what());
    }

    type_species_.assign(ntypes + 1, -1);
    for (int type = 1; type <= ntypes; ++type) {
        const std::string element = arg[2 + type];
        if (element == "NULL") continue;
        const auto found = std::find(model_.species.begin(), model_.species.end(), element);
        if (found == model_.species.end()) {
            std::string known;
            for (const auto &s : model_.species) known += (known.empty() ? "" : " ") + s;
            error->all(FLERR, "pair_coeff: element {} (atom type {}) is not in lepot model {} (species: {})", element,
                       type, path, known);
        }
        type_species_[type] = static_cast<int>(found - model_.species.begin());
    }
    for (int i = 1; i <= ntypes; ++i)
        for (int j = i; j <= ntypes; ++j) setflag[i][j] = (type_species_[i] >= 0 && type_species_[j] >= 0) ? 1 : 0;
}

void PairLepot::init_style() {
    require_metal_units();
    if (force->newton_pair == 0) error->all(FLERR, "pair_style lepot requires newton_pair on");
    if (!model_.kernel) error->all(FLERR, "pair_style lepot: no model loaded (pair_coeff * * model.json ...)");
    neighbor->add_request(this, NeighConst::REQ_FULL);
}

double PairLepot::init_one(int /*i*/, int /*j*/) {
    return model_.cutoff;
}

void PairLepot::compute(int eflag, int vflag) {
    ev_init(eflag, vflag);
    double **x = atom->x;
    double **f = atom->f;
    const int *type = atom->type;
    const int nlocal = atom->nlocal;
    const int newton = force->newton_pair;
    const double cutoff_squared = model_.cutoff * model_.cutoff;

    for (int ii = 0; ii < list->inum; ++ii) {
        const int i = list->ilist[ii];
        const int centre_species = type_species_[type[i]];
        if (centre_species < 0) continue;
        const int *neighbours = list->firstneigh[i];
        const int count = list->numneigh[i];
        if (static_cast<int>(neighbour_species_.size()) < count) {
            neighbour_vectors_.resize(3 * static_cast<size_t>(count));
            neighbour_species_.resize(count);
            neighbour_index_.resize(count);
            pair_gradients_.resize(3 * static_cast<size_t>(count));
        }
        int n = 0;
        for (int jj = 0; jj < count; ++jj) {
            const int j = neighbours[jj] & NEIGHMASK;
            const int species = type_species_[type[j]];
            if (species < 0) continue;
            const double dx = x[j][0] - x[i][0], dy = x[j][1] - x[i][1], dz = x[j][2] - x[i][2];
            const double r2 = dx * dx + dy * dy + dz * dz;
            if (r2 >= cutoff_squared) continue;
            if (r2 < overlap_distance * overlap_distance)
                error->one(FLERR, "pair_style lepot: atoms {} and {} overlap (distance {:.3g} Å)", atom->tag[i],
                           atom->tag[j], std::sqrt(r2));
            neighbour_vectors_[3 * n] = dx;
            neighbour_vectors_[3 * n + 1] = dy;
            neighbour_vectors_[3 * n + 2] = dz;
            neighbour_species_[n] = species;
            neighbour_index_[n] = j;
            ++n;
        }
        const double energy = model_.kernel->compute_atom(centre_species, n, neighbour_vectors_.data(),
                                                          neighbour_species_.data(), workspace_, pair_gradients_.data());
        if (eflag_global) eng_vdwl += energy;
        if (eflag_atom) eatom[i] += energy;
        for (int p = 0; p < n; ++p) {
            const int j = neighbour_index_[p];
            const double *g = &pair_gradients_[3 * p];  // ∂E_i/∂r_ij; force on i is +g, on j is -g
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
    if (vflag_fdotr) virial_fdotr_compute();
}
