#include "peers.hpp"

#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdint>
#include <cstring>
#include <limits>
#include <new>
#include <stdexcept>
#include <string>
#include <system_error>
#include <utility>
#include <vector>

#include "child.hpp"
#include "peer_support.hpp"
#include "pinning.hpp"
#include "common/src/os/unique_fd.hpp"

namespace isolated::bench {

namespace {

using detail::UniqueFd;

void check(const PeerConfig& cfg) {
  // A zero-byte message would make the child's "read a whole message" loop
  // succeed without reading, so it would never see the end of the stream.
  if (cfg.message_bytes == 0) throw std::invalid_argument("PeerConfig: message_bytes is 0");
  if (cfg.round_trips == 0) throw std::invalid_argument("PeerConfig: round_trips is 0");
  if (cfg.stream_messages == 0) throw std::invalid_argument("PeerConfig: stream_messages is 0");
}

// Writes all of `n` bytes, across short writes and EINTR.
void write_full(int fd, const void* data, std::size_t n) {
  const auto* p = static_cast<const unsigned char*>(data);
  while (n > 0) {
    const ssize_t done = ::write(fd, p, n);
    if (done == -1) {
      if (errno == EINTR) continue;
      throw_errno("write");
    }
    p += done;
    n -= static_cast<std::size_t>(done);
  }
}

// Reads exactly `n` bytes, across short reads and EINTR. Returns false on
// end-of-file before the first byte (the peer finished cleanly); throws on
// end-of-file in the middle of a message.
bool read_full(int fd, void* data, std::size_t n) {
  auto* p = static_cast<unsigned char*>(data);
  std::size_t got = 0;
  while (got < n) {
    const ssize_t done = ::read(fd, p + got, n - got);
    if (done == -1) {
      if (errno == EINTR) continue;
      throw_errno("read");
    }
    if (done == 0) {
      if (got == 0) return false;
      throw std::runtime_error("peer closed the channel in the middle of a message");
    }
    got += static_cast<std::size_t>(done);
  }
  return true;
}

// Like read_full, but the peer must not have finished.
void read_expected(int fd, void* data, std::size_t n, const char* what) {
  if (!read_full(fd, data, n))
    throw std::runtime_error(std::string(what) + ": the peer closed the channel early");
}

// Makes a write to a channel whose reader died fail with EPIPE instead of
// killing the whole bench with SIGPIPE. Per thread (signal mask), so the
// process's SIGPIPE disposition is left alone; a SIGPIPE raised meanwhile is
// consumed before the mask is restored.
class SigpipeBlocked {
 public:
  SigpipeBlocked() {
    sigemptyset(&pipe_);
    sigaddset(&pipe_, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &pipe_, &old_);
  }
  ~SigpipeBlocked() {
    if (sigismember(&old_, SIGPIPE) == 1) return;  // was blocked already: not ours
    const timespec no_wait{};
    while (sigtimedwait(&pipe_, nullptr, &no_wait) == SIGPIPE) {
    }
    pthread_sigmask(SIG_SETMASK, &old_, nullptr);
  }
  SigpipeBlocked(const SigpipeBlocked&) = delete;
  SigpipeBlocked& operator=(const SigpipeBlocked&) = delete;

 private:
  sigset_t pipe_;
  sigset_t old_;
};

// Both directions between parent and child. A socketpair has one fd per side;
// it is dup'ed so that pipes and sockets have the same four ends.
struct Channel {
  UniqueFd parent_tx, parent_rx, child_rx, child_tx;
  bool is_socket = false;

