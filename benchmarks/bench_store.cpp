// Insert throughput of SqliteStore (WAL, synchronous=NORMAL, 64 KiB pages, multi-row prepared
// INSERTs) against one row per statement, for a 32-column card-transaction table (cust_id BIGINT,
// Time, V1..V28, Amount DOUBLE, ts TIMESTAMP) and a 5-column scored table (cust_id BIGINT,
// Amount DOUBLE, anomaly_score DOUBLE, is_anomaly BOOLEAN, model_version STRING).
// Each iteration commits one batch of `rows` rows into a growing table in $TMPDIR.
//
//   isoflow_bench_store --benchmark_min_time=2
#include <benchmark/benchmark.h>
#include <sqlite3.h>
#include <unistd.h>

#include <cstdint>
#include <filesystem>
#include <string>

#include "isoflow/store.hpp"

namespace {

namespace fs = std::filesystem;
using namespace isoflow;

constexpr std::size_t rows_per_batch = 50'000;

struct Lcg {
    std::uint64_t s = 42;
    double next() {
        s = s * 6364136223846793005ULL + 1442695040888963407ULL;
        return static_cast<double>(s >> 11) / 9007199254740992.0 * 8.0 - 4.0;
    }
};

Batch wide_batch(std::size_t n) {
    Lcg rng;
    Batch b;
    std::vector<std::int64_t> ids(n);
    for (std::size_t i = 0; i < n; ++i) ids[i] = static_cast<std::int64_t>(i % 5000);
    b.add_column("cust_id", Column::from_int64s(ids));
    std::vector<double> v(n);
    for (std::size_t i = 0; i < n; ++i) v[i] = static_cast<double>(i);
    b.add_column("Time", Column::from_doubles(v));
    for (int c = 1; c <= 28; ++c) {
        for (auto& x : v) x = rng.next();
        b.add_column("V" + std::to_string(c), Column::from_doubles(v));
    }
    for (auto& x : v) x = (rng.next() + 4.0) * 50.0;
    b.add_column("Amount", Column::from_doubles(v));
    Column ts(DataType::timestamp);
    for (std::size_t i = 0; i < n; ++i) ts.append_timestamp(1'700'000'000'000'000 + static_cast<std::int64_t>(i) * 1000);
    b.add_column("ts", std::move(ts));
    return b;
}

Batch narrow_batch(std::size_t n) {
    Lcg rng;
    Batch b;
    std::vector<std::int64_t> ids(n);
    std::vector<double> amount(n), score(n);
    Column flag(DataType::boolean), version(DataType::string);
    for (std::size_t i = 0; i < n; ++i) {
        ids[i] = static_cast<std::int64_t>(i % 5000);
        amount[i] = (rng.next() + 4.0) * 50.0;
        score[i] = (rng.next() + 4.0) / 8.0;
        flag.append_bool(score[i] > 0.9);
        version.append_string("3");
    }
    b.add_column("cust_id", Column::from_int64s(ids));
    b.add_column("Amount", Column::from_doubles(amount));
    b.add_column("anomaly_score", Column::from_doubles(score));
    b.add_column("is_anomaly", std::move(flag));
    b.add_column("model_version", std::move(version));
    return b;
}

fs::path fresh_dir(const char* name) {
    const fs::path d = fs::temp_directory_path() / ("isoflow_bench_store_" + std::to_string(::getpid())) / name;
    fs::remove_all(d);
    return d;
}

// SqliteStore; rows_per_statement 0 = as many as the parameter limit allows.
void store_insert(benchmark::State& state, const Batch& batch, std::size_t rows_per_statement) {
    const fs::path dir = fresh_dir("store");
    {
        SqliteStoreOptions options;
        options.max_rows_per_insert = rows_per_statement;
        SqliteStore store(dir, options);
        std::uint64_t id = 0;
        for (auto _ : state) {
            auto tx = store.transaction(++id);
            tx.append("t", batch);
            tx.commit();
        }
    }
    state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations() * batch.num_rows()));
    fs::remove_all(dir.parent_path());
}

