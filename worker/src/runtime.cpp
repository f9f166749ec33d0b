#include "runtime.hpp"

#include "throw_trace.hpp"
#include "common/src/os/random.hpp"

#include <isolated/error.hpp>

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <exception>

namespace isolated::detail {
namespace {

std::atomic<Runtime*> the_runtime{nullptr};

// How long the service thread sleeps on the doorbell between looks at the
// other work it has (it is interrupted whenever a receiver wants the role).
constexpr auto kServiceSlice = std::chrono::milliseconds(100);
// A receiver re-checks its deadline at least this often.
constexpr auto kReceiveSlice = std::chrono::milliseconds(50);

Inbox::Options inbox_options(const RuntimeConfig& config) {
  Inbox::Options options;
  options.debug_name = config.debug_name;
  options.parent_pid = config.parent_pid;
  options.name = config.inbox_name;
  return options;
}

}  // namespace

Runtime& Runtime::start(RuntimeConfig config) {
  if (the_runtime.load() != nullptr) throw UsageError("isolated::init was called twice");
  auto* runtime = new Runtime(std::move(config));
  the_runtime.store(runtime);
  runtime->service_thread_ = std::thread([runtime] { runtime->service_loop(); });
  return *runtime;
}

Runtime* Runtime::current() noexcept { return the_runtime.load(); }

Runtime& Runtime::require() {
  Runtime* runtime = current();
  if (runtime == nullptr) {
    throw UsageError(
        "isolated: this process has no isolate runtime; call isolated::init(argc, argv) first "
        "thing in main");
  }
  return *runtime;
}

Runtime::Runtime(RuntimeConfig config)
    : config_(std::move(config)),
      inbox_(inbox_options(config_)),
      outbox_(Outbox::Options{config_.lane_bytes}),
      errors_fatal_(config_.errors_are_fatal) {
  ports_[kControlPortId];
  ports_[kSupervisorPortId];
  if (config_.start_paused) pause_tokens_.insert(config_.pause_capability.bytes());
}

Isolate Runtime::current_isolate() const {
  return known_isolate(control_port(), config_.pause_capability, config_.terminate_capability,
                       static_cast<int>(::getpid()), config_.debug_name);
}

// ------------------------------------------------------------------ ports

std::uint64_t Runtime::new_port_id_locked() const {
  // Unguessable: any isolate of this user can write to this inbox, and a
  // port's number is all it needs to post to the port. Only the ports given
  // out (in messages) can be written to then.
  for (;;) {
    std::uint64_t id = 0;
    fill_random(std::as_writable_bytes(std::span(&id, 1)));
    if (id >= kFirstUserPortId && !ports_.contains(id)) return id;
  }
}

std::uint64_t Runtime::open_port() {
  std::lock_guard lock(mutex_);
  const std::uint64_t id = new_port_id_locked();
  ports_[id];
  return id;
}

void Runtime::close_port(std::uint64_t id) {
  std::lock_guard lock(mutex_);
  const auto found = ports_.find(id);
  if (found == ports_.end()) return;
  if (found->second.listener) --listeners_;
  ports_.erase(found);
  // Events of a closed port are dropped with it.
  std::erase_if(events_, [id](const Event& e) { return e.port == id; });
  changed_.notify_all();
}

std::uint64_t Runtime::open_direct_port(std::function<void(Message)> on_message) {
  auto direct = std::make_shared<const std::function<void(Message)>>(std::move(on_message));
  std::lock_guard lock(mutex_);
  const std::uint64_t id = new_port_id_locked();
  ports_[id].direct = std::move(direct);
  return id;
}

bool Runtime::port_open(std::uint64_t id) {
  std::lock_guard lock(mutex_);
  return ports_.contains(id);
}

std::optional<Message> Runtime::take(std::uint64_t id, std::optional<Clock::time_point> deadline) {
  std::unique_lock lock(mutex_);
  ++waiting_receivers_;
  // The service thread steps aside while receivers wait (service_loop); the
  // last one to leave wakes it, or the inbox went undrained until its next
  // look, up to kServiceSlice later.
  struct Leave {
    Runtime& runtime;
    ~Leave() {
      if (--runtime.waiting_receivers_ == 0) runtime.changed_.notify_all();
    }
  } leave{*this};
  bool looked_once = false;
  for (;;) {
    const auto port = ports_.find(id);
    if (port == ports_.end()) throw PortClosed("the port is closed");
    if (!port->second.queue.empty()) {
      Message message = std::move(port->second.queue.front());
      port->second.queue.pop_front();
      return message;
    }
    const auto now = Clock::now();
    const bool expired = deadline && now >= *deadline;
    if (expired && looked_once) return std::nullopt;
    const auto slice_end = deadline ? std::min(*deadline, now + kReceiveSlice) : now + kReceiveSlice;
    if (expired) {
      // Out of time (or try_receive): one look at the lanes without waiting,
      // if nobody else is draining them.
      looked_once = true;
      if (drainer_active_ || drain_requests_ > 0) return std::nullopt;
    }
    if (!drainer_active_ && drain_requests_ == 0) {
      // Take the drainer role: spin on the lanes, sleep on the doorbell, drain.
      drain_in_role(lock, expired ? Clock::duration::zero() : slice_end - now);
    } else {
      // The service thread yields the role to receivers.
      if (service_draining_) inbox_.interrupt();
      changed_.wait_until(lock, slice_end);
    }
  }
}

void Runtime::listen(std::uint64_t id, std::function<void(Message)> handler) {
  std::lock_guard lock(mutex_);
  const auto port = ports_.find(id);
  if (port == ports_.end()) throw PortClosed("cannot listen on a closed port");
  if (!port->second.listener) ++listeners_;
  port->second.listener = std::move(handler);
  // Messages that arrived before listen() become events, in order.
  while (!port->second.queue.empty()) {
    events_.push_back(Event{id, std::move(port->second.queue.front()), {}});
    port->second.queue.pop_front();
  }
  if (!config_.is_worker) ensure_event_thread_locked();
  changed_.notify_all();
}

bool Runtime::post(const SendPort& port, std::span<const std::byte> bytes, FrameKind kind) {
  if (!port.valid()) throw UsageError("cannot send to an invalid SendPort (default-constructed)");
  if (port.inbox_name() == inbox_.name()) {
    // A port of this very isolate: no lane needed.
    Message message = Message::decode(bytes);
    message.adopt_transferables();
    if (kind == FrameKind::control) {
      apply_control(message);
      return true;
    }
    std::vector<std::pair<std::uint64_t, Message>> batch;
    {
      std::lock_guard lock(mutex_);
      if (!ports_.contains(port.port_id())) return false;
    }
    batch.emplace_back(port.port_id(), std::move(message));
    dispatch(batch);
    // A receiver that holds the drainer role sleeps on the doorbell, not on
    // changed_: wake it, or it sees the message only when its slice ends.
    bool draining = false;
    {
      std::lock_guard lock(mutex_);
      draining = drainer_active_;
    }
    if (draining) inbox_.interrupt();
    return true;
  }
  return outbox_.send(port.inbox_name(), port.port_id(), kind, 0, bytes) == SendResult::sent;
}

// --------------------------------------------------------------- draining

void Runtime::drain_as_drainer() {
  std::vector<std::pair<std::uint64_t, Message>> batch;
  std::vector<Message> controls;
  std::vector<Message> supervisor;
  inbox_.drain([&](Delivery&& delivery) {
    Message message;
    try {
      // Copies the bytes out of the sender's memory before parsing them.
      message = Message::decode(delivery.bytes);
      message.adopt_transferables();
    } catch (const Error& e) {
      std::fprintf(stderr, "isolated: dropped a malformed message from process %d: %s\n",
                   delivery.producer_pid, e.what());
      return;
    }
    if (delivery.kind == FrameKind::control) {
      controls.push_back(std::move(message));
    } else if (delivery.port == kSupervisorPortId) {
      supervisor.push_back(std::move(message));
    } else {
      batch.emplace_back(delivery.port, std::move(message));
    }
  });
  // Control first: it bypasses the message queues (DESIGN §3.4).
  for (const auto& command : controls) apply_control(command);
  if (!batch.empty()) dispatch(batch);
  if (!supervisor.empty()) {
    std::function<void(Message)> handler;
    {
      std::lock_guard lock(mutex_);
      handler = supervisor_handler_;
    }
    for (auto& message : supervisor) {
      if (handler) handler(std::move(message));
    }
  }
}

void Runtime::dispatch(std::vector<std::pair<std::uint64_t, Message>>& batch) {
  std::vector<std::pair<DirectHandler, Message>> direct;
  {
    std::lock_guard lock(mutex_);
    for (auto& [id, message] : batch) {
      const auto port = ports_.find(id);
      if (port == ports_.end()) continue;  // closed: dropped, as in Dart
      if (port->second.direct) {
        direct.emplace_back(port->second.direct, std::move(message));
      } else if (port->second.listener) {
        events_.push_back(Event{id, std::move(message), {}});
      } else {
        port->second.queue.push_back(std::move(message));
      }
    }
    changed_.notify_all();
  }
  // Outside the lock: a handler may close its port or send.
  for (auto& [handler, message] : direct) {
    try {
      (*handler)(std::move(message));
    } catch (const std::exception& e) {
      std::fprintf(stderr, "isolated: a direct port's handler failed: %s\n", e.what());
    }
  }
}

void Runtime::drain_in_role(std::unique_lock<std::mutex>& lock, Clock::duration wait,
                            int ended_producer) {
  drainer_active_ = true;
  lock.unlock();
  // Whatever happens while draining, the role is given back, under the lock.
  struct GiveBack {
    Runtime& runtime;
    std::unique_lock<std::mutex>& lock;
    ~GiveBack() {
      lock.lock();
      runtime.drainer_active_ = false;
      runtime.service_draining_ = false;
      runtime.changed_.notify_all();
    }
  } give_back{*this, lock};
  if (wait > Clock::duration::zero()) inbox_.wait(wait);
  drain_as_drainer();
  if (ended_producer != 0) inbox_.release_lanes_of(ended_producer);
}

void Runtime::take_last_messages_of(int pid) {
  std::unique_lock lock(mutex_);
  // Receivers let a drain request go first, and whoever drains now is woken.
  ++drain_requests_;
  while (drainer_active_) {
    inbox_.interrupt();
    changed_.wait_for(lock, std::chrono::milliseconds(10));
  }
  --drain_requests_;
  drain_in_role(lock, Clock::duration::zero(), pid);
}

void Runtime::service_loop() {
  std::unique_lock lock(mutex_);
  for (;;) {
    // Receivers and drain requests go first.
    if (drainer_active_ || waiting_receivers_ > 0 || drain_requests_ > 0) {
      changed_.wait_for(lock, kServiceSlice);
      continue;
    }
    service_draining_ = true;
    try {
      drain_in_role(lock, kServiceSlice);
    } catch (const std::exception& e) {
      std::fprintf(stderr, "isolated: the runtime's service thread: %s\n", e.what());
    }
  }
}

void Runtime::set_supervisor_handler(std::function<void(Message)> handler) {
  std::lock_guard lock(mutex_);
  supervisor_handler_ = std::move(handler);
}

// ----------------------------------------------------------------- events

bool Runtime::events_runnable_locked() const { return !events_.empty() && pause_tokens_.empty(); }

void Runtime::wait_while_paused() {
  std::unique_lock lock(mutex_);
  changed_.wait(lock, [&] { return pause_tokens_.empty(); });
  // A kill before the next event, sent while paused, takes effect now: the
  // entry is the isolate's first event.
  if (kill_requested_) {
    lock.unlock();
    exit_process(0);
  }
}

void Runtime::ensure_event_thread_locked() {
  if (event_thread_.joinable()) return;
  event_thread_ = std::thread([this] {
    for (;;) run_event_loop();
  });
}

void Runtime::run_event_loop() {
  for (;;) {
    Event event;
    std::function<void(Message)> handler;
    {
      std::unique_lock lock(mutex_);
      // A kill before the next event waits, like events, while paused.
      changed_.wait(lock, [&] {
        return (kill_requested_ && pause_tokens_.empty()) || events_runnable_locked() ||
               (config_.is_worker && listeners_ == 0 && events_.empty() && pause_tokens_.empty());
      });
      if (kill_requested_ && pause_tokens_.empty()) {
        lock.unlock();
        exit_process(0);
      }
      if (!events_runnable_locked()) return;  // a worker with nothing left to listen to
      event = std::move(events_.front());
      events_.pop_front();
      if (event.port != 0) {
        const auto port = ports_.find(event.port);
        if (port == ports_.end() || !port->second.listener) continue;
        handler = port->second.listener;
      }
    }
    if (event.port == 0) {  // a ping with priority before_next_event
      post(event.ping_port, event.message.bytes(), FrameKind::message);
      continue;
    }
    try {
      handler(std::move(event.message));
    } catch (const std::exception& e) {
      if (report_uncaught_error(e.what(), last_throw_trace())) exit_process(70);
    } catch (...) {
      if (report_uncaught_error("a non-std::exception was thrown by a listener",
                                last_throw_trace())) {
        exit_process(70);
      }
    }
  }
}

bool Runtime::report_uncaught_error(const std::string& description, const std::string& stack) {
  std::vector<SendPort> listeners;
  bool fatal = false;
  {
    std::lock_guard lock(mutex_);
    listeners = error_listeners_;
    fatal = errors_fatal_;
  }
  std::vector<std::byte> bytes;
  encode(std::vector<std::string>{description, stack}, bytes);
  for (const auto& port : listeners) post(port, bytes, FrameKind::message);
  if (listeners.empty() && fatal) {
    std::fprintf(stderr, "isolated: uncaught error in isolate '%s' (pid %d): %s\n",
                 config_.debug_name.c_str(), static_cast<int>(::getpid()), description.c_str());
  }
  return fatal;
}

}  // namespace isolated::detail
