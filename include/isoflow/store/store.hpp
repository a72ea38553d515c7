// The Store interface: where a pipeline's tables, source positions, batch log and event log
// live. One batch is one transaction: its rows in every table, the source positions it consumed
// (the seen-file log) and its "committed" mark become visible together or not at all.
// SqliteStore implements it now; a PostgreSQL store for many workers can later.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "isoflow/core/batch.hpp"
#include "isoflow/core/error.hpp"

namespace isoflow {

// The store could not get its lock in time (another connection, e.g. an `sqlite3` shell, holds a
// write transaction). Nothing of the failed call was committed; the same call may be retried.
class store_busy_error : public io_error {
public:
    using io_error::io_error;
};

// One file of a source as recorded when its batch committed.
struct SeenFileEntry {
    std::string path;
    std::uint64_t size = 0;
    std::int64_t mtime_ns = 0;
    std::uint64_t batch_id = 0;

    friend bool operator==(const SeenFileEntry&, const SeenFileEntry&) = default;
};

enum class BatchState : std::uint8_t { planned, committed };

[[nodiscard]] constexpr std::string_view to_string(BatchState s) noexcept {
    return s == BatchState::planned ? "planned" : "committed";
}

// One row of the batch log.
struct BatchRecord {
    std::uint64_t batch_id = 0;
    BatchState state = BatchState::planned;
    std::string plan;            // JSON text, as given to record_plan
    std::string model_checksum;  // empty when the pipeline scores nothing
    std::string planned_at;      // ISO 8601 UTC
    std::string committed_at;    // empty while planned
    std::string metrics;         // JSON text given to commit_batch ("{}" when none)
};

struct TableRowCount {
    std::string table;
    std::uint64_t rows = 0;
};

// What ensure_table changed.
struct TableChange {
    bool created = false;
    std::vector<Field> added_columns;  // columns added by schema evolution (ALTER TABLE ADD COLUMN)

    [[nodiscard]] bool changed() const noexcept { return created || !added_columns.empty(); }
};

// Where an event comes from (DLT's `origin`, reduced to what isoflow knows).
struct EventOrigin {
    std::string pipeline{};
    std::string table{};                     // empty for pipeline-wide events
    std::optional<std::uint64_t> batch_id{};

    friend bool operator==(const EventOrigin&, const EventOrigin&) = default;
};

// One event of the event log, in the shape of Delta Live Tables' event log.
struct Event {
    std::string id{};             // a UUID; filled in by append_event when empty
    std::int64_t sequence = 0;    // strictly increasing; assigned by append_event
    EventOrigin origin{};
    std::string timestamp{};      // ISO 8601 UTC with milliseconds; filled in when empty
    std::string level = "INFO";   // INFO, WARN, ERROR, METRICS
    std::string event_type{};     // create_update, update_progress, flow_progress, schema_change, error
    std::string message{};
    std::string details = "{}";   // JSON text
};

class BatchTransaction;

class Store {
public:
    virtual ~Store() = default;

    // --- tables -----------------------------------------------------------------------------
    // Creates the table, or adds the schema's columns it lacks (nullable). A column that exists
    // with another type is a schema_error (a BIGINT may go into a DOUBLE column). Inside a batch
    // the change commits or rolls back with the batch.
    virtual TableChange ensure_table(std::string_view table, const Schema& schema) = 0;
    // The table's columns and types, or nullopt when it does not exist.
    [[nodiscard]] virtual std::optional<Schema> table_schema(std::string_view table) const = 0;
    // Tables in creation order.
    [[nodiscard]] virtual std::vector<std::string> tables() const = 0;
    [[nodiscard]] virtual std::vector<TableRowCount> row_counts() const = 0;
    // Every row of a table, in insertion order, at most `limit` of them.
    [[nodiscard]] virtual Batch read_table(std::string_view table,
                                           std::size_t limit = static_cast<std::size_t>(-1)) const = 0;

    // --- the batch log ----------------------------------------------------------------------
    // Records (or replaces) the plan of a batch that is not committed yet: the JSON text the
    // pipeline needs to replay it, and the checksum of the model it scores with.
    virtual void record_plan(std::uint64_t batch_id, std::string_view plan_json,
                             std::string_view model_checksum) = 0;
    // Starts the batch's transaction. A batch already committed is an io_error (exactly once).
    virtual void begin_batch(std::uint64_t batch_id) = 0;
    [[nodiscard]] virtual bool in_batch() const noexcept = 0;
    [[nodiscard]] virtual std::optional<std::uint64_t> current_batch() const noexcept = 0;
    // Appends the rows to the table (created or evolved first). Only inside a batch.
    virtual void append(std::string_view table, const Batch& rows) = 0;
    // Marks the batch committed with its metrics (JSON text) and commits everything it wrote.
    virtual void commit_batch(std::string_view metrics_json = "{}") = 0;
    // Undoes everything since begin_batch. Never throws; a no-op outside a batch.
    virtual void rollback_batch() noexcept = 0;
    // RAII form: rolls back unless commit() was called.
    [[nodiscard]] BatchTransaction transaction(std::uint64_t batch_id);

