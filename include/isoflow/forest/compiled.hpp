// The compiled scorer: every tree as a complete binary tree (padded to its depth), walked by
// branchless kernels that interleave many rows per tree, chosen at run time for the CPU.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include "isoflow/core/error.hpp"
#include "isoflow/forest/detail/kernels_neon.hpp"
#include "isoflow/forest/detail/kernels_scalar.hpp"
#include "isoflow/forest/detail/kernels_x86.hpp"
#include "isoflow/forest/detail/parallel.hpp"
#include "isoflow/forest/tree.hpp"

namespace isoflow {

// The scoring kernels. `automatic` picks the fastest one the CPU runs; the others force one
// (tests compare each with the reference scorer). Every kernel gives bit-identical scores.
enum class ScorerKernel : std::uint8_t { automatic, scalar, avx2, avx512, neon };

[[nodiscard]] constexpr std::string_view to_string(ScorerKernel kernel) noexcept {
    switch (kernel) {
        case ScorerKernel::automatic: return "automatic";
        case ScorerKernel::scalar: return "scalar";
        case ScorerKernel::avx2: return "avx2";
        case ScorerKernel::avx512: return "avx512";
        case ScorerKernel::neon: return "neon";
    }
    return "unknown";
}

// True when this build and this CPU can run `kernel`.
[[nodiscard]] inline bool kernel_available(ScorerKernel kernel) noexcept {
    switch (kernel) {
        case ScorerKernel::automatic:
        case ScorerKernel::scalar: return true;
        case ScorerKernel::avx2: return detail::cpu_has_avx2();
        case ScorerKernel::avx512: return detail::cpu_has_avx512();
        case ScorerKernel::neon: return detail::cpu_has_neon();
    }
    return false;
}

// Every kernel available here, `scalar` first.
[[nodiscard]] inline std::vector<ScorerKernel> available_kernels() {
    std::vector<ScorerKernel> kernels;
    for (ScorerKernel k : {ScorerKernel::scalar, ScorerKernel::avx2, ScorerKernel::avx512,
                           ScorerKernel::neon})
        if (kernel_available(k)) kernels.push_back(k);
    return kernels;
}

// The kernel `automatic` resolves to: AVX-512 where present, else AVX2 unless the CPU's
// gathers are slow (AMD Zen 1 and 2), else NEON, else scalar. On the Intel machine of
// docs/performance.md AVX-512 beats AVX2 by about 15%, and AVX2 the scalar kernel by 85%.
[[nodiscard]] inline ScorerKernel best_kernel() noexcept {
    if (kernel_available(ScorerKernel::avx512)) return ScorerKernel::avx512;
    if (kernel_available(ScorerKernel::avx2) && !detail::cpu_has_slow_gathers()) return ScorerKernel::avx2;
    if (kernel_available(ScorerKernel::neon)) return ScorerKernel::neon;
    return ScorerKernel::scalar;
}

// Rows as a strided array: value (r, j) at data[r * row_stride + j * col_stride]. Covers
// row-major and column-major Eigen matrices, Maps and blocks.
template <class U>
struct StridedRows {
    const U* data = nullptr;
    std::size_t rows = 0;
    std::size_t cols = 0;
    std::size_t row_stride = 0;
    std::size_t col_stride = 1;
};

// Rows as one contiguous array per feature (a columnar batch): value (r, j) at columns[j][r].
template <class U>
struct ColumnRows {
    std::span<const U* const> columns;
    std::size_t rows = 0;
};

// A forest compiled for scoring. Immutable once built, so any number of threads may score with
// one object at once.
template <class T>
class CompiledForest {
    static_assert(std::is_same_v<T, float> || std::is_same_v<T, double>);

public:
    using Node = detail::CompiledNode<T>;

    // The deepest tree that is compiled, and the most heap slots (17 bytes each for float) over
    // all trees: larger forests (psi above 2^16, or thousands of trees of psi 2^16) keep the
    // reference scorer rather than take more than about 600 MB.
    static constexpr std::uint32_t max_compiled_depth = 16;
    static constexpr std::size_t max_compiled_slots = std::size_t{1} << 25;
    // Rows per tile: a tile's rows are scored against every tree before the next tile starts.
    static constexpr std::size_t tile_rows = 256;
    // Batches (or last tiles) of fewer rows skip the kernels, which work in groups of 64 rows.
    static constexpr std::size_t few_rows = 8;

