// See lepot_model_reader.h.
#include "lepot_model_reader.h"

#include <algorithm>
#include <cmath>
#include <set>

#include "json.h"

using LAMMPS_NS::json;

namespace lepot_lammps {

namespace {

const char* const element_symbols[] = {
    "H",  "He", "Li", "Be", "B",  "C",  "N",  "O",  "F",  "Ne", "Na", "Mg", "Al", "Si", "P",  "S",  "Cl", "Ar",
    "K",  "Ca", "Sc", "Ti", "V",  "Cr", "Mn", "Fe", "Co", "Ni", "Cu", "Zn", "Ga", "Ge", "As", "Se", "Br", "Kr",
    "Rb", "Sr", "Y",  "Zr", "Nb", "Mo", "Tc", "Ru", "Rh", "Pd", "Ag", "Cd", "In", "Sn", "Sb", "Te", "I",  "Xe",
    "Cs", "Ba", "La", "Ce", "Pr", "Nd", "Pm", "Sm", "Eu", "Gd", "Tb", "Dy", "Ho", "Er", "Tm", "Yb", "Lu", "Hf",
    "Ta", "W",  "Re", "Os", "Ir", "Pt", "Au", "Hg", "Tl", "Pb", "Bi", "Po", "At", "Rn", "Fr", "Ra", "Ac", "Th",
    "Pa", "U",  "Np", "Pu", "Am", "Cm", "Bk", "Cf", "Es", "Fm", "Md", "No", "Lr", "Rf", "Db", "Sg", "Bh", "Hs",
    "Mt", "Ds", "Rg", "Cn", "Nh", "Fl", "Mc", "Lv", "Ts", "Og"};

class Checker {
public:
    explicit Checker(std::string source) : source_(std::move(source)) {}

    [[noreturn]] void fail(const std::string& message) const { throw ModelFileError(source_ + ": " + message); }
    void require(bool condition, const std::string& message) const {
        if (!condition) fail(message);
    }

    const json& object(const json& value, const std::string& where, const std::vector<std::string>& keys) const {
        require(value.is_object(), "'" + where + "' must be an object");
        for (const auto& key : keys) require(value.contains(key), "'" + where + "' is missing key '" + key + "'");
        for (auto it = value.begin(); it != value.end(); ++it)
            require(std::find(keys.begin(), keys.end(), it.key()) != keys.end(),
                    "'" + where + "' has unknown key '" + it.key() + "'");
        return value;
    }

    double number(const json& value, const std::string& where) const {
        require(value.is_number(), "'" + where + "' must be a number");
        const double x = value.get<double>();
        require(std::isfinite(x), "'" + where + "' must be finite");
        return x;
    }

    long integer(const json& value, const std::string& where, long minimum) const {
        require(value.is_number_integer(), "'" + where + "' must be an integer");
        const long x = value.get<long>();
        require(x >= minimum, "'" + where + "' must be >= " + std::to_string(minimum));
        return x;
    }

    std::string string(const json& value, const std::string& where) const {
        require(value.is_string(), "'" + where + "' must be a string");
        return value.get<std::string>();
    }

    // Flattened row-major numbers of an array with the given shape.
    std::vector<double> numbers(const json& value, const std::string& where, const std::vector<size_t>& shape) const {
        std::vector<double> out;
        flatten(value, where, shape, 0, out);
        return out;
    }

    std::vector<int> integers(const json& value, const std::string& where, size_t length) const {
        require(value.is_array() && value.size() == length,
                "'" + where + "' must be an array of " + std::to_string(length) + " integers");
        std::vector<int> out;
        for (size_t i = 0; i < length; ++i) {
            require(value[i].is_number_integer(), "'" + where + "' must contain integers");
            out.push_back(value[i].get<int>());
        }
        return out;
    }

private:
    void flatten(const json& value, const std::string& where, const std::vector<size_t>& shape, size_t axis,
                 std::vector<double>& out) const {
        if (axis == shape.size()) {
            out.push_back(number(value, where));
            return;
        }
        require(value.is_array() && value.size() == shape[axis],
                "'" + where + "' has the wrong shape (axis " + std::to_string(axis) + " should have " +
                    std::to_string(shape[axis]) + " entries)");
        for (const auto& item : value) flatten(item, where, shape, axis + 1, out);
    }

