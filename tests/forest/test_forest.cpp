// IsolationForest<T>: scikit-learn's semantics point by point, errors, and model files.
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <random>
#include <set>
#include <string>

#include <isoflow/forest.hpp>

#include "test_helpers.hpp"

namespace {

using isoflow::IsolationForest;
using isoflow::IsolationForestParams;
using isoflow::RowMatrix;

template <class T>
RowMatrix<T> gaussian(Eigen::Index rows, Eigen::Index cols, unsigned seed) {
    std::mt19937 rng(seed);
    std::normal_distribution<double> normal;
    RowMatrix<T> X(rows, cols);
    for (Eigen::Index r = 0; r < rows; ++r)
        for (Eigen::Index c = 0; c < cols; ++c) X(r, c) = static_cast<T>(normal(rng));
    return X;
}

IsolationForestParams seeded(std::uint64_t seed) {
    IsolationForestParams p;
    p.random_state = seed;
    return p;
}

std::string message_of(const std::function<void()>& f) {
    try {
        f();
    } catch (const isoflow::error& e) {
        return e.what();
    }
    return "(no isoflow::error thrown)";
}

bool contains(const std::string& haystack, const std::string& needle) {
    return haystack.find(needle) != std::string::npos;
}

// Independent re-computation of scikit-learn's formula from the trees.
template <class T>
double expected_score(const IsolationForest<T>& forest, const RowMatrix<T>& X, Eigen::Index r) {
    double total = 0.0;
    for (const auto& tree : forest.trees()) {
        std::size_t node = 0;
        int depth = 0;
        while (tree.left[node] >= 0) {
            const double x = static_cast<double>(X(r, tree.feature[node]));
            node = static_cast<std::size_t>(x <= tree.threshold[node] ? tree.left[node] : tree.right[node]);
            ++depth;
        }
        const double n = static_cast<double>(tree.n_node_samples[node]);
        const double c = n <= 1 ? 0.0 : n == 2 ? 1.0 : 2.0 * (std::log(n - 1.0) + 0.5772156649015329) - 2.0 * (n - 1.0) / n;
        total += depth + c;
    }
    const double psi = static_cast<double>(forest.max_samples());
    const double c_psi = psi <= 1 ? 0.0 : psi == 2 ? 1.0 : 2.0 * (std::log(psi - 1.0) + 0.5772156649015329) - 2.0 * (psi - 1.0) / psi;
    return -std::pow(2.0, -total / (static_cast<double>(forest.trees().size()) * c_psi));
}

}  // namespace

TEST_CASE("params: defaults are scikit-learn's", "[forest][params]") {
    const IsolationForestParams p;
    CHECK(p.n_estimators == 100);
    CHECK(p.max_samples.kind() == isoflow::MaxSamples::Kind::automatic);
    CHECK(p.contamination.is_auto());
    CHECK(!p.max_features.is_count());
    CHECK(p.max_features.fraction() == 1.0);
    CHECK(!p.bootstrap);
    CHECK(p.n_jobs == 1);
    CHECK(!p.random_state.has_value());
    CHECK(!p.warm_start);
    CHECK(isoflow::MaxSamples::parse("auto").resolve(1000) == 256);
    CHECK(isoflow::MaxSamples::parse("auto").resolve(100) == 100);
    CHECK(isoflow::MaxSamples::parse("300").resolve(100) == 100);
    CHECK(isoflow::MaxSamples::parse("0.5").resolve(1001) == 500);
    CHECK(isoflow::MaxFeatures::parse("0.5").resolve(7) == 3);
    CHECK(isoflow::MaxFeatures::parse("0.01").resolve(7) == 1);
}

