// PipelineBuilder: a pipeline's sources and tables in C++, tables made of typed stages.
//
//   using namespace isoflow;
//   Pipeline p = PipelineBuilder("fraud", "out/fraud")
//       .source("transactions", options)
//       .table("raw", "transactions")
//       .table("cleaned", "raw", expect_or_drop("valid", "Amount IS NOT NULL"))
//       .table("predictions", "cleaned", score("model.iforest") | select({"cust_id", "anomaly_score"}))
//       .build();
//
// build() checks everything before anything runs (Pipeline's constructor): a `from` naming
// nothing, a cycle, a name used twice, a model file, and, where a source declares its schema, the
// columns and types every stage uses.
#pragma once

#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <utility>

#include "isoflow/pipeline/pipeline.hpp"
#include "isoflow/pipeline/spec.hpp"
#include "isoflow/pipeline/stages.hpp"

namespace isoflow {

// A table's settings besides its stages, e.g. `{.quality = "bronze", .stored = false}`.
// (Every member has an initializer, so that designated initializers may leave any out.)
struct TableOptions {
    std::string quality{};  // bronze | silver | gold: a label
    bool stored = true;     // false: feeds later tables, keeps no rows
    std::optional<FileSinkSpec> sink{};     // files instead of pipeline.db
    std::shared_ptr<Sink> custom_sink{};    // any Sink, e.g. a CallbackSink (wins over `sink`)
};

class PipelineBuilder {
public:
    PipelineBuilder(std::string name, std::filesystem::path storage) {
        spec_.name = std::move(name);
        spec_.storage = std::move(storage);
    }

    PipelineBuilder& mode(PipelineMode mode) {
        spec_.mode = mode;
        return *this;
    }

    PipelineBuilder& source(std::string name, FileSourceOptions options) {
        spec_.sources.emplace_back(std::move(name), std::move(options));
        return *this;
    }

    // A table reading `from` (a source, an earlier table or `<table>_quarantine`) through
    // `stages`, run in the order given. No stages: the rows as they come (a bronze table).
    template <TableStage... S>
    PipelineBuilder& table(std::string name, std::string from, S&&... stages) {
        return table(std::move(name), std::move(from), TableOptions{}, std::forward<S>(stages)...);
    }
    template <TableStage... S>
    PipelineBuilder& table(std::string name, std::string from, TableOptions options, S&&... stages) {
        TableSpec t;
        t.name = std::move(name);
        t.from = std::move(from);
        t.quality = std::move(options.quality);
        t.stored = options.stored;
        t.sink = std::move(options.sink);
        t.custom_sink = std::move(options.custom_sink);
        t.stages = to_stages(std::forward<S>(stages)...);
        spec_.tables.push_back(std::move(t));
        return *this;
    }
    // Any TableSpec, e.g. one with the JSON-style fields.
    PipelineBuilder& table(TableSpec table) {
        spec_.tables.push_back(std::move(table));
        return *this;
    }

    [[nodiscard]] const PipelineSpec& spec() const& noexcept { return spec_; }
    [[nodiscard]] PipelineSpec spec() && { return std::move(spec_); }

    // Checks the definition and opens the storage (Pipeline's constructor).
    [[nodiscard]] Pipeline build() const& { return Pipeline(spec_); }
    [[nodiscard]] Pipeline build() && { return Pipeline(std::move(spec_)); }

private:
    PipelineSpec spec_;
};

}  // namespace isoflow
