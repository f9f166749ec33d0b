#include "pool_bench.hpp"

#include "stats.hpp"

#include <isolated/isolated.hpp>

#include <chrono>
#include <cstdio>
#include <memory>
#include <numeric>
#include <string>
#include <vector>

namespace isolated::bench {
namespace {

using Clock = std::chrono::steady_clock;

int square(int x) { return x * x; }

double micros_since(Clock::time_point start) {
  return std::chrono::duration<double, std::micro>(Clock::now() - start).count();
}

// Python's figures, from tools/bench/python/pool_peers.py: {} if python3 is
// missing or fails.
struct PythonFigures {
  double executor_round_trip_us = 0;
  double executor_map_per_s = 0;
  double pool_map_per_s = 0;
  bool valid = false;
};

double json_number(const std::string& text, const std::string& key) {
  const auto at = text.find("\"" + key + "\":");
  if (at == std::string::npos) return 0;
  return std::stod(text.substr(at + key.size() + 3));
}

PythonFigures run_python(std::size_t tasks, std::size_t round_trips) {
  const std::string command = "python3 " ISOLATED_BENCH_PYTHON_DIR "/pool_peers.py " +
                              std::to_string(tasks) + " " + std::to_string(round_trips);
  std::unique_ptr<FILE, int (*)(FILE*)> pipe(::popen(command.c_str(), "r"), &::pclose);
  if (!pipe) return {};
  std::string output;
  char buffer[512];
  while (std::fgets(buffer, sizeof buffer, pipe.get()) != nullptr) output += buffer;
  PythonFigures figures;
  try {
    figures.executor_round_trip_us = json_number(output, "executor_round_trip_us");
    figures.executor_map_per_s = json_number(output, "executor_map_per_s");
    figures.pool_map_per_s = json_number(output, "pool_map_per_s");
    figures.valid = figures.executor_map_per_s > 0;
  } catch (const std::exception&) {
  }
  return figures;
}

}  // namespace

int pool(bool quick) {
  const std::size_t tasks = quick ? 5000 : 50000;
  const std::size_t round_trips = quick ? 500 : 5000;
  const std::size_t computes = quick ? 10 : 50;
  std::printf("isolated-bench pool: a trivial task (x * x), 2 runners on this %s\n\n",
              "2-CPU machine");

  auto balancer = LoadBalancer::create(2, [] { return IsolateRunner::spawn(); });
  balancer.run(&square, 1).get();  // warm

  std::vector<double> samples;
  for (std::size_t i = 0; i < round_trips; ++i) {
    const auto start = Clock::now();
    if (balancer.run(&square, static_cast<int>(i)).get() != static_cast<int>(i * i)) return 1;
    samples.push_back(micros_since(start));
  }
  const Summary one_at_a_time = summarize(samples);

  std::vector<int> inputs(tasks);
  std::iota(inputs.begin(), inputs.end(), 0);
  MapOptions options;
  options.max_in_flight = 64;
  const auto start = Clock::now();
  long long checksum = 0;
  for (int r : balancer.map(inputs, &square, options)) checksum += r;
  const double per_second = static_cast<double>(tasks) / (micros_since(start) / 1e6);
  balancer.close();

  samples.clear();
  for (std::size_t i = 0; i < computes; ++i) {
    const auto began = Clock::now();
    if (compute(&square, 3).get() != 9) return 1;
    samples.push_back(micros_since(began));
  }
  const Summary compute_once = summarize(samples);

  const PythonFigures python = run_python(tasks, round_trips);

  std::printf("%-44s %12s %12s\n", "", "isolated", "Python");
  std::printf("%-44s %9.1f us %9.1f us\n", "one task at a time, round trip (median)",
              one_at_a_time.median_us, python.executor_round_trip_us);
  std::printf("%-44s %9.1f us\n", "one task at a time, round trip (p99)", one_at_a_time.p99_us);
  std::printf("%-44s %12s %12s  (ProcessPoolExecutor.map)\n", "many tasks in flight, tasks/s",
              format_rate(per_second).c_str(), format_rate(python.executor_map_per_s).c_str());
  std::printf("%-44s %12s %12s  (multiprocessing.Pool.map)\n", "",
              "", format_rate(python.pool_map_per_s).c_str());
  std::printf("%-44s %9.2f ms\n", "compute() of a trivial function (median)",
              compute_once.median_us / 1000);
  if (checksum == 0) return 1;
  if (!python.valid) {
    std::printf("\n(python3 figures missing: is python3 installed?)\n");
    return 0;
  }
  const double ratio = per_second / python.executor_map_per_s;
  std::printf("\nTargets:\n");
  std::printf("  tasks/s >= 10x ProcessPoolExecutor:  %7.1fx  %s\n", ratio,
              ratio >= 10 ? "met" : "NOT MET");
  std::printf("  compute() median under 2 ms:         %7.2f ms  %s\n",
              compute_once.median_us / 1000, compute_once.median_us < 2000 ? "met" : "NOT MET");
  return 0;
}

}  // namespace isolated::bench
