// What a pipeline is made of (PipelineSpec), and reading it from a JSON file.
//
// {
//   "name": "fraud", "storage": "out/fraud", "mode": "development",
//   "sources": {"transactions": {"path": "landing", "format": "json", "infer_column_types": true}},
//   "tables": [
//     {"name": "raw", "from": "transactions", "quality": "bronze"},
//     {"name": "cleaned", "from": "raw", "quality": "silver",
//      "expectations": [{"name": "valid", "constraint": "Amount IS NOT NULL", "on_violation": "drop"}]},
//     {"name": "predictions", "from": "cleaned", "quality": "gold",
//      "score": {"model": "model.iforest"}, "select": ["cust_id", "Amount", "anomaly_score", "is_anomaly"]}
//   ]
// }
//
// Relative paths resolve against the JSON file's folder. Unknown keys are errors that name the
// key and its place (file:line:column).
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "isoflow/core/error.hpp"
#include "isoflow/forest/detail/json.hpp"
#include "isoflow/forest/detail/model_file.hpp"
#include "isoflow/io/file_source.hpp"
#include "isoflow/pipeline/stages.hpp"
#include "isoflow/quality/expectation.hpp"
#include "isoflow/store/sinks.hpp"

namespace isoflow {

enum class PipelineMode : std::uint8_t {
    development,  // fail fast
    production,   // retry a failed batch (I/O error, database busy) with exponential backoff
};

struct ExpectationSpec {
    std::string name;
    std::string constraint;
    ExpectationAction action = ExpectationAction::warn;
};

struct ScoreSpec {
    std::string model;  // path of a model file (binary or .json)
};

// A table written as files instead of into pipeline.db: one file per batch in
// `<path>/<table>/<table>-<batch id>.<csv|jsonl>`, published by atomic rename.
struct FileSinkSpec {
    enum class Format : std::uint8_t { csv, jsonl };
    Format format = Format::csv;
    std::filesystem::path path;
};

struct TableSpec {
    std::string name;
    std::string from;     // a source or an earlier table
    std::string quality;  // bronze | silver | gold (a label; it changes nothing)
    // The table's stages, run in this order (stages.hpp). A JSON table has none; its keys below
    // (the JSON's own, for C++ too) become stages in a fixed order: where, score, select,
    // expectations. A table may use one form or the other, not both (table_stages()).
    std::vector<Stage> stages;
    std::vector<ExpectationSpec> expectations;
    std::string where;                 // a filter expression, empty for none
    std::vector<std::string> select;   // projection items ("expr AS name"); empty keeps all
    std::optional<ScoreSpec> score;
    bool stored = true;                // false: feeds later tables, keeps no rows
    // Where the rows go instead of pipeline.db (its quarantine rows too): files ("sink" in JSON),
    // or any Sink object, e.g. a CallbackSink (C++ only; it wins over `sink`).
    std::optional<FileSinkSpec> sink;
    std::shared_ptr<Sink> custom_sink;
};

// The stages `table` runs, in order: its `stages`, or the stages its JSON keys stand for.
[[nodiscard]] inline std::vector<Stage> table_stages(const TableSpec& table) {
    const bool keyed = !table.where.empty() || table.score || !table.select.empty() || !table.expectations.empty();
    if (!table.stages.empty()) {
        if (keyed)
            detail::throw_error<config_error>("table '" + table.name +
                                              "' has both stages and where/score/select/expectations fields; "
                                              "give its stages in one form");
        return table.stages;
    }
    std::vector<Stage> out;
    if (!table.where.empty()) out.emplace_back(WhereStage{table.where});
    if (table.score) out.emplace_back(ScoreStage{table.score->model});
    if (!table.select.empty()) out.emplace_back(SelectStage{table.select});
    if (!table.expectations.empty()) {
        ExpectStage group;
        for (const auto& e : table.expectations) group.expectations.emplace_back(e.name, e.constraint, e.action);
        out.emplace_back(std::move(group));
    }
    return out;
}

struct PipelineSpec {
    std::string name;
    std::filesystem::path storage;
    PipelineMode mode = PipelineMode::development;
    std::vector<std::pair<std::string, FileSourceOptions>> sources;
    std::vector<TableSpec> tables;
    // Production mode: attempts per batch, and the first backoff, doubling each time up to
    // max_backoff.
    int max_attempts = 5;
    std::chrono::milliseconds first_backoff{200};
    std::chrono::milliseconds max_backoff{30'000};
    // A continuous run turns on use_notifications (inotify) for every source, except those
    // named in polling_sources (in JSON, a source that says "use_notifications": false), so that
    // a file renamed into the landing directory is taken within milliseconds, not after the
    // settle time.
    bool notifications_when_continuous = true;
    std::vector<std::string> polling_sources;
    // How long a write waits for a lock another connection (an sqlite3 shell) holds before the
    // batch fails with store_busy_error (retried in production mode).
    std::chrono::milliseconds busy_timeout{5000};
};

namespace detail::pipeline_spec {

using json::Value;

class SpecReader {
public:
    SpecReader(std::string source, std::filesystem::path base) : r_(std::move(source)), base_(std::move(base)) {}

