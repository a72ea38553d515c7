// `isoflow run`, `isoflow status` and `isoflow events`.
#pragma once

#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <string>
#include <thread>

#include <isoflow/pipeline.hpp>

namespace isoflow_cli {

inline std::atomic<bool>& stop_requested() {
    static std::atomic<bool> flag{false};
    return flag;
}

extern "C" inline void isoflow_cli_on_signal(int) { stop_requested().store(true); }

// SIGINT and SIGTERM finish the current batch, then the program exits 0.
inline void install_stop_handlers() {
    std::signal(SIGINT, isoflow_cli_on_signal);
    std::signal(SIGTERM, isoflow_cli_on_signal);
}

inline void print_status(isoflow::Store& store, std::size_t batches = 5) {
    std::printf("tables (%s):\n", store.describe().c_str());
    for (const auto& t : store.row_counts())
        std::printf("  %-40s %12llu rows\n", t.table.c_str(), static_cast<unsigned long long>(t.rows));
    const auto last = store.last_batches(batches);
    std::printf("last batches:\n");
    if (last.empty()) std::printf("  (none)\n");
    for (const auto& b : last)
        std::printf("  batch %llu %s %s\n    metrics: %s\n", static_cast<unsigned long long>(b.batch_id),
                    std::string(isoflow::to_string(b.state)).c_str(),
                    (b.committed_at.empty() ? b.planned_at : b.committed_at).c_str(), b.metrics.c_str());
}

inline void print_event(const isoflow::Event& e) {
    std::string origin = e.origin.pipeline;
    if (!e.origin.table.empty()) origin += "/" + e.origin.table;
    if (e.origin.batch_id) origin += "#" + std::to_string(*e.origin.batch_id);
    std::printf("%lld %s %-7s %-15s %s: %s %s\n", static_cast<long long>(e.sequence), e.timestamp.c_str(),
                e.level.c_str(), e.event_type.c_str(), origin.c_str(), e.message.c_str(), e.details.c_str());
}

struct RunArgs {
    std::string pipeline;
    bool once = false;
    bool continuous = false;
    bool full_refresh = false;
};

inline int run_pipeline(const RunArgs& a) {
    install_stop_handlers();
    isoflow::Pipeline pipeline = isoflow::Pipeline::from_file(a.pipeline);
    if (a.full_refresh) pipeline.full_refresh();
    const auto start = std::chrono::steady_clock::now();
    const auto summary = a.continuous ? pipeline.run_continuous(stop_requested())
                                      : pipeline.run_once(&stop_requested());
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    std::printf("%s: %llu batches, %llu input rows in %.2f s (%.0f rows/s)\n", pipeline.spec().name.c_str(),
                static_cast<unsigned long long>(summary.batches), static_cast<unsigned long long>(summary.input_rows),
                seconds, static_cast<double>(summary.input_rows) / std::max(seconds, 1e-9));
    for (const auto& [table, rows] : summary.table_rows)
        std::printf("  %-40s +%llu rows\n", table.c_str(), static_cast<unsigned long long>(rows));
    return 0;
}

inline int pipeline_status(const std::string& file) {
    const auto spec = isoflow::load_pipeline_spec(file);
    isoflow::SqliteStoreOptions options;
    options.read_only = true;
    isoflow::SqliteStore store(spec.storage, options);
    print_status(store);
    return 0;
}

inline int pipeline_events(const std::string& file, bool follow) {
    install_stop_handlers();
    const auto spec = isoflow::load_pipeline_spec(file);
    isoflow::SqliteStoreOptions options;
    options.read_only = true;
    isoflow::SqliteStore store(spec.storage, options);
    std::int64_t last = 0;
    for (;;) {
        for (const auto& e : store.events_after(last)) {
            print_event(e);
            last = e.sequence;
        }
        std::fflush(stdout);
        if (!follow || stop_requested().load()) return 0;
        std::this_thread::sleep_for(std::chrono::milliseconds(200));
    }
}

}  // namespace isoflow_cli
