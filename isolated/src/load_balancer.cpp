// LoadBalancer: the public handle on a Pool, and starting one.
#include "pool.hpp"

#include <isolated/error.hpp>
#include <isolated/load_balancer.hpp>

#include <cstdio>
#include <exception>
#include <future>
#include <stdexcept>
#include <string>
#include <utility>

namespace isolated {

LoadBalancer LoadBalancer::create_with(std::size_t n, std::function<IsolateRunner()> factory) {
  if (n == 0) throw UsageError("LoadBalancer::create: a pool needs at least 1 runner");
  // In parallel: each start waits for its worker's handshake.
  std::vector<std::future<IsolateRunner>> starting;
  starting.reserve(n);
  for (std::size_t i = 0; i < n; ++i) starting.push_back(std::async(std::launch::async, factory));
  std::vector<std::shared_ptr<detail::RunnerCore>> runners;
  std::exception_ptr failure;
  for (auto& start : starting) {
    try {
      IsolateRunner runner = start.get();
      runners.push_back(runner.release_core());
    } catch (...) {
      if (!failure) failure = std::current_exception();
    }
  }
  if (failure) {
    for (auto& core : runners) core->begin_close();
    for (auto& core : runners) core->wait_ended(std::nullopt);
    std::rethrow_exception(failure);
  }
  return LoadBalancer(detail::Pool::start(std::move(runners), std::move(factory)));
}

LoadBalancer::LoadBalancer(std::shared_ptr<detail::Pool> pool) : pool_(std::move(pool)) {}

LoadBalancer::LoadBalancer(LoadBalancer&& other) noexcept = default;

LoadBalancer& LoadBalancer::operator=(LoadBalancer&& other) noexcept {
  if (this != &other) {
    close();
    pool_ = std::move(other.pool_);
  }
  return *this;
}

LoadBalancer::~LoadBalancer() { close(); }

void LoadBalancer::check_load(int load) {
  if (load < 0) {
    throw UsageError("LoadBalancer: a task's load must not be negative (got " +
                                std::to_string(load) + ")");
  }
}

detail::CancelTask LoadBalancer::submit(detail::RunnerTask task, int load,
                                        const RunOptions& options, detail::RunnerDone done) {
  if (!pool_) {
    done(nullptr, std::make_exception_ptr(Error("run() on a moved-from LoadBalancer")));
    return [] {};
  }
  return pool_->submit(std::move(task), load, options, std::move(done));
}

void LoadBalancer::submit_multiple(detail::RunnerTask task, int load,
                                   std::vector<detail::RunnerDone> dones) {
  if (!pool_) throw UsageError("run_multiple() on a moved-from LoadBalancer");
  pool_->submit_multiple(std::move(task), load, std::move(dones));
}

std::size_t LoadBalancer::size() const { return pool_ ? pool_->size() : 0; }

void LoadBalancer::close() {
  if (!pool_) return;
  try {
    pool_->close();
  } catch (const std::exception& e) {
    std::fprintf(stderr, "isolated: closing a LoadBalancer: %s\n", e.what());
  }
}

}  // namespace isolated
