// SqliteStore: every table, the batch log, the seen-file log and the event log of a pipeline in
// one SQLite file, `<storage>/pipeline.db`, queryable with the sqlite3 shell. See docs/storage.md
// for the layout and the guarantees.
//
// Settings: WAL journal, synchronous=NORMAL (a commit does not wait for fsync: the seen-file log
// commits with the rows, so a batch lost to a power cut is replayed from its files), 64 KiB pages,
// and inserts that bind as many rows per prepared statement as SQLite's parameter limit allows.
// One process owns a storage at a time (`<storage>/LOCK`); others may open it read-only.
// A SqliteStore is used from one thread at a time.
#pragma once

#include <sqlite3.h>

#include <algorithm>
#include <bit>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <random>
#include <span>
#include <string>
#include <string_view>
#include <system_error>
#include <unordered_map>
#include <utility>
#include <vector>

#include "isoflow/core/batch.hpp"
#include "isoflow/core/error.hpp"
#include "isoflow/store/detail/lock_file.hpp"
#include "isoflow/store/detail/sqlite.hpp"
#include "isoflow/store/detail/text.hpp"
#include "isoflow/store/store.hpp"

namespace isoflow {

struct SqliteStoreOptions {
    // Open for queries only (`isoflow status`, `isoflow events --follow` beside a running
    // pipeline): takes no lock, creates nothing, and every write is an io_error.
    bool read_only = false;
    // How long a statement waits for a lock another connection holds before store_busy_error.
    std::chrono::milliseconds busy_timeout{5000};
    // Rows bound per INSERT statement; 0 = enough rows for about 2048 bound values (64 rows of
    // 32 columns), which measured faster than filling SQLite's 32766-parameter limit (see
    // docs/storage.md). Never more than that limit allows.
    std::size_t max_rows_per_insert = 0;
    // fsync on every commit (synchronous=FULL) instead of only at checkpoints (NORMAL).
    bool sync_every_commit = false;
    // SQLite's page cache, in MiB.
    std::size_t cache_mib = 64;
};

namespace detail::store {

struct SqliteCloser {
    void operator()(sqlite3* db) const noexcept { sqlite3_close_v2(db); }
};

[[nodiscard]] constexpr std::string_view sql_type(DataType t) noexcept {
    switch (t) {
        case DataType::int64: return "BIGINT";
        case DataType::float64: return "DOUBLE";
        case DataType::boolean: return "BOOLEAN";
        case DataType::string: return "TEXT";
        case DataType::timestamp: return "TIMESTAMP";
    }
    return "TEXT";
}

[[nodiscard]] inline DataType data_type_of_declared(std::string_view declared) {
    if (auto t = parse_data_type(declared)) return *t;
    return DataType::string;  // a column someone else added with a type of their own
}

[[nodiscard]] inline bool starts_with_nocase(std::string_view s, std::string_view prefix) {
    return s.size() >= prefix.size() && iequals(s.substr(0, prefix.size()), prefix);
}

}  // namespace detail::store

class SqliteStore final : public Store {
public:
    static constexpr std::string_view database_file_name = "pipeline.db";
    static constexpr std::string_view lock_file_name = "LOCK";
    static constexpr int format_version = 1;
    // Bound values per multi-row INSERT by default: big enough to amortise a statement's step,
    // small enough that its registers stay in cache.
    static constexpr std::size_t values_per_insert = 2048;

    explicit SqliteStore(std::filesystem::path storage, SqliteStoreOptions options = {})
        : storage_(std::move(storage)), options_(options) {
        namespace fs = std::filesystem;
        db_path_ = storage_ / database_file_name;
        file_ = db_path_.string();
        if (!options_.read_only) {
            std::error_code ec;
            fs::create_directories(storage_, ec);
            if (ec)
                detail::throw_error<io_error>("cannot create storage folder '" + storage_.string() +
                                              "': " + ec.message() +
                                              (ec == std::errc::read_only_file_system ||
                                                       ec == std::errc::permission_denied
                                                   ? " (the storage is read-only)"
                                                   : ""));
            lock_ = detail::store::LockFile::acquire(storage_ / lock_file_name);
        } else if (!fs::exists(db_path_)) {
            detail::throw_error<io_error>("no pipeline database '" + file_ +
                                          "': the pipeline has not run with this storage yet");
        }
        open_database();
    }

    SqliteStore(const SqliteStore&) = delete;
    SqliteStore& operator=(const SqliteStore&) = delete;
    ~SqliteStore() override {
        rollback_batch();
        inserts_.clear();
        statements_.clear();
    }

    [[nodiscard]] const std::filesystem::path& storage() const noexcept { return storage_; }
    [[nodiscard]] const std::filesystem::path& database_path() const noexcept { return db_path_; }
    [[nodiscard]] bool read_only() const noexcept { return options_.read_only; }
    // The raw connection, for queries the interface does not offer. Do not write through it.
    [[nodiscard]] sqlite3* connection() const noexcept { return db_.get(); }

    [[nodiscard]] std::string describe() const override { return "sqlite:" + file_; }

