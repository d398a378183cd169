// parameter_file.hpp and elements.hpp: the shipped files load and assemble; degenerate texts are refused
// with their own messages; and a few hundred byte-level mutations of a shipped file each end in a
// ParameterFileError or a valid load, never anything else (run under AddressSanitizer/UBSan).
//
// usage: test_parameter_file <n_mutations> <file to mutate> [more files to load ...]
#include "parameter_file.hpp"

#include <cstdlib>
#include <random>

#include "check.hpp"
#include "elements.hpp"
#include "model_parameters.hpp"

using namespace native_test;

int main(int argc, char** argv) {
    check(lepot::atomic_number("H") == 1 && lepot::atomic_number("Mo") == 42 && lepot::atomic_number("Og") == 118,
          "atomic numbers");
    check(lepot::atomic_number("X") == 0 && lepot::atomic_number("mo") == 0 && lepot::atomic_number("") == 0,
          "non-elements");
    check(std::string(lepot::element_symbol(74)) == "W" && std::string(lepot::element_symbol(119)).empty(), "symbols");

    if (argc < 3) {
        std::printf("usage: %s <n_mutations> <file> [files ...]\n", argv[0]);
        return 2;
    }
    const int n_mutations = std::atoi(argv[1]);
    for (int i = 2; i < argc; ++i) {
        const lepot::ParameterFile file = lepot::load_parameter_file(argv[i]);
        const lepot::PotentialKernel kernel = lepot::make_potential_kernel(file.model);
        check(!file.species.empty() && kernel.n_monomials() > 0, std::string("loads and assembles: ") + argv[i]);
    }

    const auto refused = [](const std::string& text, const std::string& fragment, const std::string& what) {
        check_throws<lepot::ParameterFileError>([&] { lepot::parse_parameter_file(text, "case"); }, fragment, what);
    };
    refused("", "the file is empty", "empty text");
    refused(std::string("{\"a\":\0}", 7), "a NUL byte at offset 5", "NUL byte");
    refused(std::string(100, '[') + std::string(100, ']'), "nested deeper than 16 levels", "deep nesting");
    refused("{\"format\":1,\"format\":2}", "'top level' has the key 'format' twice", "duplicate key");
    refused("{\"format\":\"lepot-potential\",\"format_version\":99}", "unsupported format_version 99", "future version");
    refused("[1e999]", "number overflow", "overflowing number");
    refused("{\"format\":\"lepot-potential\",\"format_version\":1", "(the file looks truncated)", "truncated");
    check_throws<lepot::ParameterFileError>([] { lepot::load_parameter_file("/nonexistent/model.json"); },
                                            "cannot read the parameter file (No such file or directory)", "missing file");

    // byte-level mutations of the first file: flips, deletions, duplications, truncations, digit swaps
    const std::string original = lepot::read_parameter_text(argv[2]);
    std::mt19937 generator(2026);
    int accepted = 0;
    for (int case_index = 0; case_index < n_mutations; ++case_index) {
        std::string text = original;
        std::uniform_int_distribution<size_t> position(0, text.size() - 1);
        const size_t at = position(generator);
        switch (case_index % 5) {
            case 0: text[at] = static_cast<char>(generator() & 0xff); break;
            case 1: text.erase(at, 1 + generator() % 64); break;
            case 2: text.insert(at, text.substr(at, 1 + generator() % 64)); break;
            case 3: text.resize(at); break;
            case 4: {
                const size_t digit = text.find_first_of("0123456789", at);
                if (digit != std::string::npos) text[digit] = "0123456789-.e"[generator() % 13];
                break;
            }
        }
        try {
            const lepot::ParameterFile file = lepot::parse_parameter_file(text, "mutant");
            lepot::make_potential_kernel(file.model);
            ++accepted;
        } catch (const lepot::ParameterFileError&) {
        } catch (const std::exception& other) {
            check(false, "mutation " + std::to_string(case_index) + " threw something else: " + other.what());
        }
    }
    std::printf("%d of %d mutations loaded\n", accepted, n_mutations);
    return finish("parameter_file");
}
