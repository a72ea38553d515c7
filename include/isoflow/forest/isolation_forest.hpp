// isoflow::IsolationForest<T>: scikit-learn's IsolationForest, trained in parallel.
#pragma once

#include <Eigen/Core>

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <random>
#include <span>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "isoflow/core/error.hpp"
#include "isoflow/forest/compiled.hpp"
#include "isoflow/forest/detail/gather.hpp"
#include "isoflow/forest/detail/model_file.hpp"
#include "isoflow/forest/detail/parallel.hpp"
#include "isoflow/forest/detail/random.hpp"
#include "isoflow/forest/params.hpp"
#include "isoflow/forest/tree.hpp"

namespace isoflow {

// Row-major n x d matrix: the natural layout of records.
template <class T>
using RowMatrix = Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

namespace detail {

// The q-th quantile (q in [0, 1]) of sorted values with linear interpolation, computed as
// numpy's default method does (including its two-sided interpolation formula).
[[nodiscard]] inline double quantile_linear(std::vector<double> values, double q) {
    std::sort(values.begin(), values.end());
    const double position = q * static_cast<double>(values.size() - 1);
    const auto below = static_cast<std::size_t>(std::floor(position));
    const std::size_t above = std::min(below + 1, values.size() - 1);
    const double t = position - static_cast<double>(below);
    const double a = values[below], b = values[above];
    const double difference = b - a;
    return t >= 0.5 ? b - difference * (1.0 - t) : a + difference * t;
}

template <class T>
[[nodiscard]] constexpr const char* float_type_name() noexcept {
    return std::is_same_v<T, float> ? "float32" : "float64";
}

}  // namespace detail

template <class T = float>
class IsolationForest {
    static_assert(std::is_same_v<T, float> || std::is_same_v<T, double>,
                  "IsolationForest<T>: T must be float or double");

public:
    using value_type = T;

    IsolationForest() = default;
    explicit IsolationForest(IsolationForestParams params) : params_(std::move(params)) {
        params_.validate();
    }

    [[nodiscard]] const IsolationForestParams& params() const noexcept { return params_; }
    // Changes parameters for the next fit (warm_start and n_estimators grow a fitted forest).
    void set_params(IsolationForestParams params) {
        params.validate();
        params_ = std::move(params);
    }

    // Trains on the rows of X (n x d). Only the rows drawn for some tree are read, and those are
    // checked for NaN and infinity. With feature names, `score` in the program and the pipeline
    // match input columns by name.
    template <class Derived>
    IsolationForest& fit(const Eigen::DenseBase<Derived>& X,
                         std::vector<std::string> feature_names = {}) {
        if constexpr (has_direct_access<Derived>)
            fit_impl(X.derived(), std::move(feature_names));  // reads only the sampled rows
        else
            fit_impl(X.derived().eval(), std::move(feature_names));
        return *this;
    }

    // scikit-learn's score_samples: minus the anomaly score 2^(-E[h(x)] / c(psi)); lower is more
    // abnormal. Values are compared as T; path lengths are summed in double. Runs the compiled
    // scorer (bit-identical to score_samples_reference) on X in place, whether row-major or
    // column-major, a Matrix, a Map or a block; double input to a float forest is converted
    // on the fly. Large batches are split across n_jobs threads. Thread-safe on a const forest.
    template <class Derived>
    [[nodiscard]] Eigen::VectorXd score_samples(const Eigen::DenseBase<Derived>& X) const {
        return score_samples(X, ScorerKernel::automatic);
    }

    // The same with a chosen kernel (tests and benchmarks force each one); throws config_error
    // when the kernel is not available on this CPU.
    template <class Derived>
    [[nodiscard]] Eigen::VectorXd score_samples(const Eigen::DenseBase<Derived>& X,
                                                ScorerKernel kernel) const {
        using Scalar = typename Derived::Scalar;
        constexpr bool floating = std::is_same_v<Scalar, float> || std::is_same_v<Scalar, double>;
        check_input(X.rows(), X.cols());
        if (!compiled_) return score_samples_reference(X);
        if constexpr (has_direct_access<Derived> && floating) {
            const Derived& m = X.derived();
            return scores_from(StridedRows<Scalar>{m.data(), static_cast<std::size_t>(m.rows()),
                                                   static_cast<std::size_t>(m.cols()),
                                                   static_cast<std::size_t>(m.rowStride()),
                                                   static_cast<std::size_t>(m.colStride())},
                               static_cast<std::size_t>(m.rows()), kernel);
        } else if constexpr (floating) {
            const RowMatrix<Scalar> evaluated = X.derived();
            return score_samples(evaluated, kernel);
        } else {
            const RowMatrix<T> converted = X.derived().eval().template cast<T>();
            return score_samples(converted, kernel);
        }
    }

