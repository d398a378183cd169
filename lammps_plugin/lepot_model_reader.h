// Parameter-file reader for the LAMMPS plugin (format: docs/parameter-file.md, format_version 1).
//
// Parses the JSON text with the nlohmann library bundled in LAMMPS's headers, checks it with the same
// rules as lepot.calculator.model (format, version, units, required and unknown keys, shapes, finite
// numbers, index ranges, core-repulsion radii) and builds the shared core's PotentialKernel. The one
// check it leaves to the Python reader is that the spline tables match the LE functions they declare
// (that needs spherical Bessel zeros); the tables themselves are used as stored.
#pragma once

#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "potential_kernel.hpp"

namespace lepot_lammps {

struct LoadedModel {
    std::vector<std::string> species;  // element symbols in species-index order
    double cutoff = 0.0;               // Å
    std::unique_ptr<lepot::PotentialKernel> kernel;
};

class ModelFileError : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

// text: the whole file; source: its name, for messages. Throws ModelFileError naming the problem.
LoadedModel read_model(const std::string& text, const std::string& source);

// Atomic number of an element symbol, 0 if unknown.
int atomic_number(const std::string& symbol);

}  // namespace lepot_lammps
