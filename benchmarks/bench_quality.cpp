// Expression evaluation and expectations over 1M-row batches, one thread.
//   isoflow_bench_quality --benchmark_min_time=1
// Items per second are rows per second.
#include <benchmark/benchmark.h>

#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "isoflow/quality.hpp"

namespace {

constexpr std::size_t kRows = 1'000'000;

// Readings shaped like the credit-card data set: Time and V1, V2, Amount as doubles, plus an
// int64 id; `null_every` > 0 makes every n-th value of each column NULL (0 = no NULLs).
isoflow::Batch readings(std::size_t null_every) {
    std::mt19937_64 rng(42);
    std::normal_distribution<double> normal(0.0, 1.0);
    std::exponential_distribution<double> amount(1.0 / 80.0);
    isoflow::Column time(isoflow::DataType::float64), v1(isoflow::DataType::float64),
        v2(isoflow::DataType::float64), amt(isoflow::DataType::float64), id(isoflow::DataType::int64);
    for (std::size_t r = 0; r < kRows; ++r) {
        auto is_null = [&](std::size_t salt) { return null_every && (r + salt) % null_every == 0; };
        is_null(0) ? time.append_null() : time.append_double(static_cast<double>(r) * 0.17);
        is_null(1) ? v1.append_null() : v1.append_double(normal(rng));
        is_null(2) ? v2.append_null() : v2.append_double(normal(rng));
        is_null(3) ? amt.append_null() : amt.append_double(amount(rng));
        id.append_int64(static_cast<std::int64_t>(r));
    }
    isoflow::Batch b;
    b.add_column("Time", std::move(time));
    b.add_column("V1", std::move(v1));
    b.add_column("V2", std::move(v2));
    b.add_column("Amount", std::move(amt));
    b.add_column("id", std::move(id));
    return b;
}

const isoflow::Batch& batch_with_nulls() {
    static const isoflow::Batch b = readings(97);
    return b;
}
const isoflow::Batch& batch_without_nulls() {
    static const isoflow::Batch b = readings(0);
    return b;
}

constexpr const char* kSeedConstraint = "AMOUNT IS NOT NULL OR TIME IS NOT NULL";
constexpr const char* kFourTerms = "Amount > 10 AND V1 < 0.5 AND V2 >= -1.0 AND Time <= 150000";

void run_mask(benchmark::State& state, const isoflow::Batch& batch, const char* text) {
    const auto e = isoflow::Expression::compile(text, batch.schema());
    std::vector<std::uint64_t> mask;
    for (auto _ : state) {
        e.true_mask(batch, mask);
        benchmark::DoNotOptimize(mask.data());
        benchmark::ClobberMemory();
    }
    state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations() * batch.num_rows()));
}

void BM_SeedConstraint(benchmark::State& state) { run_mask(state, batch_with_nulls(), kSeedConstraint); }
void BM_FourTermPredicate(benchmark::State& state) { run_mask(state, batch_with_nulls(), kFourTerms); }
void BM_FourTermPredicateNoNulls(benchmark::State& state) { run_mask(state, batch_without_nulls(), kFourTerms); }
void BM_BetweenInPredicate(benchmark::State& state) {
    run_mask(state, batch_with_nulls(), "Amount BETWEEN 1 AND 500 AND id % 10 IN (1, 3, 7) AND NOT isnan(V1)");
}

void BM_ArithmeticToColumn(benchmark::State& state) {
    const auto& batch = batch_with_nulls();
    const auto e = isoflow::Expression::compile("Amount * 2 + V1 / 3 - abs(V2)", batch.schema());
    for (auto _ : state) {
        isoflow::Column c = e.evaluate(batch);
        benchmark::DoNotOptimize(c.double_values().data());
    }
    state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations() * batch.num_rows()));
}

void BM_ExpectationsWarn(benchmark::State& state) {
    const auto& batch = batch_with_nulls();
    isoflow::TableExpectations t("silver");
    t.expect("valid_transaction_reading", kSeedConstraint);
    t.expect("plausible", kFourTerms);
    for (auto _ : state) {
        auto r = t.apply(batch);
        benchmark::DoNotOptimize(r.metrics.dropped_records);
    }
    state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations() * batch.num_rows()));
}

void BM_ExpectationsDrop(benchmark::State& state) {
    const auto& batch = batch_with_nulls();
    isoflow::TableExpectations t("silver");
    t.add_sql("CONSTRAINT valid_transaction_reading EXPECT (AMOUNT IS NOT NULL OR TIME IS NOT NULL) "
              "ON VIOLATION DROP ROW");
    t.expect_or_drop("positive", "Amount > 0.5");
    for (auto _ : state) {
        auto r = t.apply(batch);
        benchmark::DoNotOptimize(r.output.num_rows());
    }
    state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations() * batch.num_rows()));
}

void BM_Compile(benchmark::State& state) {
    const auto& schema = batch_with_nulls().schema();
    for (auto _ : state) {
        auto e = isoflow::Expression::compile(
            "CASE WHEN Amount > 100 THEN 'high' WHEN Amount IS NULL THEN 'unknown' ELSE 'low' END = 'high' "
            "OR (V1 BETWEEN -3 AND 3 AND coalesce(V2, 0) <> 0)",
            schema);
        benchmark::DoNotOptimize(e.type());
    }
}

}  // namespace

BENCHMARK(BM_SeedConstraint)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_FourTermPredicate)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_FourTermPredicateNoNulls)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_BetweenInPredicate)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_ArithmeticToColumn)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_ExpectationsWarn)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_ExpectationsDrop)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_Compile)->Unit(benchmark::kMicrosecond);

BENCHMARK_MAIN();