TEST_CASE("params: every value out of range is an error naming the parameter, value and range",
          "[forest][params][errors]") {
    auto check = [](IsolationForestParams p, const std::string& name, const std::string& value,
                    const std::string& range) {
        const std::string m = message_of([&] { IsolationForest<float> f(p); });
        INFO(m);
        CHECK(contains(m, name));
        CHECK(contains(m, value));
        CHECK(contains(m, range));
    };
    IsolationForestParams p;
    p.n_estimators = 0;
    check(p, "n_estimators", "0", ">= 1");
    p = {};
    p.max_samples = 0;
    check(p, "max_samples", "0", ">= 1");
    p = {};
    p.max_samples = 1.5;
    check(p, "max_samples", "1.5", "(0, 1]");
    p = {};
    p.contamination = 0.7;
    check(p, "contamination", "0.7", "(0, 0.5]");
    p = {};
    p.contamination = 0.0;
    check(p, "contamination", "0", "(0, 0.5]");
    p = {};
    p.max_features = 0;
    check(p, "max_features", "0", ">= 1");
    p = {};
    p.max_features = -0.5;
    check(p, "max_features", "-0.5", "(0, 1]");
    p = {};
    p.n_jobs = 0;
    check(p, "n_jobs", "0", "-1");

    p = seeded(1);
    p.max_features = 9;
    const auto X = gaussian<float>(50, 4, 1);
    const std::string m = message_of([&] { IsolationForest<float>(p).fit(X); });
    CHECK(contains(m, "max_features"));
    CHECK(contains(m, "1 to 4"));
}

TEST_CASE("fit: psi, max_depth and the trees follow scikit-learn's rules", "[forest][fit]") {
    const auto X = gaussian<float>(1000, 5, 2);
    IsolationForest<float> forest(seeded(7));
    forest.fit(X);
    CHECK(forest.max_samples() == 256);
    CHECK(forest.max_depth() == 8);
    CHECK(forest.trees().size() == 100);
    CHECK(forest.n_features_in() == 5);
    for (const auto& tree : forest.trees()) {
        CHECK(tree.n_node_samples[0] == 256);
        CHECK(tree.max_depth() <= 8);
        for (std::size_t i = 0; i < tree.size(); ++i) {
            if (tree.left[i] < 0) continue;
            const auto l = static_cast<std::size_t>(tree.left[i]);
            const auto r = static_cast<std::size_t>(tree.right[i]);
            CHECK(tree.n_node_samples[l] + tree.n_node_samples[r] == tree.n_node_samples[i]);
            CHECK(tree.n_node_samples[l] >= 1);
            CHECK(tree.n_node_samples[r] >= 1);
        }
    }
    SECTION("max_samples as a count and as a fraction") {
        IsolationForestParams p = seeded(3);
        p.max_samples = 3;
        IsolationForest<float> small(p);
        small.fit(X);
        CHECK(small.max_samples() == 3);
        CHECK(small.max_depth() == 2);
        p.max_samples = 0.25;
        IsolationForest<float> quarter(p);
        quarter.fit(X);
        CHECK(quarter.max_samples() == 250);
        CHECK(quarter.max_depth() == 8);
        p.max_samples = 1;
        IsolationForest<float> single(p);
        single.fit(X);
        CHECK(single.max_depth() == 1);
        for (const auto& tree : single.trees()) CHECK(tree.size() == 1);
        const Eigen::VectorXd s = single.score_samples(X);
        CHECK((s.array() == -1.0).all());  // path 0 everywhere, c(1) = 0: scikit-learn gives -1
    }
    SECTION("bootstrap counts distinct rows") {
        IsolationForestParams p = seeded(4);
        p.bootstrap = true;
        p.max_samples = 1000;
        IsolationForest<float> boot(p);
        boot.fit(X);
        for (const auto& tree : boot.trees()) {
            CHECK(tree.n_node_samples[0] < 1000);  // 1000 draws with replacement from 1000 rows
            CHECK(tree.n_node_samples[0] > 500);
        }
    }
    SECTION("max_features < 1 gives each tree a subset of the columns") {
        IsolationForestParams p = seeded(5);
        p.max_features = 0.4;  // 2 of 5
        IsolationForest<float> sub(p);
        sub.fit(X);
        std::set<int> all_used;
        for (const auto& tree : sub.trees()) {
            std::set<int> used;
            for (std::size_t i = 0; i < tree.size(); ++i)
                if (tree.left[i] >= 0) used.insert(tree.feature[i]);
            CHECK(used.size() <= 2);
            all_used.insert(used.begin(), used.end());
        }
        CHECK(all_used.size() == 5);
    }
}

