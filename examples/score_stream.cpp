// Scoring as records arrive: one row at a time without allocation, and columnar batches
// (one contiguous array per feature, as the pipeline's batches hold them) without copies.
#include <isoflow/forest.hpp>

#include <cstdio>
#include <random>
#include <span>
#include <vector>

int main() {
    std::mt19937 rng(7);
    std::normal_distribution<double> normal;
    isoflow::RowMatrix<double> history(20000, 4);
    for (Eigen::Index r = 0; r < history.rows(); ++r)
        for (Eigen::Index c = 0; c < 4; ++c) history(r, c) = normal(rng);

    isoflow::IsolationForestParams params;
    params.random_state = 1;
    isoflow::IsolationForest<float> forest(params);
    forest.fit(history);  // doubles are rounded to float, as numpy does

    // Event at a time: score_one allocates nothing, so it suits a request handler.
    const float ordinary[4] = {0.2f, -0.1f, 0.4f, 0.0f};
    const float strange[4] = {6.0f, -5.5f, 0.0f, 7.0f};
    std::printf("one row: ordinary %.4f, strange %.4f (lower is more abnormal)\n",
                forest.score_one(std::span<const float>(ordinary)), forest.score_one(std::span<const float>(strange)));

    // A columnar batch: one array per feature; double columns are converted on the fly.
    const std::size_t n = 1000;
    std::vector<std::vector<double>> columns(4, std::vector<double>(n));
    for (auto& column : columns)
        for (auto& v : column) v = normal(rng);
    for (std::size_t k = 0; k < columns.size(); ++k) columns[k][17] = k % 2 ? -6.0 : 6.0;  // one outlier
    std::vector<const double*> pointers;
    for (const auto& column : columns) pointers.push_back(column.data());
    const Eigen::VectorXd scores = forest.score_columns(std::span<const double* const>(pointers), n);
    Eigen::Index lowest = 0;
    scores.minCoeff(&lowest);
    std::printf("columnar batch of %zu rows: the lowest score is row %ld (%.4f)\n", n, static_cast<long>(lowest),
                scores(lowest));
    return lowest == 17 ? 0 : 1;
}
