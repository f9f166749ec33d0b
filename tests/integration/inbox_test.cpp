// An inbox fed by real producer processes (fork): order, whole frames, several
// lanes, out-of-line messages, full lanes, dead peers, wake-ups.
#include <catch2/catch.hpp>

#include "common/src/shm/names.hpp"
#include "support/forked_process.hpp"
#include "support/lane_fixture.hpp"
#include "support/transport_helpers.hpp"

#include <signal.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <future>
#include <thread>

using namespace isolated;
using namespace isolated::detail;
using namespace isolated::test;
using namespace std::chrono_literals;

TEST_CASE("frames from a producer process arrive whole, once and in order", "[integration][inbox]") {
  Inbox inbox;
  const std::uint64_t count = 100000;
  const std::size_t max_size = 3000;
  auto child = ForkedProcess::start([&] { return produce(inbox.name(), 0, count, max_size); });
  StreamChecker checker(1, max_size);
  const bool ok = consume(inbox, checker, [&] { return checker.received(0) == count; }, 60s);
  INFO(checker.error());
  CHECK(ok);
  CHECK(child.exit_code() == 0);
}

TEST_CASE("several producer processes share one inbox, each in its own order",
          "[integration][inbox]") {
  Inbox inbox;
  const std::uint64_t count = 30000;
  const std::size_t max_size = 600;
  std::vector<ForkedProcess> children;
  for (std::uint16_t p = 0; p < 4; ++p) {
    children.push_back(
        ForkedProcess::start([&, p] { return produce(inbox.name(), p, count, max_size); }));
  }
  StreamChecker checker(4, max_size);
  const bool ok = consume(inbox, checker, [&] {
    for (std::uint64_t p = 0; p < 4; ++p) {
      if (checker.received(p) < count) return false;
    }
    return true;
  }, 60s);
  INFO(checker.error());
  CHECK(ok);
  for (auto& child : children) CHECK(child.exit_code() == 0);
}

TEST_CASE("a producer killed mid-stream leaves only whole frames and the other lanes go on",
          "[integration][inbox]") {
  Inbox inbox;
  const std::size_t max_size = 2000;
  const std::uint64_t steady_count = 40000;
  auto doomed = ForkedProcess::start([&] { return produce(inbox.name(), 0, kEndless, max_size); });
  auto steady = ForkedProcess::start([&] {
    std::this_thread::sleep_for(50ms);
    return produce(inbox.name(), 1, steady_count, max_size);
  });

  StreamChecker checker(2, max_size);
  REQUIRE(consume(inbox, checker, [&] { return checker.received(0) >= 20000; }, 60s));
  doomed.kill(SIGKILL);
  const auto status = doomed.wait_for(10s);
  REQUIRE(status);
  CHECK(WIFSIGNALED(*status));

  const bool ok = consume(inbox, checker, [&] { return checker.received(1) == steady_count; }, 60s);
  INFO(checker.error());
  CHECK(ok);
  CHECK(steady.exit_code() == 0);
  // Whatever of the killed stream was published arrives; then nothing more.
  inbox.drain([&](Delivery&& d) { checker.check(d.flags, d.port, d.bytes); });
  CHECK(checker.error().empty());
  CHECK(checker.received(0) >= 20000);

  // Both lanes are released: one producer is dead, the other finished cleanly.
  const auto deadline = std::chrono::steady_clock::now() + 10s;
  while (inbox.attached_lane_count() > 0 && std::chrono::steady_clock::now() < deadline) {
    inbox.wait(100ms);
    inbox.drain([](Delivery&&) {});
  }
  CHECK(inbox.attached_lane_count() == 0);
}

TEST_CASE("big frames go out of line through a small lane and leave no segment",
          "[integration][inbox]") {
  Inbox inbox;
  const Outbox::Options small_lane{kMinLaneCapacity};
  const std::size_t sizes[] = {max_inline_payload(kMinLaneCapacity),
                               max_inline_payload(kMinLaneCapacity) + 1, 100000, 1 << 20,
                               16 << 20, 0, 7};
  auto child = ForkedProcess::start([&] {
    Outbox outbox(small_lane);
    std::uint64_t seq = 0;
    for (const std::size_t size : sizes) {
      std::vector<std::byte> payload(size);
      fill_stream_payload(9, seq, payload);
      if (outbox.send(inbox.name(), seq++, FrameKind::message, 9, payload) != SendResult::sent) return 2;
    }
    return 0;
  });
  std::size_t received = 0;
  const auto deadline = std::chrono::steady_clock::now() + 60s;
  while (received < std::size(sizes) && std::chrono::steady_clock::now() < deadline) {
    inbox.wait(50ms);
    inbox.drain([&](Delivery&& d) {
      REQUIRE(d.port == received);
      REQUIRE(d.bytes.size() == sizes[received]);
      std::vector<std::byte> expected(sizes[received]);
      fill_stream_payload(9, d.port, expected);
      CHECK(same_bytes(d.bytes, expected));
      ++received;
    });
  }
  CHECK(received == std::size(sizes));
  CHECK(child.exit_code() == 0);
  // Only our own inbox remains in the session: lanes and out-of-line segments
  // were unlinked by the receiver as soon as it mapped them.
  CHECK(list_session_segments(session_root_pid()) == std::vector<std::string>{inbox.name()});
}

