// A model imported from scikit-learn scores as scikit-learn does: at most 1e-12 apart on every
// row, and the same predict.
#include <cmath>
#include <filesystem>
#include <fstream>
#include <string>

#include <isoflow/forest.hpp>

#include "csv_data.hpp"
#include "test_helpers.hpp"

namespace {

using isoflow_test::TempDir;

isoflow::RowMatrix<double> read_matrix(const std::filesystem::path& path) {
    std::ifstream in(path);
    Eigen::Index rows = 0, cols = 0;
    in >> rows >> cols;
    isoflow::RowMatrix<double> X(rows, cols);
    std::string token;
    for (Eigen::Index r = 0; r < rows; ++r)
        for (Eigen::Index c = 0; c < cols; ++c) {
            in >> token;
            X(r, c) = std::stod(token);
        }
    return X;
}

template <class Number>
std::vector<Number> read_column(const std::filesystem::path& path) {
    std::ifstream in(path);
    std::vector<Number> values;
    std::string token;
    while (in >> token) values.push_back(static_cast<Number>(std::stod(token)));
    return values;
}

void check_sets(const std::filesystem::path& out) {
    std::ifstream sets(out / "sets.txt");
    std::string name;
    int checked = 0;
    while (std::getline(sets, name)) {
        if (name.empty()) continue;
        INFO("data set " << name);
        const auto folder = out / name;
        const auto model = isoflow::IsolationForest<float>::load((folder / "model.json").string());
        const auto X = read_matrix(folder / "X.txt");
        const auto expected = read_column<double>(folder / "scores.txt");
        const auto expected_predict = read_column<int>(folder / "predict.txt");
        REQUIRE(expected.size() == static_cast<std::size_t>(X.rows()));
        // numpy converts float64 input to float32 before the trees see it; so does isoflow.
        const Eigen::VectorXd scores = model.score_samples(X);
        const Eigen::VectorXi predict = model.predict(X);
        double worst = 0.0;
        std::size_t predict_mismatches = 0;
        for (Eigen::Index i = 0; i < X.rows(); ++i) {
            worst = std::max(worst, std::abs(scores(i) - expected[static_cast<std::size_t>(i)]));
            predict_mismatches += predict(i) != expected_predict[static_cast<std::size_t>(i)];
        }
        INFO("largest |isoflow - sklearn| = " << worst);
        CHECK(worst <= 1e-12);
        CHECK(predict_mismatches == 0);
        ++checked;
    }
    REQUIRE(checked > 0);
}

}  // namespace

TEST_CASE("sklearn parity: imported models score like scikit-learn on synthetic edge-case data",
          "[forest][sklearn]") {
    REQUIRE(isoflow_test::have_sklearn());
    TempDir dir("parity_synthetic");
    const auto result = isoflow_test::run_command(
        isoflow_test::quote(isoflow_test::python()) + " " +
            isoflow_test::quote(isoflow_test::source_path("tests/forest/sklearn_parity.py")) + " " +
            isoflow_test::quote(dir.path().string()),
        dir);
    INFO(result.err);
    REQUIRE(result.status == 0);
    check_sets(dir.path());
}

TEST_CASE("sklearn parity: imported models score like scikit-learn on every shared data set",
          "[forest][sklearn][shared-data]") {
    SKIP_WITHOUT_SHARED_DATA();
    REQUIRE(isoflow_test::have_sklearn());
    TempDir dir("parity_shared");
    std::string command = isoflow_test::quote(isoflow_test::python()) + " " +
                          isoflow_test::quote(isoflow_test::source_path("tests/forest/sklearn_parity.py")) +
                          " " + isoflow_test::quote(dir.path().string());
    const auto files = isoflow_test::shared_data_files();
    REQUIRE(files.size() >= 19);
    for (const auto& file : files) command += " " + isoflow_test::quote(file.string());
    const auto result = isoflow_test::run_command(command, dir);
    INFO(result.err);
    REQUIRE(result.status == 0);
    check_sets(dir.path());
}
