#include "supervisor.hpp"

#include "common/src/os/signal_name.hpp"
#include "common/src/os/syscall.hpp"
#include "common/src/shm/segment.hpp"
#include "common/src/transport/doorbell.hpp"
#include "worker/src/crash_report.hpp"
#include "worker/src/runtime.hpp"
#include "worker/src/supervisor_protocol.hpp"

#include <isolated/error.hpp>

#include <signal.h>
#include <sys/epoll.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <condition_variable>
#include <cstdio>
#include <cstring>
#include <mutex>
#include <thread>
#include <tuple>
#include <unordered_map>
#include <vector>

namespace isolated::detail {
namespace {

struct Child {
  int pidfd = -1;
  // A helper (the zygote, an unused spare): reaped silently, then this runs.
  bool helper = false;
  std::function<void()> on_helper_end;
  std::uint64_t spawn_id = 0;
  std::string inbox_name;           // chosen by us, in its boot record
  std::optional<SendPort> control;  // known once it said hello
  bool ended = false;
  bool abandoned = false;    // its spawn gave up waiting for the hello
  bool hello_taken = false;  // its spawn has read the control port
  bool said_goodbye = false;
  bool reported_its_errors = false;
  std::string end_description;
  std::vector<std::pair<SendPort, Message>> exit_listeners;
  std::vector<SendPort> error_listeners;
  std::function<void(const ExitInfo&)> on_end;
};

// Removes what a dead child leaves in /dev/shm: its inbox, and the lanes that
// senders registered there but it never mapped. Returns its crash report.
std::string bury_inbox(const std::string& inbox_name, bool crashed) {
  std::string report;
  try {
    MappedDoorbell doorbell = open_doorbell(inbox_name);
    doorbell.segment.unlink();
    DoorbellHeader* header = doorbell.header;
    header->state.store(static_cast<std::uint32_t>(InboxState::dead));
    // Senders waiting for space in a lane see the inbox dead.
    header->bell.fetch_add(1);
    LaneSlot* slots = doorbell_slots(header);
    for (std::uint32_t i = 0, used = slots_in_use(*header, doorbell.slot_count); i < used; ++i) {
      if (slots[i].state.load() != static_cast<std::uint32_t>(SlotState::ready)) continue;
      const std::uint32_t length = slots[i].name_length;
      if (length == 0 || length > kMaxSegmentNameBytes) continue;
      const std::string_view lane(slots[i].lane_name, length);
      const auto parsed = parse_segment_name(lane);
      if (parsed && parsed->kind == SegmentKind::lane) unlink_segment(lane);
    }
    if (crashed) report = render_crash_report(header->crash);
  } catch (const Error&) {
    // Already gone: it removed its own name on the way out.
  }
  return report;
}

// Inboxes of this session whose owner is gone and that nobody buried: those
// of grandchildren that died with their parent (PR_SET_PDEATHSIG), whose own
// parent was no longer there to remove them.
void bury_orphaned_inboxes() {
  const std::string own = Runtime::current() ? Runtime::current()->inbox_name() : "";
  for (const auto& name : list_session_segments(session_root_pid())) {
    const auto parsed = parse_segment_name(name);
    if (!parsed || parsed->kind != SegmentKind::inbox || name == own) continue;
    try {
      const MappedDoorbell doorbell = open_doorbell(name);
      const DoorbellHeader* header = doorbell.header;
      // An inbox still being set up (state `starting`, owner not yet written)
      // is somebody's future, not an orphan.
      if (header->state.load() == static_cast<std::uint32_t>(InboxState::starting) ||
          header->owner_pid <= 0 || process_exists(header->owner_pid)) {
        continue;
      }
    } catch (const Error&) {
      continue;
    }
    bury_inbox(name, false);
  }
}

}  // namespace

struct Supervisor::State {
  std::mutex mutex;
  std::condition_variable changed;
  std::unordered_map<int, Child> children;
  // Reports that arrived before watch() registered their sender: a quick
  // worker can say hello (even goodbye) before its launch has returned.
  struct Unclaimed {
    int pid;
    Report kind;
    Message report;
  };
  std::vector<Unclaimed> unclaimed;
  int epoll_fd = -1;
  std::thread thread;