    // --- tables -----------------------------------------------------------------------------
    TableChange ensure_table(std::string_view table, const Schema& schema) override {
        check_table_name(table);
        if (schema.empty())
            detail::throw_error<schema_error>("table '" + std::string(table) + "' needs at least one column");
        if (const Schema* known = cached_schema(table); known && covers(*known, schema, table)) return {};
        check_writable("changing table '" + std::string(table) + "'");
        check_distinct_names(table, schema);
        TableChange change;
        write_transaction("creating or evolving table '" + std::string(table) + "'", [&] {
            std::optional<Schema> existing = load_table_schema(table);
            const std::string doing = "creating table '" + std::string(table) + "'";
            if (!existing) {
                std::string sql = "CREATE TABLE ";
                detail::store::append_quoted_identifier(sql, table);
                sql += " (";
                for (std::size_t i = 0; i < schema.size(); ++i) {
                    if (i) sql += ", ";
                    detail::store::append_quoted_identifier(sql, schema.field(i).name);
                    sql += ' ';
                    sql += detail::store::sql_type(schema.field(i).type);
                }
                sql += ")";
                detail::store::exec(db(), sql, file_, doing);
                auto& reg = statement("INSERT OR IGNORE INTO _isoflow_tables(name, created_at) VALUES (?1, ?2)",
                                      doing);
                const std::string now = detail::store::now_iso_millis();
                reg.bind(1, table).bind(2, std::string_view(now));
                run(reg, doing);
                change.created = true;
                Schema created;
                for (const auto& f : schema.fields()) created.add(Field{f.name, f.type, true});
                schemas_[key(table)] = std::move(created);
                return;
            }
            (void)covers(*existing, schema, table);  // throws on a type conflict
            for (const auto& f : schema.fields()) {
                if (find_nocase(*existing, f.name)) continue;
                std::string sql = "ALTER TABLE ";
                detail::store::append_quoted_identifier(sql, table);
                sql += " ADD COLUMN ";
                detail::store::append_quoted_identifier(sql, f.name);
                sql += ' ';
                sql += detail::store::sql_type(f.type);
                detail::store::exec(db(), sql, file_,
                                    "adding column '" + f.name + "' to table '" + std::string(table) + "'");
                existing->add(Field{f.name, f.type, true});
                change.added_columns.push_back(Field{f.name, f.type, true});
            }
            schemas_[key(table)] = std::move(*existing);
        });
        if (change.changed()) inserts_.clear();
        return change;
    }

    [[nodiscard]] std::optional<Schema> table_schema(std::string_view table) const override {
        if (const Schema* s = cached_schema(table)) return *s;
        auto s = load_table_schema(table);
        if (s) schemas_[key(table)] = *s;
        return s;
    }

    [[nodiscard]] std::vector<std::string> tables() const override {
        const std::string doing = "listing tables";
        auto& st = statement("SELECT name FROM _isoflow_tables ORDER BY rowid", doing);
        std::vector<std::string> out;
        Reset r{st};
        while (st.step(file_, doing)) out.push_back(st.text(0));
        return out;
    }

    [[nodiscard]] std::vector<TableRowCount> row_counts() const override {
        std::vector<TableRowCount> out;
        for (auto& name : tables()) {
            const std::string doing = "counting the rows of table '" + name + "'";
            detail::store::Statement st(db(), "SELECT count(*) FROM " + detail::store::quote_identifier(name),
                                        file_, doing);
            st.step(file_, doing);
            out.push_back(TableRowCount{std::move(name), static_cast<std::uint64_t>(st.int64(0))});
        }
        return out;
    }

    [[nodiscard]] Batch read_table(std::string_view table,
                                   std::size_t limit = static_cast<std::size_t>(-1)) const override {
        const auto schema = table_schema(table);
        if (!schema)
            detail::throw_error<schema_error>("no table '" + std::string(table) + "' in '" + file_ + "'");
        std::string sql = "SELECT ";
        for (std::size_t i = 0; i < schema->size(); ++i) {
            if (i) sql += ", ";
            detail::store::append_quoted_identifier(sql, schema->field(i).name);
        }
        sql += " FROM ";
        detail::store::append_quoted_identifier(sql, table);
        sql += " ORDER BY rowid LIMIT ?1";
        const std::string doing = "reading table '" + std::string(table) + "'";
        detail::store::Statement st(db(), sql, file_, doing);
        st.bind(1, limit > static_cast<std::size_t>(INT64_MAX) ? INT64_MAX : static_cast<std::int64_t>(limit));
        std::vector<Column> columns;
        for (const auto& f : schema->fields()) columns.emplace_back(f.type);
        while (st.step(file_, doing)) {
            for (std::size_t c = 0; c < columns.size(); ++c) {
                const int i = static_cast<int>(c);
                if (st.is_null(i)) {
                    columns[c].append_null();
                    continue;
                }
                switch (columns[c].type()) {
                    case DataType::int64:
                    case DataType::timestamp: columns[c].append_int64(st.int64(i)); break;
                    case DataType::float64: columns[c].append_double(st.real(i)); break;
                    case DataType::boolean: columns[c].append_bool(st.int64(i) != 0); break;
                    case DataType::string: columns[c].append_string(st.text(i)); break;
                }
            }
        }
        Batch out;
        for (std::size_t c = 0; c < columns.size(); ++c) out.add_column(schema->field(c), std::move(columns[c]));
        return out;
    }

    // --- the batch log ----------------------------------------------------------------------
    void record_plan(std::uint64_t batch_id, std::string_view plan_json,
                     std::string_view model_checksum) override {
        const std::string doing = "recording the plan of batch " + std::to_string(batch_id);
        check_writable(doing);
        write_transaction(doing, [&] {
            refuse_committed(batch_id);
            auto& st = statement(
                "INSERT INTO _isoflow_batches(batch_id, state, plan, model_checksum, planned_at) "
                "VALUES (?1, 'planned', ?2, ?3, ?4) ON CONFLICT(batch_id) DO UPDATE SET "
                "plan = excluded.plan, model_checksum = excluded.model_checksum",
                doing);
            const std::string now = detail::store::now_iso_millis();
            st.bind(1, batch_id).bind(2, plan_json).bind(3, model_checksum).bind(4, std::string_view(now));
            run(st, doing);
        });
    }

