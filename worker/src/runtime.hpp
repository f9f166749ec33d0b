// The isolate runtime: one per process (root or worker). It owns the inbox
// and the outbox, the ports, the event queue and the control state, and it
// drains the inbox (DESIGN §3.4, §5).
//
// Draining. Any thread may drain the inbox into the ports' queues, one at a
// time (drain_mutex_), and a drain never waits: it takes what the lanes hold
// and returns. Waiting is separate (await_locked): a thread that waits for
// something the inbox brings (a receive, the next event, a resume) drains
// itself, spins on the lanes for an adaptive time, then parks on the doorbell.
// So a receiver takes its message from the lane itself, and no other thread
// stands between them.
//
// The service thread drains when nobody waits, so that control commands and
// replies are handled while the isolate's own code is busy. While some thread
// waits, the service thread steps back (it does not sleep on the doorbell,
// where producers would have to ring it): it looks again every
// kServiceStepBack, or at once when the runtime expects traffic nobody waits
// for (expect_traffic: a spawn's hello, a compute's reply).
//
// Events. A port with a listener turns its messages into events; events run
// one at a time on the event thread (a worker's main thread once its entry has
// returned; a thread of the runtime in the root), and pause holds them back.
#pragma once

#include "ring_queue.hpp"
#include "common/src/transport/inbox.hpp"
#include "common/src/transport/outbox.hpp"

#include <isolated/capability.hpp>
#include <isolated/isolate.hpp>
#include <isolated/message.hpp>
#include <isolated/send_port.hpp>

#include <chrono>
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <unordered_map>
#include <utility>
#include <vector>

namespace isolated::detail {

// Port ids every inbox has.
inline constexpr std::uint64_t kControlPortId = 1;
inline constexpr std::uint64_t kSupervisorPortId = 2;
inline constexpr std::uint64_t kFirstUserPortId = 16;

struct RuntimeConfig {
  std::string debug_name;
  std::string inbox_name;  // chosen by the parent; empty for a root
  bool is_worker = false;
  int parent_pid = 0;
  std::optional<SendPort> parent_supervisor;  // where a worker reports to its parent
  std::uint32_t lane_bytes = kDefaultLaneCapacity;
  bool errors_are_fatal = true;
  Capability pause_capability;
  Capability terminate_capability;
  bool start_paused = false;
};

class Runtime {
 public:
  using Clock = std::chrono::steady_clock;

  // Starts this process's runtime. Throws isolated::Error if it runs already.
  static Runtime& start(RuntimeConfig config);
  // This process's runtime, or null before start().
  static Runtime* current() noexcept;
  // This process's runtime; throws isolated::Error saying to call init().
  static Runtime& require();

  Runtime(const Runtime&) = delete;
  Runtime& operator=(const Runtime&) = delete;

  const RuntimeConfig& config() const noexcept { return config_; }
  const std::string& inbox_name() const noexcept { return inbox_.name(); }
  SendPort control_port() const { return SendPort(inbox_.name(), kControlPortId); }
  SendPort supervisor_port() const { return SendPort(inbox_.name(), kSupervisorPortId); }
  Isolate current_isolate() const;
  Inbox& inbox() noexcept { return inbox_; }
  Outbox& outbox() noexcept { return outbox_; }

  // A receive waiting in take(), which the waiting thread's own drain may
  // hand a message to directly (runtime.cpp).
  struct Handoff {
    std::uint64_t port = 0;
    std::uint32_t seen = 0;  // local_changes_ when the port's queue was seen empty
    Message* into = nullptr;  // where the message goes: receive()'s return value
    bool filled = false;
  };

  // ---- ports
  std::uint64_t open_port();
  void close_port(std::uint64_t id);
  bool port_open(std::uint64_t id);
  // The next message of port `id` into `out`, waiting until `deadline`
  // (forever if none). False on timeout; throws PortClosed once the port is
  // closed. (`out` rather than a return value: receive() returns it with no
  // move in between.)
  bool take(std::uint64_t id, std::optional<Clock::time_point> deadline, Message& out);
  void listen(std::uint64_t id, std::function<void(Message)> handler);
  // A port whose messages are never queued: each one is handed to
  // `on_message` as soon as it arrives, on the thread that drains the inbox
  // (as the supervisor's reports are), with no lock held. compute's reply
  // port: its result settles the future without waiting for the worker to
  // end. `on_message` must be quick and must not wait for messages; it may
  // close the port. Close it with close_port.
  std::uint64_t open_direct_port(std::function<void(Message)> on_message);

  // Sends encoded bytes to `port` as a frame of `kind`. False when the port
  // is known gone.
  bool post(const SendPort& port, std::span<const std::byte> bytes, FrameKind kind);

  // At the end of process `pid` (the supervisor, for a child that ended):
  // drains whatever is in the inbox now (waiting for a drain in progress to
  // finish), so the child's last messages are in; then frees the lane slots
  // the child used (see Inbox::release_lanes_of).
  void take_last_messages_of(int pid);

  // Says that traffic is coming that no thread may be waiting for in a
  // receive (a reply that settles a future, a spawn's hello): while any such
  // expectation is open, the service thread drains without delay even if a
  // receiver waited a moment ago. Pair with done_expecting().
  void expect_traffic();
  void done_expecting() noexcept;

  // Frames to the supervisor port go to this handler (set by the spawning
  // side), called on the draining thread.
  void set_supervisor_handler(std::function<void(Message)> handler);

