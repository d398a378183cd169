// The parameter-file contract: reading and validating a lepot potential file (JSON, format_version 6).
//
// This is the only reader. The LAMMPS plugin calls it directly; Python calls it through the Cython
// bindings (lepot.calculator.model.load_model), and Python's writer passes every file it writes through
// it first. So both front ends accept exactly the same files and refuse the others with the same
// message, "<source>: <key> <problem>". The schema is documented in docs/parameter-file.md.
//
// Parsing uses nlohmann/json (the PyPI `nlohmann-json` headers; never LAMMPS's renamed copy), with an
// ordered object type so that metadata keeps its key order. On top of JSON syntax the reader refuses:
// duplicate keys, nesting deeper than max_json_depth, files larger than max_parameter_file_bytes, unknown
// or future format versions, missing or unknown keys, wrong types, non-finite numbers, wrong array
// lengths, sizes beyond the core's limits, an n_radial list that is not the LE selection, spline tables
// that do not match the LE functions they declare, feature labels that do not describe their coupling
// terms, index ranges, and inconsistent core-repulsion radii. Every array is checked against the JSON it
// came from before anything is allocated from a declared size, so no value in a file can make the
// reader allocate more than the file's own size. Loading never executes anything from the file.
#pragma once

#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <limits>
#include <memory>
#include <set>
#include <stdexcept>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "elements.hpp"
#include "laplacian_eigenstates.hpp"
#include "model_parameters.hpp"
#include "posterior.hpp"
#include "spherical_harmonics.hpp"

namespace lepot {

constexpr const char* parameter_file_format = "lepot-potential";
constexpr int parameter_file_version = 6;
// Version 1 differs only in what core_repulsion pairs mean (there ZBL was added and the model kept acting
// on close pairs; from version 2 the model hands them over to ZBL). Version-1 files without core
// repulsion therefore mean the same in both and are read; those with ZBL pairs are refused.
// Version 3 adds the "contraction" key (tensor-reduced channels; null for none), required from version 3
// and absent before: a version-2 file is a version-3 file with "contraction": null.
// Version 4 adds the "uncertainty" key (the coefficients' posterior, posterior.hpp; null for none), likewise
// required from version 4 and absent before.
// Version 5 adds two numbers to "uncertainty": "local_variance_scale" (β², σ_E's independent local term) and
// "force_posterior_scale" (α_F², σ_F's own scale), required from version 5 and absent before: a version-4
// uncertainty reads as β² = 0 and α_F² = posterior_scale, which is what its σ_E and σ_F meant.
// Version 6 adds "atom_energy_noise" (η, eV: σ_E's independent noise of every local energy, η² N), required
// from version 6 and absent before: an earlier uncertainty reads as η = 0, which is what its σ_E meant.
constexpr int oldest_readable_version = 1;
constexpr std::uint64_t max_parameter_file_bytes = std::uint64_t(1) << 28;  // 256 MiB: the parsed tree takes ~6x the text
constexpr int max_json_depth = 16;
constexpr size_t max_posterior_columns = 7000;  // n(n+1)/2 base64 doubles (32/3 bytes each) fit in 256 MiB
constexpr int max_body_order = 5;
// Largest allowed mismatch between stored spline nodes and the LE functions they declare, relative to
// max |S_nl| of each function (lepot writes exact function values, so this only catches damage).
constexpr double spline_consistency_tolerance = 1e-9;

class ParameterFileError : public std::invalid_argument {
public:
    using std::invalid_argument::invalid_argument;
};

// Everything a parameter file holds, validated.
struct ParameterFile {
    ModelParameters model;
    std::vector<std::string> species;             // shape [n_species], element symbols in index order
    int n_max = 0;                                // as declared (= n_radial[0])
    int l_max = 0;                                // as declared (>= n_angular - 1)
    bool compressed = false;                      // an "embedding" object was given (else one-hot)
    int body_order = 0;
    std::vector<int> feature_body_order;          // shape [n_features], ν of each label
    std::vector<int> feature_index;               // shape [n_features], 0 (ν = 1), l (ν = 2) or j (ν >= 3)
    std::vector<int> feature_channel_offsets;     // shape [n_features+1], channels of feature q
    std::vector<int> feature_channels;            // shape [n_label_channels][3], (k, n, l) of each factor
    PosteriorParameters posterior;                // the "uncertainty" object (present = false for null)
    std::string metadata;                         // the "metadata" object as JSON text
};

namespace parameter_file_detail {

using Json = nlohmann::ordered_json;

// Short rendering of a JSON value for messages: small lists and objects of scalars in full, larger ones
// by size only (never dumped whole: they can be large), long text cut.
inline std::string show(const Json& value) {
    bool small = value.is_structured() && value.size() <= 8;
    for (auto item = value.begin(); small && item != value.end(); ++item) small = item->is_primitive();
    if (value.is_array() && !small) return "a list of " + std::to_string(value.size()) + " entries";
    if (value.is_object() && !small) return "an object with " + std::to_string(value.size()) + " keys";
    std::string text = value.dump(-1, ' ', false, Json::error_handler_t::replace);
    if (text.size() > 80) text = text.substr(0, 77) + "...";
    return text;
}

// Text quoted from a damaged file, made safe for messages: bytes outside printable ASCII become \xNN.
inline std::string printable(const std::string& text) {
    std::string out;
    for (const unsigned char c : text) {
        if (c >= 0x20 && c < 0x7f) {
            out += static_cast<char>(c);
        } else {
            char escaped[8];
            std::snprintf(escaped, sizeof escaped, "\\x%02x", c);
            out += escaped;
        }
    }
    return out;
}

inline std::string format_double(double value) {
    char buffer[32];
    std::snprintf(buffer, sizeof buffer, "%.3g", value);
    return buffer;
}

class Checker {
public:
    explicit Checker(std::string source) : source_(std::move(source)) {}