    [[nodiscard]] virtual bool is_committed(std::uint64_t batch_id) const = 0;
    [[nodiscard]] virtual std::optional<std::uint64_t> last_committed_batch() const = 0;
    // The newest planned-but-uncommitted batch: what to replay after a crash.
    [[nodiscard]] virtual std::optional<BatchRecord> pending_batch() const = 0;
    [[nodiscard]] virtual std::optional<BatchRecord> batch(std::uint64_t batch_id) const = 0;
    // The newest `n` batches, newest first.
    [[nodiscard]] virtual std::vector<BatchRecord> last_batches(std::size_t n) const = 0;

    // --- source positions (the seen-file log), per named source ------------------------------
    // Outside a batch each write is its own transaction; inside one it joins the batch's.
    virtual void save_source_plan(std::string_view source, std::uint64_t batch_id,
                                  std::string_view plan_json) = 0;
    // The source's newest saved plan that is not committed (as save_source_plan got it).
    [[nodiscard]] virtual std::optional<std::pair<std::uint64_t, std::string>> pending_source_plan(
        std::string_view source) const = 0;
    // Marks the source's plan committed and its files seen.
    virtual void commit_source_plan(std::string_view source, std::uint64_t batch_id,
                                    std::span<const SeenFileEntry> files) = 0;
    [[nodiscard]] virtual std::uint64_t last_source_batch(std::string_view source) const = 0;
    [[nodiscard]] virtual std::optional<SeenFileEntry> find_seen_file(std::string_view source,
                                                                      std::string_view path) const = 0;
    [[nodiscard]] virtual std::uint64_t seen_file_count(std::string_view source) const = 0;
    virtual void save_source_schema(std::string_view source, std::uint64_t version,
                                    const Schema& schema) = 0;
    [[nodiscard]] virtual std::optional<std::pair<std::uint64_t, Schema>> latest_source_schema(
        std::string_view source) const = 0;
    [[nodiscard]] virtual std::optional<std::string> source_property(std::string_view source,
                                                                     std::string_view key) const = 0;
    virtual void set_source_property(std::string_view source, std::string_view key,
                                     std::string_view value) = 0;

    // --- the event log ----------------------------------------------------------------------
    // Appends an event and returns its sequence number. Inside a batch the event commits or
    // rolls back with it, so log a failure after rollback_batch().
    virtual std::int64_t append_event(Event event) = 0;
    // Events with a sequence above `sequence`, oldest first, at most `limit`.
    [[nodiscard]] virtual std::vector<Event> events_after(std::int64_t sequence,
                                                          std::size_t limit = 1000) const = 0;

    // --- maintenance ------------------------------------------------------------------------
    // Full refresh: drops every table and forgets batches and source positions (the event log
    // stays). Not inside a batch.
    virtual void reset() = 0;
    // "sqlite:/path/pipeline.db": for messages.
    [[nodiscard]] virtual std::string describe() const = 0;
};

// Rolls its batch back when destroyed uncommitted (an exception unwinding past it).
class BatchTransaction {
public:
    BatchTransaction(Store& store, std::uint64_t batch_id) : store_(&store) {
        store.begin_batch(batch_id);
    }
    BatchTransaction(const BatchTransaction&) = delete;
    BatchTransaction& operator=(const BatchTransaction&) = delete;
    BatchTransaction(BatchTransaction&& other) noexcept : store_(std::exchange(other.store_, nullptr)) {}
    BatchTransaction& operator=(BatchTransaction&&) = delete;
    ~BatchTransaction() {
        if (store_) store_->rollback_batch();
    }

    void append(std::string_view table, const Batch& rows) { store_->append(table, rows); }
    void commit(std::string_view metrics_json = "{}") {
        store_->commit_batch(metrics_json);
        store_ = nullptr;
    }
    void rollback() noexcept {
        if (store_) store_->rollback_batch();
        store_ = nullptr;
    }

private:
    Store* store_;
};

inline BatchTransaction Store::transaction(std::uint64_t batch_id) {
    return BatchTransaction(*this, batch_id);
}

}  // namespace isoflow
