// The JSON and CSV readers: read a whole file into one Batch (read_json, read_csv), or stream
// it in batches of a bounded number of rows (JsonReader, CsvReader).
#pragma once

#include <simdjson.h>

#include <cstddef>
#include <limits>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "isoflow/core/batch.hpp"
#include "isoflow/core/error.hpp"
#include "isoflow/io/detail/builder.hpp"
#include "isoflow/io/detail/csv_cursor.hpp"
#include "isoflow/io/detail/json_cursor.hpp"
#include "isoflow/io/options.hpp"

namespace isoflow {

namespace detail {

[[nodiscard]] inline std::unique_ptr<RecordCursor> make_cursor(FileFormat format, std::string path, std::string name,
                                                               const ReadOptions& options,
                                                               simdjson::dom::parser& parser) {
    if (format == FileFormat::json)
        return std::make_unique<JsonCursor>(std::move(path), std::move(name), options, parser);
    return std::make_unique<CsvCursor>(std::move(path), std::move(name), options);
}

[[nodiscard]] inline std::unique_ptr<RecordCursor> make_text_cursor(FileFormat format, std::string_view text,
                                                                    std::string name, const ReadOptions& options,
                                                                    simdjson::dom::parser& parser) {
    if (format == FileFormat::json) return std::make_unique<JsonCursor>(text, std::move(name), options, parser);
    return std::make_unique<CsvCursor>(text, std::move(name), options);
}

[[nodiscard]] inline bool cursor_skipped(const RecordCursor& c, std::string& reason) {
    if (auto* j = dynamic_cast<const JsonCursor*>(&c); j && j->skipped()) {
        reason = j->skip_reason();
        return true;
    }
    if (auto* s = dynamic_cast<const CsvCursor*>(&c); s && s->skipped()) {
        reason = s->skip_reason();
        return true;
    }
    return false;
}

// The columns a reader starts with: the given schema, or what the sample suggests; then hints.
[[nodiscard]] inline std::vector<Field> initial_fields(RecordCursor* sample_from, const ReadOptions& options) {
    std::vector<Field> fields;
    if (options.schema) {
        fields = options.schema->fields();
    } else if (sample_from) {
        TypeInference inference;
        sample_from->sample(inference);
        fields = inference.result(options.infer_column_types);
    }
    apply_hints(fields, parse_schema_hints(options.schema_hints));
    return fields;
}

}  // namespace detail

// Reads one file (or in-memory text) batch by batch. Schema: options.schema if given, else
// inferred from the first records (bounded by infer_sample_rows / infer_sample_bytes).
class FileReader {
public:
    FileReader(std::string path, FileFormat format, ReadOptions options = {})
        : options_(std::make_unique<ReadOptions>(std::move(options))), parser_(std::make_unique<simdjson::dom::parser>()) {
        cursor_ = detail::make_cursor(format, path, path, *options_, *parser_);
        name_ = std::move(path);
        init();
    }

    // Over text held by the caller: `text` must outlive the reader.
    [[nodiscard]] static FileReader over_text(std::string_view text, FileFormat format, ReadOptions options = {},
                                              std::string name = "<text>") {
        return FileReader(text, format, std::move(options), std::move(name));
    }

    FileReader(FileReader&&) noexcept = default;
    FileReader& operator=(FileReader&&) noexcept = default;

    // The next batch of at most options.batch_rows rows, or nullopt at the end. With
    // on_malformed = skip_file the whole file is one batch, since a later malformed record
    // must be able to withdraw the earlier rows.
    [[nodiscard]] std::optional<Batch> next() {
        if (finished_) return std::nullopt;
        const std::size_t max_rows = options_->on_malformed == OnMalformed::skip_file
                                         ? std::numeric_limits<std::size_t>::max() / 2
                                         : std::max<std::size_t>(1, options_->batch_rows);
        const auto mark = builder_->mark();
        const bool more = cursor_->read_into(*builder_, max_rows);
        std::string reason;
        if (detail::cursor_skipped(*cursor_, reason)) {
            builder_->rollback(mark);
            builder_->stats().skipped_files.push_back(SkippedFile{name_, reason});
        }
        if (!more) finished_ = true;
        if (builder_->rows() == 0 && (finished_ || !more)) {
            finished_ = true;
            if (returned_any_) return std::nullopt;
        }
        returned_any_ = true;
        return builder_->finish();
    }

