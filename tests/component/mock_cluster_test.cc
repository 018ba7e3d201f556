// Component tests: the real sluice binary and recording sinks against librdkafka's mock cluster,
// which runs inside this test process and lets us inject protocol errors.
//
// The invariant under test, sampled all through each run: a committed offset never moves past
// an event some sink has not accepted. One sample reads the committed offsets C first and the
// sinks' record files only afterwards (after the sinks' flush interval), so anything a sink had
// accepted when C was committed is visible by then; a miss is a real violation, not a race.
// (The converse is the check's blind spot: an event accepted in those 200 ms after a premature
// commit goes unnoticed, which is why it samples all the time rather than once.)
#include <gtest/gtest.h>
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>
#include <signal.h>
#include <sys/wait.h>

#include <array>
#include <atomic>
#include <chrono>
#include <cstdlib>
#include <ctime>
#include <exception>
#include <fstream>
#include <iomanip>
#include <iostream>
#include <map>
#include <mutex>
#include <regex>
#include <set>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "kafka/rd_handles.h"
#include "mock_cluster.h"
#include "pipeline.h"

namespace sluice::testing {
namespace {

using namespace std::chrono_literals;

// The sinks flush their record files every 50 ms; four times that leaves room for a loaded box.
constexpr auto kRecordVisibilityDelay = 200ms;

// Pipeline's config with some values changed that ConfigOptions has no knob for. Throws if a
// value is not where we expect it, so a change to Pipeline's YAML cannot silently turn a tweak
// (and what the test relies on) off.
std::string writeConfigWith(const Pipeline& pl, ConfigOptions options,
                            const std::vector<std::pair<std::string, std::string>>& replace = {}) {
  // The mock coordinator waits session.timeout.ms minus one second for members to rejoin
  // before it completes a rebalance; Pipeline's 10 s would make every rebalance take 9 s.
  options.kafka_properties.emplace("session.timeout.ms", "4000");
  if (const char* debug = std::getenv("SLUICE_TEST_RDKAFKA_DEBUG")) {
    options.kafka_properties.emplace("debug", debug);  // librdkafka's contexts, e.g. "cgrp"
    options.extra += "log_level: debug\n";
  }
  const std::string path = pl.writeConfig(options);
  std::string yaml = readFile(path);
  for (const auto& [from, to] : replace) {
    const auto at = yaml.find(from);
    if (at == std::string::npos) throw std::runtime_error("config has no '" + from + "'");
    yaml.replace(at, from.size(), to);
  }
  std::ofstream(path) << yaml;
  return path;
}

// One sample of the invariant: for each partition p, every offset below committed[p] must be
// in every sink's records. Returns one line per (sink, partition) that misses something.
std::vector<std::string> eventsMissingBelowCommit(const Pipeline& pl,
                                                  const PartitionOffsets& committed) {
  std::vector<std::string> problems;
  for (std::size_t s = 0; s < pl.sinkCount(); ++s) {
    std::map<std::int32_t, std::set<std::int64_t>> have;
    for (const auto& r : pl.records(s).all) {
      if (r.topic == pl.topic()) have[r.partition].insert(r.offset);
    }
    for (const auto& [p, c] : committed) {
      std::int64_t missing = 0;
      std::int64_t first = -1;
      const auto& offsets = have[p];
      for (std::int64_t o = 0; o < c; ++o) {
        if (!offsets.contains(o) && missing++ == 0) first = o;
      }
      if (missing > 0) {
        std::ostringstream line;
        line << "partition " << p << " committed at " << c << " but sink " << s << " misses "
             << missing << " event(s) below it, the first at offset " << first;
        problems.push_back(line.str());
      }
    }
  }
  return problems;
}

std::string wallClockNow() {
  const auto now = std::chrono::system_clock::now();
  const std::time_t t = std::chrono::system_clock::to_time_t(now);
  std::tm tm{};
  localtime_r(&t, &tm);
  std::array<char, 32> buf{};
  std::strftime(buf.data(), buf.size(), "%H:%M:%S", &tm);
  const auto ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count() % 1000;
  std::ostringstream out;
  out << buf.data() << '.' << std::setw(3) << std::setfill('0') << ms;
  return out.str();
}

// Samples the invariant on its own thread for as long as it lives, so the test's main thread is
// free to drive the scenario (produce, start and stop consumers) while every phase is covered.
class InvariantSampler {
 public:
  explicit InvariantSampler(const Pipeline& pl) : pl_(pl), thread_([this] { run(); }) {}
  ~InvariantSampler() { stop(); }
  InvariantSampler(const InvariantSampler&) = delete;
  InvariantSampler& operator=(const InvariantSampler&) = delete;

