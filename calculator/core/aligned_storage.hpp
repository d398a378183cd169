// Cache-line aligned storage for the kernels' vector buffers (one owner of the alignment rule).
//
// A buffer whose rows are whole multiples of 8 doubles and that starts on a 64-byte boundary never has a
// vector load or store split across two cache lines. std::vector<double> guarantees only 16 bytes; measured
// costs of that: split stores made the harmonics 1.4x slower, the energy polynomial's lane arrays 1.57x,
// the posterior's lane block 8-10 % of a grade evaluation (docs/design-notes.md 14, 16).
#pragma once

#include <cstddef>
#include <new>
#include <vector>

namespace lepot {

// Allocator of 64-byte aligned storage.
template <class T>
struct CacheLineAllocator {
    using value_type = T;
    static constexpr std::align_val_t alignment{64};
    CacheLineAllocator() = default;
    template <class U>
    CacheLineAllocator(const CacheLineAllocator<U>&) {}
    T* allocate(size_t n) { return static_cast<T*>(::operator new(n * sizeof(T), alignment)); }
    void deallocate(T* pointer, size_t) { ::operator delete(pointer, alignment); }
    template <class U>
    bool operator==(const CacheLineAllocator<U>&) const { return true; }
    template <class U>
    bool operator!=(const CacheLineAllocator<U>&) const { return false; }
};
using AlignedDoubles = std::vector<double, CacheLineAllocator<double>>;
using AlignedFloats = std::vector<float, CacheLineAllocator<float>>;

}  // namespace lepot