    // Scores rows held as one contiguous array per feature (a columnar batch): columns[j][r] is
    // row r's value of feature j, for r in [0, n_rows). U is float or double.
    template <class U>
    [[nodiscard]] Eigen::VectorXd score_columns(std::span<const U* const> columns, std::size_t n_rows,
                                                ScorerKernel kernel = ScorerKernel::automatic) const {
        static_assert(std::is_same_v<U, float> || std::is_same_v<U, double>);
        check_input(static_cast<Eigen::Index>(n_rows), static_cast<Eigen::Index>(columns.size()));
        for (std::size_t j = 0; j < columns.size(); ++j)
            if (columns[j] == nullptr && n_rows > 0)
                detail::throw_error<model_error>("score_columns: column " + std::to_string(j) +
                                                 " is a null pointer");
        if (!compiled_) {
            Eigen::VectorXd scores(static_cast<Eigen::Index>(n_rows));
            for (std::size_t r = 0; r < n_rows; ++r) {
                auto row = [&](std::size_t j) { return static_cast<T>(columns[j][r]); };
                double total = 0.0;
                for (const Tree& tree : trees_) total += tree.template path_length<T>(row);
                scores(static_cast<Eigen::Index>(r)) = score_from_total(total);
            }
            return scores;
        }
        return scores_from(ColumnRows<U>{columns, n_rows}, n_rows, kernel);
    }

    // Scores one row (event-at-a-time use) without allocating. U is float or double.
    template <class U>
    [[nodiscard]] double score_one(std::span<const U> row) const {
        static_assert(std::is_same_v<U, float> || std::is_same_v<U, double>);
        check_input(1, static_cast<Eigen::Index>(row.size()));
        if (compiled_) return score_from_total(compiled_->total_one(row.data()));
        auto value = [&](std::size_t j) { return static_cast<T>(row[j]); };
        double total = 0.0;
        for (const Tree& tree : trees_) total += tree.template path_length<T>(value);
        return score_from_total(total);
    }
    template <class U>
    [[nodiscard]] double score_one(std::span<U> row) const {
        return score_one(std::span<const U>(row));
    }

    // The compiled form of the trees, or null when the forest is not fitted or its trees are
    // deeper than CompiledForest<T>::max_compiled_depth (the reference scorer then serves).
    [[nodiscard]] const CompiledForest<T>* compiled() const noexcept {
        return compiled_ ? &*compiled_ : nullptr;
    }

    // The reference scorer: walks the training trees node by node. The compiled scorer must
    // give exactly its scores.
    template <class Derived>
    [[nodiscard]] Eigen::VectorXd score_samples_reference(const Eigen::DenseBase<Derived>& X) const {
        const auto& data = X.derived().eval();
        check_input(data.rows(), data.cols());
        const auto n = static_cast<std::size_t>(data.rows());
        Eigen::VectorXd scores(data.rows());
        constexpr std::size_t chunk = 4096;
        const std::size_t chunks = (n + chunk - 1) / chunk;
        detail::parallel_for(chunks, n >= 2 * chunk ? detail::resolve_threads(params_.n_jobs) : 1,
                             [&](std::size_t c) {
                                 const std::size_t end = std::min(n, (c + 1) * chunk);
                                 for (std::size_t r = c * chunk; r < end; ++r) {
                                     auto row = [&](std::size_t j) {
                                         return static_cast<T>(data.coeff(
                                             static_cast<Eigen::Index>(r),
                                             static_cast<Eigen::Index>(j)));
                                     };
                                     double total = 0.0;
                                     for (const Tree& tree : trees_)
                                         total += tree.template path_length<T>(row);
                                     scores(static_cast<Eigen::Index>(r)) = score_from_total(total);
                                 }
                             });
        return scores;
    }

    // score_samples - offset: negative for outliers.
    template <class Derived>
    [[nodiscard]] Eigen::VectorXd decision_function(const Eigen::DenseBase<Derived>& X) const {
        return (score_samples(X).array() - offset_).matrix();
    }

