// What the FileSource tests (tests/io and tests/io_portable) share: options over a fresh landing
// folder, a one-row JSON file in the seed's Python-dict form, and draining a source.
#pragma once

#include <chrono>
#include <cstddef>
#include <filesystem>
#include <string>

#include "io/io_test_util.hpp"
#include "isoflow/io.hpp"

namespace io_test {

inline isoflow::FileSourceOptions base(const TempDir& dir) {
    isoflow::FileSourceOptions o;
    o.path = (dir / "in").string();
    o.infer_column_types = true;
    o.settle_time = std::chrono::milliseconds(0);
    std::filesystem::create_directories(o.path);
    return o;
}

inline std::string row(int i) {
    return "{'cust_id': " + std::to_string(i) + ", 'Amount': " + std::to_string(i) + ".5}\n";
}

// Reads every planned batch and commits it; returns the total rows.
inline std::size_t drain(isoflow::FileSource& s) {
    std::size_t rows = 0;
    while (auto p = s.plan()) {
        rows += s.read(*p).data.num_rows();
        s.commit(*p);
    }
    return rows;
}

}  // namespace io_test
