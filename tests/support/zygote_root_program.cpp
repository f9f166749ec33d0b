// A root isolate for zygote_test.cpp to SIGKILL: it spawns an isolate, and
// another that spawns one of its own (so both spawners have a zygote and a
// spare), prints "ready" once all three run, and waits.
#include <isolated/isolated.hpp>

#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <thread>

namespace {

void wait_to_die(isolated::SendPort to_root) {
  to_root.send(static_cast<int>(::getpid()));
  isolated::ReceivePort().receive();
}

void spawn_and_wait_to_die(isolated::SendPort to_root) {
  isolated::Isolate::spawn(&wait_to_die, to_root);
  wait_to_die(to_root);
}

}  // namespace

int main(int argc, char** argv) {
  isolated::init(argc, argv);
  isolated::ReceivePort heard;
  isolated::Isolate::spawn(&wait_to_die, heard.send_port());
  isolated::Isolate::spawn(&spawn_and_wait_to_die, heard.send_port());
  for (int i = 0; i < 3; ++i) heard.receive();
  std::printf("ready\n");
  std::fflush(stdout);
  std::this_thread::sleep_for(std::chrono::seconds(60));
  return 1;  // SIGKILL should have ended it long before
}