    void begin_batch(std::uint64_t batch_id) override {
        const std::string doing = "starting batch " + std::to_string(batch_id);
        check_writable(doing);
        if (batch_)
            detail::throw_error<io_error>("cannot start batch " + std::to_string(batch_id) + " in '" + file_ +
                                          "': batch " + std::to_string(*batch_) + " is still open");
        detail::store::exec(db(), "BEGIN IMMEDIATE", file_, doing);
        try {
            refuse_committed(batch_id);
            auto& st = statement(
                "INSERT OR IGNORE INTO _isoflow_batches(batch_id, state, plan, model_checksum, planned_at) "
                "VALUES (?1, 'planned', '{}', '', ?2)",
                doing);
            const std::string now = detail::store::now_iso_millis();
            st.bind(1, batch_id).bind(2, std::string_view(now));
            run(st, doing);
        } catch (...) {
            rollback_transaction();
            throw;
        }
        batch_ = batch_id;
    }

    [[nodiscard]] bool in_batch() const noexcept override { return batch_.has_value(); }
    [[nodiscard]] std::optional<std::uint64_t> current_batch() const noexcept override { return batch_; }

    void append(std::string_view table, const Batch& rows) override {
        if (!batch_)
            detail::throw_error<io_error>("cannot append to table '" + std::string(table) + "' in '" + file_ +
                                          "' outside a batch: call begin_batch first");
        if (rows.num_columns() == 0) {
            if (rows.num_rows() == 0) return;
            detail::throw_error<schema_error>("rows for table '" + std::string(table) + "' have no columns");
        }
        ensure_table(table, rows.schema());
        insert_rows(table, rows);
    }

    void commit_batch(std::string_view metrics_json = "{}") override {
        if (!batch_) detail::throw_error<io_error>("no batch to commit in '" + file_ + "'");
        const std::string doing = "committing batch " + std::to_string(*batch_);
        try {
            auto& st = statement(
                "UPDATE _isoflow_batches SET state = 'committed', committed_at = ?2, metrics = ?3 "
                "WHERE batch_id = ?1",
                doing);
            const std::string now = detail::store::now_iso_millis();
            st.bind(1, *batch_).bind(2, std::string_view(now)).bind(3, metrics_json.empty() ? "{}" : metrics_json);
            run(st, doing);
            detail::store::exec(db(), "COMMIT", file_, doing);
        } catch (...) {
            rollback_batch();
            throw;
        }
        batch_.reset();
    }

    void rollback_batch() noexcept override {
        if (!batch_) return;
        rollback_transaction();
        batch_.reset();
    }

    [[nodiscard]] bool is_committed(std::uint64_t batch_id) const override {
        const std::string doing = "looking up batch " + std::to_string(batch_id);
        auto& st = statement("SELECT 1 FROM _isoflow_batches WHERE batch_id = ?1 AND state = 'committed'", doing);
        Reset r{st};
        st.bind(1, batch_id);
        return st.step(file_, doing);
    }

    [[nodiscard]] std::optional<std::uint64_t> last_committed_batch() const override {
        const std::string doing = "looking up the last committed batch";
        auto& st = statement("SELECT max(batch_id) FROM _isoflow_batches WHERE state = 'committed'", doing);
        Reset r{st};
        if (!st.step(file_, doing) || st.is_null(0)) return std::nullopt;
        return static_cast<std::uint64_t>(st.int64(0));
    }

    [[nodiscard]] std::optional<BatchRecord> pending_batch() const override {
        auto v = query_batches("WHERE state = 'planned' ORDER BY batch_id DESC LIMIT 1", std::nullopt);
        if (v.empty()) return std::nullopt;
        return std::move(v.front());
    }

    [[nodiscard]] std::optional<BatchRecord> batch(std::uint64_t batch_id) const override {
        auto v = query_batches("WHERE batch_id = ?1", static_cast<std::int64_t>(batch_id));
        if (v.empty()) return std::nullopt;
        return std::move(v.front());
    }

    [[nodiscard]] std::vector<BatchRecord> last_batches(std::size_t n) const override {
        return query_batches("ORDER BY batch_id DESC LIMIT ?1",
                             static_cast<std::int64_t>(std::min<std::size_t>(n, INT64_MAX)));
    }

    // --- source positions -------------------------------------------------------------------
    void save_source_plan(std::string_view source, std::uint64_t batch_id, std::string_view plan_json) override {
        const std::string doing = "saving the plan of batch " + std::to_string(batch_id) + " of source '" +
                                  std::string(source) + "'";
        check_writable(doing);
        write_transaction(doing, [&] {
            auto& st = statement(
                "INSERT INTO _isoflow_source_plans(source, batch_id, state, plan) VALUES (?1, ?2, 'planned', ?3) "
                "ON CONFLICT(source, batch_id) DO UPDATE SET plan = excluded.plan WHERE state = 'planned' "
                "RETURNING state",
                doing);
            st.bind(1, source).bind(2, batch_id).bind(3, plan_json);
            Reset r{st};
            const bool updated = st.step(file_, doing);
            while (st.step(file_, doing)) {
            }
            if (!updated)
                detail::throw_error<io_error>("batch " + std::to_string(batch_id) + " of source '" +
                                              std::string(source) + "' is already committed in '" + file_ +
                                              "': a committed plan is never planned again");
        });
    }

    [[nodiscard]] std::optional<std::pair<std::uint64_t, std::string>> pending_source_plan(
        std::string_view source) const override {
        const std::string doing = "looking up the pending plan of source '" + std::string(source) + "'";
        auto& st = statement(
            "SELECT batch_id, plan FROM _isoflow_source_plans WHERE source = ?1 AND state = 'planned' AND "
            "batch_id > (SELECT coalesce(max(batch_id), 0) FROM _isoflow_source_plans "
            "WHERE source = ?1 AND state = 'committed') ORDER BY batch_id DESC LIMIT 1",
            doing);
        Reset r{st};
        st.bind(1, source);
        if (!st.step(file_, doing)) return std::nullopt;
        return std::pair{static_cast<std::uint64_t>(st.int64(0)), st.text(1)};
    }

