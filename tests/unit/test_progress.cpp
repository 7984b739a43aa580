#include "aftershock/common/progress.hpp"

#include <gtest/gtest.h>
#include <spdlog/spdlog.h>

#include <thread>
#include <vector>

namespace aftershock {
namespace {

// Builds call add() from every worker thread; the report-due check runs outside the lock. Run under TSan
// (scripts/sanitize.sh tsan), this caught an unsynchronised read of the last report's time.
TEST(Progress, ConcurrentAddsCountEveryUnitAndReportSafely) {
    const auto level = spdlog::get_level();
    spdlog::set_level(spdlog::level::warn);  // a report every microsecond would flood the test log
    Progress progress("test", 0, "units", 1e-6);
    constexpr int kThreads = 4;
    constexpr int kAdds = 20000;
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t) {
        threads.emplace_back([&progress] {
            for (int i = 0; i < kAdds; ++i) progress.add(2);
        });
    }
    for (auto& t : threads) t.join();
    progress.finish();
    spdlog::set_level(level);
    EXPECT_EQ(progress.done(), std::uint64_t{2} * kThreads * kAdds);
}

}  // namespace
}  // namespace aftershock