TEST_CASE("fit: constant columns are never split on, duplicate rows end in one leaf", "[forest][fit]") {
    RowMatrix<double> X(300, 3);
    std::mt19937 rng(9);
    std::uniform_real_distribution<double> u(0, 1);
    for (int r = 0; r < 300; ++r) {
        X(r, 0) = 5.0;                       // constant
        X(r, 1) = r < 150 ? 1.0 : u(rng);    // the first half are duplicate rows
        X(r, 2) = r < 150 ? 2.0 : u(rng) + 1e-9;  // constant within 1e-7 only for the duplicates
    }
    IsolationForestParams p = seeded(11);
    p.max_samples = 300;
    IsolationForest<double> forest(p);
    forest.fit(X);
    for (const auto& tree : forest.trees()) {
        for (std::size_t i = 0; i < tree.size(); ++i) {
            if (tree.left[i] >= 0) {
                CHECK(tree.feature[i] != 0);
            }
        }
    }
    // A row equal to the 150 duplicates lands in a leaf holding all of them (or stops at depth).
    RowMatrix<double> dup(1, 3);
    dup << 5.0, 1.0, 2.0;
    for (const auto& tree : forest.trees()) {
        std::size_t node = 0;
        while (tree.left[node] >= 0)
            node = static_cast<std::size_t>(dup(0, tree.feature[node]) <= tree.threshold[node] ? tree.left[node] : tree.right[node]);
        CHECK(tree.n_node_samples[node] >= 1);
        if (tree.max_depth() < forest.max_depth()) {
            CHECK(tree.n_node_samples[node] == 150);
        }
    }
}

TEST_CASE("score_samples follows scikit-learn's formula and outliers score lower", "[forest][score]") {
    const auto X = gaussian<float>(500, 4, 3);
    IsolationForest<float> forest(seeded(1));
    forest.fit(X);
    const Eigen::VectorXd s = forest.score_samples(X);
    for (Eigen::Index r = 0; r < 50; ++r) CHECK(std::abs(s(r) - expected_score(forest, X, r)) <= 1e-15);
    CHECK(isoflow::average_path_length(1) == 0.0);
    CHECK(isoflow::average_path_length(2) == 1.0);
    CHECK(std::abs(isoflow::average_path_length(256) -
                   (2.0 * (std::log(255.0) + 0.5772156649015329) - 2.0 * 255.0 / 256.0)) < 1e-15);
    RowMatrix<float> probe(2, 4);
    probe << 0, 0, 0, 0, 8, -8, 8, -8;
    const Eigen::VectorXd ps = forest.score_samples(probe);
    CHECK(ps(1) < ps(0));
    CHECK(ps(0) < 0.0);
    CHECK(ps(1) >= -1.0);
    const Eigen::VectorXd d = forest.decision_function(probe);
    CHECK(d(0) == ps(0) + 0.5);
    const Eigen::VectorXi pr = forest.predict(probe);
    CHECK(pr(0) == (d(0) < 0 ? -1 : 1));
    CHECK(pr(1) == -1);
}

TEST_CASE("contamination: offset is numpy's linear percentile of the training scores", "[forest][score]") {
    CHECK(std::abs(isoflow::detail::quantile_linear({1, 2, 3, 4}, 0.1) - 1.3) < 1e-12);
    CHECK(isoflow::detail::quantile_linear({4, 1, 3, 2}, 0.5) == 2.5);
    CHECK(isoflow::detail::quantile_linear({7}, 0.3) == 7);
    const auto X = gaussian<double>(1000, 3, 4);
    IsolationForestParams p = seeded(2);
    p.contamination = 0.1;
    IsolationForest<double> forest(p);
    forest.fit(X);
    const Eigen::VectorXd s = forest.score_samples(X);
    CHECK(forest.offset() == isoflow::detail::quantile_linear(std::vector<double>(s.data(), s.data() + s.size()), 0.1));
    const Eigen::VectorXi labels = forest.predict(X);
    const auto outliers = (labels.array() == -1).count();
    CHECK(outliers >= 99);
    CHECK(outliers <= 101);
    IsolationForest<double> automatic(seeded(2));
    automatic.fit(X);
    CHECK(automatic.offset() == -0.5);
}