  void serve();
  void end(int pid);
  void end_helper(int pid, int pidfd);
  void apply(Child& child, Report kind, const Message& report);
  // With the mutex held: `child` is watched for `watch`, with the reports it
  // sent before.
  void take_watch_locked(int pid, Child& child, const ChildWatch& watch);
  // Opens a pidfd for child `pid` and adds it to the epoll set under `pid`,
  // with `record` (under the mutex) filling the child's record.
  void start_watching(int pid, const std::function<void(Child&)>& record);
};

void Supervisor::attach_to_runtime() {
  static std::once_flag once;
  std::call_once(once, [] {
    Runtime::require().set_supervisor_handler(
        [](Message report) { Supervisor::get().on_report(std::move(report)); });
  });
}

Supervisor& Supervisor::get() {
  // Never destroyed: children may end while the process is exiting.
  static Supervisor* supervisor = new Supervisor();
  return *supervisor;
}

Supervisor::Supervisor() : state_(new State) {
  state_->epoll_fd = checked("epoll_create1", [] { return ::epoll_create1(EPOLL_CLOEXEC); });
  state_->thread = std::thread([state = state_] { state->serve(); });
  state_->thread.detach();
}

void Supervisor::State::take_watch_locked(int pid, Child& child, const ChildWatch& watch) {
  child.spawn_id = watch.spawn_id;
  child.inbox_name = watch.inbox_name;
  if (watch.on_exit) child.exit_listeners.emplace_back(*watch.on_exit, Message());
  if (watch.on_error) child.error_listeners.push_back(*watch.on_error);
  child.on_end = watch.on_end;
  // Reports it sent before we got here.
  std::erase_if(unclaimed, [&](const State::Unclaimed& early) {
    if (early.pid != pid) return false;
    try {
      apply(child, early.kind, early.report);
    } catch (const std::exception&) {  // malformed: dropped
    }
    return true;
  });
}

void Supervisor::State::start_watching(int pid, const std::function<void(Child&)>& record) {
  // A pidfd works on a child that already ended, as long as it is unreaped.
  const int pidfd = static_cast<int>(
      checked("pidfd_open", [&] { return ::syscall(SYS_pidfd_open, pid, 0); }));
  {
    std::lock_guard lock(mutex);
    Child& child = children[pid];
    child.pidfd = pidfd;
    record(child);
  }
  epoll_event event{};
  event.events = EPOLLIN;
  event.data.fd = pid;
  checked("epoll_ctl", [&] { return ::epoll_ctl(epoll_fd, EPOLL_CTL_ADD, pidfd, &event); });
}

void Supervisor::watch(int pid, const ChildWatch& watch) {
  state_->start_watching(pid, [&](Child& child) { state_->take_watch_locked(pid, child, watch); });
}

void Supervisor::watch_helper(int pid, std::function<void()> on_end) {
  state_->start_watching(pid, [&](Child& child) {
    child.helper = true;
    child.on_helper_end = std::move(on_end);
  });
}

bool Supervisor::adopt_spare(int pid, const ChildWatch& watch) {
  std::lock_guard lock(state_->mutex);
  const auto found = state_->children.find(pid);
  if (found == state_->children.end() || !found->second.helper || found->second.ended) return false;
  found->second.helper = false;
  found->second.on_helper_end = nullptr;
  state_->take_watch_locked(pid, found->second, watch);
  return true;
}

SendPort Supervisor::wait_for_hello(int pid, std::chrono::milliseconds timeout) {
  std::unique_lock lock(state_->mutex);
  const bool settled = state_->changed.wait_for(lock, timeout, [&] {
    const auto found = state_->children.find(pid);
    return found == state_->children.end() || found->second.control || found->second.ended;
  });
  const auto found = state_->children.find(pid);
  if (found == state_->children.end()) throw IsolateSpawnError("the worker process vanished");
  if (found->second.control) {
    SendPort control = *found->second.control;
    found->second.hello_taken = true;
    // A quick isolate may have ended already; its record was kept for us.
    if (found->second.ended) state_->children.erase(found);
    return control;
  }
  if (!settled) {
    found->second.abandoned = true;
    ::kill(pid, SIGKILL);  // the supervisor reaps it
    throw IsolateSpawnError(
        "the worker process " + std::to_string(pid) + " did not start within " +
        std::to_string(timeout.count()) +
        " ms (handshake timeout): the program must call isolated::init(argc, argv) first thing "
        "in main, before anything that could block or exit");
  }
  const std::string how = found->second.end_description;
  state_->children.erase(found);
  throw IsolateSpawnError("the worker process " + std::to_string(pid) + " " + how +
                          " before its entry could run (its stderr says why)");
}

void Supervisor::on_report(Message report) {
  try {
    const auto parts = report.as<std::vector<Message>>();
    const auto kind = static_cast<Report>(parts.at(0).as<int>());
    const int pid = kind == Report::hello ? parts.at(2).as<int>() : parts.at(1).as<int>();
    std::lock_guard lock(state_->mutex);
    const auto found = state_->children.find(pid);
    if (found == state_->children.end()) {
      // Not (yet) a child we watch; bounded, since anybody can write here.
      constexpr std::size_t kMaxUnclaimed = 256;
      if (state_->unclaimed.size() < kMaxUnclaimed) {
        state_->unclaimed.push_back(State::Unclaimed{pid, kind, std::move(report)});
      }
      return;
    }
    state_->apply(found->second, kind, report);
    state_->changed.notify_all();
  } catch (const std::exception& e) {
    // Anybody can write here (std::out_of_range for a short list, too).
    std::fprintf(stderr, "isolated: ignored a malformed report from a child: %s\n", e.what());
  }
}

void Supervisor::State::apply(Child& child, Report kind, const Message& report) {
  switch (kind) {
    case Report::hello: {
      const auto [_, spawn_id, __, control] =
          report.as<std::tuple<int, std::uint64_t, int, SendPort>>();
      // Its control port is in the inbox we named for it.
      if (spawn_id == child.spawn_id && control.inbox_name() == child.inbox_name) {
        child.control = control;
      }
      break;
    }
    case Report::add_exit_listener: {
      auto [_, __, port, response] = report.as<std::tuple<int, int, SendPort, Message>>();
      std::erase_if(child.exit_listeners, [&](const auto& l) { return l.first == port; });
      child.exit_listeners.emplace_back(port, std::move(response));
      break;
    }
    case Report::remove_exit_listener: {
      const auto [_, __, port] = report.as<std::tuple<int, int, SendPort>>();
      std::erase_if(child.exit_listeners, [&](const auto& l) { return l.first == port; });
      break;
    }
    case Report::add_error_listener: {
      const auto [_, __, port] = report.as<std::tuple<int, int, SendPort>>();
      if (std::find(child.error_listeners.begin(), child.error_listeners.end(), port) ==
          child.error_listeners.end()) {
        child.error_listeners.push_back(port);
      }
      break;
    }
    case Report::remove_error_listener: {
      const auto [_, __, port] = report.as<std::tuple<int, int, SendPort>>();
      std::erase(child.error_listeners, port);
      break;
    }
    case Report::goodbye: {
      const auto [_, __, reported] = report.as<std::tuple<int, int, bool>>();
      child.said_goodbye = true;
      child.reported_its_errors = reported;
      break;
    }
  }
}

void Supervisor::State::serve() {
  // After a child ends, its own children die a moment later (their death
  // signal); look for their inboxes once now and once a second later.
  constexpr int kSecondSweepMs = 1000;
  bool sweep_pending = false;
  epoll_event events[16];
  for (;;) {
    const int ready = ::epoll_wait(epoll_fd, events, 16, sweep_pending ? kSecondSweepMs : -1);
    for (int i = 0; i < ready; ++i) end(events[i].data.fd);
    if (ready > 0) {
      bury_orphaned_inboxes();
      sweep_pending = true;
    } else if (ready == 0) {
      bury_orphaned_inboxes();
      sweep_pending = false;
    }
  }
}

void Supervisor::State::end_helper(int pid, int pidfd) {
  ::epoll_ctl(epoll_fd, EPOLL_CTL_DEL, pidfd, nullptr);
  siginfo_t info{};
  retry_on_eintr([&] { return ::waitid(P_PIDFD, static_cast<id_t>(pidfd), &info, WEXITED); });
  ::close(pidfd);
  std::function<void()> on_end;
  {
    std::lock_guard lock(mutex);
    on_end = std::move(children[pid].on_helper_end);
    children.erase(pid);
  }
  if (on_end) on_end();
}

void Supervisor::State::end(int pid) {
  int pidfd = -1;
  {
    std::lock_guard lock(mutex);
    const auto found = children.find(pid);
    if (found == children.end()) return;
    pidfd = found->second.pidfd;
  }
  // Look without reaping: the child is reaped only once its inbox is removed,
  // so whoever sees it gone also sees its segments gone.
  siginfo_t info{};
  if (retry_on_eintr([&] {
        return ::waitid(P_PIDFD, static_cast<id_t>(pidfd), &info, WEXITED | WNOWAIT);
      }) != 0) {
    return;
  }
  bool helper = false;
  {
    // Decided now that it has ended: a spare adopted until now is a child.
    std::lock_guard lock(mutex);
    Child& record = children[pid];
    helper = record.helper;
    if (helper) record.ended = true;  // adopt_spare refuses it from now on
  }
  if (helper) {
    end_helper(pid, pidfd);
    return;
  }

  ExitInfo exit;
  if (info.si_code == CLD_EXITED) {
    exit.exit_code = info.si_status;
  } else {
    exit.signal = info.si_status;
  }
  // Its last messages to us (its hello, a compute result, its goodbye) are in
  // our lanes: take them in before deciding anything. Its lane slots in our
  // inbox are free from then on.
  if (Runtime* runtime = Runtime::current()) runtime->take_last_messages_of(pid);
  std::string inbox_name;
  {
    std::lock_guard lock(mutex);
    inbox_name = children[pid].inbox_name;
  }
  // The name we gave it, not the one it told us: a child killed before its
  // hello, even before it wrote its doorbell, leaves nothing behind.
  exit.crash_report = bury_inbox(inbox_name, exit.signal.has_value());
  unlink_segment(inbox_name);
  // What we sent it and it never read is reclaimed.
  if (Runtime* runtime = Runtime::current()) runtime->outbox().abandon(inbox_name);
  // Reaped once its inbox is gone and before anyone is told: whoever learns of
  // the end finds the process and its segments gone.
  ::epoll_ctl(epoll_fd, EPOLL_CTL_DEL, pidfd, nullptr);
  retry_on_eintr([&] { return ::waitid(P_PIDFD, static_cast<id_t>(pidfd), &info, WEXITED); });
  ::close(pidfd);

  exit.description = "ended";  // refined below
  Child child;
  {
    std::lock_guard lock(mutex);
    Child& record = children[pid];
    child.said_goodbye = record.said_goodbye;
    child.reported_its_errors = record.reported_its_errors;
    child.exit_listeners = std::move(record.exit_listeners);
    child.error_listeners = std::move(record.error_listeners);
    child.on_end = std::move(record.on_end);
  }
  exit.clean = child.said_goodbye && exit.exit_code == 0;
  if (exit.signal) {
    exit.description = "was killed by " + describe_signal(*exit.signal);
  } else if (!child.said_goodbye) {
    exit.description = "exited with code " + std::to_string(*exit.exit_code) +
                       " without the runtime's goodbye (exit() or a failed start)";
  } else {
    exit.description = "exited with code " + std::to_string(*exit.exit_code);
  }

  Runtime* runtime = Runtime::current();
  if (runtime != nullptr && !exit.clean && !child.reported_its_errors) {
    std::vector<std::byte> bytes;
    encode(std::vector<std::string>{"isolate " + std::to_string(pid) + " " + exit.description,
                                    exit.crash_report},
           bytes);
    for (const auto& port : child.error_listeners) runtime->post(port, bytes, FrameKind::message);
  }
  if (runtime != nullptr) {
    for (const auto& [port, response] : child.exit_listeners) {
      runtime->post(port, response.bytes(), FrameKind::message);
    }
  }
  if (child.on_end) child.on_end(exit);
  {
    std::lock_guard lock(mutex);
    Child& record = children[pid];
    record.ended = true;
    record.end_description = exit.description;
    // A spawn still waiting for the hello reads it (or the description of the
    // end), then erases the record.
    if (record.hello_taken || record.abandoned) children.erase(pid);
  }
  changed.notify_all();
}

}  // namespace isolated::detail
