// IsolateRunner: the public handle on a RunnerCore.
#include "runner_core.hpp"
#include "spawn.hpp"

#include <isolated/error.hpp>
#include <isolated/isolate_runner.hpp>

#include <cstdio>
#include <utility>

namespace isolated {

namespace {

detail::RunnerCore& require(const std::shared_ptr<detail::RunnerCore>& core) {
  if (!core) throw UsageError("this IsolateRunner was moved from (or handed to a LoadBalancer)");
  return *core;
}

}  // namespace

IsolateRunner IsolateRunner::spawn(SpawnOptions options) {
  return IsolateRunner(detail::RunnerCore::spawn(detail::kThisProgram, std::move(options)));
}

IsolateRunner IsolateRunner::spawn_uri(const std::string& path, SpawnOptions options) {
  return IsolateRunner(detail::RunnerCore::spawn(path, std::move(options)));
}

IsolateRunner::IsolateRunner(std::shared_ptr<detail::RunnerCore> core) : core_(std::move(core)) {}

IsolateRunner::IsolateRunner(IsolateRunner&& other) noexcept = default;

IsolateRunner& IsolateRunner::operator=(IsolateRunner&& other) noexcept {
  if (this != &other) {
    try {
      if (core_) close();
    } catch (const std::exception& e) {
      std::fprintf(stderr, "isolated: closing a runner on assignment: %s\n", e.what());
    }
    core_ = std::move(other.core_);
  }
  return *this;
}

IsolateRunner::~IsolateRunner() {
  if (!core_) return;
  try {
    close();
  } catch (const std::exception& e) {
    std::fprintf(stderr, "isolated: closing a runner in its destructor: %s\n", e.what());
  }
}

void IsolateRunner::submit(detail::RunnerTask task, const RunOptions& options,
                           detail::RunnerDone done) {
  if (!core_) {
    done(nullptr, std::make_exception_ptr(Error("run() on a moved-from IsolateRunner")));
    return;
  }
  if (!core_->try_submit(task, options.timeout, done)) done(nullptr, core_->refusal());
}

void IsolateRunner::close() {
  detail::RunnerCore& core = require(core_);
  core.begin_close();
  core.wait_ended(std::nullopt);
}

void IsolateRunner::kill(std::chrono::milliseconds grace) { require(core_).kill(grace); }

bool IsolateRunner::ping(std::chrono::milliseconds timeout) { return require(core_).ping(timeout); }

const Isolate& IsolateRunner::isolate() const { return require(core_).isolate(); }

std::shared_ptr<detail::RunnerCore> IsolateRunner::release_core() { return std::move(core_); }

}  // namespace isolated
