// simd_lanes.hpp: loads, stores and broadcasts of register values keep every lane; a block is whole
// registers; the 8 x 8 transposition (AVX-512 shuffles when built with -march=native on such a machine, the
// portable loop otherwise) equals the definition out[f][b] = in[b][f] for strided rows. Built twice by
// tests/test_native_core.py: for the baseline target and with -march=native.
#include "simd_lanes.hpp"

#include <vector>

#include "check.hpp"

using namespace native_test;

int main() {
    using V = lepot::register_vector;
    check(sizeof(V) == lepot::register_lanes * sizeof(double), "a register holds register_lanes doubles");
    check(lepot::LaneRegisters<lepot::simd_block>::count * lepot::register_lanes == lepot::simd_block,
          "a block is whole registers");
    check(lepot::LaneRegisters<1>::count == 1 && sizeof(lepot::LaneRegisters<1>::type) == sizeof(double),
          "width 1 is one double");

    double source[lepot::register_lanes], target[lepot::register_lanes];
    for (int i = 0; i < lepot::register_lanes; ++i) source[i] = 1.5 * i - 2.0;
    const V loaded = lepot::load_lanes<V>(source);
    lepot::store_lanes(target, 3.0 * loaded + lepot::broadcast_lanes<V>(0.5));
    for (int i = 0; i < lepot::register_lanes; ++i) {
        check(loaded[i] == source[i], "load keeps lane " + std::to_string(i));
        check(target[i] == 3.0 * source[i] + 0.5, "arithmetic and store in lane " + std::to_string(i));
    }

    // strided 8 x 8 tiles: rows of 11 doubles in, rows of 13 doubles out (neither a multiple of 8)
    const size_t in_stride = 11, out_stride = 13;
    std::vector<double> in(8 * in_stride), out(8 * out_stride, -1.0), portable(8 * out_stride, -1.0);
    for (size_t i = 0; i < in.size(); ++i) in[i] = 0.25 * i + 1.0;
    lepot::transpose_tile(in.data(), in_stride, out.data(), out_stride);
    lepot::transpose_tile_portable(in.data(), in_stride, portable.data(), out_stride);
    for (int f = 0; f < 8; ++f) {
        for (int b = 0; b < 8; ++b) {
            check(out[f * out_stride + b] == in[b * in_stride + f], "transpose_tile: out[f][b] = in[b][f]");
            check(portable[f * out_stride + b] == in[b * in_stride + f], "portable: out[f][b] = in[b][f]");
        }
        for (size_t b = 8; b < out_stride; ++b)
            check(out[f * out_stride + b] == -1.0, "nothing written beyond the tile's eight columns");
    }
    return finish("simd_lanes");
}
