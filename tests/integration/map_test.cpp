// LoadBalancer::map: the article's asyncMap over a stream of inputs.
#include <catch2/catch.hpp>

#include <isolated/isolated.hpp>

#include <algorithm>
#include <numeric>
#include <set>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

using namespace isolated;

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
