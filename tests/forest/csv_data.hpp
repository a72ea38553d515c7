// Test helper: reads a numeric CSV file with a header (plain or .gz) into a float64 matrix.
// Values are parsed to double and converted to T later, as numpy does.
#pragma once

#include <zlib.h>

#include <algorithm>
#include <charconv>
#include <filesystem>
#include <stdexcept>
#include <string>
#include <vector>

#include <isoflow/forest.hpp>

#include "catch.hpp"

namespace isoflow_test {

struct NumericTable {
    std::vector<std::string> names;
    isoflow::RowMatrix<double> values;
};

inline std::string read_maybe_gzip(const std::filesystem::path& path) {
    gzFile file = gzopen(path.string().c_str(), "rb");
    if (!file) throw std::runtime_error("cannot open " + path.string());
    std::string data;
    char buffer[1 << 16];
    int n;
    while ((n = gzread(file, buffer, sizeof buffer)) > 0) data.append(buffer, static_cast<std::size_t>(n));
    gzclose(file);
    return data;
}

inline NumericTable read_numeric_csv(const std::filesystem::path& path) {
    const std::string data = read_maybe_gzip(path);
    NumericTable table;
    std::size_t pos = data.find('\n');
    std::string header = data.substr(0, pos);
    if (!header.empty() && header.back() == '\r') header.pop_back();
    std::size_t start = 0;
    for (;;) {
        const std::size_t comma = header.find(',', start);
        table.names.push_back(header.substr(start, comma - start));
        if (comma == std::string::npos) break;
        start = comma + 1;
    }
    std::vector<double> values;
    std::size_t rows = 0;
    const char* p = data.data() + pos + 1;
    const char* end = data.data() + data.size();
    while (p < end) {
        if (*p == '\n' || *p == '\r') {
            ++p;
            continue;
        }
        for (std::size_t c = 0; c < table.names.size(); ++c) {
            double v = 0;
            auto [next, ec] = std::from_chars(p, end, v);
            if (ec != std::errc{}) throw std::runtime_error("bad number in " + path.string());
            values.push_back(v);
            p = next;
            if (p < end && (*p == ',')) ++p;
        }
        ++rows;
    }
    table.values = Eigen::Map<isoflow::RowMatrix<double>>(values.data(), static_cast<Eigen::Index>(rows),
                                                          static_cast<Eigen::Index>(table.names.size()));
    return table;
}

// The data files of ../shared/data, sorted by name.
inline std::vector<std::filesystem::path> shared_data_files() {
    std::vector<std::filesystem::path> files;
    const auto dir = shared_data_dir();
    if (dir.empty()) return files;
    for (const auto& entry : std::filesystem::directory_iterator(dir)) {
        const std::string name = entry.path().filename().string();
        if (name.ends_with(".csv") || name.ends_with(".csv.gz")) files.push_back(entry.path());
    }
    std::sort(files.begin(), files.end());
    return files;
}

}  // namespace isoflow_test
