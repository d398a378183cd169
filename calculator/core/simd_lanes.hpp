// Vector registers for the kernels' register-blocked loops (GCC and Clang vector extensions).
//
// A block of simd_block consecutive pairs (or centres) is held in simd_block / register_lanes registers of the
// target's widest double-precision unit: one with AVX-512, two with AVX, four with SSE2 or NEON. Accumulators
// declared as arrays of these registers stay in registers; accumulators declared as double arrays and updated
// by `#pragma omp simd` loops were kept in memory by GCC 12, one store-to-load round trip per multiply-add
// (docs/design-notes.md 14). Wider-than-native vector_size types are not used: GCC lowers them piecewise.
#pragma once

#include <cstddef>
#include <cstring>
#include <type_traits>

#if defined(__AVX512F__)
#include <immintrin.h>
#endif

namespace lepot {

// Pairs (or centres) per vector block of the kernels.
constexpr int simd_block = 8;

// Doubles per vector register of the build's target.
constexpr int register_lanes =
#if defined(__AVX512F__)
    8;
#elif defined(__AVX__)
    4;
#else
    2;
#endif
static_assert(simd_block % register_lanes == 0, "a block must be whole registers");

typedef double register_vector __attribute__((vector_size(register_lanes * sizeof(double))));
// The same register holding twice as many floats (the posterior's single-precision solve).
typedef float register_floats __attribute__((vector_size(register_lanes * sizeof(double))));

// Width doubles as `count` values of `type`: registers when Width is a multiple of register_lanes, else
// plain doubles (Width 1: the one-vector paths).
template <int Width>
struct LaneRegisters {
    static constexpr bool whole_registers = Width % register_lanes == 0;
    using type = typename std::conditional<whole_registers, register_vector, double>::type;
    static constexpr int count = whole_registers ? Width / register_lanes : Width;
    static constexpr int width = whole_registers ? register_lanes : 1;  // doubles per value
};

template <class V, class T>
inline V load_lanes(const T* source) {
    V value;
    std::memcpy(&value, source, sizeof value);
    return value;
}

template <class V, class T>
inline void store_lanes(T* target, V value) {
    std::memcpy(target, &value, sizeof value);
}

// An empty asm statement that claims to change `value` in its vector register: the compiler must then keep
// the value it loaded there and cannot fold the load into each instruction that uses it (GCC 12 did so for
// the posterior's float32 loop: one load per multiply-add instead of one per column, 1.25x slower).
template <class V>
inline void keep_in_register(V& value) {
#if defined(__x86_64__) || defined(__i386__)
    asm("" : "+v"(value));
#elif defined(__aarch64__)
    asm("" : "+w"(value));
#else
    (void)value;
#endif
}

// `value` in every lane of V.
template <class V, class T>
inline V broadcast_lanes(T value) {
    return value - V{};  // x - (+0) = x for every x, so no arithmetic is left (0 + x is not x for x = -0)
}

// out[f][b] = in[b][f] for an 8 x 8 tile: in rows of in_stride doubles, out rows of out_stride doubles.
inline void transpose_tile_portable(const double* in, size_t in_stride, double* out, size_t out_stride) {
    for (int f = 0; f < 8; ++f)
        for (int b = 0; b < 8; ++b) out[f * out_stride + b] = in[b * in_stride + f];
}

// As transpose_tile_portable; with AVX-512 in registers (unpack pairs, exchange 128-bit then 256-bit halves),
// which GCC 12 does not generate from the portable loop.
inline void transpose_tile(const double* in, size_t in_stride, double* out, size_t out_stride) {
#if defined(__AVX512F__)
    __m512d row[8], pairs[8], quads[8];
    for (int b = 0; b < 8; ++b) row[b] = _mm512_loadu_pd(in + b * in_stride);
    for (int b = 0; b < 8; b += 2) {
        pairs[b] = _mm512_unpacklo_pd(row[b], row[b + 1]);      // [b f0, b+1 f0, b f2, b+1 f2, ...]
        pairs[b + 1] = _mm512_unpackhi_pd(row[b], row[b + 1]);  // [b f1, b+1 f1, b f3, b+1 f3, ...]
    }
    const __m512i low = _mm512_setr_epi64(0, 1, 8, 9, 4, 5, 12, 13), high = _mm512_setr_epi64(2, 3, 10, 11, 6, 7, 14, 15);
    for (int half = 0; half < 2; ++half) {  // rows 0-3 and rows 4-7
        const int b = 4 * half;
        quads[b] = _mm512_permutex2var_pd(pairs[b], low, pairs[b + 2]);       // f0 | f4 of rows b..b+3
        quads[b + 1] = _mm512_permutex2var_pd(pairs[b], high, pairs[b + 2]);  // f2 | f6
        quads[b + 2] = _mm512_permutex2var_pd(pairs[b + 1], low, pairs[b + 3]);   // f1 | f5
        quads[b + 3] = _mm512_permutex2var_pd(pairs[b + 1], high, pairs[b + 3]);  // f3 | f7
    }
    const int column[4] = {0, 2, 1, 3};  // the column f of quads[q] (first half); f + 4 in the second half
    for (int q = 0; q < 4; ++q) {
        _mm512_storeu_pd(out + column[q] * out_stride, _mm512_shuffle_f64x2(quads[q], quads[q + 4], 0x44));
        _mm512_storeu_pd(out + (column[q] + 4) * out_stride, _mm512_shuffle_f64x2(quads[q], quads[q + 4], 0xEE));
    }
#else
    transpose_tile_portable(in, in_stride, out, out_stride);
#endif
}

}  // namespace lepot
