// StoreSeenFileLog: the file source's seen-file log kept in a Store, so that a batch's seen files
// commit in the same transaction as its rows. Inside an open batch (Store::begin_batch) its
// writes join that transaction; outside one each write is a transaction of its own.
//
// This header bridges the readers (isoflow/io) and the store, so it lives with the pipeline, the
// one part that may use both; isoflow/pipeline.hpp includes it.
#pragma once

#include <simdjson.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "isoflow/core/batch.hpp"
#include "isoflow/core/error.hpp"
#include "isoflow/io/seen_file_log.hpp"
#include "isoflow/io/source.hpp"
#include "isoflow/store/store.hpp"

namespace isoflow {

class StoreSeenFileLog final : public SeenFileLog {
public:
    // `source` names the source in the store, so one store can hold the logs of several sources.
    StoreSeenFileLog(std::shared_ptr<Store> store, std::string source)
        : store_(std::move(store)), source_(std::move(source)) {
        if (!store_) detail::throw_error<config_error>("StoreSeenFileLog needs a store");
        if (source_.empty()) detail::throw_error<config_error>("StoreSeenFileLog needs a source name");
    }

    [[nodiscard]] Store& store() const noexcept { return *store_; }
    [[nodiscard]] const std::string& source() const noexcept { return source_; }

    [[nodiscard]] std::optional<SeenFile> find(const std::string& path) const override {
        auto e = store_->find_seen_file(source_, path);
        if (!e) return std::nullopt;
        return SeenFile{std::move(e->path), e->size, e->mtime_ns, e->batch_id};
    }

    [[nodiscard]] std::optional<BatchPlan> pending_plan() const override {
        auto p = store_->pending_source_plan(source_);
        if (!p) return std::nullopt;
        return parse_plan(p->first, p->second);
    }

    void save_plan(const BatchPlan& plan) override {
        store_->save_source_plan(source_, plan.batch_id, detail::plan_to_json(plan));
    }

    void commit(const BatchPlan& plan) override {
        std::vector<SeenFileEntry> files;
        files.reserve(plan.files.size());
        for (const auto& f : plan.files) files.push_back(SeenFileEntry{f.path, f.size, f.mtime_ns, plan.batch_id});
        store_->commit_source_plan(source_, plan.batch_id, files);
    }

    [[nodiscard]] std::uint64_t last_batch_id() const override { return store_->last_source_batch(source_); }

    [[nodiscard]] std::optional<std::pair<std::uint64_t, Schema>> latest_schema() const override {
        return store_->latest_source_schema(source_);
    }
    void save_schema(std::uint64_t version, const Schema& schema) override {
        store_->save_source_schema(source_, version, schema);
    }

    [[nodiscard]] std::optional<std::string> property(const std::string& key) const override {
        return store_->source_property(source_, key);
    }
    void set_property(const std::string& key, const std::string& value) override {
        store_->set_source_property(source_, key, value);
    }

private:
    [[nodiscard]] BatchPlan parse_plan(std::uint64_t batch_id, const std::string& json) const {
        simdjson::dom::parser parser;
        simdjson::dom::element doc;
        simdjson::dom::array files;
        const auto fail = [&](const char* expected) -> BatchPlan {
            detail::throw_error<io_error>("saved plan of batch " + std::to_string(batch_id) + " of source '" +
                                          source_ + "' in " + store_->describe() + " is not valid: expected " +
                                          expected);
        };
        const simdjson::padded_string text(json);
        if (parser.parse(text).get(doc)) return fail("JSON");
        if (doc["files"].get(files)) return fail("a \"files\" array");
        BatchPlan plan;
        plan.batch_id = batch_id;
        for (simdjson::dom::element f : files) {
            std::string_view path;
            std::uint64_t size = 0;
            std::int64_t mtime = 0;
            if (f["path"].get(path) || f["size"].get(size) || f["mtime_ns"].get(mtime))
                return fail("path, size and mtime_ns for every file");
            plan.files.push_back(SourceFile{std::string(path), size, mtime});
        }
        return plan;
    }

    std::shared_ptr<Store> store_;
    std::string source_;
};

}  // namespace isoflow