    // Compiles `trees` over `n_features` columns, or returns nullopt when a tree is deeper than
    // max_compiled_depth or the forest would need more than max_compiled_slots.
    [[nodiscard]] static std::optional<CompiledForest> compile(const std::vector<Tree>& trees,
                                                               std::int64_t n_features) {
        CompiledForest forest;
        forest.n_features_ = static_cast<std::size_t>(n_features);
        std::size_t node_total = 0;
        std::vector<std::uint32_t> level;  // reused across trees
        for (const Tree& tree : trees) {
            // Children come after their parent (Tree::validate), so one forward pass suffices.
            level.assign(tree.size(), 0);
            std::uint32_t depth = 0;
            for (std::size_t i = 0; i < tree.size(); ++i) {
                depth = std::max(depth, level[i]);
                if (!tree.is_leaf(i)) {
                    level[static_cast<std::size_t>(tree.left[i])] = level[i] + 1;
                    level[static_cast<std::size_t>(tree.right[i])] = level[i] + 1;
                }
            }
            if (depth > max_compiled_depth) return std::nullopt;
            forest.depth_ = std::max(forest.depth_, depth);
        }
        // Every tree is padded to the deepest one's depth, so that every row takes the same
        // number of steps in every tree and single rows can walk several trees at once.
        const std::size_t slots = std::size_t{1} << forest.depth_;
        if (slots * trees.size() > max_compiled_slots) return std::nullopt;
        for (std::size_t t = 0; t < trees.size(); ++t) {
            forest.trees_.push_back({node_total, node_total, forest.depth_});
            node_total += slots;
        }
        forest.nodes_.assign(node_total, Node{});
        forest.leaves_.assign(node_total, 0.0);
        forest.missing_right_.assign(node_total, 0);
        for (std::size_t t = 0; t < trees.size(); ++t) forest.compile_tree(trees[t], forest.trees_[t]);
        return forest;
    }

    [[nodiscard]] std::size_t n_trees() const noexcept { return trees_.size(); }
    [[nodiscard]] std::size_t n_features() const noexcept { return n_features_; }
    // The depth of every compiled tree: the deepest training tree's.
    [[nodiscard]] std::uint32_t depth() const noexcept { return depth_; }

    // Sum over trees (in tree order, in double) of the path length of each row, written to
    // totals[0, rows). Rows are split across up to `threads` threads when there are many.
    template <class Source>
    void totals(const Source& source, std::span<double> totals, std::size_t threads,
                ScorerKernel kernel = ScorerKernel::automatic) const {
        const std::size_t n = totals.size();
        const auto run = resolve(kernel);
        constexpr std::size_t chunk = 16 * tile_rows;
        const std::size_t chunks = (n + chunk - 1) / chunk;
        // Small batches stay on the calling thread: starting threads costs more than it saves.
        if (n < 4 * chunk) threads = 1;
        detail::parallel_for(chunks, threads, [&](std::size_t c) {
            const std::size_t begin = c * chunk, end = std::min(n, begin + chunk);
            Scratch scratch(n_features_);
            for (std::size_t r = begin; r < end; r += tile_rows)
                score_tile(source, r, std::min(tile_rows, end - r), totals.data() + r, scratch, run);
        });
    }

    // The total path length of one row (its values as U, converted to T on the fly). No heap
    // allocation.
    template <class U>
    [[nodiscard]] double total_one(const U* row) const noexcept {
        bool missing = false;
        for (std::size_t j = 0; j < n_features_; ++j) missing |= std::isnan(row[j]);
        double total = 0.0;
        if (missing) {
            auto value = [row](std::size_t j) { return static_cast<T>(row[j]); };
            for (const auto& info : trees_) total += walk_with_missing(info, value);
            return total;
        }
        // K trees at once: their walks are independent chains of loads that the CPU overlaps.
        constexpr std::size_t K = 8;
        const std::size_t n = trees_.size(), slots = std::size_t{1} << depth_;
        std::size_t t = 0;
        for (; t + K <= n; t += K) {
            const Node* nodes = nodes_.data() + t * slots;
            std::uint32_t index[K];
            for (std::size_t k = 0; k < K; ++k) index[k] = 1;
            for (std::uint32_t level = 0; level < depth_; ++level) {
#pragma GCC unroll 8
                for (std::size_t k = 0; k < K; ++k) {
                    const Node& node = nodes[k * slots + index[k]];
                    index[k] = 2 * index[k] +
                               static_cast<std::uint32_t>(static_cast<T>(row[node.feature]) > node.threshold);
                }
            }
            const double* leaves = leaves_.data() + t * slots;
            for (std::size_t k = 0; k < K; ++k) total += leaves[k * slots + index[k] - slots];  // in tree order
        }
        for (; t < n; ++t) {
            const Node* nodes = nodes_.data() + t * slots;
            std::uint32_t index = 1;
            for (std::uint32_t level = 0; level < depth_; ++level) {
                const Node& node = nodes[index];
                index = 2 * index +
                        static_cast<std::uint32_t>(static_cast<T>(row[node.feature]) > node.threshold);
            }
            total += leaves_[t * slots + index - slots];
        }
        return total;
    }

private:
    using KernelFn = void (*)(const detail::KernelJob<T>&);

