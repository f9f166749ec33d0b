#include "transport_bench.hpp"

#include "child.hpp"
#include "pinning.hpp"
#include "common/src/transport/inbox.hpp"
#include "common/src/transport/outbox.hpp"

#include <unistd.h>

#include <chrono>
#include <cstring>
#include <stdexcept>
#include <string>
#include <vector>

namespace isolated::bench {
namespace {

using Clock = std::chrono::steady_clock;
using detail::Delivery;
using detail::FrameKind;
using detail::Inbox;
using detail::Outbox;
using detail::SendResult;

// Ports of the benchmark protocol.
constexpr std::uint64_t kEcho = 1;     // child: send it back
constexpr std::uint64_t kStream = 2;   // child: count it
constexpr std::uint64_t kReport = 3;   // parent: the child's count and byte sum
constexpr std::uint64_t kStop = 4;     // child: end

void send_or_throw(Outbox& outbox, const std::string& inbox, std::uint64_t port,
                   std::span<const std::byte> payload) {
  if (outbox.send(inbox, port, FrameKind::message, 0, payload) != SendResult::sent) {
    throw std::runtime_error("the benchmark's peer inbox is gone");
  }
}

// Blocks until one frame arrives in `inbox` and hands it to `on_frame`.
template <class OnFrame>
void receive_one(Inbox& inbox, OnFrame&& on_frame) {
  bool got = false;
  const std::function<void(Delivery&&)> sink = [&](Delivery&& d) {
    on_frame(d);
    got = true;
  };
  while (!got) {
    inbox.wait(std::chrono::seconds(1));
    inbox.drain(sink);
  }
}

struct Report {
  std::uint64_t messages;
  std::uint64_t byte_sum;
};

// The child's side of both measurements: serve until told to stop.
int serve(const std::string& parent_inbox, int name_pipe, std::uint64_t stream_messages) {
  Inbox inbox;
  Outbox outbox;
  const std::string& name = inbox.name();
  if (::write(name_pipe, name.data(), name.size()) != static_cast<ssize_t>(name.size())) return 3;
  ::close(name_pipe);
  Report report{0, 0};
  bool stop = false;
  const std::function<void(Delivery&&)> sink = [&](Delivery&& d) {
    switch (d.port) {
      case kEcho: send_or_throw(outbox, parent_inbox, kEcho, d.bytes); break;
      case kStream:
        ++report.messages;
        for (const std::byte b : d.bytes) report.byte_sum += std::to_integer<unsigned>(b);
        if (report.messages == stream_messages) {
          send_or_throw(outbox, parent_inbox, kReport, std::as_bytes(std::span(&report, 1)));
        }
        break;
      case kStop: stop = true; break;
      default: break;
    }
  };
  while (!stop) {
    inbox.wait(std::chrono::seconds(1));
    inbox.drain(sink);
  }
  return 0;
}

// A served child with its inbox name, and the parent's own inbox and outbox.
struct Session {
  explicit Session(const PeerConfig& config) : pin(config.parent_cpu) {
    int fds[2];
    if (::pipe(fds) != 0) throw std::runtime_error("pipe failed");
    child.emplace(ForkedChild::start(config.child_cpu, [&] {
      ::close(fds[0]);
      return serve(inbox.name(), fds[1], config.stream_messages);
    }));
    ::close(fds[1]);
    char buffer[detail::kMaxSegmentNameBytes] = {};
    const ssize_t length = ::read(fds[0], buffer, sizeof buffer);
    ::close(fds[0]);
    if (length <= 0) throw std::runtime_error("the benchmark child did not report its inbox");
    child_inbox.assign(buffer, static_cast<std::size_t>(length));
  }
  ~Session() {
    outbox.send(child_inbox, kStop, FrameKind::message, 0, {});
    child->wait();
  }

  ScopedPin pin;
  Inbox inbox;
  Outbox outbox;
  std::optional<ForkedChild> child;
  std::string child_inbox;
};

}  // namespace

Summary isolated_round_trip(const PeerConfig& config) {
  Session session(config);
  const std::vector<std::byte> message(config.message_bytes, std::byte{0x5a});
  std::vector<double> samples;
  samples.reserve(config.round_trips);
  for (std::size_t i = 0; i < config.warmup + config.round_trips; ++i) {
    const auto start = Clock::now();
    send_or_throw(session.outbox, session.child_inbox, kEcho, message);
    receive_one(session.inbox, [&](const Delivery& d) {
      if (d.bytes.size() != message.size()) throw std::runtime_error("echo of wrong size");
    });
    if (i >= config.warmup) {
      samples.push_back(std::chrono::duration<double, std::micro>(Clock::now() - start).count());
    }
  }
  return summarize(std::move(samples));
}

double isolated_stream(const PeerConfig& config) {
  Session session(config);
  std::vector<std::byte> message(config.message_bytes);
  std::uint64_t expected_sum = 0;
  for (std::size_t i = 0; i < message.size(); ++i) {
    message[i] = static_cast<std::byte>(i * 31 + 7);
    expected_sum += std::to_integer<unsigned>(message[i]);
  }
  const auto start = Clock::now();
  for (std::size_t i = 0; i < config.stream_messages; ++i) {
    send_or_throw(session.outbox, session.child_inbox, kStream, message);
  }
  Report report{};
  receive_one(session.inbox, [&](const Delivery& d) {
    if (d.port != kReport || d.bytes.size() != sizeof report) {
      throw std::runtime_error("unexpected frame instead of the stream report");
    }
    std::memcpy(&report, d.bytes.data(), sizeof report);
  });
  const double seconds = std::chrono::duration<double>(Clock::now() - start).count();
  if (report.messages != config.stream_messages ||
      report.byte_sum != expected_sum * config.stream_messages) {
    throw std::runtime_error("the stream lost bytes: the child counted " +
                             std::to_string(report.messages) + " messages");
  }
  return static_cast<double>(config.stream_messages) / seconds;
}

}  // namespace isolated::bench
