// Shared by the pipeline tests: a small model, landing files, a pipeline definition.
#pragma once

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <functional>
#include <random>
#include <string>
#include <vector>

#include <isoflow/pipeline.hpp>

#include "forest/test_helpers.hpp"

namespace pipeline_test {

namespace fs = std::filesystem;
using isoflow_test::quote;
using isoflow_test::run_command;
using isoflow_test::TempDir;

inline bool contains(const std::string& haystack, const std::string& needle) {
    return haystack.find(needle) != std::string::npos;
}

inline std::string cli() { return quote(ISOFLOW_CLI); }

inline std::string message_of(const std::function<void()>& f) {
    try {
        f();
    } catch (const std::exception& e) {
        return e.what();
    }
    return "(nothing thrown)";
}

// A small model over V1, V2 and Amount, trained on generated data.
inline void write_model(const fs::path& path) {
    std::mt19937 rng(4);
    std::normal_distribution<double> normal;
    isoflow::RowMatrix<double> X(500, 3);
    for (Eigen::Index r = 0; r < 500; ++r) X.row(r) << normal(rng), normal(rng), std::abs(normal(rng)) * 50;
    isoflow::IsolationForestParams p;
    p.random_state = 1;
    p.n_estimators = 20;
    isoflow::IsolationForest<float> forest(p);
    forest.fit(X, {"V1", "V2", "Amount"});
    forest.save(path.string());
}

// JSON Lines files of records with ids first..first+count-1; every 7th has no Amount and no Time.
inline void write_landing_file(const fs::path& dir, int index, int first, int count) {
    fs::create_directories(dir);
    std::string body;
    for (int i = first; i < first + count; ++i) {
        const bool invalid = i % 7 == 3;
        body += "{\"tx_id\": " + std::to_string(i) + ", \"V1\": " + std::to_string((i % 13) * 0.1) +
                ", \"V2\": " + std::to_string((i % 5) * -0.2) + ", \"Amount\": " +
                (invalid ? std::string("null") : std::to_string(10 + i % 50)) + ", \"Time\": " +
                (invalid ? std::string("null") : std::to_string(i)) + "}\n";
    }
    const fs::path tmp = dir / (".f" + std::to_string(index) + ".tmp");
    std::ofstream(tmp) << body;
    fs::rename(tmp, dir / ("f" + std::to_string(100000 + index) + ".json"));
}

inline std::string pipeline_json(const std::string& extra_table = "", const std::string& silver_action = "drop") {
    return R"({
  "name": "test",
  "storage": "storage",
  "sources": {"tx": {"path": "landing", "format": "json", "infer_column_types": true,
                     "schema_hints": "tx_id BIGINT, V1 DOUBLE, V2 DOUBLE, Amount DOUBLE, Time DOUBLE",
                     "max_files_per_trigger": 3, "settle_time_ms": 0}},
  "tables": [
    {"name": "raw", "from": "tx", "quality": "bronze"},
    {"name": "clean", "from": "raw", "quality": "silver",
     "expectations": [{"name": "valid", "constraint": "AMOUNT IS NOT NULL OR TIME IS NOT NULL",
                       "on_violation": ")" + silver_action + R"("}]},
    {"name": "scored", "from": "clean", "quality": "gold", "score": {"model": "model.iforest"},
     "select": ["tx_id", "Amount", "anomaly_score", "is_anomaly", "model_version"]})" +
           extra_table + R"(
  ]
}
)";
}

inline std::vector<std::int64_t> ids_of(isoflow::Store& store, const std::string& table) {
    const auto batch = store.read_table(table);
    const auto values = batch.column("tx_id").int64_values();
    return {values.begin(), values.end()};
}


}  // namespace pipeline_test