    [[noreturn]] void fail(const std::string& message) const { throw ParameterFileError(source_ + ": " + message); }
    void require(bool condition, const std::string& message) const {
        if (!condition) fail(message);
    }

    // An object with exactly these keys. Messages are built only on failure: the values can be large.
    const Json& object(const Json& value, const std::string& where, const std::vector<std::string>& keys) const {
        if (!value.is_object()) fail("'" + where + "' must be an object, got " + show(value));
        for (const auto& key : keys)
            if (!value.contains(key)) fail("'" + where + "' is missing the key '" + key + "'");
        for (auto item = value.begin(); item != value.end(); ++item)
            if (std::find(keys.begin(), keys.end(), item.key()) == keys.end())
                fail("'" + where + "' has the unknown key '" + item.key() + "'");
        return value;
    }

    double number(const Json& value, const std::string& where) const {
        if (!value.is_number()) fail("'" + where + "' must be a number, got " + show(value));
        const double x = value.get<double>();
        if (!std::isfinite(x)) fail("'" + where + "' must be finite, got " + show(value));
        return x;
    }

    double positive(const Json& value, const std::string& where) const {
        const double x = number(value, where);
        if (!(x > 0.0)) fail("'" + where + "' must be positive, got " + show(value));
        return x;
    }

    long integer(const Json& value, const std::string& where, long minimum, long maximum) const {
        if (!value.is_number_integer()) fail("'" + where + "' must be an integer, got " + show(value));
        const bool in_range = value.is_number_unsigned()
                                  ? value.get<std::uint64_t>() <= static_cast<std::uint64_t>(std::max(maximum, 0L)) &&
                                        static_cast<long>(value.get<std::uint64_t>()) >= minimum
                                  : value.get<std::int64_t>() >= minimum && value.get<std::int64_t>() <= maximum;
        if (!in_range)
            fail("'" + where + "' must be in [" + std::to_string(minimum) + ", " + std::to_string(maximum) + "], got " +
                 show(value));
        return static_cast<long>(value.get<std::int64_t>());
    }

    std::string string(const Json& value, const std::string& where) const {
        if (!value.is_string()) fail("'" + where + "' must be a string, got " + show(value));
        return value.get<std::string>();
    }

    const Json& list(const Json& value, const std::string& where, size_t length) const {
        if (!value.is_array()) fail("'" + where + "' must be a list, got " + show(value));
        if (value.size() != length)
            fail("'" + where + "' has " + std::to_string(value.size()) + " entries, expected " + std::to_string(length));
        return value;
    }

    const Json& nonempty_list(const Json& value, const std::string& where) const {
        if (!value.is_array()) fail("'" + where + "' must be a list, got " + show(value));
        if (value.empty()) fail("'" + where + "' must not be empty");
        return value;
    }

    // Row-major numbers of a nested list with the given shape, appended to out.
    void numbers(const Json& value, const std::string& where, const std::vector<size_t>& shape,
                 std::vector<double>& out, size_t axis = 0) const {
        if (shape.empty()) {
            out.push_back(number(value, where));
            return;
        }
        list(value, where, shape[axis]);
        if (axis + 1 < shape.size()) {
            for (size_t i = 0; i < shape[axis]; ++i) numbers(value[i], indexed(where, i), shape, out, axis + 1);
            return;
        }
        for (size_t i = 0; i < shape[axis]; ++i) {
            const Json& item = value[i];
            const double x = item.is_number() ? item.get<double>() : std::numeric_limits<double>::quiet_NaN();
            if (!std::isfinite(x)) number(item, indexed(where, i));  // fails with the message
            out.push_back(x);
        }
    }

    std::vector<int> integers(const Json& value, const std::string& where, size_t length, long minimum,
                              long maximum) const {
        list(value, where, length);
        std::vector<int> out(length);
        for (size_t i = 0; i < length; ++i) {
            const Json& item = value[i];
            if (item.is_number_unsigned()) {
                const std::uint64_t x = item.get<std::uint64_t>();
                if (x <= static_cast<std::uint64_t>(std::max(maximum, 0L)) && static_cast<long>(x) >= minimum) {
                    out[i] = static_cast<int>(x);
                    continue;
                }
            } else if (item.is_number_integer()) {
                const std::int64_t x = item.get<std::int64_t>();
                if (x >= minimum && x <= maximum) {
                    out[i] = static_cast<int>(x);
                    continue;
                }
            }
            out[i] = static_cast<int>(integer(item, indexed(where, i), minimum, maximum));
        }
        return out;
    }

