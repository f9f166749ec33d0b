// LoadBalancer::map: the article's asyncMap over a stream of inputs.
#include <catch2/catch.hpp>

#include <isolated/isolated.hpp>

#include "support/deadlines.hpp"
#include "support/gates.hpp"

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <future>
#include <numeric>
#include <set>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

using namespace isolated;
using namespace isolated::test;
using namespace std::chrono_literals;

namespace {

int square(int x) { return x * x; }

// The first input is slow, so the second, on the other runner, completes
// first: completion order differs from input order whatever the load.
int slow_for_zero(int x) {
  std::this_thread::sleep_for(std::chrono::milliseconds(x == 0 ? 200 : 0));
  return x;
}

int fail_on_seven(int x) {
  if (x == 7) throw std::runtime_error("seven");
  return x;
}

// Input 0 returns at once; any other would keep its runner busy for an
// hour, so only cancellation can free the runner in time.
int stuck_unless_zero(int x) {
  if (x != 0) std::this_thread::sleep_for(std::chrono::hours(1));
  return x;
}

int my_pid(int) { return static_cast<int>(::getpid()); }

LoadBalancer pool_of(std::size_t n) {
  return LoadBalancer::create(n, [] { return IsolateRunner::spawn(); });
}

}  // namespace

TEST_CASE("map gives the results in input order", "[pool][map]") {
  auto pool = pool_of(2);
  std::vector<int> inputs(200);
  std::iota(inputs.begin(), inputs.end(), 0);
  std::vector<int> results;
  for (int r : pool.map(inputs, &square)) results.push_back(r);
  REQUIRE(results.size() == inputs.size());
  for (std::size_t i = 0; i < inputs.size(); ++i) CHECK(results[i] == inputs[i] * inputs[i]);
  pool.close();
}

TEST_CASE("map with ordered = false gives every result, in completion order", "[pool][map]") {
  auto pool = pool_of(2);
  const std::vector<int> inputs{0, 1, 2, 3, 4, 5, 6, 7};
  MapOptions options;
  options.ordered = false;
  options.max_in_flight = 8;
  std::vector<int> results;
  for (int r : pool.map(inputs, &slow_for_zero, options)) results.push_back(r);
  CHECK(std::multiset<int>(results.begin(), results.end()) ==
        std::multiset<int>(inputs.begin(), inputs.end()));
  CHECK(results != inputs);  // the slow first one did not come first
  pool.close();
}

TEST_CASE("map keeps at most max_in_flight tasks in the air and reads inputs only as needed",
          "[pool][map]") {
  auto pool = pool_of(2);
  std::vector<int> inputs(100);
  std::iota(inputs.begin(), inputs.end(), 0);
  MapOptions options;
  options.max_in_flight = 3;
  auto results = pool.map(inputs, &square, options);
  std::size_t taken = 0;
  for (auto it = results.begin(); it != results.end(); ++it) {
    ++taken;
    CHECK(results.in_flight() <= 3);
    CHECK(results.inputs_taken() <= taken + 3 + 1);
  }
  CHECK(taken == inputs.size());
  pool.close();
}

TEST_CASE("a consumer that stops early reads no more input", "[pool][map]") {
  auto pool = pool_of(2);
  std::vector<int> inputs(1000);
  std::iota(inputs.begin(), inputs.end(), 0);
  MapOptions options;
  options.max_in_flight = 4;
  std::size_t read = 0;
  {
    auto results = pool.map(inputs, &square, options);
    int seen = 0;
    for (int r : results) {
      CHECK(r == seen * seen);
      if (++seen == 10) break;
    }
    read = results.inputs_taken();
  }
  CHECK(read <= 10 + 4 + 1);
  pool.close();
}

TEST_CASE("a failing task throws from the iteration that reaches it", "[pool][map]") {
  auto pool = pool_of(2);
  std::vector<int> inputs(20);
  std::iota(inputs.begin(), inputs.end(), 0);
  std::vector<int> before;
  try {
    for (int r : pool.map(inputs, &fail_on_seven)) before.push_back(r);
    FAIL("no exception");
  } catch (const RemoteError& e) {
    CHECK(e.message() == "seven");
  }
  CHECK(before == std::vector<int>{0, 1, 2, 3, 4, 5, 6});
  pool.close();
}

TEST_CASE("a consumer that stops early cancels the running tasks: their runners are replaced",
          "[pool][map]") {
  auto pool = pool_of(2);
  std::vector<int> inputs(100);
  std::iota(inputs.begin(), inputs.end(), 0);
  MapOptions options;
  options.max_in_flight = 4;
  {
    auto results = pool.map(inputs, &stuck_unless_zero, options);
    auto first = results.begin();
    REQUIRE(*first == 0);
    CHECK(results.in_flight() == 4);  // both runners hold a stuck task
  }
  // Both were killed; the pool heals and takes work again.
  CHECK(eventually([&] { return pool.size() == 2; }));
  auto both = pool.run_multiple(2, &my_pid, 0);
  for (auto& future : both) CHECK(ready(future));
  // Graceful close waits for every queued task: it returns only because no
  // task of the map is left.
  auto closing = std::async(std::launch::async, [&] { pool.close(); });
  CHECK(ready(closing, 30s));
}

TEST_CASE("a consumer that stops early cancels its queued tasks: they never run",
          "[pool][map]") {
  auto pool = pool_of(2);
  // The first runner is busy with a task that is not the map's.
  ReceivePort gates;
  auto busy = pool.run(&gated, gates.send_port());
  const Gate gate = wait_at_gate(gates);
  auto second = pool.run(&my_pid, 0);  // the idle runner
  REQUIRE(ready(second));
  const int second_runner = second.get();
  std::vector<int> inputs(100);
  std::iota(inputs.begin(), inputs.end(), 0);
  MapOptions options;
  options.max_in_flight = 3;
  {
    // Input 0 goes to the idle runner; 1 queues behind the busy task (a tie
    // of loads goes to the first runner), 2 behind 0 on the second.
    auto results = pool.map(inputs, &stuck_unless_zero, options);
    REQUIRE(*results.begin() == 0);
  }
  gate.open_port.send(true);
  REQUIRE(ready(busy));
  CHECK(busy.get() == gate.pid);
  // Had input 1 run after the busy task, the first runner would be stuck for
  // an hour; it is free, and it is the same process: only the second runner,
  // whose running task was the map's, ended.
  CHECK(eventually([&] { return process_gone(second_runner); }));
  // Once the pool has heard of that end and replaced the runner, two tasks
  // run on two runners: the first, free, and a new one.
  std::set<int> pids;
  CHECK(eventually([&] {
    auto both = pool.run_multiple(2, &my_pid, 0);
    pids.clear();
    for (auto& future : both) {
      if (!ready(future)) return false;
      pids.insert(future.get());
    }
    return pids.size() == 2;
  }));
  CHECK(pids.contains(gate.pid));
  CHECK_FALSE(pids.contains(second_runner));
  auto closing = std::async(std::launch::async, [&] { pool.close(); });
  CHECK(ready(closing, 30s));
}
