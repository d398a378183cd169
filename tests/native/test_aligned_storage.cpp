// aligned_storage.hpp: AlignedDoubles starts on a 64-byte boundary for every size, after growing, after a
// copy and after assign, and keeps its values (run under AddressSanitizer with the other drivers, which
// also checks that the aligned new and delete pair up).
#include "aligned_storage.hpp"

#include <cstdint>

#include "check.hpp"

using namespace native_test;

namespace {
bool on_cache_line(const double* pointer) { return reinterpret_cast<std::uintptr_t>(pointer) % 64 == 0; }
}  // namespace

int main() {
    for (size_t size : {1, 3, 8, 17, 1000, 123457}) {
        lepot::AlignedDoubles values(size, 1.5);
        check(on_cache_line(values.data()), "aligned at construction");
        values.resize(3 * size + 5, 2.5);
        check(on_cache_line(values.data()), "aligned after growing");
        check(values[size - 1] == 1.5 && values.back() == 2.5, "values kept when growing");
        const lepot::AlignedDoubles copy = values;
        check(on_cache_line(copy.data()) && copy == values, "a copy is aligned and equal");
        values.assign(size + 1, -1.0);
        check(on_cache_line(values.data()) && values.front() == -1.0, "aligned after assign");
    }
    return finish("aligned_storage");
}
