// A million frames of random sizes, checked byte for byte: nothing lost,
// nothing reordered, nothing duplicated. Once between two threads on one
// mapping (so ThreadSanitizer can watch the ring's orderings), once between
// two processes through the inbox.
#include <catch2/catch.hpp>

#include "support/forked_process.hpp"
#include "support/lane_fixture.hpp"
#include "support/transport_helpers.hpp"

#include <atomic>
#include <thread>

using namespace isolated;
using namespace isolated::detail;
using namespace isolated::test;
using namespace std::chrono_literals;

namespace {
constexpr std::uint64_t kFrames = 1000000;
}

TEST_CASE("a million frames between two threads on one lane", "[stress][lane]") {
  LaneFixture lane(64 * 1024);
  const std::size_t max_size = lane.writer.max_inline_payload();
  std::thread producer([&] {
    std::vector<std::byte> payload;
    for (std::uint64_t seq = 0; seq < kFrames; ++seq) {
      payload.resize(stream_frame_size(0, seq, max_size));
      fill_stream_payload(0, seq, payload);
      lane.writer.write(FrameKind::message, 0, seq, payload, [] { return true; });
    }
  });
  StreamChecker checker(1, max_size);
  const auto deadline = std::chrono::steady_clock::now() + 240s;
  bool good = true;
  while (good && checker.received(0) < kFrames && std::chrono::steady_clock::now() < deadline) {
    LaneReader::Frame frame{};
    const auto next = lane.reader.next(frame);
    REQUIRE(next != LaneReader::Next::corrupt);
    if (next == LaneReader::Next::empty) {
      lane.reader.wake_producer();
      std::this_thread::yield();
      continue;
    }
    good = checker.check(frame.flags, frame.port, frame.payload);
    lane.reader.consume();
    if (checker.received(0) % 256 == 0) lane.reader.wake_producer();
  }
  producer.join();
  INFO(checker.error());
  CHECK(good);
  CHECK(checker.received(0) == kFrames);
}

TEST_CASE("a million frames from another process through the inbox", "[stress][inbox]") {
  Inbox inbox;
  const std::size_t max_size = 4096;
  auto child = ForkedProcess::start([&] { return produce(inbox.name(), 0, kFrames, max_size); });
  StreamChecker checker(1, max_size);
  const bool ok = consume(inbox, checker, [&] { return checker.received(0) == kFrames; }, 240s);
  INFO(checker.error());
  CHECK(ok);
  CHECK(child.exit_code() == 0);
}

TEST_CASE("a consumer that parks at once never misses the frame that races its sleep",
          "[stress][inbox]") {
  // The tightest race of the wake-up protocol: the consumer does not spin, so
  // every time it finds the lanes empty it parks on the doorbell just as the
  // producer publishes the next frame and decides whether to ring. A lost
  // wake-up leaves the frame unseen until the park's slice ends, which the
  // deadline per frame catches.
  Inbox::Options options;
  options.spin = 0ns;
  Inbox inbox(options);
  constexpr std::uint64_t kRounds = 100000;
  std::atomic<std::uint64_t> seen{0};
  std::atomic<bool> stop{false};
  std::thread consumer([&] {
    while (!stop.load()) {
      inbox.wait(10s);
      inbox.drain([&](Delivery&& delivery) { seen.store(delivery.port + 1); });
    }
  });
  Outbox outbox;
  const std::vector<std::byte> payload(8, std::byte{1});
  std::uint64_t stalls = 0;
  for (std::uint64_t i = 0; i < kRounds && stalls == 0; ++i) {
    REQUIRE(outbox.send(inbox.name(), i, FrameKind::message, 0, payload) == SendResult::sent);
    const auto deadline = std::chrono::steady_clock::now() + 2s;
    while (seen.load() != i + 1) {
      if (std::chrono::steady_clock::now() > deadline) {
        ++stalls;
        break;
      }
    }
  }
  stop.store(true);
  inbox.interrupt();
  consumer.join();
  CHECK(stalls == 0);
  CHECK(seen.load() == kRounds);
}
