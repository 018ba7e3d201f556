// The dead-letter path against librdkafka's mock cluster, in this process: letters the topic
// refuses for good are held (reported, not retried every second, no drain waits for them),
// letters refused for a while get through once the topic takes them again, and a fatal error
// of the idempotent producer replaces the producer without losing a letter.
#include "pipeline/dead_letters.h"

#include <gtest/gtest.h>

#include <chrono>
#include <functional>
#include <set>

#include "kafka_client.h"
#include "mock_cluster.h"

namespace sluice::testing {
namespace {

using namespace std::chrono_literals;

// Runs the loop until `done` holds or `timeout` passes; returns `done`'s last value.
bool runUntil(EventLoop& loop, const std::function<bool()>& done, Millis timeout) {
  const TimePoint deadline = loop.now() + timeout;
  bool met = false;
  std::function<void()> check = [&] {
    met = done();
    if (met || loop.now() >= deadline) {
      loop.stop();
      return;
    }
    loop.runAfter(Millis(10), check);
  };
  loop.runAfter(Millis(0), check);
  loop.run();
  return met;
}

class DeadLettersTest : public ::testing::Test {
 protected:
  DeadLettersTest() : mock_(1) {
    mock_.createTopic("in", 1);
    mock_.createTopic("dlq", 1);
    kafka_.brokers = mock_.bootstrap();
    config_.topic = "dlq";
  }

  // Real consumed records, as the intake takes them: key, value and headers copied out.
  std::vector<EventPtr> consume(const std::vector<RawRecord>& records) {
    produceRaw(kafka_.brokers, "in", 0, records);
    RdConfPtr conf(rd_kafka_conf_new());
    setConf(conf.get(), "bootstrap.servers", kafka_.brokers, "test");
    setConf(conf.get(), "group.id", "dead-letters-test", "test");
    setConf(conf.get(), "log_level", "2", "test");
    std::array<char, 512> err{};
    consumer_.reset(rd_kafka_new(RD_KAFKA_CONSUMER, conf.get(), err.data(), err.size()));
    if (!consumer_) throw std::runtime_error(err.data());
    conf.release();
    RdPartitionListPtr assignment(rd_kafka_topic_partition_list_new(1));
    rd_kafka_topic_partition_list_add(assignment.get(), "in", 0)->offset = RD_KAFKA_OFFSET_BEGINNING;
    rd_kafka_assign(consumer_.get(), assignment.get());
    std::vector<EventPtr> events;
    const auto deadline = std::chrono::steady_clock::now() + 10s;
    while (events.size() < records.size() && std::chrono::steady_clock::now() < deadline) {
      RdMessagePtr msg(rd_kafka_consumer_poll(consumer_.get(), 100));
      if (!msg || msg->err) continue;
      auto e = std::make_unique<Event>();
      e->partition = partition_;
      e->offset = msg->offset;
      e->adoptRecord(*msg);
      events.push_back(std::move(e));
    }
    return events;
  }

  DeadLetters make(DeadLetterPacing pacing = {Millis(50), Millis(400)}) {
    return DeadLetters(
        loop_, kafka_, config_, [this](EventPtr e) { done_.push_back(e->offset); },
        [this](const PartitionState& p) { held_calls_.push_back(&p); }, pacing);
  }

  static DeadLetterReason invalid() {
    DeadLetterReason why;
    why.reason = "invalid_json";
    why.error = "test";
    return why;
  }