TEST_CASE("the same random_state gives the same forest, bit for bit, for any n_jobs", "[forest][fit]") {
    const auto X = gaussian<float>(3000, 6, 5);
    std::vector<isoflow::Tree> reference;
    Eigen::VectorXd reference_scores;
    auto same_trees = [](const std::vector<isoflow::Tree>& a, const std::vector<isoflow::Tree>& b) {
        if (a.size() != b.size()) return false;
        for (std::size_t i = 0; i < a.size(); ++i)
            if (a[i].feature != b[i].feature || a[i].threshold != b[i].threshold ||
                a[i].left != b[i].left || a[i].right != b[i].right ||
                a[i].n_node_samples != b[i].n_node_samples)
                return false;
        return true;
    };
    for (int jobs : {1, 2, 3, -1}) {
        IsolationForestParams p = seeded(42);
        p.n_jobs = jobs;
        p.max_features = 0.7;
        IsolationForest<float> forest(p);
        forest.fit(X);
        if (reference.empty()) {
            reference = forest.trees();
            reference_scores = forest.score_samples(X);
        } else {
            CHECK(same_trees(forest.trees(), reference));
            CHECK((forest.score_samples(X).array() == reference_scores.array()).all());
        }
    }
    IsolationForestParams p = seeded(43);
    p.max_features = 0.7;
    IsolationForest<float> other(p);
    other.fit(X);
    CHECK(!same_trees(other.trees(), reference));
}

TEST_CASE("warm_start adds trees and keeps the old ones, no growth is an error", "[forest][fit]") {
    const auto X = gaussian<float>(400, 3, 6);
    IsolationForestParams p = seeded(8);
    p.n_estimators = 30;
    p.warm_start = true;
    IsolationForest<float> forest(p);
    forest.fit(X);
    const auto before = forest.trees();
    p.n_estimators = 45;
    forest.set_params(p);
    forest.fit(X);
    REQUIRE(forest.trees().size() == 45);
    for (std::size_t i = 0; i < before.size(); ++i) {
        CHECK(forest.trees()[i].feature == before[i].feature);
        CHECK(forest.trees()[i].threshold == before[i].threshold);
    }
    const std::string same = message_of([&] { forest.fit(X); });
    CHECK(contains(same, "n_estimators is 45"));
    CHECK(contains(same, "already has 45 trees"));
    p.n_estimators = 60;
    forest.set_params(p);
    const auto wrong = gaussian<float>(400, 4, 6);
    CHECK(contains(message_of([&] { forest.fit(wrong); }), "4 columns"));
}

TEST_CASE("bad input: clear errors, no crash", "[forest][errors]") {
    IsolationForest<float> forest(seeded(1));
    CHECK(contains(message_of([&] { forest.fit(RowMatrix<float>(0, 3)); }), "no rows"));
    CHECK(contains(message_of([&] { forest.fit(RowMatrix<float>(5, 0)); }), "no columns"));
    auto X = gaussian<float>(100, 3, 7);
    X(17, 2) = std::numeric_limits<float>::quiet_NaN();
    std::string m = message_of([&] { forest.fit(X, {"a", "b", "c"}); });
    CHECK(contains(m, "NaN"));
    CHECK(contains(m, "row 17"));
    CHECK(contains(m, "column 2"));
    CHECK(contains(m, "'c'"));
    X(17, 2) = std::numeric_limits<float>::infinity();
    CHECK(contains(message_of([&] { forest.fit(X); }), "infinity"));
    CHECK(contains(message_of([&] { (void)forest.score_samples(X); }), "not fitted"));
    CHECK(contains(message_of([&] { (void)forest.offset(); }), "not fitted"));
    X(17, 2) = 0;
    forest.fit(X);
    const std::string cols = message_of([&] { (void)forest.score_samples(gaussian<float>(4, 2, 1)); });
    CHECK(contains(cols, "2 columns"));
    CHECK(contains(cols, "fitted with 3"));
    CHECK(contains(message_of([&] { forest.fit(X, {"a"}); }), "1 feature names for 3 columns"));
}

TEST_CASE("missing values at scoring follow the child with more training rows", "[forest][score]") {
    const auto X = gaussian<double>(300, 2, 8);
    IsolationForest<double> forest(seeded(3));
    forest.fit(X);
    RowMatrix<double> row(1, 2);
    row << std::numeric_limits<double>::quiet_NaN(), 0.1;
    double total = 0.0;
    for (const auto& tree : forest.trees()) {
        std::size_t node = 0;
        int depth = 0;
        while (tree.left[node] >= 0) {
            const double x = row(0, tree.feature[node]);
            const auto l = static_cast<std::size_t>(tree.left[node]), r = static_cast<std::size_t>(tree.right[node]);
            node = std::isnan(x) ? (tree.n_node_samples[l] > tree.n_node_samples[r] ? l : r) : (x <= tree.threshold[node] ? l : r);
            ++depth;
        }
        total += depth + isoflow::average_path_length(static_cast<double>(tree.n_node_samples[node]));
    }
    CHECK(forest.score_samples(row)(0) == forest.score_from_total(total));
}