    static std::string indexed(const std::string& where, size_t i) { return where + "[" + std::to_string(i) + "]"; }

private:
    std::string source_;
};

// Parses JSON text, refusing duplicate keys and deep nesting (the DOM parser keeps the last of two equal
// keys silently).
inline Json parse_json(const std::string& text, const Checker& check) {
    struct Frame {
        bool is_object;
        std::string name;
        std::string key;
        std::set<std::string> keys;
    };
    std::vector<Frame> frames;
    auto path = [&frames]() {
        std::string out;
        for (const Frame& frame : frames) {
            if (frame.name.empty()) continue;
            if (!out.empty() && frame.name[0] != '[') out += ".";
            out += frame.name;
        }
        return out.empty() ? std::string("top level") : out;
    };
    auto child_name = [&frames]() {
        if (frames.empty()) return std::string();
        return frames.back().is_object ? frames.back().key : std::string("[]");
    };
    Json::parser_callback_t callback = [&](int, nlohmann::json::parse_event_t event, Json& parsed) {
        using Event = nlohmann::json::parse_event_t;
        switch (event) {
            case Event::object_start:
            case Event::array_start:
                frames.push_back(Frame{event == Event::object_start, child_name(), std::string(), {}});
                if (static_cast<int>(frames.size()) > max_json_depth)
                    check.fail("the JSON is nested deeper than " + std::to_string(max_json_depth) + " levels (at '" +
                               path() + "')");
                break;
            case Event::key: {
                const std::string key = parsed.get<std::string>();
                if (!frames.back().keys.insert(key).second)
                    check.fail("'" + path() + "' has the key '" + key + "' twice");
                frames.back().key = key;
                break;
            }
            case Event::object_end:
            case Event::array_end:
                frames.pop_back();
                break;
            case Event::value:
                break;
        }
        return true;
    };
    try {
        return Json::parse(text, callback);
    } catch (const nlohmann::json::parse_error& error) {
        // error.byte: 1-based position of the last byte read
        size_t line = 1, column = 1;
        const size_t end = std::min<size_t>(error.byte > 0 ? error.byte - 1 : 0, text.size());
        for (size_t i = 0; i < end; ++i) {
            if (text[i] == '\n') {
                ++line;
                column = 1;
            } else {
                ++column;
            }
        }
        std::string detail = error.what();
        const size_t cut = detail.find(": ", detail.find("column"));
        if (cut != std::string::npos) detail = printable(detail.substr(cut + 2));
        // nlohmann quotes the whole token it was reading ("last read: '...'"), which for an unterminated
        // string is the rest of the file: keep its last 40 characters
        const size_t quote = detail.find("last read: '");
        const size_t quote_end = detail.rfind('\'');
        if (quote != std::string::npos && quote_end > quote + 12 + 40)
            detail = detail.substr(0, quote + 12) + "..." + detail.substr(quote_end - 40);
        size_t content_end = text.size();
        while (content_end > 0 && std::isspace(static_cast<unsigned char>(text[content_end - 1]))) --content_end;
        const bool truncated = error.byte >= content_end;
        check.fail("not valid JSON at line " + std::to_string(line) + ", column " + std::to_string(column) + ": " +
                   detail + (truncated ? " (the file looks truncated)" : ""));
    } catch (const nlohmann::json::exception& error) {
        std::string detail = error.what();
        const size_t cut = detail.find("] ");
        if (cut != std::string::npos) detail = detail.substr(cut + 2);
        check.fail("not valid JSON: " + printable(detail));
    }
}

// Channel ids: radial channel c = k n_functions + radial_offset(l) + n of (k, n, l) for k < n_pseudo, and
// after them the contracted channels (density_contraction.hpp), written in labels as (n_pseudo + k, 0, l):
// id n_pseudo n_functions + Σ_{j<l} K_j + k.
inline int channel_id(const std::vector<int>& n_radial, const std::vector<int>& contracted, int n_pseudo, int k, int n,
                      int l) {
    int offset = 0, n_functions = 0, contracted_offset = 0;
    for (int j = 0; j < static_cast<int>(n_radial.size()); ++j) {
        if (j < l) offset += n_radial[j];
        if (j < l && !contracted.empty()) contracted_offset += contracted[j];
        n_functions += n_radial[j];
    }
    if (k >= n_pseudo) return n_pseudo * n_functions + contracted_offset + (k - n_pseudo);
    return k * n_functions + offset + n;
}

// The channel id of every index of the extended density [A ; Ã] (shape [n_density + n_contracted]).
inline std::vector<int> density_channels(const std::vector<int>& n_radial, const std::vector<int>& contracted,
                                         int n_pseudo) {
    std::vector<int> channels;
    for (int k = 0; k < n_pseudo; ++k)
        for (int l = 0; l < static_cast<int>(n_radial.size()); ++l)
            for (int n = 0; n < n_radial[l]; ++n)
                channels.insert(channels.end(), 2 * l + 1, channel_id(n_radial, contracted, n_pseudo, k, n, l));
    for (int l = 0; l < static_cast<int>(contracted.size()); ++l)
        for (int k = 0; k < contracted[l]; ++k)
            channels.insert(channels.end(), 2 * l + 1, channel_id(n_radial, contracted, n_pseudo, n_pseudo + k, 0, l));
    return channels;
}

inline void read_radial(const Json& data, const Checker& check, ParameterFile& file) {
    BasisParameters& basis = file.model.basis;
    const Json& radial = check.object(data["radial"], "radial", {"basis", "n_max", "l_max", "n_radial", "spline"});
    check.require(radial["basis"] == "laplacian_eigenstate",
                  "'radial.basis' must be \"laplacian_eigenstate\", got " + show(radial["basis"]));
    file.n_max = static_cast<int>(check.integer(radial["n_max"], "radial.n_max", 1, max_radial_size));
    file.l_max = static_cast<int>(check.integer(radial["l_max"], "radial.l_max", 0, max_angular_order));
    const LaplacianEigenstates eigenstates(basis.cutoff_radius, file.n_max, file.l_max);
    const std::vector<int>& selection = eigenstates.n_radial();
    const Json& declared = radial["n_radial"];
    check.require(declared.is_array(), "'radial.n_radial' must be a list, got " + show(declared));
    bool matches = declared.size() == selection.size();
    for (size_t l = 0; matches && l < selection.size(); ++l)
        matches = declared[l].is_number_integer() && declared[l] == selection[l];
    if (!matches) {
        std::string expected;
        for (int n : selection) expected += (expected.empty() ? "" : ", ") + std::to_string(n);
        check.fail("'radial.n_radial' " + show(declared) + " does not match the LE selection for n_max=" +
                   std::to_string(file.n_max) + ", l_max=" + std::to_string(file.l_max) + ": [" + expected + "]");
    }
    basis.n_radial = selection;

    const Json& spline = check.object(radial["spline"], "radial.spline", {"n_nodes", "values", "derivatives"});
    const Json& values = spline["values"];
    // n_nodes is bounded by the list it describes, checked before anything is sized from it
    const long n_nodes = check.integer(spline["n_nodes"], "radial.spline.n_nodes", 2,
                                       values.is_array() ? std::max<long>(2, static_cast<long>(values.size())) : 2);
    basis.n_nodes = static_cast<int>(n_nodes);
    const size_t n_functions = eigenstates.n_functions();
    check.numbers(values, "radial.spline.values", {static_cast<size_t>(n_nodes), n_functions}, basis.spline_values);
    check.numbers(spline["derivatives"], "radial.spline.derivatives", {static_cast<size_t>(n_nodes), n_functions},
                  basis.spline_derivatives);

    // stored tables against the LE functions they declare, column by column
    std::vector<double> exact_values(n_nodes), exact_derivatives(n_nodes);
    for (size_t f = 0; f < n_functions; ++f) {
        double value_scale = 0.0, derivative_scale = 0.0;
        for (long k = 0; k < n_nodes; ++k) {
            const double r = basis.cutoff_radius * k / (n_nodes - 1);
            eigenstates.evaluate(static_cast<int>(f), r, exact_values[k], exact_derivatives[k]);
            value_scale = std::max(value_scale, std::fabs(exact_values[k]));
            derivative_scale = std::max(derivative_scale, std::fabs(exact_derivatives[k]));
        }
        double value_deviation = 0.0, derivative_deviation = 0.0;
        for (long k = 0; k < n_nodes; ++k) {
            value_deviation = std::max(value_deviation, std::fabs(basis.spline_values[k * n_functions + f] - exact_values[k]));
            derivative_deviation = std::max(
                derivative_deviation, std::fabs(basis.spline_derivatives[k * n_functions + f] - exact_derivatives[k]));
        }
        const char* names[2] = {"values", "derivatives"};
        const double deviations[2] = {value_deviation / (value_scale > 0.0 ? value_scale : 1.0),
                                      derivative_deviation / (derivative_scale > 0.0 ? derivative_scale : 1.0)};
        for (int which = 0; which < 2; ++which)
            check.require(deviations[which] <= spline_consistency_tolerance,
                          std::string("'radial.spline.") + names[which] + "' column " + std::to_string(f) +
                              " does not match the LE function it declares (relative deviation " +
                              format_double(deviations[which]) + "); the file is damaged or was not written by lepot");
    }
}

inline void read_embedding(const Json& data, const Checker& check, ParameterFile& file) {
    BasisParameters& basis = file.model.basis;
    const size_t n_species = file.species.size(), n_radial_max = basis.n_radial[0];
    basis.n_species = static_cast<int>(n_species);
    file.compressed = !data["embedding"].is_null();
    if (!file.compressed) {  // one-hot: pseudo-element k = species index, the same for every n
        basis.n_pseudo = basis.n_species;
        basis.embedding.assign(n_species * n_species * n_radial_max, 0.0);
        for (size_t s = 0; s < n_species; ++s)
            for (size_t n = 0; n < n_radial_max; ++n) basis.embedding[(s * n_species + s) * n_radial_max + n] = 1.0;
        return;
    }
    const Json& embedding = check.object(data["embedding"], "embedding", {"n_pseudo", "weights"});
    const Json& weights = embedding["weights"];
    // n_pseudo is bounded by the list it describes
    long longest = 1;
    if (weights.is_array() && !weights.empty() && weights[0].is_array())
        longest = std::max<long>(1, static_cast<long>(weights[0].size()));
    basis.n_pseudo = static_cast<int>(check.integer(embedding["n_pseudo"], "embedding.n_pseudo", 1, longest));
    check.numbers(weights, "embedding.weights", {n_species, static_cast<size_t>(basis.n_pseudo), n_radial_max},
                  basis.embedding);
}

// "contraction": null, or {"channels": [K_l for each l], "weights": [W_l for each l]} with W_l a
// [K_l][n_pseudo][n_l] nested list (density_contraction.hpp); 0 <= K_l <= n_pseudo n_l, some K_l > 0.
inline void read_contraction(const Json& data, const Checker& check, ParameterFile& file) {
    BasisParameters& basis = file.model.basis;
    if (!data.contains("contraction") || data["contraction"].is_null()) return;
    const Json& contraction = check.object(data["contraction"], "contraction", {"channels", "weights"});
    const size_t n_angular = basis.n_radial.size();
    const Json& channels = check.list(contraction["channels"], "contraction.channels", n_angular);
    const Json& weights = check.list(contraction["weights"], "contraction.weights", n_angular);
    bool any = false;
    for (size_t l = 0; l < n_angular; ++l) {
        const long most = static_cast<long>(basis.n_pseudo) * basis.n_radial[l];
        const int k_l = static_cast<int>(check.integer(channels[l], Checker::indexed("contraction.channels", l), 0, most));
        basis.contraction_channels.push_back(k_l);
        any = any || k_l > 0;
        check.numbers(weights[l], Checker::indexed("contraction.weights", l),
                      {static_cast<size_t>(k_l), static_cast<size_t>(basis.n_pseudo), static_cast<size_t>(basis.n_radial[l])},
                      basis.contraction_weights);
    }
    check.require(any, "'contraction.channels' are all 0; write \"contraction\": null for no contraction");
}

inline void read_features(const Json& data, const Checker& check, ParameterFile& file) {
    BasisParameters& basis = file.model.basis;
    const Json& basis_data = check.object(data["basis"], "basis", {"body_order", "features", "terms"});
    file.body_order = static_cast<int>(check.integer(basis_data["body_order"], "basis.body_order", 1, max_body_order));
    const Json& features = check.nonempty_list(basis_data["features"], "basis.features");
    basis.n_features = static_cast<int>(features.size());
    const int n_angular = static_cast<int>(basis.n_radial.size());
    file.feature_channel_offsets.assign(1, 0);
    for (size_t q = 0; q < features.size(); ++q) {
        const std::string where = "basis.features[" + std::to_string(q) + "]";
        const Json& label = features[q];
        check.require(label.is_array() && label.size() == 3,
                      "'" + where + "' must be [body_order, index, [channels]], got " + show(label));
        const int nu = static_cast<int>(check.integer(label[0], where + "[0]", 1, file.body_order));
        const int index = static_cast<int>(
            check.integer(label[1], where + "[1]", 0, nu == 1 ? 0 : nu == 2 ? n_angular - 1 : 1 << 20));
        const Json& channels = check.list(label[2], where + "[2]", nu);
        int l_sum = 0;
        for (int i = 0; i < nu; ++i) {
            const std::string at = where + "[2][" + std::to_string(i) + "]";
            const size_t width = nu <= 2 ? 2 : 3;  // (k, n), with l = 0 (ν = 1) or the label's l (ν = 2); (k, n, l)
            check.list(channels[i], at, width);
            const int l = nu == 1 ? 0 : nu == 2 ? index
                                                : static_cast<int>(check.integer(channels[i][2], at + "[2]", 0, n_angular - 1));
            const std::vector<int>& contracted = basis.contraction_channels;
            const int k_contracted = contracted.empty() ? 0 : contracted[l];
            const int k = static_cast<int>(check.integer(channels[i][0], at + "[0]", 0, basis.n_pseudo + k_contracted - 1));
            const int n = static_cast<int>(
                check.integer(channels[i][1], at + "[1]", 0, k >= basis.n_pseudo ? 0 : basis.n_radial[l] - 1));
            file.feature_channels.insert(file.feature_channels.end(), {k, n, l});
            l_sum += l;
        }
        check.require(nu <= 2 || l_sum % 2 == 0,
                      "'" + where + "' couples angular orders with an odd sum; no such invariant exists");
        file.feature_body_order.push_back(nu);
        file.feature_index.push_back(index);
        file.feature_channel_offsets.push_back(static_cast<int>(file.feature_channels.size() / 3));
    }

    const Json& terms =
        check.object(basis_data["terms"], "basis.terms", {"feature", "coefficient", "factor_offsets", "factors"});
    const size_t n_terms = check.nonempty_list(terms["feature"], "basis.terms.feature").size();
    basis.term_feature = check.integers(terms["feature"], "basis.terms.feature", n_terms, 0, basis.n_features - 1);
    check.numbers(terms["coefficient"], "basis.terms.coefficient", {n_terms}, basis.term_coefficient);
    const Json& factors = terms["factors"];
    const long n_factors_listed = factors.is_array() ? static_cast<long>(factors.size()) : 0;
    basis.term_factor_offsets =
        check.integers(terms["factor_offsets"], "basis.terms.factor_offsets", n_terms + 1, 0, n_factors_listed);
    check.require(basis.term_factor_offsets[0] == 0, "'basis.terms.factor_offsets' must start at 0");
    for (size_t t = 0; t < n_terms; ++t)
        check.require(basis.term_factor_offsets[t + 1] > basis.term_factor_offsets[t],
                      "'basis.terms.factor_offsets' must increase (term " + std::to_string(t) + " has no factors)");
    const std::vector<int> channel_of = density_channels(basis.n_radial, basis.contraction_channels, basis.n_pseudo);
    const long n_density = static_cast<long>(channel_of.size());
    basis.factors = check.integers(factors, "basis.terms.factors", basis.term_factor_offsets[n_terms], 0, n_density - 1);

    // terms grouped by feature, every feature owning at least one, each term a product of the channels its
    // label names (ν factors, as a multiset of (k, n, l))
    std::vector<int> first_term(basis.n_features + 1, -1);
    for (size_t t = 0; t < n_terms; ++t) {
        const int q = basis.term_feature[t];
        check.require(t == 0 || q >= basis.term_feature[t - 1],
                      "'basis.terms.feature' must be sorted (terms grouped by feature), term " + std::to_string(t));
        if (first_term[q] < 0) first_term[q] = static_cast<int>(t);
    }
    for (int q = 0; q < basis.n_features; ++q)
        check.require(first_term[q] >= 0, "'basis.features[" + std::to_string(q) + "]' has no coupling terms");
    std::vector<int> label_channels(max_body_order), term_channels(max_body_order);
    for (size_t t = 0; t < n_terms; ++t) {
        const int q = basis.term_feature[t];
        const int nu = file.feature_body_order[q];
        const int begin = basis.term_factor_offsets[t], end = basis.term_factor_offsets[t + 1];
        bool matches = end - begin == nu;
        for (int i = 0; matches && i < nu; ++i) {
            const int* c = &file.feature_channels[3 * (file.feature_channel_offsets[q] + i)];
            label_channels[i] = channel_id(basis.n_radial, basis.contraction_channels, basis.n_pseudo, c[0], c[1], c[2]);
            term_channels[i] = channel_of[basis.factors[begin + i]];
        }
        if (matches) {
            std::sort(label_channels.begin(), label_channels.begin() + nu);
            std::sort(term_channels.begin(), term_channels.begin() + nu);
            matches = std::equal(label_channels.begin(), label_channels.begin() + nu, term_channels.begin());
        }
        check.require(matches, "'basis.terms' term " + std::to_string(t) + " is not a product of the " +
                                   std::to_string(nu) + " channels that 'basis.features[" + std::to_string(q) +
                                   "]' names");
    }
}

inline void read_core_repulsion(const Json& data, const Checker& check, ParameterFile& file) {
    BasisParameters& model = file.model.basis;
    if (data["core_repulsion"].is_null()) return;
    const Json& core = check.object(data["core_repulsion"], "core_repulsion", {"type", "pairs"});
    check.require(core["type"] == "zbl", "'core_repulsion.type' must be \"zbl\", got " + show(core["type"]));
    const Json& pairs = core["pairs"];
    check.require(pairs.is_array(), "'core_repulsion.pairs' must be a list, got " + show(pairs));
    for (size_t p = 0; p < pairs.size(); ++p) {
        const std::string where = "core_repulsion.pairs[" + std::to_string(p) + "]";
        const Json& pair = check.object(pairs[p], where, {"species", "r_inner", "r_outer"});
        check.list(pair["species"], where + ".species", 2);
        int index[2];
        for (int side = 0; side < 2; ++side) {
            const std::string symbol = check.string(pair["species"][side], where + ".species");
            const auto found = std::find(file.species.begin(), file.species.end(), symbol);
            check.require(found != file.species.end(),
                          "'" + where + ".species' names '" + symbol + "', which is not in 'species'");
            index[side] = static_cast<int>(found - file.species.begin());
        }
        for (int q = 0; q < model.n_core_pairs(); ++q) {
            const int a = model.core_pair_species[2 * q], b = model.core_pair_species[2 * q + 1];
            check.require(!((a == index[0] && b == index[1]) || (a == index[1] && b == index[0])),
                          "'" + where + "' repeats the species pair " + file.species[index[0]] + "-" +
                              file.species[index[1]]);
        }
        const double inner = check.number(pair["r_inner"], where + ".r_inner");
        const double outer = check.number(pair["r_outer"], where + ".r_outer");
        check.require(0.0 <= inner && inner < outer && outer <= model.cutoff_radius,
                      "'" + where + "' needs 0 <= r_inner < r_outer <= cutoff.radius (" +
                          format_double(model.cutoff_radius) + " Å), got " + format_double(inner) + ", " +
                          format_double(outer));
        model.core_pair_species.insert(model.core_pair_species.end(), {index[0], index[1]});
        model.core_pair_radii.insert(model.core_pair_radii.end(), {inner, outer});
    }
}

// `count` doubles from a JSON string: base64 (RFC 4648, standard alphabet, '=' padding) of IEEE-754 binary64
// numbers, little-endian. Refuses other text, another count (checked from the string's length before
// anything is allocated) and non-finite numbers, naming `where`.
inline std::vector<double> base64_doubles(const Checker& check, const Json& value, const std::string& where,
                                          size_t count) {
    if (!value.is_string()) check.fail("'" + where + "' must be a base64 string of float64 numbers, got " + show(value));
    const std::string& text = value.get_ref<const std::string&>();
    check.require(text.size() % 4 == 0, "'" + where + "' is not base64 (its length " + std::to_string(text.size()) +
                                            " is not a multiple of 4)");
    const size_t padding = text.empty() ? 0 : (text.back() == '=') + (text.size() > 1 && text[text.size() - 2] == '=');
    const size_t bytes = text.size() / 4 * 3 - padding;
    check.require(bytes % 8 == 0 && bytes / 8 == count, "'" + where + "' holds " + std::to_string(bytes / 8) +
                                                            (bytes % 8 ? " and a fraction of" : "") +
                                                            " numbers, expected " + std::to_string(count));
    std::vector<unsigned char> raw(bytes);
    unsigned int buffer = 0;
    int bits = 0;
    size_t written = 0;
    for (size_t i = 0; i < text.size() - padding; ++i) {
        const char c = text[i];
        int digit = -1;
        if (c >= 'A' && c <= 'Z') digit = c - 'A';
        else if (c >= 'a' && c <= 'z') digit = c - 'a' + 26;
        else if (c >= '0' && c <= '9') digit = c - '0' + 52;
        else if (c == '+') digit = 62;
        else if (c == '/') digit = 63;
        if (digit < 0) check.fail("'" + where + "' is not base64 (character " + std::to_string(static_cast<int>(
                                      static_cast<unsigned char>(c))) + " at " + std::to_string(i) + ")");
        buffer = (buffer << 6) | static_cast<unsigned int>(digit);
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            raw[written++] = static_cast<unsigned char>((buffer >> bits) & 0xFF);
        }
    }
    std::vector<double> out(count);
    for (size_t k = 0; k < count; ++k) {
        std::uint64_t word = 0;
        for (int b = 7; b >= 0; --b) word = (word << 8) | raw[8 * k + b];  // little-endian, on any host
        std::memcpy(&out[k], &word, sizeof(double));
        if (!std::isfinite(out[k])) check.fail("'" + where + "' number " + std::to_string(k) + " is not finite");
    }
    return out;
}

// "uncertainty": null, or {"centre_channels": [n_centre][n_species], "reference_energy_columns": bool,
// "factor": base64 of the packed rows of C (float64, little-endian), "posterior_scale": α² > 0,
// "local_variance_scale": β² >= 0, "energy_noise": τ >= 0 (eV/atom), "atom_energy_noise": η >= 0 (eV),
// "force_posterior_scale": α_F² > 0, "reference_variance": > 0 (eV²)} (posterior.hpp; β² and α_F² from
// version 5, η from version 6, see above). C's diagonal must be non-zero (H = CᵀC is positive definite).
inline void read_uncertainty(const Json& data, const Checker& check, ParameterFile& file) {
    if (!data.contains("uncertainty") || data["uncertainty"].is_null()) return;
    std::vector<std::string> keys = {"centre_channels", "reference_energy_columns", "factor", "posterior_scale",
                                     "energy_noise", "reference_variance"};
    const bool scales_stored = data["format_version"] >= 5;
    if (scales_stored) keys.insert(keys.end(), {"local_variance_scale", "force_posterior_scale"});
    const bool atom_noise_stored = data["format_version"] >= 6;
    if (atom_noise_stored) keys.push_back("atom_energy_noise");
    const Json& posterior = check.object(data["uncertainty"], "uncertainty", keys);
    PosteriorParameters& out = file.posterior;
    const size_t n_species = file.species.size(), n_features = file.model.basis.n_features;
    const Json& channels = check.nonempty_list(posterior["centre_channels"], "uncertainty.centre_channels");
    check.numbers(channels, "uncertainty.centre_channels", {channels.size(), n_species}, out.centre_channels);
    out.n_centre = static_cast<int>(channels.size());
    const Json& columns = posterior["reference_energy_columns"];
    check.require(columns.is_boolean(),
                  "'uncertainty.reference_energy_columns' must be true or false, got " + show(columns));
    out.reference_energy_columns = columns.get<bool>();
    const size_t n_columns = channels.size() * n_features + (out.reference_energy_columns ? n_species : 0);
    // a packed factor of more columns cannot fit in a file of max_parameter_file_bytes (10.7 bytes a number)
    check.require(n_columns <= max_posterior_columns, "'uncertainty' describes " + std::to_string(n_columns) +
                                                          " columns; at most " + std::to_string(max_posterior_columns) +
                                                          " fit in a parameter file");
    out.n_columns = static_cast<int>(n_columns);
    out.factor = base64_doubles(check, posterior["factor"], "uncertainty.factor", n_columns * (n_columns + 1) / 2);
    for (size_t j = 0, start = 0; j < n_columns; start += n_columns - j, ++j)
        check.require(out.factor[start] != 0.0, "'uncertainty.factor' has a zero on the diagonal (row " +
                                                    std::to_string(j) + "): the posterior is not defined");
    out.posterior_scale = check.positive(posterior["posterior_scale"], "uncertainty.posterior_scale");
    out.energy_noise = check.number(posterior["energy_noise"], "uncertainty.energy_noise");
    check.require(out.energy_noise >= 0.0,
                  "'uncertainty.energy_noise' must not be negative, got " + format_double(out.energy_noise));
    out.reference_variance = check.positive(posterior["reference_variance"], "uncertainty.reference_variance");
    out.atom_energy_noise = 0.0;
    if (atom_noise_stored) {
        out.atom_energy_noise = check.number(posterior["atom_energy_noise"], "uncertainty.atom_energy_noise");
        check.require(out.atom_energy_noise >= 0.0, "'uncertainty.atom_energy_noise' must not be negative, got " +
                                                        format_double(out.atom_energy_noise));
    }
    if (scales_stored) {
        out.local_variance_scale = check.number(posterior["local_variance_scale"], "uncertainty.local_variance_scale");
        check.require(out.local_variance_scale >= 0.0, "'uncertainty.local_variance_scale' must not be negative, got " +
                                                           format_double(out.local_variance_scale));
        out.force_posterior_scale = check.positive(posterior["force_posterior_scale"], "uncertainty.force_posterior_scale");
    } else {
        out.local_variance_scale = 0.0;
        out.force_posterior_scale = out.posterior_scale;
    }
    out.present = true;
}

}  // namespace parameter_file_detail

