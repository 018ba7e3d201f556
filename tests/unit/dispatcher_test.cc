#include "delivery/dispatcher.h"

#include <gtest/gtest.h>

#include <map>
#include <vector>

namespace sluice {
namespace {

// Time only moves when the test says so.
class FakeScheduler final : public Scheduler {
 public:
  TimePoint now() const override { return now_; }
  TimerId runAfter(Millis delay, TimerCallback cb) override {
    const TimerId id = next_++;
    timers_.emplace(id, Timer{now_ + delay, std::move(cb)});
    return id;
  }
  void cancel(TimerId id) override { timers_.erase(id); }
  void advance(Millis d) {
    now_ += d;
    for (bool fired = true; fired;) {
      fired = false;
      for (auto it = timers_.begin(); it != timers_.end(); ++it) {
        if (it->second.at <= now_) {
          auto cb = std::move(it->second.cb);
          timers_.erase(it);
          cb();
          fired = true;
          break;
        }
      }
    }
  }
  std::size_t pending() const { return timers_.size(); }

 private:
  struct Timer {
    TimePoint at;
    TimerCallback cb;
  };
  TimePoint now_{};
  TimerId next_ = 1;
  std::map<TimerId, Timer> timers_;
};

// Records requests; the test answers them.
class FakeTransport final : public HttpTransport {
 public:
  struct Sent {
    std::uint64_t token;
    std::uint32_t sink;
    std::int64_t offset;
    std::uint32_t attempt;
    std::string key;
    std::string body;
  };
  void send(std::uint64_t token, const HttpRequest& r) override {
    open.push_back({token, r.sink, r.offset, r.attempt, std::string(r.idempotency_key),
                    std::string(r.body)});
    ++sent_total;
  }
  void cancel(std::uint64_t token) override {
    std::erase_if(open, [&](const Sent& s) { return s.token == token; });
    ++cancelled;
  }
  std::size_t openFor(std::uint32_t sink) const {
    return static_cast<std::size_t>(
        std::count_if(open.begin(), open.end(), [&](const Sent& s) { return s.sink == sink; }));
  }
  // Answers the oldest open request of `sink` with `status`.
  Sent answer(HttpResponseHandler& h, std::uint32_t sink, long status,
              std::string retry_after = "") {
    auto it = std::find_if(open.begin(), open.end(), [&](const Sent& s) { return s.sink == sink; });
    EXPECT_NE(it, open.end());
    Sent s = *it;
    open.erase(it);
    HttpResponse r;
    r.status = status;
    r.retry_after = std::move(retry_after);
    h.onResponse(s.token, r);
    return s;
  }
  std::vector<Sent> open;
  std::size_t sent_total = 0;
  std::size_t cancelled = 0;
};

class DispatcherTest : public ::testing::Test {
 protected:
  void make(std::vector<Dispatcher::SinkSettings> sinks) {
    dispatcher = std::make_unique<Dispatcher>(
        scheduler, std::move(sinks),
        BackoffSettings{std::chrono::milliseconds(100), std::chrono::milliseconds(1000), 2.0}, 42,
        [this](Event& e) { done.push_back(e.offset); });
    dispatcher->attach(transport);
  }
  EventPtr event(std::int64_t offset) {
    auto e = std::make_unique<Event>();
    e->partition = partition;
    e->offset = offset;
    e->idempotency_key = "\"t/0/" + std::to_string(offset) + "\"";
    auto body = std::make_shared<std::string>("{\"n\":" + std::to_string(offset) + "}");
    e->body = *body;
    e->owner = body;
    return e;
  }

