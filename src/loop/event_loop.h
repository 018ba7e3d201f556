#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <unordered_map>
#include <vector>

#include "util/unique_fd.h"

namespace sluice {

using SteadyClock = std::chrono::steady_clock;
using TimePoint = SteadyClock::time_point;
using Millis = std::chrono::milliseconds;

// Timers are what the delivery code needs from the loop; an interface so that unit tests can
// drive retries with a fake clock.
class Scheduler {
 public:
  using TimerId = std::uint64_t;
  using TimerCallback = std::function<void()>;
  virtual ~Scheduler() = default;
  virtual TimePoint now() const = 0;
  virtual TimerId runAfter(Millis delay, TimerCallback cb) = 0;
  virtual void cancel(TimerId id) = 0;
};

// One epoll set driving every fd of the process (Kafka queue eventfd, curl sockets, signalfd)
// plus an ordered timer set whose earliest deadline bounds epoll_wait. Single-threaded.
class EventLoop final : public Scheduler {
 public:
  using FdCallback = std::function<void(std::uint32_t events)>;

  EventLoop();  // throws std::system_error if epoll cannot be created (start-up only)

  // Adds fd or changes its interest set and callback.
  void watch(int fd, std::uint32_t events, FdCallback cb);
  // Changes only the interest set of a watched fd (no callback churn on the hot path).
  void setEvents(int fd, std::uint32_t events);
  void unwatch(int fd);

  TimePoint now() const override { return SteadyClock::now(); }
  TimerId runAfter(Millis delay, TimerCallback cb) override;
  void cancel(TimerId id) override;
  // Moves a pending timer to `delay` from now, reusing its node and callback (curl re-arms its
  // one timer about twice per request); false if it already ran or was cancelled.
  bool reschedule(TimerId id, Millis delay);

  // Called after every round of fd and timer callbacks (used to batch offset stores).
  void addRoundHook(std::function<void()> hook) { round_hooks_.push_back(std::move(hook)); }

  void run();
  void stop() { running_ = false; }
  std::uint64_t rounds() const { return rounds_; }
  // epoll_ctl calls so far: what registering a socket costs per request shows in tests.
  std::uint64_t epollControls() const { return controls_; }

 private:
  void control(int fd, std::uint32_t events, bool known);
  void runDueTimers();
  int waitTimeoutMs() const;

  UniqueFd epoll_;
  std::unordered_map<int, FdCallback> fds_;
  std::map<std::pair<TimePoint, TimerId>, TimerCallback> timers_;
  std::unordered_map<TimerId, TimePoint> timer_deadlines_;
  TimerId next_timer_id_ = 1;
  std::vector<std::function<void()>> round_hooks_;
  bool running_ = false;
  std::uint64_t rounds_ = 0;
  std::uint64_t controls_ = 0;
};

}  // namespace sluice
