// A pipeline built in C++ from typed stages: the source declares its schema, so every stage's
// columns and types are checked when the pipeline is built, before anything runs. The silver
// table checks rows with a SQL constraint and a C++ predicate (quarantining the failures), a
// map stage adds a column in C++, and the gold table scores and projects, in the order written.
#include <isoflow/pipeline.hpp>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <random>

int main() {
    namespace fs = std::filesystem;
    using namespace isoflow;
    const fs::path work = fs::temp_directory_path() / "isoflow_pipeline_stages";
    fs::remove_all(work);
    fs::create_directories(work / "landing");

    // A model over V1, V2 and Amount, and one landing file with a few odd rows.
    std::mt19937 rng(5);
    std::normal_distribution<double> normal;
    RowMatrix<double> X(2000, 3);
    for (Eigen::Index r = 0; r < X.rows(); ++r) X.row(r) << normal(rng), normal(rng), 20 + 5 * normal(rng);
    IsolationForestParams params;
    params.random_state = 1;
    IsolationForest<float> model(params);
    model.fit(X, {"V1", "V2", "Amount"});
    model.save((work / "model.iforest").string());
    {
        std::ofstream out(work / "landing" / ".incoming");
        for (int i = 0; i < 200; ++i)
            out << "{\"tx_id\": " << i << ", \"cust_id\": " << i % 17 << ", \"V1\": " << normal(rng)
                << ", \"V2\": " << normal(rng) << ", \"Amount\": "
                << (i % 50 == 7 ? "null" : std::to_string(i % 40 == 0 ? -3.0 : 20 + 5 * normal(rng))) << "}\n";
    }
    fs::rename(work / "landing" / ".incoming", work / "landing" / "tx0.json");

    FileSourceOptions source;
    source.path = (work / "landing").string();
    source.settle_time = std::chrono::milliseconds(0);
    source.schema = Schema({Field{"tx_id", DataType::int64, true}, Field{"cust_id", DataType::int64, true},
                            Field{"V1", DataType::float64, true}, Field{"V2", DataType::float64, true},
                            Field{"Amount", DataType::float64, true}});

    // A C++ predicate, one row at a time: the amount is not negative.
    auto not_negative = [](const Batch& b, std::size_t row) {
        const Column& amount = b.column("Amount");
        return amount.is_null(row) || amount.double_values()[row] >= 0.0;
    };
    // A C++ map stage, with its output schema so that what follows is checked ahead.
    auto add_cents = [](Batch b) {
        Column cents(DataType::int64);
        const Column& amount = b.column("Amount");
        for (std::size_t r = 0; r < b.num_rows(); ++r)
            amount.is_null(r) ? cents.append_null()
                              : cents.append_int64(static_cast<std::int64_t>(amount.double_values()[r] * 100));
        b.add_column("cents", std::move(cents));
        return b;
    };
    auto with_cents = [](const Schema& in) {
        Schema out = in;
        out.add(Field{"cents", DataType::int64, true});
        return out;
    };

    Pipeline pipeline =
        PipelineBuilder("stages", work / "storage")
            .source("transactions", source)
            .table("raw", "transactions", TableOptions{.quality = "bronze"})
            .table("clean", "raw", TableOptions{.quality = "silver"},
                   expect_or_drop("has_amount", "Amount IS NOT NULL") |
                       expect_or_quarantine("not_negative", not_negative) | map("cents", add_cents, with_cents))
            .table("scored", "clean", TableOptions{.quality = "gold"},
                   score((work / "model.iforest").string()) | where("anomaly_score > 0.5") |
                       select({"tx_id", "cust_id", "cents", "anomaly_score"}))
            .build();

    // A mistake is caught now, before anything runs: "Amout" is not a column.
    try {
        (void)PipelineBuilder("broken", work / "broken")
            .source("transactions", source)
            .table("t", "transactions", where("Amout > 0"))
            .build();
    } catch (const config_error& e) {
        std::printf("caught when built:\n%s\n\n", e.what());
    }

    const auto summary = pipeline.run_once();
    std::printf("%llu batch, %llu rows\n", static_cast<unsigned long long>(summary.batches),
                static_cast<unsigned long long>(summary.input_rows));
    for (const auto& t : pipeline.store().row_counts())
        std::printf("  %-18s %llu rows\n", t.table.c_str(), static_cast<unsigned long long>(t.rows));
    for (const auto& m : pipeline.expectation_totals()) std::printf("  %s\n", m.to_json().c_str());
    return 0;
}