// Validates the text of a parameter file; `source` (usually its path) prefixes every message.
inline ParameterFile parse_parameter_file(const std::string& text, const std::string& source) {
    using namespace parameter_file_detail;
    const Checker check(source);
    check.require(text.size() <= max_parameter_file_bytes,
                  "the file is larger than " + std::to_string(max_parameter_file_bytes >> 20) + " MiB");
    check.require(!text.empty(), "the file is empty");
    const size_t nul = text.find('\0');
    check.require(nul == std::string::npos, "the file is not text (a NUL byte at offset " + std::to_string(nul) + ")");
    const Json data = parse_json(text, check);
    check.require(data.is_object(), "the top level must be a JSON object");
    check.require(data.contains("format") && data["format"] == parameter_file_format,
                  std::string("not a lepot parameter file ('format' is ") +
                      (data.contains("format") ? show(data["format"]) : std::string("missing")) + ", expected \"" +
                      parameter_file_format + "\")");
    const bool known_version = data.contains("format_version") && data["format_version"].is_number_integer() &&
                               data["format_version"] >= oldest_readable_version &&
                               data["format_version"] <= parameter_file_version;
    check.require(known_version,
                  "unsupported format_version " +
                      (data.contains("format_version") ? show(data["format_version"]) : std::string("(missing)")) +
                      "; this lepot reads versions " + std::to_string(oldest_readable_version) + " to " +
                      std::to_string(parameter_file_version));
    std::vector<std::string> top_level = {"format",  "format_version", "units",   "species",
                                          "cutoff",  "radial",         "embedding", "basis",
                                          "weights", "reference_energies", "core_repulsion", "metadata"};
    if (data["format_version"] >= 3) top_level.push_back("contraction");
    if (data["format_version"] >= 4) top_level.push_back("uncertainty");
    check.object(data, "top level", top_level);
    const Json& units = check.object(data["units"], "units", {"energy", "length"});
    check.require(units["energy"] == "eV" && units["length"] == "Angstrom",
                  "'units' must be {\"energy\": \"eV\", \"length\": \"Angstrom\"}, got " + show(units));

    ParameterFile file;
    ModelParameters& model = file.model;
    const Json& species = check.nonempty_list(data["species"], "species");
    for (size_t s = 0; s < species.size(); ++s) {
        const std::string symbol = check.string(species[s], "species[" + std::to_string(s) + "]");
        const int z = atomic_number(symbol);
        check.require(z > 0, "'species' has the unknown element '" + symbol + "'");
        check.require(std::find(file.species.begin(), file.species.end(), symbol) == file.species.end(),
                      "'species' lists '" + symbol + "' twice");
        file.species.push_back(symbol);
        model.atomic_numbers.push_back(z);
    }

    const Json& cutoff = check.object(data["cutoff"], "cutoff", {"radius", "function", "width"});
    model.basis.cutoff_radius = check.positive(cutoff["radius"], "cutoff.radius");
    check.require(cutoff["function"] == "shifted_cosine",
                  "'cutoff.function' must be \"shifted_cosine\", got " + show(cutoff["function"]));
    model.basis.cutoff_width = check.positive(cutoff["width"], "cutoff.width");
    check.require(model.basis.cutoff_width <= model.basis.cutoff_radius,
                  "'cutoff.width' must not exceed 'cutoff.radius'");

    read_radial(data, check, file);
    read_embedding(data, check, file);
    read_contraction(data, check, file);
    read_features(data, check, file);

    const size_t n_features = model.basis.n_features;
    check.object(data["weights"], "weights", file.species);
    for (const auto& symbol : file.species)
        check.numbers(data["weights"][symbol], "weights." + symbol, {n_features}, model.coefficients);
    check.object(data["reference_energies"], "reference_energies", file.species);
    for (const auto& symbol : file.species)
        model.reference_energies.push_back(
            check.number(data["reference_energies"][symbol], "reference_energies." + symbol));

    check.require(data["format_version"] >= 2 || data["core_repulsion"].is_null(),
                  "a format_version 1 file with core_repulsion pairs: from version 2 those pairs also switch the "
                  "model off below r_outer, so the file would mean something else; refit it with this lepot");
    read_core_repulsion(data, check, file);
    read_uncertainty(data, check, file);
    check.require(data["metadata"].is_object(), "'metadata' must be an object, got " + show(data["metadata"]));
    file.metadata = data["metadata"].dump(-1, ' ', false, Json::error_handler_t::strict);
    return file;
}

