// TransferableTypedData: blocks move between isolates without copies, the
// handle moves with them, and no segment outlives its use.
#include <catch2/catch.hpp>

#include "common/src/shm/names.hpp"

#include <isolated/isolated.hpp>

#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <map>
#include <numeric>
#include <string>
#include <tuple>
#include <vector>

using namespace isolated;
using namespace std::chrono_literals;

namespace {

std::uint64_t checksum(std::span<const std::uint8_t> bytes) {
  std::uint64_t sum = 1469598103934665603ULL;
  for (const std::uint8_t b : bytes) sum = (sum ^ b) * 1099511628211ULL;
  return sum;
}

void fill(std::span<std::uint8_t> bytes, std::uint64_t seed) {
  std::uint64_t x = seed * 2654435761ULL + 1;
  for (auto& b : bytes) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    b = static_cast<std::uint8_t>(x);
  }
}

// Segments of this session that are transferables.
std::size_t transferable_segments() {
  std::size_t count = 0;
  for (const auto& name : detail::list_session_segments(detail::session_root_pid())) {
    const auto parsed = detail::parse_segment_name(name);
    if (parsed && parsed->kind == detail::SegmentKind::transferable) ++count;
  }
  return count;
}

// Receives blocks and sends each one back with its checksum, until nil.
void bounce_entry(SendPort reply) {
  ReceivePort blocks;
  reply.send(blocks.send_port());
  for (;;) {
    Message message = blocks.receive();
    if (message.is<std::nullptr_t>()) return;
    auto block = message.as<TransferableTypedData>();
    const std::uint64_t sum = checksum(block.bytes());
    reply.send(std::tuple<std::uint64_t, TransferableTypedData&>(sum, block));
  }
}

// Holds on to what it is sent, forever.
void hoard_entry(SendPort reply) {
  ReceivePort blocks;
  reply.send(blocks.send_port());
  std::vector<TransferableTypedData> hoard;
  for (;;) hoard.push_back(blocks.receive().as<TransferableTypedData>());
}

struct Worker {
  explicit Worker(void (*entry)(SendPort)) {
    SpawnOptions options;
    options.on_exit = exited.send_port();
    isolate = Isolate::spawn(entry, reply.send_port(), options);
    auto port = reply.receive_for(10s);
    REQUIRE(port);
    to_worker = port->as<SendPort>();
  }
  ~Worker() {
    if (!ended) {
      isolate->kill(Priority::immediate);
      exited.receive_for(10s);
    }
  }
  void wait_for_end() { ended = exited.receive_for(10s).has_value(); }

  ReceivePort reply;
  ReceivePort exited;
  std::optional<Isolate> isolate;
  SendPort to_worker;
  bool ended = false;
};

std::uint64_t sum_of_block(TransferableTypedData block) { return checksum(block.bytes()); }

struct Frame {
  std::string label;
  TransferableTypedData pixels;
  MSGPACK_DEFINE(label, pixels)
};

std::uint64_t checksum_of_frame(Frame frame) { return checksum(frame.pixels.bytes()); }

TransferableTypedData make_block(std::size_t size) {
  auto block = TransferableTypedData::allocate(size);
  fill(block.bytes(), size);
  return block;
}

void exit_with_block(SendPort reply) {
  auto block = make_block(100000);
  Isolate::exit(reply, block);
}

}  // namespace

TEST_CASE("blocks of every size go to another isolate and back intact", "[integration][transfer]") {
  Worker worker(&bounce_entry);
  for (const std::size_t size : {std::size_t{0}, std::size_t{1}, std::size_t{4095},
                                 std::size_t{4096}, std::size_t{4097}, std::size_t{1} << 20,
                                 std::size_t{256} << 20}) {
    INFO("size " << size);
    auto block = TransferableTypedData::allocate(size);
    fill(block.bytes(), size);
    const std::uint64_t sum = checksum(block.bytes());
    REQUIRE(worker.to_worker.send(block));
    CHECK(block.empty());  // sent: the handle moved with the block
    auto back = worker.reply.receive_for(60s);
    REQUIRE(back);
    auto [their_sum, returned] = back->as<std::tuple<std::uint64_t, TransferableTypedData>>();
    CHECK(their_sum == sum);
    REQUIRE(returned.size() == size);
    const ByteBuffer view = returned.materialize();
    CHECK(checksum(view.span()) == sum);
  }
  worker.to_worker.send(nullptr);
  worker.wait_for_end();
  CHECK(transferable_segments() == 0);
}

