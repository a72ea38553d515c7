// AVX2 and AVX-512 kernels. They are compiled with target attributes, not with the build's
// -m flags, and picked at run time from the CPU's features, so a program built with default
// flags still runs them where the CPU has them.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <type_traits>

#include "isoflow/forest/detail/kernels_scalar.hpp"

#if (defined(__x86_64__) || defined(__i386__)) && (defined(__GNUC__) || defined(__clang__))
#define ISOFLOW_X86_KERNELS 1
#include <immintrin.h>
#endif

namespace isoflow::detail {

#if defined(ISOFLOW_X86_KERNELS)

// GCC 12's AVX-512 intrinsics start from _mm512_undefined_*(), which -Wmaybe-uninitialized
// reports once they are inlined here.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif

[[nodiscard]] inline bool cpu_has_avx2() noexcept {
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx2");
}
[[nodiscard]] inline bool cpu_has_avx512() noexcept {
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx512f");
}
// AMD family 17h (Zen 1 and 2) executes an 8-lane gather in about 16 cycles, slow enough that
// the interleaved scalar walk is expected to win there (DESIGN.md; not measured by us).
[[nodiscard]] inline bool cpu_has_slow_gathers() noexcept {
    __builtin_cpu_init();
    return __builtin_cpu_is("amdfam17h");
}

static_assert(kernel_block == 16, "the kernels scale feature numbers by 16 with a shift");

// Lane offsets are 32-bit: absurdly wide rows (over 2^25 features) take the portable kernel.
template <class T>
[[nodiscard]] inline bool offsets_fit_int32(const KernelJob<T>& job) noexcept {
    return job.n_features < (std::size_t{1} << 25);
}

// The tables of the first 2^k heap slots (threshold and feature apart) that the top levels of
// a tree read through register permutes instead of gathers.
template <std::size_t N>
struct TopSlots {
    alignas(64) float threshold[N];
    alignas(64) std::uint32_t feature[N];