// The whole text of a parameter file; refuses what is not a readable regular file of at most
// max_parameter_file_bytes, naming the path.
inline std::string read_parameter_text(const std::string& path) {
    const std::string prefix = path + ": cannot read the parameter file (";
    struct stat status;
    if (::stat(path.c_str(), &status) != 0) throw ParameterFileError(prefix + std::strerror(errno) + ")");
    if (!S_ISREG(status.st_mode)) throw ParameterFileError(prefix + "not a regular file)");
    if (static_cast<std::uint64_t>(status.st_size) > max_parameter_file_bytes)
        throw ParameterFileError(path + ": the file is larger than " + std::to_string(max_parameter_file_bytes >> 20) +
                                 " MiB");
    std::unique_ptr<FILE, int (*)(FILE*)> handle(std::fopen(path.c_str(), "rb"), &std::fclose);
    if (!handle) throw ParameterFileError(prefix + std::strerror(errno) + ")");
    std::string text(static_cast<size_t>(status.st_size), '\0');
    const size_t read = text.empty() ? 0 : std::fread(&text[0], 1, text.size(), handle.get());
    if (read != text.size()) throw ParameterFileError(prefix + "short read)");
    return text;
}

inline ParameterFile load_parameter_file(const std::string& path) {
    return parse_parameter_file(read_parameter_text(path), path);
}

}  // namespace lepot
