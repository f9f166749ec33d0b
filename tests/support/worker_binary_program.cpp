// A worker binary (DESIGN §9) for worker_binary_test.cpp. It links
// isolated::worker only.
//
// Started by a host (spawn_uri) with a message [reply port, text], it sends
// back [its arguments, the text, its pid] and then waits to be killed, or
// returns at once when its first argument is "return".
// Started as a runner (IsolateRunner::spawn_uri), it runs its exports.
// Started by hand with a name, it looks up that host port, sends it a port of
// its own, and squares the numbers it gets there until it gets 0.
#include <isolated/worker.hpp>

#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <stdexcept>
#include <string>
#include <tuple>
#include <vector>

namespace {

int square(int x) { return x * x; }
int my_pid(int) { return static_cast<int>(::getpid()); }
std::string greet(std::string name) { return "hello, " + name; }
int refuse(int) { throw std::invalid_argument("no, thank you"); }

int serve_by_name(const std::string& name) {
  const auto host = isolated::name_server::lookup(name);
  if (!host) {
    std::fprintf(stderr, "no port is registered as %s\n", name.c_str());
    return 1;
  }
  isolated::ReceivePort jobs;
  host->send(jobs.send_port());
  for (;;) {
    const auto [reply, x] = jobs.receive().as<std::tuple<isolated::SendPort, int>>();
    if (x == 0) return 0;
    reply.send(square(x));
  }
}

void serve(std::vector<std::string> args, isolated::Message message) {
  if (message.kind() == isolated::MessageKind::nil) {  // started by hand
    if (args.size() != 1) throw std::invalid_argument("usage: worker_binary_program NAME");
    std::exit(serve_by_name(args[0]));
  }
  const auto [reply, text] = message.as<std::tuple<isolated::SendPort, std::string>>();
  reply.send(std::tuple<std::vector<std::string>, std::string, int>(args, text,
                                                                     static_cast<int>(::getpid())));
  if (!args.empty() && args[0] == "return") return;
  ::pause();
}

}  // namespace

ISOLATED_EXPORT("square", square);
ISOLATED_EXPORT("pid", my_pid);
ISOLATED_EXPORT("greet", greet);
ISOLATED_EXPORT("refuse", refuse)  // a semicolon is optional

ISOLATED_WORKER_MAIN(serve)