  // In the child: drop the parent's ends, so the parent's end-of-stream
  // reaches the child and the child's exit reaches the parent as EOF.
  void keep_child_ends() {
    parent_tx.reset();
    parent_rx.reset();
  }
  void keep_parent_ends() {
    child_rx.reset();
    child_tx.reset();
  }
  // Parent: tell the child no more data follows. A socket stays open while
  // any dup of it is, hence shutdown rather than close alone.
  void finish_sending() {
    if (is_socket && ::shutdown(parent_tx.get(), SHUT_WR) != 0) throw_errno("shutdown");
    parent_tx.reset();
  }
};

Channel make_pipes() {
  int to_child[2];
  int to_parent[2];
  if (::pipe2(to_child, O_CLOEXEC) != 0) throw_errno("pipe2");
  Channel ch;
  ch.child_rx = UniqueFd(to_child[0]);
  ch.parent_tx = UniqueFd(to_child[1]);
  if (::pipe2(to_parent, O_CLOEXEC) != 0) throw_errno("pipe2");
  ch.parent_rx = UniqueFd(to_parent[0]);
  ch.child_tx = UniqueFd(to_parent[1]);
  return ch;
}

Channel make_socketpair() {
  int sv[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0) throw_errno("socketpair");
  Channel ch;
  ch.is_socket = true;
  ch.parent_tx = UniqueFd(sv[0]);
  ch.child_rx = UniqueFd(sv[1]);
  const int parent_dup = ::fcntl(sv[0], F_DUPFD_CLOEXEC, 0);
  if (parent_dup == -1) throw_errno("fcntl(F_DUPFD_CLOEXEC)");
  ch.parent_rx = UniqueFd(parent_dup);
  const int child_dup = ::fcntl(sv[1], F_DUPFD_CLOEXEC, 0);
  if (child_dup == -1) throw_errno("fcntl(F_DUPFD_CLOEXEC)");
  ch.child_tx = UniqueFd(child_dup);
  return ch;
}

Summary fd_round_trip(Channel ch, const PeerConfig& cfg, const char* what) {
  check(cfg);
  SigpipeBlocked no_sigpipe;
  ScopedPin pin(cfg.parent_cpu);
  ForkedChild child = ForkedChild::start(cfg.child_cpu, [&] {
    ch.keep_child_ends();
    std::vector<unsigned char> msg(cfg.message_bytes);
    while (read_full(ch.child_rx.get(), msg.data(), msg.size()))
      write_full(ch.child_tx.get(), msg.data(), msg.size());
  });
  ch.keep_parent_ends();

  std::vector<unsigned char> out = make_message(cfg.message_bytes);
  std::vector<unsigned char> in(cfg.message_bytes);
  std::vector<double> samples;
  samples.reserve(cfg.round_trips);  // no allocation inside the timed loop
  for (std::size_t i = 0; i < cfg.warmup + cfg.round_trips; ++i) {
    stamp(out, i);
    const auto start = Clock::now();
    write_full(ch.parent_tx.get(), out.data(), out.size());
    read_expected(ch.parent_rx.get(), in.data(), in.size(), what);
    const auto end = Clock::now();
    if (in != out) throw std::runtime_error(std::string(what) + ": the echo differs");
    if (i >= cfg.warmup) samples.push_back(micros(end - start));
  }
  ch.finish_sending();
  expect_clean_exit(child, what);
  return summarize(std::move(samples));
}

// What the stream's child sends back after end-of-stream.
struct StreamReport {
  std::uint64_t bytes;
  std::uint64_t sum;
};

double fd_stream(Channel ch, const PeerConfig& cfg, const char* what) {
  check(cfg);
  // Known before the run so that nothing but write() is in the timed loop.
  std::vector<unsigned char> out = make_message(cfg.message_bytes);
  StreamReport expected{0, 0};
  for (std::size_t i = 0; i < cfg.stream_messages; ++i) {
    stamp(out, i);
    expected.bytes += out.size();
    expected.sum += byte_sum(out.data(), out.size());
  }

  SigpipeBlocked no_sigpipe;
  ScopedPin pin(cfg.parent_cpu);
  ForkedChild child = ForkedChild::start(cfg.child_cpu, [&] {
    ch.keep_child_ends();
    // Warm-up messages are read one by one and acknowledged, so the timed
    // part starts with an empty channel and a child already waiting in read.
    std::vector<unsigned char> buf(std::max<std::size_t>(cfg.message_bytes, 64 * 1024));
    for (std::size_t i = 0; i < cfg.warmup; ++i)
      read_expected(ch.child_rx.get(), buf.data(), cfg.message_bytes, what);
    const char ack = 1;
    write_full(ch.child_tx.get(), &ack, 1);
    StreamReport got{0, 0};
    for (;;) {
      const ssize_t n = ::read(ch.child_rx.get(), buf.data(), buf.size());
      if (n == -1 && errno == EINTR) continue;
      if (n == -1) throw_errno("read");
      if (n == 0) break;
      got.bytes += static_cast<std::uint64_t>(n);
      got.sum += byte_sum(buf.data(), static_cast<std::size_t>(n));
    }
    write_full(ch.child_tx.get(), &got, sizeof got);
  });
  ch.keep_parent_ends();

  for (std::size_t i = 0; i < cfg.warmup; ++i)
    write_full(ch.parent_tx.get(), out.data(), out.size());
  char ack = 0;
  read_expected(ch.parent_rx.get(), &ack, 1, what);

  const auto start = Clock::now();
  for (std::size_t i = 0; i < cfg.stream_messages; ++i) {
    stamp(out, i);
    write_full(ch.parent_tx.get(), out.data(), out.size());
  }
  ch.finish_sending();
  StreamReport got{0, 0};
  read_expected(ch.parent_rx.get(), &got, sizeof got, what);
  const auto end = Clock::now();

  expect_clean_exit(child, what);
  if (got.bytes != expected.bytes || got.sum != expected.sum)
    throw std::runtime_error(std::string(what) + ": the child received " +
                             std::to_string(got.bytes) + " bytes (sum " + std::to_string(got.sum) +
                             "), expected " + std::to_string(expected.bytes) + " (sum " +
                             std::to_string(expected.sum) + ")");
  return static_cast<double>(cfg.stream_messages) /
         std::chrono::duration<double>(end - start).count();
}

using Sequence = std::atomic<std::uint64_t>;
// Shared between processes, so it must not hide a lock in one address space.
static_assert(Sequence::is_always_lock_free);
constexpr std::size_t kCacheLine = 64;
// The parent stores this instead of a sequence number to end the child.
constexpr std::uint64_t kStop = std::numeric_limits<std::uint64_t>::max();

inline void cpu_relax() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#endif
}

// Spins until `seq` differs from `old` and returns the new value.
// Why the sched_yield: on one CPU the peer cannot run while we spin, so
// without it every hand-off would last until the scheduler preempts us (ms).
// Why every 64 spins: across CPUs the answer comes in 0.1-0.4 µs, and 64
// pauses last ~1.6 µs on this EPYC (pause is slower still on Skylake and
// later Xeons), so the cross-CPU floor never reaches the yield (measured: the
// same median and p99 with 16 or 1024), while the same-CPU round trip
// measures ~6 µs instead of ~53 µs with 1024.
// `on_long_wait` runs every 64 Ki spins so the parent can notice a dead child.
template <class OnLongWait>
std::uint64_t spin_until_changed(const Sequence& seq, std::uint64_t old, OnLongWait on_long_wait) {
  for (std::uint32_t spins = 1;; ++spins) {
    const std::uint64_t now = seq.load(std::memory_order_acquire);
    if (now != old) return now;
    cpu_relax();
    if (spins % 64 == 0) ::sched_yield();
    if (spins % (64 * 1024) == 0) on_long_wait();
  }
}

}  // namespace

