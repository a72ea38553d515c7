// Sinks: where a table's rows go when they are not kept in the SQLite store. A file sink writes one
// file per batch, named by table and batch id, to a temporary name and then renames it into place,
// so a reader never sees half a batch and a replayed batch id is recognised and skipped. The
// callback sink hands each batch to a C++ function.
#pragma once

#include <cerrno>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <functional>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

#if defined(_WIN32)
#include <io.h>
#else
#include <fcntl.h>
#include <unistd.h>
#endif

#include "isoflow/core/batch.hpp"
#include "isoflow/core/error.hpp"
#include "isoflow/store/detail/text.hpp"

namespace isoflow {

class Sink {
public:
    virtual ~Sink() = default;
    // Writes one batch of a table. Returns false, writing nothing, when the sink already holds
    // this table's batch (a replay after a crash).
    virtual bool write(const std::string& table, std::uint64_t batch_id, const Batch& rows) = 0;
    // Whether the sink holds this table's batch.
    [[nodiscard]] virtual bool holds(const std::string& table, std::uint64_t batch_id) const = 0;
};

namespace detail::store {

// A table name becomes a folder name: refuse what could escape the sink's folder or hide a file.
inline void check_sink_table_name(std::string_view table) {
    const bool bad = table.empty() || table == "." || table == ".." || table.front() == '.' ||
                     table.find_first_of(std::string_view("/\\\0:", 4)) != std::string_view::npos;
    if (bad)
        throw_error<config_error>("table name '" + std::string(table) +
                                  "' cannot name a sink folder: expected a non-empty name without '/', '\\', ':' "
                                  "or a leading '.'");
}

// Writes `text` to `tmp`, flushes it to disk, then renames it to `final_path`. Without the flush a
// power cut could leave a renamed but empty file that a replay would then take as written.
inline void publish_file(const std::filesystem::path& tmp, const std::filesystem::path& final_path,
                         std::string_view text) {
    std::FILE* f = std::fopen(tmp.string().c_str(), "wb");
    if (!f)
        throw_error<io_error>("cannot write '" + tmp.string() + "': " + std::strerror(errno) +
                              (errno == EROFS || errno == EACCES ? " (the sink folder is read-only)" : ""));
    const bool written = std::fwrite(text.data(), 1, text.size(), f) == text.size() && std::fflush(f) == 0;
    const int write_errno = errno;
#if defined(_WIN32)
    const bool synced = written && _commit(_fileno(f)) == 0;
#else
    const bool synced = written && ::fsync(fileno(f)) == 0;
#endif
    const bool closed = std::fclose(f) == 0;
    if (!written || !synced || !closed) {
        const int e = written ? errno : write_errno;
        std::error_code ec;
        std::filesystem::remove(tmp, ec);
        throw_error<io_error>("cannot write '" + tmp.string() + "': " + std::strerror(e) +
                              (e == ENOSPC ? " (disk full)" : ""));
    }
    std::error_code ec;
    std::filesystem::rename(tmp, final_path, ec);
    if (ec) {
        std::filesystem::remove(tmp, ec);
        throw_error<io_error>("cannot rename '" + tmp.string() + "' to '" + final_path.string() + "': " + ec.message());
    }
#if !defined(_WIN32)
    const int dir = ::open(final_path.parent_path().c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dir >= 0) {
        (void)::fsync(dir);
        ::close(dir);
    }
#endif
}

inline void append_csv_field(std::string& out, std::string_view s) {
    // An empty string is quoted so that it differs from a null (an empty field).
    const bool quote = s.empty() || s.find_first_of(",\"\r\n") != std::string_view::npos || s.front() == ' ' ||
                       s.back() == ' ';
    if (!quote) {
        out += s;
        return;
    }
    out += '"';
    for (char c : s) {
        if (c == '"') out += '"';
        out += c;
    }
    out += '"';
}

inline void append_csv_double(std::string& out, double v) {
    if (std::isnan(v))
        out += "NaN";
    else if (std::isinf(v))
        out += v > 0 ? "inf" : "-inf";
    else
        append_double(out, v);
}

}  // namespace detail::store

// Shared by the CSV and JSON Lines sinks: `<folder>/<table>/<table>-<batch id, 20 digits>.<ext>`.
class FileSink : public Sink {
public:
    [[nodiscard]] const std::filesystem::path& folder() const noexcept { return folder_; }

    // The file that holds (or will hold) a table's batch.
    [[nodiscard]] std::filesystem::path file_for(const std::string& table, std::uint64_t batch_id) const {
        detail::store::check_sink_table_name(table);
        char id[24];
        std::snprintf(id, sizeof id, "%020llu", static_cast<unsigned long long>(batch_id));
        return folder_ / table / (table + "-" + id + extension_);
    }

    [[nodiscard]] bool holds(const std::string& table, std::uint64_t batch_id) const override {
        std::error_code ec;
        return std::filesystem::exists(file_for(table, batch_id), ec);
    }