    // A tile's rows in the kernels' block layout, and per row its sum and whether it holds NaN.
    struct Scratch {
        explicit Scratch(std::size_t d) : rows(tile_rows * d), acc(tile_rows), missing(tile_rows) {}
        std::vector<T> rows;
        std::vector<double> acc;
        std::vector<std::uint8_t> missing;
    };
    static_assert(tile_rows % detail::kernel_group == 0);

    [[nodiscard]] static KernelFn resolve(ScorerKernel kernel) {
        if (kernel == ScorerKernel::automatic) kernel = best_kernel();
        if (!kernel_available(kernel))
            detail::throw_error<config_error>("scorer kernel '" + std::string(to_string(kernel)) +
                                              "' is not available on this CPU or build");
        switch (kernel) {
            case ScorerKernel::avx2: return detail::avx2_kernel<T>();
            case ScorerKernel::avx512: return detail::avx512_kernel<T>();
            case ScorerKernel::neon: return detail::neon_kernel<T>();
            default: return &detail::score_tile_scalar<T>;
        }
    }

    // Lays out one training tree in its heap slots: training node `node` goes to heap slot
    // `slot` at depth `level`; leaves above the compiled depth are padded below.
    void compile_tree(const Tree& tree, const detail::CompiledTreeInfo& info) {
        struct Item {
            std::size_t node;
            std::size_t slot;
            std::uint32_t level;
        };
        Node* nodes = nodes_.data() + info.node_offset;
        double* leaves = leaves_.data() + info.leaf_offset;
        std::uint8_t* missing_right = missing_right_.data() + info.node_offset;
        std::vector<Item> stack{{0, 1, 0}};
        while (!stack.empty()) {
            const Item item = stack.back();
            stack.pop_back();
            if (!tree.is_leaf(item.node)) {
                nodes[item.slot].threshold = threshold_as<T>(tree.threshold[item.node]);
                nodes[item.slot].feature = static_cast<std::uint32_t>(tree.feature[item.node]);
                missing_right[item.slot] = tree.missing_goes_left(item.node) ? 0 : 1;
                stack.push_back({static_cast<std::size_t>(tree.left[item.node]), 2 * item.slot, item.level + 1});
                stack.push_back({static_cast<std::size_t>(tree.right[item.node]), 2 * item.slot + 1, item.level + 1});
                continue;
            }
            // As the reference computes it, so the sums agree bit for bit.
            const double value = static_cast<double>(item.level) +
                                 average_path_length(static_cast<double>(tree.n_node_samples[item.node]));
            // A shallow leaf: padding nodes below it (feature 0, any threshold) lead every row to
            // one of its 2^(depth - level) leaf slots, all holding its value.
            const std::uint32_t below = info.depth - item.level;
            for (std::uint32_t k = 0; k < below; ++k)
                for (std::size_t s = item.slot << k; s < (item.slot + 1) << k; ++s)
                    nodes[s] = Node{};
            const std::size_t first = (item.slot << below) - (std::size_t{1} << info.depth);
            std::fill(leaves + first, leaves + first + (std::size_t{1} << below), value);
        }
    }

    // The walk of a row with a missing value: NaN follows the child that saw more training rows.
    // `value(j)` gives the row's value of feature j as T.
    template <class Value>
    [[nodiscard]] double walk_with_missing(const detail::CompiledTreeInfo& info, const Value& value) const noexcept {
        const Node* nodes = nodes_.data() + info.node_offset;
        const std::uint8_t* missing_right = missing_right_.data() + info.node_offset;
        std::uint32_t index = 1;
        for (std::uint32_t level = 0; level < info.depth; ++level) {
            const Node& node = nodes[index];
            const T x = value(node.feature);
            const bool right = std::isnan(x) ? missing_right[index] != 0 : x > node.threshold;
            index = 2 * index + static_cast<std::uint32_t>(right);
        }
        return leaves_[info.leaf_offset + index - (std::uint32_t{1} << info.depth)];
    }