    // Data columns so far (without the rescued-data and source columns).
    [[nodiscard]] Schema schema() const { return builder_->schema(); }
    [[nodiscard]] const ReadStats& stats() const { return builder_->stats(); }

    // Everything left, as one batch.
    [[nodiscard]] Batch read_all() {
        const auto mark = builder_->mark();
        if (!finished_) cursor_->read_into(*builder_, std::numeric_limits<std::size_t>::max() / 2);
        std::string reason;
        if (detail::cursor_skipped(*cursor_, reason)) {
            builder_->rollback(mark);
            builder_->stats().skipped_files.push_back(SkippedFile{name_, reason});
        }
        finished_ = true;
        returned_any_ = true;
        return builder_->finish();
    }

private:
    FileReader(std::string_view text, FileFormat format, ReadOptions options, std::string name)
        : options_(std::make_unique<ReadOptions>(std::move(options))), parser_(std::make_unique<simdjson::dom::parser>()),
          name_(std::move(name)) {
        cursor_ = detail::make_text_cursor(format, text, name_, *options_, *parser_);
        init();
    }

    void init() {
        builder_ = std::make_unique<detail::BatchBuilder>(*options_, detail::initial_fields(cursor_.get(), *options_));
        builder_->set_file(name_);
    }

    // Heap-held so that the cursor's and builder's pointers survive a move of the reader.
    std::unique_ptr<ReadOptions> options_;
    std::unique_ptr<simdjson::dom::parser> parser_;
    std::string name_;
    std::unique_ptr<detail::RecordCursor> cursor_;
    std::unique_ptr<detail::BatchBuilder> builder_;
    bool finished_ = false;
    bool returned_any_ = false;
};

// Streaming JSON reader (JSON Lines, a top-level array, or objects spanning lines).
class JsonReader : public FileReader {
public:
    explicit JsonReader(std::string path, ReadOptions options = {})
        : FileReader(std::move(path), FileFormat::json, std::move(options)) {}
};

// Streaming CSV reader.
class CsvReader : public FileReader {
public:
    explicit CsvReader(std::string path, ReadOptions options = {})
        : FileReader(std::move(path), FileFormat::csv, std::move(options)) {}
};

// Reads a whole JSON file into one batch.
[[nodiscard]] inline Batch read_json(const std::string& path, const ReadOptions& options = {}) {
    return JsonReader(path, options).read_all();
}
// Reads a whole CSV file into one batch.
[[nodiscard]] inline Batch read_csv(const std::string& path, const ReadOptions& options = {}) {
    return CsvReader(path, options).read_all();
}
// The same over text in memory; `name` is what error messages and _rescued_data call the input.
[[nodiscard]] inline Batch read_json_text(std::string_view text, const ReadOptions& options = {},
                                          std::string name = "<text>") {
    return FileReader::over_text(text, FileFormat::json, options, std::move(name)).read_all();
}
[[nodiscard]] inline Batch read_csv_text(std::string_view text, const ReadOptions& options = {},
                                         std::string name = "<text>") {
    return FileReader::over_text(text, FileFormat::csv, options, std::move(name)).read_all();
}

// The schema the readers would start with for these files: inference over each file's sample,
// merged (int64 and double widen to double; conflicting types become string), then hints.
[[nodiscard]] inline Schema infer_schema(std::span<const std::string> paths, FileFormat format,
                                         const ReadOptions& options = {}) {
    simdjson::dom::parser parser;
    detail::TypeInference inference;
    for (const auto& p : paths) {
        auto cursor = detail::make_cursor(format, p, p, options, parser);
        cursor->sample(inference);
    }
    auto fields = inference.result(options.infer_column_types);
    detail::apply_hints(fields, parse_schema_hints(options.schema_hints));
    return Schema(std::move(fields));
}

}  // namespace isoflow