    void load(const CompiledNode<float>* nodes, std::uint32_t depth) noexcept {
        const std::size_t used = depth >= 31 ? N : std::min<std::size_t>(N, std::size_t{1} << depth);
        for (std::size_t s = 0; s < N; ++s) {
            threshold[s] = s < used ? nodes[s].threshold : 0.0f;
            feature[s] = s < used ? nodes[s].feature : 0u;
        }
    }
};

// AVX2, float: 8 lanes per register, 8 registers (four blocks) at once: more walks in flight
// hide the gathers' latency (measured: 4 registers 2.0M rows/s, 8 registers 2.6M). Levels 0-3 (heap slots
// 1-15) read the node from two 8-entry tables by vpermps/vpermd; deeper levels gather it.
__attribute__((target("avx2"))) inline void score_tile_avx2_float(const KernelJob<float>& job) {
    if (!offsets_fit_int32(job)) return score_tile_scalar(job);
    constexpr std::size_t V = 8;
    const std::size_t block_size = kernel_block * job.n_features;
    __m256i lane_offset[V];
    for (std::size_t v = 0; v < V; ++v)
        lane_offset[v] = _mm256_add_epi32(
            _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7),
            _mm256_set1_epi32(static_cast<int>((v / 2) * block_size + (v % 2) * 8)));
    const __m256i one = _mm256_set1_epi32(1);
    TopSlots<16> top;
    for (std::size_t t = 0; t < job.n_trees; ++t) {
        const CompiledTreeInfo info = job.trees[t];
        const CompiledNode<float>* nodes = job.nodes + info.node_offset;
        const double* leaves = job.leaves + info.leaf_offset;
        const std::uint32_t depth = info.depth;
        top.load(nodes, depth);
        const __m256 thr_lo = _mm256_load_ps(top.threshold), thr_hi = _mm256_load_ps(top.threshold + 8);
        const __m256i feat_lo = _mm256_load_si256(reinterpret_cast<const __m256i*>(top.feature));
        const __m256i feat_hi = _mm256_load_si256(reinterpret_cast<const __m256i*>(top.feature + 8));
        const __m256i first_leaf = _mm256_set1_epi32(static_cast<int>(std::uint32_t{1} << depth));
        const auto* node_words = reinterpret_cast<const float*>(nodes);
        const auto* node_features = reinterpret_cast<const int*>(nodes) + 1;
        for (std::size_t b = 0; b < job.blocks; b += V / 2) {
            const float* base = job.rows + b * block_size;
            __m256i index[V];
            for (std::size_t v = 0; v < V; ++v) index[v] = one;
            std::uint32_t level = 0;
            for (; level < depth && level < 4; ++level) {
                const __m256 thr_table = level < 3 ? thr_lo : thr_hi;
                const __m256i feat_table = level < 3 ? feat_lo : feat_hi;
                for (std::size_t v = 0; v < V; ++v) {
                    const __m256 thr = _mm256_permutevar8x32_ps(thr_table, index[v]);
                    const __m256i feat = _mm256_permutevar8x32_epi32(feat_table, index[v]);
                    const __m256i at = _mm256_add_epi32(_mm256_slli_epi32(feat, 4), lane_offset[v]);
                    const __m256 x = _mm256_i32gather_ps(base, at, 4);
                    const __m256i right = _mm256_castps_si256(_mm256_cmp_ps(x, thr, _CMP_GT_OQ));
                    index[v] = _mm256_sub_epi32(_mm256_add_epi32(index[v], index[v]), right);
                }
            }
            for (; level < depth; ++level) {
                for (std::size_t v = 0; v < V; ++v) {
                    const __m256 thr = _mm256_i32gather_ps(node_words, index[v], 8);
                    const __m256i feat = _mm256_i32gather_epi32(node_features, index[v], 8);
                    const __m256i at = _mm256_add_epi32(_mm256_slli_epi32(feat, 4), lane_offset[v]);
                    const __m256 x = _mm256_i32gather_ps(base, at, 4);
                    const __m256i right = _mm256_castps_si256(_mm256_cmp_ps(x, thr, _CMP_GT_OQ));
                    index[v] = _mm256_sub_epi32(_mm256_add_epi32(index[v], index[v]), right);
                }
            }
            double* acc = job.acc + b * kernel_block;
            for (std::size_t v = 0; v < V; ++v) {
                const __m256i leaf = _mm256_sub_epi32(index[v], first_leaf);
                const __m256d lo = _mm256_i32gather_pd(leaves, _mm256_castsi256_si128(leaf), 8);
                const __m256d hi = _mm256_i32gather_pd(leaves, _mm256_extracti128_si256(leaf, 1), 8);
                _mm256_storeu_pd(acc + 8 * v, _mm256_add_pd(_mm256_loadu_pd(acc + 8 * v), lo));
                _mm256_storeu_pd(acc + 8 * v + 4, _mm256_add_pd(_mm256_loadu_pd(acc + 8 * v + 4), hi));
            }
        }
    }
}

