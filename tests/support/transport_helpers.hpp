// Producer and consumer loops for the transport tests. A producer sends frame
// `seq` of its stream to port `seq`, with its producer id in the flags.
#pragma once

#include "stream.hpp"
#include "common/src/transport/inbox.hpp"
#include "common/src/transport/outbox.hpp"

#include <chrono>
#include <cstdint>
#include <functional>
#include <limits>
#include <string>
#include <vector>

namespace isolated::test {

inline constexpr std::uint64_t kEndless = std::numeric_limits<std::uint64_t>::max();

// Sends `count` frames of stream `producer` through `outbox`; returns 0, or 2
// if a send failed.
inline int produce_through(detail::Outbox& outbox, const std::string& inbox, std::uint16_t producer,
                           std::uint64_t count, std::size_t max_size) {
  std::vector<std::byte> payload;
  for (std::uint64_t seq = 0; seq < count; ++seq) {
    payload.resize(stream_frame_size(producer, seq, max_size));
    fill_stream_payload(producer, seq, payload);
    if (outbox.send(inbox, seq, detail::FrameKind::message, producer, payload) !=
        detail::SendResult::sent) {
      return 2;
    }
  }
  return 0;
}

// The same from an outbox of its own, which is gone (its lane finished) when
// this returns.
inline int produce(const std::string& inbox, std::uint16_t producer, std::uint64_t count,
                   std::size_t max_size, detail::Outbox::Options options = {}) {
  detail::Outbox outbox(options);
  return produce_through(outbox, inbox, producer, count, max_size);
}

// Drains `inbox` into `checker` until `done()` or `timeout`. Returns false on
// a bad frame or a timeout.
inline bool consume(detail::Inbox& inbox, StreamChecker& checker, const std::function<bool()>& done,
                    std::chrono::seconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  bool good = true;
  const auto sink = [&](detail::Delivery&& d) {
    good = checker.check(d.flags, d.port, d.bytes) && good;
  };
  while (!done()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    inbox.wait(std::chrono::milliseconds(50));
    inbox.drain(sink);
    if (!good) return false;
  }
  return good;
}

}  // namespace isolated::test
