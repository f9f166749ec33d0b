// A root isolate to be ended by SIGTERM: it holds a transferable, has sent
// another to a worker, prints "ready <pid>" and waits. Its session's segments
// must all be gone once it has died.
#include <isolated/isolated.hpp>

#include <unistd.h>

#include <cstdio>
#include <thread>
#include <vector>

namespace {

void hoard(isolated::SendPort reply) {
  isolated::ReceivePort blocks;
  reply.send(blocks.send_port());
  std::vector<isolated::TransferableTypedData> kept;
  for (;;) kept.push_back(blocks.receive().as<isolated::TransferableTypedData>());
}

}  // namespace

int main(int argc, char** argv) {
  isolated::init(argc, argv);
  auto held = isolated::TransferableTypedData::allocate(1 << 20);
  isolated::ReceivePort reply;
  isolated::Isolate::spawn(&hoard, reply.send_port());
  const auto worker = reply.receive().as<isolated::SendPort>();
  worker.send(isolated::TransferableTypedData::allocate(4096));
  std::printf("ready %d\n", static_cast<int>(::getpid()));
  std::fflush(stdout);
  std::this_thread::sleep_for(std::chrono::seconds(60));
  return 1;  // SIGTERM should have ended it long before
}
