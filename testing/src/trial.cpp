// run_isolated's trial: spawn through the library's one-shot path (the same
// as compute: a reply port, the supervisor's ExitInfo), with the output piped
// to us, no core file and a process group of its own; then wait for its end,
// reading its output meanwhile, and kill it at the deadline.
#include "output_capture.hpp"

#include "common/src/os/syscall.hpp"
#include "common/src/os/unique_fd.hpp"
#include "isolated/src/spawn.hpp"

#include <isolated/testing.hpp>

#include <poll.h>
#include <signal.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <condition_variable>
#include <memory>
#include <mutex>
#include <vector>

namespace isolated::testing::detail {
namespace {

using Clock = std::chrono::steady_clock;
using isolated::detail::checked;
using isolated::detail::ExitInfo;
using isolated::detail::retry_on_eintr;
using isolated::detail::UniqueFd;

// How long a killed trial may take to be reaped before we stop waiting.
constexpr auto kReapGrace = std::chrono::seconds(10);
// How long output may still come after the end (from what the trial started).
constexpr auto kOutputGrace = std::chrono::milliseconds(200);

// What the library's threads tell the trial's thread: the reply (on the
// draining thread) and the end (on the supervisor's). The end also rings an
// eventfd, so the trial's thread can wait on it and the output at once.
class TrialEnd {
 public:
  TrialEnd()
      : bell_(checked("eventfd for a trial",
                      [] { return ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK); })) {}

  int bell() const noexcept { return bell_.get(); }

  void on_reply(Message reply) {
    std::lock_guard lock(mutex_);
    if (!reply_) reply_ = std::move(reply);
  }

  void on_end(const ExitInfo& exit) {
    {
      std::lock_guard lock(mutex_);
      exit_ = exit;
      ended_at_ = Clock::now();
    }
    const std::uint64_t one = 1;
    (void)::write(bell_.get(), &one, sizeof one);
  }

  bool ended() {
    std::lock_guard lock(mutex_);
    return exit_.has_value();
  }

  // Once ended (or given up on): the reply, the end, when it ended.
  std::optional<Message> reply() {
    std::lock_guard lock(mutex_);
    return reply_;
  }
  std::optional<ExitInfo> exit() {
    std::lock_guard lock(mutex_);
    return exit_;
  }
  Clock::time_point ended_at() {
    std::lock_guard lock(mutex_);
    return ended_at_;
  }

 private:
  UniqueFd bell_;
  std::mutex mutex_;
  std::optional<Message> reply_;
  std::optional<ExitInfo> exit_;
  Clock::time_point ended_at_{};
};

// Waits until the trial ended or `deadline`, reading its output meanwhile.
void wait_for_end(TrialEnd& end, OutputCapture* output, Clock::time_point deadline) {
  while (!end.ended()) {
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
    if (left <= 0) return;
    pollfd ready[2] = {{end.bell(), POLLIN, 0}, {-1, POLLIN, 0}};
    if (output != nullptr && !output->finished()) ready[1].fd = output->read_end();
    retry_on_eintr([&] { return ::poll(ready, 2, static_cast<int>(std::min<long>(left, 1000))); });
    if (output != nullptr) output->read_available();
  }
}

// Ends whatever is left in the trial's process group. The group is named
// after the trial's pid and keeps that number from reuse while any member
// lives, so this reaches no stranger.
void kill_group(int pid) {
  ::kill(-pid, SIGKILL);
}

OutcomeFields fields_of(const std::optional<Message>& reply, const std::optional<ExitInfo>& exit,
                        bool timed_out) {
  OutcomeFields fields;
  if (reply) {
    const auto tag = reply->as<std::vector<Message>>();
    if (!tag.empty() && tag[0].as<int>() == 1) {
      const auto [kind, type, what, stack] =
          reply->as<std::tuple<int, std::string, std::string, std::string>>();
      fields.ending = Ending::threw;
      fields.exception_type = type;
      fields.what = what;
      fields.stack_trace = stack;
    } else {
      fields.ending = Ending::returned;
      fields.reply = reply;
    }
  } else if (timed_out) {
    fields.ending = Ending::timed_out;
    fields.signal = exit ? exit->signal : std::optional<int>(SIGKILL);
  } else if (exit && exit->signal) {
    fields.ending = Ending::signaled;
    fields.signal = exit->signal;
    fields.crash_report = exit->crash_report;
  } else {
    fields.ending = Ending::exited;
    fields.exit_code = exit ? exit->exit_code : std::nullopt;
  }
  return fields;
}

}  // namespace

Outcome run_trial(const isolated::detail::EntryPoint& entry,
                  const isolated::detail::EncodeMessage& encode_message,
                  const TrialOptions& options) {
  const auto started = Clock::now();
  std::optional<OutputCapture> output;
  if (options.capture_output) output.emplace();

  auto end = std::make_shared<TrialEnd>();
  isolated::detail::ReplyPortSpawn spawn;
  spawn.entry = entry;
  spawn.encode_message = encode_message;
  spawn.debug_name = "trial";
  if (output) spawn.launch.stdout_fd = spawn.launch.stderr_fd = output->write_end();
  spawn.launch.no_core_dump = true;
  spawn.launch.own_process_group = true;
  spawn.on_reply = [end](Message reply) { end->on_reply(std::move(reply)); };
  spawn.on_end = [end](const ExitInfo& exit) { end->on_end(exit); };
  const int pid = isolated::detail::spawn_with_reply_port(std::move(spawn));
  if (output) output->close_write_end();

  OutputCapture* pipe = output ? &*output : nullptr;
  wait_for_end(*end, pipe, started + options.timeout);
  const bool timed_out = !end->ended();
  if (timed_out) {
    // Still the trial's pid: the supervisor reaps only what ended, and tells
    // us right after (a pid reaped in that moment is not reused in it).
    ::kill(pid, SIGKILL);
    kill_group(pid);
    wait_for_end(*end, pipe, Clock::now() + kReapGrace);
  }
  kill_group(pid);  // what it left running
  if (output) output->read_until_finished(Clock::now() + kOutputGrace);

  OutcomeFields fields = fields_of(end->reply(), end->exit(), timed_out);
  fields.timeout = options.timeout;
  fields.duration = (end->ended() ? end->ended_at() : Clock::now()) - started;
  if (output) {
    fields.output_truncated = output->truncated();
    fields.output = output->take();
  }
  return Outcome(std::move(fields));
}

}  // namespace isolated::testing::detail
