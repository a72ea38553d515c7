// The seen-file log: which files were read in which committed batch, the plan in flight, and
// the versioned schema. Behind an interface so that a pipeline can keep it in its own store, in
// the same transaction as a batch's rows; FileCheckpoint keeps it in a directory of small JSON
// files, each written to a temporary name, flushed, then renamed into place.
#pragma once

#include <simdjson.h>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "isoflow/io/detail/platform.hpp"
#include "isoflow/core/batch.hpp"
#include "isoflow/core/error.hpp"
#include "isoflow/io/detail/text.hpp"
#include "isoflow/io/source.hpp"

namespace isoflow {

struct SeenFile {
    std::string path;
    std::uint64_t size = 0;
    std::int64_t mtime_ns = 0;
    std::uint64_t batch_id = 0;
};

class SeenFileLog {
public:
    virtual ~SeenFileLog() = default;
    [[nodiscard]] virtual std::optional<SeenFile> find(const std::string& path) const = 0;
    // The plan saved and not committed, if any.
    [[nodiscard]] virtual std::optional<BatchPlan> pending_plan() const = 0;
    // Stores a plan durably before its batch is read.
    virtual void save_plan(const BatchPlan& plan) = 0;
    // Marks the plan's files seen and the plan done, durably and at once.
    virtual void commit(const BatchPlan& plan) = 0;
    [[nodiscard]] virtual std::uint64_t last_batch_id() const = 0;
    // Versioned schema of the data columns.
    [[nodiscard]] virtual std::optional<std::pair<std::uint64_t, Schema>> latest_schema() const = 0;
    virtual void save_schema(std::uint64_t version, const Schema& schema) = 0;
    // Small named values the source keeps (its start time, for include_existing_files = false).
    [[nodiscard]] virtual std::optional<std::string> property(const std::string& key) const = 0;
    virtual void set_property(const std::string& key, const std::string& value) = 0;
};

// Kept in memory only: for tests and for runs that need no restart.
class MemorySeenFileLog : public SeenFileLog {
public:
    [[nodiscard]] std::optional<SeenFile> find(const std::string& path) const override {
        const auto it = seen_.find(path);
        if (it == seen_.end()) return std::nullopt;
        return it->second;
    }
    [[nodiscard]] std::optional<BatchPlan> pending_plan() const override { return pending_; }
    void save_plan(const BatchPlan& plan) override { pending_ = plan; }
    void commit(const BatchPlan& plan) override {
        for (const auto& f : plan.files) seen_[f.path] = SeenFile{f.path, f.size, f.mtime_ns, plan.batch_id};
        if (plan.batch_id > last_) last_ = plan.batch_id;
        if (pending_ && pending_->batch_id <= plan.batch_id) pending_.reset();
    }
    [[nodiscard]] std::uint64_t last_batch_id() const override { return last_; }
    [[nodiscard]] std::optional<std::pair<std::uint64_t, Schema>> latest_schema() const override {
        if (schemas_.empty()) return std::nullopt;
        return *schemas_.rbegin();
    }
    void save_schema(std::uint64_t version, const Schema& schema) override { schemas_[version] = schema; }
    [[nodiscard]] std::optional<std::string> property(const std::string& key) const override {
        const auto it = props_.find(key);
        if (it == props_.end()) return std::nullopt;
        return it->second;
    }
    void set_property(const std::string& key, const std::string& value) override { props_[key] = value; }

protected:
    std::unordered_map<std::string, SeenFile> seen_;
    std::optional<BatchPlan> pending_;
    std::uint64_t last_ = 0;
    std::map<std::uint64_t, Schema> schemas_;
    std::map<std::string, std::string> props_;
};

namespace detail {

[[nodiscard]] inline std::string plan_to_json(const BatchPlan& plan) {
    std::string out = "{\"batch_id\": " + std::to_string(plan.batch_id) + ", \"files\": [";
    for (std::size_t i = 0; i < plan.files.size(); ++i) {
        const auto& f = plan.files[i];
        out += i ? ",\n  {\"path\": " : "\n  {\"path\": ";
        append_json_string(out, f.path);
        out += ", \"size\": " + std::to_string(f.size) + ", \"mtime_ns\": " + std::to_string(f.mtime_ns) + "}";
    }
    out += "]}\n";
    return out;
}

[[nodiscard]] inline BatchPlan plan_from_json(const std::filesystem::path& file) {
    simdjson::dom::parser parser;
    simdjson::dom::element doc;
    simdjson::padded_string text;
    if (simdjson::padded_string::load(file.string()).get(text) || parser.parse(text).get(doc))
        detail::throw_error<io_error>("checkpoint file '" + file.string() + "' is unreadable or not valid JSON");
    BatchPlan plan;
    std::uint64_t id = 0;
    simdjson::dom::array files;
    if (doc["batch_id"].get(id) || doc["files"].get(files))
        detail::throw_error<io_error>("checkpoint file '" + file.string() + "': expected batch_id and files");
    plan.batch_id = id;
    for (simdjson::dom::element f : files) {
        std::string_view path;
        std::uint64_t size = 0;
        std::int64_t mtime = 0;
        if (f["path"].get(path) || f["size"].get(size) || f["mtime_ns"].get(mtime))
            detail::throw_error<io_error>("checkpoint file '" + file.string() + "': expected path, size and mtime_ns");
        plan.files.push_back(SourceFile{std::string(path), size, mtime});
    }
    return plan;
}

}  // namespace detail

// A checkpoint directory: plans/<id>.json (planned), commits/<id>.json (committed),
// schemas/<version>.json and properties/<key>. A batch is committed when its commit file exists.
class FileCheckpoint : public MemorySeenFileLog {
public:
    explicit FileCheckpoint(std::filesystem::path dir) : dir_(std::move(dir)) {
        namespace fs = std::filesystem;
        std::error_code ec;
        for (const char* sub : {"plans", "commits", "schemas", "properties"}) {
            fs::create_directories(dir_ / sub, ec);
            if (ec) detail::throw_error<io_error>("cannot create checkpoint directory '" + (dir_ / sub).string() + "': " + ec.message());
        }
        for (const auto& e : fs::directory_iterator(dir_ / "commits")) {
            if (!is_data_file(e.path())) continue;
            MemorySeenFileLog::commit(detail::plan_from_json(e.path()));
        }
        std::optional<BatchPlan> newest;
        for (const auto& e : fs::directory_iterator(dir_ / "plans")) {
            if (!is_data_file(e.path())) continue;
            BatchPlan p = detail::plan_from_json(e.path());
            if (p.batch_id > last_ && (!newest || p.batch_id > newest->batch_id)) newest = std::move(p);
        }
        pending_ = newest;
        for (const auto& e : fs::directory_iterator(dir_ / "schemas")) {
            if (!is_data_file(e.path())) continue;
            load_schema(e.path());
        }
        for (const auto& e : fs::directory_iterator(dir_ / "properties")) {
            if (e.path().filename().string().front() == '.') continue;
            std::ifstream in(e.path(), std::ios::binary);  // a path: wide names on Windows
            if (!in) continue;
            std::string value{std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
            props_[e.path().filename().string()] = std::move(value);
        }
    }

    [[nodiscard]] const std::filesystem::path& directory() const noexcept { return dir_; }

    void save_plan(const BatchPlan& plan) override {
        detail::write_file_atomically(dir_ / "plans" / (std::to_string(plan.batch_id) + ".json"), detail::plan_to_json(plan));
        MemorySeenFileLog::save_plan(plan);
    }
    void commit(const BatchPlan& plan) override {
        detail::write_file_atomically(dir_ / "commits" / (std::to_string(plan.batch_id) + ".json"), detail::plan_to_json(plan));
        std::error_code ec;
        std::filesystem::remove(dir_ / "plans" / (std::to_string(plan.batch_id) + ".json"), ec);
        MemorySeenFileLog::commit(plan);
    }
    void save_schema(std::uint64_t version, const Schema& schema) override {
        std::string out = "{\"version\": " + std::to_string(version) + ", \"fields\": [";
        for (std::size_t i = 0; i < schema.size(); ++i) {
            out += i ? ", {\"name\": " : "{\"name\": ";
            detail::append_json_string(out, schema.field(i).name);
            out += ", \"type\": \"" + std::string(to_string(schema.field(i).type)) + "\"}";
        }
        out += "]}\n";
        detail::write_file_atomically(dir_ / "schemas" / (std::to_string(version) + ".json"), out);
        MemorySeenFileLog::save_schema(version, schema);
    }
    void set_property(const std::string& key, const std::string& value) override {
        detail::write_file_atomically(dir_ / "properties" / key, value);
        MemorySeenFileLog::set_property(key, value);
    }

private:
    static bool is_data_file(const std::filesystem::path& p) {
        const std::string name = p.filename().string();
        return !name.empty() && name.front() != '.' && p.extension() == ".json";
    }
    void load_schema(const std::filesystem::path& file) {
        simdjson::dom::parser parser;
        simdjson::dom::element doc;
        simdjson::padded_string text;
        std::uint64_t version = 0;
        simdjson::dom::array fields;
        if (simdjson::padded_string::load(file.string()).get(text) || parser.parse(text).get(doc) ||
            doc["version"].get(version) || doc["fields"].get(fields))
            detail::throw_error<io_error>("checkpoint schema '" + file.string() + "' is not valid: expected version and fields");
        Schema schema;
        for (simdjson::dom::element f : fields) {
            std::string_view name, type;
            if (f["name"].get(name) || f["type"].get(type))
                detail::throw_error<io_error>("checkpoint schema '" + file.string() + "': expected name and type");
            const auto t = parse_data_type(type);
            if (!t) detail::throw_error<io_error>("checkpoint schema '" + file.string() + "': unknown type '" + std::string(type) + "'");
            schema.add(Field{std::string(name), *t, true});
        }
        schemas_[version] = std::move(schema);
    }

    std::filesystem::path dir_;
};

}  // namespace isoflow
