// isolated-bench: benchmark programs that print medians and ratios against
// peers measured in the same run (never timed assertions in tests).
//
//   isolated-bench ports [--quick]
//   isolated-bench transport [--quick]
//   isolated-bench transfer [--quick]
//   isolated-bench pool [--quick]
//   isolated-bench spawn [--quick] [--pin-children]
//   isolated-bench testing [--quick]
#include "peers.hpp"
#include "pinning.hpp"
#include "stats.hpp"
#include "pool_bench.hpp"
#include "ports_bench.hpp"
#include "spawn_bench.hpp"
#include "testing_bench.hpp"
#include "transfer_bench.hpp"
#include "transport_bench.hpp"

#include <isolated/init.hpp>

#include <cstdio>
#include <exception>
#include <fstream>
#include <string>
#include <string_view>

namespace {

using namespace isolated::bench;

std::string machine_name() {
  std::ifstream cpuinfo("/proc/cpuinfo");
  std::string line;
  while (std::getline(cpuinfo, line)) {
    if (line.rfind("model name", 0) == 0) {
      const auto colon = line.find(':');
      if (colon != std::string::npos) return line.substr(colon + 2);
    }
  }
  return "unknown CPU";
}

struct RoundTrips {
  Summary isolated, floor, pipe, socketpair;
};

RoundTrips measure_round_trips(const PeerConfig& config) {
  return RoundTrips{isolated_round_trip(config), raw_spin_round_trip(config),
                    pipe_round_trip(config), socketpair_round_trip(config)};
}

void print_round_trip_row(const char* name, const Summary& s, const Summary& ours) {
  std::printf("  %-28s %9.2f %9.2f   %7.2fx\n", name, s.median_us, s.p99_us,
              s.median_us / ours.median_us);
}

void print_round_trips(const char* title, const RoundTrips& r) {
  std::printf("\nRound trip, %s (µs)            median       p99   vs isolated\n", title);
  print_round_trip_row("isolated lane", r.isolated, r.isolated);
  print_round_trip_row("raw shm spin (the floor)", r.floor, r.isolated);
  print_round_trip_row("pipe", r.pipe, r.isolated);
  print_round_trip_row("socketpair", r.socketpair, r.isolated);
}

int transport(bool quick) {
  PeerConfig config;
  if (quick) {
    config.round_trips = 2000;
    config.warmup = 200;
    config.stream_messages = 100000;
  }
  const bool two_cpus = online_cpus() >= 2;
  std::printf("isolated-bench transport: %zu-byte messages, %zu round trips, %zu streamed\n",
              config.message_bytes, config.round_trips, config.stream_messages);
  std::printf("machine: %s, %d CPUs online; parent pinned to CPU 0, child to CPU %d\n",
              machine_name().c_str(), online_cpus(), two_cpus ? 1 : 0);

  PeerConfig cross = config;
  cross.child_cpu = two_cpus ? 1 : 0;
  const RoundTrips cross_cpu = measure_round_trips(cross);
  print_round_trips(two_cpus ? "cross-CPU" : "same CPU", cross_cpu);
  if (two_cpus) {
    PeerConfig same = config;
    same.child_cpu = 0;
    print_round_trips("same CPU", measure_round_trips(same));
  }

  const double ours = isolated_stream(cross);
  const double pipe = pipe_stream(cross);
  const double socketpair = socketpair_stream(cross);
  std::printf("\nOne-way stream, %s                 msg/s   isolated is\n",
              two_cpus ? "cross-CPU" : "same CPU");
  std::printf("  %-28s %12s\n", "isolated lane", format_rate(ours).c_str());
  std::printf("  %-28s %12s   %7.1fx faster\n", "pipe", format_rate(pipe).c_str(), ours / pipe);
  std::printf("  %-28s %12s   %7.1fx faster\n", "socketpair", format_rate(socketpair).c_str(),
              ours / socketpair);

  const double vs_socketpair = cross_cpu.socketpair.median_us / cross_cpu.isolated.median_us;
  const double vs_floor = cross_cpu.isolated.median_us / cross_cpu.floor.median_us;
  const double stream_ratio = ours / socketpair;
  std::printf("\nTargets (%s medians):\n", two_cpus ? "cross-CPU" : "same-CPU");
  std::printf("  round trip >= 5x faster than socketpair: %6.1fx  %s\n", vs_socketpair,
              vs_socketpair >= 5 ? "met" : "NOT MET");
  std::printf("  round trip within 3x of the raw floor:   %6.1fx  %s\n", vs_floor,
              vs_floor <= 3 ? "met" : "NOT MET");
  std::printf("  stream >= 10x the socketpair:            %6.1fx  %s\n", stream_ratio,
              stream_ratio >= 10 ? "met" : "NOT MET");
  return 0;
}

void usage() {
  std::fprintf(stderr,
               "usage: isolated-bench ports|transport|transfer|pool|spawn|testing [--quick]"
               " [--pin-children (spawn)]\n");
}

}  // namespace

int main(int argc, char** argv) {
  isolated::init(argc, argv);  // the transfer bench's receiver is a worker isolate
  const std::string_view what = argc > 1 ? argv[1] : "";
  const auto has_flag = [&](std::string_view flag) {
    for (int i = 2; i < argc; ++i) {
      if (std::string_view(argv[i]) == flag) return true;
    }
    return false;
  };
  const bool quick = has_flag("--quick");
  try {
    if (what == "ports") return isolated::bench::ports(quick);
    if (what == "transport") return transport(quick);
    if (what == "transfer") return isolated::bench::transfer(quick);
    if (what == "pool") return isolated::bench::pool(quick);
    if (what == "spawn") return isolated::bench::spawn(quick, has_flag("--pin-children"));
    if (what == "testing") return isolated::bench::testing(quick);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "isolated-bench %s failed: %s\n", argv[1], e.what());
    return 1;
  }
  usage();
  return 2;
}