  void stop() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
  }
  int samples() const { return samples_; }
  std::vector<std::string> violations() const {
    std::lock_guard lock(mu_);
    return violations_;
  }

 private:
  void run() {
    while (!stop_) {
      const std::string at = wallClockNow();  // to line violations up with sluice's log
      PartitionOffsets committed;
      try {
        committed = pl_.committed();
      } catch (const std::exception& e) {
        // A probe that could not read the offsets proves nothing either way; say so and retry.
        std::cerr << "[ sampler  ] committed offsets unreadable at " << at << ": " << e.what()
                  << "\n";
        std::this_thread::sleep_for(kRecordVisibilityDelay);
        continue;
      }
      // Records are read strictly after the offsets and after the sinks' flush interval.
      std::this_thread::sleep_for(kRecordVisibilityDelay);
      const auto problems = eventsMissingBelowCommit(pl_, committed);
      ++samples_;
      if (!problems.empty()) {
        std::lock_guard lock(mu_);
        for (const auto& p : problems) violations_.push_back("committed read at " + at + ": " + p);
      }
    }
  }

  const Pipeline& pl_;
  std::atomic<bool> stop_{false};
  std::atomic<int> samples_{0};
  mutable std::mutex mu_;
  std::vector<std::string> violations_;
  std::thread thread_;  // last: starts once everything it uses exists
};

std::int64_t total(const PartitionOffsets& offsets) {
  std::int64_t n = 0;
  for (const auto& [p, o] : offsets) n += o;
  return n;
}

std::size_t countLines(const std::string& log, const std::string& needle) {
  std::size_t n = 0;
  std::istringstream in(log);
  for (std::string line; std::getline(in, line);) n += line.find(needle) != std::string::npos;
  return n;
}

// How many partitions sluice's latest "assigned" line says it holds (its assign callback logs
// the running total; a revoke is followed by an "assigned 0" line with the new total).
int ownedPartitions(const std::string& log) {
  static const std::regex kAssigned(R"(assigned \d+ partition\(s\): .* \(now (\d+)\))");
  int owned = 0;
  std::istringstream in(log);
  for (std::string line; std::getline(in, line);) {
    std::smatch m;
    if (std::regex_search(line, m, kAssigned)) owned = std::stoi(m[1]);
  }
  return owned;
}

void expectCleanExit(Pipeline& pl, std::size_t i) {
  const auto status = pl.sluice(i).wait(30s);
  ASSERT_TRUE(status.has_value()) << "sluice " << i << " did not exit after SIGTERM";
  EXPECT_TRUE(WIFEXITED(*status) && WEXITSTATUS(*status) == 0)
      << "sluice " << i << " exit status " << *status;
}

void expectNoViolations(const InvariantSampler& sampler, const Pipeline& pl) {
  const auto violations = sampler.violations();
  if (violations.empty()) return;
  ADD_FAILURE() << violations.size() << " violation(s); first: " << violations.front()
                << "\n(logs in " << pl.dir() << ")";
  for (std::size_t i = 0; i < violations.size() && i < 20; ++i) {
    std::cout << "[ violation] " << violations[i] << "\n";
  }
}

void printDuplicates(const Pipeline& pl) {
  for (std::size_t s = 0; s < pl.sinkCount(); ++s) {
    const auto r = pl.records(s);
    std::cout << "[ figures  ] sink " << s << ": " << r.all.size() << " accepted requests, "
              << r.duplicates() << " duplicates\n";
  }
}

using CommitErrors = std::vector<std::pair<rd_kafka_resp_err_t, int>>;  // error, delay in ms

// Errors a moving or slow coordinator answers with: the consumer keeps retrying, and may only
// ever commit offsets sluice stored, never anything newer.
const CommitErrors kRetriableCommitErrors = {
    {RD_KAFKA_RESP_ERR_NOT_COORDINATOR, 0},
    {RD_KAFKA_RESP_ERR_REQUEST_TIMED_OUT, 300},
    {RD_KAFKA_RESP_ERR_COORDINATOR_LOAD_IN_PROGRESS, 0},
    {RD_KAFKA_RESP_ERR_COORDINATOR_NOT_AVAILABLE, 0},
    {RD_KAFKA_RESP_ERR_REQUEST_TIMED_OUT, 0},
    {RD_KAFKA_RESP_ERR_NOT_COORDINATOR, 0},
};

// Errors that make the consumer rejoin the group, so sluice sees its partitions revoked or lost
// with events in flight and gets them back.
const CommitErrors kRejoinCommitErrors = {
    {RD_KAFKA_RESP_ERR_REBALANCE_IN_PROGRESS, 0},
    {RD_KAFKA_RESP_ERR_ILLEGAL_GENERATION, 0},
    {RD_KAFKA_RESP_ERR_UNKNOWN_MEMBER_ID, 0},
};

TEST(MockCluster, InjectedCommitErrorsNeverCommitPastAnUndeliveredEvent) {
  MockCluster mock(3);
  constexpr int kPartitions = 4;
  Pipeline pl("mock-commit-errors", kPartitions, mock.bootstrap(), /*create_topic=*/false);
  mock.createTopic(pl.topic(), kPartitions);
  mock.setGroupCoordinator(pl.group(), 2);
  pl.startSink("a");
  // Fails a fifth of its requests (retried at once), so its deliveries trail the others'.
  pl.startSink("b", {"--fail-share", "0.2", "--retry-after", "0"});
  pl.startSink("c", {"--delay-share", "0.05", "--delay-ms", "300"});
  pl.startSluice(writeConfigWith(pl, {}));
  ASSERT_TRUE(waitFor([&] { return ownedPartitions(pl.sluiceLog(0)) == kPartitions; }, 30s))
      << pl.sluiceLog(0);

  InvariantSampler sampler(pl);
  std::int64_t produced = 0;
  // Each batch meets its own burst of errors while its events are in flight; the last one
  // forces rejoins. Every burst is drained before the next, so each error met some commit (a
  // queued, older commit may be the one that meets it). The coordinator churn of the first bursts
  // can also cost the consumer its session: partitions lost and redelivered, which the
  // invariant must survive just the same.
  const std::vector<const CommitErrors*> bursts = {&kRetriableCommitErrors, &kRetriableCommitErrors,
                                                   &kRetriableCommitErrors, &kRejoinCommitErrors};
  std::size_t injected = 0;
  for (const CommitErrors* burst : bursts) {
    mock.failNextCommits(*burst);
    injected += burst->size();
    pl.produce(600, produced);
    produced += 600;
    ASSERT_TRUE(waitFor([&] { return mock.pendingCommitErrors() == 0; }, 20s))
        << mock.pendingCommitErrors() << " injected commit errors never met a commit";
  }
  const auto end = pl.end();
  ASSERT_EQ(total(end), produced);
  const auto expected = pl.expectedKeys(end);
  for (std::size_t s = 0; s < pl.sinkCount(); ++s) {
    EXPECT_TRUE(waitFor([&] { return pl.sinkHasAll(s, expected); }, 30s))
        << "sink " << s << " misses " << pl.missingFrom(s, expected) << " events";
  }
  EXPECT_TRUE(waitFor([&] { return pl.committed() == end; }, 30s))
      << "committed offsets never reached the end offsets once the errors stopped";
  sampler.stop();

  pl.sluice(0).signal(SIGTERM);
  expectCleanExit(pl, 0);
  EXPECT_EQ(pl.committed(), end);
  EXPECT_TRUE(eventsMissingBelowCommit(pl, pl.committed()).empty());
  expectNoViolations(sampler, pl);
  EXPECT_GE(sampler.samples(), 5);
  std::smatch commits;
  const std::string log = pl.sluiceLog(0);
  std::regex_search(log, commits, std::regex(R"(commits \d+ ok / \d+ failed)"));
  std::cout << "[ figures  ] " << injected << " commit errors injected; sluice's totals: "
            << commits.str() << "; " << countLines(log, " info lost ") << " assignment(s) lost; "
            << sampler.samples() << " invariant samples\n";
  printDuplicates(pl);
}

// A partition librdkafka cannot fetch (its leader refuses connections) while sluice holds
// nothing back: after 30 s sluice says which one and why, and says when it fetches again.
TEST(MockCluster, APartitionThatIsNeverFetchedIsReportedStalledAndRecovered) {
  MockCluster mock(2);
  constexpr int kPartitions = 2;
  Pipeline pl("mock-fetch-stall", kPartitions, mock.bootstrap(), /*create_topic=*/false);
  mock.createTopic(pl.topic(), kPartitions);
  mock.setGroupCoordinator(pl.group(), 1);
  mock.setLeader(pl.topic(), 0, 1);
  mock.setLeader(pl.topic(), 1, 2);
  pl.startSink("a");
  pl.produce(200);
  const auto end = pl.end();
  ASSERT_GT(end.at(1), 0);
  mock.setBrokerUp(2, false);
  ConfigOptions options;
  options.kafka_properties.emplace("statistics.interval.ms", "1000");
  pl.startSluice(writeConfigWith(pl, options));
  const std::string stalled = "partition " + pl.topic() + "[1]: librdkafka has fetched nothing";
  ASSERT_TRUE(waitFor([&] { return pl.sluiceLog(0).find(stalled) != std::string::npos; }, 60s))
      << pl.sluiceLog(0);
  const std::string log = pl.sluiceLog(0);
  EXPECT_NE(log.find(stalled + " for it for 30 s or more while sluice held nothing back (no "
                               "fetch answer yet"),
            std::string::npos)
      << log;
  EXPECT_EQ(log.find("partition " + pl.topic() + "[0]: librdkafka has fetched nothing"),
            std::string::npos)
      << "partition 0 was fetched to its end: no stall";
  EXPECT_EQ(countLines(log, stalled), 1u) << "said once";
  // Its leader comes back: the events arrive, and the stall is over.
  mock.setBrokerUp(2, true);
  const auto expected = pl.expectedKeys(end);
  EXPECT_TRUE(waitFor([&] { return pl.sinkHasAll(0, expected); }, 60s))
      << "sink a misses " << pl.missingFrom(0, expected);
  EXPECT_TRUE(waitFor(
      [&] {
        return pl.sluiceLog(0).find("partition " + pl.topic() + "[1]: no longer stalled") !=
               std::string::npos;
      },
      20s))
      << pl.sluiceLog(0);
  pl.sluice(0).signal(SIGTERM);
  expectCleanExit(pl, 0);
}

TEST(MockCluster, RebalanceBetweenTwoConsumersNeverCommitsPastAnUndeliveredEvent) {
  MockCluster mock(3);
  constexpr int kPartitions = 6;
  Pipeline pl("mock-rebalance", kPartitions, mock.bootstrap(), /*create_topic=*/false);
  mock.createTopic(pl.topic(), kPartitions);
  pl.startSink("a");
  // Some answers take longer than the shutdown grace below, and revoked partitions are released
  // with their deliveries in flight, so both leave undelivered events behind: their offsets
  // must stay uncommitted until the next owner has delivered them.
  pl.startSink("b", {"--delay-share", "0.02", "--delay-ms", "1500"});
  pl.startSink("c", {"--fail-share", "0.1", "--retry-after", "0"});
  const std::string config = writeConfigWith(
      pl, {}, {{"shutdown_grace_ms: 5000", "shutdown_grace_ms: 700"}});
  pl.startSluice(config);
  ASSERT_TRUE(waitFor([&] { return ownedPartitions(pl.sluiceLog(0)) == kPartitions; }, 30s))
      << pl.sluiceLog(0);

  InvariantSampler sampler(pl);
  // A steady stream until both rebalances are over, so partitions move with events in flight.
  std::atomic<bool> stop_producing{false};
  std::atomic<std::int64_t> produced{0};
  std::exception_ptr produce_error;
  std::thread producer([&] {
    try {
      while (!stop_producing) {
        ProduceOptions o;
        o.count = 250;
        o.first_seq = produced;
        o.partitions = kPartitions;
        o.body_bytes = 200;
        o.rate_per_sec = 500;
        produceEvents(pl.bootstrap(), pl.topic(), o);
        produced += o.count;
      }
    } catch (...) {
      produce_error = std::current_exception();
    }
  });
  // Stops the producer on every way out of the test, so the thread is never left running.
  struct StopProducer {
    std::atomic<bool>& flag;
    std::thread& thread;
    ~StopProducer() {
      flag = true;
      if (thread.joinable()) thread.join();
    }
  } stop_producer{stop_producing, producer};

  const auto delivered = [&] { return pl.recordCount(0); };
  ASSERT_TRUE(waitFor([&] { return delivered() >= 500; }, 30s));
  pl.startSluice(config);
  // Cooperative: the first process gives partitions up, then the second one gets them.
  const bool moved = waitFor(
      [&] {
        return ownedPartitions(pl.sluiceLog(1)) > 0 &&
               countLines(pl.sluiceLog(0), " revoked ") > 0;
      },
      30s);
  ASSERT_TRUE(moved) << "no partitions moved to the second consumer";
  std::cout << "[ figures  ] after the join: sluice 0 owns " << ownedPartitions(pl.sluiceLog(0))
            << ", sluice 1 owns " << ownedPartitions(pl.sluiceLog(1)) << " partition(s)\n";

  // Let both share the stream for a while, then stop the first one with events in flight.
  const std::size_t shared_from = delivered();
  ASSERT_TRUE(waitFor([&] { return delivered() >= shared_from + 500; }, 30s));
  pl.sluice(0).signal(SIGTERM);
  expectCleanExit(pl, 0);
  EXPECT_TRUE(waitFor([&] { return ownedPartitions(pl.sluiceLog(1)) == kPartitions; }, 30s))
      << "the second consumer never took over every partition";
  const std::size_t alone_from = delivered();
  EXPECT_TRUE(waitFor([&] { return delivered() >= alone_from + 500; }, 30s));

  stop_producing = true;
  producer.join();
  if (produce_error) std::rethrow_exception(produce_error);
  const auto end = pl.end();
  ASSERT_EQ(total(end), produced.load());
  const auto expected = pl.expectedKeys(end);
  for (std::size_t s = 0; s < pl.sinkCount(); ++s) {
    EXPECT_TRUE(waitFor([&] { return pl.sinkHasAll(s, expected); }, 30s))
        << "sink " << s << " misses " << pl.missingFrom(s, expected) << " events";
  }
  EXPECT_TRUE(waitFor([&] { return pl.committed() == end; }, 30s))
      << "committed offsets never reached the end offsets";
  sampler.stop();

  pl.sluice(1).signal(SIGTERM);
  expectCleanExit(pl, 1);
  EXPECT_EQ(pl.committed(), end);
  EXPECT_TRUE(eventsMissingBelowCommit(pl, pl.committed()).empty());
  expectNoViolations(sampler, pl);
  EXPECT_GE(sampler.samples(), 5);
  std::cout << "[ figures  ] " << produced << " events, " << sampler.samples()
            << " invariant samples\n";
  printDuplicates(pl);
}

}  // namespace
}  // namespace sluice::testing
