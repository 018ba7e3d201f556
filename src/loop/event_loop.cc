#include "loop/event_loop.h"

#include <sys/epoll.h>

#include <array>
#include <cerrno>
#include <system_error>

namespace sluice {

EventLoop::EventLoop() : epoll_(::epoll_create1(EPOLL_CLOEXEC)) {
  if (!epoll_) throw std::system_error(errno, std::generic_category(), "epoll_create1");
}

// MOD on a descriptor the kernel no longer knows (closed behind our back and its number
// reused) falls back to ADD: the caller's view is what it wants watched, and a throw here would
// end the process from the hot path.
void EventLoop::control(int fd, std::uint32_t events, bool known) {
  epoll_event ev{};
  ev.events = events;
  ev.data.fd = fd;
  ++controls_;
  if (::epoll_ctl(epoll_.get(), known ? EPOLL_CTL_MOD : EPOLL_CTL_ADD, fd, &ev) == 0) return;
  if (known && errno == ENOENT) {
    ++controls_;
    if (::epoll_ctl(epoll_.get(), EPOLL_CTL_ADD, fd, &ev) == 0) return;
  }
  throw std::system_error(errno, std::generic_category(), "epoll_ctl");
}

void EventLoop::watch(int fd, std::uint32_t events, FdCallback cb) {
  control(fd, events, fds_.contains(fd));
  fds_[fd] = std::move(cb);
}

void EventLoop::setEvents(int fd, std::uint32_t events) { control(fd, events, true); }

void EventLoop::unwatch(int fd) {
  if (fds_.erase(fd) == 0) return;
  ++controls_;
  // The fd may already be closed (curl closes sockets before telling us); ENOENT/EBADF are fine.
  ::epoll_ctl(epoll_.get(), EPOLL_CTL_DEL, fd, nullptr);
}

Scheduler::TimerId EventLoop::runAfter(Millis delay, TimerCallback cb) {
  const TimerId id = next_timer_id_++;
  const TimePoint deadline = now() + delay;
  timers_.emplace(std::make_pair(deadline, id), std::move(cb));
  timer_deadlines_.emplace(id, deadline);
  return id;
}

void EventLoop::cancel(TimerId id) {
  auto it = timer_deadlines_.find(id);
  if (it == timer_deadlines_.end()) return;
  timers_.erase({it->second, id});
  timer_deadlines_.erase(it);
}

bool EventLoop::reschedule(TimerId id, Millis delay) {
  auto it = timer_deadlines_.find(id);
  if (it == timer_deadlines_.end()) return false;
  auto node = timers_.extract({it->second, id});
  it->second = now() + delay;
  node.key().first = it->second;
  timers_.insert(std::move(node));
  return true;
}

int EventLoop::waitTimeoutMs() const {
  if (timers_.empty()) return 1000;
  const auto delta = timers_.begin()->first.first - now();
  if (delta <= SteadyClock::duration::zero()) return 0;
  // Round up so a timer never fires a little early and spins the loop.
  const auto ms = std::chrono::ceil<Millis>(delta).count();
  return ms > 1000 ? 1000 : static_cast<int>(ms);
}

void EventLoop::runDueTimers() {
  const TimePoint t = now();
  // Timers added by callbacks run in a later round, which bounds the work of one round.
  std::vector<TimerCallback> due;
  while (!timers_.empty() && timers_.begin()->first.first <= t) {
    auto node = timers_.extract(timers_.begin());
    timer_deadlines_.erase(node.key().second);
    due.push_back(std::move(node.mapped()));
  }
  for (auto& cb : due) cb();
}

void EventLoop::run() {
  running_ = true;
  std::array<epoll_event, 256> events{};
  while (running_) {
    const int n = ::epoll_wait(epoll_.get(), events.data(), static_cast<int>(events.size()),
                               waitTimeoutMs());
    if (n < 0 && errno != EINTR) {
      throw std::system_error(errno, std::generic_category(), "epoll_wait");
    }
    for (int i = 0; i < n; ++i) {
      auto it = fds_.find(events[static_cast<size_t>(i)].data.fd);
      if (it == fds_.end()) continue;  // unwatched by an earlier callback in this round
      // Copy: the callback may unwatch (erase) itself.
      FdCallback cb = it->second;
      cb(events[static_cast<size_t>(i)].events);
    }
    runDueTimers();
    for (auto& hook : round_hooks_) hook();
    ++rounds_;
  }
}

}  // namespace sluice