Summary pipe_round_trip(const PeerConfig& cfg) {
  return fd_round_trip(make_pipes(), cfg, "pipe round trip");
}

Summary socketpair_round_trip(const PeerConfig& cfg) {
  return fd_round_trip(make_socketpair(), cfg, "socketpair round trip");
}

double pipe_stream(const PeerConfig& cfg) { return fd_stream(make_pipes(), cfg, "pipe stream"); }

double socketpair_stream(const PeerConfig& cfg) {
  return fd_stream(make_socketpair(), cfg, "socketpair stream");
}

Summary raw_spin_round_trip(const PeerConfig& cfg) {
  check(cfg);
  // Layout: [ping seq][ping payload...][pong seq][pong payload...], each part
  // starting on its own cache line, so the two sides never write one line.
  const std::size_t payload = (cfg.message_bytes + kCacheLine - 1) / kCacheLine * kCacheLine;
  const std::size_t pong_at = kCacheLine + payload;
  SharedMapping shm(2 * (kCacheLine + payload));
  auto* ping = new (shm.at(0)) Sequence(0);
  auto* pong = new (shm.at(pong_at)) Sequence(0);
  unsigned char* ping_payload = shm.at(kCacheLine);
  unsigned char* pong_payload = shm.at(pong_at + kCacheLine);
  const std::size_t n = cfg.message_bytes;

  ScopedPin pin(cfg.parent_cpu);
  ForkedChild child = ForkedChild::start(cfg.child_cpu, [&] {
    // The parent's death kills us (PR_SET_PDEATHSIG), so no check here.
    std::uint64_t seen = 0;
    for (;;) {
      seen = spin_until_changed(*ping, seen, [] {});
      if (seen == kStop) return;
      std::memcpy(pong_payload, ping_payload, n);
      pong->store(seen, std::memory_order_release);
    }
  });

  std::vector<unsigned char> out = make_message(n);
  std::vector<unsigned char> in(n);
  std::vector<double> samples;
  samples.reserve(cfg.round_trips);
  const auto child_alive = [&] {
    if (has_exited(child)) throw std::runtime_error("raw spin round trip: the child died");
  };
  for (std::uint64_t i = 1; i <= cfg.warmup + cfg.round_trips; ++i) {
    stamp(out, i);
    const auto start = Clock::now();
    std::memcpy(ping_payload, out.data(), n);
    ping->store(i, std::memory_order_release);
    if (spin_until_changed(*pong, i - 1, child_alive) != i)
      throw std::runtime_error("raw spin round trip: out-of-order reply");
    std::memcpy(in.data(), pong_payload, n);
    const auto end = Clock::now();
    if (in != out) throw std::runtime_error("raw spin round trip: the echo differs");
    if (i > cfg.warmup) samples.push_back(micros(end - start));
  }
  ping->store(kStop, std::memory_order_release);
  expect_clean_exit(child, "raw spin round trip");
  return summarize(std::move(samples));
}

