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
// lanes of producers that ended (Inbox::tidy).
constexpr auto kServiceSlice = std::chrono::milliseconds(250);
// How long the service thread stays out of the way once it saw a waiting
// thread, unless traffic is expected (expect_traffic). In a stream of
// receives, the receivers drain; the service thread must not make every
// producer ring it.
constexpr auto kServiceStepBack = std::chrono::milliseconds(100);
// A parked waiter looks at its deadline and the lanes of ended producers at
// least this often.
constexpr auto kParkSlice = std::chrono::milliseconds(250);
// The most frames one drain takes. A receiver that drains for itself gets its
// message sooner, and a stream's messages are decoded while still in the
// cache, not thousands at a time; what is left stays in the lanes.
constexpr std::size_t kDrainBatch = 256;
// The adaptive spin never goes below this: a spin that short costs nothing,
// and it catches a reply that is already on its way.
constexpr std::int64_t kMinSpinNs = 2000;

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
      spin_budget_ns_(std::chrono::nanoseconds(Inbox::default_spin()).count()),
      max_spin_ns_(std::chrono::nanoseconds(Inbox::default_spin()).count()),
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
  notify_waiters();  // a receiver waiting on it throws PortClosed
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

namespace {

// The receive this thread is waiting in, if any: a message for its port that
// this thread drains itself goes straight to it (see Runtime::take).
thread_local Runtime::Handoff* waiting_receive = nullptr;

}  // namespace

bool Runtime::take(std::uint64_t id, std::optional<Clock::time_point> deadline, Message& out) {
  std::unique_lock lock(mutex_);
  RingQueue<Message>* queue = nullptr;
  Handoff handoff;
  handoff.port = id;
  handoff.into = &out;
  const auto has_message = [&] {
    if (handoff.filled) return true;
    const auto port = ports_.find(id);
    if (port == ports_.end()) throw PortClosed("the port is closed");
    queue = &port->second.queue;
    return !queue->empty();
  };
  struct Waiting {
    explicit Waiting(Handoff& handoff) { waiting_receive = &handoff; }
    ~Waiting() { waiting_receive = nullptr; }
  } waiting(handoff);
  if (!await_locked(lock, has_message, deadline, &handoff.seen)) return false;
  if (!handoff.filled) queue->pop_front_into(out);
  return true;
}

void Runtime::listen(std::uint64_t id, std::function<void(Message)> handler) {
  std::lock_guard lock(mutex_);
  const auto port = ports_.find(id);
  if (port == ports_.end()) throw PortClosed("cannot listen on a closed port");
  if (!port->second.listener) ++listeners_;
  port->second.listener = std::move(handler);
  // Messages that arrived before listen() become events, in order.
  while (!port->second.queue.empty()) {
    events_.push_back(Event{id, port->second.queue.pop_front(), {}});
  }
  if (!config_.is_worker) ensure_event_thread_locked();
  notify_waiters();
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
    return true;
  }
  return outbox_.send(port.inbox_name(), port.port_id(), kind, 0, bytes) == SendResult::sent;
}

// ---------------------------------------------------------------- waiting

template <class Ready>
bool Runtime::await_locked(std::unique_lock<std::mutex>& lock, Ready ready,
                           std::optional<Clock::time_point> deadline, std::uint32_t* seen_out) {
  if (ready()) return true;
  awaiting_.fetch_add(1, std::memory_order_relaxed);
  struct Leave {
    std::atomic<int>& awaiting;
    ~Leave() { awaiting.fetch_sub(1, std::memory_order_relaxed); }
  } leave{awaiting_};
  for (;;) {
    // Under mutex_, just after ready() said no.
    const std::uint32_t seen = local_changes_.load(std::memory_order_acquire);
    if (seen_out != nullptr) *seen_out = seen;
    lock.unlock();
    if (!drain_now()) wait_for_work(seen, deadline);
    lock.lock();
    if (ready()) return true;
    if (deadline && Clock::now() >= *deadline) return false;
  }
}

bool Runtime::frames_waiting() {
  std::unique_lock drain(drain_mutex_, std::try_to_lock);
  if (drain) return inbox_.has_pending();
  // Whoever drains now wakes us when it is done (after_drain); it may have
  // finished between the two looks, so look once more.
  drain_contended_.store(true, std::memory_order_seq_cst);
  std::unique_lock again(drain_mutex_, std::try_to_lock);
  return again && inbox_.has_pending();
}

