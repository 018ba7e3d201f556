#include "chaos.h"

#include <signal.h>
#include <sys/wait.h>

#include <algorithm>
#include <fstream>
#include <future>
#include <iomanip>
#include <mutex>
#include <random>
#include <thread>

#include "chunked_producer.h"
#include "kafka_client.h"
#include "kafka_local.h"
#include "pipeline.h"
#include "sluice_log.h"

namespace sluice::testing {
namespace {

using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

enum class Kind { kKill, kSinkDown, kSinkUp, kBrokerDown, kBrokerUp, kScaleOut, kScaleIn };

struct Action {
  double at_s = 0;  // after the production started
  Kind kind = Kind::kKill;
  std::size_t sink = 0;
  bool crash = false;  // broker: kill -9 rather than a clean stop
};

std::vector<Action> schedule(const ChaosPlan& plan, std::size_t sinks) {
  std::mt19937_64 rng(plan.seed);
  const double t = static_cast<double>(plan.events) / plan.produce_rate;
  const auto uniform = [&](double lo, double hi) {
    return std::uniform_real_distribution<double>(lo, std::max(lo, hi))(rng);
  };
  std::vector<Action> out;
  for (int k = 0; k < plan.kills; ++k) out.push_back({uniform(0.03 * t, 0.97 * t), Kind::kKill});
  const double outage = static_cast<double>(plan.outage.count());
  for (int i = 0; i < plan.sink_outages; ++i) {
    const double segment = t / plan.sink_outages;
    const double start = uniform(segment * i, segment * (i + 1) - outage);
    const std::size_t sink = std::uniform_int_distribution<std::size_t>(0, sinks - 1)(rng);
    out.push_back({start, Kind::kSinkDown, sink});
    out.push_back({start + outage, Kind::kSinkUp, sink});
  }
  for (int i = 0; i < plan.broker_restarts; ++i) {
    const double start = uniform(0.15 * t, 0.85 * t);
    const bool crash = std::bernoulli_distribution(0.5)(rng);
    out.push_back({start, Kind::kBrokerDown, 0, crash});
    out.push_back({start + static_cast<double>(plan.broker_down.count()), Kind::kBrokerUp, 0,
                   crash});
  }
  if (plan.peak_members > 1) {
    out.push_back({t / 3, Kind::kScaleOut});
    if (plan.scale_back) out.push_back({2 * t / 3, Kind::kScaleIn});
  }
  std::stable_sort(out.begin(), out.end(),
                   [](const Action& a, const Action& b) { return a.at_s < b.at_s; });
  return out;
}

// A chaos action, as the cause a later duplicate is put down to.
struct Mark {
  std::int64_t at_us;  // unix micros, the sinks' arrival clock
  std::string what;
};

// What a duplicate is put down to: the first action after the event's first arrival (a
// redelivery needs something to happen after the first delivery; the first such thing is its
// likeliest cause, though a killed member's partitions move only when its session expires).
const std::string& causeOf(const std::vector<Mark>& marks, std::int64_t first_us,
                           std::int64_t again_us) {
  static const std::string kNone = "no action (a retry)";
  const auto next = std::upper_bound(marks.begin(), marks.end(), first_us,
                                     [](std::int64_t t, const Mark& m) { return t < m.at_us; });
  return next == marks.end() || next->at_us > again_us ? kNone : next->what;
}

// Counts, from a sink's record file, how often each event of the topic was recorded, and
// puts each duplicate down to a chaos action.
SinkTally tally(const std::string& name, const std::string& record_path,
                const PartitionOffsets& end, const std::vector<Mark>& marks = {}) {
  // Per partition and offset: when the event first arrived (unix micros; 0: not yet).
  std::map<std::int32_t, std::vector<std::int64_t>> seen;
  for (const auto& [p, e] : end) {
    seen[p].assign(static_cast<std::size_t>(std::max<std::int64_t>(e, 0)), 0);
  }
  SinkTally out;
  out.name = name;
  std::ifstream in(record_path);
  std::string line;
  while (std::getline(in, line)) {
    if (in.eof()) break;  // no newline yet: a line still being written
    // key \t topic \t partition \t offset \t ...
    const auto t1 = line.find('\t');
    const auto t2 = t1 == std::string::npos ? t1 : line.find('\t', t1 + 1);
    const auto t3 = t2 == std::string::npos ? t2 : line.find('\t', t2 + 1);
    const auto t4 = t3 == std::string::npos ? t3 : line.find('\t', t3 + 1);
    if (t4 == std::string::npos) continue;
    ++out.requests;
    const auto p = static_cast<std::int32_t>(std::stol(line.substr(t2 + 1, t3 - t2 - 1)));
    const auto o = std::stoll(line.substr(t3 + 1, t4 - t3 - 1));
    auto it = seen.find(p);
    if (it == seen.end() || o < 0 || o >= static_cast<std::int64_t>(it->second.size())) continue;
    // ... \t attempt \t body hash \t body length \t arrival (unix micros) \t ...
    std::size_t at = t4;
    for (int field = 0; field < 3 && at != std::string::npos; ++field) {
      at = line.find('\t', at + 1);
    }
    const std::int64_t arrival = at == std::string::npos ? 1 : std::stoll(line.substr(at + 1));
    auto& first = it->second[static_cast<std::size_t>(o)];
    if (first == 0) {
      first = std::max<std::int64_t>(arrival, 1);
    } else {
      ++out.duplicates;
      if (!marks.empty()) ++out.duplicates_after[causeOf(marks, first, arrival)];
    }
  }
  for (const auto& [p, firsts] : seen) {
    out.lost += static_cast<std::uint64_t>(std::count(firsts.begin(), firsts.end(), 0));
  }
  return out;
}

std::int64_t total(const PartitionOffsets& offsets) {
  std::int64_t n = 0;
  for (const auto& [p, o] : offsets) n += std::max<std::int64_t>(o, 0);
  return n;
}

class ChaosRun {
 public:
  ChaosRun(const ChaosPlan& plan, std::ostream& log)
      : plan_(plan),
        log_(log),
        broker_(plan.broker_port),
        rng_(plan.seed ^ 0x9e3779b97f4a7c15ull) {}