TEST_CASE("a block is materialized once and sent once", "[integration][transfer]") {
  const std::vector<std::uint8_t> bytes{1, 2, 3};
  auto block = TransferableTypedData::from(bytes);
  CHECK(block.size() == 3);
  const ByteBuffer view = block.materialize();
  CHECK(std::vector<std::uint8_t>(view.data(), view.data() + view.size()) == bytes);
  CHECK(block.empty());
  CHECK_THROWS_AS(block.materialize(), Error);

  ReceivePort port;
  auto sent = TransferableTypedData::from(bytes);
  REQUIRE(port.send_port().send(sent));
  CHECK(sent.empty());
  CHECK_THROWS_WITH(port.send_port().send(sent), Catch::Contains("empty"));
  auto received = port.receive_for(10s)->as<TransferableTypedData>();
  CHECK(received.size() == 3);
}

TEST_CASE("a failed send leaves the block with the sender", "[integration][transfer]") {
  SendPort closed;
  {
    ReceivePort port;
    closed = port.send_port();
  }
  auto block = TransferableTypedData::from(std::vector<std::uint8_t>(100, 7));
  CHECK_FALSE(closed.send(block));
  CHECK_FALSE(block.empty());
  CHECK(block.size() == 100);
}

TEST_CASE("a block taken out of a message once cannot be taken again", "[integration][transfer]") {
  ReceivePort port;
  port.send_port().send(TransferableTypedData::from(std::vector<std::uint8_t>(10, 1)));
  const Message message = *port.receive_for(10s);
  CHECK(message.kind() == MessageKind::transferable);
  CHECK(message.as<TransferableTypedData>().size() == 10);
  CHECK_THROWS_WITH(message.as<TransferableTypedData>(), Catch::Contains("taken already"));
}

TEST_CASE("blocks travel inside lists, maps and structs, and through compute",
          "[integration][transfer]") {
  ReceivePort port;
  std::vector<TransferableTypedData> list;
  list.push_back(make_block(10));
  list.push_back(make_block(20));
  std::map<std::string, TransferableTypedData> map;
  map.emplace("a", make_block(30));
  REQUIRE(port.send_port().send(std::tuple<std::vector<TransferableTypedData>&,
                                           std::map<std::string, TransferableTypedData>&>(list, map)));
  CHECK(list[0].empty());
  CHECK(map.at("a").empty());
  auto [got_list, got_map] = port.receive_for(10s)->as<
      std::tuple<std::vector<TransferableTypedData>, std::map<std::string, TransferableTypedData>>>();
  REQUIRE(got_list.size() == 2);
  CHECK(got_list[1].size() == 20);
  CHECK(got_map.at("a").size() == 30);

  auto block = make_block(1 << 20);
  const std::uint64_t expected = checksum(block.bytes());
  auto sum = compute(&sum_of_block, std::move(block));
  REQUIRE(sum.wait_for(10s) == std::future_status::ready);
  CHECK(sum.get() == expected);

  Frame frame{"frame 1", make_block(5000)};
  const std::uint64_t frame_sum = checksum(frame.pixels.bytes());
  auto frame_result = compute(&checksum_of_frame, std::move(frame));
  REQUIRE(frame_result.wait_for(10s) == std::future_status::ready);
  CHECK(frame_result.get() == frame_sum);

  auto made = compute(&make_block, std::size_t{70000});
  REQUIRE(made.wait_for(10s) == std::future_status::ready);
  auto result = made.get();
  CHECK(result.size() == 70000);
  CHECK(checksum(result.bytes()) == checksum(make_block(70000).bytes()));
  CHECK(transferable_segments() == 0);
}

TEST_CASE("Isolate::exit hands a block over", "[integration][transfer]") {
  ReceivePort port;
  ReceivePort exited;
  SpawnOptions options;
  options.on_exit = exited.send_port();
  Isolate::spawn(&exit_with_block, port.send_port(), options);
  auto block = port.receive_for(10s);
  REQUIRE(block);
  auto handle = block->as<TransferableTypedData>();
  CHECK(checksum(handle.bytes()) == checksum(make_block(100000).bytes()));
  CHECK(exited.receive_for(10s));
  CHECK(transferable_segments() == 0);
}

