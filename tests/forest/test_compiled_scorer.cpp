// The compiled scorer gives exactly the reference scorer's scores: every kernel, every input
// layout, single rows, threads, missing values and the edge cases of tree shapes.
#include <cmath>
#include <cstdint>
#include <limits>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include <isoflow/forest.hpp>

#include "csv_data.hpp"

namespace {

using isoflow::IsolationForest;
using isoflow::IsolationForestParams;
using isoflow::RowMatrix;
using isoflow::ScorerKernel;

template <class T>
using ColMatrix = Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic, Eigen::ColMajor>;

// Mixed-scale data with a few repeated values, so trees have shallow leaves and ties.
RowMatrix<double> mixed_data(Eigen::Index n, Eigen::Index d, std::uint64_t seed) {
    std::mt19937_64 rng(seed);
    std::normal_distribution<double> normal;
    std::uniform_int_distribution<int> small(0, 3);
    RowMatrix<double> X(n, d);
    for (Eigen::Index r = 0; r < n; ++r)
        for (Eigen::Index c = 0; c < d; ++c)
            X(r, c) = c % 3 == 2 ? static_cast<double>(small(rng)) : normal(rng) * (1.0 + static_cast<double>(c));
    return X;
}

// Counts rows whose scores differ in any bit.
std::size_t mismatches(const Eigen::VectorXd& a, const Eigen::VectorXd& b) {
    REQUIRE(a.size() == b.size());
    std::size_t bad = 0;
    for (Eigen::Index i = 0; i < a.size(); ++i) bad += !(a(i) == b(i));
    return bad;
}

// Every kernel and every layout of X (row-major, column-major, a strided block, doubles,
// column pointers, single rows) scores exactly as the reference does.
template <class T>
void check_all_layouts(const IsolationForest<T>& forest, const RowMatrix<double>& X_double) {
    const RowMatrix<T> X = X_double.template cast<T>();
    const Eigen::VectorXd expected = forest.score_samples_reference(X);
    // The reference applied to double input converts each value to T, as the trees see it.
    REQUIRE(mismatches(forest.score_samples_reference(X_double), expected) == 0);

    const ColMatrix<T> X_col = X;
    const ColMatrix<double> X_col_double = X_double;
    // A block of a wider matrix: rows are not contiguous.
    RowMatrix<T> wide = RowMatrix<T>::Zero(X.rows(), X.cols() + 3);
    wide.block(0, 2, X.rows(), X.cols()) = X;
    std::vector<std::vector<T>> columns_t(static_cast<std::size_t>(X.cols()));
    std::vector<std::vector<double>> columns_d(static_cast<std::size_t>(X.cols()));
    for (Eigen::Index c = 0; c < X.cols(); ++c)
        for (Eigen::Index r = 0; r < X.rows(); ++r) {
            columns_t[static_cast<std::size_t>(c)].push_back(X(r, c));
            columns_d[static_cast<std::size_t>(c)].push_back(X_double(r, c));
        }
    std::vector<const T*> pointers_t;
    std::vector<const double*> pointers_d;
    for (const auto& c : columns_t) pointers_t.push_back(c.data());
    for (const auto& c : columns_d) pointers_d.push_back(c.data());
    const auto n = static_cast<std::size_t>(X.rows());

    for (ScorerKernel kernel : isoflow::available_kernels()) {
        INFO("kernel " << isoflow::to_string(kernel));
        CHECK(mismatches(forest.score_samples(X, kernel), expected) == 0);
        CHECK(mismatches(forest.score_samples(X_col, kernel), expected) == 0);
        CHECK(mismatches(forest.score_samples(X_double, kernel), expected) == 0);
        CHECK(mismatches(forest.score_samples(X_col_double, kernel), expected) == 0);
        CHECK(mismatches(forest.score_samples(wide.block(0, 2, X.rows(), X.cols()), kernel), expected) == 0);
        CHECK(mismatches(forest.score_columns(std::span<const T* const>(pointers_t), n, kernel), expected) == 0);
        CHECK(mismatches(forest.score_columns(std::span<const double* const>(pointers_d), n, kernel), expected) == 0);
    }
    // An Eigen::Map of the same memory and an expression that is not stored anywhere.
    const Eigen::Map<const RowMatrix<T>> mapped(X.data(), X.rows(), X.cols());
    CHECK(mismatches(forest.score_samples(mapped), expected) == 0);
    CHECK(mismatches(forest.score_samples(X_double.array() * 1.0), expected) == 0);
    CHECK(mismatches(forest.decision_function(X), (expected.array() - forest.offset()).matrix()) == 0);

    std::size_t single_bad = 0;
    for (Eigen::Index r = 0; r < X.rows(); r += 7) {
        const std::span<const T> row(X.data() + r * X.cols(), static_cast<std::size_t>(X.cols()));
        const std::span<const double> row_d(X_double.data() + r * X.cols(), static_cast<std::size_t>(X.cols()));
        single_bad += !(forest.score_one(row) == expected(r));
        single_bad += !(forest.score_one(row_d) == expected(r));
    }
    CHECK(single_bad == 0);
}

template <class T>
IsolationForest<T> fitted(const RowMatrix<double>& X, isoflow::MaxSamples psi, int trees,
                          std::uint64_t seed, double max_features = 1.0) {
    IsolationForestParams params;
    params.n_estimators = trees;
    params.max_samples = psi;
    params.max_features = max_features;
    params.random_state = seed;
    IsolationForest<T> forest(params);
    forest.fit(X.template cast<T>().eval());
    REQUIRE(forest.compiled() != nullptr);
    return forest;
}

}  // namespace

