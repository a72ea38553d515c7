// Isolation forest speed: scoring (every kernel, layouts, threads, single rows) and fit, with the
// reference scorer as the baseline measured in the same run. Figures and commands are in
// docs/performance.md; tools/bench_sklearn.py runs scikit-learn on the same data.
//
// The data are deterministic (bench_value below; tools/bench_sklearn.py computes the same
// values with numpy), so every run and scikit-learn see the same rows.
#include <benchmark/benchmark.h>

#include <atomic>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <memory>
#include <new>
#include <span>
#include <string>
#include <tuple>
#include <vector>

#include <isoflow/forest.hpp>

// Counts heap allocations, to show that single-row scoring makes none. GCC cannot see that
// these replacements pair malloc with free, hence the pragma.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
#endif
namespace {
std::atomic<std::size_t> allocations{0};
}  // namespace

void* operator new(std::size_t size) {
    allocations.fetch_add(1, std::memory_order_relaxed);
    if (void* p = std::malloc(size == 0 ? 1 : size)) return p;
    throw std::bad_alloc();
}
void operator delete(void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }

namespace {

using isoflow::IsolationForest;
using isoflow::RowMatrix;
using isoflow::ScorerKernel;

// splitmix64's output function applied to (x + 1) * golden ratio.
std::uint64_t mix(std::uint64_t x) {
    std::uint64_t z = (x + 1) * 0x9E3779B97F4A7C15ull;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

// Value (i, j) of the n x d benchmark data: the sum of two uniforms (a triangular bump), scaled
// per column, with every 997th row shifted by 6 (the anomalies).
double bench_value(std::uint64_t i, std::uint64_t j, std::uint64_t d) {
    const std::uint64_t k = i * d + j;
    const double u1 = static_cast<double>(mix(2 * k) >> 11) * 0x1.0p-53;
    const double u2 = static_cast<double>(mix(2 * k + 1) >> 11) * 0x1.0p-53;
    double v = (u1 + u2 - 1.0) * (1.0 + static_cast<double>(j % 7));
    if (i % 997 == 0) v += 6.0;
    return v;
}

const RowMatrix<float>& data(Eigen::Index n, Eigen::Index d) {
    static std::map<std::pair<Eigen::Index, Eigen::Index>, std::unique_ptr<RowMatrix<float>>> cache;
    auto& slot = cache[{n, d}];
    if (!slot) {
        slot = std::make_unique<RowMatrix<float>>(n, d);
        for (Eigen::Index i = 0; i < n; ++i)
            for (Eigen::Index j = 0; j < d; ++j)
                (*slot)(i, j) = static_cast<float>(bench_value(static_cast<std::uint64_t>(i),
                                                               static_cast<std::uint64_t>(j),
                                                               static_cast<std::uint64_t>(d)));
    }
    return *slot;
}

constexpr Eigen::Index million = 1'000'000;

// A forest fitted on the 1M-row data of width d.
const IsolationForest<float>& forest(Eigen::Index d, int trees, int psi, int jobs) {
    static std::map<std::tuple<Eigen::Index, int, int, int>, std::unique_ptr<IsolationForest<float>>> cache;
    auto& slot = cache[{d, trees, psi, jobs}];
    if (!slot) {
        isoflow::IsolationForestParams params;
        params.n_estimators = trees;
        params.max_samples = psi;
        params.random_state = 42;
        params.n_jobs = jobs;
        slot = std::make_unique<IsolationForest<float>>(params);
        slot->fit(data(million, d));
    }
    return *slot;
}

struct Case {
    Eigen::Index d = 30;
    int trees = 100;
    int psi = 256;
    Eigen::Index rows = million;
    int jobs = 1;
};

std::string describe(const Case& c) {
    std::string rows = c.rows >= million ? std::to_string(c.rows / million) + "M"
                                         : std::to_string(c.rows / 1000) + "k";
    return "d" + std::to_string(c.d) + "/trees" + std::to_string(c.trees) + "/psi" +
           std::to_string(c.psi) + "/rows" + rows + "/jobs" + std::to_string(c.jobs);
}

void score(benchmark::State& state, Case c, ScorerKernel kernel) {
    const auto& model = forest(c.d, c.trees, c.psi, c.jobs);
    const auto& X = data(million, c.d);
    const auto rows = X.topRows(c.rows);
    for (auto _ : state) benchmark::DoNotOptimize(model.score_samples(rows, kernel));
    state.SetItemsProcessed(state.iterations() * c.rows);
}

void score_reference(benchmark::State& state, Case c) {
    const auto& model = forest(c.d, c.trees, c.psi, c.jobs);
    const auto rows = data(million, c.d).topRows(c.rows);
    for (auto _ : state) benchmark::DoNotOptimize(model.score_samples_reference(rows));
    state.SetItemsProcessed(state.iterations() * c.rows);
}

// The pipeline's shape: one contiguous array per feature, as double (converted on the fly).
void score_columns(benchmark::State& state, Case c) {
    const auto& model = forest(c.d, c.trees, c.psi, c.jobs);
    const auto& X = data(million, c.d);
    std::vector<std::vector<double>> columns(static_cast<std::size_t>(c.d));
    std::vector<const double*> pointers;
    for (Eigen::Index j = 0; j < c.d; ++j) {
        auto& column = columns[static_cast<std::size_t>(j)];
        column.resize(static_cast<std::size_t>(c.rows));
        for (Eigen::Index i = 0; i < c.rows; ++i) column[static_cast<std::size_t>(i)] = X(i, j);
        pointers.push_back(column.data());
    }
    for (auto _ : state)
        benchmark::DoNotOptimize(model.score_columns(std::span<const double* const>(pointers),
                                                     static_cast<std::size_t>(c.rows)));
    state.SetItemsProcessed(state.iterations() * c.rows);
}

void score_one(benchmark::State& state, Case c) {
    const auto& model = forest(c.d, c.trees, c.psi, c.jobs);
    const auto& X = data(million, c.d);
    Eigen::Index i = 0;
    const std::size_t before = allocations.load();
    for (auto _ : state) {
        benchmark::DoNotOptimize(
            model.score_one(std::span<const float>(X.data() + i * c.d, static_cast<std::size_t>(c.d))));
        i = i + 7919 < X.rows() ? i + 7919 : i + 7919 - X.rows();  // rows far apart, as events are
    }
    state.counters["allocs_per_call"] =
        static_cast<double>(allocations.load() - before) / static_cast<double>(state.iterations());
    state.SetItemsProcessed(state.iterations());
}

// Each iteration draws other rows (another seed), so the sampled rows are not already cached.
void fit(benchmark::State& state, Case c) {
    const auto& X = data(c.rows, c.d);
    std::uint64_t seed = 1;
    for (auto _ : state) {
        isoflow::IsolationForestParams params;
        params.n_estimators = c.trees;
        params.max_samples = c.psi;
        params.random_state = seed++;
        params.n_jobs = c.jobs;
        IsolationForest<float> model(params);
        model.fit(X);
        benchmark::DoNotOptimize(model.trees().data());
    }
    state.SetItemsProcessed(state.iterations() * c.rows);
}

void register_all() {
    const Case base;
    // One-thread figures use CPU time: the machine is shared, and wall time counts the time
    // other programs hold the core. Multi-threaded ones need wall time.
    const auto add = [](const std::string& name, auto&& fn) {
        auto* b = benchmark::RegisterBenchmark(name.c_str(), fn)->Unit(benchmark::kMillisecond);
        if (name.find("/jobs1") == std::string::npos || name.ends_with("/wall")) b->UseRealTime();
        return b;
    };
    // The headline: one thread, 100 trees, psi 256, d 30, 1M rows, each kernel, and the
    // reference scorer (on 100k rows: it is slow; rows/s does not depend on the count).
    Case reference = base;
    reference.rows = 100'000;
    add("score_reference/" + describe(reference), [=](benchmark::State& s) { score_reference(s, reference); });
    add("score/automatic/" + describe(base), [=](benchmark::State& s) { score(s, base, ScorerKernel::automatic); });
    for (ScorerKernel k : isoflow::available_kernels())
        add("score/" + std::string(isoflow::to_string(k)) + "/" + describe(base),
            [=](benchmark::State& s) { score(s, base, k); });
    add("fit/" + describe(base), [=](benchmark::State& s) { fit(s, base); });
    add("score_one/" + describe(base), [=](benchmark::State& s) { score_one(s, base); })
        ->Unit(benchmark::kMicrosecond)
        ->Repetitions(5)
        ->ReportAggregatesOnly(true);

    // Without a bar.
    for (Eigen::Index d : {10, 100}) {
        Case c = base;
        c.d = d;
        add("score/automatic/" + describe(c), [=](benchmark::State& s) { score(s, c, ScorerKernel::automatic); });
        add("fit/" + describe(c), [=](benchmark::State& s) { fit(s, c); });
    }
    {
        Case c = base;
        c.trees = 500;
        add("score/automatic/" + describe(c), [=](benchmark::State& s) { score(s, c, ScorerKernel::automatic); });
        add("fit/" + describe(c), [=](benchmark::State& s) { fit(s, c); });
    }
    {
        Case c = base;
        c.psi = 4096;
        add("score/automatic/" + describe(c), [=](benchmark::State& s) { score(s, c, ScorerKernel::automatic); });
        for (ScorerKernel k : isoflow::available_kernels())
            add("score/" + std::string(isoflow::to_string(k)) + "/" + describe(c),
                [=](benchmark::State& s) { score(s, c, k); });
        add("fit/" + describe(c), [=](benchmark::State& s) { fit(s, c); });
    }
    for (Eigen::Index rows : {1'000, 100'000}) {
        Case c = base;
        c.rows = rows;
        add("score/automatic/" + describe(c), [=](benchmark::State& s) { score(s, c, ScorerKernel::automatic); });
    }
    {
        // Threads: wall time of one and of two threads, to be compared within one run.
        add("score/automatic/" + describe(base) + "/wall",
            [=](benchmark::State& s) { score(s, base, ScorerKernel::automatic); });
        add("fit/" + describe(base) + "/wall", [=](benchmark::State& s) { fit(s, base); });
        Case c = base;
        c.jobs = 2;
        add("score/automatic/" + describe(c), [=](benchmark::State& s) { score(s, c, ScorerKernel::automatic); });
        add("fit/" + describe(c), [=](benchmark::State& s) { fit(s, c); });
    }
    add("score_columns_double/" + describe(base), [=](benchmark::State& s) { score_columns(s, base); });
}

// --isoflow_print_rows=N,D prints rows 0, 1, 997 and N - 1 of data(N, D) as hexadecimal floats,
// for tools/bench_sklearn.py to check that numpy computes the same data.
bool print_rows(int argc, char** argv) {
    const std::string flag = "--isoflow_print_rows=";
    for (int i = 1; i < argc; ++i) {
        const std::string arg = argv[i];
        if (arg.rfind(flag, 0) != 0) continue;
        const std::string spec = arg.substr(flag.size());
        const Eigen::Index n = std::stoll(spec.substr(0, spec.find(','))),
                           d = std::stoll(spec.substr(spec.find(',') + 1));
        const auto& X = data(n, d);
        for (Eigen::Index r : {Eigen::Index{0}, Eigen::Index{1}, Eigen::Index{997}, n - 1}) {
            if (r < 0 || r >= n) continue;
            std::printf("%lld", static_cast<long long>(r));
            for (Eigen::Index j = 0; j < d; ++j) std::printf(" %a", static_cast<double>(X(r, j)));
            std::printf("\n");
        }
        return true;
    }
    return false;
}

}  // namespace

int main(int argc, char** argv) {
    if (print_rows(argc, argv)) return 0;
    register_all();
    benchmark::Initialize(&argc, argv);
    if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
    benchmark::RunSpecifiedBenchmarks();
    benchmark::Shutdown();
    return 0;
}
