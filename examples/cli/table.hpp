// Reading input tables for the isoflow program, and picking feature columns from them.
#pragma once

#include <cmath>
#include <charconv>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <isoflow/forest.hpp>
#include <isoflow/io/reader.hpp>

namespace isoflow_cli {

// A failure that the program reports as one line, with exit status 1.
struct Failure : std::runtime_error {
    using std::runtime_error::runtime_error;
};

[[nodiscard]] inline bool is_json_path(std::string_view path) {
    for (std::string_view ext : {".json", ".jsonl", ".ndjson", ".json.gz", ".jsonl.gz", ".ndjson.gz"})
        if (path.size() >= ext.size() && path.substr(path.size() - ext.size()) == ext) return true;
    return false;
}

// Reads a CSV (header row, RFC 4180, plain or gzip) or JSON file with inferred column types and
// each row's source line. A malformed record fails with its file, line and column.
[[nodiscard]] inline isoflow::Batch read_table(const std::string& path) {
    isoflow::ReadOptions options;
    options.infer_column_types = true;
    options.on_malformed = isoflow::OnMalformed::fail;
    options.add_source_line = true;
    isoflow::Batch batch = is_json_path(path) ? isoflow::read_json(path, options)
                                              : isoflow::read_csv(path, options);
    if (batch.num_rows() == 0) throw Failure(path + ": the file has no data rows");
    return batch;
}

[[nodiscard]] inline std::vector<std::string> split_list(const std::string& text) {
    std::vector<std::string> out;
    std::size_t start = 0;
    while (start <= text.size()) {
        const std::size_t comma = text.find(',', start);
        std::string item = text.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
        if (!item.empty()) out.push_back(item);
        if (comma == std::string::npos) break;
        start = comma + 1;
    }
    return out;
}

[[nodiscard]] inline bool is_bookkeeping(const std::string& name) {
    return name == "_rescued_data" || name == "_source_line" || name == "_source_file";
}

[[nodiscard]] inline bool is_numeric(isoflow::DataType type) {
    return type == isoflow::DataType::int64 || type == isoflow::DataType::float64;
}

// The line a row came from (from the reader's _source_line column).
[[nodiscard]] inline std::int64_t source_line(const isoflow::Batch& batch, std::size_t row) {
    if (auto i = batch.find_column("_source_line")) {
        const auto& c = batch.column(*i);
        if (c.is_valid(row)) return c.int64_values()[row];
    }
    return static_cast<std::int64_t>(row) + 2;
}

// Which columns are features: --features (in that order), else every numeric column that
// --exclude does not name. Names match case-insensitively, an exact match first.
[[nodiscard]] inline std::vector<std::size_t> pick_features(const isoflow::Batch& batch, const std::string& path,
                                                            const std::vector<std::string>& features,
                                                            const std::vector<std::string>& exclude) {
    const auto& schema = batch.schema();
    std::vector<std::size_t> picked;
    if (!features.empty()) {
        for (const auto& name : features) {
            const auto i = schema.find(name);
            if (!i) throw Failure(path + ": no column '" + name + "'" + schema.suggestions(name));
            picked.push_back(*i);
        }
        return picked;
    }
    std::vector<std::size_t> excluded;
    for (const auto& name : exclude) {
        const auto i = schema.find(name);
        if (!i) throw Failure(path + ": --exclude names no column '" + name + "'" + schema.suggestions(name));
        excluded.push_back(*i);
    }
    for (std::size_t i = 0; i < schema.size(); ++i) {
        if (is_bookkeeping(schema.field(i).name) || !is_numeric(schema.field(i).type)) continue;
        if (std::find(excluded.begin(), excluded.end(), i) != excluded.end()) continue;
        picked.push_back(i);
    }
    if (picked.empty()) throw Failure(path + ": no numeric column to use as a feature");
    return picked;
}

// The rescued text of one column in one row, from the reader's _rescued_data JSON, if any.
[[nodiscard]] inline std::optional<std::string> rescued_value(const isoflow::Batch& batch, std::size_t row,
                                                              const std::string& column) {
    const auto i = batch.find_column("_rescued_data");
    if (!i || batch.column(*i).is_null(row)) return std::nullopt;
    const std::string_view text = batch.column(*i).string_at(row);
    const std::string key = "\"" + column + "\":";
    auto at = text.find(key);
    if (at == std::string_view::npos) return std::nullopt;
    at += key.size();
    while (at < text.size() && text[at] == ' ') ++at;
    if (at < text.size() && text[at] == '"') {
        std::string value;
        for (++at; at < text.size() && text[at] != '"'; ++at) {
            if (text[at] == '\\' && at + 1 < text.size()) ++at;
            value += text[at];
        }
        return value;
    }
    const auto end = text.find_first_of(",}", at);
    return std::string(text.substr(at, end - at));
}

// The feature matrix (as double: text was parsed to double, then the forest converts to its T,
// as numpy does). Any value that is missing or not a number fails with file, line and column.
[[nodiscard]] inline isoflow::RowMatrix<double> feature_matrix(const isoflow::Batch& batch, const std::string& path,
                                                               const std::vector<std::size_t>& columns) {
    const auto rows = batch.num_rows();
    isoflow::RowMatrix<double> X(static_cast<Eigen::Index>(rows), static_cast<Eigen::Index>(columns.size()));
    for (std::size_t k = 0; k < columns.size(); ++k) {
        const auto& field = batch.schema().field(columns[k]);
        const auto& column = batch.column(columns[k]);
        const std::string where = "column " + std::to_string(columns[k] + 1) + " ('" + field.name + "')";
        for (std::size_t r = 0; r < rows; ++r) {
            auto fail = [&](const std::string& what) {
                throw Failure(path + ":" + std::to_string(source_line(batch, r)) + ": " + where + ": " + what);
            };
            if (column.is_null(r)) {
                if (auto text = rescued_value(batch, r, field.name))
                    fail("expected a number, got '" + *text + "'");
                fail("expected a number, the value is missing");
            }
            double v = 0.0;
            switch (column.type()) {
                case isoflow::DataType::int64: v = static_cast<double>(column.int64_values()[r]); break;
                case isoflow::DataType::float64: v = column.double_values()[r]; break;
                case isoflow::DataType::string: {
                    const std::string_view text = column.string_at(r);
                    const char* first = text.data();
                    const char* last = first + text.size();
                    if (first != last && *first == '+') ++first;
                    auto [ptr, ec] = std::from_chars(first, last, v);
                    if (ec != std::errc{} || ptr != last || first == last)
                        fail("expected a number, got '" + std::string(text) + "'");
                    break;
                }
                default: fail("expected a number, the column is " + std::string(isoflow::to_string(column.type())));
            }
            X(static_cast<Eigen::Index>(r), static_cast<Eigen::Index>(k)) = v;
        }
    }
    return X;
}

// Writes one CSV field, quoted when it holds a delimiter, a quote or a line break.
inline void write_csv_field(std::string& out, std::string_view value) {
    if (value.find_first_of(",\"\r\n") == std::string_view::npos) {
        out += value;
        return;
    }
    out += '"';
    for (char c : value) {
        if (c == '"') out += '"';
        out += c;
    }
    out += '"';
}

inline void append_double(std::string& out, double v) {
    char buffer[32];
    auto result = std::to_chars(buffer, buffer + sizeof buffer, v);
    out.append(buffer, result.ptr);
}

// A cell of the batch as CSV text (empty for null).
inline void write_cell(std::string& out, const isoflow::Batch& batch, std::size_t column, std::size_t row) {
    const auto& c = batch.column(column);
    if (c.is_null(row)) return;
    switch (c.type()) {
        case isoflow::DataType::int64:
        case isoflow::DataType::timestamp: out += std::to_string(c.int64_values()[row]); break;
        case isoflow::DataType::float64: append_double(out, c.double_values()[row]); break;
        case isoflow::DataType::boolean: out += c.bool_values()[row] ? "true" : "false"; break;
        case isoflow::DataType::string: write_csv_field(out, c.string_at(row)); break;
    }
}

}  // namespace isoflow_cli
