// A root isolate for isolated-ps --gc to clean up after: it holds a
// transferable block and has one worker, prints
//   ready <pid> <worker pid> <its inbox> <worker's inbox>
// and waits to be SIGKILLed, which leaves its session's segments behind.
#include <isolated/isolated.hpp>

#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <thread>

namespace {

void wait_to_be_killed(isolated::SendPort reply) {
  reply.send(static_cast<int>(::getpid()));
  isolated::ReceivePort never;
  never.receive();
}

}  // namespace

int main(int argc, char** argv) {
  isolated::init(argc, argv);
  const auto held = isolated::TransferableTypedData::allocate(4096);  // a segment of kind "ttd"
  isolated::ReceivePort reply;
  isolated::SpawnOptions options;
  options.debug_name = "ps-orphan";
  const auto worker = isolated::Isolate::spawn(&wait_to_be_killed, reply.send_port(), options);
  const int worker_pid = reply.receive().as<int>();
  std::printf("ready %d %d %s %s\n", static_cast<int>(::getpid()), worker_pid,
              reply.send_port().inbox_name().c_str(), worker.control_port().inbox_name().c_str());
  std::fflush(stdout);
  std::this_thread::sleep_for(std::chrono::seconds(60));
  return 1;  // SIGKILL should have ended it long before
}
