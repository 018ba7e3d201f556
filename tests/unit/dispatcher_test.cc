#include "delivery/dispatcher.h"

#include <gtest/gtest.h>

#include <deque>
#include <map>
#include <set>
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
    std::string batch_keys;
    std::string batch_offsets;
    HttpHeaders headers;  // a transform's, shared then the sink's own
  };
  void send(std::uint64_t token, const HttpRequest& r) override {
    open.push_back({token, r.sink, r.offset, r.attempt, std::string(r.idempotency_key),
                    std::string(r.body), std::string(r.batch_keys),
                    std::string(r.batch_offsets), {}});
    for (const auto* list : {r.headers, r.more_headers}) {
      if (list != nullptr) open.back().headers.insert(open.back().headers.end(), list->begin(), list->end());
    }
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
  // Answers the newest open request of `sink` with 200.
  Sent answerNewest(HttpResponseHandler& h, std::uint32_t sink) {
    auto it = std::find_if(open.rbegin(), open.rend(), [&](const Sent& s) { return s.sink == sink; });
    EXPECT_NE(it, open.rend());
    Sent s = *it;
    open.erase(std::next(it).base());
    HttpResponse r;
    r.status = 200;
    h.onResponse(s.token, r);
    return s;
  }
  std::vector<Sent> open;
  std::size_t sent_total = 0;
  std::size_t cancelled = 0;
};

class DispatcherTest : public ::testing::Test {
 protected:
  static Dispatcher::SinkSettings sink(std::string name, std::uint32_t window) {
    Dispatcher::SinkSettings s;
    s.name = std::move(name);
    s.max_in_flight = window;
    s.retry.backoff = {std::chrono::milliseconds(100), std::chrono::milliseconds(1000), 2.0};
    s.circuit_failures = 1000;  // out of the way unless a test is about it
    s.adaptive_concurrency = false;  // the window is max_in_flight unless a test is about it
    return s;
  }
  void make(std::vector<Dispatcher::SinkSettings> sinks, bool can_give_up = false) {
    dispatcher = std::make_unique<Dispatcher>(scheduler, std::move(sinks), can_give_up, 42,
                                              [this](EventPtr e) {
                                                done.push_back(e->offset);
                                                failures.push_back(e->failures);
                                              });
    dispatcher->attach(transport);
  }
  // One sink "a" with the adaptive window, capped at `cap`.
  void makeAdaptive(std::uint32_t cap) {
    auto s = sink("a", cap);
    s.adaptive_concurrency = true;
    make({s});
  }
  EventPtr event(std::int64_t offset) {
    auto e = std::make_unique<Event>();
    e->partition = partition;
    e->offset = offset;
    e->idempotency_key = "\"t/0/" + std::to_string(offset) + "\"";
    e->body = bodies.emplace_back("{\"n\":" + std::to_string(offset) + "}");
    return e;
  }

  std::deque<std::string> bodies;  // what the events' bodies view (a Kafka message, in sluice)
  FakeScheduler scheduler;
  FakeTransport transport;
  PartitionStatePtr partition = std::make_shared<PartitionState>("t", 0);
  std::unique_ptr<Dispatcher> dispatcher;
  std::vector<std::int64_t> done;
  std::vector<std::vector<SinkFailure>> failures;
};

TEST_F(DispatcherTest, EventIsDoneOnlyWhenEverySinkAccepted) {
  make({sink("a", 8), sink("b", 8), sink("c", 8)});
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
  make({sink("fast", 4), sink("slow", 4)});
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
  EXPECT_EQ(dispatcher->sinkBacklogBytes(0), 0u);
  std::uint64_t bytes = 0;
  for (int i = 0; i < 100; ++i) bytes += ("{\"n\":" + std::to_string(i) + "}").size();
  EXPECT_EQ(dispatcher->sinkBacklogBytes(1), bytes);
  dispatcher->abandonAll();
  EXPECT_EQ(dispatcher->sinkBacklogBytes(1), 0u);
}

TEST_F(DispatcherTest, WindowBoundsInFlightPerSink) {
  make({sink("a", 3)});
  for (int i = 0; i < 10; ++i) dispatcher->dispatch(event(i));
  EXPECT_EQ(transport.openFor(0), 3u);
  transport.answer(*dispatcher, 0, 200);
  EXPECT_EQ(transport.openFor(0), 3u);
  EXPECT_EQ(transport.sent_total, 4u);
}

TEST_F(DispatcherTest, FailuresAreRetriedWithTheSameKeyUntilAccepted) {
  make({sink("a", 8), sink("b", 8)});
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
  make({sink("a", 8)});
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
  make({sink("a", 8)});
  dispatcher->dispatch(event(1));
  transport.answer(*dispatcher, 0, 503, "3");
  scheduler.advance(std::chrono::milliseconds(2999));
  EXPECT_EQ(transport.open.size(), 0u);
  scheduler.advance(std::chrono::milliseconds(1));
  EXPECT_EQ(transport.open.size(), 1u);
}

TEST_F(DispatcherTest, AbandonCancelsInFlightAndRetriesOfThatPartitionOnly) {
  make({sink("a", 8), sink("b", 8)});
  auto other = std::make_shared<PartitionState>("t", 1);
  dispatcher->dispatch(event(1));
  auto e2 = event(2);
  e2->partition = other;
  dispatcher->dispatch(std::move(e2));
  transport.answer(*dispatcher, 1, 500);  // event 1 on sink b now backing off
  EXPECT_EQ(scheduler.pending(), 1u);
  EXPECT_EQ(dispatcher->abandon(partition.get()).size(), 1u);
  EXPECT_EQ(scheduler.pending(), 0u);
  EXPECT_EQ(transport.cancelled, 1u);  // event 1's in-flight request to sink a
  EXPECT_EQ(dispatcher->inFlightEvents(), 1u);
  transport.answer(*dispatcher, 0, 200);
  transport.answer(*dispatcher, 1, 200);
  EXPECT_EQ(done, std::vector<std::int64_t>{2});
}

