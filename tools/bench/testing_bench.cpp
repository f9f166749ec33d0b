#include "testing_bench.hpp"

#include "stats.hpp"

#include <isolated/testing.hpp>

#include <chrono>
#include <csignal>
#include <cstdio>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

// Outside any namespace, as a test's code under test would be.
[[gnu::noinline]] int bench_null_write(int) {
  volatile int* volatile target = nullptr;
  *target = 42;
  return 0;
}

namespace isolated::bench {
namespace {

int square(int x) { return x * x; }

// Medians of GoogleTest's two styles, from the peer; 0 if it is missing.
struct DeathTestFigures {
  double fast_us = 0;
  double threadsafe_us = 0;
};

DeathTestFigures run_peer(int assertions) {
#ifdef ISOLATED_BENCH_DEATH_TEST_PEER
  const std::string command =
      ISOLATED_BENCH_DEATH_TEST_PEER " " + std::to_string(assertions) + " 2>/dev/null";
  std::unique_ptr<FILE, int (*)(FILE*)> pipe(::popen(command.c_str(), "r"), &::pclose);
  DeathTestFigures figures;
  if (!pipe) return figures;
  char line[512];
  while (std::fgets(line, sizeof line, pipe.get()) != nullptr) {
    std::sscanf(line, "fast_us %lf threadsafe_us %lf", &figures.fast_us, &figures.threadsafe_us);
  }
  return figures;
#else
  (void)assertions;
  return {};
#endif
}

template <class Trial>
Summary time_trials(int count, Trial trial) {
  std::vector<double> samples;
  for (int i = 0; i < count; ++i) {
    const auto start = std::chrono::steady_clock::now();
    if (!trial()) throw std::runtime_error("a trial did not end as it should");
    samples.push_back(
        std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - start)
            .count());
  }
  return summarize(samples);
}

}  // namespace

int testing(bool quick) {
  using namespace isolated::testing;
  const int count = quick ? 20 : 100;
  std::printf("isolated-bench testing: %d trials and %d death tests of each kind, one at a time\n\n",
              count, count);
  run_isolated(&square, 1);  // warm: the first spawn starts the launcher and supervisor

  const Summary crashing = time_trials(count, [] {
    const Outcome outcome = run_isolated(&bench_null_write, 0);
    return outcome.ending() == Ending::signaled && outcome.signal() == SIGSEGV &&
           !outcome.crash_report().empty();
  });
  const Summary returning = time_trials(count, [] {
    const Outcome outcome = run_isolated(&square, 3);
    return outcome.ending() == Ending::returned && outcome.result<int>() == 9;
  });
  const DeathTestFigures gtest = run_peer(count);

  const double crash_ms = crashing.median_us / 1000;
  std::printf("%-52s %10s\n", "", "median");
  std::printf("%-52s %7.2f ms\n", "run_isolated, segfaults (with its crash report)", crash_ms);
  std::printf("%-52s %7.2f ms\n", "run_isolated, returns", returning.median_us / 1000);
  if (gtest.fast_us <= 0 || gtest.threadsafe_us <= 0) {
    std::printf("\n(GoogleTest figures missing: built without GoogleTest, or its peer failed)\n");
    return 0;
  }
  std::printf("%-52s %7.2f ms\n", "GoogleTest EXPECT_DEATH, fast (fork)", gtest.fast_us / 1000);
  std::printf("%-52s %7.2f ms\n", "GoogleTest EXPECT_DEATH, threadsafe (fork + exec)",
              gtest.threadsafe_us / 1000);

  const double vs_threadsafe = gtest.threadsafe_us / crashing.median_us;
  const double vs_fast = crashing.median_us / gtest.fast_us;
  std::printf("\nTargets (medians):\n");
  std::printf("  segfaulting trial >= 3x faster than threadsafe:  %5.2fx  %s\n", vs_threadsafe,
              vs_threadsafe >= 3 ? "met" : "NOT MET");
  std::printf("  segfaulting trial <= 1.5x the fast style:         %5.2fx  %s\n", vs_fast,
              vs_fast <= 1.5 ? "met" : "NOT MET");
  return 0;
}

}  // namespace isolated::bench
