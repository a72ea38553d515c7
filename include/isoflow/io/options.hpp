// Options shared by the JSON and CSV readers and the file source, and the schema-hint parser.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "isoflow/core/batch.hpp"
#include "isoflow/core/error.hpp"
#include "isoflow/io/detail/text.hpp"

namespace isoflow {

enum class FileFormat : std::uint8_t { json, csv };

// What happens when a record arrives with a field the schema does not have (Auto Loader's names).
enum class SchemaEvolutionMode : std::uint8_t {
    add_new_columns,     // "addNewColumns": the field becomes a new nullable column
    rescue,              // "rescue": the schema never changes; the value goes to _rescued_data
    fail_on_new_columns, // "failOnNewColumns": schema_error naming the file and the new fields
    none,                // "none": the field is ignored
};

// What happens to a record that is not well-formed (bad JSON, CSV row with the wrong field count).
enum class OnMalformed : std::uint8_t {
    rescue,     // the record becomes a row whose only value is its raw text in _rescued_data
    skip_file,  // the whole file contributes no rows; it is reported in ReadStats::skipped_files
    fail,       // parse_error naming file, line, column and what was expected
};

enum class Compression : std::uint8_t {
    detect,  // gzip when the file starts with the gzip magic bytes, else none
    none,
    gzip,
};

[[nodiscard]] constexpr std::string_view to_string(FileFormat f) noexcept {
    return f == FileFormat::json ? "json" : "csv";
}
[[nodiscard]] constexpr std::string_view to_string(SchemaEvolutionMode m) noexcept {
    switch (m) {
        case SchemaEvolutionMode::add_new_columns: return "addNewColumns";
        case SchemaEvolutionMode::rescue: return "rescue";
        case SchemaEvolutionMode::fail_on_new_columns: return "failOnNewColumns";
        case SchemaEvolutionMode::none: return "none";
    }
    return "unknown";
}
[[nodiscard]] constexpr std::string_view to_string(OnMalformed m) noexcept {
    switch (m) {
        case OnMalformed::rescue: return "rescue";
        case OnMalformed::skip_file: return "skip_file";
        case OnMalformed::fail: return "fail";
    }
    return "unknown";
}

// Parses "json"/"csv", "addNewColumns"/"rescue"/"failOnNewColumns"/"none" (case-insensitive; the
// snake_case spellings are accepted too), "rescue"/"skip_file"/"fail". Unknown text: config_error.
[[nodiscard]] inline FileFormat parse_file_format(std::string_view s) {
    if (detail::iequals(s, "json") || detail::iequals(s, "jsonl") || detail::iequals(s, "ndjson"))
        return FileFormat::json;
    if (detail::iequals(s, "csv")) return FileFormat::csv;
    detail::throw_error<config_error>("format '" + std::string(s) + "' is not supported: expected json or csv");
}
[[nodiscard]] inline SchemaEvolutionMode parse_schema_evolution_mode(std::string_view s) {
    using detail::iequals;
    if (iequals(s, "addNewColumns") || iequals(s, "add_new_columns")) return SchemaEvolutionMode::add_new_columns;
    if (iequals(s, "rescue")) return SchemaEvolutionMode::rescue;
    if (iequals(s, "failOnNewColumns") || iequals(s, "fail_on_new_columns"))
        return SchemaEvolutionMode::fail_on_new_columns;
    if (iequals(s, "none")) return SchemaEvolutionMode::none;
    detail::throw_error<config_error>("schema_evolution_mode '" + std::string(s) +
                                      "' is not valid: expected addNewColumns, rescue, failOnNewColumns or none");
}
[[nodiscard]] inline OnMalformed parse_on_malformed(std::string_view s) {
    using detail::iequals;
    if (iequals(s, "rescue")) return OnMalformed::rescue;
    if (iequals(s, "skip_file") || iequals(s, "skipFile")) return OnMalformed::skip_file;
    if (iequals(s, "fail")) return OnMalformed::fail;
    detail::throw_error<config_error>("on_malformed '" + std::string(s) +
                                      "' is not valid: expected rescue, skip_file or fail");
}

// Parses schema hints such as "cust_id BIGINT, Time DOUBLE, `odd name` STRING". Each entry is a
// column name (optionally in back-quotes) and a Spark SQL type name. Errors name the entry.
[[nodiscard]] inline std::vector<Field> parse_schema_hints(std::string_view hints) {
    std::vector<Field> out;
    std::size_t pos = 0;
    std::size_t entry_no = 0;
    while (pos <= hints.size()) {
        std::size_t comma = hints.find(',', pos);
        // A comma inside back-quotes belongs to the name.
        const std::size_t tick = hints.find('`', pos);
        if (tick != std::string_view::npos && tick < comma) {
            const std::size_t close = hints.find('`', tick + 1);
            if (close == std::string_view::npos)
                detail::throw_error<config_error>("schema_hints: unterminated back-quote in '" +
                                                  std::string(hints.substr(tick)) + "'");
            comma = hints.find(',', close);
        }
        const std::string_view entry = detail::trim(
            hints.substr(pos, comma == std::string_view::npos ? std::string_view::npos : comma - pos));
        ++entry_no;
        if (entry.empty()) {
            if (comma == std::string_view::npos && out.empty() && entry_no == 1) break;
            detail::throw_error<config_error>("schema_hints: entry " + std::to_string(entry_no) +
                                              " is empty: expected 'name TYPE'");
        }
        std::string name;
        std::string_view rest;
        if (entry.front() == '`') {
            const std::size_t close = entry.find('`', 1);
            name = std::string(entry.substr(1, close - 1));
            rest = detail::trim(entry.substr(close + 1));
        } else {
            const std::size_t space = entry.find_first_of(" \t");
            if (space == std::string_view::npos)
                detail::throw_error<config_error>("schema_hints: entry '" + std::string(entry) +
                                                  "' has no type: expected 'name TYPE'");
            name = std::string(entry.substr(0, space));
            rest = detail::trim(entry.substr(space));
        }
        if (rest.size() > 8 && detail::iequals(rest.substr(rest.size() - 8), "NOT NULL"))
            rest = detail::trim(rest.substr(0, rest.size() - 8));
        const auto type = parse_data_type(rest);
        if (!type)
            detail::throw_error<config_error>(
                "schema_hints: entry '" + std::string(entry) + "' has unknown type '" + std::string(rest) +
                "': expected BIGINT, INT, DOUBLE, FLOAT, BOOLEAN, STRING or TIMESTAMP");
        // Hints name columns case-insensitively, so two hints differing only by case would
        // both name the same column.
        for (const auto& f : out) {
            if (f.name == name)
                detail::throw_error<config_error>("schema_hints: column '" + name + "' is hinted twice");
            if (detail::iequals(f.name, name))
                detail::throw_error<config_error>("schema_hints: '" + f.name + "' and '" + name +
                                                  "' differ only by case: expected one hint per column");
        }
        out.push_back(Field{std::move(name), *type, true});
        if (comma == std::string_view::npos) break;
        pos = comma + 1;
    }
    return out;
}

// Options of read_json / read_csv and their streaming readers. FileSourceOptions holds one too.
struct ReadOptions {
    // --- schema -------------------------------------------------------------------------
    // A given schema is used as is (no inference); fields not in it follow schema_evolution_mode.
    std::optional<Schema> schema;
    // Without inference every column is a string, as in Auto Loader.
    bool infer_column_types = false;
    // "cust_id BIGINT, Time DOUBLE": these types win over inference (and over a given schema).
    std::string schema_hints;
    SchemaEvolutionMode schema_evolution_mode = SchemaEvolutionMode::add_new_columns;
    // Inference looks at the first records of a file, up to these bounds.
    std::size_t infer_sample_rows = 10'000;
    std::size_t infer_sample_bytes = std::size_t{4} << 20;

