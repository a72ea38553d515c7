// A bronze -> silver -> gold pipeline defined in C++: transactions land as JSON Lines files, the
// silver table drops readings without Amount and Time, the gold table scores with a model.
// Each run lands one more file, and the pipeline ingests only that one: every file exactly once.
#include <isoflow/pipeline.hpp>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <random>

int main() {
    namespace fs = std::filesystem;
    const fs::path work = fs::temp_directory_path() / "isoflow_pipeline_quickstart";
    fs::create_directories(work / "landing");

    // A model over V1, V2 and Amount.
    std::mt19937 rng(3);
    std::normal_distribution<double> normal;
    isoflow::RowMatrix<double> X(2000, 3);
    for (Eigen::Index r = 0; r < X.rows(); ++r) X.row(r) << normal(rng), normal(rng), 20 + 5 * normal(rng);
    isoflow::IsolationForestParams params;
    params.random_state = 1;
    isoflow::IsolationForest<float> model(params);
    model.fit(X, {"V1", "V2", "Amount"});
    model.save((work / "model.iforest").string());

    // A landing file, written under a hidden name and renamed into place.
    int file_number = 0;
    while (fs::exists(work / "landing" / ("tx" + std::to_string(file_number) + ".json"))) ++file_number;
    {
        std::ofstream out(work / "landing" / ".incoming");
        for (int i = 0; i < 100; ++i)
            out << "{\"tx_id\": " << file_number * 100 + i << ", \"V1\": " << normal(rng) << ", \"V2\": " << normal(rng)
                << ", \"Amount\": " << (i == 7 ? "null" : std::to_string(20 + 5 * normal(rng)))
                << ", \"Time\": " << (i == 7 ? "null" : std::to_string(i)) << "}\n";
    }
    fs::rename(work / "landing" / ".incoming", work / "landing" / ("tx" + std::to_string(file_number) + ".json"));

    isoflow::PipelineSpec spec;
    spec.name = "quickstart";
    spec.storage = work / "storage";
    isoflow::FileSourceOptions source;
    source.path = (work / "landing").string();
    source.format = isoflow::FileFormat::json;
    source.infer_column_types = true;
    source.settle_time = std::chrono::milliseconds(0);
    spec.sources.emplace_back("transactions", source);
    isoflow::TableSpec bronze, silver, gold;
    bronze.name = "raw";
    bronze.from = "transactions";
    bronze.quality = "bronze";
    silver.name = "clean";
    silver.from = "raw";
    silver.quality = "silver";
    silver.expectations.push_back({"valid_reading", "Amount IS NOT NULL OR Time IS NOT NULL", isoflow::ExpectationAction::drop});
    gold.name = "scored";
    gold.from = "clean";
    gold.quality = "gold";
    gold.score = isoflow::ScoreSpec{(work / "model.iforest").string()};
    gold.select = {"tx_id", "Amount", "anomaly_score", "is_anomaly"};
    spec.tables = {bronze, silver, gold};

    isoflow::Pipeline pipeline(spec);
    const auto summary = pipeline.run_once();
    std::printf("this run: %llu batches, %llu rows\n", static_cast<unsigned long long>(summary.batches),
                static_cast<unsigned long long>(summary.input_rows));
    for (const auto& t : pipeline.store().row_counts())
        std::printf("  %-8s %llu rows\n", t.table.c_str(), static_cast<unsigned long long>(t.rows));
    for (const auto& m : pipeline.expectation_totals()) std::printf("  %s\n", m.to_json().c_str());
    std::printf("query it: sqlite3 %s 'SELECT * FROM scored ORDER BY anomaly_score DESC LIMIT 5'\n",
                (work / "storage" / "pipeline.db").c_str());
    return 0;
}