    void commit_source_plan(std::string_view source, std::uint64_t batch_id,
                            std::span<const SeenFileEntry> files) override {
        const std::string doing = "recording the files of batch " + std::to_string(batch_id) + " of source '" +
                                  std::string(source) + "'";
        check_writable(doing);
        write_transaction(doing, [&] {
            auto& plan = statement(
                "INSERT INTO _isoflow_source_plans(source, batch_id, state, plan) VALUES (?1, ?2, 'committed', '{}') "
                "ON CONFLICT(source, batch_id) DO UPDATE SET state = 'committed'",
                doing);
            plan.bind(1, source).bind(2, batch_id);
            run(plan, doing);
            auto& seen = statement(
                "INSERT OR REPLACE INTO _isoflow_seen_files(source, path, size, mtime_ns, batch_id) "
                "VALUES (?1, ?2, ?3, ?4, ?5)",
                doing);
            for (const auto& f : files) {
                seen.bind(1, source)
                    .bind(2, std::string_view(f.path))
                    .bind(3, f.size)
                    .bind(4, f.mtime_ns)
                    .bind(5, f.batch_id ? f.batch_id : batch_id);
                run(seen, doing);
            }
        });
    }

    [[nodiscard]] std::uint64_t last_source_batch(std::string_view source) const override {
        const std::string doing = "looking up the last batch of source '" + std::string(source) + "'";
        auto& st = statement(
            "SELECT coalesce(max(batch_id), 0) FROM _isoflow_source_plans WHERE source = ?1 AND state = 'committed'",
            doing);
        Reset r{st};
        st.bind(1, source);
        st.step(file_, doing);
        return static_cast<std::uint64_t>(st.int64(0));
    }

    [[nodiscard]] std::optional<SeenFileEntry> find_seen_file(std::string_view source,
                                                              std::string_view path) const override {
        const std::string doing = "looking up a seen file of source '" + std::string(source) + "'";
        auto& st = statement(
            "SELECT path, size, mtime_ns, batch_id FROM _isoflow_seen_files WHERE source = ?1 AND path = ?2", doing);
        Reset r{st};
        st.bind(1, source).bind(2, path);
        if (!st.step(file_, doing)) return std::nullopt;
        return SeenFileEntry{st.text(0), static_cast<std::uint64_t>(st.int64(1)), st.int64(2),
                             static_cast<std::uint64_t>(st.int64(3))};
    }

    [[nodiscard]] std::uint64_t seen_file_count(std::string_view source) const override {
        const std::string doing = "counting the seen files of source '" + std::string(source) + "'";
        auto& st = statement("SELECT count(*) FROM _isoflow_seen_files WHERE source = ?1", doing);
        Reset r{st};
        st.bind(1, source);
        st.step(file_, doing);
        return static_cast<std::uint64_t>(st.int64(0));
    }

    void save_source_schema(std::string_view source, std::uint64_t version, const Schema& schema) override {
        const std::string doing = "saving schema version " + std::to_string(version) + " of source '" +
                                  std::string(source) + "'";
        check_writable(doing);
        std::string json = "[";
        for (std::size_t i = 0; i < schema.size(); ++i) {
            json += i ? ", {\"name\": " : "{\"name\": ";
            detail::store::append_json_string(json, schema.field(i).name);
            json += ", \"type\": \"";
            json += to_string(schema.field(i).type);
            json += "\"}";
        }
        json += "]";
        write_transaction(doing, [&] {
            auto& st = statement(
                "INSERT OR REPLACE INTO _isoflow_source_schemas(source, version, schema) VALUES (?1, ?2, ?3)", doing);
            st.bind(1, source).bind(2, version).bind(3, std::string_view(json));
            run(st, doing);
        });
    }

    [[nodiscard]] std::optional<std::pair<std::uint64_t, Schema>> latest_source_schema(
        std::string_view source) const override {
        const std::string doing = "reading the schema of source '" + std::string(source) + "'";
        auto& st = statement(
            "SELECT s.version, json_extract(j.value, '$.name'), json_extract(j.value, '$.type') "
            "FROM (SELECT version, schema FROM _isoflow_source_schemas WHERE source = ?1 "
            "ORDER BY version DESC LIMIT 1) AS s, json_each(s.schema) AS j ORDER BY j.key",
            doing);
        Reset r{st};
        st.bind(1, source);
        std::optional<std::pair<std::uint64_t, Schema>> out;
        while (st.step(file_, doing)) {
            if (!out) out.emplace(static_cast<std::uint64_t>(st.int64(0)), Schema{});
            const std::string type = st.text(2);
            const auto t = parse_data_type(type);
            if (!t)
                detail::throw_error<io_error>("schema of source '" + std::string(source) + "' in '" + file_ +
                                              "' has unknown type '" + type + "' for column '" + st.text(1) + "'");
            out->second.add(Field{st.text(1), *t, true});
        }
        return out;
    }

    [[nodiscard]] std::optional<std::string> source_property(std::string_view source,
                                                             std::string_view key) const override {
        const std::string doing = "reading property '" + std::string(key) + "' of source '" + std::string(source) + "'";
        auto& st = statement("SELECT value FROM _isoflow_source_properties WHERE source = ?1 AND key = ?2", doing);
        Reset r{st};
        st.bind(1, source).bind(2, key);
        if (!st.step(file_, doing)) return std::nullopt;
        return st.text(0);
    }

