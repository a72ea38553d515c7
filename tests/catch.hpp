// Includes Catch2 v3 or v2.13, whichever the build found.
#pragma once

#if defined(ISOFLOW_CATCH2_V3)
#include <catch2/catch_approx.hpp>
#include <catch2/catch_test_macros.hpp>
#include <catch2/generators/catch_generators.hpp>
#include <catch2/matchers/catch_matchers_string.hpp>
#else
#include <catch2/catch.hpp>
#endif

#include <cstdio>
#include <filesystem>
#include <string>

namespace isoflow_test {

// The folder of real benchmark data (../shared/data beside the repository), or empty when it is
// absent (users' checkouts): tests that need it call SKIP_WITHOUT_SHARED_DATA().
inline std::filesystem::path shared_data_dir() {
    std::filesystem::path dir = ISOFLOW_SHARED_DATA_DIR;
    if (const char* env = std::getenv("ISOFLOW_SHARED_DATA")) dir = env;
    return std::filesystem::is_directory(dir) ? dir : std::filesystem::path{};
}

}  // namespace isoflow_test

// Catch2 2.13 has no SKIP; a test without its data prints a line CTest recognises and returns.
#define SKIP_WITHOUT_SHARED_DATA()                                                             \
    do {                                                                                       \
        if (isoflow_test::shared_data_dir().empty()) {                                         \
            std::printf("SKIPPED: ../shared/data is absent (it exists only on isoflow's own "   \
                        "machines and CI)\n");                                                 \
            return;                                                                            \
        }                                                                                      \
    } while (false)