  ChaosReport run();

 private:
  double elapsed() const { return std::chrono::duration<double>(Clock::now() - t0_).count(); }
  // One line of the run's log; written at once (std::flush) so a long run can be followed.
  void note(const std::string& what) {
    std::lock_guard lock(log_mutex_);
    log_ << "chaos: t=" << std::fixed << std::setprecision(1) << elapsed() << "s " << what
         << std::endl;
  }
  void perform(const Action& a);
  void killMember();
  void stopMembers(std::size_t keep);
  bool waitForEverything(const PartitionOffsets& end, Clock::time_point deadline);

  ChaosPlan plan_;
  std::ostream& log_;
  std::mutex log_mutex_;
  KafkaLocal broker_;
  // The broker takes seconds (after a kill -9, over ten) to come back: it starts on a thread
  // of its own so that the actions due meanwhile happen on time.
  std::future<void> broker_up_;
  std::mt19937_64 rng_;
  std::unique_ptr<Pipeline> pl_;
  std::string config_;
  std::vector<std::size_t> running_;  // member indices in the pipeline
  Clock::time_point t0_;
  ChaosReport report_;
  std::vector<Mark> marks_;
  std::size_t sinks_down_ = 0;
  bool broker_down_ = false;
};

void ChaosRun::killMember() {
  const auto pick = std::uniform_int_distribution<std::size_t>(0, running_.size() - 1)(rng_);
  const std::size_t victim = running_[pick];
  pl_->sluice(victim).signal(SIGKILL);
  pl_->sluice(victim).wait(10s);
  marks_.push_back({unixMicrosNow(), broker_down_   ? "kill -9 while the broker was down"
                                     : sinks_down_ > 0 ? "kill -9 while a sink was down"
                                                       : "kill -9"});
  running_[pick] = pl_->startSluice(config_);
  ++report_.kills;
  note("kill -9 member " + std::to_string(victim) + " (kill " + std::to_string(report_.kills) +
       "), restarted as member " + std::to_string(running_[pick]));
}

void ChaosRun::stopMembers(std::size_t keep) {
  std::shuffle(running_.begin(), running_.end(), rng_);
  std::vector<std::size_t> leaving(running_.begin() + static_cast<std::ptrdiff_t>(keep),
                                   running_.end());
  running_.resize(keep);
  for (std::size_t i : leaving) pl_->sluice(i).signal(SIGTERM);
  for (std::size_t i : leaving) {
    const auto status = pl_->sluice(i).wait(60s);
    const bool clean = status && WIFEXITED(*status) && WEXITSTATUS(*status) == 0;
    note("member " + std::to_string(i) + (clean ? " left cleanly" : " did NOT exit cleanly"));
    if (!clean) report_.members_exit_cleanly = false;
  }
}

void ChaosRun::perform(const Action& a) {
  switch (a.kind) {
    case Kind::kKill:
      killMember();
      break;
    case Kind::kSinkDown:
      pl_->stopSink(a.sink);
      ++sinks_down_;
      ++report_.outages;
      note("sink " + pl_->sinkName(a.sink) + " down");
      break;
    case Kind::kSinkUp:
      pl_->startSink(pl_->sinkName(a.sink), {}, pl_->sinkPort(a.sink));
      --sinks_down_;
      marks_.push_back({unixMicrosNow(), "sink back up"});
      note("sink " + pl_->sinkName(a.sink) + " up");
      break;
    case Kind::kBrokerDown:
      if (broker_up_.valid()) broker_up_.get();
      broker_down_ = true;
      marks_.push_back({unixMicrosNow(), "broker down"});
      if (a.crash) {
        broker_.kill();
      } else {
        broker_.stop();
      }
      ++report_.broker_restarts;
      note(std::string("broker ") + (a.crash ? "killed (-9)" : "stopped cleanly"));
      break;
    case Kind::kBrokerUp:
      note("broker starting");
      broker_down_ = false;  // for the marks: from here on it is a matter of seconds
      broker_up_ = std::async(std::launch::async, [this] {
        broker_.start();
        note("broker up");
      });
      break;
    case Kind::kScaleOut:
      marks_.push_back({unixMicrosNow(), "scale out"});
      while (running_.size() < static_cast<std::size_t>(plan_.peak_members)) {
        running_.push_back(pl_->startSluice(config_));
      }
      ++report_.scale_events;
      note("scaled out to " + std::to_string(running_.size()) + " members");
      break;
    case Kind::kScaleIn:
      note("scaling in to 1 member");
      marks_.push_back({unixMicrosNow(), "scale in"});
      stopMembers(1);
      ++report_.scale_events;
      break;
  }
}

bool ChaosRun::waitForEverything(const PartitionOffsets& end, Clock::time_point deadline) {
  const auto events = static_cast<std::size_t>(total(end));
  while (Clock::now() < deadline) {
    bool counts = true;
    for (std::size_t s = 0; s < pl_->sinkCount(); ++s) {
      counts = counts && pl_->recordCount(s) >= events;
    }
    if (counts) {
      bool complete = true;
      for (std::size_t s = 0; s < pl_->sinkCount() && complete; ++s) {
        complete = tally(pl_->sinkName(s), pl_->recordPath(s), end).lost == 0;
      }
      if (complete) return true;
    }
    std::this_thread::sleep_for(2s);
  }
  return false;
}

ChaosReport ChaosRun::run() {
  broker_.start();
  pl_ = std::make_unique<Pipeline>("chaos", plan_.partitions, broker_.bootstrap());
  report_.dir = pl_->dir();
  const std::string dlq = pl_->topic() + "-dlq";
  createTopic(pl_->bootstrap(), dlq, 1);
  for (const char* name : {"a", "b", "c"}) pl_->startSink(name);
  ConfigOptions options;
  // The broker's minimum: each killed member's partitions wait out its session.
  options.kafka_properties["session.timeout.ms"] = "6000";
  options.commit_interval_ms = plan_.commit_interval_ms;
  if (!plan_.sink_progress) options.delivery_extra = "  sink_progress: false\n";
  options.extra = "dead_letter: {topic: " + dlq + "}\n";
  config_ = pl_->writeConfig(options);
  running_.push_back(pl_->startSluice(config_));
  if (!waitFor([&] { return assignedAtLeast(pl_->sluiceLog(running_[0]),
                                            static_cast<std::size_t>(plan_.partitions)); },
               60s)) {
    throw std::runtime_error("the first member never got every partition; logs in " + pl_->dir());
  }
  report_.members_exit_cleanly = true;

  const auto actions = schedule(plan_, pl_->sinkCount());
  log_ << "chaos: seed " << plan_.seed << ", " << actions.size() << " actions planned; logs in "
       << pl_->dir() << "\n";
  const std::int64_t chunk = std::max<std::int64_t>(1'000, plan_.events / 100);
  t0_ = Clock::now();
  ChunkedProducer producer(pl_->bootstrap(), pl_->topic(), plan_.partitions,
                           plan_.events / chunk, chunk, plan_.produce_rate);
  for (const auto& a : actions) {
    std::this_thread::sleep_until(t0_ + std::chrono::duration_cast<Clock::duration>(
                                            std::chrono::duration<double>(a.at_s)));
    perform(a);
  }
  if (broker_up_.valid()) broker_up_.get();
  producer.join();
  report_.production_seconds = elapsed();
  note("production done: " + std::to_string(producer.total()) + " events");

  const auto end = pl_->end();
  report_.events_in_topic = total(end);
  const bool arrived = waitForEverything(end, Clock::now() + plan_.settle);
  note(arrived ? "every sink has every event" : "NOT every event arrived in time");
  report_.committed_reach_end =
      waitFor([&] { return pl_->committed() == end; }, arrived ? 60s : 5s, 200ms);
  report_.wall_seconds = elapsed();
  note(std::string("committed offsets ") +
       (report_.committed_reach_end ? "reach" : "do NOT reach") + " the end offsets");
  stopMembers(0);
  for (std::size_t s = 0; s < pl_->sinkCount(); ++s) {
    report_.sinks.push_back(tally(pl_->sinkName(s), pl_->recordPath(s), end, marks_));
  }
  report_.dead_letters = total(endOffsets(pl_->bootstrap(), dlq, 1));
  return report_;
}

}  // namespace

ChaosReport runChaos(const ChaosPlan& plan, std::ostream& log) {
  ChaosRun run(plan, log);
  return run.run();
}

void printChaosReport(const ChaosPlan& plan, const ChaosReport& r, std::ostream& out) {
  out << "chaos: seed " << plan.seed << "; " << r.events_in_topic << " events over "
      << plan.partitions << " partitions, " << r.sinks.size() << " sinks; " << r.kills
      << " kill -9, " << r.outages << " sink outages of " << plan.outage.count() << " s, "
      << r.broker_restarts << " broker restart(s), " << r.scale_events << " scale event(s)\n";
  std::uint64_t lost = 0;
  for (const auto& s : r.sinks) {
    lost += s.lost;
    out << "chaos: sink " << s.name << ": " << s.requests << " deliveries, " << s.lost
        << " lost, " << s.duplicates << " duplicates (" << std::fixed << std::setprecision(3)
        << 100.0 * static_cast<double>(s.duplicates) /
               static_cast<double>(std::max<std::int64_t>(r.events_in_topic, 1))
        << "%)\n";
    for (const auto& [cause, n] : s.duplicates_after) {
      out << "chaos:   " << n << " after " << cause << "\n";
    }
  }
  out << "chaos: events lost: " << lost << "\n"
      << "chaos: committed offsets reach the end offsets: "
      << (r.committed_reach_end ? "yes" : "NO")
      << "\nchaos: dead letters: " << r.dead_letters
      << "\nchaos: members exited cleanly at the end: " << (r.members_exit_cleanly ? "yes" : "NO")
      << "\nchaos: production " << std::setprecision(1) << r.production_seconds
      << " s, wall time " << r.wall_seconds << " s\nchaos: logs in " << r.dir << "\n";
}

}  // namespace sluice::testing