  // ---- the isolate's life
  // Blocks while the isolate is paused (a worker spawned paused waits here
  // before its entry).
  void wait_while_paused();
  // Runs events until no port has a listener or a kill takes effect.
  void run_event_loop();
  // Reports an uncaught error to the error listeners; true if it is fatal.
  bool report_uncaught_error(const std::string& description, const std::string& stack);
  // Says goodbye to the parent (a clean exit) and ends the process.
  [[noreturn]] void exit_process(int code);
  // Runs first in exit_process, once (the spawning side ends its zygote
  // there, so that a worker leaves no orphan behind).
  void set_before_exit(std::function<void()> step);

  // Control commands, decoded from the control port.
  void apply_control(const Message& command);

 private:
  explicit Runtime(RuntimeConfig config);
  ~Runtime() = delete;  // lives until the process ends

  using DirectHandler = std::shared_ptr<const std::function<void(Message)>>;
  struct PortState {
    RingQueue<Message> queue;
    std::function<void(Message)> listener;
    DirectHandler direct;  // set for a direct port: its messages skip the queue
  };
  struct Event {
    std::uint64_t port = 0;     // 0: not a message but a ping response to send
    Message message;
    SendPort ping_port;
  };

  void service_loop();

  // Waits, with mutex_ held through `lock` (released while waiting), until
  // `ready()` holds (checked under mutex_) or `deadline` passes; returns
  // ready(). The waiting thread drains the inbox itself (see above).
  // `seen_out`, if given, gets the value of local_changes_ read under mutex_
  // each time ready() said no (Handoff::seen).
  template <class Ready>
  bool await_locked(std::unique_lock<std::mutex>& lock, Ready ready,
                    std::optional<Clock::time_point> deadline, std::uint32_t* seen_out = nullptr);
  // Spins for the adaptive budget, then parks on the doorbell, until frames
  // are in the lanes, local_changes_ differs from `seen`, or `deadline`.
  void wait_for_work(std::uint32_t seen, std::optional<Clock::time_point> deadline);
  // Whether the lanes hold frames to drain (a drain in progress counts as
  // "no": its drainer wakes sleepers when it is done).
  bool frames_waiting();
  // Drains if no other thread is draining; whether it took any frame.
  bool drain_now();
  // Drains if the lanes hold frames and no other thread is draining; whether
  // it did (cheaper than drain_now when they are empty: no lane is walked).
  bool drain_if_frames();
  // With drain_mutex_ held: takes every frame, applies control commands and
  // dispatches messages; whether it took any frame.
  bool drain_locked();
  // After releasing drain_mutex_: wakes parked threads that found it taken.
  void after_drain() noexcept;
  void dispatch(std::vector<std::pair<std::uint64_t, Message>>& batch);
  static void call_direct_handler(const std::function<void(Message)>& handler, Message message);
  // Something a waiting thread may wait for changed (call after the change).
  void notify_waiters() noexcept;
  void ensure_event_thread_locked();
  std::uint64_t new_port_id_locked() const;
  void forward_to_parent(const Message& command);
  bool events_runnable_locked() const;

  RuntimeConfig config_;
  Inbox inbox_;
  Outbox outbox_;

  std::mutex mutex_;
  std::unordered_map<std::uint64_t, PortState> ports_;

  // Draining (see above).
  std::mutex drain_mutex_;  // held only while draining, never while waiting
  // Reused by every drain, under drain_mutex_.
  std::vector<Message> drained_controls_;
  std::vector<Message> drained_reports_;
  std::vector<std::pair<std::shared_ptr<const std::function<void(Message)>>, Message>>
      drained_direct_;
  std::atomic<bool> drain_contended_{false};  // a parked thread found drain_mutex_ taken
  std::atomic<std::uint32_t> local_changes_{0};
  std::atomic<int> awaiting_{0};   // threads in await_locked
  std::atomic<int> expecting_{0};  // open expect_traffic() calls
  std::mutex service_mutex_;
  std::condition_variable service_wake_;
  std::atomic<std::int64_t> spin_budget_ns_;
  std::int64_t max_spin_ns_;

  std::deque<Event> events_;
  std::size_t listeners_ = 0;
  std::set<Capability::Bytes> pause_tokens_;  // resume capabilities, by their bits
  bool kill_requested_ = false;
  bool errors_fatal_;
  std::vector<std::pair<SendPort, Message>> exit_listeners_;
  std::vector<SendPort> error_listeners_;
  std::function<void(Message)> supervisor_handler_;
  std::function<void()> before_exit_;

  std::thread service_thread_;
  std::thread event_thread_;  // the root's; a worker runs events on its main thread
};

// Holds a Runtime::expect_traffic() open while it lives, or until release().
class ExpectedTraffic {
 public:
  explicit ExpectedTraffic(Runtime& runtime) : runtime_(&runtime) { runtime.expect_traffic(); }
  ExpectedTraffic(const ExpectedTraffic&) = delete;
  ExpectedTraffic& operator=(const ExpectedTraffic&) = delete;
  ~ExpectedTraffic() { release(); }
  // Closes the expectation now; later calls do nothing. Any thread.
  void release() noexcept {
    if (Runtime* runtime = runtime_.exchange(nullptr)) runtime->done_expecting();
  }

 private:
  std::atomic<Runtime*> runtime_;
};

}  // namespace isolated::detail