    // --- bad data -----------------------------------------------------------------------
    // Name of the string column that keeps values that did not fit and malformed records, as
    // JSON. Empty: no such column (values that do not fit are then only counted).
    std::string rescued_data_column = "_rescued_data";
    OnMalformed on_malformed = OnMalformed::rescue;

    // --- extra columns ------------------------------------------------------------------
    bool add_source_file = false;  // a `_source_file` string column (the path as given)
    bool add_source_line = false;  // a `_source_line` bigint column (line where the record starts)

    // --- CSV ----------------------------------------------------------------------------
    char delimiter = ',';
    char quote = '"';
    bool header = true;  // without a header, columns are named _c0, _c1, ...
    // An unquoted field equal to this is null. A quoted field is always a value.
    std::string null_value;

    // --- input --------------------------------------------------------------------------
    Compression compression = Compression::detect;
    // Streaming readers return batches of at most this many rows.
    std::size_t batch_rows = 65'536;
};

// New columns that one file brought (schema_evolution_mode = addNewColumns).
struct SchemaChange {
    std::string file;
    std::vector<Field> added;
};

// A file that contributed no rows because of on_malformed = skip_file, or could not be read.
struct SkippedFile {
    std::string file;
    std::string reason;  // names line, column and what was expected
};

// What a reader saw; counts are cumulative over the reader's life.
struct ReadStats {
    std::uint64_t rows = 0;               // rows produced (malformed records rescued included)
    std::uint64_t malformed_records = 0;  // records that were not well-formed
    std::uint64_t rescued_values = 0;     // values that did not fit their column
    std::uint64_t bytes = 0;              // bytes of (decompressed) input consumed
    std::vector<SkippedFile> skipped_files;
    std::vector<SchemaChange> schema_changes;
};

}  // namespace isoflow
