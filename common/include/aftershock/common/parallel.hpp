#pragma once
// parallel_for over an index range with dynamic chunking, on plain std::threads.
#include <algorithm>
#include <atomic>
#include <cstddef>
#include <exception>
#include <mutex>
#include <thread>
#include <vector>

namespace aftershock {

/// Number of worker threads to use when the caller says 0 ("all cores").
[[nodiscard]] inline unsigned resolve_threads(unsigned requested) {
    return requested > 0 ? requested : std::max(1U, std::thread::hardware_concurrency());
}

/// Calls fn(thread_no, begin, end) on chunks of [0, n) from `threads` threads. The first exception thrown by
/// any chunk is rethrown in the caller after all threads stop.
template <typename Fn>
void parallel_for(std::size_t n, unsigned threads, std::size_t chunk, Fn&& fn) {
    threads = static_cast<unsigned>(std::min<std::size_t>(resolve_threads(threads), std::max<std::size_t>(1, (n + chunk - 1) / std::max<std::size_t>(chunk, 1))));
    chunk = std::max<std::size_t>(chunk, 1);
    std::atomic<std::size_t> next{0};
    std::exception_ptr error;
    std::mutex error_mutex;
    auto body = [&](unsigned t) {
        try {
            for (;;) {
                const auto begin = next.fetch_add(chunk);
                if (begin >= n) break;
                fn(t, begin, std::min(n, begin + chunk));
            }
        } catch (...) {
            std::lock_guard lock(error_mutex);
            if (!error) error = std::current_exception();
            next = n;  // stop the other threads early
        }
    };
    if (threads <= 1) {
        body(0);
    } else {
        std::vector<std::thread> pool;
        pool.reserve(threads);
        for (unsigned t = 0; t < threads; ++t) pool.emplace_back(body, t);
        for (auto& th : pool) th.join();
    }
    if (error) std::rethrow_exception(error);
}

}  // namespace aftershock