void Runtime::wait_for_work(std::uint32_t seen, std::optional<Clock::time_point> deadline) {
  const auto start = Clock::now();
  if (deadline && start >= *deadline) return;
  const auto changed = [&] { return local_changes_.load(std::memory_order_acquire) != seen; };

  // Spin: a reply that is on its way arrives within the budget, and catching
  // it here saves a wake-up (~30 µs across CPUs on a VM whose idle CPUs halt).
  const std::int64_t budget = spin_budget_ns_.load(std::memory_order_relaxed);
  auto spin_end = start + std::chrono::nanoseconds(budget);
  if (deadline) spin_end = std::min(spin_end, *deadline);
  SpinStep spin_step;
  for (unsigned round = 1;; ++round) {
    // Frames seen are drained here at once, while the lane's lines are warm.
    if (changed() || drain_if_frames()) {
      // Caught while spinning: spin at least twice this long next time (a
      // catch within the first rounds needs no clock to say so).
      if (round > 16) {
        const auto waited = std::chrono::nanoseconds(Clock::now() - start).count();
        spin_budget_ns_.store(std::clamp(std::max(budget, 2 * waited), kMinSpinNs, max_spin_ns_),
                              std::memory_order_relaxed);
      }
      return;
    }
    spin_step();
    if (round % 16 == 0 && Clock::now() >= spin_end) break;
  }

  // Park until a producer rings or a local change wakes us.
  const auto now = Clock::now();
  const auto slice = deadline ? std::min<Clock::duration>(*deadline - now, kParkSlice)
                              : Clock::duration(kParkSlice);
  if (slice > Clock::duration::zero()) inbox_.park(slice, [&] { return changed() || frames_waiting(); });
  // Adapt: had we spun as long as this wait lasted, would it have caught it?
  // Then spin that long (up to the maximum); if not, halve the budget, so an
  // isolate that nothing talks to stops spinning.
  const auto waited = std::chrono::nanoseconds(Clock::now() - start).count();
  const std::int64_t next = waited < max_spin_ns_ ? 2 * waited : budget / 2;
  spin_budget_ns_.store(std::clamp(next, kMinSpinNs, max_spin_ns_), std::memory_order_relaxed);
}

void Runtime::notify_waiters() noexcept {
  local_changes_.fetch_add(1, std::memory_order_seq_cst);
  inbox_.wake_sleepers();
}

void Runtime::expect_traffic() {
  if (expecting_.fetch_add(1, std::memory_order_seq_cst) == 0) {
    // The service thread may be stepping back; it must drain now.
    std::lock_guard lock(service_mutex_);
    service_wake_.notify_one();
  }
}

void Runtime::done_expecting() noexcept { expecting_.fetch_sub(1, std::memory_order_relaxed); }

// --------------------------------------------------------------- draining

bool Runtime::drain_if_frames() {
  {
    std::unique_lock drain(drain_mutex_, std::try_to_lock);
    // Taken: another thread drains now, and its dispatch changes what we see.
    if (!drain || !inbox_.has_pending()) return false;
    drain_locked();
  }
  after_drain();
  return true;
}

bool Runtime::drain_now() {
  bool took = false;
  {
    std::unique_lock drain(drain_mutex_, std::try_to_lock);
    if (!drain) return false;
    took = drain_locked();
  }
  after_drain();
  return took;
}

void Runtime::after_drain() noexcept {
  // Pairs with the store in frames_waiting: either it saw the mutex free, or
  // we see its flag.
  std::atomic_thread_fence(std::memory_order_seq_cst);
  if (drain_contended_.load(std::memory_order_relaxed) &&
      drain_contended_.exchange(false, std::memory_order_acq_rel)) {
    inbox_.wake_sleepers();
  }
}