    void set_source_property(std::string_view source, std::string_view key, std::string_view value) override {
        const std::string doing = "saving property '" + std::string(key) + "' of source '" + std::string(source) + "'";
        check_writable(doing);
        write_transaction(doing, [&] {
            auto& st = statement(
                "INSERT OR REPLACE INTO _isoflow_source_properties(source, key, value) VALUES (?1, ?2, ?3)", doing);
            st.bind(1, source).bind(2, key).bind(3, value);
            run(st, doing);
        });
    }

    // --- the event log ----------------------------------------------------------------------
    std::int64_t append_event(Event event) override {
        const std::string doing = "appending a '" + event.event_type + "' event";
        check_writable(doing);
        if (event.event_type.empty()) detail::throw_error<io_error>("an event needs an event_type");
        if (event.id.empty()) event.id = new_uuid();
        if (event.timestamp.empty()) event.timestamp = detail::store::now_iso_millis();
        if (event.level.empty()) event.level = "INFO";
        if (event.details.empty()) event.details = "{}";
        if (!json_valid(event.details))
            detail::throw_error<parse_error>("details of the '" + event.event_type +
                                             "' event are not valid JSON: " + event.details.substr(0, 200));
        std::string origin = "{\"pipeline\": ";
        detail::store::append_json_string(origin, event.origin.pipeline);
        origin += ", \"table\": ";
        if (event.origin.table.empty())
            origin += "null";
        else
            detail::store::append_json_string(origin, event.origin.table);
        origin += ", \"batch_id\": ";
        if (event.origin.batch_id)
            origin += std::to_string(*event.origin.batch_id);
        else
            origin += "null";
        origin += "}";
        std::int64_t sequence = 0;
        write_transaction(doing, [&] {
            auto& st = statement(
                "INSERT INTO _isoflow_events(id, origin, timestamp, level, event_type, message, details) "
                "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                doing);
            st.bind(1, std::string_view(event.id))
                .bind(2, std::string_view(origin))
                .bind(3, std::string_view(event.timestamp))
                .bind(4, std::string_view(event.level))
                .bind(5, std::string_view(event.event_type))
                .bind(6, std::string_view(event.message))
                .bind(7, std::string_view(event.details));
            run(st, doing);
            sequence = sqlite3_last_insert_rowid(db());
        });
        return sequence;
    }

    [[nodiscard]] std::vector<Event> events_after(std::int64_t sequence, std::size_t limit = 1000) const override {
        const std::string doing = "reading the event log";
        auto& st = statement(
            "SELECT id, sequence, json_extract(origin, '$.pipeline'), json_extract(origin, '$.table'), "
            "json_extract(origin, '$.batch_id'), timestamp, level, event_type, message, details "
            "FROM _isoflow_events WHERE sequence > ?1 ORDER BY sequence LIMIT ?2",
            doing);
        Reset r{st};
        st.bind(1, sequence).bind(2, static_cast<std::int64_t>(std::min<std::size_t>(limit, INT64_MAX)));
        std::vector<Event> out;
        while (st.step(file_, doing)) {
            Event e;
            e.id = st.text(0);
            e.sequence = st.int64(1);
            e.origin.pipeline = st.text(2);
            e.origin.table = st.text(3);
            if (!st.is_null(4)) e.origin.batch_id = static_cast<std::uint64_t>(st.int64(4));
            e.timestamp = st.text(5);
            e.level = st.text(6);
            e.event_type = st.text(7);
            e.message = st.text(8);
            e.details = st.text(9);
            out.push_back(std::move(e));
        }
        return out;
    }

    // --- maintenance ------------------------------------------------------------------------
    void reset() override {
        const std::string doing = "resetting the storage (full refresh)";
        check_writable(doing);
        if (batch_) detail::throw_error<io_error>("cannot reset '" + file_ + "' while batch " +
                                                  std::to_string(*batch_) + " is open");
        const auto names = tables();
        write_transaction(doing, [&] {
            for (const auto& name : names)
                detail::store::exec(db(), "DROP TABLE IF EXISTS " + detail::store::quote_identifier(name), file_,
                                    "dropping table '" + name + "'");
            detail::store::exec(db(),
                                "DELETE FROM _isoflow_tables; DELETE FROM _isoflow_batches; "
                                "DELETE FROM _isoflow_seen_files; DELETE FROM _isoflow_source_plans; "
                                "DELETE FROM _isoflow_source_schemas; DELETE FROM _isoflow_source_properties;",
                                file_, doing);
        });
        schemas_.clear();
        inserts_.clear();
    }

private:
    // Resets a statement when leaving scope, so a cached statement never stays mid-iteration.
    struct Reset {
        detail::store::Statement& st;
        ~Reset() { st.reset(); }
    };

    [[nodiscard]] sqlite3* db() const noexcept { return db_.get(); }

    void open_database() {
        if (options_.read_only) {
            try {
                open_connection(file_, SQLITE_OPEN_READONLY);
            } catch (const io_error&) {
                // On a read-only file system SQLite cannot create the WAL index (-shm) a reader
                // needs; nobody can write there either, so the file may be read as immutable.
                if ((sqlite3_extended_errcode(db()) & 0xff) != SQLITE_CANTOPEN) throw;
                open_connection(immutable_uri(), SQLITE_OPEN_READONLY | SQLITE_OPEN_URI);
            }
            return;
        }
        open_connection(file_, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE);
    }

    [[nodiscard]] std::string immutable_uri() const {
        std::string uri = "file:";
        static constexpr char hex[] = "0123456789ABCDEF";
        for (const char c : std::filesystem::absolute(db_path_).generic_string()) {
            const auto u = static_cast<unsigned char>(c);
            if (c == '%' || c == '?' || c == '#' || u < 0x21 || u >= 0x7f) {
                uri += '%';
                uri += hex[u >> 4];
                uri += hex[u & 15];
            } else {
                uri += c;
            }
        }
        return uri + "?immutable=1";
    }

    void open_connection(const std::string& name, int flags) {
        sqlite3* raw = nullptr;
        const int rc = sqlite3_open_v2(name.c_str(), &raw, flags | SQLITE_OPEN_NOMUTEX, nullptr);
        db_.reset(raw);
        if (rc != SQLITE_OK) detail::store::throw_sqlite(raw, rc, "opening the database", file_);
        sqlite3_extended_result_codes(db(), 1);
        sqlite3_busy_timeout(db(), static_cast<int>(std::min<std::int64_t>(options_.busy_timeout.count(), INT32_MAX)));
        const int vars = sqlite3_limit(db(), SQLITE_LIMIT_VARIABLE_NUMBER, -1);
        max_variables_ = vars > 0 ? static_cast<std::size_t>(vars) : 999;
        const std::string doing = "opening the database";
        if (options_.read_only) {
            // Reading the schema here turns a corrupt file into an error now, not at first use.
            detail::store::exec(db(), "SELECT count(*) FROM sqlite_schema", file_, doing);
            check_format();
            return;
        }
        if (sqlite3_db_readonly(db(), "main") == 1)
            detail::throw_error<io_error>("storage is read-only: cannot open '" + file_ +
                                          "' for writing (check its permissions and the file system)");
        // The page size must be set before the first table exists; later it is a no-op.
        detail::store::exec(db(), "PRAGMA page_size = 65536", file_, doing);
        {
            detail::store::Statement st(db(), "PRAGMA journal_mode = WAL", file_, doing);
            st.step(file_, doing);
            if (st.text(0) != "wal")
                detail::throw_error<io_error>("cannot switch '" + file_ + "' to WAL mode (journal mode is '" +
                                              st.text(0) + "'): is the file system able to share memory maps?");
        }
        detail::store::exec(db(),
                            std::string("PRAGMA synchronous = ") + (options_.sync_every_commit ? "FULL" : "NORMAL") +
                                "; PRAGMA journal_size_limit = 67108864; PRAGMA temp_store = MEMORY; PRAGMA cache_size = -" +
                                std::to_string(options_.cache_mib * 1024) + ";",
                            file_, doing);
        write_transaction("creating the store's tables", [&] {
            detail::store::exec(db(), R"sql(
CREATE TABLE IF NOT EXISTS _isoflow_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
INSERT OR IGNORE INTO _isoflow_meta (key, value) VALUES ('format_version', '1');
CREATE TABLE IF NOT EXISTS _isoflow_tables (
    name TEXT PRIMARY KEY COLLATE NOCASE,
    created_at TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS _isoflow_batches (
    batch_id INTEGER PRIMARY KEY,
    state TEXT NOT NULL CHECK (state IN ('planned', 'committed')),
    plan TEXT NOT NULL,
    model_checksum TEXT NOT NULL DEFAULT '',
    planned_at TEXT NOT NULL,
    committed_at TEXT,
    metrics TEXT);
CREATE TABLE IF NOT EXISTS _isoflow_source_plans (
    source TEXT NOT NULL,
    batch_id INTEGER NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('planned', 'committed')),
    plan TEXT NOT NULL,
    PRIMARY KEY (source, batch_id));
CREATE TABLE IF NOT EXISTS _isoflow_seen_files (
    source TEXT NOT NULL,
    path TEXT NOT NULL,
    size INTEGER NOT NULL,
    mtime_ns INTEGER NOT NULL,
    batch_id INTEGER NOT NULL,
    PRIMARY KEY (source, path)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS _isoflow_source_schemas (
    source TEXT NOT NULL,
    version INTEGER NOT NULL,
    schema TEXT NOT NULL,
    PRIMARY KEY (source, version));
CREATE TABLE IF NOT EXISTS _isoflow_source_properties (
    source TEXT NOT NULL,
    key TEXT NOT NULL,
    value TEXT NOT NULL,
    PRIMARY KEY (source, key));
CREATE TABLE IF NOT EXISTS _isoflow_events (
    id TEXT NOT NULL UNIQUE,
    sequence INTEGER PRIMARY KEY AUTOINCREMENT,
    origin TEXT NOT NULL,
    timestamp TEXT NOT NULL,
    level TEXT NOT NULL,
    event_type TEXT NOT NULL,
    message TEXT NOT NULL,
    details TEXT NOT NULL);
)sql",
                                file_, "creating the store's tables");
        });
        check_format();
    }

    void check_format() {
        const std::string doing = "checking the store's format";
        detail::store::Statement st(db(), "SELECT value FROM _isoflow_meta WHERE key = 'format_version'", file_, doing);
        if (!st.step(file_, doing))
            detail::throw_error<io_error>("'" + file_ + "' is an SQLite database but not an isoflow store");
        const std::string v = st.text(0);
        if (v != std::to_string(format_version))
            detail::throw_error<io_error>("'" + file_ + "' has store format version " + v +
                                          " but this isoflow reads version " + std::to_string(format_version));
    }

    void check_writable(const std::string& doing) const {
        if (options_.read_only)
            detail::throw_error<io_error>("store '" + file_ + "' is open read-only: cannot do " + doing);
    }

    void check_table_name(std::string_view table) const {
        if (table.empty()) detail::throw_error<schema_error>("a table name must not be empty");
        if (table.find('\0') != std::string_view::npos)
            detail::throw_error<schema_error>("table name contains a NUL character");
        if (detail::store::starts_with_nocase(table, "sqlite_") || detail::store::starts_with_nocase(table, "_isoflow_"))
            detail::throw_error<schema_error>("table name '" + std::string(table) +
                                              "' is reserved: names starting with 'sqlite_' or '_isoflow_' "
                                              "belong to SQLite and the store");
    }

    // SQLite compares column names without regard to ASCII case, so two such names cannot coexist.
    void check_distinct_names(std::string_view table, const Schema& schema) const {
        for (std::size_t i = 0; i < schema.size(); ++i) {
            const auto& n = schema.field(i).name;
            if (n.empty() || n.find('\0') != std::string::npos)
                detail::throw_error<schema_error>("table '" + std::string(table) + "': column " +
                                                  std::to_string(i + 1) + " has an empty or invalid name");
            for (std::size_t j = 0; j < i; ++j)
                if (detail::iequals(schema.field(j).name, n))
                    detail::throw_error<schema_error>("table '" + std::string(table) + "': columns '" +
                                                      schema.field(j).name + "' and '" + n +
                                                      "' differ only by case, which SQLite cannot store apart");
        }
    }

    [[nodiscard]] static std::optional<std::size_t> find_nocase(const Schema& s, std::string_view name) {
        for (std::size_t i = 0; i < s.size(); ++i)
            if (detail::iequals(s.field(i).name, name)) return i;
        return std::nullopt;
    }

    // True when `existing` holds every column of `wanted` with a type that accepts it; throws
    // schema_error on a type conflict.
    bool covers(const Schema& existing, const Schema& wanted, std::string_view table) const {
        bool all = true;
        for (const auto& f : wanted.fields()) {
            const auto i = find_nocase(existing, f.name);
            if (!i) {
                all = false;
                continue;
            }
            const DataType have = existing.field(*i).type;
            if (have == f.type || (have == DataType::float64 && f.type == DataType::int64)) continue;
            detail::throw_error<schema_error>(
                "table '" + std::string(table) + "' in '" + file_ + "' has column '" + existing.field(*i).name +
                "' as " + std::string(detail::store::sql_type(have)) + " but the rows hold it as " +
                std::string(detail::store::sql_type(f.type)) + "; expected the same type (or BIGINT into DOUBLE)");
        }
        return all;
    }

    [[nodiscard]] static std::string key(std::string_view table) { return detail::to_lower(table); }

    [[nodiscard]] const Schema* cached_schema(std::string_view table) const {
        const auto it = schemas_.find(key(table));
        return it == schemas_.end() ? nullptr : &it->second;
    }

    [[nodiscard]] std::optional<Schema> load_table_schema(std::string_view table) const {
        const std::string doing = "reading the columns of table '" + std::string(table) + "'";
        auto& st = statement("SELECT name, type FROM pragma_table_info(?1) ORDER BY cid", doing);
        Reset r{st};
        st.bind(1, table);
        std::optional<Schema> out;
        while (st.step(file_, doing)) {
            if (!out) out.emplace();
            out->add(Field{st.text(0), detail::store::data_type_of_declared(st.text(1)), true});
        }
        return out;
    }

    // A cached prepared statement for fixed SQL.
    detail::store::Statement& statement(const char* sql, std::string_view doing) const {
        auto it = statements_.find(sql);
        if (it == statements_.end())
            it = statements_.emplace(sql, detail::store::Statement(db(), sql, file_, doing)).first;
        return it->second;
    }

    void run(detail::store::Statement& st, std::string_view doing) const {
        Reset r{st};
        while (st.step(file_, doing)) {
        }
    }

    void refuse_committed(std::uint64_t batch_id) const {
        if (is_committed(batch_id))
            detail::throw_error<io_error>("batch " + std::to_string(batch_id) + " is already committed in '" + file_ +
                                          "': a batch id is committed once only");
    }

    // Runs `body` in the open batch's transaction, or in a transaction of its own.
    template <class F>
    void write_transaction(const std::string& doing, F&& body) {
        if (batch_) {
            body();
            return;
        }
        detail::store::exec(db(), "BEGIN IMMEDIATE", file_, doing);
        try {
            body();
            detail::store::exec(db(), "COMMIT", file_, doing);
        } catch (...) {
            rollback_transaction();
            throw;
        }
    }

    void rollback_transaction() noexcept {
        // SQLite rolls back on its own after some errors (a full disk); ROLLBACK would then fail.
        if (db_ && !sqlite3_get_autocommit(db())) sqlite3_exec(db(), "ROLLBACK", nullptr, nullptr, nullptr);
        schemas_.clear();
        inserts_.clear();
    }

    [[nodiscard]] std::vector<BatchRecord> query_batches(const char* tail, std::optional<std::int64_t> arg) const {
        const std::string sql =
            std::string("SELECT batch_id, state, plan, model_checksum, planned_at, committed_at, metrics "
                        "FROM _isoflow_batches ") +
            tail;
        const std::string doing = "reading the batch log";
        detail::store::Statement st(db(), sql, file_, doing);
        if (arg) st.bind(1, *arg);
        std::vector<BatchRecord> out;
        while (st.step(file_, doing)) {
            BatchRecord b;
            b.batch_id = static_cast<std::uint64_t>(st.int64(0));
            b.state = st.text(1) == "committed" ? BatchState::committed : BatchState::planned;
            b.plan = st.text(2);
            b.model_checksum = st.text(3);
            b.planned_at = st.text(4);
            b.committed_at = st.text(5);
            b.metrics = st.is_null(6) ? std::string() : st.text(6);
            out.push_back(std::move(b));
        }
        return out;
    }

    [[nodiscard]] bool json_valid(const std::string& text) const {
        const std::string doing = "checking event details";
        auto& st = statement("SELECT json_valid(?1)", doing);
        Reset r{st};
        st.bind(1, std::string_view(text));
        return st.step(file_, doing) && st.int64(0) == 1;
    }

    [[nodiscard]] std::string new_uuid() {
        if (!rng_seeded_) {
            std::random_device rd;
            rng_.seed((static_cast<std::uint64_t>(rd()) << 32) ^ rd() ^
                      static_cast<std::uint64_t>(detail::store::now_micros()));
            rng_seeded_ = true;
        }
        std::uint64_t hi = rng_(), lo = rng_();
        hi = (hi & ~std::uint64_t{0xF000}) | 0x4000;              // version 4
        lo = (lo & ~(std::uint64_t{0xC} << 60)) | (std::uint64_t{0x8} << 60);  // variant 10
        static constexpr char hex[] = "0123456789abcdef";
        std::string out;
        for (int i = 0; i < 32; ++i) {
            const std::uint64_t word = i < 16 ? hi : lo;
            const int shift = 60 - 4 * (i % 16);
            out += hex[(word >> shift) & 0xF];
            if (i == 7 || i == 11 || i == 15 || i == 19) out += '-';
        }
        return out;
    }

    // --- inserting ----------------------------------------------------------------------------
    detail::store::Statement& insert_statement(std::string_view table, const Schema& schema, std::size_t rows) {
        std::string cache_key = key(table);
        cache_key += '\0';
        cache_key += std::to_string(rows);
        for (const auto& f : schema.fields()) {
            cache_key += '\0';
            cache_key += f.name;
        }
        auto it = inserts_.find(cache_key);
        if (it != inserts_.end()) return it->second;
        std::string sql = "INSERT INTO ";
        detail::store::append_quoted_identifier(sql, table);
        sql += " (";
        for (std::size_t c = 0; c < schema.size(); ++c) {
            if (c) sql += ", ";
            detail::store::append_quoted_identifier(sql, schema.field(c).name);
        }
        sql += ") VALUES ";
        std::string one_row = "(";
        for (std::size_t c = 0; c < schema.size(); ++c) one_row += c ? ",?" : "?";
        one_row += ")";
        sql.reserve(sql.size() + rows * (one_row.size() + 1));
        for (std::size_t r = 0; r < rows; ++r) {
            if (r) sql += ',';
            sql += one_row;
        }
        const std::string doing = "preparing inserts into table '" + std::string(table) + "'";
        return inserts_.emplace(std::move(cache_key), detail::store::Statement(db(), sql, file_, doing)).first->second;
    }

    void insert_rows(std::string_view table, const Batch& rows) {
        const std::size_t ncols = rows.num_columns();
        const std::size_t nrows = rows.num_rows();
        if (nrows == 0) return;
        std::size_t per = std::max<std::size_t>(1, max_variables_ / ncols);
        per = std::min(per, options_.max_rows_per_insert ? options_.max_rows_per_insert
                                                         : std::max<std::size_t>(1, values_per_insert / ncols));
        const std::string doing = "appending to table '" + std::string(table) + "'";
        std::size_t first = 0;
        while (first < nrows) {
            const std::size_t left = nrows - first;
            // Full statements, then the rest in power-of-two pieces: at most ~10 statement shapes.
            const std::size_t n = left >= per ? per : std::bit_floor(left);
            auto& st = insert_statement(table, rows.schema(), n);
            bind_rows(st.get(), rows, first, n);
            run(st, doing);
            first += n;
        }
    }

    static void bind_rows(sqlite3_stmt* st, const Batch& rows, std::size_t first, std::size_t n) {
        const std::size_t ncols = rows.num_columns();
        for (std::size_t c = 0; c < ncols; ++c) {
            const Column& col = rows.column(c);
            const bool any_null = col.null_count() != 0;
            int param = static_cast<int>(c) + 1;
            const int stride = static_cast<int>(ncols);
            switch (col.type()) {
                case DataType::int64:
                case DataType::timestamp: {
                    const auto v = col.int64_values();
                    for (std::size_t r = first; r < first + n; ++r, param += stride)
                        (any_null && col.is_null(r)) ? sqlite3_bind_null(st, param)
                                                     : sqlite3_bind_int64(st, param, v[r]);
                    break;
                }
                case DataType::float64: {
                    const auto v = col.double_values();
                    for (std::size_t r = first; r < first + n; ++r, param += stride)
                        (any_null && col.is_null(r)) ? sqlite3_bind_null(st, param)
                                                     : sqlite3_bind_double(st, param, v[r]);
                    break;
                }
                case DataType::boolean: {
                    const auto v = col.bool_values();
                    for (std::size_t r = first; r < first + n; ++r, param += stride)
                        (any_null && col.is_null(r)) ? sqlite3_bind_null(st, param)
                                                     : sqlite3_bind_int(st, param, v[r] ? 1 : 0);
                    break;
                }
                case DataType::string: {
                    const auto offsets = col.string_offsets();
                    const char* chars = col.string_data().data();
                    for (std::size_t r = first; r < first + n; ++r, param += stride) {
                        if (any_null && col.is_null(r)) {
                            sqlite3_bind_null(st, param);
                            continue;
                        }
                        const std::size_t len = offsets[r + 1] - offsets[r];
                        sqlite3_bind_text64(st, param, len ? chars + offsets[r] : "", len, SQLITE_STATIC,
                                            SQLITE_UTF8);
                    }
                    break;
                }
            }
        }
    }

    std::filesystem::path storage_;
    SqliteStoreOptions options_;
    std::filesystem::path db_path_;
    std::string file_;
    detail::store::LockFile lock_;
    std::unique_ptr<sqlite3, detail::store::SqliteCloser> db_;
    std::size_t max_variables_ = 999;
    std::optional<std::uint64_t> batch_;
    // Declared after db_, so they are finalized before the connection closes.
    mutable std::unordered_map<std::string, detail::store::Statement> statements_;
    mutable std::unordered_map<std::string, Schema> schemas_;
    std::unordered_map<std::string, detail::store::Statement> inserts_;
    std::mt19937_64 rng_;
    bool rng_seeded_ = false;
};

}  // namespace isoflow
