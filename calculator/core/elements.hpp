// Chemical element symbols and atomic numbers (IUPAC, Z = 1..118): the one table the parameter-file
// reader uses to turn a file's species into atomic numbers (for ZBL charges and for the front ends).
#pragma once

#include <string>

namespace lepot {

constexpr int n_elements = 118;

inline const char* element_symbol(int atomic_number) {
    static const char* const symbols[n_elements] = {
        "H",  "He", "Li", "Be", "B",  "C",  "N",  "O",  "F",  "Ne", "Na", "Mg", "Al", "Si", "P",  "S",  "Cl",
        "Ar", "K",  "Ca", "Sc", "Ti", "V",  "Cr", "Mn", "Fe", "Co", "Ni", "Cu", "Zn", "Ga", "Ge", "As", "Se",
        "Br", "Kr", "Rb", "Sr", "Y",  "Zr", "Nb", "Mo", "Tc", "Ru", "Rh", "Pd", "Ag", "Cd", "In", "Sn", "Sb",
        "Te", "I",  "Xe", "Cs", "Ba", "La", "Ce", "Pr", "Nd", "Pm", "Sm", "Eu", "Gd", "Tb", "Dy", "Ho", "Er",
        "Tm", "Yb", "Lu", "Hf", "Ta", "W",  "Re", "Os", "Ir", "Pt", "Au", "Hg", "Tl", "Pb", "Bi", "Po", "At",
        "Rn", "Fr", "Ra", "Ac", "Th", "Pa", "U",  "Np", "Pu", "Am", "Cm", "Bk", "Cf", "Es", "Fm", "Md", "No",
        "Lr", "Rf", "Db", "Sg", "Bh", "Hs", "Mt", "Ds", "Rg", "Cn", "Nh", "Fl", "Mc", "Lv", "Ts", "Og"};
    return atomic_number >= 1 && atomic_number <= n_elements ? symbols[atomic_number - 1] : "";
}

// Atomic number of an element symbol (case-sensitive, e.g. "Mo"), 0 if it is not an element.
inline int atomic_number(const std::string& symbol) {
    for (int z = 1; z <= n_elements; ++z)
        if (symbol == element_symbol(z)) return z;
    return 0;
}

}  // namespace lepot