    bool write(const std::string& table, std::uint64_t batch_id, const Batch& rows) override {
        const auto path = file_for(table, batch_id);
        if (holds(table, batch_id)) return false;
        std::error_code ec;
        std::filesystem::create_directories(path.parent_path(), ec);
        if (ec)
            detail::throw_error<io_error>("cannot create sink folder '" + path.parent_path().string() +
                                          "': " + ec.message());
        std::string text;
        format(rows, text);
        // A crash may leave this temporary file; the replay overwrites it.
        const auto tmp = path.parent_path() / ("." + path.filename().string() + ".tmp");
        detail::store::publish_file(tmp, path, text);
        return true;
    }

protected:
    FileSink(std::filesystem::path folder, std::string extension)
        : folder_(std::move(folder)), extension_(std::move(extension)) {}
    virtual void format(const Batch& rows, std::string& out) const = 0;

private:
    std::filesystem::path folder_;
    std::string extension_;
};

// RFC 4180 CSV with a header line. Null is an empty field; an empty string is "". Booleans are
// true/false, timestamps ISO 8601 UTC with microseconds, doubles the shortest text that reads back
// the same (NaN, inf, -inf for the non-finite ones).
class CsvSink final : public FileSink {
public:
    explicit CsvSink(std::filesystem::path folder) : FileSink(std::move(folder), ".csv") {}

private:
    void format(const Batch& rows, std::string& out) const override {
        const auto& schema = rows.schema();
        for (std::size_t c = 0; c < schema.size(); ++c) {
            if (c) out += ',';
            detail::store::append_csv_field(out, schema.field(c).name);
        }
        out += '\n';
        for (std::size_t r = 0; r < rows.num_rows(); ++r) {
            for (std::size_t c = 0; c < rows.num_columns(); ++c) {
                if (c) out += ',';
                const Column& col = rows.column(c);
                if (col.is_null(r)) continue;
                switch (col.type()) {
                    case DataType::int64: detail::store::append_int(out, col.int64_values()[r]); break;
                    case DataType::float64: detail::store::append_csv_double(out, col.double_values()[r]); break;
                    case DataType::boolean: out += col.bool_values()[r] ? "true" : "false"; break;
                    case DataType::string: detail::store::append_csv_field(out, col.string_at(r)); break;
                    case DataType::timestamp:
                        detail::store::append_iso_timestamp(out, col.int64_values()[r]);
                        break;
                }
            }
            out += '\n';
        }
    }
};

// One JSON object per line, keys in column order. Null is null; timestamps are ISO 8601 strings;
// a non-finite double, which JSON cannot express, is written as null.
class JsonLinesSink final : public FileSink {
public:
    explicit JsonLinesSink(std::filesystem::path folder) : FileSink(std::move(folder), ".jsonl") {}

private:
    void format(const Batch& rows, std::string& out) const override {
        const auto& schema = rows.schema();
        std::vector<std::string> keys;
        for (const auto& f : schema.fields()) keys.push_back(detail::store::json_string(f.name) + ": ");
        for (std::size_t r = 0; r < rows.num_rows(); ++r) {
            out += '{';
            for (std::size_t c = 0; c < rows.num_columns(); ++c) {
                if (c) out += ", ";
                out += keys[c];
                const Column& col = rows.column(c);
                if (col.is_null(r)) {
                    out += "null";
                    continue;
                }
                switch (col.type()) {
                    case DataType::int64: detail::store::append_int(out, col.int64_values()[r]); break;
                    case DataType::float64: {
                        const double v = col.double_values()[r];
                        if (std::isfinite(v))
                            detail::store::append_double(out, v);
                        else
                            out += "null";
                        break;
                    }
                    case DataType::boolean: out += col.bool_values()[r] ? "true" : "false"; break;
                    case DataType::string: detail::store::append_json_string(out, col.string_at(r)); break;
                    case DataType::timestamp:
                        out += '"';
                        detail::store::append_iso_timestamp(out, col.int64_values()[r]);
                        out += '"';
                        break;
                }
            }
            out += "}\n";
        }
    }
};

// Hands every batch to a function. It cannot know what the function already holds, so a replayed
// batch arrives again with the same id: the function decides (holds() asks `already_holds`, when given).
class CallbackSink final : public Sink {
public:
    using Callback = std::function<void(const std::string& table, std::uint64_t batch_id, const Batch& rows)>;
    using HoldsCallback = std::function<bool(const std::string& table, std::uint64_t batch_id)>;

    explicit CallbackSink(Callback callback, HoldsCallback already_holds = {})
        : callback_(std::move(callback)), holds_(std::move(already_holds)) {
        if (!callback_) detail::throw_error<config_error>("CallbackSink needs a callback");
    }

    bool write(const std::string& table, std::uint64_t batch_id, const Batch& rows) override {
        if (holds(table, batch_id)) return false;
        callback_(table, batch_id, rows);
        return true;
    }
    [[nodiscard]] bool holds(const std::string& table, std::uint64_t batch_id) const override {
        return holds_ && holds_(table, batch_id);
    }

private:
    Callback callback_;
    HoldsCallback holds_;
};

}  // namespace isoflow