    // +1 for inliers, -1 for outliers (decision below zero).
    template <class Derived>
    [[nodiscard]] Eigen::VectorXi predict(const Eigen::DenseBase<Derived>& X) const {
        const Eigen::VectorXd decision = decision_function(X);
        Eigen::VectorXi labels(decision.size());
        for (Eigen::Index i = 0; i < decision.size(); ++i) labels(i) = decision(i) < 0.0 ? -1 : 1;
        return labels;
    }

    // The score that a row with total path length `total` (summed over trees) gets.
    [[nodiscard]] double score_from_total(double total) const noexcept {
        return -std::exp2(-total / normaliser_);
    }

    [[nodiscard]] bool is_fitted() const noexcept { return !trees_.empty(); }
    [[nodiscard]] double offset() const {
        require_fitted("offset");
        return offset_;
    }
    [[nodiscard]] std::int64_t n_features_in() const {
        require_fitted("n_features_in");
        return n_features_;
    }
    [[nodiscard]] const std::vector<std::string>& feature_names_in() const noexcept {
        return feature_names_;
    }
    // psi, the rows drawn per tree in the last fit (scikit-learn's max_samples_).
    [[nodiscard]] std::int64_t max_samples() const noexcept { return psi_; }
    // ceil(log2(max(psi, 2))): the depth at which tree building stops.
    [[nodiscard]] int max_depth() const noexcept { return max_depth_; }
    [[nodiscard]] const std::vector<Tree>& trees() const noexcept { return trees_; }
    // The seed the trees were drawn from (random_state, or the one drawn when it was unset).
    [[nodiscard]] std::uint64_t seed() const noexcept { return seed_; }

    // Builds a fitted forest from its parts (model files, scikit-learn import). Trees are
    // validated against n_features; psi must be >= 1.
    [[nodiscard]] static IsolationForest from_parts(IsolationForestParams params,
                                                    std::vector<Tree> trees,
                                                    std::int64_t n_features, std::int64_t psi,
                                                    double offset,
                                                    std::vector<std::string> feature_names,
                                                    std::uint64_t seed = 0,
                                                    const std::string& where = "model") {
        params.validate();
        if (trees.empty()) detail::throw_error<model_error>(where + ": the forest has no trees");
        if (n_features < 1) detail::throw_error<model_error>(where + ": n_features_in must be >= 1");
        if (psi < 1) detail::throw_error<model_error>(where + ": max_samples must be >= 1");
        if (!std::isfinite(offset)) detail::throw_error<model_error>(where + ": offset is not finite");
        if (!feature_names.empty() && static_cast<std::int64_t>(feature_names.size()) != n_features)
            detail::throw_error<model_error>(where + ": " + std::to_string(feature_names.size()) +
                                             " feature names for " + std::to_string(n_features) +
                                             " features");
        for (std::size_t i = 0; i < trees.size(); ++i)
            trees[i].validate(n_features, where + ", tree " + std::to_string(i));
        IsolationForest forest(std::move(params));
        forest.trees_ = std::move(trees);
        forest.n_features_ = n_features;
        forest.psi_ = psi;
        forest.max_depth_ = depth_limit(psi);
        forest.offset_ = offset;
        forest.feature_names_ = std::move(feature_names);
        forest.seed_ = seed;
        forest.update_normaliser();
        forest.compiled_ = CompiledForest<T>::compile(forest.trees_, n_features);
        return forest;
    }

    // --- model files (docs/model-format.md) -------------------------------------------------
    // A path ending in ".json" gets the interchange format, any other the binary format.
    void save(const std::string& path) const {
        detail::write_whole_file(path, detail::ends_with_json(path) ? to_json() : to_bytes());
    }
    [[nodiscard]] static IsolationForest load(const std::string& path) {
        const std::string data = detail::read_whole_file(path);
        return detail::ends_with_json(path) ? from_json(data, path) : from_bytes(data, path);
    }
    [[nodiscard]] std::string to_bytes() const {
        require_fitted("save");
        return detail::write_binary(parts());
    }
    [[nodiscard]] std::string to_json() const {
        require_fitted("save");
        return detail::write_json(parts());
    }
    [[nodiscard]] static IsolationForest from_bytes(std::string_view data,
                                                    const std::string& source = "model") {
        return from_model_parts(detail::read_binary(data, source, sizeof(T)), source);
    }
    [[nodiscard]] static IsolationForest from_json(std::string_view text,
                                                   const std::string& source = "model") {
        return from_model_parts(detail::read_json(text, source, sizeof(T)), source);
    }