// The baseline: plain SQLite C API, 4 KiB pages, WAL, synchronous=NORMAL, one prepared
// single-row INSERT stepped per row.
void raw_one_row(benchmark::State& state, const Batch& batch) {
    const fs::path dir = fresh_dir("raw");
    fs::create_directories(dir);
    sqlite3* db = nullptr;
    sqlite3_open((dir / "pipeline.db").c_str(), &db);
    sqlite3_exec(db, "PRAGMA page_size=4096; PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;", nullptr, nullptr,
                 nullptr);
    std::string create = "CREATE TABLE t (", insert = "INSERT INTO t VALUES (";
    for (std::size_t c = 0; c < batch.num_columns(); ++c) {
        create += (c ? ", \"" : "\"") + batch.schema().field(c).name + "\" " +
                  std::string(detail::store::sql_type(batch.schema().field(c).type));
        insert += c ? ",?" : "?";
    }
    sqlite3_exec(db, (create + ")").c_str(), nullptr, nullptr, nullptr);
    sqlite3_stmt* st = nullptr;
    sqlite3_prepare_v2(db, (insert + ")").c_str(), -1, &st, nullptr);
    for (auto _ : state) {
        sqlite3_exec(db, "BEGIN", nullptr, nullptr, nullptr);
        for (std::size_t r = 0; r < batch.num_rows(); ++r) {
            for (std::size_t c = 0; c < batch.num_columns(); ++c) {
                const Column& col = batch.column(c);
                const int p = static_cast<int>(c) + 1;
                switch (col.type()) {
                    case DataType::int64:
                    case DataType::timestamp: sqlite3_bind_int64(st, p, col.int64_values()[r]); break;
                    case DataType::float64: sqlite3_bind_double(st, p, col.double_values()[r]); break;
                    case DataType::boolean: sqlite3_bind_int(st, p, col.bool_values()[r]); break;
                    case DataType::string: {
                        const auto s = col.string_at(r);
                        sqlite3_bind_text(st, p, s.data(), static_cast<int>(s.size()), SQLITE_STATIC);
                        break;
                    }
                }
            }
            sqlite3_step(st);
            sqlite3_reset(st);
        }
        sqlite3_exec(db, "COMMIT", nullptr, nullptr, nullptr);
    }
    sqlite3_finalize(st);
    sqlite3_close(db);
    state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations() * batch.num_rows()));
    fs::remove_all(dir.parent_path());
}

const Batch& wide() {
    static const Batch b = wide_batch(rows_per_batch);
    return b;
}
const Batch& narrow() {
    static const Batch b = narrow_batch(rows_per_batch * 4);
    return b;
}

void BM_store_32_columns(benchmark::State& s) { store_insert(s, wide(), static_cast<std::size_t>(s.range(0))); }
void BM_baseline_32_columns_one_row_4k_pages(benchmark::State& s) { raw_one_row(s, wide()); }
void BM_store_5_columns(benchmark::State& s) { store_insert(s, narrow(), static_cast<std::size_t>(s.range(0))); }
void BM_baseline_5_columns_one_row_4k_pages(benchmark::State& s) { raw_one_row(s, narrow()); }

}  // namespace

// Argument: rows bound per INSERT (0 = the store's default, about 2048 values a statement;
// 1023 = as many 32-column rows as SQLite's 32766-parameter limit allows; 1 = one row per
// statement through the store, still with 64 KiB pages).
BENCHMARK(BM_store_32_columns)->Arg(0)->Arg(1023)->Arg(1)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_baseline_32_columns_one_row_4k_pages)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_store_5_columns)->Arg(0)->Arg(1023)->Arg(1)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_baseline_5_columns_one_row_4k_pages)->Unit(benchmark::kMillisecond)->UseRealTime();

BENCHMARK_MAIN();
