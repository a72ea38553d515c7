// Trains a small forest through the consumed package and checks that an outlier scores lower.
#include <isoflow/forest.hpp>

#include <cstdio>

int main() {
    isoflow::RowMatrix<float> X(200, 2);
    for (int i = 0; i < 200; ++i) {
        X(i, 0) = static_cast<float>(i % 20) * 0.05f;
        X(i, 1) = static_cast<float>(i / 20) * 0.05f;
    }
    isoflow::IsolationForestParams params;
    params.random_state = 7;
    isoflow::IsolationForest<float> forest(params);
    forest.fit(X);
    isoflow::RowMatrix<float> probe(2, 2);
    probe << 0.5f, 0.25f, 25.0f, -40.0f;
    const Eigen::VectorXd scores = forest.score_samples(probe);
    std::printf("inlier %.4f outlier %.4f\n", scores(0), scores(1));
    return scores(1) < scores(0) ? 0 : 1;
}