TEST_CASE("blocks sent where nobody reads them leave no segment", "[integration][transfer]") {
  SECTION("to a port that is closed when they arrive") {
    SendPort soon_closed;
    {
      ReceivePort port;
      soon_closed = port.send_port();
      for (int i = 0; i < 10; ++i) port.send_port().send(make_block(1000));
    }  // closed with the blocks queued
    CHECK(transferable_segments() == 0);
  }
  SECTION("to an isolate that is killed") {
    std::optional<Worker> worker;
    worker.emplace(&hoard_entry);
    for (int i = 0; i < 20; ++i) REQUIRE(worker->to_worker.send(make_block(4096)));
    worker->isolate->kill(Priority::immediate);
    worker->wait_for_end();
    // The dead isolate's inbox is gone: a later send fails and keeps the block.
    auto kept = make_block(10);
    CHECK_FALSE(worker->to_worker.send(kept));
    CHECK_FALSE(kept.empty());
    worker.reset();
  }
  SECTION("to an isolate that is SIGKILLed while it holds them") {
    std::optional<Worker> worker;
    worker.emplace(&hoard_entry);
    for (int i = 0; i < 20; ++i) REQUIRE(worker->to_worker.send(make_block(4096)));
    REQUIRE(worker->isolate->pid() > 0);
    ::kill(worker->isolate->pid(), SIGKILL);
    worker->wait_for_end();
    worker.reset();
  }
  CHECK(transferable_segments() == 0);
}

TEST_CASE("ten thousand small blocks in flight at once", "[integration][transfer]") {
  Worker worker(&bounce_entry);
  constexpr int kBlocks = 10000;
  std::vector<std::uint64_t> sums;
  for (int i = 0; i < kBlocks; ++i) {
    auto block = make_block(static_cast<std::size_t>(16 + i % 64));
    sums.push_back(checksum(block.bytes()));
    REQUIRE(worker.to_worker.send(block));
  }
  for (int i = 0; i < kBlocks; ++i) {
    auto back = worker.reply.receive_for(30s);
    REQUIRE(back);
    const auto [sum, block] = back->as<std::tuple<std::uint64_t, TransferableTypedData>>();
    REQUIRE(sum == sums[static_cast<std::size_t>(i)]);
  }
  worker.to_worker.send(nullptr);
  worker.wait_for_end();
  CHECK(transferable_segments() == 0);
}

namespace {

// Sends back, as a string, the bytes it is sent.
void big_echo_entry(SendPort reply) {
  ReceivePort port;
  reply.send(port.send_port());
  const auto bytes = port.receive().as<std::vector<std::uint8_t>>();
  reply.send(std::string(bytes.begin(), bytes.end()));
}

}  // namespace

TEST_CASE("a 200 MB ordinary message goes out of line through the smallest lanes",
          "[integration][transfer]") {
  ReceivePort reply;
  ReceivePort exited;
  SpawnOptions options;
  options.lane_bytes = 4096;  // the worker's lanes: far smaller than the message
  options.on_exit = exited.send_port();
  Isolate::spawn(&big_echo_entry, reply.send_port(), options);
  const auto to_worker = reply.receive_for(10s)->as<SendPort>();
  std::vector<std::uint8_t> bytes(200u << 20);
  fill(bytes, 200);
  const std::uint64_t sum = checksum(bytes);
  REQUIRE(to_worker.send(bytes));
  auto back = reply.receive_for(120s);
  REQUIRE(back);
  const auto text = back->as<std::string_view>();
  REQUIRE(text.size() == bytes.size());
  CHECK(checksum(std::span(reinterpret_cast<const std::uint8_t*>(text.data()), text.size())) == sum);
  CHECK(exited.receive_for(10s));
}

TEST_CASE("blocks go to a runner's task and come back from it", "[integration][transfer][pool]") {
  IsolateRunner runner = IsolateRunner::spawn();
  auto block = make_block(1 << 20);
  const std::uint64_t expected = checksum(block.bytes());
  auto sum = runner.run(&sum_of_block, std::move(block));
  REQUIRE(sum.wait_for(10s) == std::future_status::ready);
  CHECK(sum.get() == expected);

  // Made in the runner, which lives on: the block must outlive the task.
  for (int i = 0; i < 3; ++i) {
    auto made = runner.run(&make_block, std::size_t{70000});
    REQUIRE(made.wait_for(10s) == std::future_status::ready);
    auto result = made.get();
    CHECK(result.size() == 70000);
    CHECK(checksum(result.bytes()) == checksum(make_block(70000).bytes()));
  }
  runner.close();
  CHECK(transferable_segments() == 0);
}
