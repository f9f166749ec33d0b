// isolated-bench ports (ports_bench.hpp). The parent is pinned to CPU 0, the
// peer isolate pins itself to CPU 1 (or 0 for the same-CPU rows); every peer
// of the other tables is measured in the same run with the same pinning.
#include "ports_bench.hpp"

#include "blocking_peers.hpp"
#include "peers.hpp"
#include "pinning.hpp"
#include "stats.hpp"

#include <isolated/isolated.hpp>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <functional>
#include <stdexcept>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

namespace isolated::bench {
namespace {

using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

double micros(Clock::duration d) { return std::chrono::duration<double, std::micro>(d).count(); }

// How the peer takes its messages.
enum class Way : int { receive = 0, messages = 1, listen = 2 };

// The echo peer: sends back every message it gets, until nil.
void echo_peer(std::tuple<SendPort, int, int> setup) {
  const auto [reply, cpu, way] = setup;
  pin_to_cpu(cpu);
  if (static_cast<Way>(way) == Way::listen) {
    auto* port = new ReceivePort();  // lives as long as the isolate
    port->listen([reply, port](Message message) {
      if (message.is<std::nullptr_t>()) {
        port->close();  // the event loop ends, and the isolate with it
        return;
      }
      reply.send(message);
    });
    reply.send(port->send_port());
    return;
  }
  ReceivePort port;
  reply.send(port.send_port());
  if (static_cast<Way>(way) == Way::messages) {
    for (const Message& message : port.messages()) {
      if (message.is<std::nullptr_t>()) return;
      reply.send(message);
    }
    return;
  }
  for (;;) {
    Message message = port.receive();
    if (message.is<std::nullptr_t>()) return;
    reply.send(message);
  }
}

// The sink peer: takes messages until nil, reading each as a user would (an
// integer as an integer, text as a string view, bytes as a span), then sends
// back [count, sum of integers or of sizes].
void sink_peer(std::tuple<SendPort, int> setup) {
  const auto [reply, cpu] = setup;
  pin_to_cpu(cpu);
  ReceivePort port;
  reply.send(port.send_port());
  for (;;) {
    std::uint64_t count = 0;
    std::uint64_t sum = 0;
    for (;;) {
      Message message = port.receive();
      if (message.is<std::nullptr_t>()) break;
      ++count;
      switch (message.kind()) {
        case MessageKind::integer: sum += message.as<std::uint64_t>(); break;
        case MessageKind::string: sum += message.as<std::string_view>().size(); break;
        default: sum += message.as<std::span<const std::byte>>().size(); break;
      }
    }
    if (count == 0) return;  // nil alone: the end
    reply.send(std::tuple<std::uint64_t, std::uint64_t>(count, sum));
  }
}

// The big-message peer: takes each block as a user's own vector (decoded,
// copied out of shared memory), checks its edges and answers with its size.
void block_peer(std::tuple<SendPort, int> setup) {
  const auto [reply, cpu] = setup;
  pin_to_cpu(cpu);
  ReceivePort port;
  reply.send(port.send_port());
  for (;;) {
    Message message = port.receive();
    if (message.is<std::nullptr_t>()) return;
    const auto block = message.as<std::vector<std::uint8_t>>();
    const bool intact = block.empty() || (block.front() == 1 && block.back() == 2);
    reply.send(intact ? block.size() : std::size_t{0});
  }
}

// A peer isolate and the ports to talk to it; ended (nil, then its exit
// awaited) when it goes.
class Peer {
 public:
  template <class Entry, class Setup>
  Peer(Entry entry, Setup setup_without_reply, const char* name) {
    SpawnOptions options;
    options.debug_name = name;
    options.on_exit = exited_.send_port();
    Isolate::spawn(entry, std::tuple_cat(std::tuple<SendPort>(replies_.send_port()),
                                         setup_without_reply),
                   options);
    port_ = replies_.receive().as<SendPort>();
  }
  ~Peer() {
    port_.send(nullptr);
    exited_.receive_for(30s);
  }
  Peer(const Peer&) = delete;
  Peer& operator=(const Peer&) = delete;