  MockCluster mock_;
  KafkaConfig kafka_;
  DeadLetterConfig config_;
  EventLoop loop_;
  RdKafkaPtr consumer_;
  PartitionStatePtr partition_ = std::make_shared<PartitionState>("in", 0);
  std::vector<std::int64_t> done_;
  std::vector<const PartitionState*> held_calls_;
};

TEST_F(DeadLettersTest, TooLargeGoesWithoutValueThenWithoutKeyAndHeaders) {
  // librdkafka refuses records over message.max.bytes before sending (1000 is its minimum).
  config_.properties["message.max.bytes"] = "1000";
  auto events = consume({{"k", std::string(3000, 'v'), {}},
                         {std::string(3000, 'k'), "x", {{"h", std::string(2000, 'h')}}}});
  ASSERT_EQ(events.size(), 2u);
  DeadLetters letters = make();
  letters.send(std::move(events[0]), invalid());
  letters.send(std::move(events[1]), invalid());
  ASSERT_TRUE(runUntil(loop_, [&] { return done_.size() == 2; }, 10s)) << letters.trouble();
  EXPECT_EQ(letters.held(), 0u);
  const auto written = readTopic(kafka_.brokers, "dlq", 2, 10s);
  ASSERT_EQ(written.size(), 2u);
  EXPECT_EQ(written[0].key, "k");  // the value alone was too much
  EXPECT_TRUE(written[0].value.empty());
  EXPECT_EQ(written[0].headers.at("sluice.value_omitted"), "3000");
  EXPECT_EQ(written[0].headers.count("sluice.key_omitted"), 0u);
  EXPECT_TRUE(written[1].key.empty());  // a hostile key and header: left out too
  EXPECT_EQ(written[1].headers.at("sluice.key_omitted"), "3000");
  EXPECT_EQ(written[1].headers.count("h"), 0u);
  EXPECT_EQ(written[1].headers.at("sluice.source.offset"), "1");
  EXPECT_EQ(written[1].headers.at("sluice.reason"), "invalid_json");
}

TEST_F(DeadLettersTest, TooLargeEvenBareIsHeldNotRetriedEverySecond) {
  config_.properties["message.max.bytes"] = "1000";
  auto events = consume({{"k", "not json", {}}, {"k", "also not json", {}}});
  ASSERT_EQ(events.size(), 2u);
  DeadLetters letters = make();
  DeadLetterReason huge = invalid();
  huge.error = std::string(3000, 'e');  // the sluice.* headers alone are over the limit
  letters.send(std::move(events[0]), huge);
  letters.send(std::move(events[1]), invalid());
  ASSERT_TRUE(runUntil(loop_, [&] { return done_.size() == 1 && letters.held() == 1; }, 10s))
      << "done " << done_.size() << ", held " << letters.held();
  EXPECT_EQ(done_, std::vector<std::int64_t>{1});  // the other one is written
  EXPECT_EQ(partition_->held_events, 1u);          // drains do not wait for it
  EXPECT_NE(letters.trouble().find("MSG_SIZE_TOO_LARGE"), std::string::npos) << letters.trouble();
  EXPECT_NE(letters.trouble().find("without the value, key and headers"), std::string::npos)
      << letters.trouble();
  // Whoever drains that partition hears of it, after the call that held it.
  ASSERT_TRUE(runUntil(loop_, [&] { return held_calls_.size() == 1; }, 1s));
  EXPECT_EQ(held_calls_[0], partition_.get());
  // Held letters go again only at the slowest pace (400 ms here), not at every loop turn: in
  // 2 s, about five tries, each already in its barest form (one produce each).
  const std::uint64_t before = letters.produceAttempts();
  runUntil(loop_, [] { return false; }, Millis(2'000));
  EXPECT_LE(letters.produceAttempts() - before, 6u);
  EXPECT_GE(letters.produceAttempts() - before, 2u);
  // A rebalance takes it back: nothing is left held.
  EXPECT_EQ(letters.abandon(partition_.get()).size(), 1u);
  EXPECT_EQ(letters.held(), 0u);
  EXPECT_EQ(partition_->held_events, 0u);
  EXPECT_TRUE(letters.trouble().empty());
  EXPECT_EQ(readTopic(kafka_.brokers, "dlq", 1, 10s).size(), 1u);
}

TEST_F(DeadLettersTest, RefusedLettersAreHeldUntilTheTopicTakesThemAgain) {
  auto events = consume({{"k", "not json", {}}});
  ASSERT_EQ(events.size(), 1u);
  mock_.failNextProduces(RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED, 3);
  DeadLetters letters = make();
  letters.send(std::move(events[0]), invalid());
  ASSERT_TRUE(runUntil(loop_, [&] { return letters.held() == 1; }, 10s));
  EXPECT_NE(letters.trouble().find("TOPIC_AUTHORIZATION_FAILED"), std::string::npos)
      << letters.trouble();
  EXPECT_TRUE(done_.empty());
  // The injected refusals run out (an operator fixed the ACL): the held letter goes through.
  ASSERT_TRUE(runUntil(loop_, [&] { return done_.size() == 1; }, 20s));
  EXPECT_EQ(letters.held(), 0u);
  EXPECT_EQ(partition_->held_events, 0u);
  EXPECT_TRUE(letters.trouble().empty());
  EXPECT_EQ(readTopic(kafka_.brokers, "dlq", 1, 10s).size(), 1u);
}

TEST_F(DeadLettersTest, LettersInFlightAtAFatalErrorAreProducedAgain) {
  auto events = consume({{"a", "x", {}}, {"b", "y", {}}});
  ASSERT_EQ(events.size(), 2u);
  mock_.setRtt(1, 1'000);  // produce requests now take a second to be answered
  DeadLetters letters = make();
  letters.send(std::move(events[0]), invalid());
  letters.send(std::move(events[1]), invalid());
  runUntil(loop_, [] { return false; }, Millis(200));  // both are on their way
  ASSERT_TRUE(done_.empty());
  letters.triggerFatalErrorForTesting();
  ASSERT_TRUE(runUntil(loop_, [&] { return done_.size() == 2; }, 20s))
      << "done " << done_.size() << ", trouble: " << letters.trouble();
  EXPECT_EQ(letters.producersReplaced(), 1u);
  std::set<std::string> keys;
  for (const auto& r : readTopic(kafka_.brokers, "dlq", 2, 10s)) keys.insert(r.key);
  EXPECT_EQ(keys, (std::set<std::string>{"a", "b"}));
}

TEST_F(DeadLettersTest, FatalProducerErrorReplacesTheProducerAndLosesNothing) {
  auto events = consume({{"a", "x", {}}, {"b", "y", {}}, {"c", "z", {}}});
  ASSERT_EQ(events.size(), 3u);
  DeadLetters letters = make();
  letters.send(std::move(events[0]), invalid());
  ASSERT_TRUE(runUntil(loop_, [&] { return done_.size() == 1; }, 10s));
  letters.triggerFatalErrorForTesting();
  letters.send(std::move(events[1]), invalid());
  letters.send(std::move(events[2]), invalid());
  ASSERT_TRUE(runUntil(loop_, [&] { return done_.size() == 3; }, 20s))
      << "done " << done_.size() << ", trouble: " << letters.trouble();
  EXPECT_EQ(letters.producersReplaced(), 1u);
  EXPECT_TRUE(letters.trouble().empty());
  const auto written = readTopic(kafka_.brokers, "dlq", 3, 10s);
  std::set<std::string> keys;
  for (const auto& r : written) keys.insert(r.key);
  EXPECT_EQ(keys, (std::set<std::string>{"a", "b", "c"}));
}

TEST_F(DeadLettersTest, WithoutATopicEventsAreHeldAndThatIsNoFault) {
  config_.topic.clear();
  auto events = consume({{"k", "not json", {}}});
  ASSERT_EQ(events.size(), 1u);
  DeadLetters letters = make();
  letters.send(std::move(events[0]), invalid());
  EXPECT_EQ(letters.held(), 1u);
  EXPECT_EQ(partition_->held_events, 1u);
  EXPECT_TRUE(letters.trouble().empty());  // the operator's choice; the held metric says it
  EXPECT_EQ(letters.abandon(nullptr).size(), 1u);
  EXPECT_EQ(partition_->held_events, 0u);
}

}  // namespace
}  // namespace sluice::testing