Summary socketpair_block_transfer(std::size_t bytes, std::size_t repetitions, int parent_cpu,
                                  int child_cpu) {
  const SigpipeBlocked no_sigpipe;
  Channel ch = make_socketpair();
  const ScopedPin pin(parent_cpu);
  ForkedChild child = ForkedChild::start(child_cpu, [&] {
    ch.keep_child_ends();
    std::vector<unsigned char> block(bytes);
    const unsigned char ack = 1;
    for (std::size_t i = 0; i < repetitions; ++i) {
      read_expected(ch.child_rx.get(), block.data(), bytes, "block transfer");
      write_full(ch.child_tx.get(), &ack, 1);
    }
    return 0;
  });
  ch.keep_parent_ends();
  const std::vector<unsigned char> block = make_message(bytes);
  std::vector<double> samples;
  for (std::size_t i = 0; i < repetitions; ++i) {
    const auto start = Clock::now();
    write_full(ch.parent_tx.get(), block.data(), bytes);
    unsigned char ack = 0;
    read_expected(ch.parent_rx.get(), &ack, 1, "block transfer");
    samples.push_back(micros(Clock::now() - start));
  }
  ch.finish_sending();
  expect_clean_exit(child, "block transfer");
  return summarize(std::move(samples));
}

Summary memcpy_block(std::size_t bytes, std::size_t repetitions) {
  const std::vector<unsigned char> source = make_message(bytes);
  std::vector<unsigned char> target(bytes, 1);  // written once: no fresh pages
  std::vector<double> samples;
  for (std::size_t i = 0; i < repetitions; ++i) {
    const auto start = Clock::now();
    std::memcpy(target.data(), source.data(), bytes);
    samples.push_back(micros(Clock::now() - start));
  }
  if (byte_sum(target.data(), std::min<std::size_t>(bytes, 64)) == 0) std::abort();  // keep it
  return summarize(std::move(samples));
}

}  // namespace isolated::bench
