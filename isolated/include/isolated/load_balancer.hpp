// LoadBalancer: a pool of IsolateRunners that sends each task to the runner
// with the lowest summed load (DESIGN §8; package:isolate's LoadBalancer), and
// heals itself: a runner that dies, or whose task timed out, is replaced by a
// new one from the factory.
#pragma once

#include <isolated/detail/map_results.hpp>
#include <isolated/isolate_runner.hpp>

#include <cstddef>
#include <functional>
#include <future>
#include <memory>
#include <string_view>
#include <utility>
#include <vector>

namespace isolated::detail {
class Pool;  // isolated/src/pool.hpp
}  // namespace isolated::detail

namespace isolated {

class LoadBalancer {
 public:
  // Starts `n` runners from `factory` in parallel (a factory may capture: it
  // runs here, in this process). If one fails to start, the others are closed
  // and its exception is rethrown. Healing calls the factory again later, from
  // a thread of the pool.
  template <class Factory>
  static LoadBalancer create(std::size_t n, Factory factory) {
    return create_with(n, std::function<IsolateRunner()>(std::move(factory)));
  }

  LoadBalancer(LoadBalancer&& other) noexcept;
  LoadBalancer& operator=(LoadBalancer&& other) noexcept;
  LoadBalancer(const LoadBalancer&) = delete;
  LoadBalancer& operator=(const LoadBalancer&) = delete;
  // Closes the pool (see close()).
  ~LoadBalancer();

  // Runs f(arg) on the runner with the lowest summed load (ties: the lowest
  // index), whose load grows by `load` until the future is ready. A task whose
  // runner dies fails with IsolateExited, unless options.retries allows it to
  // run again on another runner. Throws isolated::UsageError for a negative
  // load.
  template <class F, class A>
  std::future<detail::run_result_t<F, A>> run(F f, A&& arg, int load = 100,
                                              RunOptions options = {}) {
    detail::check_stateless<F>();
    using R = detail::run_result_t<F, A>;
    if constexpr (detail::is_stateless_callable<F>) {
      check_load(load);
      auto [future, done] = detail::promised<R>();
      submit(detail::make_runner_task(f, std::forward<A>(arg)), load, options, std::move(done));
      return std::move(future);
    } else {
      return {};
    }
  }

  // Runs the function the runners' binary exported as `exported_name` (see
  // IsolateRunner::run), on the least loaded runner, as above.
  template <class R, class A>
  std::future<R> run(std::string_view exported_name, A&& arg, int load = 100,
                     RunOptions options = {}) {
    check_load(load);
    auto [future, done] = detail::promised<R>();
    submit(detail::make_named_task(exported_name, std::forward<A>(arg)), load, options,
           std::move(done));
    return std::move(future);
  }

  // Runs f(arg) once on each of the `count` least loaded runners, all
  // distinct. Throws isolated::UsageError if count exceeds the number of
  // runners the pool was created with, or the load is negative.
  template <class F, class A>
  std::vector<std::future<detail::run_result_t<F, const A&>>> run_multiple(std::size_t count, F f,
                                                                          const A& arg,
                                                                          int load = 100) {
    detail::check_stateless<F>();
    using R = detail::run_result_t<F, const A&>;
    std::vector<std::future<R>> futures;
    if constexpr (detail::is_stateless_callable<F>) {
      check_load(load);
      std::vector<detail::RunnerDone> dones;
      for (std::size_t i = 0; i < count; ++i) {
        auto [future, done] = detail::promised<R>();
        futures.push_back(std::move(future));
        dones.push_back(std::move(done));
      }
      submit_multiple(detail::make_runner_task(f, arg), load, std::move(dones));
    }
    return futures;
  }

  // The article's asyncMap: f(input) for every input, on the pool, as a lazy
  // range of results (not futures), in input order (or completion order with
  // ordered = false). Inputs are read only as results are taken: at most
  // max_in_flight tasks are in the air, so a stream read in chunks never sits
  // in memory whole. A failed task throws from the iteration that reaches it.
  // Keep the LoadBalancer alive while the range is used.
  template <class Inputs, class F>
  auto map(Inputs&& inputs, F f, MapOptions options = {}) {
    detail::check_stateless<F>();
    using Input = decltype(*std::begin(inputs));
    using R = detail::run_result_t<F, Input>;
    return detail::MapResults<R, LoadBalancer, Inputs, F>(*this, std::forward<Inputs>(inputs), f,
                                                          options);
  }

  // How many runners take work now: n, less those being replaced; 0 once
  // closed.
  std::size_t size() const;

  // Graceful, like IsolateRunner::close: every runner finishes its queued
  // tasks, then ends; returns once all have ended. Idempotent.
  void close();

 private:
  template <class, class, class, class>
  friend class detail::MapResults;
  // Map's way in: one task, load 100, no timeout. Returns its cancel, which
  // settles the task with an Error at once if it has not settled yet: a task
  // still queued never runs; a running one is stopped by killing its runner,
  // which the pool replaces (tasks queued behind it move to other runners).
  detail::CancelTask submit_task(detail::RunnerTask task, detail::RunnerDone done) {
    return submit(std::move(task), 100, RunOptions{}, std::move(done));
  }

  explicit LoadBalancer(std::shared_ptr<detail::Pool> pool);
  static LoadBalancer create_with(std::size_t n, std::function<IsolateRunner()> factory);
  static void check_load(int load);
  detail::CancelTask submit(detail::RunnerTask task, int load, const RunOptions& options,
                            detail::RunnerDone done);
  void submit_multiple(detail::RunnerTask task, int load, std::vector<detail::RunnerDone> dones);

  std::shared_ptr<detail::Pool> pool_;
};

}  // namespace isolated