TEST_CASE("model files: load(save(m)) scores bit-identically, binary and JSON", "[forest][files]") {
    isoflow_test::TempDir dir("model_files");
    const auto X = gaussian<float>(700, 4, 9);
    IsolationForestParams p = seeded(12);
    p.contamination = 0.05;
    p.max_features = 3;
    IsolationForest<float> forest(p);
    forest.fit(X, {"w", "x", "y", "z"});
    const Eigen::VectorXd s = forest.score_samples(X);
    for (const std::string name : {"m.iforest", "m.json"}) {
        forest.save(dir / name);
        const auto loaded = IsolationForest<float>::load(dir / name);
        CHECK((loaded.score_samples(X).array() == s.array()).all());
        CHECK(loaded.offset() == forest.offset());
        CHECK(loaded.feature_names_in() == forest.feature_names_in());
        CHECK(loaded.params() == forest.params());
        CHECK((loaded.to_bytes() == forest.to_bytes()));
    }
    IsolationForest<double> wide(p);
    wide.fit(X.cast<double>());
    wide.save(dir / "d.iforest");
    CHECK((IsolationForest<double>::load(dir / "d.iforest").to_bytes() == wide.to_bytes()));
}

TEST_CASE("model files: truncated, corrupt, foreign, other version or float type are clear errors",
          "[forest][files][errors]") {
    isoflow_test::TempDir dir("bad_models");
    IsolationForest<float> forest(seeded(1));
    forest.fit(gaussian<float>(200, 3, 1));
    const std::string bytes = forest.to_bytes();
    auto write = [&](const std::string& name, const std::string& data) {
        std::ofstream(dir / name, std::ios::binary) << data;
        return dir / name;
    };
    auto load_message = [&](const std::string& path) {
        return message_of([&] { (void)IsolationForest<float>::load(path); });
    };
    CHECK(contains(load_message(write("trunc.bin", bytes.substr(0, bytes.size() / 2))), "truncated"));
    CHECK(contains(load_message(write("tiny.bin", bytes.substr(0, 10))), "truncated"));
    std::string flipped = bytes;
    flipped[bytes.size() / 2] = static_cast<char>(flipped[bytes.size() / 2] ^ 0x40);
    CHECK(contains(load_message(write("flip.bin", flipped)), "checksum"));
    CHECK(contains(load_message(write("foreign.bin", "hello, world, this is not a model at all")), "not an isoflow model"));
    std::string version = bytes;
    version[8] = 9;  // format version 9, checksum recomputed
    const std::uint64_t sum = isoflow::detail::fnv1a(version.data(), version.size() - 8);
    std::memcpy(version.data() + version.size() - 8, &sum, 8);
    CHECK(contains(load_message(write("v9.bin", version)), "version 9"));
    IsolationForest<double> wide(seeded(1));
    wide.fit(gaussian<double>(200, 3, 1));
    const std::string other = load_message(write("double.bin", wide.to_bytes()));
    CHECK(contains(other, "IsolationForest<double>"));
    CHECK(contains(other, "IsolationForest<float>"));
    CHECK(contains(load_message((dir.path() / "missing.bin").string()), "cannot open"));
    try {
        (void)IsolationForest<float>::load((dir.path() / "missing.bin").string());
    } catch (const isoflow::io_error&) {
        SUCCEED("a missing file is an io_error");
    }

    const std::string json = forest.to_json();
    CHECK(contains(load_message(write("trunc.json", json.substr(0, json.size() / 2))), "trunc.json:"));
    std::string unknown = json;
    unknown.insert(2, "\"colour\": 1, ");
    CHECK(contains(load_message(write("unknown.json", unknown)), "unknown key \"colour\""));
    std::string cyclic = json;
    const auto at = cyclic.find("\"children_left\": [") + 18;
    cyclic.replace(at, 1, "0");  // root's left child is the root itself
    const std::string cyc = load_message(write("cyclic.json", cyclic));
    CHECK(contains(cyc, "tree 0"));
    CHECK(contains(cyc, "out of order"));
}