TEST_CASE("a sender waits while its lane is full and goes on once drained",
          "[integration][inbox]") {
  Inbox inbox;
  const std::uint64_t count = 5000;
  const std::size_t max_size = 900;
  auto child = ForkedProcess::start(
      [&] { return produce(inbox.name(), 0, count, max_size, Outbox::Options{kMinLaneCapacity}); });
  // Let the producer fill its 4 KiB lane and block.
  std::this_thread::sleep_for(300ms);
  CHECK_FALSE(child.wait_for(0ms));
  StreamChecker checker(1, max_size);
  const bool ok = consume(inbox, checker, [&] { return checker.received(0) == count; }, 60s);
  INFO(checker.error());
  CHECK(ok);
  CHECK(child.exit_code() == 0);
}

TEST_CASE("a blocked sender gives up when the receiving process dies", "[integration][inbox]") {
  int name_pipe[2];
  REQUIRE(::pipe(name_pipe) == 0);
  // The receiver: an inbox that is never drained.
  auto receiver = ForkedProcess::start([&] {
    Inbox inbox;
    const std::string& name = inbox.name();
    if (::write(name_pipe[1], name.data(), name.size()) != static_cast<ssize_t>(name.size())) return 3;
    std::this_thread::sleep_for(60s);
    return 0;
  });
  ::close(name_pipe[1]);
  char buffer[kMaxSegmentNameBytes] = {};
  const auto length = ::read(name_pipe[0], buffer, sizeof buffer);
  ::close(name_pipe[0]);
  REQUIRE(length > 0);
  const std::string inbox_name(buffer, static_cast<std::size_t>(length));

  Outbox outbox(Outbox::Options{kMinLaneCapacity});
  auto sending = std::async(std::launch::async, [&] {
    const std::vector<std::byte> payload(500);
    for (std::uint64_t seq = 0;; ++seq) {
      const auto result = outbox.send(inbox_name, seq, FrameKind::message, 0, payload);
      if (result != SendResult::sent) return result;
    }
  });
  CHECK(sending.wait_for(300ms) == std::future_status::timeout);  // blocked on the full lane
  receiver.kill(SIGKILL);
  REQUIRE(receiver.wait_for(10s));
  REQUIRE(sending.wait_for(10s) == std::future_status::ready);
  CHECK(sending.get() == SendResult::inbox_gone);

  // A dead receiver's segments are its parent's to remove (DESIGN §6).
  CHECK(unlink_segment(inbox_name));
  CHECK(outbox.send(make_segment_name(SegmentKind::inbox), 0, FrameKind::message, 0, {}) ==
        SendResult::inbox_gone);
}

TEST_CASE("a consumer asleep on the doorbell is rung awake", "[integration][inbox]") {
  Inbox::Options options;
  options.slot_count = 8;
  options.spin = 0ns;  // fall asleep at once
  Inbox inbox(options);
  const auto bell_before = inbox.doorbell().bell.load();
  auto child = ForkedProcess::start([&] {
    std::this_thread::sleep_for(200ms);  // long enough for the parent to fall asleep
    return produce(inbox.name(), 0, 1, 10);
  });
  StreamChecker checker(1, 10);
  CHECK(consume(inbox, checker, [&] { return checker.received(0) == 1; }, 30s));
  // The producer saw a sleeping consumer and rang (bumped the futex word).
  CHECK(inbox.doorbell().bell.load() != bell_before);
  CHECK(inbox.doorbell().sleeping_consumers.load() == 0);
  CHECK(child.exit_code() == 0);
}

TEST_CASE("an inbox hears from hundreds of producer processes at once, and pays for the slots "
          "in use only",
          "[integration][inbox]") {
  // More senders than the 64 slots an inbox used to have; all alive at once,
  // so every one holds its own slot.
  constexpr std::uint16_t kProducers = 300;
  constexpr std::uint64_t kFrames = 3;
  Inbox inbox;
  int release[2];
  REQUIRE(::pipe(release) == 0);
  std::vector<ForkedProcess> children;
  for (std::uint16_t p = 0; p < kProducers; ++p) {
    children.push_back(ForkedProcess::start([&, p] {
      ::close(release[1]);
      // The outbox (and with it the lane's slot) lives until the release.
      Outbox outbox;
      const int sent = produce_through(outbox, inbox.name(), p, kFrames, 64);
      char byte;
      while (::read(release[0], &byte, 1) < 0 && errno == EINTR) {
      }
      return sent;
    }));
  }
  ::close(release[0]);
  StreamChecker checker(kProducers, 64);
  const bool ok = consume(inbox, checker, [&] {
    for (std::uint64_t p = 0; p < kProducers; ++p) {
      if (checker.received(p) < kFrames) return false;
    }
    return true;
  }, 60s);
  INFO(checker.error());
  CHECK(ok);
  CHECK(inbox.attached_lane_count() == kProducers);

  // The slot table is far larger than 300 slots, but only the pages of the
  // slots in use were ever touched (tmpfs allocates on touch).
  const std::size_t page = static_cast<std::size_t>(::sysconf(_SC_PAGESIZE));
  const std::size_t table_bytes = doorbell_bytes(kDefaultSlotCount);
  std::vector<unsigned char> resident((table_bytes + page - 1) / page);
  REQUIRE(::mincore(&inbox.doorbell(), table_bytes, resident.data()) == 0);
  const auto resident_pages = std::count_if(resident.begin(), resident.end(),
                                            [](unsigned char r) { return (r & 1) != 0; });
  const std::size_t used_pages = (doorbell_bytes(kProducers) + page - 1) / page;
  INFO("resident pages " << resident_pages << " of " << resident.size());
  CHECK(static_cast<std::size_t>(resident_pages) <= used_pages);

  ::close(release[1]);
  for (auto& child : children) CHECK(child.exit_code() == 0);
}