    void check_input(Eigen::Index rows, Eigen::Index cols) const {
        require_fitted("scoring");
        (void)rows;
        if (cols != n_features_)
            detail::throw_error<model_error>("X has " + std::to_string(cols) +
                                             " columns but the forest was fitted with " +
                                             std::to_string(n_features_));
    }

private:
    [[nodiscard]] detail::ModelParts parts() const {
        detail::ModelParts m;
        m.params = params_;
        m.trees = trees_;
        m.n_features = n_features_;
        m.psi = psi_;
        m.offset = offset_;
        m.feature_names = feature_names_;
        m.seed = seed_;
        m.float_bytes = sizeof(T);
        return m;
    }
    [[nodiscard]] static IsolationForest from_model_parts(detail::ModelParts m,
                                                          const std::string& source) {
        try {
            m.params.validate();
        } catch (const model_error& e) {
            detail::throw_error<model_error>(source + ": corrupt model parameters: " + e.what());
        }
        return from_parts(std::move(m.params), std::move(m.trees), m.n_features, m.psi, m.offset,
                          std::move(m.feature_names), m.seed, source);
    }

    template <class Source>
    [[nodiscard]] Eigen::VectorXd scores_from(const Source& source, std::size_t n,
                                              ScorerKernel kernel) const {
        Eigen::VectorXd scores(static_cast<Eigen::Index>(n));
        compiled_->totals(source, std::span<double>(scores.data(), n),
                          detail::resolve_threads(params_.n_jobs), kernel);
        for (Eigen::Index i = 0; i < scores.size(); ++i) scores(i) = score_from_total(scores(i));
        return scores;
    }

    template <class Derived>
    static constexpr bool has_direct_access =
        (Eigen::internal::traits<Derived>::Flags & Eigen::DirectAccessBit) != 0;

    [[nodiscard]] static int depth_limit(std::int64_t psi) noexcept {
        return static_cast<int>(std::ceil(std::log2(static_cast<double>(std::max<std::int64_t>(psi, 2)))));
    }

    void require_fitted(const char* what) const {
        if (trees_.empty())
            detail::throw_error<model_error>(std::string(what) +
                                             ": this IsolationForest is not fitted yet; call fit "
                                             "or load first");
    }

    void update_normaliser() noexcept {
        normaliser_ = static_cast<double>(trees_.size()) *
                      average_path_length(static_cast<double>(psi_));
        // c(1) = 0: every tree is a single leaf, every path length is 0 and every score -1.
        if (normaliser_ == 0.0) normaliser_ = 1.0;
    }

    // Row indices drawn for one tree, sorted and distinct.
    [[nodiscard]] std::vector<std::uint32_t> draw_rows(std::size_t n, std::size_t psi,
                                                       detail::Xoshiro256& rng) const {
        std::vector<std::uint32_t> rows;
        rows.reserve(psi);
        if (params_.bootstrap) {
            for (std::size_t i = 0; i < psi; ++i) rows.push_back(static_cast<std::uint32_t>(rng.below(n)));
            std::sort(rows.begin(), rows.end());
            rows.erase(std::unique(rows.begin(), rows.end()), rows.end());
            return rows;
        }
        if (psi * 4 >= n) {  // a large share: a partial Fisher-Yates shuffle of all indices
            std::vector<std::uint32_t> all(n);
            for (std::size_t i = 0; i < n; ++i) all[i] = static_cast<std::uint32_t>(i);
            for (std::size_t i = 0; i < psi; ++i)
                std::swap(all[i], all[i + static_cast<std::size_t>(rng.below(n - i))]);
            rows.assign(all.begin(), all.begin() + static_cast<std::ptrdiff_t>(psi));
        } else {  // a small share: Floyd's algorithm
            detail::IndexSet chosen(psi);
            for (std::size_t j = n - psi; j < n; ++j) {
                auto candidate = static_cast<std::uint32_t>(rng.below(j + 1));
                if (!chosen.insert(candidate)) candidate = static_cast<std::uint32_t>(j);
                chosen.insert(candidate);
                rows.push_back(candidate);
            }
        }
        std::sort(rows.begin(), rows.end());
        return rows;
    }

