// pair_style lepot: linear / alchemically compressed ACE-SOAP potentials on the LE basis.
//
//   units metal
//   pair_style lepot
//   pair_coeff * * model.json Mo W NULL ...      (one element or NULL per atom type)
//
// Full neighbour list, newton_pair on. The parameter file is found with LAMMPS's potential-file lookup
// (the path as given, then the folder in LAMMPS_POTENTIALS), read on rank 0, broadcast, and checked on
// every rank by the core's reader (calculator/core/parameter_file.hpp, the same code the ASE calculator
// runs), which also assembles the kernel. Local atoms go to the core in chunks, species by species
// (PotentialKernel::compute_atoms, which evaluates blocks of centres together); for each atom i it
// returns E_i and ∂E_i/∂r_ij for its neighbours; forces are tallied per pair (F_i += ∂E_i/∂r_ij,
// F_j -= ∂E_i/∂r_ij, ghosts returned by reverse communication) and the per-pair virial
// -r_ij ⊗ ∂E_i/∂r_ij through ev_tally_xyz (split equally between i and j). Per-atom energies include E0
// and go to compute pe/atom. `fix adapt ... pair lepot scale * * v_s` scales E_i and its gradients by
// scale[type_i][type_i], as pair_style pace does.
//
// Uncertainty (a parameter file with an "uncertainty" block; docs/uncertainty.md): on the steps a
// `fix ID group pair N lepot grade 1 [sigma 1] [lpr 1]` asks for it (LAMMPS's fix pair raises the
// grade_flag, sigma_flag or lpr_flag this style exposes through extract()), compute() also evaluates every
// local atom's descriptors (CouplingSet::evaluate_centres, from the densities its force pass kept) and
// u_i = C⁻ᵀ z_i (PosteriorEvaluator, the code the ASE calculator runs; in the precision of pair_style's
// `uncertainty_precision double|single`) and fills the per-atom arrays "grade" (extrapolation grade γ_i), "sigma" (σ_i, eV) and
// "lpr" (LPR_i, eV⁻²) handed out by extract_peratom(), and the whole system's energy uncertainty
// σ_E (eV; core/posterior.hpp structure_energy_uncertainty over all ranks' atoms) as the pair style's one extra value,
// `compute ID all pair lepot` -> c_ID[1] (held on rank 0, so that compute pair's sum over ranks is σ_E);
// other steps cost nothing extra.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "couplings.hpp"
#include "pair.h"
#include "posterior.hpp"
#include "potential_kernel.hpp"

namespace LAMMPS_NS {

class PairLepot : public Pair {
public:
    explicit PairLepot(class LAMMPS *);
    ~PairLepot() override;

    void compute(int eflag, int vflag) override;
    void settings(int narg, char **arg) override;
    void coeff(int narg, char **arg) override;
    void init_style() override;
    double init_one(int i, int j) override;
    void *extract(const char *name, int &dim) override;
    void *extract_peratom(const char *name, int &ncol) override;

private:
    void allocate();
    void require_metal_units();
    std::string read_on_rank_zero(const std::string &path);
    void compute_uncertainty();

    std::unique_ptr<lepot::PotentialKernel> kernel_;
    std::vector<std::string> species_;       // shape [n_species], element symbols of the model
    double cutoff_ = 0.0;                    // Å
    double **scale = nullptr;                // shape [ntypes+1][ntypes+1], fix adapt factors (diagonal used)
    std::vector<int> type_species_;          // shape [ntypes+1], species index of each atom type, -1 for NULL
    lepot::PotentialWorkspace workspace_;
    // the current chunk of local atoms and their pairs (pairs of chunk centre c: [offsets[c], offsets[c+1]))
    std::vector<int> chunk_atoms_;            // shape [n_centres], LAMMPS index i of each centre
    std::vector<int64_t> neighbour_offsets_;  // shape [n_centres+1]
    std::vector<double> neighbour_vectors_;   // shape [n_pairs][3], r_ij = x_j - x_i (Å)
    std::vector<int> neighbour_species_;      // shape [n_pairs]
    std::vector<int> neighbour_index_;        // shape [n_pairs], LAMMPS index j (local or ghost)
    std::vector<int> species_centres_;        // shape [<= n_centres], chunk centres of one species
    std::vector<double> centre_energies_;     // shape [n_centres], E_i (eV)
    std::vector<double> pair_gradients_;      // shape [n_pairs][3], ∂E_i/∂r_ij (eV/Å)
    // uncertainty (only with a posterior in the file, and only on the steps fix pair asks for it)
    std::string model_path_;
    std::unique_ptr<lepot::CouplingSet> couplings_;  // the model's invariants B(A), for the grade's descriptors
    lepot::PosteriorParameters posterior_parameters_;   // from the file ("uncertainty"; present = false for null)
    int n_model_species_ = 0;
    std::unique_ptr<lepot::PosteriorEvaluator> posterior_;  // made on the first step that asks for it
    lepot::PosteriorPrecision posterior_precision_ = lepot::PosteriorPrecision::double_precision;  // pair_style keyword
    int uncertainty_flag_ = 0;                // raised by fix pair (grade_flag, sigma_flag, lpr_flag)
    lepot::CouplingLanes coupling_lanes_;
    std::vector<int> uncertainty_order_;      // shape [n_centres], chunk centres grouped by species
    std::vector<int> centre_species_;         // shape [n_centres], species of centre uncertainty_order_[k]
    std::vector<double> centre_densities_;    // shape [n_centres][n_extended], [A ; Ã] of chunk centre c
    std::vector<double> centre_features_;     // shape [n_features][n_centres], B of centre uncertainty_order_[k] in column k
    std::vector<double> centre_variances_;    // shape [n_centres], |u|² of the same (eV² per unit noise)
    lepot::PosteriorWorkspace posterior_work_;  // the evaluator's transposed block (sized by it)
    std::vector<double> projection_sum_;      // shape [n_columns+2], Σ_i u_i of this rank's atoms, Σ_i |u_i|², their number
    int peratom_size_ = 0;                    // allocated length of the per-atom arrays
    double *grade_ = nullptr;                 // shape [nmax], γ_i
    double *sigma_ = nullptr;                 // shape [nmax], σ_i (eV)
    double *lpr_ = nullptr;                   // shape [nmax], LPR_i (eV⁻²)
};

}  // namespace LAMMPS_NS
