// Ingestion throughput: JSON Lines and CSV of card-transaction rows (cust_id, Time, V1..V28,
// Amount; about 460 bytes a row), and one-row files discovered and read by FileSource.
// The data is generated here, deterministically, into $TMPDIR/isoflow_bench_io (kept, so that
// tools/io_pandas_baseline.py can time pandas on the very same files).
#include <benchmark/benchmark.h>

#include <cstdint>
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#if defined(__unix__) || defined(__APPLE__)
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>
#define ISOFLOW_BENCH_POSIX 1
#endif

#include "isoflow/io.hpp"

namespace {

namespace fs = std::filesystem;

constexpr std::size_t rows_per_file = 200'000;
constexpr std::size_t one_row_files = 5'000;

struct Lcg {
    std::uint64_t s = 42;
    double next() {  // uniform in [-4, 4)
        s = s * 6364136223846793005ULL + 1442695040888963407ULL;
        return static_cast<double>(s >> 11) / 9007199254740992.0 * 8.0 - 4.0;
    }
};

fs::path data_dir() {
    fs::path d = fs::temp_directory_path() / "isoflow_bench_io";
    fs::create_directories(d);
    return d;
}

// One row's values as text, formatted as Python's json.dumps would write these doubles.
void row_values(Lcg& rng, std::size_t i, std::string (&out)[31]) {
    char buf[64];
    out[0] = std::to_string(i % 5000);
    std::snprintf(buf, sizeof buf, "%.1f", static_cast<double>(i));
    out[1] = buf;
    for (int v = 0; v < 28; ++v) {
        std::snprintf(buf, sizeof buf, "%.6g", rng.next());
        out[2 + v] = buf;
    }
    std::snprintf(buf, sizeof buf, "%.2f", (rng.next() + 4.0) * 50.0);
    out[30] = buf;
}

const char* names[31] = {"cust_id", "Time", "V1",  "V2",  "V3",  "V4",  "V5",  "V6",  "V7",  "V8",  "V9",
                         "V10",     "V11",  "V12", "V13", "V14", "V15", "V16", "V17", "V18", "V19", "V20",
                         "V21",     "V22",  "V23", "V24", "V25", "V26", "V27", "V28", "Amount"};

const fs::path& jsonl_file() {
    static const fs::path p = [] {
        const fs::path file = data_dir() / "cards.jsonl";
        std::ofstream out(file, std::ios::binary);
        Lcg rng;
        std::string v[31];
        for (std::size_t i = 0; i < rows_per_file; ++i) {
            row_values(rng, i, v);
            std::string line = "{";
            for (int c = 0; c < 31; ++c) {
                if (c) line += ", ";
                line += '"';
                line += names[c];
                line += "\": ";
                line += v[c];
            }
            line += "}\n";
            out << line;
        }
        return file;
    }();
    return p;
}

const fs::path& csv_file() {
    static const fs::path p = [] {
        const fs::path file = data_dir() / "cards.csv";
        std::ofstream out(file, std::ios::binary);
        for (int c = 0; c < 31; ++c) out << (c ? "," : "") << names[c];
        out << "\n";
        Lcg rng;
        std::string v[31];
        for (std::size_t i = 0; i < rows_per_file; ++i) {
            row_values(rng, i, v);
            std::string line;
            for (int c = 0; c < 31; ++c) {
                if (c) line += ',';
                line += v[c];
            }
            line += '\n';
            out << line;
        }
        return file;
    }();
    return p;
}

// The seed's generator: one transaction per file, Python dict syntax.
const fs::path& one_row_dir() {
    static const fs::path p = [] {
        const fs::path dir = data_dir() / "one_row_files";
        fs::remove_all(dir);
        fs::create_directories(dir);
        Lcg rng;
        std::string v[31];
        for (std::size_t i = 0; i < one_row_files; ++i) {
            row_values(rng, i, v);
            std::string line = "{";
            for (int c = 0; c < 31; ++c) {
                if (c) line += ", ";
                line += '\'';
                line += names[c];
                line += "': ";
                line += v[c];
            }
            line += "}\n";
            char name[32];
            std::snprintf(name, sizeof name, "tx_%06zu.json", i);
            std::ofstream(dir / name, std::ios::binary) << line;
        }
        return dir;
    }();
    return p;
}

void read_file(benchmark::State& state, const fs::path& file, isoflow::FileFormat format, bool typed) {
    isoflow::ReadOptions options;
    options.infer_column_types = typed;
    std::size_t rows = 0;
    for (auto _ : state) {
        isoflow::FileReader reader(file.string(), format, options);
        while (auto batch = reader.next()) {
            rows += batch->num_rows();
            benchmark::DoNotOptimize(batch->column(std::size_t{2}).size());
        }
    }
    state.SetItemsProcessed(static_cast<std::int64_t>(rows));
    state.SetBytesProcessed(static_cast<std::int64_t>(fs::file_size(file) * static_cast<std::size_t>(state.iterations())));
}

void BM_json_lines_typed(benchmark::State& state) { read_file(state, jsonl_file(), isoflow::FileFormat::json, true); }
void BM_json_lines_strings(benchmark::State& state) { read_file(state, jsonl_file(), isoflow::FileFormat::json, false); }
void BM_csv_typed(benchmark::State& state) { read_file(state, csv_file(), isoflow::FileFormat::csv, true); }
void BM_csv_strings(benchmark::State& state) { read_file(state, csv_file(), isoflow::FileFormat::csv, false); }

// Discover, plan, read and commit one-row files (in-memory seen-file log).
void BM_one_row_files(benchmark::State& state) {
    const fs::path dir = one_row_dir();
    std::size_t files = 0;
    for (auto _ : state) {
        isoflow::FileSourceOptions o;
        o.path = dir.string();
        o.infer_column_types = true;
        o.settle_time = std::chrono::milliseconds(0);
        isoflow::FileSource source(o);
        while (auto plan = source.plan()) {
            const auto batch = source.read(*plan);
            benchmark::DoNotOptimize(batch.data.num_rows());
            files += plan->files.size();
            source.commit(*plan);
        }
    }
    state.SetItemsProcessed(static_cast<std::int64_t>(files));
}

// --- 1-million-file listing -----------------------------------------------------------------
// ISOFLOW_BENCH_LISTING_FILES empty files (default 1,000,000) in one directory, created once
// and kept (a marker records that the set is complete). Measures a fresh FileSource's first
// plan(): the full listing (stat of every file, keeping the oldest max_queued_files by
// (mtime, name)) and the choice of the first max_files_per_trigger files; no file is read.
std::size_t listing_files() {
    if (const char* env = std::getenv("ISOFLOW_BENCH_LISTING_FILES")) return static_cast<std::size_t>(std::strtoull(env, nullptr, 10));
    return 1'000'000;
}

const fs::path& listing_dir() {
    static const fs::path p = [] {
        const std::size_t n = listing_files();
        const fs::path dir = data_dir() / ("listing_" + std::to_string(n));
        const fs::path marker = data_dir() / ("listing_" + std::to_string(n) + ".complete");
        if (!fs::exists(marker)) {
            fs::remove_all(dir);
            fs::create_directories(dir);
            char name[32];
            for (std::size_t i = 0; i < n; ++i) {
                std::snprintf(name, sizeof name, "tx_%07zu.json", i);
                if (std::FILE* f = std::fopen((dir / name).c_str(), "wb")) std::fclose(f);
            }
            std::ofstream(marker) << n << "\n";
        }
        return dir;
    }();
    return p;
}

void BM_listing(benchmark::State& state) {
    const fs::path dir = listing_dir();
    std::size_t listed = 0;
    for (auto _ : state) {
        isoflow::FileSourceOptions o;
        o.path = dir.string();
        o.settle_time = std::chrono::milliseconds(0);
        o.schema = isoflow::Schema({isoflow::Field{"x", isoflow::DataType::string, true}});
        o.max_queued_files = static_cast<std::size_t>(state.range(0));
        isoflow::FileSource source(o);
        const auto plan = source.plan();
        benchmark::DoNotOptimize(plan);
        listed += listing_files();
    }
    state.SetItemsProcessed(static_cast<std::int64_t>(listed));
}

#if defined(ISOFLOW_BENCH_POSIX)
// --- peak memory against the batch limits -----------------------------------------------------
// 40 JSON Lines files of 5,000 card rows (about 100 MB). A child process reads the whole
// directory with FileSource, max_files_per_trigger = range(0), and the parent reports the
// child's peak resident set (getrusage of the child), so earlier benchmarks do not count.
const fs::path& landing_dir() {
    static const fs::path p = [] {
        const fs::path dir = data_dir() / "landing_40x5000";
        const fs::path marker = data_dir() / "landing_40x5000.complete";
        if (!fs::exists(marker)) {
            fs::remove_all(dir);
            fs::create_directories(dir);
            std::ifstream in(jsonl_file(), std::ios::binary);
            std::string line;
            for (int f = 0; f < 40; ++f) {
                char name[32];
                std::snprintf(name, sizeof name, "part_%02d.json", f);
                std::ofstream out(dir / name, std::ios::binary);
                for (int r = 0; r < 5000 && std::getline(in, line); ++r) out << line << '\n';
            }
            std::ofstream(marker) << "40\n";
        }
        return dir;
    }();
    return p;
}

void BM_peak_memory(benchmark::State& state) {
    const fs::path dir = landing_dir();
    const auto per_trigger = static_cast<std::size_t>(state.range(0));
    long peak_kb = 0;
    std::size_t rows = 0;
    for (auto _ : state) {
        const pid_t child = ::fork();
        if (child == 0) {
            isoflow::FileSourceOptions o;
            o.path = dir.string();
            o.infer_column_types = true;
            o.settle_time = std::chrono::milliseconds(0);
            o.max_files_per_trigger = per_trigger;
            isoflow::FileSource source(o);
            std::size_t n = 0;
            while (auto plan = source.plan()) {
                n += source.read(*plan).data.num_rows();
                source.commit(*plan);
            }
            ::_exit(n == 200'000 ? 0 : 1);
        }
        int status = 0;
        rusage usage{};
        ::wait4(child, &status, 0, &usage);
        if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) state.SkipWithError("child failed");
        peak_kb = std::max(peak_kb, static_cast<long>(usage.ru_maxrss));
        rows += 200'000;
    }
    state.counters["peak_rss_MB"] = static_cast<double>(peak_kb) / 1024.0;
    state.SetItemsProcessed(static_cast<std::int64_t>(rows));
}
#endif

}  // namespace

BENCHMARK(BM_json_lines_typed)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_json_lines_strings)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_csv_typed)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_csv_strings)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_one_row_files)->Unit(benchmark::kMillisecond);
// Minutes to create the first time: run it by name (--benchmark_filter=BM_listing).
// Arg: max_queued_files (0: the default, max(max_files_per_trigger, 100,000)). Run one
// argument per process to see its peak memory (/usr/bin/time -v).
BENCHMARK(BM_listing)->Arg(0)->Arg(1000)->Unit(benchmark::kMillisecond)->Iterations(3)->UseRealTime();
#if defined(ISOFLOW_BENCH_POSIX)
BENCHMARK(BM_peak_memory)->Arg(1)->Arg(10)->Arg(40)->Unit(benchmark::kMillisecond)->Iterations(1)->UseRealTime();
#endif
BENCHMARK_MAIN();