    template <class Matrix>
    void fit_impl(const Matrix& X, std::vector<std::string> feature_names) {
        params_.validate();
        const auto n = static_cast<std::int64_t>(X.rows());
        const auto d = static_cast<std::int64_t>(X.cols());
        if (n == 0) detail::throw_error<model_error>("fit: X has no rows");
        if (d == 0) detail::throw_error<model_error>("fit: X has no columns");
        if (n > std::numeric_limits<std::uint32_t>::max())
            detail::throw_error<model_error>("fit: X has more than 2^32 - 1 rows");
        if (!feature_names.empty() && static_cast<std::int64_t>(feature_names.size()) != d)
            detail::throw_error<model_error>("fit: " + std::to_string(feature_names.size()) +
                                             " feature names for " + std::to_string(d) + " columns");

        std::size_t first_new = 0;
        if (params_.warm_start && is_fitted()) {
            if (d != n_features_)
                detail::throw_error<model_error>(
                    "fit with warm_start: X has " + std::to_string(d) +
                    " columns but the forest was fitted with " + std::to_string(n_features_));
            if (static_cast<std::size_t>(params_.n_estimators) <= trees_.size())
                detail::throw_error<model_error>(
                    "fit with warm_start: n_estimators is " + std::to_string(params_.n_estimators) +
                    " and the forest already has " + std::to_string(trees_.size()) +
                    " trees; set n_estimators above " + std::to_string(trees_.size()) +
                    " to add trees (nothing would change otherwise)");
            first_new = trees_.size();
        } else {
            seed_ = params_.random_state ? *params_.random_state
                                         : (static_cast<std::uint64_t>(std::random_device{}()) << 32) ^
                                               std::random_device{}();
        }

        const std::int64_t psi = params_.max_samples.resolve(n);
        const int max_depth = depth_limit(psi);
        const std::int64_t m = params_.max_features.resolve(d);
        const std::size_t total = static_cast<std::size_t>(params_.n_estimators);
        std::vector<Tree> grown(total - first_new);

        detail::parallel_for(
            grown.size(), detail::resolve_threads(params_.n_jobs), [&](std::size_t k) {
                const std::size_t index = first_new + k;
                auto rng = detail::Xoshiro256::for_stream(seed_, index);
                std::vector<std::int32_t> features(static_cast<std::size_t>(d));
                for (std::int64_t j = 0; j < d; ++j) features[static_cast<std::size_t>(j)] = static_cast<std::int32_t>(j);
                if (m < d) {
                    for (std::int64_t j = 0; j < m; ++j)
                        std::swap(features[static_cast<std::size_t>(j)],
                                  features[static_cast<std::size_t>(j) + static_cast<std::size_t>(rng.below(static_cast<std::uint64_t>(d - j)))]);
                    features.resize(static_cast<std::size_t>(m));
                    std::sort(features.begin(), features.end());
                }
                const auto rows = draw_rows(static_cast<std::size_t>(n), static_cast<std::size_t>(psi), rng);
                const std::size_t count = rows.size();
                std::vector<T> sample(count * features.size());
                if (const auto bad = detail::gather_sample(X, rows, features, sample.data())) {
                    const T value = sample[bad->second * count + bad->first];
                    const auto column = static_cast<std::size_t>(features[bad->second]);
                    detail::throw_error<model_error>(
                        "fit: X contains " + std::string(std::isnan(value) ? "NaN" : "infinity") +
                        " at row " + std::to_string(rows[bad->first]) + ", column " +
                        std::to_string(column) +
                        (feature_names.empty() ? std::string() : " ('" + feature_names[column] + "')") +
                        "; fit needs finite values");
                }
                grown[k] = detail::build_tree(sample, count, features, max_depth, rng);
            });

        if (first_new == 0) trees_.clear();
        for (auto& tree : grown) trees_.push_back(std::move(tree));
        n_features_ = d;
        psi_ = psi;
        max_depth_ = max_depth;
        feature_names_ = std::move(feature_names);
        update_normaliser();
        compiled_ = CompiledForest<T>::compile(trees_, n_features_);
        if (params_.contamination.is_auto()) {
            offset_ = -0.5;
        } else {
            const Eigen::VectorXd scores = score_samples(X);
            offset_ = detail::quantile_linear(
                std::vector<double>(scores.data(), scores.data() + scores.size()),
                100.0 * params_.contamination.value() / 100.0);  // as numpy.percentile
        }
    }

    IsolationForestParams params_;
    std::vector<Tree> trees_;
    std::vector<std::string> feature_names_;
    std::int64_t n_features_ = 0;
    std::int64_t psi_ = 0;
    int max_depth_ = 0;
    double offset_ = -0.5;
    double normaliser_ = 1.0;
    std::uint64_t seed_ = 0;
    std::optional<CompiledForest<T>> compiled_;
};

}  // namespace isoflow