bool Runtime::drain_locked() {
  drained_controls_.clear();
  drained_reports_.clear();
  drained_direct_.clear();
  bool queued = false;
  std::size_t taken = 0;
  {
    // Messages go straight to their port's queue (or to the waiting receive,
    // or an event), decoded once into place, under one lock for the batch.
    std::lock_guard lock(mutex_);
    std::uint64_t last_id = 0;
    PortState* last_port = nullptr;
    Handoff* const receive = waiting_receive;
    taken = inbox_.drain([&](Delivery&& delivery) {
      const auto decode = [&](Message& into) {
        try {
          // Bytes in the lane are copied out of the sender's memory before
          // they are parsed; an out-of-line message is a private copy already
          // (Delivery::owner), referred to as it is.
          decode_message_into(into, delivery.bytes, delivery.owner);
          into.adopt_transferables();
          return true;
        } catch (const Error& e) {
          std::fprintf(stderr, "isolated: dropped a malformed message from process %d: %s\n",
                       delivery.producer_pid, e.what());
          return false;
        }
      };
      if (delivery.kind == FrameKind::control || delivery.port == kSupervisorPortId) {
        // Handled below, without the lock.
        auto& list = delivery.kind == FrameKind::control ? drained_controls_ : drained_reports_;
        if (!decode(list.emplace_back())) list.pop_back();
        return;
      }
      if (receive != nullptr && receive->port == delivery.port && !receive->filled &&
          local_changes_.load(std::memory_order_acquire) == receive->seen) {
        // For the receive this very thread waits in, whose port's queue was
        // empty when it looked (nothing was queued, listened to or closed
        // since: each of those bumps local_changes_): decoded straight into
        // what receive() returns.
        receive->filled = decode(*receive->into);
        return;
      }
      if (delivery.port != last_id || last_port == nullptr) {
        const auto port = ports_.find(delivery.port);
        last_id = delivery.port;
        last_port = port == ports_.end() ? nullptr : &port->second;
      }
      if (last_port != nullptr && !last_port->direct && !last_port->listener) {
        // The common case: decoded straight into its place in the queue.
        Message& slot = last_port->queue.emplace_back();
        if (decode(slot)) {
          queued = true;
        } else {
          last_port->queue.pop_back();
        }
        return;
      }
      Message message;
      if (!decode(message)) return;
      // A closed port's messages are dropped, as in Dart (decoded all the
      // same, so the transferables they carry are freed).
      if (last_port == nullptr) return;
      if (last_port->direct) {
        drained_direct_.emplace_back(last_port->direct, std::move(message));
      } else {
        events_.push_back(Event{delivery.port, std::move(message), {}});
        queued = true;
      }
    }, kDrainBatch);
  }
  if (queued) notify_waiters();
  // Control first (DESIGN §3.4): before any handler runs or anyone takes the
  // messages just queued.
  for (const auto& command : drained_controls_) apply_control(command);
  // Outside the lock: a handler may close its port or send.
  for (auto& [handler, message] : drained_direct_) call_direct_handler(*handler, std::move(message));
  if (!drained_reports_.empty()) {
    std::function<void(Message)> handler;
    {
      std::lock_guard lock(mutex_);
      handler = supervisor_handler_;
    }
    for (auto& message : drained_reports_) {
      if (handler) handler(std::move(message));
    }
  }
  return taken > 0;
}

void Runtime::dispatch(std::vector<std::pair<std::uint64_t, Message>>& batch) {
  std::vector<std::pair<DirectHandler, Message>> direct;
  bool queued = false;
  {
    std::lock_guard lock(mutex_);
    for (auto& [id, message] : batch) {
      const auto port = ports_.find(id);
      if (port == ports_.end()) continue;  // closed: dropped, as in Dart
      if (port->second.direct) {
        direct.emplace_back(port->second.direct, std::move(message));
      } else if (port->second.listener) {
        events_.push_back(Event{id, std::move(message), {}});
        queued = true;
      } else {
        port->second.queue.push_back(std::move(message));
        queued = true;
      }
    }
  }
  if (queued) notify_waiters();
  // Outside the lock: a handler may close its port or send.
  for (auto& [handler, message] : direct) call_direct_handler(*handler, std::move(message));
}

void Runtime::call_direct_handler(const std::function<void(Message)>& handler, Message message) {
  try {
    handler(std::move(message));
  } catch (const std::exception& e) {
    std::fprintf(stderr, "isolated: a direct port's handler failed: %s\n", e.what());
  }
}

void Runtime::take_last_messages_of(int pid) {
  {
    std::lock_guard drain(drain_mutex_);  // a drain in progress is short
    drain_locked();
    inbox_.release_lanes_of(pid);
  }
  after_drain();
}

void Runtime::service_loop() {
  for (;;) {
    if (awaiting_.load(std::memory_order_relaxed) > 0 &&
        expecting_.load(std::memory_order_seq_cst) == 0) {
      // A waiting thread drains; stay out of its way (see runtime.hpp).
      std::unique_lock lock(service_mutex_);
      service_wake_.wait_for(lock, kServiceStepBack,
                             [&] { return expecting_.load(std::memory_order_seq_cst) > 0; });
      continue;
    }
    try {
      if (!drain_now()) {
        inbox_.park(kServiceSlice, [&] {
          return frames_waiting() || (awaiting_.load(std::memory_order_relaxed) > 0 &&
                                      expecting_.load(std::memory_order_relaxed) == 0);
        });
        std::lock_guard drain(drain_mutex_);
        inbox_.tidy();
      }
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
  await_locked(lock, [&] { return pause_tokens_.empty(); }, std::nullopt);
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
      await_locked(lock, [&] {
        return (kill_requested_ && pause_tokens_.empty()) || events_runnable_locked() ||
               (config_.is_worker && listeners_ == 0 && events_.empty() && pause_tokens_.empty());
      }, std::nullopt);
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