TEST_CASE("compiled scorer: every kernel and layout equals the reference on random forests",
          "[forest][compiled]") {
    // 1001 rows: not a multiple of any kernel's width nor of the tile.
    const RowMatrix<double> X = mixed_data(1001, 7, 11);
    SECTION("float") { check_all_layouts(fitted<float>(X, isoflow::MaxSamples::automatic(), 60, 1), X); }
    SECTION("double") { check_all_layouts(fitted<double>(X, isoflow::MaxSamples::automatic(), 60, 2), X); }
    SECTION("float, max_features 0.5, psi 600 (depth 10)") {
        check_all_layouts(fitted<float>(X, 600, 20, 3, 0.5), X);
    }
}

TEST_CASE("compiled scorer: edge cases of psi, depth, constant columns and widths",
          "[forest][compiled]") {
    SECTION("psi = 1, 2, 3 (depth-0 and shallow trees)") {
        const RowMatrix<double> X = mixed_data(37, 4, 5);
        for (int psi : {1, 2, 3}) {
            INFO("psi " << psi);
            const auto forest = fitted<float>(X, psi, 25, 7);
            if (psi == 1) REQUIRE(forest.compiled()->depth() == 0);
            check_all_layouts(forest, X);
            check_all_layouts(fitted<double>(X, psi, 25, 8), X);
        }
    }
    SECTION("constant columns, and all columns constant (every tree a single leaf)") {
        RowMatrix<double> X = mixed_data(300, 5, 9);
        X.col(1).setConstant(4.0);
        X.col(3).setConstant(-2.5);
        check_all_layouts(fitted<float>(X, isoflow::MaxSamples::automatic(), 30, 10), X);
        const RowMatrix<double> flat = RowMatrix<double>::Constant(50, 3, 1.5);
        const auto forest = fitted<float>(flat, isoflow::MaxSamples::automatic(), 10, 11);
        REQUIRE(forest.compiled()->depth() == 0);
        check_all_layouts(forest, mixed_data(40, 3, 12));
    }
    SECTION("d = 1") {
        const RowMatrix<double> X = mixed_data(500, 1, 13);
        check_all_layouts(fitted<float>(X, isoflow::MaxSamples::automatic(), 30, 14), X);
        // A column vector is an n x 1 matrix too.
        const auto forest = fitted<float>(X, isoflow::MaxSamples::automatic(), 30, 14);
        const Eigen::VectorXf v = X.col(0).cast<float>();
        CHECK(mismatches(forest.score_samples(v), forest.score_samples_reference(v)) == 0);
    }
    SECTION("d = 300, above 256 features") {
        const RowMatrix<double> X = mixed_data(260, 300, 15);
        check_all_layouts(fitted<float>(X, isoflow::MaxSamples::automatic(), 20, 16), X);
    }
    SECTION("row counts around the interleave widths and tiles") {
        const RowMatrix<double> X = mixed_data(600, 6, 17);
        const auto forest = fitted<float>(X, isoflow::MaxSamples::automatic(), 15, 18);
        for (Eigen::Index n : {0, 1, 7, 8, 9, 15, 16, 17, 31, 33, 255, 257, 513}) {
            INFO("rows " << n);
            const RowMatrix<float> part = X.topRows(n).cast<float>();
            const Eigen::VectorXd expected = forest.score_samples_reference(part);
            for (ScorerKernel kernel : isoflow::available_kernels())
                CHECK(mismatches(forest.score_samples(part, kernel), expected) == 0);
        }
    }
}

