// `isoflow run`, `isoflow status` and `isoflow events`.
#pragma once

#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <filesystem>
#include <fstream>
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

// Tables that pipeline.db does not hold: those written as files (one per batch) and those not
// stored at all.
inline void print_other_tables(const isoflow::PipelineSpec& spec) {
    namespace fs = std::filesystem;
    bool header = false;
    auto line = [&](const std::string& table, const std::string& what) {
        if (!header) std::printf("tables outside pipeline.db:\n");
        header = true;
        std::printf("  %-40s %s\n", table.c_str(), what.c_str());
    };
    for (const auto& t : spec.tables) {
        if (!t.stored) {
            line(t.name, "not stored (feeds later tables)");
            continue;
        }
        if (!t.sink) continue;
        const bool csv = t.sink->format == isoflow::FileSinkSpec::Format::csv;
        for (const std::string& name : {t.name, t.name + "_quarantine"}) {
            const fs::path folder = t.sink->path / name;
            std::error_code ec;
            if (name != t.name && !fs::exists(folder, ec)) continue;
            std::uint64_t files = 0, rows = 0;
            for (auto it = fs::directory_iterator(folder, ec); !ec && it != fs::directory_iterator(); it.increment(ec)) {
                const std::string file = it->path().filename().string();
                if (file.empty() || file.front() == '.') continue;  // a batch still being written
                ++files;
                // Records end at a newline outside quotes (a CSV field may hold newlines; JSON
                // Lines escapes them). CSV files start with a header.
                std::ifstream in(it->path(), std::ios::binary);
                std::uint64_t records = 0;
                bool quoted = false, open_record = false;
                for (char c; in.get(c);) {
                    if (csv && c == '"') quoted = !quoted;
                    if (c == '\n' && !quoted) {
                        ++records;
                        open_record = false;
                    } else {
                        open_record = true;
                    }
                }
                records += open_record;
                rows += csv && records > 0 ? records - 1 : records;
            }
            line(name, std::to_string(rows) + " rows in " + std::to_string(files) + (csv ? " CSV" : " JSON Lines") +
                           " files under " + folder.string());
        }
    }
}

inline int pipeline_status(const std::string& file) {
    const auto spec = isoflow::load_pipeline_spec(file);
    isoflow::SqliteStoreOptions options;
    options.read_only = true;
    isoflow::SqliteStore store(spec.storage, options);
    print_status(store);
    print_other_tables(spec);
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
