// Stores micro-batches in SQLite the way a pipeline does: plan, write every table and the source
// positions in one transaction, commit; then shows what a restart would replay and the event log.
//
//   isoflow_example_store_sqlite [STORAGE_DIR]     (default: ./store_example)
//   sqlite3 STORAGE_DIR/pipeline.db 'SELECT * FROM gold LIMIT 5'
#include <cstdio>
#include <exception>
#include <string>
#include <vector>

#include "isoflow/store.hpp"

int main(int argc, char** argv) {
    using namespace isoflow;
    const std::string storage = argc > 1 ? argv[1] : "store_example";
    try {
        SqliteStore store(storage);
        const std::uint64_t batch_id = store.last_committed_batch().value_or(0) + 1;

        // 1. The plan, recorded before any row is written: after a crash it is replayed as is.
        store.record_plan(batch_id, R"({"files": ["landing/part-1.json"]})", "sha256:model-v3");

        // 2. Rows for two tables; Amount is null in the last row.
        Batch bronze;
        bronze.add_column("cust_id", Column::from_int64s(std::vector<std::int64_t>{17, 17, 42}));
        Column amount(DataType::float64);
        amount.append_double(12.5);
        amount.append_double(990.0);
        amount.append_null();
        bronze.add_column("Amount", std::move(amount));
        Batch gold;
        gold.add_column("cust_id", Column::from_int64s(std::vector<std::int64_t>{17, 17}));
        gold.add_column("anomaly_score", Column::from_doubles(std::vector<double>{0.41, 0.73}));
        Column flag(DataType::boolean);
        flag.append_bool(false);
        flag.append_bool(true);
        gold.add_column("is_anomaly", std::move(flag));

        // 3. One transaction: rows, seen files, the event, the commit mark. An exception before
        //    commit() rolls all of it back.
        {
            auto tx = store.transaction(batch_id);
            tx.append("bronze", bronze);
            tx.append("gold", gold);
            const SeenFileEntry seen{"landing/part-" + std::to_string(batch_id) + ".json", 1234, 0, batch_id};
            store.commit_source_plan("transactions", batch_id, std::span(&seen, 1));
            store.append_event(Event{.origin = {"example", "gold", batch_id},
                                     .level = "METRICS",
                                     .event_type = "flow_progress",
                                     .message = "gold: 2 rows",
                                     .details = R"({"num_output_rows": 2})"});
            tx.commit(R"({"rows_in": 3, "rows_out": 2})");
        }

        std::printf("storage %s, batch %llu committed\n", store.database_path().string().c_str(),
                    static_cast<unsigned long long>(batch_id));
        for (const auto& t : store.row_counts())
            std::printf("  %-8s %llu rows\n", t.table.c_str(), static_cast<unsigned long long>(t.rows));
        for (const auto& b : store.last_batches(3))
            std::printf("  batch %llu %s %s\n", static_cast<unsigned long long>(b.batch_id),
                        std::string(to_string(b.state)).c_str(), b.metrics.c_str());
        for (const auto& e : store.events_after(0, 5))
            std::printf("  event %lld %s %s %s\n", static_cast<long long>(e.sequence), e.timestamp.c_str(),
                        e.event_type.c_str(), e.message.c_str());

        // 4. A file sink writes the same table as one CSV file per batch.
        CsvSink csv(std::string(storage) + "/csv");
        if (csv.write("gold", batch_id, gold))
            std::printf("  wrote %s\n", csv.file_for("gold", batch_id).string().c_str());
        return 0;
    } catch (const std::exception& e) {
        std::fprintf(stderr, "error: %s\n", e.what());
        return 1;
    }
}