    // Where row r's feature j goes in the block layout (detail::KernelJob).
    [[nodiscard]] std::size_t slot(std::size_t r, std::size_t j) const noexcept {
        constexpr std::size_t B = detail::kernel_block;
        return (r / B) * B * n_features_ + j * B + r % B;
    }

    // Copies rows [first, first + count) of a source into scratch in the block layout,
    // converting to T, noting which rows hold NaN, and zeroing the lanes up to the next group.
    template <class U>
    void load_tile(const StridedRows<U>& source, std::size_t first, std::size_t count,
                   Scratch& scratch) const {
        const std::size_t d = n_features_;
        T* out = scratch.rows.data();
        for (std::size_t r = 0; r < count; ++r) {
            const U* in = source.data + (first + r) * source.row_stride;
            T* lane = out + slot(r, 0);
            bool missing = false;
            if (source.col_stride == 1) {
                for (std::size_t j = 0; j < d; ++j) {
                    const T x = static_cast<T>(in[j]);
                    missing |= x != x;
                    lane[j * detail::kernel_block] = x;
                }
            } else {
                for (std::size_t j = 0; j < d; ++j) {
                    const T x = static_cast<T>(in[j * source.col_stride]);
                    missing |= x != x;
                    lane[j * detail::kernel_block] = x;
                }
            }
            scratch.missing[r] = missing;
        }
        zero_padding(count, scratch);
    }

    template <class U>
    void load_tile(const ColumnRows<U>& source, std::size_t first, std::size_t count,
                   Scratch& scratch) const {
        const std::size_t d = n_features_;
        T* out = scratch.rows.data();
        std::fill(scratch.missing.begin(), scratch.missing.begin() + static_cast<std::ptrdiff_t>(count), 0);
        for (std::size_t j = 0; j < d; ++j) {
            const U* in = source.columns[j] + first;
            for (std::size_t r = 0; r < count; ++r) {
                const T x = static_cast<T>(in[r]);
                scratch.missing[r] |= x != x;
                out[slot(r, j)] = x;
            }
        }
        zero_padding(count, scratch);
    }

    void zero_padding(std::size_t count, Scratch& scratch) const {
        const std::size_t padded = (count + detail::kernel_group - 1) / detail::kernel_group * detail::kernel_group;
        for (std::size_t r = count; r < padded; ++r)
            for (std::size_t j = 0; j < n_features_; ++j) scratch.rows[slot(r, j)] = T{0};
    }

    template <class Source>
    void score_tile(const Source& source, std::size_t first, std::size_t count, double* out,
                    Scratch& scratch, KernelFn kernel) const {
        load_tile(source, first, count, scratch);
        double* acc = scratch.acc.data();
        const T* rows = scratch.rows.data();
        if (count < few_rows) {
            // The kernels would walk a whole group of 64 lanes; a few rows walk alone.
            for (std::size_t r = 0; r < count; ++r) {
                auto value = [&](std::size_t j) { return rows[slot(r, j)]; };
                double total = 0.0;
                for (const auto& info : trees_) total += walk_with_missing(info, value);
                out[r] = total;
            }
            return;
        }
        const std::size_t blocks =
            (count + detail::kernel_group - 1) / detail::kernel_group * (detail::kernel_group / detail::kernel_block);
        std::fill(acc, acc + blocks * detail::kernel_block, 0.0);
        kernel({nodes_.data(), leaves_.data(), trees_.data(), trees_.size(), scratch.rows.data(),
                n_features_, blocks, acc});
        for (std::size_t r = 0; r < count; ++r) {
            if (!scratch.missing[r]) continue;
            auto value = [&](std::size_t j) { return rows[slot(r, j)]; };
            double total = 0.0;
            for (const auto& info : trees_) total += walk_with_missing(info, value);
            acc[r] = total;
        }
        std::copy(acc, acc + count, out);
    }

    std::vector<detail::CompiledTreeInfo> trees_;
    std::vector<Node> nodes_;  // heap slot 0 of every tree is unused
    std::vector<double> leaves_;
    std::vector<std::uint8_t> missing_right_;
    std::size_t n_features_ = 0;
    std::uint32_t depth_ = 0;  // of every compiled tree
};

}  // namespace isoflow