TEST_CASE("compiled scorer: missing values follow the reference's rule", "[forest][compiled]") {
    const RowMatrix<double> train = mixed_data(800, 5, 19);
    RowMatrix<double> X = mixed_data(400, 5, 20);
    std::mt19937 rng(21);
    std::uniform_int_distribution<int> row(0, 399), col(0, 4);
    for (int k = 0; k < 300; ++k) X(row(rng), col(rng)) = std::numeric_limits<double>::quiet_NaN();
    X.row(5).setConstant(std::numeric_limits<double>::quiet_NaN());
    X(6, 2) = std::numeric_limits<double>::infinity();
    X(7, 0) = -std::numeric_limits<double>::infinity();
    check_all_layouts(fitted<float>(train, isoflow::MaxSamples::automatic(), 40, 22), X);
    check_all_layouts(fitted<double>(train, isoflow::MaxSamples::automatic(), 40, 23), X);

    // A hand-made stump whose left child saw more rows: NaN must go left there.
    isoflow::Tree stump;
    stump.feature = {0, -1, -1};
    stump.threshold = {0.5, 0.0, 0.0};
    stump.left = {1, -1, -1};
    stump.right = {2, -1, -1};
    stump.n_node_samples = {10, 7, 3};
    auto forest = IsolationForest<float>::from_parts({}, {stump}, 1, 10, -0.5, {});
    const RowMatrix<double> nan_row = RowMatrix<double>::Constant(1, 1, std::numeric_limits<double>::quiet_NaN());
    const RowMatrix<double> left_row = RowMatrix<double>::Constant(1, 1, 0.0);
    CHECK(forest.score_samples(nan_row)(0) == forest.score_samples_reference(left_row)(0));
    check_all_layouts(forest, nan_row);
}

TEST_CASE("compiled scorer: values equal to a threshold go left, as T against the threshold",
          "[forest][compiled]") {
    // Thresholds 0.5 (exact in float) and 0.1 (not: a float input compares against the largest
    // float not above it). Leaves of 3, 5 and 1 rows get distinct path lengths.
    isoflow::Tree tree;
    tree.feature = {0, 0, -1, -1, -1};
    tree.threshold = {0.5, 0.1, 0.0, 0.0, 0.0};
    tree.left = {1, 2, -1, -1, -1};
    tree.right = {4, 3, -1, -1, -1};
    tree.n_node_samples = {9, 8, 3, 5, 1};
    RowMatrix<double> X(8, 1);
    X << 0.5, std::nextafter(0.5, 1.0), std::nextafter(0.5, 0.0), 0.1, static_cast<double>(0.1f),
        static_cast<double>(std::nextafter(0.1f, 0.0f)), -7.0, 9.0;
    const auto forest_f = IsolationForest<float>::from_parts({}, {tree}, 1, 9, -0.5, {});
    const auto forest_d = IsolationForest<double>::from_parts({}, {tree}, 1, 9, -0.5, {});
    auto reference = [](const auto& forest, double x) {
        return forest.score_samples_reference(RowMatrix<double>::Constant(1, 1, x))(0);
    };
    const double low = reference(forest_f, 0.0), mid = reference(forest_f, 0.3),
                 high = reference(forest_f, 9.0);
    REQUIRE(low != mid);
    REQUIRE(mid != high);
    REQUIRE(reference(forest_d, 0.3) == mid);
    for (ScorerKernel kernel : isoflow::available_kernels()) {
        INFO("kernel " << isoflow::to_string(kernel));
        const Eigen::VectorXd f = forest_f.score_samples(X, kernel);
        const Eigen::VectorXd d = forest_d.score_samples(X, kernel);
        CHECK(f(0) == mid);  // 0.5 <= 0.5 goes left
        CHECK(d(0) == mid);
        CHECK(f(1) == mid);  // just above 0.5 in double, but 0.5 as float
        CHECK(d(1) == high);
        CHECK(f(3) == mid);  // float(0.1) = 0.1f lies above 0.1
        CHECK(d(3) == low);  // 0.1 <= 0.1 in double
        CHECK(f(4) == mid);
        CHECK(d(4) == mid);
        CHECK(f(5) == low);  // the float just below 0.1f is the float threshold
    }
    check_all_layouts(forest_f, X);
    check_all_layouts(forest_d, X);
}