    std::string source_;
};

}  // namespace

int atomic_number(const std::string& symbol) {
    for (int z = 1; z <= 118; ++z)
        if (symbol == element_symbols[z - 1]) return z;
    return 0;
}

LoadedModel read_model(const std::string& text, const std::string& source) {
    const Checker check(source);
    json data;
    try {
        data = json::parse(text);
    } catch (const json::exception& error) {
        check.fail(std::string("not valid JSON (truncated or damaged?): ") + error.what());
    }
    check.require(data.is_object(), "the top level must be a JSON object");
    check.require(data.contains("format") && data["format"] == "lepot-potential",
                  "not a lepot parameter file (missing or wrong 'format')");
    check.require(data.contains("format_version") && data["format_version"].is_number_integer() &&
                      data["format_version"].get<long>() == 1,
                  "unsupported format_version (this plugin reads version 1)");
    check.object(data, "top level",
                 {"format", "format_version", "units", "species", "cutoff", "radial", "embedding", "basis", "weights",
                  "reference_energies", "core_repulsion", "metadata"});
    const json& units = check.object(data["units"], "units", {"energy", "length"});
    check.require(units["energy"] == "eV" && units["length"] == "Angstrom",
                  "units must be {\"energy\": \"eV\", \"length\": \"Angstrom\"}");

    LoadedModel model;
    const json& species = data["species"];
    check.require(species.is_array() && !species.empty(), "'species' must be a non-empty list of element symbols");
    std::vector<int> numbers;
    for (const auto& entry : species) {
        const std::string symbol = check.string(entry, "species");
        check.require(atomic_number(symbol) > 0, "'species' has unknown element '" + symbol + "'");
        check.require(std::find(model.species.begin(), model.species.end(), symbol) == model.species.end(),
                      "'species' lists '" + symbol + "' twice");
        model.species.push_back(symbol);
        numbers.push_back(atomic_number(symbol));
    }
    const size_t n_species = model.species.size();

    const json& cutoff = check.object(data["cutoff"], "cutoff", {"radius", "function", "width"});
    const double radius = check.number(cutoff["radius"], "cutoff.radius");
    const double width = check.number(cutoff["width"], "cutoff.width");
    check.require(radius > 0 && width > 0 && width <= radius, "need 0 < cutoff.width <= cutoff.radius");
    check.require(cutoff["function"] == "shifted_cosine", "unknown cutoff function");
    model.cutoff = radius;

    const json& radial = check.object(data["radial"], "radial", {"basis", "n_max", "l_max", "n_radial", "spline"});
    check.require(radial["basis"] == "laplacian_eigenstate", "unknown radial basis");
    const long n_max = check.integer(radial["n_max"], "radial.n_max", 1);
    const long l_max = check.integer(radial["l_max"], "radial.l_max", 0);
    check.require(radial["n_radial"].is_array() && !radial["n_radial"].empty(), "'radial.n_radial' must be a list");
    const std::vector<int> n_radial = check.integers(radial["n_radial"], "radial.n_radial", radial["n_radial"].size());
    check.require(n_radial[0] == n_max && static_cast<long>(n_radial.size()) - 1 <= l_max,
                  "'radial.n_radial' is inconsistent with n_max / l_max");
    size_t n_functions = 0;
    for (int n : n_radial) n_functions += n;
    const json& spline = check.object(radial["spline"], "radial.spline", {"n_nodes", "values", "derivatives"});
    const size_t n_nodes = check.integer(spline["n_nodes"], "radial.spline.n_nodes", 2);
    const std::vector<double> values = check.numbers(spline["values"], "radial.spline.values", {n_nodes, n_functions});
    const std::vector<double> derivatives =
        check.numbers(spline["derivatives"], "radial.spline.derivatives", {n_nodes, n_functions});

    std::vector<double> embedding;  // [species][pseudo][n_radial[0]]
    size_t n_pseudo = n_species;
    if (data["embedding"].is_null()) {
        embedding.assign(n_species * n_species * n_radial[0], 0.0);
        for (size_t s = 0; s < n_species; ++s)
            for (int n = 0; n < n_radial[0]; ++n) embedding[(s * n_species + s) * n_radial[0] + n] = 1.0;
    } else {
        const json& object = check.object(data["embedding"], "embedding", {"n_pseudo", "weights"});
        n_pseudo = check.integer(object["n_pseudo"], "embedding.n_pseudo", 1);
        embedding = check.numbers(object["weights"], "embedding.weights",
                                  {n_species, n_pseudo, static_cast<size_t>(n_radial[0])});
    }

    const json& basis = check.object(data["basis"], "basis", {"body_order", "features", "terms"});
    check.integer(basis["body_order"], "basis.body_order", 1);
    check.require(basis["features"].is_array() && !basis["features"].empty(), "'basis.features' must be a list");
    const size_t n_features = basis["features"].size();
    const json& terms = check.object(basis["terms"], "basis.terms", {"feature", "coefficient", "factor_offsets", "factors"});
    check.require(terms["feature"].is_array() && !terms["feature"].empty(), "'basis.terms.feature' must be a list");
    const size_t n_terms = terms["feature"].size();
    const std::vector<int> term_feature = check.integers(terms["feature"], "basis.terms.feature", n_terms);
    const std::vector<double> term_coefficient = check.numbers(terms["coefficient"], "basis.terms.coefficient", {n_terms});
    const std::vector<int> offsets = check.integers(terms["factor_offsets"], "basis.terms.factor_offsets", n_terms + 1);
    check.require(offsets[n_terms] >= 0, "'basis.terms.factor_offsets' must be non-negative");
    const std::vector<int> factors = check.integers(terms["factors"], "basis.terms.factors", offsets[n_terms]);

    std::vector<double> weights;  // [species][features]
    check.object(data["weights"], "weights", model.species);
    for (const auto& symbol : model.species) {
        const std::vector<double> row = check.numbers(data["weights"][symbol], "weights." + symbol, {n_features});
        weights.insert(weights.end(), row.begin(), row.end());
    }
    std::vector<double> reference_energies;
    check.object(data["reference_energies"], "reference_energies", model.species);
    for (const auto& symbol : model.species)
        reference_energies.push_back(check.number(data["reference_energies"][symbol], "reference_energies." + symbol));

    std::vector<double> r_inner(n_species * n_species, 0.0), r_outer(n_species * n_species, 0.0);
    if (!data["core_repulsion"].is_null()) {
        const json& core = check.object(data["core_repulsion"], "core_repulsion", {"type", "pairs"});
        check.require(core["type"] == "zbl", "unknown core repulsion type");
        check.require(core["pairs"].is_array(), "'core_repulsion.pairs' must be a list");
        for (const auto& pair : core["pairs"]) {
            check.object(pair, "core_repulsion.pairs[]", {"species", "r_inner", "r_outer"});
            check.require(pair["species"].is_array() && pair["species"].size() == 2,
                          "'core_repulsion.pairs[].species' must name two species");
            size_t index[2];
            for (int k = 0; k < 2; ++k) {
                const std::string symbol = check.string(pair["species"][k], "core_repulsion.pairs[].species");
                const auto found = std::find(model.species.begin(), model.species.end(), symbol);
                check.require(found != model.species.end(), "core repulsion names '" + symbol + "', not in 'species'");
                index[k] = found - model.species.begin();
            }
            const double inner = check.number(pair["r_inner"], "core_repulsion.pairs[].r_inner");
            const double outer = check.number(pair["r_outer"], "core_repulsion.pairs[].r_outer");
            check.require(0 <= inner && inner < outer && outer <= radius,
                          "core repulsion needs 0 <= r_inner < r_outer <= cutoff radius");
            r_inner[index[0] * n_species + index[1]] = r_inner[index[1] * n_species + index[0]] = inner;
            r_outer[index[0] * n_species + index[1]] = r_outer[index[1] * n_species + index[0]] = outer;
        }
    }
    check.require(data["metadata"].is_object(), "'metadata' must be an object");

    try {
        lepot::RadialSpline table(static_cast<int>(n_functions), static_cast<int>(n_nodes), radius, values.data(),
                                  derivatives.data());
        lepot::DensityLayout layout(static_cast<int>(n_radial.size()) - 1, n_radial.data());
        lepot::DensityExpansion expansion(table, lepot::CutoffFunction(radius, width), layout,
                                          static_cast<int>(n_species), static_cast<int>(n_pseudo), embedding.data());
        lepot::CouplingSet couplings(static_cast<int>(n_features), expansion.n_density(), static_cast<int>(n_terms),
                                     term_feature.data(), term_coefficient.data(), offsets.data(), factors.data());
        lepot::CoreRepulsion repulsion(static_cast<int>(n_species), numbers.data(), r_inner.data(), r_outer.data());
        model.kernel = std::make_unique<lepot::PotentialKernel>(expansion, couplings, weights.data(),
                                                                reference_energies.data(), repulsion);
    } catch (const std::invalid_argument& error) {
        check.fail(error.what());
    }
    return model;
}

}  // namespace lepot_lammps