    [[noreturn]] void fail(const Value& at, const std::string& what) const { r_.fail(at, what); }

    void only_keys(const Value& object, std::initializer_list<std::string_view> keys, const std::string& where) const {
        if (object.kind != Value::Kind::object) fail(object, where + ": expected an object");
        for (std::size_t i = 0; i < object.object.size(); ++i)
            for (std::size_t j = 0; j < i; ++j)
                if (object.object[j].key == object.object[i].key)
                    fail(object.object[i].value, "key \"" + object.object[i].key + "\" given twice in " + where);
        for (const auto& [key, value] : object.object) {
            bool known = false;
            for (auto k : keys) known = known || key == k;
            if (!known) {
                std::string list;
                for (auto k : keys) list += (list.empty() ? "" : ", ") + std::string(k);
                fail(value, "unknown key \"" + key + "\" in " + where + " (expected one of: " + list + ")");
            }
        }
    }

    [[nodiscard]] std::string string(const Value& v, const std::string& what) const { return r_.string(v, what); }
    [[nodiscard]] bool boolean(const Value& v, const std::string& what) const {
        if (v.kind != Value::Kind::boolean) fail(v, what + ": expected true or false");
        return v.boolean;
    }
    template <class Number>
    [[nodiscard]] Number number(const Value& v, const std::string& what) const { return r_.number<Number>(v, what); }
    // A count that must be at least 1 (files, rows, bytes).
    [[nodiscard]] std::size_t count(const Value& v, const std::string& what) const {
        const auto n = number<std::size_t>(v, what);
        if (n == 0) fail(v, what + ": expected at least 1");
        return n;
    }
    // A duration in milliseconds of at least `least`.
    [[nodiscard]] std::chrono::milliseconds milliseconds(const Value& v, const std::string& what,
                                                         std::int64_t least) const {
        const auto n = number<std::int64_t>(v, what);
        if (n < least) fail(v, what + (least == 0 ? std::string(": expected 0 or more") : ": expected at least " + std::to_string(least)));
        return std::chrono::milliseconds(n);
    }
    // Columns written as schema hints ("tx_id BIGINT, Amount DOUBLE"); a bad entry is an error at
    // the value's place.
    [[nodiscard]] std::vector<Field> hints(const Value& v, const std::string& what) const {
        try {
            return parse_schema_hints(string(v, what));
        } catch (const config_error& e) {
            fail(v, what + ": " + e.what());
        }
    }
    [[nodiscard]] std::filesystem::path path(const Value& v, const std::string& what) const {
        std::filesystem::path p = string(v, what);
        if (p.empty()) fail(v, what + ": expected a path, got an empty string");
        return p.is_absolute() ? p : base_ / p;
    }
    [[nodiscard]] const Value& member(const Value& object, std::string_view key, const std::string& where) const {
        if (const Value* v = object.find(key)) return *v;
        fail(object, where + ": missing key \"" + std::string(key) + "\"");
    }

private:
    json::Reader r_;
    std::filesystem::path base_;
};

inline FileSourceOptions read_source(const SpecReader& r, const Value& v, const std::string& where) {
    r.only_keys(v, {"path", "format", "infer_column_types", "schema_hints", "schema_evolution_mode",
                    "rescued_data_column", "max_files_per_trigger", "max_bytes_per_trigger",
                    "include_existing_files", "allow_overwrites", "path_glob_filter",
                    "recursive_file_lookup", "use_notifications", "settle_time_ms", "add_source_line",
                    "schema", "on_malformed", "delimiter", "quote", "header", "null_value", "compression",
                    "listing_interval_ms", "max_queued_files", "infer_sample_files", "infer_sample_rows",
                    "infer_sample_bytes", "batch_rows"},
                where);
    // A one-character string (a CSV delimiter or quote).
    auto character = [&](const Value& value, const std::string& at) {
        const std::string c = r.string(value, at);
        if (c.size() != 1) r.fail(value, at + ": expected one character, got \"" + c + "\"");
        return c.front();
    };
    FileSourceOptions o;
    o.path = r.path(r.member(v, "path", where), where + ".path").string();
    for (const auto& [key, value] : v.object) {
        const std::string at = where + "." + key;
        if (key == "format") {
            const std::string f = r.string(value, at);
            if (f == "json") o.format = FileFormat::json;
            else if (f == "csv") o.format = FileFormat::csv;
            else r.fail(value, at + ": expected \"json\" or \"csv\", got \"" + f + "\"");
        } else if (key == "infer_column_types") {
            o.infer_column_types = r.boolean(value, at);
        } else if (key == "schema_hints") {
            (void)r.hints(value, at);  // a bad hint is a mistake at its place
            o.schema_hints = r.string(value, at);
        } else if (key == "schema_evolution_mode") {
            const std::string m = r.string(value, at);
            if (m == "addNewColumns") o.schema_evolution_mode = SchemaEvolutionMode::add_new_columns;
            else if (m == "rescue") o.schema_evolution_mode = SchemaEvolutionMode::rescue;
            else if (m == "failOnNewColumns") o.schema_evolution_mode = SchemaEvolutionMode::fail_on_new_columns;
            else if (m == "none") o.schema_evolution_mode = SchemaEvolutionMode::none;
            else r.fail(value, at + ": expected addNewColumns, rescue, failOnNewColumns or none, got \"" + m + "\"");
        } else if (key == "rescued_data_column") {
            o.rescued_data_column = r.string(value, at);
        } else if (key == "max_files_per_trigger") {
            o.max_files_per_trigger = r.count(value, at);
        } else if (key == "max_bytes_per_trigger") {
            o.max_bytes_per_trigger = r.number<std::uint64_t>(value, at);
        } else if (key == "include_existing_files") {
            o.include_existing_files = r.boolean(value, at);
        } else if (key == "allow_overwrites") {
            o.allow_overwrites = r.boolean(value, at);
        } else if (key == "path_glob_filter") {
            o.path_glob_filter = r.string(value, at);
        } else if (key == "recursive_file_lookup") {
            o.recursive_file_lookup = r.boolean(value, at);
        } else if (key == "use_notifications") {
            o.use_notifications = r.boolean(value, at);
        } else if (key == "settle_time_ms") {
            o.settle_time = r.milliseconds(value, at, 0);
        } else if (key == "add_source_line") {
            o.read.add_source_line = r.boolean(value, at);
        } else if (key == "schema") {
            // The columns as schema hints are written: "tx_id BIGINT, Amount DOUBLE".
            std::vector<Field> fields = r.hints(value, at);
            if (fields.empty()) r.fail(value, at + ": expected at least one column ('name TYPE, ...')");
            o.schema = Schema(std::move(fields));
        } else if (key == "on_malformed") {
            const std::string m = r.string(value, at);
            try {
                o.read.on_malformed = parse_on_malformed(m);
            } catch (const config_error&) {
                r.fail(value, at + ": expected rescue, skip_file or fail, got \"" + m + "\"");
            }
        } else if (key == "delimiter") {
            o.read.delimiter = character(value, at);
        } else if (key == "quote") {
            o.read.quote = character(value, at);
        } else if (key == "header") {
            o.read.header = r.boolean(value, at);
        } else if (key == "null_value") {
            o.read.null_value = r.string(value, at);
        } else if (key == "compression") {
            const std::string c = r.string(value, at);
            if (c == "detect") o.read.compression = Compression::detect;
            else if (c == "none") o.read.compression = Compression::none;
            else if (c == "gzip") o.read.compression = Compression::gzip;
            else r.fail(value, at + ": expected \"detect\", \"none\" or \"gzip\", got \"" + c + "\"");
        } else if (key == "listing_interval_ms") {
            o.listing_interval = r.milliseconds(value, at, 1);
        } else if (key == "max_queued_files") {
            o.max_queued_files = r.number<std::size_t>(value, at);
        } else if (key == "infer_sample_files") {
            o.infer_sample_files = r.count(value, at);
        } else if (key == "infer_sample_rows") {
            o.read.infer_sample_rows = r.count(value, at);
        } else if (key == "infer_sample_bytes") {
            o.read.infer_sample_bytes = r.count(value, at);
        } else if (key == "batch_rows") {
            o.read.batch_rows = r.count(value, at);
        }
    }
    if (o.read.delimiter == o.read.quote)
        r.fail(v, where + ": the delimiter and the quote are the same character ('" + std::string(1, o.read.delimiter) +
                      "')");
    return o;
}

inline TableSpec read_table(const SpecReader& r, const Value& v, const std::string& where) {
    r.only_keys(v, {"name", "from", "quality", "expectations", "where", "select", "score", "stored", "sink"}, where);
    TableSpec t;
    const Value& name = r.member(v, "name", where);
    t.name = r.string(name, where + ".name");
    if (t.name.empty()) r.fail(name, where + ".name: expected a table name, got an empty string");
    t.from = r.string(r.member(v, "from", where), where + ".from");
    for (const auto& [key, value] : v.object) {
        const std::string at = where + "." + key;
        if (key == "quality") {
            t.quality = r.string(value, at);
            if (t.quality != "bronze" && t.quality != "silver" && t.quality != "gold")
                r.fail(value, at + ": expected \"bronze\", \"silver\" or \"gold\", got \"" + t.quality + "\"");
        } else if (key == "where") {
            t.where = r.string(value, at);
        } else if (key == "stored") {
            t.stored = r.boolean(value, at);
        } else if (key == "sink") {
            r.only_keys(value, {"format", "path"}, at);
            FileSinkSpec sink;
            const Value& f = r.member(value, "format", at);
            const std::string format = r.string(f, at + ".format");
            if (format == "csv") sink.format = FileSinkSpec::Format::csv;
            else if (format == "jsonl") sink.format = FileSinkSpec::Format::jsonl;
            else r.fail(f, at + ".format: expected \"csv\" or \"jsonl\", got \"" + format + "\"");
            sink.path = r.path(r.member(value, "path", at), at + ".path");
            t.sink = std::move(sink);
        } else if (key == "select") {
            if (value.kind != Value::Kind::array) r.fail(value, at + ": expected an array of expressions");
            for (std::size_t i = 0; i < value.array.size(); ++i)
                t.select.push_back(r.string(value.array[i], at + "[" + std::to_string(i) + "]"));
        } else if (key == "score") {
            r.only_keys(value, {"model"}, at);
            t.score = ScoreSpec{r.path(r.member(value, "model", at), at + ".model").string()};
        } else if (key == "expectations") {
            if (value.kind != Value::Kind::array) r.fail(value, at + ": expected an array");
            for (std::size_t i = 0; i < value.array.size(); ++i) {
                const Value& e = value.array[i];
                const std::string ew = at + "[" + std::to_string(i) + "]";
                r.only_keys(e, {"name", "constraint", "on_violation"}, ew);
                ExpectationSpec spec;
                spec.name = r.string(r.member(e, "name", ew), ew + ".name");
                spec.constraint = r.string(r.member(e, "constraint", ew), ew + ".constraint");
                if (const Value* a = e.find("on_violation")) {
                    const std::string action = r.string(*a, ew + ".on_violation");
                    if (action == "warn") spec.action = ExpectationAction::warn;
                    else if (action == "drop") spec.action = ExpectationAction::drop;
                    else if (action == "fail") spec.action = ExpectationAction::fail;
                    else if (action == "quarantine") spec.action = ExpectationAction::quarantine;
                    else r.fail(*a, ew + ".on_violation: expected warn, drop, fail or quarantine, got \"" + action + "\"");
                }
                t.expectations.push_back(std::move(spec));
            }
        }
    }
    return t;
}

}  // namespace detail::pipeline_spec

// Parses a pipeline definition. `source` names it in messages; `base` is the folder relative
// paths resolve against.
[[nodiscard]] inline PipelineSpec parse_pipeline_spec(std::string_view text, const std::string& source,
                                                      const std::filesystem::path& base) {
    using namespace detail::pipeline_spec;
    detail::json::Parser parser(text, source);
    const Value doc = parser.parse_document();
    SpecReader r(source, base);
    r.only_keys(doc, {"name", "storage", "mode", "sources", "tables", "max_attempts", "first_backoff_ms",
                     "max_backoff_ms", "busy_timeout_ms"}, "the pipeline");
    PipelineSpec spec;
    const Value& name = r.member(doc, "name", "the pipeline");
    spec.name = r.string(name, "name");
    if (spec.name.empty()) r.fail(name, "name: expected a pipeline name, got an empty string");
    spec.storage = r.path(r.member(doc, "storage", "the pipeline"), "storage");
    if (const Value* m = doc.find("mode")) {
        const std::string mode = r.string(*m, "mode");
        if (mode == "development") spec.mode = PipelineMode::development;
        else if (mode == "production") spec.mode = PipelineMode::production;
        else r.fail(*m, "mode: expected \"development\" or \"production\", got \"" + mode + "\"");
    }
    if (const Value* a = doc.find("max_attempts")) {
        spec.max_attempts = r.number<int>(*a, "max_attempts");
        if (spec.max_attempts < 1) r.fail(*a, "max_attempts: expected at least 1");
    }
    if (const Value* b = doc.find("first_backoff_ms")) {
        spec.first_backoff = r.milliseconds(*b, "first_backoff_ms", 0);
    }
    if (const Value* b = doc.find("max_backoff_ms")) {
        spec.max_backoff = r.milliseconds(*b, "max_backoff_ms", 0);
    }
    if (const Value* b = doc.find("busy_timeout_ms")) {
        spec.busy_timeout = r.milliseconds(*b, "busy_timeout_ms", 0);
    }
    const Value& sources = r.member(doc, "sources", "the pipeline");
    if (sources.kind != Value::Kind::object || sources.object.empty())
        r.fail(sources, "sources: expected an object with at least one source");
    for (const auto& [name, value] : sources.object) {
        spec.sources.emplace_back(name, read_source(r, value, "sources." + name));
        if (const Value* n = value.find("use_notifications"); n && !spec.sources.back().second.use_notifications)
            spec.polling_sources.push_back(name);
    }
    const Value& tables = r.member(doc, "tables", "the pipeline");
    if (tables.kind != Value::Kind::array || tables.array.empty())
        r.fail(tables, "tables: expected an array with at least one table");
    for (std::size_t i = 0; i < tables.array.size(); ++i)
        spec.tables.push_back(read_table(r, tables.array[i], "tables[" + std::to_string(i) + "]"));
    return spec;
}

[[nodiscard]] inline PipelineSpec load_pipeline_spec(const std::filesystem::path& file) {
    const std::string text = detail::read_whole_file(file.string());
    const auto base = std::filesystem::absolute(file).parent_path();
    return parse_pipeline_spec(text, file.string(), base);
}

}  // namespace isoflow