TEST_CASE("compiled scorer: trees deeper than the compiled limit keep the reference scorer",
          "[forest][compiled]") {
    // A chain 17 levels deep: node 2k splits, 2k + 1 is its left leaf, 2k + 2 its right child.
    const int depth = 17;
    isoflow::Tree tree;
    for (std::size_t i = 0; i <= 2 * static_cast<std::size_t>(depth); ++i) {
        const bool internal = i % 2 == 0 && i / 2 < static_cast<std::size_t>(depth);
        tree.feature.push_back(internal ? 0 : -1);
        tree.threshold.push_back(internal ? static_cast<double>(i / 2) : 0.0);
        tree.left.push_back(internal ? static_cast<std::int32_t>(i + 1) : -1);
        tree.right.push_back(internal ? static_cast<std::int32_t>(i + 2) : -1);
        tree.n_node_samples.push_back(internal ? static_cast<std::int64_t>(2 * depth + 1) - static_cast<std::int64_t>(i) : 1);
    }
    REQUIRE(tree.max_depth() == depth);
    auto forest = IsolationForest<float>::from_parts({}, {tree}, 1, 1 << depth, -0.5, {});
    CHECK(forest.compiled() == nullptr);
    RowMatrix<double> X(40, 1);
    for (Eigen::Index r = 0; r < 40; ++r) X(r, 0) = static_cast<double>(r) * 0.5 - 1.0;
    const Eigen::VectorXd expected = forest.score_samples_reference(X);
    CHECK(mismatches(forest.score_samples(X), expected) == 0);
    const float one = 3.25f;
    const RowMatrix<float> one_row = RowMatrix<float>::Constant(1, 1, one);
    CHECK(forest.score_one(std::span<const float>(&one, 1)) == forest.score_samples_reference(one_row)(0));
}

TEST_CASE("compiled scorer: kernels that this CPU lacks are refused, not emulated",
          "[forest][compiled]") {
    const RowMatrix<double> X = mixed_data(50, 3, 24);
    const auto forest = fitted<float>(X, isoflow::MaxSamples::automatic(), 5, 25);
    for (ScorerKernel kernel : {ScorerKernel::avx2, ScorerKernel::avx512, ScorerKernel::neon}) {
        if (isoflow::kernel_available(kernel)) continue;
        INFO("kernel " << isoflow::to_string(kernel));
        REQUIRE_THROWS_AS(forest.score_samples(X, kernel), isoflow::config_error);
    }
    REQUIRE(isoflow::kernel_available(isoflow::best_kernel()));
}

TEST_CASE("compiled scorer: wrong shapes and null columns are errors", "[forest][compiled]") {
    const RowMatrix<double> X = mixed_data(50, 3, 35);
    const auto forest = fitted<float>(X, isoflow::MaxSamples::automatic(), 5, 36);
    const std::vector<float> short_row{1.0f, 2.0f};
    REQUIRE_THROWS_AS(forest.score_one(std::span<const float>(short_row)), isoflow::model_error);
    std::vector<float> column(10, 0.0f);
    const std::vector<const float*> two{column.data(), column.data()};
    REQUIRE_THROWS_AS(forest.score_columns(std::span<const float* const>(two), 10), isoflow::model_error);
    const std::vector<const float*> with_null{column.data(), nullptr, column.data()};
    try {
        (void)forest.score_columns(std::span<const float* const>(with_null), 10);
        FAIL("a null column was accepted");
    } catch (const isoflow::model_error& e) {
        CHECK(std::string(e.what()).find("column 1") != std::string::npos);
    }
    const IsolationForest<float> unfitted;
    REQUIRE_THROWS_AS(unfitted.score_one(std::span<const float>(column.data(), 3)), isoflow::model_error);
}