  const SendPort& port() const { return port_; }
  ReceivePort& replies() { return replies_; }

 private:
  ReceivePort replies_;
  ReceivePort exited_;
  SendPort port_;
};

std::string text_of(std::size_t bytes) { return std::string(bytes, 'x'); }

// Round trips of a 48-character string to an echo peer. With `idle`, the
// parent sleeps that long before each (not timed), so the peer has parked.
Summary port_round_trip(int peer_cpu, Way way, std::size_t count, std::size_t warmup,
                        std::chrono::microseconds idle = {}) {
  Peer peer(&echo_peer, std::tuple<int, int>(peer_cpu, static_cast<int>(way)), "bench-echo");
  const std::string message = text_of(48);
  std::vector<double> samples;
  samples.reserve(count);
  for (std::size_t i = 0; i < warmup + count; ++i) {
    if (idle.count() > 0) std::this_thread::sleep_for(idle);
    const auto start = Clock::now();
    peer.port().send(message);
    Message echo = peer.replies().receive();
    const auto end = Clock::now();
    if (echo.as<std::string_view>().size() != message.size()) {
      throw std::runtime_error("the echo differs");
    }
    if (i >= warmup) samples.push_back(micros(end - start));
  }
  return summarize(std::move(samples));
}

// A one-way stream of `count` messages made by `make(i)`; messages per second
// from the first send until the peer has counted them all.
template <class Make>
double port_stream(int peer_cpu, std::size_t count, Make make, std::uint64_t expected_sum) {
  Peer peer(&sink_peer, std::tuple<int>(peer_cpu), "bench-sink");
  // A short warm-up stream: lanes and pages in place before the timed one.
  for (std::size_t i = 0; i < std::min<std::size_t>(count, 1000); ++i) peer.port().send(make(i));
  peer.port().send(nullptr);
  peer.replies().receive();
  const auto start = Clock::now();
  for (std::size_t i = 0; i < count; ++i) peer.port().send(make(i));
  peer.port().send(nullptr);
  const auto [got, sum] = peer.replies().receive().as<std::tuple<std::uint64_t, std::uint64_t>>();
  const double seconds = std::chrono::duration<double>(Clock::now() - start).count();
  if (got != count || sum != expected_sum) {
    throw std::runtime_error("the stream lost messages: " + std::to_string(got) + " of " +
                             std::to_string(count) + " arrived");
  }
  return static_cast<double>(count) / seconds;
}

Summary big_message(int peer_cpu, std::size_t bytes, std::size_t repetitions) {
  Peer peer(&block_peer, std::tuple<int>(peer_cpu), "bench-blocks");
  std::vector<std::uint8_t> block(bytes, 7);
  block.front() = 1;
  block.back() = 2;
  std::vector<double> samples;
  for (std::size_t i = 0; i < repetitions + 1; ++i) {  // the first one warms up
    const auto start = Clock::now();
    peer.port().send(block);
    const auto size = peer.replies().receive().as<std::size_t>();
    const auto end = Clock::now();
    if (size != bytes) throw std::runtime_error("the block arrived damaged");
    if (i > 0) samples.push_back(micros(end - start));
  }
  return summarize(std::move(samples));
}

// ---------------------------------------------------------------- printing

void row(const char* name, const Summary& s, const Summary& ours) {
  std::printf("  %-34s %10.2f %10.2f %10.2fx\n", name, s.median_us, s.p99_us,
              s.median_us / ours.median_us);
}

void rate_row(const char* name, double rate, double ours) {
  std::printf("  %-34s %12s %10.2fx\n", name, format_rate(rate).c_str(), ours / rate);
}

struct Verdicts {
  int met = 0;
  int missed = 0;
  void check(const char* what, double value, const char* unit, bool ok) {
    std::printf("  %-62s %8.2f%-2s %s\n", what, value, unit, ok ? "met" : "NOT MET");
    ++(ok ? met : missed);
  }
};

}  // namespace

int ports(bool quick) {
  const bool two_cpus = online_cpus() >= 2;
  const int other = two_cpus ? 1 : 0;
  const std::size_t trips = quick ? 2000 : 20000;
  const std::size_t parked_trips = quick ? 200 : 1000;
  const std::size_t warmup = quick ? 200 : 2000;
  const std::size_t stream = quick ? 100000 : 1000000;
  const std::size_t big_repetitions = quick ? 3 : 5;
  const ScopedPin pin(0);

  PeerConfig peer;
  peer.message_bytes = 48;
  peer.round_trips = trips;
  peer.warmup = warmup;
  peer.stream_messages = stream;
  peer.child_cpu = other;

  std::printf("isolated-bench ports: the public API between two isolates; parent on CPU 0, "
              "peer on CPU %d; medians of %zu round trips\n",
              other, trips);

  // Round trips, the receiver waiting in receive() (and the other ways).
  const Summary waiting = port_round_trip(other, Way::receive, trips, warmup);
  const Summary via_messages = port_round_trip(other, Way::messages, trips, warmup);
  const Summary via_listen = port_round_trip(other, Way::listen, trips, warmup);
  const Summary spin = raw_spin_round_trip(peer);
  const Summary futex = futex_round_trip(peer);
  const Summary pipe = pipe_round_trip(peer);
  const Summary socketpair = socketpair_round_trip(peer);
  const Summary queue = message_queue_round_trip(peer);
  std::printf("\nRound trip, 48-character string, cross-CPU (µs)  median        p99   vs ours\n");
  row("isolated, peer in receive()", waiting, waiting);
  row("isolated, peer in messages()", via_messages, waiting);
  row("isolated, peer listening (events)", via_listen, waiting);
  row("raw shared-memory spin (the floor)", spin, waiting);
  row("raw futex ping-pong", futex, waiting);
  row("pipe", pipe, waiting);
  row("socketpair", socketpair, waiting);
  row("Boost.Interprocess message_queue", queue, waiting);

  // Parked: 1 ms idle before each round trip.
  PeerConfig parked_peer = peer;
  parked_peer.round_trips = parked_trips;
  parked_peer.warmup = 20;
  const Summary parked = port_round_trip(other, Way::receive, parked_trips, 20, 1000us);
  const Summary futex_parked = futex_round_trip(parked_peer, 1000us);
  std::printf("\nRound trip after 1 ms idle (the peer has parked) (µs)\n");
  row("isolated, peer in receive()", parked, parked);
  row("raw futex ping-pong", futex_parked, parked);

  // Same CPU.
  PeerConfig same = peer;
  same.child_cpu = 0;
  const Summary same_ours = port_round_trip(0, Way::receive, trips, warmup);
  const Summary same_pipe = pipe_round_trip(same);
  std::printf("\nRound trip, same CPU (µs)\n");
  row("isolated, peer in receive()", same_ours, same_ours);
  row("pipe", same_pipe, same_ours);

  // Streams.
  std::printf("\nOne-way stream, cross-CPU                        msg/s    ours is\n");
  const double ints = port_stream(other, stream, [](std::size_t i) { return std::uint64_t{i}; },
                                  static_cast<std::uint64_t>(stream) * (stream - 1) / 2);
  const std::string text = text_of(48);
  const double strings =
      port_stream(other, stream, [&](std::size_t) -> const std::string& { return text; },
                  static_cast<std::uint64_t>(stream) * 48);
  const std::vector<std::uint8_t> kib(1024, 3);
  const double kibs = port_stream(other, stream / 4,
                                  [&](std::size_t) -> const std::vector<std::uint8_t>& { return kib; },
                                  static_cast<std::uint64_t>(stream / 4) * 1024);
  const std::vector<std::uint8_t> big(64 * 1024, 3);
  const std::size_t big_count = stream / 100;
  const double bigs = port_stream(other, big_count,
                                  [&](std::size_t) -> const std::vector<std::uint8_t>& { return big; },
                                  static_cast<std::uint64_t>(big_count) * 64 * 1024);
  const double queue_stream = message_queue_stream(peer);
  const double socket_stream = socketpair_stream(peer);
  const double pipe_stream_rate = pipe_stream(peer);
  std::printf("  %-34s %12s\n", "isolated, 8-byte integers", format_rate(ints).c_str());
  std::printf("  %-34s %12s\n", "isolated, 48-character strings", format_rate(strings).c_str());
  std::printf("  %-34s %12s\n", "isolated, 1 KiB bytes", format_rate(kibs).c_str());
  std::printf("  %-34s %12s\n", "isolated, 64 KiB bytes", format_rate(bigs).c_str());
  std::printf("  48-byte messages, peers:\n");
  rate_row("Boost.Interprocess message_queue", queue_stream, strings);
  rate_row("socketpair", socket_stream, strings);
  rate_row("pipe", pipe_stream_rate, strings);

  // Big ordinary messages.
  std::printf("\nA std::vector<std::uint8_t> as an ordinary message, until the peer holds "
              "its own copy (ms)\n");
  std::printf("  %-10s %12s %12s %12s %14s %12s\n", "size", "isolated", "socketpair", "memcpy",
              "vs socketpair", "vs memcpy");
  double big_vs_socket = 0;
  double big_vs_memcpy = 0;
  for (const std::size_t mib : {std::size_t{1}, std::size_t{64}, std::size_t{256}}) {
    const std::size_t bytes = mib << 20;
    const Summary ours = big_message(other, bytes, big_repetitions);
    const Summary socket = socketpair_block_transfer(bytes, big_repetitions, 0, other);
    const Summary copy = memcpy_block(bytes, big_repetitions);
    big_vs_socket = ours.median_us / socket.median_us;
    big_vs_memcpy = ours.median_us / copy.median_us;
    std::printf("  %4zu MiB   %12.2f %12.2f %12.2f %13.2fx %11.2fx\n", mib, ours.median_us / 1000,
                socket.median_us / 1000, copy.median_us / 1000, big_vs_socket, big_vs_memcpy);
  }

  std::printf("\nTargets (medians, ratios within this run)\n");
  Verdicts verdicts;
  verdicts.check("round trip, receiver waiting: at most 2x the raw spin floor",
                 waiting.median_us / spin.median_us, "x", waiting.median_us <= 2 * spin.median_us);
  verdicts.check("round trip, receiver waiting: at least 50x faster than socketpair",
                 socketpair.median_us / waiting.median_us, "x",
                 socketpair.median_us >= 50 * waiting.median_us);
  verdicts.check("round trip, receiver parked: at most 1.1x a raw futex ping-pong",
                 parked.median_us / futex_parked.median_us, "x",
                 parked.median_us <= 1.1 * futex_parked.median_us);
  verdicts.check("stream of 48-character strings: at least 3x Boost message_queue",
                 strings / queue_stream, "x", strings >= 3 * queue_stream);
  verdicts.check("stream of 48-character strings: at least 10x a socketpair",
                 strings / socket_stream, "x", strings >= 10 * socket_stream);
  verdicts.check("stream of 8-byte integers: at least 20 M msg/s", ints / 1e6, "M",
                 ints >= 20e6);
  verdicts.check("256 MiB ordinary message: at most 1.0x a socketpair", big_vs_socket, "x",
                 big_vs_socket <= 1.0);
  verdicts.check("256 MiB ordinary message: within 3x memcpy", big_vs_memcpy, "x",
                 big_vs_memcpy <= 3.0);
  verdicts.check("same CPU: round trip at most 1.2x a pipe's",
                 same_ours.median_us / same_pipe.median_us, "x",
                 same_ours.median_us <= 1.2 * same_pipe.median_us);
  std::printf("  %d met, %d not met\n", verdicts.met, verdicts.missed);
  return 0;
}

}  // namespace isolated::bench
