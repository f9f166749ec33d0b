#include "transfer_bench.hpp"

#include "peers.hpp"
#include "pinning.hpp"
#include "stats.hpp"

#include <isolated/isolated.hpp>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

namespace isolated::bench {
namespace {

using Clock = std::chrono::steady_clock;

// The receiving isolate: takes each block, makes it readable, reads its first
// and last byte (so the view is really there), and acknowledges.
void receiver(std::tuple<SendPort, int> setup) {
  const auto [reply, cpu] = setup;
  pin_to_cpu(cpu);
  ReceivePort blocks;
  reply.send(blocks.send_port());
  for (;;) {
    Message message = blocks.receive();
    if (message.is<std::nullptr_t>()) return;
    // The view stays alive until the acknowledgement is out: releasing the
    // previous block is not part of receiving this one.
    std::uint8_t edge = 0;
    ByteBuffer view;
    if (message.kind() == MessageKind::transferable) {
      view = message.as<TransferableTypedData>().materialize();
      if (view.size() > 0) {
        edge = static_cast<std::uint8_t>(view.data()[0] ^ view.data()[view.size() - 1]);
      }
    } else {
      const auto bytes = message.as<std::span<const std::byte>>();
      if (!bytes.empty()) edge = std::to_integer<std::uint8_t>(bytes.front() ^ bytes.back());
    }
    reply.send(static_cast<int>(edge));
  }
}

struct Receiver {
  explicit Receiver(int cpu) {
    SpawnOptions options;
    options.debug_name = "bench-receiver";
    options.on_exit = exited.send_port();
    Isolate::spawn(&receiver, std::tuple<SendPort, int>(acks.send_port(), cpu), options);
    port = acks.receive().as<SendPort>();
  }
  ~Receiver() {
    port.send(nullptr);
    exited.receive_for(std::chrono::seconds(30));
  }
  void await_ack() { acks.receive(); }

  ReceivePort acks;
  ReceivePort exited;
  SendPort port;
};

// (a) allocate writes straight into shared memory: the sender fills it in
// place (not timed: that is the sender's own work), then sends the handle.
Summary transferable(Receiver& receiver, std::size_t bytes, std::size_t repetitions) {
  std::vector<double> samples;
  for (std::size_t i = 0; i < repetitions; ++i) {
    auto block = TransferableTypedData::allocate(bytes);
    std::memset(block.bytes().data(), static_cast<int>(i), bytes);
    const auto start = Clock::now();
    receiver.port.send(block);
    receiver.await_ack();
    samples.push_back(std::chrono::duration<double, std::micro>(Clock::now() - start).count());
  }
  return summarize(std::move(samples));
}

// (b) the same bytes as an ordinary message: encoded, copied through the
// lane or an out-of-line segment, decoded (copied) by the receiver.
Summary copied(Receiver& receiver, std::size_t bytes, std::size_t repetitions) {
  const std::vector<std::uint8_t> block(bytes, 7);
  std::vector<double> samples;
  for (std::size_t i = 0; i < repetitions; ++i) {
    const auto start = Clock::now();
    receiver.port.send(block);
    receiver.await_ack();
    samples.push_back(std::chrono::duration<double, std::micro>(Clock::now() - start).count());
  }
  return summarize(std::move(samples));
}

std::string size_name(std::size_t bytes) { return std::to_string(bytes >> 20) + " MiB"; }

}  // namespace

int transfer(bool quick) {
  const bool two_cpus = online_cpus() >= 2;
  const int child_cpu = two_cpus ? 1 : 0;
  const std::size_t repetitions = quick ? 3 : 7;
  const std::vector<std::size_t> sizes = {std::size_t{1} << 20, std::size_t{64} << 20,
                                          std::size_t{256} << 20};
  std::printf("isolated-bench transfer: a block to another isolate until it holds a readable "
              "view; medians of %zu, parent on CPU 0, receiver on CPU %d\n\n",
              repetitions, child_cpu);
  std::printf("%-8s %16s %16s %16s %16s %12s\n", "size", "transferable", "copied message",
              "socketpair", "memcpy (floor)", "copied/xfer");
  const ScopedPin pin(0);
  Receiver receiver(child_cpu);
  std::vector<double> transfer_ms;
  double last_ratio = 0;
  for (const std::size_t bytes : sizes) {
    const Summary a = transferable(receiver, bytes, repetitions);
    const Summary b = copied(receiver, bytes, repetitions);
    const Summary c = socketpair_block_transfer(bytes, repetitions, 0, child_cpu);
    const Summary d = memcpy_block(bytes, repetitions);
    transfer_ms.push_back(a.median_us / 1000);
    last_ratio = b.median_us / a.median_us;
    std::printf("%-8s %13.3f ms %13.3f ms %13.3f ms %13.3f ms %11.0fx\n", size_name(bytes).c_str(),
                a.median_us / 1000, b.median_us / 1000, c.median_us / 1000, d.median_us / 1000,
                last_ratio);
  }
  const double flatness = transfer_ms.back() / transfer_ms.front();
  std::printf("\nTargets (256 MiB):\n");
  std::printf("  transferable >= 100x faster than a copied message: %7.0fx  %s\n", last_ratio,
              last_ratio >= 100 ? "met" : "NOT MET");
  std::printf("  transferable time nearly flat (256 MiB within 3x of 1 MiB): %5.1fx  %s\n",
              flatness, flatness <= 3 ? "met" : "NOT MET");
  return 0;
}

}  // namespace isolated::bench
