// Fit's hot path: gathering the rows drawn for a tree from a large matrix, and drawing them.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <utility>
#include <vector>

namespace isoflow::detail {

// Copies X(rows[i], features[c]) as T into sample[c * rows.size() + i] (the tree builder's
// column-by-column layout). Rows are drawn at random from a matrix far larger than the caches,
// so each is a cache miss; prefetching a few rows ahead overlaps those misses. Returns the
// (i, c) of the first value that is not finite, if any (fit rejects NaN and infinity).
template <class T, class Matrix>
[[nodiscard]] std::optional<std::pair<std::size_t, std::size_t>> gather_sample(
    const Matrix& X, const std::vector<std::uint32_t>& rows,
    const std::vector<std::int32_t>& features, T* sample) {
    using Scalar = typename Matrix::Scalar;
    const std::size_t count = rows.size(), m = features.size();
    const Scalar* base = X.data();
    const auto row_stride = static_cast<std::size_t>(X.rowStride());
    const auto col_stride = static_cast<std::size_t>(X.colStride());
    constexpr std::size_t ahead = 16;
    // The row's cache lines, from its first to its last used feature.
    const std::size_t span_bytes =
        col_stride == 1 ? static_cast<std::size_t>(features.back() - features.front()) * sizeof(Scalar) : 0;
    bool finite = true;
    // Pass i prefetches row i and gathers row i - ahead.
    for (std::size_t i = 0; i < count + ahead; ++i) {
#if defined(__GNUC__) || defined(__clang__)
        if (i < count) {
            const Scalar* next = base + static_cast<std::size_t>(rows[i]) * row_stride;
            if (col_stride == 1) {
                const char* first = reinterpret_cast<const char*>(next + features.front());
                for (std::size_t b = 0; b < span_bytes; b += 64) __builtin_prefetch(first + b);
                __builtin_prefetch(first + span_bytes);
            } else {
                for (std::size_t c = 0; c < m; ++c)
                    __builtin_prefetch(next + static_cast<std::size_t>(features[c]) * col_stride);
            }
        }
#endif
        if (i < ahead) continue;
        const std::size_t r = i - ahead;
        if (r >= count) continue;
        const Scalar* row = base + static_cast<std::size_t>(rows[r]) * row_stride;
        for (std::size_t c = 0; c < m; ++c) {
            const T value = static_cast<T>(row[static_cast<std::size_t>(features[c]) * col_stride]);
            finite &= std::isfinite(value);
            sample[c * count + r] = value;
        }
    }
    if (finite) return std::nullopt;
    for (std::size_t i = 0; i < count; ++i)
        for (std::size_t c = 0; c < m; ++c)
            if (!std::isfinite(sample[c * count + i])) return std::pair{i, c};
    return std::nullopt;
}

// A set of row indices for Floyd's sampling: open addressing with linear probing in a table of
// at least twice the expected count, so an insert costs about one probe and no allocation.
class IndexSet {
public:
    explicit IndexSet(std::size_t expected) {
        std::size_t size = 16;
        while (size < 2 * expected) size *= 2;
        slots_.assign(size, empty);
        mask_ = size - 1;
    }
    // Inserts `value`; false when it was already there.
    bool insert(std::uint32_t value) {
        std::size_t slot = (static_cast<std::size_t>(value) * 0x9E3779B97F4A7C15ull >> 32) & mask_;
        while (slots_[slot] != empty) {
            if (slots_[slot] == value) return false;
            slot = (slot + 1) & mask_;
        }
        slots_[slot] = value;
        return true;
    }

private:
    static constexpr std::uint32_t empty = 0xFFFFFFFFu;  // fit refuses 2^32 - 1 rows or more
    std::vector<std::uint32_t> slots_;
    std::size_t mask_ = 0;
};

}  // namespace isoflow::detail
