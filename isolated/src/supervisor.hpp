// The parent's watch over its children (DESIGN §6): one thread waits on a
// pidfd per child. When a child ends it is reaped at once, its inbox is marked
// dead and removed, its last messages are drained, its exit listeners fire,
// its error listeners learn why if the end was abnormal (with the crash
// report), and whoever waits on it (compute) is told how it ended.
#pragma once

#include <isolated/compute.hpp>
#include <isolated/message.hpp>
#include <isolated/send_port.hpp>

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>

namespace isolated::detail {

// What the supervisor is told of a child it is to watch.
struct ChildWatch {
  std::uint64_t spawn_id = 0;
  std::string inbox_name;  // as its boot record names it
  std::optional<SendPort> on_exit;
  std::optional<SendPort> on_error;
  std::function<void(const ExitInfo&)> on_end;
};

class Supervisor {
 public:
  // The supervisor of this process, started on first use.
  static Supervisor& get();

  // Starts watching a child that was just launched (exec'd).
  void watch(int pid, const ChildWatch& watch);

  // Watches a helper child of the spawning side: the zygote, or a spare it
  // pre-forked (zygote_client.hpp). When it ends it is reaped, nobody is
  // told but `on_end` (called on the supervisor's thread), and it leaves no
  // inbox to remove.
  void watch_helper(int pid, std::function<void()> on_end = {});

  // A spare, watched as a helper, that is about to get its boot record
  // becomes a watched child. False if it has ended (and been reaped)
  // already: then it is no child of ours any more.
  bool adopt_spare(int pid, const ChildWatch& watch);

  // Waits for the child's hello. Returns its control port; throws
  // IsolateSpawnError if the child ends first or `timeout` passes (and then
  // kills it).
  SendPort wait_for_hello(int pid, std::chrono::milliseconds timeout);

  // The runtime hands over every report that arrives on the supervisor port.
  void on_report(Message report);

  // Makes this process's runtime hand its supervisor-port reports to
  // on_report. Idempotent; isolated::init and every spawn call it.
  static void attach_to_runtime();

 private:
  Supervisor();
  struct State;
  State* state_;
};

}  // namespace isolated::detail