TEST_F(DispatcherTest, PermanentAnswerGivesUpWithTheReasonWhenADeadLetterPathExists) {
  make({sink("a", 8), sink("b", 8)}, /*can_give_up=*/true);
  dispatcher->dispatch(event(3));
  transport.answer(*dispatcher, 0, 200);
  transport.answer(*dispatcher, 1, 422);
  ASSERT_EQ(done, std::vector<std::int64_t>{3});
  ASSERT_EQ(failures[0].size(), 1u);
  EXPECT_EQ(failures[0][0].sink, "b");
  EXPECT_STREQ(failures[0][0].reason, "permanent_status");
  EXPECT_EQ(failures[0][0].status, 422);
  EXPECT_EQ(failures[0][0].attempts, 1u);
  EXPECT_EQ(dispatcher->counters(1).gave_up, 1u);
}

TEST_F(DispatcherTest, HugeRetryAfterWaitsTheCapNotZero) {
  make({sink("a", 8)});
  dispatcher->dispatch(event(4));
  // Seconds whose milliseconds pass int64: they used to wrap to a negative delay.
  transport.answer(*dispatcher, 0, 503, "9300000000000000");
  scheduler.advance(std::chrono::milliseconds(299'999));
  EXPECT_EQ(transport.open.size(), 0u);  // waiting out the 300 s cap
  scheduler.advance(std::chrono::milliseconds(1));
  ASSERT_EQ(transport.open.size(), 1u);
  transport.answer(*dispatcher, 0, 503, "Fri, 01 Jan 2300 00:00:00 GMT");
  scheduler.advance(std::chrono::milliseconds(299'999));
  EXPECT_EQ(transport.open.size(), 0u);
  scheduler.advance(std::chrono::milliseconds(1));
  EXPECT_EQ(transport.open.size(), 1u);
}

TEST_F(DispatcherTest, PermanentAnswerWithoutDeadLetterPathIsRetriedNotDropped) {
  make({sink("a", 8)}, /*can_give_up=*/false);
  dispatcher->dispatch(event(3));
  transport.answer(*dispatcher, 0, 400);
  EXPECT_TRUE(done.empty());
  scheduler.advance(std::chrono::milliseconds(999));
  EXPECT_EQ(transport.open.size(), 0u);  // held at the longest backoff (1000 ms)
  scheduler.advance(std::chrono::milliseconds(1));
  ASSERT_EQ(transport.open.size(), 1u);
  transport.answer(*dispatcher, 0, 200);
  EXPECT_EQ(done, std::vector<std::int64_t>{3});
  EXPECT_TRUE(failures[0].empty());
}

TEST_F(DispatcherTest, RetryLimitByAttemptsEndsInRetriesExhausted) {
  auto s = sink("a", 8);
  s.retry.max_attempts = 3;
  make({s}, true);
  dispatcher->dispatch(event(9));
  for (int i = 0; i < 2; ++i) {
    transport.answer(*dispatcher, 0, 503);
    scheduler.advance(std::chrono::milliseconds(1001));
  }
  EXPECT_TRUE(done.empty());
  transport.answer(*dispatcher, 0, 503);
  ASSERT_EQ(done.size(), 1u);
  EXPECT_STREQ(failures[0][0].reason, "retries_exhausted");
  EXPECT_EQ(failures[0][0].attempts, 3u);
}

TEST_F(DispatcherTest, RetryLimitByElapsedTime) {
  auto s = sink("a", 8);
  s.retry.max_elapsed = std::chrono::milliseconds(2500);
  make({s}, true);
  dispatcher->dispatch(event(9));
  int attempts = 0;
  while (done.empty() && attempts < 100) {
    HttpResponse timeout;
    timeout.failure = TransportFailure::kTimeout;
    timeout.error = "timed out";
    const auto sent = transport.open.front();
    transport.open.clear();
    dispatcher->onResponse(sent.token, timeout);
    ++attempts;
    scheduler.advance(std::chrono::milliseconds(1001));
  }
  ASSERT_EQ(done.size(), 1u);
  EXPECT_STREQ(failures[0][0].reason, "retries_exhausted");
  EXPECT_EQ(failures[0][0].error, "timed out");
  EXPECT_GE(attempts, 3);  // at least 2.5 s of 1 s steps
  EXPECT_LE(attempts, 4);
}

TEST_F(DispatcherTest, OpenCircuitProbesOneAtATimePacedAndClosesOnSuccess) {
  auto s = sink("a", 64);
  s.circuit_failures = 3;
  make({s});
  for (int i = 0; i < 50; ++i) dispatcher->dispatch(event(i));
  EXPECT_EQ(transport.openFor(0), 50u);
  for (int i = 0; i < 50; ++i) transport.answer(*dispatcher, 0, 503);  // all fail: circuit opens
  EXPECT_TRUE(dispatcher->circuitOpen(0));
  // However long the sink stays down, never more than one request is out at a time, and the
  // probes are paced by the backoff, not sent back to back.
  std::size_t sent_before = transport.sent_total;
  for (int step = 0; step < 100; ++step) {
    scheduler.advance(std::chrono::milliseconds(100));
    EXPECT_LE(transport.open.size(), 1u);
    if (!transport.open.empty()) transport.answer(*dispatcher, 0, 503);
  }
  const std::size_t probes = transport.sent_total - sent_before;
  EXPECT_GE(probes, 5u);
  EXPECT_LE(probes, 12u);  // 10 s at one probe per max backoff (1 s), not 50 per retry round
  // The sink comes back: the next probe succeeds and the window opens again.
  ASSERT_TRUE(dispatcher->circuitOpen(0));
  for (int step = 0; step < 20 && transport.open.empty(); ++step) {
    scheduler.advance(std::chrono::milliseconds(100));
  }
  ASSERT_EQ(transport.open.size(), 1u);
  transport.answer(*dispatcher, 0, 200);
  EXPECT_FALSE(dispatcher->circuitOpen(0));
  scheduler.advance(std::chrono::milliseconds(1001));
  EXPECT_GT(transport.open.size(), 1u);
}

TEST_F(DispatcherTest, PartitionOrderingSendsOneAtATimeInOffsetOrderDespiteRetries) {
  auto s = sink("a", 64);
  s.ordering = Ordering::kPartition;
  make({s});
  for (int i = 0; i < 5; ++i) dispatcher->dispatch(event(i));
  std::vector<std::int64_t> accepted;
  while (accepted.size() < 5) {
    ASSERT_EQ(transport.open.size(), 1u);
    const bool fail = transport.sent_total % 3 == 0;  // every third attempt fails
    auto sent = transport.answer(*dispatcher, 0, fail ? 503 : 200);
    if (!fail) accepted.push_back(sent.offset);
    scheduler.advance(std::chrono::milliseconds(1001));
  }
  EXPECT_EQ(accepted, (std::vector<std::int64_t>{0, 1, 2, 3, 4}));
}

TEST_F(DispatcherTest, KeyOrderingSerializesEachKeyButNotAcrossKeys) {
  auto s = sink("a", 64);
  s.ordering = Ordering::kKey;
  make({s});
  const std::vector<std::string> keys = {"x", "y", "x", "y", "x"};
  std::vector<std::shared_ptr<std::string>> owned;
  for (int i = 0; i < 5; ++i) {
    auto e = event(i);
    auto key = std::make_shared<std::string>(keys[static_cast<size_t>(i)]);
    e->kafka_key = *key;
    owned.push_back(key);
    dispatcher->dispatch(std::move(e));
  }
  ASSERT_EQ(transport.open.size(), 2u);  // the heads of x (0) and y (1)
  EXPECT_EQ(transport.open[0].offset, 0);
  EXPECT_EQ(transport.open[1].offset, 1);
  transport.answer(*dispatcher, 0, 503);  // x's head fails: x waits, y goes on
  transport.answer(*dispatcher, 0, 200);  // y@1 accepted
  ASSERT_EQ(transport.open.size(), 1u);
  EXPECT_EQ(transport.open[0].offset, 3);  // y@3, while x@2 waits behind the retry of x@0
  scheduler.advance(std::chrono::milliseconds(1001));
  ASSERT_EQ(transport.open.size(), 2u);
  EXPECT_EQ(transport.open[1].offset, 0);  // the retry of x@0, before x@2
}


Dispatcher::SinkSettings batching(Dispatcher::SinkSettings s, std::uint32_t events,
                                  std::uint64_t bytes = 1 << 20) {
  s.batch_max_events = events;
  s.batch_max_bytes = bytes;
  return s;
}

TEST_F(DispatcherTest, BatchesFormFromWhatWaitsUpToTheLimitsOnePartitionEach) {
  make({batching(sink("a", 1), 3)});
  auto other = std::make_shared<PartitionState>("t", 1);
  for (int i = 1; i <= 6; ++i) dispatcher->dispatch(event(i));
  auto q = event(7);
  q->partition = other;
  dispatcher->dispatch(std::move(q));
  // Event 1 found the window free and nothing waiting: it went alone, without waiting.
  ASSERT_EQ(transport.open.size(), 1u);
  EXPECT_EQ(transport.open[0].body, "{\"n\":1}");
  EXPECT_TRUE(transport.open[0].batch_keys.empty());
  EXPECT_EQ(dispatcher->sinkBacklog(0), 7u);
  transport.answer(*dispatcher, 0, 200);
  ASSERT_EQ(transport.open.size(), 1u);
  const auto batch = transport.open[0];
  EXPECT_EQ(batch.body, "[{\"n\":2},{\"n\":3},{\"n\":4}]");
  EXPECT_EQ(batch.batch_keys, "\"t/0/2\", \"t/0/3\", \"t/0/4\"");
  EXPECT_EQ(batch.batch_offsets, "2, 3, 4");
  EXPECT_EQ(batch.offset, 2);
  EXPECT_EQ(dispatcher->sinkInFlight(0), 1u);  // one request
  EXPECT_EQ(dispatcher->sinkBacklog(0), 6u);   // six events not accepted yet
  transport.answer(*dispatcher, 0, 200);
  EXPECT_EQ(done, (std::vector<std::int64_t>{1, 2, 3, 4}));
  // The rest of partition 0 (two events), then partition 1's event on its own.
  ASSERT_EQ(transport.open.size(), 1u);
  EXPECT_EQ(transport.open[0].batch_offsets, "5, 6");
  transport.answer(*dispatcher, 0, 200);
  ASSERT_EQ(transport.open.size(), 1u);
  EXPECT_EQ(transport.open[0].body, "{\"n\":7}");
  transport.answer(*dispatcher, 0, 200);
  EXPECT_EQ(done.size(), 7u);
  EXPECT_EQ(dispatcher->counters(0).delivered, 7u);
  EXPECT_EQ(dispatcher->counters(0).attempts, 4u);  // requests
}

TEST_F(DispatcherTest, BatchBytesLimitSplitsBatches) {
  make({batching(sink("a", 1), 100, 16)});  // each body is 7 bytes: two fit in 16
  for (int i = 1; i <= 5; ++i) dispatcher->dispatch(event(i));
  transport.answer(*dispatcher, 0, 200);
  ASSERT_EQ(transport.open.size(), 1u);
  EXPECT_EQ(transport.open[0].batch_offsets, "2, 3");
  transport.answer(*dispatcher, 0, 200);
  EXPECT_EQ(transport.open[0].batch_offsets, "4, 5");
}

TEST_F(DispatcherTest, FailedBatchRetriesEveryEventAndCountsOneFailedAttempt) {
  make({batching(sink("a", 1), 10)});
  for (int i = 1; i <= 4; ++i) dispatcher->dispatch(event(i));
  transport.answer(*dispatcher, 0, 200);  // event 1 alone
  ASSERT_EQ(transport.open.size(), 1u);
  EXPECT_EQ(transport.open[0].batch_offsets, "2, 3, 4");
  transport.answer(*dispatcher, 0, 503);
  EXPECT_EQ(dispatcher->counters(0).failed_attempts, 1u);
  EXPECT_EQ(dispatcher->sinkBacklog(0), 3u);
  scheduler.advance(std::chrono::milliseconds(2000));  // every backoff has run out
  // Back as a batch (or batches): every event again, each on its second attempt.
  std::set<std::int64_t> resent;
  while (!transport.open.empty()) {
    const auto s = transport.answer(*dispatcher, 0, 200);
    EXPECT_EQ(s.attempt, 2u);
    for (auto offset : {2, 3, 4}) {
      if (s.batch_offsets.find(std::to_string(offset)) != std::string::npos ||
          s.offset == offset) {
        resent.insert(offset);
      }
    }
  }
  EXPECT_EQ(resent, (std::set<std::int64_t>{2, 3, 4}));
  EXPECT_EQ(done.size(), 4u);
}

TEST_F(DispatcherTest, RefusedBatchIsRetriedEventByEventSoOnlyThePoisonGivesUp) {
  make({batching(sink("a", 1), 10)}, /*can_give_up=*/true);
  for (int i = 1; i <= 4; ++i) dispatcher->dispatch(event(i));
  transport.answer(*dispatcher, 0, 200);  // event 1 alone
  EXPECT_EQ(transport.open[0].batch_offsets, "2, 3, 4");
  transport.answer(*dispatcher, 0, 422);  // the sink refuses the batch (event 3 is bad)
  EXPECT_EQ(done, std::vector<std::int64_t>{1});  // nobody gave up on a batch's answer
  EXPECT_EQ(dispatcher->counters(0).gave_up, 0u);
  scheduler.advance(std::chrono::milliseconds(2000));
  // Each comes back alone, even though they wait together.
  while (!transport.open.empty()) {
    ASSERT_TRUE(transport.open[0].batch_keys.empty());
    transport.answer(*dispatcher, 0, transport.open[0].offset == 3 ? 422 : 200);
    scheduler.advance(std::chrono::milliseconds(2000));
  }
  ASSERT_EQ(done.size(), 4u);
  EXPECT_EQ(dispatcher->counters(0).gave_up, 1u);
  EXPECT_EQ(dispatcher->counters(0).delivered, 3u);
  for (std::size_t i = 0; i < done.size(); ++i) {
    EXPECT_EQ(failures[i].size(), done[i] == 3 ? 1u : 0u) << "event " << done[i];
  }
}

TEST_F(DispatcherTest, BatchEndsBeforeItsKeyListOutgrowsAHeaderLine) {
  auto s = batching(sink("a", 1), 100);
  s.batch_max_header_bytes = 30;  // each key is 7 bytes ("t/0/N" quoted), 2 more per separator
  make({s});
  for (int i = 1; i <= 9; ++i) dispatcher->dispatch(event(i));
  transport.answer(*dispatcher, 0, 200);
  EXPECT_EQ(transport.open[0].batch_offsets, "2, 3, 4");  // 7 + 9 + 9 = 25; a fourth: 34
}

TEST_F(DispatcherTest, BatchEndsBeforeItsOffsetListOutgrowsAHeaderLine) {
  auto s = batching(sink("a", 1), 100);
  s.batch_max_header_bytes = 40;
  make({s});
  // Short keys, long offsets: the key list would take 8 of these, the offset list only 2.
  constexpr std::int64_t kBase = 1'000'000'000'000;  // 13 digits, 15 with ", "
  for (int i = 0; i < 9; ++i) {
    auto e = event(kBase + i);
    e->idempotency_key = "\"k\"";
    dispatcher->dispatch(std::move(e));
  }
  transport.answer(*dispatcher, 0, 200);  // the first goes alone, the rest queue behind it
  while (!transport.open.empty()) {
    const auto sent = transport.answer(*dispatcher, 0, 200);
    EXPECT_LE(sent.batch_offsets.size(), 40u) << sent.batch_offsets;
    EXPECT_LE(sent.batch_keys.size(), 40u) << sent.batch_keys;
  }
  EXPECT_EQ(done.size(), 9u);
}

TEST_F(DispatcherTest, BatchCopiesAreCountedWhileInFlight) {
  make({batching(sink("a", 1), 10)});
  for (int i = 1; i <= 4; ++i) dispatcher->dispatch(event(i));
  EXPECT_EQ(dispatcher->copiedBytes(), 0u);  // event 1 goes alone: its body is a view
  transport.answer(*dispatcher, 0, 200);
  ASSERT_EQ(transport.open.size(), 1u);
  const auto& batch = transport.open[0];
  EXPECT_EQ(dispatcher->copiedBytes(), batch.body.size() + batch.batch_keys.size() +
                                           batch.batch_offsets.size() + batch.key.size());
  transport.answer(*dispatcher, 0, 200);
  EXPECT_EQ(dispatcher->copiedBytes(), 0u);
  // A cancelled batch gives its bytes back too.
  for (int i = 5; i <= 9; ++i) dispatcher->dispatch(event(i));
  transport.answer(*dispatcher, 0, 200);
  EXPECT_GT(dispatcher->copiedBytes(), 0u);
  dispatcher->abandon(partition.get());
  EXPECT_EQ(dispatcher->copiedBytes(), 0u);
}

TEST_F(DispatcherTest, AbandoningBehindAnOpenCircuitLeavesNoStaleQueueEntries) {
  auto s = sink("dead", 8);
  s.circuit_failures = 1;
  make({s});
  dispatcher->dispatch(event(0));
  transport.answer(*dispatcher, 0, 503);  // circuit open: one paced probe at a time
  ASSERT_TRUE(dispatcher->circuitOpen(0));
  // Rebalance after rebalance: the partition's events are queued, then abandoned.
  for (int round = 0; round < 20; ++round) {
    for (int i = 1; i <= 100; ++i) dispatcher->dispatch(event(round * 100 + i));
    dispatcher->abandon(partition.get());
    EXPECT_EQ(dispatcher->sinkBacklog(0), 0u);
    EXPECT_EQ(dispatcher->readyQueueLength(0), 0u) << "round " << round;
  }
}

TEST_F(DispatcherTest, AbandoningAPartitionCancelsItsBatchOnce) {
  make({batching(sink("a", 1), 10)});
  for (int i = 1; i <= 4; ++i) dispatcher->dispatch(event(i));
  transport.answer(*dispatcher, 0, 200);
  ASSERT_EQ(transport.open.size(), 1u);
  EXPECT_EQ(dispatcher->abandon(partition.get()).size(), 3u);
  EXPECT_EQ(transport.cancelled, 1u);
  EXPECT_TRUE(transport.open.empty());
  EXPECT_EQ(dispatcher->sinkInFlight(0), 0u);
  EXPECT_EQ(dispatcher->sinkBacklog(0), 0u);
  dispatcher->dispatch(event(9));  // the window is free again
  EXPECT_EQ(transport.open.size(), 1u);
}

}  // namespace
}  // namespace sluice

namespace sluice {
namespace {

// Sink progress (issue 12, part 5): each sink's own progress moves with what it accepted, and
// a sink that already had an event (below its loaded progress) is not sent it again.
class SinkProgressDispatchTest : public DispatcherTest {
 protected:
  void SetUp() override { partition = std::make_shared<PartitionState>("t", 0, 2); }
  // What intake does for each event it takes.
  EventPtr taken(std::int64_t offset) {
    partition->offsets.dispatched(offset);
    for (auto& s : partition->sink_offsets) s.dispatched(offset);
    return event(offset);
  }
};

TEST_F(SinkProgressDispatchTest, EachSinksProgressFollowsWhatItAccepted) {
  make({sink("a", 8), sink("b", 8)});
  for (std::int64_t o = 10; o < 13; ++o) dispatcher->dispatch(taken(o));
  transport.answer(*dispatcher, 0, 200);  // a: 10
  transport.answer(*dispatcher, 0, 200);  // a: 11
  EXPECT_EQ(partition->sink_offsets[0].committable(), 12);
  EXPECT_EQ(partition->sink_offsets[1].committable(), 10);  // b accepted nothing yet
  transport.answer(*dispatcher, 1, 200);  // b: 10
  EXPECT_EQ(partition->sink_offsets[1].committable(), 11);
  EXPECT_EQ(done, std::vector<std::int64_t>{10});
}

TEST_F(SinkProgressDispatchTest, ASinkIsNotSentWhatItAlreadyHad) {
  make({sink("a", 8), sink("b", 8)});
  partition->resume_below = {12, -1};  // a had everything below 12, b nothing
  for (std::int64_t o = 10; o < 13; ++o) dispatcher->dispatch(taken(o));
  EXPECT_EQ(transport.openFor(0), 1u);  // only 12
  EXPECT_EQ(transport.openFor(1), 3u);
  EXPECT_EQ(dispatcher->counters(0).skipped, 2u);
  EXPECT_EQ(partition->sink_offsets[0].committable(), 12);
  EXPECT_EQ(transport.answer(*dispatcher, 0, 200).offset, 12);
  transport.answer(*dispatcher, 1, 200);
  EXPECT_EQ(done, std::vector<std::int64_t>{10});  // b's answer finishes 10: a had it
}

TEST_F(SinkProgressDispatchTest, AnEventEverySinkHadIsDoneAtOnce) {
  make({sink("a", 8), sink("b", 8)});
  partition->resume_below = {20, 15};
  dispatcher->dispatch(taken(14));
  EXPECT_TRUE(transport.open.empty());
  EXPECT_EQ(done, std::vector<std::int64_t>{14});
  EXPECT_EQ(dispatcher->inFlightEvents(), 0u);
}

}  // namespace
}  // namespace sluice

#include "pipeline/dispatch_stage.h"

namespace sluice {
namespace {

// While Kafka is unreachable nothing delivered could be committed: no request starts, not
// even a retry; what is under way finishes; once Kafka answers, the queues go out in order.
TEST(DispatchStageHold, NoRequestStartsWhileKafkaIsUnreachable) {
  FakeScheduler scheduler;
  FakeTransport transport;
  Config config;
  config.sinks.resize(1);
  config.sinks[0].name = "a";
  config.sinks[0].retry.backoff = {std::chrono::milliseconds(100), std::chrono::milliseconds(100), 1.0};
  DispatchStage stage(scheduler, config, 1);
  stage.attach(transport);
  auto p0 = std::make_shared<PartitionState>("t", 0);
  std::deque<std::string> bodies;
  auto event = [&](std::int64_t offset) {
    auto e = std::make_unique<Event>();
    e->partition = p0;
    e->offset = offset;
    e->idempotency_key = "k" + std::to_string(offset);
    e->body = bodies.emplace_back("{}");
    p0->offsets.dispatched(offset);
    return e;
  };
  stage.take(event(1));
  stage.take(event(2));
  ASSERT_EQ(transport.open.size(), 2u);
  stage.holdNew(true);
  stage.take(event(3));
  stage.take(event(4));
  EXPECT_EQ(transport.open.size(), 2u);  // only what was out before
  transport.answer(stage.dispatcher(), 0, 503);  // 1 fails; its retry must wait too
  scheduler.advance(std::chrono::seconds(1));
  EXPECT_EQ(transport.open.size(), 1u);
  stage.holdNew(false);
  ASSERT_EQ(transport.open.size(), 4u);
  EXPECT_EQ(transport.open[0].offset, 2);
  std::multiset<std::int64_t> sent;
  for (const auto& s : transport.open) sent.insert(s.offset);
  EXPECT_EQ(sent, (std::multiset<std::int64_t>{1, 2, 3, 4}));
}

}  // namespace
}  // namespace sluice

namespace sluice {
namespace {

// A sink with a transform: its delivery waits for the transform's result (Preparation) while
// the other sinks are sent the event at once; the result shapes, skips or fails that
// delivery alone, and a lane keeps its order whatever order the results come back in.
class PreparedDispatchTest : public DispatcherTest {
 protected:
  void makePrepared(Dispatcher::SinkSettings shaped, std::vector<Dispatcher::SinkSettings> more = {}) {
    shaped.prepared = true;
    more.insert(more.begin(), shaped);
    make(std::move(more), /*can_give_up=*/true);
    dispatcher->prepareWith([this](std::uint64_t token, const Event& e, std::uint32_t sink) {
      asked.push_back({token, e.offset, sink});
    });
  }
  static Dispatcher::Preparation send(std::string body, HttpHeaders headers = {}) {
    Dispatcher::Preparation p;
    p.body = std::move(body);
    p.headers = std::move(headers);
    return p;
  }
  static Dispatcher::Preparation kind(Dispatcher::Preparation::Kind k, std::string error = "") {
    Dispatcher::Preparation p;
    p.kind = k;
    p.error = std::move(error);
    return p;
  }
  struct Asked {
    std::uint64_t token;
    std::int64_t offset;
    std::uint32_t sink;
  };
  std::vector<Asked> asked;
};

TEST_F(PreparedDispatchTest, ASinkBeingShapedHoldsBackNoOtherSink) {
  makePrepared(sink("shaped", 8), {sink("plain", 8)});
  for (int i = 0; i < 3; ++i) dispatcher->dispatch(event(i));
  ASSERT_EQ(asked.size(), 3u);
  for (const auto& a : asked) EXPECT_EQ(a.sink, 0u);
  EXPECT_EQ(transport.openFor(0), 0u);  // nothing for the shaped sink until its result
  EXPECT_EQ(transport.openFor(1), 3u);
  EXPECT_EQ(dispatcher->sinkBacklog(0), 3u);
  for (int i = 0; i < 3; ++i) transport.answer(*dispatcher, 1, 200);
  EXPECT_TRUE(done.empty());
  EXPECT_TRUE(dispatcher->prepared(asked[1].token, send("one for shaped", {{"X-T", "1"}})));
  ASSERT_EQ(transport.openFor(0), 1u);
  EXPECT_EQ(transport.open[0].offset, 1);
  EXPECT_EQ(transport.open[0].body, "one for shaped");
  EXPECT_EQ(transport.open[0].headers, (HttpHeaders{{"X-T", "1"}}));
  EXPECT_EQ(dispatcher->sinkBacklogBytes(0),
            std::string("one for shaped").size() + 2 * std::string("{\"n\":0}").size());
  transport.answer(*dispatcher, 0, 200);
  EXPECT_EQ(done, std::vector<std::int64_t>{1});
  // Skipped by its transform: done without a request to that sink.
  EXPECT_TRUE(dispatcher->prepared(asked[0].token, kind(Dispatcher::Preparation::Kind::kSkip)));
  EXPECT_EQ(done, (std::vector<std::int64_t>{1, 0}));
  EXPECT_EQ(dispatcher->counters(0).skipped, 1u);
  // Failed by its transform: given up for that sink, with the transform's reason.
  EXPECT_TRUE(dispatcher->prepared(asked[2].token,
                                   kind(Dispatcher::Preparation::Kind::kFail, "trap: boom")));
  ASSERT_EQ(done, (std::vector<std::int64_t>{1, 0, 2}));
  ASSERT_EQ(failures[2].size(), 1u);
  EXPECT_EQ(failures[2][0].sink, "shaped");
  EXPECT_STREQ(failures[2][0].reason, "transform_failed");
  EXPECT_EQ(failures[2][0].error, "trap: boom");
  EXPECT_EQ(transport.sent_total, 4u);
  EXPECT_EQ(dispatcher->sinkBacklogBytes(0), 0u);
  EXPECT_EQ(dispatcher->inFlightEvents(), 0u);
}

TEST_F(PreparedDispatchTest, ALaneKeepsThePartitionsOrderWhateverOrderResultsComeIn) {
  auto shaped = sink("shaped", 8);
  shaped.ordering = Ordering::kPartition;
  makePrepared(shaped);
  for (int i = 0; i < 4; ++i) dispatcher->dispatch(event(i));
  ASSERT_EQ(asked.size(), 4u);
  dispatcher->prepared(asked[2].token, send("2"));
  dispatcher->prepared(asked[1].token, send("1"));
  EXPECT_TRUE(transport.open.empty());  // 0 is still being shaped and goes first
  dispatcher->prepared(asked[0].token, send("0"));
  ASSERT_EQ(transport.open.size(), 1u);
  EXPECT_EQ(transport.open[0].body, "0");
  dispatcher->prepared(asked[3].token, send("3"));
  EXPECT_EQ(transport.answer(*dispatcher, 0, 200).body, "0");
  EXPECT_EQ(transport.answer(*dispatcher, 0, 200).body, "1");
  EXPECT_EQ(transport.answer(*dispatcher, 0, 200).body, "2");
  EXPECT_EQ(transport.answer(*dispatcher, 0, 200).body, "3");
  EXPECT_EQ(done, (std::vector<std::int64_t>{0, 1, 2, 3}));
}

TEST_F(PreparedDispatchTest, ADeliverySkippedBehindTheLaneHeadLeavesTheLane) {
  auto shaped = sink("shaped", 8);
  shaped.ordering = Ordering::kPartition;
  makePrepared(shaped);
  for (int i = 0; i < 3; ++i) dispatcher->dispatch(event(i));
  dispatcher->prepared(asked[0].token, send("0"));
  dispatcher->prepared(asked[1].token, kind(Dispatcher::Preparation::Kind::kSkip));
  dispatcher->prepared(asked[2].token, send("2"));
  ASSERT_EQ(transport.open.size(), 1u);
  EXPECT_EQ(transport.answer(*dispatcher, 0, 200).body, "0");
  ASSERT_EQ(transport.open.size(), 1u);
  EXPECT_EQ(transport.answer(*dispatcher, 0, 200).body, "2");
  EXPECT_EQ(done, (std::vector<std::int64_t>{1, 0, 2}));
}

TEST_F(PreparedDispatchTest, AResultForAnAbandonedDeliveryGoesNowhere) {
  makePrepared(sink("shaped", 8), {sink("plain", 8)});
  dispatcher->dispatch(event(0));
  const auto abandoned = dispatcher->abandonAll();
  EXPECT_EQ(abandoned.size(), 1u);
  EXPECT_FALSE(dispatcher->prepared(asked[0].token, send("late")));
  EXPECT_EQ(dispatcher->sinkBacklog(0), 0u);
  EXPECT_EQ(dispatcher->sinkBacklogBytes(0), 0u);
  EXPECT_EQ(transport.openFor(0), 0u);
}

TEST_F(PreparedDispatchTest, ShapedEventsShareABatchOnlyWithTheSameHeaders) {
  makePrepared(batching(sink("shaped", 1), 10));
  for (int i = 0; i < 5; ++i) dispatcher->dispatch(event(i));
  // The window of 1 is free: the first result goes alone; the rest wait and batch by headers.
  dispatcher->prepared(asked[0].token, send("a", {{"V", "1"}}));
  dispatcher->prepared(asked[1].token, send("b", {{"V", "1"}}));
  dispatcher->prepared(asked[2].token, send("c", {{"V", "1"}}));
  dispatcher->prepared(asked[3].token, send("d", {{"V", "2"}}));
  dispatcher->prepared(asked[4].token, send("e", {{"V", "2"}}));
  ASSERT_EQ(transport.open.size(), 1u);
  EXPECT_EQ(transport.open[0].offset, 0);
  transport.answer(*dispatcher, 0, 200);
  ASSERT_EQ(transport.open.size(), 1u);
  EXPECT_EQ(transport.open[0].batch_offsets, "1, 2");
  EXPECT_EQ(transport.open[0].headers, (HttpHeaders{{"V", "1"}}));
  transport.answer(*dispatcher, 0, 200);
  ASSERT_EQ(transport.open.size(), 1u);
  EXPECT_EQ(transport.open[0].batch_offsets, "3, 4");
  EXPECT_EQ(transport.open[0].headers, (HttpHeaders{{"V", "2"}}));
}

}  // namespace
}  // namespace sluice

namespace sluice {
namespace {

// The adaptive window with a fast sink: it grows while requests wait and answers stay fast,
// up to max_in_flight, and shrinks when the sink answers 503.
TEST_F(DispatcherTest, AnAdaptiveWindowGrowsToTheCapAndShrinksOnBackPressure) {
  makeAdaptive(64);
  for (int i = 0; i < 5000; ++i) dispatcher->dispatch(event(i));
  EXPECT_EQ(transport.open.size(), ConcurrencyLimit::kInitial);
  std::vector<std::size_t> open_per_round;
  for (int round = 0; round < 30; ++round) {
    open_per_round.push_back(transport.open.size());
    scheduler.advance(std::chrono::milliseconds(3));
    for (std::size_t n = transport.open.size(); n > 0; --n) transport.answer(*dispatcher, 0, 200);
  }
  EXPECT_EQ(dispatcher->concurrencyLimit(0), 64u);
  EXPECT_EQ(transport.open.size(), 64u);
  EXPECT_LT(open_per_round[2], open_per_round[10]);
  // 503s: the window shrinks (the refused events wait for their retries meanwhile).
  scheduler.advance(std::chrono::milliseconds(20));
  for (int i = 0; i < 3; ++i) {
    transport.answer(*dispatcher, 0, 503);
    scheduler.advance(std::chrono::milliseconds(11));
  }
  EXPECT_LT(dispatcher->concurrencyLimit(0), 64u);
  EXPECT_GE(dispatcher->concurrencyLimit(0), 40u);
}

// A batching sink whose events come in bursts: while a burst lasts every slot is taken and
// full batches wait, but the burst's tail leaves part-full with slots free. A wider window
// would only split the next burst into more, smaller requests and hold more of them at once.
TEST_F(DispatcherTest, ABatchingSinksWindowGrowsOnlyWhileItsBatchesLeaveFull) {
  auto s = batching(sink("a", 512), 10);
  s.adaptive_concurrency = true;
  make({s});
  std::int64_t offset = 0;
  auto burst = [&](int events) {
    for (int i = 0; i < events; ++i) dispatcher->dispatch(event(offset++));
    while (!transport.open.empty()) {
      scheduler.advance(std::chrono::milliseconds(1));
      for (std::size_t n = transport.open.size(); n > 0; --n) {
        transport.answer(*dispatcher, 0, 200);
      }
    }
  };
  // Each burst's first events find slots free and leave alone, then the window of eight is
  // taken and requests wait: three full batches, and a last one of seven with nothing
  // behind it. Most requests leave part-full.
  for (int round = 0; round < 20; ++round) burst(45);
  EXPECT_EQ(dispatcher->concurrencyLimit(0), ConcurrencyLimit::kInitial);
  // Bursts of full batches only: the window is what bounds the sink, and it grows.
  for (int round = 0; round < 20; ++round) burst(400);
  EXPECT_GT(dispatcher->concurrencyLimit(0), ConcurrencyLimit::kInitial);
}

// A sink (or sluice's own busy loop) that gets through eight answers every 3 ms whatever the
// window: more requests in flight only wait longer. The transport's own timing says nothing
// here (libcurl's transfer time stays tiny while requests wait in sluice's loop), so the
// window must follow the latency the dispatcher sees, and stop growing.
TEST_F(DispatcherTest, TheWindowFollowsTheLatencySluiceSeesNotTheTransportsTiming) {
  makeAdaptive(512);
  for (int i = 0; i < 5000; ++i) dispatcher->dispatch(event(i));
  std::uint32_t highest = 0;
  for (int round = 0; round < 200; ++round) {
    scheduler.advance(std::chrono::milliseconds(3));
    for (int n = 0; n < 8 && !transport.open.empty(); ++n) transport.answer(*dispatcher, 0, 200);
    highest = std::max(highest, dispatcher->concurrencyLimit(0));
  }
  // Eight in flight already keep the sink busy; twice the baseline latency is 16.
  EXPECT_LE(highest, 32u);
  EXPECT_LE(transport.open.size(), 32u + Dispatcher::kMaxProbes);
}

TEST_F(DispatcherTest, RequestsNobodyOvertookTurnLaggardAFewAtATime) {
  makeAdaptive(64);
  for (int i = 0; i < 100; ++i) dispatcher->dispatch(event(i));
  ASSERT_EQ(transport.open.size(), ConcurrencyLimit::kInitial);
  scheduler.advance(std::chrono::milliseconds(1));
  transport.answer(*dispatcher, 0, 200);  // the oldest: nothing overtaken, one more starts
  // Every request slow and nothing more answered (an overwhelmed sink, or a busy loop):
  // however long they take, a few turn laggard, probes, and as many more connections open.
  // More than one: with a window of one, a single probe let a second slow request in a row
  // stall a sink slow for 1% of its requests for the whole delay.
  scheduler.advance(std::chrono::milliseconds(500));
  static_assert(Dispatcher::kMaxProbes > 1, "one probe stalls a sink slow for 1%");
  EXPECT_EQ(transport.open.size(), ConcurrencyLimit::kInitial + Dispatcher::kMaxProbes);
  scheduler.advance(std::chrono::milliseconds(500));
  EXPECT_EQ(transport.open.size(), ConcurrencyLimit::kInitial + Dispatcher::kMaxProbes)
      << "no more while nothing answers";
  EXPECT_EQ(scheduler.pending(), 0u) << "no timer spins while nothing answers";
  // The sink answers a probe's replacement: it overtook the older ones, all past
  // laggardAfter(): laggards, and the window fills again with them still in flight.
  transport.answerNewest(*dispatcher, 0);
  // The probes, overtaken now, no longer count: the other replacements, as old and nobody
  // overtook them, turn probes in their stead.
  const std::size_t refilled = 2 * ConcurrencyLimit::kInitial + Dispatcher::kMaxProbes - 1;
  EXPECT_EQ(transport.open.size(), refilled);
  // The new ones are too young to be laggards: the window holds.
  scheduler.advance(std::chrono::milliseconds(1));
  EXPECT_EQ(transport.open.size(), refilled);
}

}  // namespace
}  // namespace sluice
