// A model imported from scikit-learn scores as scikit-learn does: at most 1e-12 apart on every
// row, and the same predict.
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>

#include <isoflow/forest.hpp>

#include "csv_data.hpp"
#include "test_helpers.hpp"

namespace {

using isoflow_test::TempDir;

template <class T>
std::vector<T> read_raw(const std::filesystem::path& path, std::size_t skip = 0) {
    const std::string bytes = isoflow_test::slurp(path);
    REQUIRE(bytes.size() >= skip);
    std::vector<T> values((bytes.size() - skip) / sizeof(T));
    std::memcpy(values.data(), bytes.data() + skip, values.size() * sizeof(T));
    return values;
}

// X.bin: rows and columns as int64, then the matrix row-major as float64 (little-endian).
isoflow::RowMatrix<double> read_matrix(const std::filesystem::path& path) {
    const auto shape = read_raw<std::int64_t>(path);
    REQUIRE(shape.size() >= 2);
    const auto values = read_raw<double>(path, 16);
    REQUIRE(values.size() == static_cast<std::size_t>(shape[0] * shape[1]));
    return Eigen::Map<const isoflow::RowMatrix<double>>(values.data(), shape[0], shape[1]);
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
        const auto X = read_matrix(folder / "X.bin");
        const auto expected = read_raw<double>(folder / "scores.bin");
        const auto expected_predict = read_raw<std::int32_t>(folder / "predict.bin");
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
