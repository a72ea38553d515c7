// The interface every source of batches implements: plan a batch, read it, and be told once it
// is committed. The file source implements it now; a Kafka consumer-group source will later
// (its plan then holds partition offsets instead of files).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "isoflow/core/batch.hpp"
#include "isoflow/io/options.hpp"

namespace isoflow {

// One input file as the source saw it when planning.
struct SourceFile {
    std::string path;
    std::uint64_t size = 0;
    std::int64_t mtime_ns = 0;

    friend bool operator==(const SourceFile&, const SourceFile&) = default;
};

// What one micro-batch consists of. A plan that was written but never committed is returned
// again, unchanged, after a restart.
struct BatchPlan {
    std::uint64_t batch_id = 0;
    std::vector<SourceFile> files;

    friend bool operator==(const BatchPlan&, const BatchPlan&) = default;
};

// The rows of a planned batch and what happened while reading it.
struct SourceBatch {
    std::uint64_t batch_id = 0;
    Batch data;
    std::uint64_t schema_version = 0;  // version of the data columns' schema in the checkpoint
    ReadStats stats;                   // malformed and rescued counts, skipped files, new columns
    std::vector<SkippedFile> failed_files;  // could not be read; not committed, retried later
};

class Source {
public:
    virtual ~Source() = default;
    // The next batch to process, or nullopt when there is nothing new. Until commit() is
    // called, the same plan is returned again (also after a restart).
    [[nodiscard]] virtual std::optional<BatchPlan> plan() = 0;
    // Reads a planned batch. Reading the same plan twice gives the same rows.
    [[nodiscard]] virtual SourceBatch read(const BatchPlan& plan) = 0;
    // Records that the batch's rows are safely stored: its inputs are never read again.
    virtual void commit(const BatchPlan& plan) = 0;
    // The data columns' current schema.
    [[nodiscard]] virtual Schema schema() const = 0;
};

}  // namespace isoflow
