// The GoogleTest peer of `isolated-bench testing`: EXPECT_EXIT of a function
// that segfaults, in GoogleTest's two death test styles, timed one
// assertion at a time. Prints "fast_us <median> threadsafe_us <median>".
//
//   fast:        fork() of this process, the statement runs in the copy
//   threadsafe:  fork() and exec of this program, which runs the test again
//                up to the statement (what GoogleTest advises for a process
//                with threads, which a test process with isolates has)
//
// Like run_isolated's children, the dying children write no core file.
#include <gtest/gtest.h>

#include <signal.h>
#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <vector>

namespace {

int g_assertions = 100;
std::vector<double> g_fast_us;
std::vector<double> g_threadsafe_us;

[[gnu::noinline]] void write_through_null() {
  volatile int* volatile target = nullptr;
  *target = 42;
}

void time_death_tests(std::vector<double>& samples) {
  for (int i = 0; i < g_assertions; ++i) {
    const auto start = std::chrono::steady_clock::now();
    EXPECT_EXIT(write_through_null(), ::testing::KilledBySignal(SIGSEGV), "");
    samples.push_back(
        std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - start)
            .count());
  }
}

double median(std::vector<double> samples) {
  if (samples.empty()) return 0;
  std::sort(samples.begin(), samples.end());
  return samples[(samples.size() - 1) / 2];
}

}  // namespace

TEST(DeathTestPeer, Fast) {
  GTEST_FLAG_SET(death_test_style, "fast");
  time_death_tests(g_fast_us);
}

TEST(DeathTestPeer, Threadsafe) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  time_death_tests(g_threadsafe_us);
}

int main(int argc, char** argv) {
  const rlimit no_core{0, 0};
  ::setrlimit(RLIMIT_CORE, &no_core);
  ::testing::InitGoogleTest(&argc, argv);
  if (argc > 1) g_assertions = std::max(1, std::atoi(argv[1]));
  ::testing::GTEST_FLAG(print_time) = false;
  const int failed = RUN_ALL_TESTS();
  std::printf("fast_us %.1f threadsafe_us %.1f\n", median(g_fast_us), median(g_threadsafe_us));
  return failed;
}
