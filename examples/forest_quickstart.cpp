// Train an isolation forest, score new records, save and load the model.
//
// Normal records cluster around the origin; a few far-away records are anomalies. The forest
// gives them lower scores (score_samples) and predict marks them -1.
#include <isoflow/forest.hpp>

#include <cstdio>
#include <filesystem>
#include <random>

int main() {
    std::mt19937 rng(1);
    std::normal_distribution<float> normal(0.0f, 1.0f);
    isoflow::RowMatrix<float> X(5000, 3);
    for (Eigen::Index r = 0; r < X.rows(); ++r)
        for (Eigen::Index c = 0; c < X.cols(); ++c) X(r, c) = normal(rng);

    isoflow::IsolationForestParams params;
    params.random_state = 42;
    params.contamination = 0.01;  // flag the 1% most isolated training rows
    params.n_jobs = -1;
    isoflow::IsolationForest<float> forest(params);
    forest.fit(X, {"latency_ms", "bytes", "errors"});

    isoflow::RowMatrix<float> incoming(2, 3);
    incoming << 0.1f, -0.3f, 0.2f,   // ordinary
        4.5f, 0.0f, -4.0f;           // far from everything seen
    std::printf("offset (the 1%% percentile of training scores): %.4f\n", forest.offset());
    const Eigen::VectorXd scores = forest.score_samples(incoming);
    const Eigen::VectorXi labels = forest.predict(incoming);
    for (Eigen::Index i = 0; i < incoming.rows(); ++i)
        std::printf("record %ld: score %.4f -> %s\n", static_cast<long>(i), scores(i),
                    labels(i) == -1 ? "anomaly" : "normal");

    const auto path = (std::filesystem::temp_directory_path() / "quickstart.iforest").string();
    forest.save(path);
    const auto loaded = isoflow::IsolationForest<float>::load(path);
    std::printf("reloaded model: %zu trees over %s, %s, %s; same scores: %s\n", loaded.trees().size(),
                loaded.feature_names_in()[0].c_str(), loaded.feature_names_in()[1].c_str(),
                loaded.feature_names_in()[2].c_str(),
                (loaded.score_samples(incoming).array() == scores.array()).all() ? "yes" : "no");
    std::filesystem::remove(path);
    return labels(0) == 1 && labels(1) == -1 ? 0 : 1;
}