// AVX-512, float: 16 lanes (one block) per register, four blocks at once (measured: two
// 2.1M rows/s, four 3.0M, eight 3.1M, which would pad small batches to 128 rows). Levels 0-5 (heap slots
// 1-63) read the node from register tables (vpermps, vpermt2ps); deeper levels gather it.
__attribute__((target("avx512f"))) inline void score_tile_avx512_float(const KernelJob<float>& job) {
    if (!offsets_fit_int32(job)) return score_tile_scalar(job);
    constexpr std::size_t V = 4;
    const std::size_t block_size = kernel_block * job.n_features;
    __m512i lane_offset[V];
    for (std::size_t v = 0; v < V; ++v)
        lane_offset[v] = _mm512_add_epi32(
            _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15),
            _mm512_set1_epi32(static_cast<int>(v * block_size)));
    const __m512i one = _mm512_set1_epi32(1);
    TopSlots<64> top;
    for (std::size_t t = 0; t < job.n_trees; ++t) {
        const CompiledTreeInfo info = job.trees[t];
        const CompiledNode<float>* nodes = job.nodes + info.node_offset;
        const double* leaves = job.leaves + info.leaf_offset;
        const std::uint32_t depth = info.depth;
        top.load(nodes, depth);
        __m512 thr_table[4];
        __m512i feat_table[4];
        for (int k = 0; k < 4; ++k) {
            thr_table[k] = _mm512_load_ps(top.threshold + 16 * k);
            feat_table[k] = _mm512_load_si512(top.feature + 16 * k);
        }
        const __m512i first_leaf = _mm512_set1_epi32(static_cast<int>(std::uint32_t{1} << depth));
        const auto* node_words = reinterpret_cast<const float*>(nodes);
        const auto* node_features = reinterpret_cast<const int*>(nodes) + 1;
        for (std::size_t b = 0; b < job.blocks; b += V) {
            const float* base = job.rows + b * block_size;
            __m512i index[V];
            for (std::size_t v = 0; v < V; ++v) index[v] = one;
            std::uint32_t level = 0;
            for (; level < depth && level < 6; ++level) {
                for (std::size_t v = 0; v < V; ++v) {
                    __m512 thr;
                    __m512i feat;
                    if (level < 4) {
                        thr = _mm512_permutexvar_ps(index[v], thr_table[0]);
                        feat = _mm512_permutexvar_epi32(index[v], feat_table[0]);
                    } else if (level == 4) {
                        thr = _mm512_permutexvar_ps(index[v], thr_table[1]);
                        feat = _mm512_permutexvar_epi32(index[v], feat_table[1]);
                    } else {
                        thr = _mm512_permutex2var_ps(thr_table[2], index[v], thr_table[3]);
                        feat = _mm512_permutex2var_epi32(feat_table[2], index[v], feat_table[3]);
                    }
                    const __m512i at = _mm512_add_epi32(_mm512_slli_epi32(feat, 4), lane_offset[v]);
                    const __m512 x = _mm512_i32gather_ps(at, base, 4);
                    const __mmask16 right = _mm512_cmp_ps_mask(x, thr, _CMP_GT_OQ);
                    const __m512i twice = _mm512_add_epi32(index[v], index[v]);
                    index[v] = _mm512_mask_add_epi32(twice, right, twice, one);
                }
            }
            for (; level < depth; ++level) {
                for (std::size_t v = 0; v < V; ++v) {
                    const __m512 thr = _mm512_i32gather_ps(index[v], node_words, 8);
                    const __m512i feat = _mm512_i32gather_epi32(index[v], node_features, 8);
                    const __m512i at = _mm512_add_epi32(_mm512_slli_epi32(feat, 4), lane_offset[v]);
                    const __m512 x = _mm512_i32gather_ps(at, base, 4);
                    const __mmask16 right = _mm512_cmp_ps_mask(x, thr, _CMP_GT_OQ);
                    const __m512i twice = _mm512_add_epi32(index[v], index[v]);
                    index[v] = _mm512_mask_add_epi32(twice, right, twice, one);
                }
            }
            double* acc = job.acc + b * kernel_block;
            for (std::size_t v = 0; v < V; ++v) {
                const __m512i leaf = _mm512_sub_epi32(index[v], first_leaf);
                const __m512d lo = _mm512_i32gather_pd(_mm512_castsi512_si256(leaf), leaves, 8);
                const __m512d hi = _mm512_i32gather_pd(_mm512_extracti64x4_epi64(leaf, 1), leaves, 8);
                _mm512_storeu_pd(acc + 16 * v, _mm512_add_pd(_mm512_loadu_pd(acc + 16 * v), lo));
                _mm512_storeu_pd(acc + 16 * v + 8, _mm512_add_pd(_mm512_loadu_pd(acc + 16 * v + 8), hi));
            }
        }
    }
}

// Double models: the interleaved walk built for the wider target (no hand-written kernel yet).
__attribute__((target("avx2"))) inline void score_tile_avx2_double(const KernelJob<double>& job) {
    score_tile_scalar_w<double, 16, 2>(job);
}
__attribute__((target("avx512f"))) inline void score_tile_avx512_double(const KernelJob<double>& job) {
    score_tile_scalar_w<double, 16, 2>(job);
}

template <class T>
[[nodiscard]] inline void (*avx2_kernel())(const KernelJob<T>&) {
    if constexpr (std::is_same_v<T, float>)
        return &score_tile_avx2_float;
    else
        return &score_tile_avx2_double;
}
template <class T>
[[nodiscard]] inline void (*avx512_kernel())(const KernelJob<T>&) {
    if constexpr (std::is_same_v<T, float>)
        return &score_tile_avx512_float;
    else
        return &score_tile_avx512_double;
}

#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif

#else

[[nodiscard]] inline bool cpu_has_avx2() noexcept { return false; }
[[nodiscard]] inline bool cpu_has_avx512() noexcept { return false; }
[[nodiscard]] inline bool cpu_has_slow_gathers() noexcept { return false; }
template <class T>
[[nodiscard]] inline void (*avx2_kernel())(const KernelJob<T>&) {
    return &score_tile_scalar<T>;
}
template <class T>
[[nodiscard]] inline void (*avx512_kernel())(const KernelJob<T>&) {
    return &score_tile_scalar<T>;
}

#endif

}  // namespace isoflow::detail
