// A minimal fork-join helper: runs task(i) for i in [0, n) on up to `threads` threads and
// rethrows the first exception in the calling thread.
#pragma once

#include <algorithm>
#include <atomic>
#include <cstddef>
#include <exception>
#include <mutex>
#include <thread>
#include <vector>

namespace isoflow::detail {

// Threads for an n_jobs value: a count, or -1 for all cores, -2 for all but one, ...
[[nodiscard]] inline std::size_t resolve_threads(int n_jobs) noexcept {
    if (n_jobs > 0) return static_cast<std::size_t>(n_jobs);
    const auto cores = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
    return static_cast<std::size_t>(std::max(1, cores + 1 + n_jobs));
}

template <class Task>
void parallel_for(std::size_t n, std::size_t threads, const Task& task) {
    threads = std::min(threads, n);
    if (threads <= 1) {
        for (std::size_t i = 0; i < n; ++i) task(i);
        return;
    }
    std::atomic<std::size_t> next{0};
    std::exception_ptr failure;
    std::mutex failure_mutex;
    auto worker = [&] {
        for (;;) {
            const std::size_t i = next.fetch_add(1, std::memory_order_relaxed);
            if (i >= n) return;
            try {
                task(i);
            } catch (...) {
                std::lock_guard lock(failure_mutex);
                if (!failure) failure = std::current_exception();
                next.store(n, std::memory_order_relaxed);
                return;
            }
        }
    };
    std::vector<std::thread> pool;
    pool.reserve(threads - 1);
    for (std::size_t t = 1; t < threads; ++t) pool.emplace_back(worker);
    worker();
    for (auto& thread : pool) thread.join();
    if (failure) std::rethrow_exception(failure);
}

}  // namespace isoflow::detail