  FakeScheduler scheduler;
  FakeTransport transport;
  PartitionStatePtr partition = std::make_shared<PartitionState>("t", 0);
  std::unique_ptr<Dispatcher> dispatcher;
  std::vector<std::int64_t> done;
};

TEST_F(DispatcherTest, EventIsDoneOnlyWhenEverySinkAccepted) {
  make({{"a", 8}, {"b", 8}, {"c", 8}});
  dispatcher->dispatch(event(0));
  ASSERT_EQ(transport.open.size(), 3u);
  EXPECT_EQ(transport.open[0].body, "{\"n\":0}");
  EXPECT_EQ(transport.open[0].key, "\"t/0/0\"");
  transport.answer(*dispatcher, 0, 200);
  transport.answer(*dispatcher, 2, 204);
  EXPECT_TRUE(done.empty());
  transport.answer(*dispatcher, 1, 201);
  EXPECT_EQ(done, std::vector<std::int64_t>{0});
  EXPECT_EQ(dispatcher->inFlightEvents(), 0u);
}

TEST_F(DispatcherTest, SlowSinkDoesNotHoldBackOthers) {
  make({{"fast", 4}, {"slow", 4}});
  for (int i = 0; i < 100; ++i) dispatcher->dispatch(event(i));
  // The fast sink works through all 100 while the slow one answers nothing.
  for (int i = 0; i < 100; ++i) {
    const auto s = transport.answer(*dispatcher, 0, 200);
    EXPECT_EQ(s.offset, i);
  }
  EXPECT_EQ(dispatcher->counters(0).delivered, 100u);
  EXPECT_EQ(transport.openFor(1), 4u);  // the slow sink's window, no more
  EXPECT_TRUE(done.empty());
  EXPECT_EQ(dispatcher->sinkBacklog(1), 100u);
}

TEST_F(DispatcherTest, WindowBoundsInFlightPerSink) {
  make({{"a", 3}});
  for (int i = 0; i < 10; ++i) dispatcher->dispatch(event(i));
  EXPECT_EQ(transport.openFor(0), 3u);
  transport.answer(*dispatcher, 0, 200);
  EXPECT_EQ(transport.openFor(0), 3u);
  EXPECT_EQ(transport.sent_total, 4u);
}

TEST_F(DispatcherTest, FailuresAreRetriedWithTheSameKeyUntilAccepted) {
  make({{"a", 8}, {"b", 8}});
  dispatcher->dispatch(event(7));
  transport.answer(*dispatcher, 0, 200);
  for (int attempt = 1; attempt <= 5; ++attempt) {
    auto s = transport.answer(*dispatcher, 1, 503);
    EXPECT_EQ(s.attempt, static_cast<std::uint32_t>(attempt));
    EXPECT_EQ(s.key, "\"t/0/7\"");
    EXPECT_EQ(transport.openFor(1), 0u);  // backing off, nothing sent yet
    scheduler.advance(std::chrono::milliseconds(1001));  // past any jittered delay
    ASSERT_EQ(transport.openFor(1), 1u);
  }
  EXPECT_TRUE(done.empty());
  transport.answer(*dispatcher, 1, 200);
  EXPECT_EQ(done, std::vector<std::int64_t>{7});
  EXPECT_EQ(dispatcher->counters(1).failed_attempts, 5u);
  EXPECT_EQ(dispatcher->counters(1).attempts, 6u);
}

TEST_F(DispatcherTest, TransportFailuresAreRetriedToo) {
  make({{"a", 8}});
  dispatcher->dispatch(event(1));
  auto s = transport.open.front();
  transport.open.clear();
  HttpResponse r;
  r.failure = TransportFailure::kConnect;
  r.error = "connection refused";
  dispatcher->onResponse(s.token, r);
  EXPECT_TRUE(done.empty());
  scheduler.advance(std::chrono::milliseconds(1001));
  ASSERT_EQ(transport.open.size(), 1u);
  EXPECT_EQ(transport.open.front().attempt, 2u);
}

TEST_F(DispatcherTest, RetryAfterIsHonoured) {
  make({{"a", 8}});
  dispatcher->dispatch(event(1));
  transport.answer(*dispatcher, 0, 503, "3");
  scheduler.advance(std::chrono::milliseconds(2999));
  EXPECT_EQ(transport.open.size(), 0u);
  scheduler.advance(std::chrono::milliseconds(1));
  EXPECT_EQ(transport.open.size(), 1u);
}

TEST_F(DispatcherTest, AbandonCancelsInFlightAndRetriesOfThatPartitionOnly) {
  make({{"a", 8}, {"b", 8}});
  auto other = std::make_shared<PartitionState>("t", 1);
  dispatcher->dispatch(event(1));
  auto e2 = event(2);
  e2->partition = other;
  dispatcher->dispatch(std::move(e2));
  transport.answer(*dispatcher, 1, 500);  // event 1 on sink b now backing off
  EXPECT_EQ(scheduler.pending(), 1u);
  EXPECT_EQ(dispatcher->abandon(partition.get()), 1u);
  EXPECT_EQ(scheduler.pending(), 0u);
  EXPECT_EQ(transport.cancelled, 1u);  // event 1's in-flight request to sink a
  EXPECT_EQ(dispatcher->inFlightEvents(), 1u);
  transport.answer(*dispatcher, 0, 200);
  transport.answer(*dispatcher, 1, 200);
  EXPECT_EQ(done, std::vector<std::int64_t>{2});
}

}  // namespace
}  // namespace sluice
