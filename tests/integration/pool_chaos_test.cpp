// Chaos: a pool of 4 keeps working while its runners are SIGKILLed at random
// every 50 ms for 10 seconds. Every task ends: with its result, or with
// IsolateExited when its runner died under it and it had no retry left. None
// hangs, the pool is back to 4 runners afterwards, and (the suite checks) no
// process or segment is left.
#include <catch2/catch.hpp>

#include <isolated/isolated.hpp>

#include "support/deadlines.hpp"
#include "support/isolate_children.hpp"

#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <future>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

using namespace isolated;
using namespace isolated::test;
using namespace std::chrono_literals;

namespace {

// Runs in a runner: long enough that kills often land mid-task.
int square_slowly(int x) {
  std::this_thread::sleep_for(std::chrono::milliseconds(x % 10));
  return x * x;
}

int my_pid(int) { return static_cast<int>(::getpid()); }

struct Outcomes {
  int results = 0;
  int runner_died = 0;     // IsolateExited by SIGKILL: no retry left
  int hung = 0;            // not settled in time
  int wrong = 0;           // a wrong result, or another failure
  std::string first_wrong;
};

// Submits batches of tasks until `stop`, half of them with retries, and
// counts how they ended. (Catch's assertions stay on the test's thread.)
Outcomes keep_the_pool_busy(LoadBalancer& pool, const std::atomic<bool>& stop) {
  Outcomes outcomes;
  const auto wrong = [&](const std::string& what) {
    if (outcomes.wrong++ == 0) outcomes.first_wrong = what;
  };
  int next = 0;
  while (!stop) {
    std::vector<std::pair<int, std::future<int>>> batch;
    for (int i = 0; i < 16; ++i, ++next) {
      RunOptions options;
      options.retries = next % 2 == 0 ? 3 : 0;
      batch.emplace_back(next, pool.run(&square_slowly, next, 100, options));
    }
    for (auto& [input, future] : batch) {
      if (!ready(future, 30s)) {
        ++outcomes.hung;
        continue;
      }
      try {
        const int value = future.get();
        if (value == input * input) {
          ++outcomes.results;
        } else {
          wrong("task " + std::to_string(input) + " gave " + std::to_string(value));
        }
      } catch (const IsolateExited& e) {
        if (e.signal() == SIGKILL) {
          ++outcomes.runner_died;
        } else {
          wrong(e.what());
        }
      } catch (const std::exception& e) {
        wrong(e.what());
      }
    }
  }
  return outcomes;
}

}  // namespace

TEST_CASE("a pool of 4 whose runners are SIGKILLed every 50 ms for 10 s loses no task",
          "[pool][balancer][healing][chaos]") {
  LoadBalancer pool = LoadBalancer::create(4, [] { return IsolateRunner::spawn(); });
  std::atomic<bool> stop{false};
  auto busy = std::async(std::launch::async, [&] { return keep_the_pool_busy(pool, stop); });

  // The runners are this process's only isolate children; kill one at random.
  std::mt19937 random(20261130);
  int kills = 0;
  const auto end = std::chrono::steady_clock::now() + 10s;
  while (std::chrono::steady_clock::now() < end) {
    std::this_thread::sleep_for(50ms);
    const std::vector<int> children = isolate_children();
    if (children.empty()) continue;
    const int victim = children[std::uniform_int_distribution<std::size_t>(
        0, children.size() - 1)(random)];
    if (::kill(victim, SIGKILL) == 0) ++kills;
  }
  stop = true;
  REQUIRE(ready(busy, 60s));
  const Outcomes outcomes = busy.get();
  INFO("kills " << kills << ", results " << outcomes.results << ", runner died "
                << outcomes.runner_died << ", first wrong: " << outcomes.first_wrong);
  CHECK(outcomes.hung == 0);  // none hangs
  CHECK(outcomes.wrong == 0);
  // Not every 50 ms finds a runner to kill: some are being replaced (and a
  // replacement killed before it runs is replaced again).
  CHECK(kills >= 20);
  CHECK(outcomes.results > 0);
  CHECK(outcomes.runner_died > 0);  // the kills did land mid-task

  CHECK(eventually([&] { return pool.size() == 4; }));
  // A runner killed at the last moment may still count until the pool hears
  // of its end; then it is replaced, and four tasks run on four runners.
  CHECK(eventually([&] {
    auto all = pool.run_multiple(4, &my_pid, 0);
    std::set<int> pids;
    for (auto& future : all) {
      if (!ready(future)) return false;
      try {
        pids.insert(future.get());
      } catch (const IsolateExited&) {
        return false;
      }
    }
    return pids.size() == 4;
  }));
  pool.close();
}
