#include "blocking_peers.hpp"

#include "child.hpp"
#include "peer_support.hpp"
#include "pinning.hpp"
#include "common/src/os/futex.hpp"

#include <boost/interprocess/ipc/message_queue.hpp>

#include <unistd.h>

#include <atomic>
#include <cstdint>
#include <cstring>
#include <new>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace isolated::bench {
namespace {

namespace bip = boost::interprocess;
using Word = std::atomic<std::uint32_t>;
static_assert(Word::is_always_lock_free);
constexpr std::size_t kLine = 64;
constexpr std::uint32_t kStop = UINT32_MAX;

void check(const PeerConfig& config) {
  if (config.message_bytes == 0 || config.round_trips == 0 || config.stream_messages == 0) {
    throw std::invalid_argument("PeerConfig: message_bytes, round_trips and stream_messages > 0");
  }
}

// Sleeps on `word` until it differs from `old`; returns the new value.
std::uint32_t wait_until_changed(const Word& word, std::uint32_t old) {
  for (;;) {
    const std::uint32_t now = word.load(std::memory_order_acquire);
    if (now != old) return now;
    detail::futex_wait(word, old, std::chrono::milliseconds(100));
  }
}

void publish(Word& word, std::uint32_t value) {
  word.store(value, std::memory_order_release);
  detail::futex_wake(word, 1);
}

// A message_queue under a name of this process, removed when it goes.
class NamedQueue {
 public:
  NamedQueue(const char* role, std::size_t capacity, std::size_t message_bytes)
      : name_("isolated-bench-" + std::string(role) + "-" + std::to_string(::getpid())) {
    bip::message_queue::remove(name_.c_str());
    queue_.emplace(bip::create_only, name_.c_str(), capacity, message_bytes);
  }
  ~NamedQueue() { bip::message_queue::remove(name_.c_str()); }
  NamedQueue(const NamedQueue&) = delete;
  NamedQueue& operator=(const NamedQueue&) = delete;
  bip::message_queue& operator*() { return *queue_; }

 private:
  std::string name_;
  std::optional<bip::message_queue> queue_;
};

}  // namespace

Summary futex_round_trip(const PeerConfig& config, std::chrono::microseconds idle) {
  check(config);
  const std::size_t n = config.message_bytes;
  const std::size_t payload = (n + kLine - 1) / kLine * kLine;
  SharedMapping shm(2 * (kLine + payload));
  auto* ping = new (shm.at(0)) Word(0);
  auto* pong = new (shm.at(kLine + payload)) Word(0);
  unsigned char* ping_payload = shm.at(kLine);
  unsigned char* pong_payload = shm.at(2 * kLine + payload);

  const ScopedPin pin(config.parent_cpu);
  ForkedChild child = ForkedChild::start(config.child_cpu, [&] {
    std::uint32_t seen = 0;
    for (;;) {
      seen = wait_until_changed(*ping, seen);
      if (seen == kStop) return;
      std::memcpy(pong_payload, ping_payload, n);
      publish(*pong, seen);
    }
  });
  std::vector<unsigned char> out = make_message(n);
  std::vector<unsigned char> in(n);
  std::vector<double> samples;
  samples.reserve(config.round_trips);
  for (std::uint32_t i = 1; i <= config.warmup + config.round_trips; ++i) {
    if (idle.count() > 0) std::this_thread::sleep_for(idle);
    stamp(out, i);
    const auto start = Clock::now();
    std::memcpy(ping_payload, out.data(), n);
    publish(*ping, i);
    if (wait_until_changed(*pong, i - 1) != i) throw std::runtime_error("futex: reply out of order");
    std::memcpy(in.data(), pong_payload, n);
    const auto end = Clock::now();
    if (in != out) throw std::runtime_error("futex round trip: the echo differs");
    if (i > config.warmup) samples.push_back(micros(end - start));
    if (has_exited(child)) throw std::runtime_error("futex round trip: the child died");
  }
  publish(*ping, kStop);
  expect_clean_exit(child, "futex round trip");
  return summarize(std::move(samples));
}

Summary message_queue_round_trip(const PeerConfig& config) {
  check(config);
  const std::size_t n = config.message_bytes;
  NamedQueue to_child("ping", 1, n);
  NamedQueue to_parent("pong", 1, n);
  const ScopedPin pin(config.parent_cpu);
  ForkedChild child = ForkedChild::start(config.child_cpu, [&] {
    std::vector<unsigned char> message(n);
    for (;;) {
      std::size_t got = 0;
      unsigned priority = 0;
      (*to_child).receive(message.data(), n, got, priority);
      if (got == 0) return;  // the empty message ends the child
      (*to_parent).send(message.data(), got, 0);
    }
  });
  std::vector<unsigned char> out = make_message(n);
  std::vector<unsigned char> in(n);
  std::vector<double> samples;
  samples.reserve(config.round_trips);
  for (std::size_t i = 0; i < config.warmup + config.round_trips; ++i) {
    stamp(out, i);
    const auto start = Clock::now();
    (*to_child).send(out.data(), n, 0);
    std::size_t got = 0;
    unsigned priority = 0;
    (*to_parent).receive(in.data(), n, got, priority);
    const auto end = Clock::now();
    if (got != n || in != out) throw std::runtime_error("message_queue round trip: echo differs");
    if (i >= config.warmup) samples.push_back(micros(end - start));
  }
  (*to_child).send(out.data(), 0, 0);
  expect_clean_exit(child, "message_queue round trip");
  return summarize(std::move(samples));
}

double message_queue_stream(const PeerConfig& config) {
  check(config);
  const std::size_t n = config.message_bytes;
  NamedQueue stream("stream", 256, n);
  NamedQueue report("report", 1, 2 * sizeof(std::uint64_t));
  std::vector<unsigned char> out = make_message(n);
  std::uint64_t expected_sum = 0;
  for (std::size_t i = 0; i < config.stream_messages; ++i) {
    stamp(out, i);
    expected_sum += byte_sum(out.data(), n);
  }
  const ScopedPin pin(config.parent_cpu);
  ForkedChild child = ForkedChild::start(config.child_cpu, [&] {
    std::vector<unsigned char> message(n);
    std::uint64_t totals[2] = {0, 0};  // messages, byte sum
    for (;;) {
      std::size_t got = 0;
      unsigned priority = 0;
      (*stream).receive(message.data(), n, got, priority);
      if (got == 0) break;
      ++totals[0];
      totals[1] += byte_sum(message.data(), got);
    }
    (*report).send(totals, sizeof totals, 0);
  });
  const auto start = Clock::now();
  for (std::size_t i = 0; i < config.stream_messages; ++i) {
    stamp(out, i);
    (*stream).send(out.data(), n, 0);
  }
  (*stream).send(out.data(), 0, 0);
  std::uint64_t totals[2] = {0, 0};
  std::size_t got = 0;
  unsigned priority = 0;
  (*report).receive(totals, sizeof totals, got, priority);
  const double seconds = std::chrono::duration<double>(Clock::now() - start).count();
  expect_clean_exit(child, "message_queue stream");
  if (totals[0] != config.stream_messages || totals[1] != expected_sum) {
    throw std::runtime_error("message_queue stream: the child counted " +
                             std::to_string(totals[0]) + " messages");
  }
  return static_cast<double>(config.stream_messages) / seconds;
}

}  // namespace isolated::bench