TEST_CASE("compiled scorer: large batches across threads, and concurrent callers",
          "[forest][compiled]") {
    const RowMatrix<double> train = mixed_data(2000, 4, 26);
    IsolationForestParams params;
    params.n_estimators = 20;
    params.random_state = 27;
    params.n_jobs = 2;
    IsolationForest<float> forest(params);
    forest.fit(train.cast<float>().eval());
    // Over four chunks of 4096 rows, so scoring is split between threads.
    const RowMatrix<float> X = mixed_data(40000, 4, 28).cast<float>();
    const Eigen::VectorXd expected = forest.score_samples_reference(X);
    CHECK(mismatches(forest.score_samples(X), expected) == 0);
    const IsolationForest<float>& shared = forest;
    Eigen::VectorXd a, b;
    std::thread first([&] { a = shared.score_samples(X); });
    std::thread second([&] { b = shared.score_samples(X.topRows(10000)); });
    first.join();
    second.join();
    CHECK(mismatches(a, expected) == 0);
    CHECK(mismatches(b, expected.head(10000)) == 0);
}

TEST_CASE("fit: the same seed gives the same forest for any n_jobs", "[forest][compiled]") {
    const RowMatrix<float> X = mixed_data(5000, 6, 29).cast<float>();
    std::vector<IsolationForest<float>> forests;
    for (int jobs : {1, 2, 3, -1}) {
        IsolationForestParams params;
        params.n_estimators = 40;
        params.random_state = 30;
        params.n_jobs = jobs;
        params.max_features = 0.7;
        params.contamination = 0.05;
        forests.emplace_back(params).fit(X);
    }
    for (std::size_t k = 1; k < forests.size(); ++k) {
        INFO("forest " << k);
        REQUIRE(forests[k].trees().size() == forests[0].trees().size());
        for (std::size_t t = 0; t < forests[0].trees().size(); ++t) {
            const auto& a = forests[0].trees()[t];
            const auto& b = forests[k].trees()[t];
            REQUIRE(a.feature == b.feature);
            REQUIRE(a.threshold == b.threshold);
            REQUIRE(a.left == b.left);
            REQUIRE(a.right == b.right);
            REQUIRE(a.n_node_samples == b.n_node_samples);
        }
        CHECK(forests[k].offset() == forests[0].offset());
        CHECK(mismatches(forests[k].score_samples(X), forests[0].score_samples(X)) == 0);
    }
}

TEST_CASE("fit: bootstrap and a large share of rows drawn stay deterministic and exact",
          "[forest][compiled]") {
    const RowMatrix<double> X = mixed_data(900, 5, 31);
    IsolationForestParams params;
    params.n_estimators = 15;
    params.random_state = 32;
    params.bootstrap = true;
    IsolationForest<float> a(params), b(params);
    a.fit(X.cast<float>().eval());
    params.n_jobs = 2;
    b.set_params(params);
    b.fit(X.cast<float>().eval());
    CHECK(mismatches(a.score_samples(X), b.score_samples(X)) == 0);
    check_all_layouts(a, X);
    check_all_layouts(fitted<float>(X, 0.9, 10, 33), X);  // psi * 4 >= n: the shuffle path
}

TEST_CASE("compiled scorer: every shared data set scores exactly as the reference",
          "[forest][compiled][shared-data]") {
    SKIP_WITHOUT_SHARED_DATA();
    const auto files = isoflow_test::shared_data_files();
    REQUIRE(!files.empty());
    for (const auto& file : files) {
        INFO("data set " << file.filename().string());
        const auto table = isoflow_test::read_numeric_csv(file);
        const RowMatrix<double>& all = table.values;
        // Score at most about 12,000 rows per set (every k-th), so the test stays fast.
        const Eigen::Index step = std::max<Eigen::Index>(1, all.rows() / 12000);
        const Eigen::Index n = (all.rows() + step - 1) / step;
        RowMatrix<double> X(n, all.cols());
        for (Eigen::Index r = 0; r < n; ++r) X.row(r) = all.row(r * step);
        IsolationForestParams params;
        params.random_state = 34;
        IsolationForest<float> forest(params);
        forest.fit(all);
        REQUIRE(forest.compiled() != nullptr);
        const Eigen::VectorXd expected = forest.score_samples_reference(X);
        for (ScorerKernel kernel : isoflow::available_kernels()) {
            INFO("kernel " << isoflow::to_string(kernel));
            CHECK(mismatches(forest.score_samples(X, kernel), expected) == 0);
        }
        const RowMatrix<float> Xf = X.cast<float>();
        for (ScorerKernel kernel : isoflow::available_kernels())
            CHECK(mismatches(forest.score_samples(Xf, kernel), expected) == 0);
    }
}
