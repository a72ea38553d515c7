// One isolation tree, as scikit-learn builds it (node arrays), its path lengths, and the builder.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include "isoflow/core/error.hpp"
#include "isoflow/forest/detail/random.hpp"

namespace isoflow {

// c(n): the average path length of an unsuccessful search in a binary search tree of n keys,
// which normalises path lengths (Liu, Ting and Zhou, 2008), as scikit-learn computes it.
[[nodiscard]] inline double average_path_length(double n) noexcept {
    constexpr double euler_gamma = 0.5772156649015329;
    if (n <= 1.0) return 0.0;
    if (n <= 2.0) return 1.0;
    return 2.0 * (std::log(n - 1.0) + euler_gamma) - 2.0 * (n - 1.0) / n;
}

// The largest T not above x: the threshold a T-valued input is compared against, so that
// `T(v) <= threshold_as<T>(t)` holds exactly when `double(T(v)) <= t`.
template <class T>
[[nodiscard]] inline T threshold_as(double x) noexcept {
    if constexpr (std::is_same_v<T, double>) {
        return x;
    } else {
        T t = static_cast<T>(x);
        if (static_cast<double>(t) > x) t = std::nextafter(t, -std::numeric_limits<T>::infinity());
        return t;
    }
}

// A fitted tree in scikit-learn's layout: node 0 is the root; a leaf has feature -1 and
// children -1. `feature` indexes the forest's input columns (not a per-tree subset).
struct Tree {
    std::vector<std::int32_t> feature;
    std::vector<double> threshold;
    std::vector<std::int32_t> left;
    std::vector<std::int32_t> right;
    std::vector<std::int64_t> n_node_samples;

    [[nodiscard]] std::size_t size() const noexcept { return feature.size(); }
    [[nodiscard]] bool is_leaf(std::size_t node) const noexcept { return left[node] < 0; }

    // Rows whose value is missing (NaN) follow the child that saw more training rows, right on a
    // tie, as scikit-learn does for features without missing values in training.
    [[nodiscard]] bool missing_goes_left(std::size_t node) const noexcept {
        return n_node_samples[static_cast<std::size_t>(left[node])] >
               n_node_samples[static_cast<std::size_t>(right[node])];
    }

    // The depth of the deepest leaf.
    [[nodiscard]] int max_depth() const {
        std::vector<int> depth(size(), 0);
        int deepest = 0;
        for (std::size_t i = 0; i < size(); ++i) {
            deepest = std::max(deepest, depth[i]);
            if (!is_leaf(i)) {
                depth[static_cast<std::size_t>(left[i])] = depth[i] + 1;
                depth[static_cast<std::size_t>(right[i])] = depth[i] + 1;
            }
        }
        return deepest;
    }

    // Checks that the arrays describe a tree over `n_features` columns: equal lengths, children
    // after their parent (so no cycle), every node reached once, features in range, finite
    // thresholds, positive sample counts. Throws model_error naming the fault.
    void validate(std::int64_t n_features, const std::string& where) const {
        const std::size_t n = feature.size();
        auto fail = [&](const std::string& what) {
            detail::throw_error<model_error>(where + ": " + what);
        };
        if (n == 0) fail("a tree has no nodes");
        if (threshold.size() != n || left.size() != n || right.size() != n ||
            n_node_samples.size() != n)
            fail("a tree's node arrays differ in length");
        if (n > static_cast<std::size_t>(std::numeric_limits<std::int32_t>::max()))
            fail("a tree has too many nodes");
        std::vector<std::uint8_t> reached(n, 0);
        reached[0] = 1;
        for (std::size_t i = 0; i < n; ++i) {
            const std::string node = "node " + std::to_string(i);
            if (n_node_samples[i] < 1) fail(node + " has n_node_samples < 1");
            if (left[i] < 0 || right[i] < 0) {
                if (left[i] >= 0 || right[i] >= 0) fail(node + " has only one child");
                continue;
            }
            if (feature[i] < 0 || feature[i] >= n_features)
                fail(node + " splits on feature " + std::to_string(feature[i]) + " of " +
                     std::to_string(n_features));
            if (!std::isfinite(threshold[i])) fail(node + " has a non-finite threshold");
            for (std::int32_t child : {left[i], right[i]}) {
                const auto c = static_cast<std::size_t>(child);
                if (c <= i || c >= n) fail(node + " has child " + std::to_string(child) +
                                           " out of order or out of range");
                if (reached[c]) fail("node " + std::to_string(c) + " has two parents");
                reached[c] = 1;
            }
        }
        for (std::size_t i = 0; i < n; ++i)
            if (!reached[i]) fail("node " + std::to_string(i) + " is not reachable from the root");
    }

