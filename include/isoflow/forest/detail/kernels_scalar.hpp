// The compiled forest's memory layout, shared by every scoring kernel, and the portable kernel.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <utility>

namespace isoflow::detail {

// One internal node of a compiled tree: the threshold and the feature sit side by side so that
// one cache line access serves both (and a SIMD gather with scale 8 or 16 reaches either).
template <class T>
struct CompiledNode;

template <>
struct CompiledNode<float> {
    float threshold;
    std::uint32_t feature;
};

template <>
struct CompiledNode<double> {
    double threshold;
    std::uint32_t feature;
    std::uint32_t unused;
};

static_assert(sizeof(CompiledNode<float>) == 8);
static_assert(sizeof(CompiledNode<double>) == 16);

// Where tree t lives in the concatenated arrays. Internal nodes use heap numbering from 1
// (children of p are 2p and 2p + 1), so `nodes[node_offset + p]`, p in [1, 2^depth); its leaf
// slots are `leaves[leaf_offset + i]`, i in [0, 2^depth).
struct CompiledTreeInfo {
    std::size_t node_offset;
    std::size_t leaf_offset;
    std::uint32_t depth;
};

// Rows are handed to the kernels in blocks of kernel_block rows, feature-major inside a
// block: value (row b * kernel_block + lane, feature j) sits at
// rows[b * kernel_block * n_features + j * kernel_block + lane]. A lane's value is then found
// from the node's feature alone (no per-row pointer), and lanes that meet the same node read
// neighbouring values (one cache line for a SIMD gather).
inline constexpr std::size_t kernel_block = 16;
// Blocks come in fours (kernels may take four at once); lanes past the last row hold zeros.
inline constexpr std::size_t kernel_group = 4 * kernel_block;

// Every kernel adds, for every lane of `blocks` blocks and for each tree in order, the tree's
// path length of the lane's row to acc[lane]. `blocks` is a multiple of 4. Rows holding NaN are scored
// by the caller instead (their lanes get whatever the comparisons give).
template <class T>
struct KernelJob {
    const CompiledNode<T>* nodes;
    const double* leaves;
    const CompiledTreeInfo* trees;
    std::size_t n_trees;
    const T* rows;
    std::size_t n_features;
    std::size_t blocks;
    double* acc;
};

// One step of lane R: the lane's row is read at base[feature * kernel_block + R], so R is a
// constant displacement and no per-lane pointer is needed.
template <class T, std::size_t R>
inline void scalar_step(const CompiledNode<T>* nodes, const T* base, std::size_t* index) noexcept {
    const CompiledNode<T>& node = nodes[index[R]];
    const T x = base[static_cast<std::size_t>(node.feature) * kernel_block + R];
    index[R] = 2 * index[R] + static_cast<std::size_t>(x > node.threshold);
}

template <class T, std::size_t K, std::size_t W, std::size_t... R>
inline void scalar_steps_k(const CompiledNode<T>* const* nodes, const T* base,
                           std::size_t (*index)[W], std::uint32_t depth,
                           std::index_sequence<R...>) noexcept {
    for (std::uint32_t level = 0; level < depth; ++level)
        for (std::size_t k = 0; k < K; ++k) (scalar_step<T, R>(nodes[k], base, index[k]), ...);
}

// Portable kernel: W lanes walk K trees together (every compiled tree has the same depth). The
// K * W walks are independent, so the CPU overlaps their chains of dependent loads. Each step
// is branchless: the comparison's result is added to the doubled heap index.
template <class T, std::size_t W, std::size_t K>
inline void score_tile_scalar_w(const KernelJob<T>& job) {
    static_assert(kernel_block % W == 0);
    const std::size_t block_size = kernel_block * job.n_features;
    for (std::size_t t = 0; t < job.n_trees; t += K) {
        const std::size_t trees = std::min(K, job.n_trees - t);
        const std::uint32_t depth = job.trees[t].depth;
        const std::size_t first_leaf = std::size_t{1} << depth;
        const CompiledNode<T>* nodes[K];
        for (std::size_t k = 0; k < K; ++k)  // past the last tree, repeat it (its sums are unused)
            nodes[k] = job.nodes + job.trees[t + std::min(k, trees - 1)].node_offset;
        for (std::size_t b = 0; b < job.blocks; ++b) {
            for (std::size_t part = 0; part < kernel_block; part += W) {
                const T* base = job.rows + b * block_size + part;
                std::size_t index[K][W];
                for (std::size_t k = 0; k < K; ++k)
                    for (std::size_t r = 0; r < W; ++r) index[k][r] = 1;
                scalar_steps_k<T, K, W>(nodes, base, index, depth, std::make_index_sequence<W>{});
                double* acc = job.acc + b * kernel_block + part;
                for (std::size_t r = 0; r < W; ++r)
                    for (std::size_t k = 0; k < trees; ++k)  // in tree order
                        acc[r] += job.leaves[job.trees[t + k].leaf_offset + index[k][r] - first_leaf];
            }
        }
    }
}

// 16 lanes and 2 trees: measured 1.53M rows/s against 1.41M for one tree and 1.26M for 8 lanes
// of one tree (docs/performance.md); 8 lanes of 4 trees did as well as 16 of 2.
template <class T>
inline void score_tile_scalar(const KernelJob<T>& job) {
    score_tile_scalar_w<T, 16, 2>(job);
}

}  // namespace isoflow::detail
