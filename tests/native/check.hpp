// Minimal checking helpers for the native (C++) tests of calculator/core. Each test driver is a main()
// that calls check()/check_close()/check_throws() and returns finish(); the pytest runner
// (tests/test_native_core.py) builds every driver with -fsanitize=address,undefined and runs it.
#pragma once

#include <cmath>
#include <cstdio>
#include <functional>
#include <random>
#include <string>
#include <vector>

namespace native_test {

inline int& failures() {
    static int count = 0;
    return count;
}

inline void check(bool condition, const std::string& what) {
    if (!condition) {
        ++failures();
        std::printf("FAILED: %s\n", what.c_str());
    }
}

// |actual - expected| <= tolerance * max(1, |expected|)
inline void check_close(double actual, double expected, double tolerance, const std::string& what) {
    const double scale = std::fmax(1.0, std::fabs(expected));
    if (!(std::fabs(actual - expected) <= tolerance * scale)) {
        ++failures();
        std::printf("FAILED: %s: %.17g vs %.17g (tolerance %.1e)\n", what.c_str(), actual, expected, tolerance);
    }
}

// `action` must throw an exception of type E whose message contains `fragment`.
template <class E>
void check_throws(const std::function<void()>& action, const std::string& fragment, const std::string& what) {
    try {
        action();
    } catch (const E& error) {
        check(std::string(error.what()).find(fragment) != std::string::npos,
              what + ": message '" + error.what() + "' lacks '" + fragment + "'");
        return;
    } catch (const std::exception& other) {
        check(false, what + ": wrong exception type: " + other.what());
        return;
    }
    check(false, what + ": nothing was thrown");
}

// Central finite difference of f at x along one coordinate (step h).
inline double central_difference(const std::function<double(double)>& f, double x, double h) {
    return (f(x + h) - f(x - h)) / (2.0 * h);
}

// Random neighbour vectors [n][3] with lengths in [r_min, r_max] (Å).
inline std::vector<double> random_vectors(int n, double r_min, double r_max, unsigned seed) {
    std::mt19937 generator(seed);
    std::normal_distribution<double> normal;
    std::uniform_real_distribution<double> uniform(r_min, r_max);
    std::vector<double> vectors(3 * n);
    for (int p = 0; p < n; ++p) {
        double v[3] = {normal(generator), normal(generator), normal(generator)};
        const double length = std::sqrt(v[0] * v[0] + v[1] * v[1] + v[2] * v[2]);
        const double r = uniform(generator);
        for (int a = 0; a < 3; ++a) vectors[3 * p + a] = v[a] / length * r;
    }
    return vectors;
}

inline int finish(const char* name) {
    if (failures() == 0) {
        std::printf("%s: all checks passed\n", name);
        return 0;
    }
    std::printf("%s: %d check(s) failed\n", name, failures());
    return 1;
}

}  // namespace native_test
