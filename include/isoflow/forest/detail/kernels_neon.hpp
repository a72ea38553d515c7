// The NEON kernel (ARM64). NEON has no gather instruction, so the kernel is the interleaved
// walk with 16 rows per group (more registers than x86-64: 31 general ones), which the
// compiler builds with NEON enabled, as it always is on ARM64.
#pragma once

#include "isoflow/forest/detail/kernels_scalar.hpp"

namespace isoflow::detail {

[[nodiscard]] inline bool cpu_has_neon() noexcept {
#if defined(__aarch64__)
    return true;  // part of the ARMv8-A baseline
#else
    return false;
#endif
}

// Not measured yet: no ARM64 machine was at hand (docs/performance.md).
template <class T>
[[nodiscard]] inline void (*neon_kernel())(const KernelJob<T>&) {
    return &score_tile_scalar_w<T, 16, 2>;
}

}  // namespace isoflow::detail