    // Path length of one row: depth of its leaf plus c(n_node_samples of the leaf).
    // `row(j)` returns the row's value of column j, as T.
    template <class T, class RowAccess>
    [[nodiscard]] double path_length(const RowAccess& row) const {
        std::size_t node = 0;
        int depth = 0;
        while (!is_leaf(node)) {
            const T value = row(static_cast<std::size_t>(feature[node]));
            bool go_left;
            if (std::isnan(value))
                go_left = missing_goes_left(node);
            else
                go_left = value <= threshold_as<T>(threshold[node]);
            node = static_cast<std::size_t>(go_left ? left[node] : right[node]);
            ++depth;
        }
        return static_cast<double>(depth) +
               average_path_length(static_cast<double>(n_node_samples[node]));
    }
};

namespace detail {

// scikit-learn treats a feature as constant in a node when max <= min + 1e-7.
inline constexpr double constant_feature_tolerance = 1e-7;

// Builds one tree from the sampled rows, held column by column: column k of the tree's
// features is `sample[k * n_rows ... (k + 1) * n_rows)`. `features[k]` is the input column of
// sample column k. Nodes are numbered depth first, left child first, as scikit-learn does.
template <class T>
[[nodiscard]] Tree build_tree(const std::vector<T>& sample, std::size_t n_rows,
                              const std::vector<std::int32_t>& features, int max_depth,
                              Xoshiro256& rng) {
    Tree tree;
    const std::size_t n_features = features.size();
    std::vector<std::uint32_t> rows(n_rows);
    for (std::size_t i = 0; i < n_rows; ++i) rows[i] = static_cast<std::uint32_t>(i);

    struct Pending {
        std::size_t begin, end;
        int depth;
        std::int32_t parent;
        bool is_left;
        std::vector<std::uint32_t> candidates;  // sample columns not known to be constant
    };
    std::vector<std::uint32_t> all(n_features);
    for (std::size_t k = 0; k < n_features; ++k) all[k] = static_cast<std::uint32_t>(k);
    std::vector<Pending> stack;
    stack.push_back({0, n_rows, 0, -1, false, std::move(all)});

    while (!stack.empty()) {
        Pending node = std::move(stack.back());
        stack.pop_back();
        const auto id = static_cast<std::int32_t>(tree.feature.size());
        tree.feature.push_back(-1);
        tree.threshold.push_back(0.0);
        tree.left.push_back(-1);
        tree.right.push_back(-1);
        tree.n_node_samples.push_back(static_cast<std::int64_t>(node.end - node.begin));
        if (node.parent >= 0) {
            auto& link = node.is_left ? tree.left : tree.right;
            link[static_cast<std::size_t>(node.parent)] = id;
        }
        if (node.depth >= max_depth || node.end - node.begin < 2) continue;

        // Draw features among those not known to be constant until one varies in this node.
        auto& candidates = node.candidates;
        std::uint32_t column = 0;
        double low = 0.0, high = 0.0;
        bool found = false;
        while (!candidates.empty()) {
            const auto pick = static_cast<std::size_t>(rng.below(candidates.size()));
            column = candidates[pick];
            const T* values = sample.data() + static_cast<std::size_t>(column) * n_rows;
            T lo = values[rows[node.begin]], hi = lo;
            for (std::size_t i = node.begin + 1; i < node.end; ++i) {
                const T v = values[rows[i]];
                lo = v < lo ? v : lo;
                hi = v > hi ? v : hi;
            }
            low = static_cast<double>(lo);
            high = static_cast<double>(hi);
            if (high <= low + constant_feature_tolerance) {
                candidates[pick] = candidates.back();  // constant here and in every descendant
                candidates.pop_back();
                continue;
            }
            found = true;
            break;
        }
        if (!found) continue;  // every feature is constant: one distinct row, or near enough

        double threshold = low + (high - low) * rng.uniform();
        if (threshold >= high) threshold = low;
        const T* values = sample.data() + static_cast<std::size_t>(column) * n_rows;
        auto middle = std::partition(rows.begin() + static_cast<std::ptrdiff_t>(node.begin),
                                     rows.begin() + static_cast<std::ptrdiff_t>(node.end),
                                     [&](std::uint32_t r) {
                                         return static_cast<double>(values[r]) <= threshold;
                                     });
        const auto split = static_cast<std::size_t>(middle - rows.begin());
        tree.feature[static_cast<std::size_t>(id)] = features[column];
        tree.threshold[static_cast<std::size_t>(id)] = threshold;
        // Right pushed first so that the left subtree is numbered first.
        stack.push_back({split, node.end, node.depth + 1, id, false, candidates});
        stack.push_back({node.begin, split, node.depth + 1, id, true, std::move(candidates)});
    }
    return tree;
}

}  // namespace detail
}  // namespace isoflow
