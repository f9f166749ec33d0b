// The demo, for now: two processes talking through isolated's transport.
//
// Until isolates exist (the isolate issue replaces this with the article's
// scenario), it shows the layer they will stand on: a worker process with its
// own inbox decodes a list of persons sent as a msgpack message, answers with
// a summary, echoes small messages for a latency figure, and takes one message
// too big for its lane, which travels out of line.
#include "transport/inbox.hpp"
#include "transport/outbox.hpp"

#include <isolated/isolated.hpp>

#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <functional>
#include <numeric>
#include <optional>
#include <string>
#include <vector>

namespace {

using namespace isolated;
using detail::Delivery;
using detail::FrameKind;
using detail::Inbox;
using detail::Outbox;
using Clock = std::chrono::steady_clock;

struct Person {
  std::string name;
  int age = 0;
  std::vector<std::string> tags;
  MSGPACK_DEFINE(name, age, tags)
};

struct Summary {
  std::size_t count = 0;
  double mean_age = 0;
  std::string oldest;
  MSGPACK_DEFINE(count, mean_age, oldest)
};

// Ports of the demo's protocol.
constexpr std::uint64_t kHello = 1, kPersons = 2, kEcho = 3, kBlob = 4, kStop = 5;

template <class T>
void send(Outbox& outbox, const std::string& inbox, std::uint64_t port, const T& value) {
  std::vector<std::byte> bytes;
  detail::encode(value, bytes);
  if (outbox.send(inbox, port, FrameKind::message, 0, bytes) != detail::SendResult::sent) {
    throw Error("the other process's inbox is gone");
  }
}

// The next message to arrive in `inbox`, with the port it was sent to.
std::pair<std::uint64_t, Message> receive(Inbox& inbox) {
  std::optional<std::pair<std::uint64_t, Message>> got;
  const std::function<void(Delivery&&)> sink = [&](Delivery&& d) {
    got.emplace(d.port, Message::decode(d.bytes));
  };
  while (!got) {
    inbox.wait(std::chrono::seconds(1));
    inbox.drain(sink);
  }
  return std::move(*got);
}

// The worker: introduces its inbox, then serves until told to stop.
int worker(const std::string& host_inbox) {
  Inbox inbox;
  Outbox outbox;
  send(outbox, host_inbox, kHello, SendPort(inbox.name(), kHello));
  for (;;) {
    auto [port, message] = receive(inbox);
    switch (port) {
      case kPersons: {
        const auto persons = message.as<std::vector<Person>>();
        Summary summary;
        summary.count = persons.size();
        double total = 0;
        const Person* oldest = nullptr;
        for (const auto& p : persons) {
          total += p.age;
          if (oldest == nullptr || p.age > oldest->age) oldest = &p;
        }
        summary.mean_age = persons.empty() ? 0 : total / static_cast<double>(persons.size());
        summary.oldest = oldest ? oldest->name : "";
        send(outbox, host_inbox, kPersons, summary);
        break;
      }
      case kEcho: send(outbox, host_inbox, kEcho, message); break;
      case kBlob: {
        const auto blob = message.as<std::vector<std::uint8_t>>();
        send(outbox, host_inbox, kBlob,
             std::accumulate(blob.begin(), blob.end(), std::uint64_t{0}));
        break;
      }
      case kStop: return 0;
      default: break;
    }
  }
}

double since_ms(Clock::time_point start) {
  return std::chrono::duration<double, std::milli>(Clock::now() - start).count();
}

}  // namespace

int main() {
  Inbox inbox;
  const pid_t parent = ::getpid();
  std::fflush(nullptr);
  const pid_t pid = ::fork();
  if (pid == 0) {
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (::getppid() != parent) ::_exit(1);
    int code = 1;
    try {
      code = worker(inbox.name());
    } catch (const std::exception& e) {
      std::fprintf(stderr, "worker: %s\n", e.what());
    }
    ::_exit(code);
  }

  int status = 1;
  try {
    Outbox outbox;
    const auto hello = receive(inbox).second.as<SendPort>();
    const std::string& worker_inbox = hello.inbox_name();
    std::printf("isolated demo: host %d, worker %d (inbox %s)\n\n", parent, pid,
                worker_inbox.c_str());
    std::printf("%-34s %12s  %s\n", "step", "time", "result");

    std::vector<Person> persons;
    for (int i = 0; i < 100000; ++i) {
      persons.push_back(Person{"person " + std::to_string(i), 18 + (i * 7919) % 80, {"demo"}});
    }
    auto start = Clock::now();
    send(outbox, worker_inbox, kPersons, persons);
    const auto summary = receive(inbox).second.as<Summary>();
    std::printf("%-34s %9.2f ms  %zu persons, mean age %.1f, oldest %s\n",
                "decode 100,000 persons in worker", since_ms(start), summary.count,
                summary.mean_age, summary.oldest.c_str());

    std::vector<double> samples;
    for (int i = 0; i < 2000; ++i) {
      start = Clock::now();
      send(outbox, worker_inbox, kEcho, std::string(48, 'x'));
      receive(inbox);
      samples.push_back(std::chrono::duration<double, std::micro>(Clock::now() - start).count());
    }
    std::sort(samples.begin(), samples.end());
    std::printf("%-34s %9.2f µs  median of 2,000 (unpinned)\n", "echo a 48-byte string",
                samples[samples.size() / 2]);

    const std::vector<std::uint8_t> blob(64 << 20, 3);
    start = Clock::now();
    send(outbox, worker_inbox, kBlob, blob);
    const auto sum = receive(inbox).second.as<std::uint64_t>();
    std::printf("%-34s %9.2f ms  byte sum %llu (%s)\n", "send 64 MiB (goes out of line)",
                since_ms(start), static_cast<unsigned long long>(sum),
                sum == 3ull * blob.size() ? "correct" : "WRONG");

    send(outbox, worker_inbox, kStop, nullptr);
    status = sum == 3ull * blob.size() ? 0 : 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "demo: %s\n", e.what());
    ::kill(pid, SIGKILL);
  }
  int worker_status = 0;
  ::waitpid(pid, &worker_status, 0);
  return status;
}
