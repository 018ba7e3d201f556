#include "pipeline.h"

#include <sys/wait.h>

#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>

#include "delivery/idempotency_key.h"

namespace sluice::testing {
namespace fs = std::filesystem;

// Benchmarks compare two builds of sluice with the same harness: SLUICE_BIN names the other one.
std::string sluiceBinary() {
  const char* b = std::getenv("SLUICE_BIN");
  return b != nullptr && *b != '\0' ? b : SLUICE_TEST_SLUICE_BIN;
}

std::int64_t unixMicrosNow() {
  return std::chrono::duration_cast<std::chrono::microseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string bootstrapServers() {
  const char* b = std::getenv("SLUICE_TEST_BOOTSTRAP");
  return b != nullptr && *b != '\0' ? b : "127.0.0.1:9092";
}

CommandResult runSluice(const std::vector<std::string>& args, const std::string& dir,
                        std::chrono::milliseconds timeout) {
  static int runs = 0;
  std::vector<std::string> argv{sluiceBinary()};
  argv.insert(argv.end(), args.begin(), args.end());
  const std::string log = dir + "/command-" + std::to_string(++runs) + ".log";
  CommandResult result;
  std::optional<int> status;
  {
    ChildProcess child(argv, log);
    status = child.wait(timeout);
  }
  result.output = readFile(log);
  if (status && WIFEXITED(*status)) result.exit_code = WEXITSTATUS(*status);
  if (status && WIFSIGNALED(*status)) result.signal = WTERMSIG(*status);
  return result;
}

Pipeline::Pipeline(const std::string& name, int partitions, const std::string& bootstrap,
                   bool create_topic)
    : bootstrap_(bootstrap), owns_topic_(create_topic), partitions_(partitions) {
  const auto stamp = std::to_string(::getpid()) + "-" +
                     std::to_string(std::chrono::steady_clock::now().time_since_epoch().count());
  topic_ = "it-" + name + "-" + stamp;
  group_ = "it-group-" + name + "-" + stamp;
  dir_ = (fs::path(SLUICE_TEST_WORKDIR) / (name + "-" + stamp)).string();
  fs::create_directories(dir_);
  if (create_topic) createTopic(bootstrap_, topic_, partitions);
}

Pipeline::~Pipeline() {
  for (auto& s : sluices_) {
    if (s && s->running()) {
      s->signal(SIGKILL);
      s->wait(std::chrono::seconds(10));
    }
  }
  for (auto& s : sinks_) {
    if (s.process && s.process->running()) {
      s.process->signal(SIGTERM);
      s.process->wait(std::chrono::seconds(5));
    }
  }
  if (!owns_topic_) return;
  try {
    deleteTopics(bootstrap_, {topic_, topic_ + "-dlq"}, std::chrono::seconds(5));
  } catch (const std::exception&) {
    // Best effort: the broker's retention (scripts/kafka-local) clears what stays behind.
  }
}

std::size_t Pipeline::startSink(const std::string& name, std::vector<std::string> flags, int port) {
  std::size_t index = sinks_.size();
  for (std::size_t i = 0; i < sinks_.size(); ++i) {
    if (sinks_[i].name == name) index = i;  // a restart of a sink we had before
  }
  if (index == sinks_.size()) {
    sinks_.push_back({name, port, dir_ + "/sink-" + name + ".rec", nullptr});
  }
  Sink& s = sinks_[index];
  const std::string port_file = dir_ + "/sink-" + name + ".port";
  fs::remove(port_file);
  std::vector<std::string> argv = {SLUICE_TEST_SINK_BIN, "--port", std::to_string(port),
                                   "--port-file", port_file, "--out", s.record_path};
  argv.insert(argv.end(), flags.begin(), flags.end());
  s.process = std::make_unique<ChildProcess>(argv, dir_ + "/sink-" + name + ".log");
  if (!waitFor([&] { return fs::exists(port_file); }, std::chrono::seconds(10))) {
    throw std::runtime_error("sink " + name + " did not start: " +
                             readFile(dir_ + "/sink-" + name + ".log"));
  }
  s.port = std::stoi(readFile(port_file));
  return index;
}

void Pipeline::killSink(std::size_t i) {
  sinks_[i].process->signal(SIGKILL);
  sinks_[i].process->wait(std::chrono::seconds(10));
}

void Pipeline::stopSink(std::size_t i) {
  sinks_[i].process->signal(SIGTERM);
  sinks_[i].process->wait(std::chrono::seconds(10));
}

SinkRecords Pipeline::records(std::size_t i) const {
  SinkRecords out;
  std::ifstream in(sinks_[i].record_path);
  std::string line;
  while (std::getline(in, line)) {
    if (in.eof()) break;  // no newline yet: a line still being written
    std::istringstream fields(line);
    SinkRecord r;
    std::string partition, offset, attempt, hash, len, arrival, status;
    if (!std::getline(fields, r.key, '\t') || !std::getline(fields, r.topic, '\t') ||
        !std::getline(fields, partition, '\t') || !std::getline(fields, offset, '\t') ||
        !std::getline(fields, attempt, '\t')) {
      continue;
    }
    // "-": the request had no Sluice-Source-Partition (a peer's batch mixing partitions).
    if (partition != "-") r.partition = std::stoi(partition);
    r.offset = std::stoll(offset);
    r.attempt = static_cast<std::uint32_t>(std::stoul(attempt));
    if (std::getline(fields, hash, '\t') && std::getline(fields, len, '\t') &&
        std::getline(fields, arrival, '\t') && std::getline(fields, status, '\t')) {
      r.body_len = std::stoll(len);
      r.body_hash = hash;
      r.arrival_us = std::stoll(arrival);
      r.status = std::stoi(status);
    }
    ++out.count_by_key[r.key];
    out.all.push_back(std::move(r));
  }
  return out;
}

std::size_t Pipeline::recordCount(std::size_t i) const {
  std::ifstream in(sinks_[i].record_path, std::ios::binary);
  std::array<char, 1 << 16> buf{};
  std::size_t lines = 0;
  while (in) {
    in.read(buf.data(), buf.size());
    const auto n = static_cast<std::size_t>(in.gcount());
    lines += static_cast<std::size_t>(std::count(buf.data(), buf.data() + n, '\n'));
  }
  return lines;
}

std::string Pipeline::writeConfig(const std::string& extra) const {
  ConfigOptions options;
  options.extra = extra;
  return writeConfig(options);
}

std::string Pipeline::writeConfig(const ConfigOptions& options) const {
  std::ostringstream y;
  y << "kafka:\n  brokers: " << bootstrap_ << "\n  group: " << group_
    << "\n  topics: [" << topic_ << "]\n";
  if (options.commit_interval_ms > 0) {
    y << "  commit_interval_ms: " << options.commit_interval_ms << "\n";
  }
  y << "  properties:\n";
  std::map<std::string, std::string> properties = {{"session.timeout.ms", "10000"},
                                                   {"heartbeat.interval.ms", "1000"},
                                                   {"topic.metadata.refresh.interval.ms", "2000"}};
  for (const auto& [k, v] : options.kafka_properties) properties[k] = v;
  for (const auto& [k, v] : properties) y << "    " << k << ": \"" << v << "\"\n";
  y << "sinks:\n";
  for (const auto& s : sinks_) {
    const char* scheme = options.https_sinks.contains(s.name) ? "https" : "http";
    y << "  - name: " << s.name << "\n    url: " << scheme << "://127.0.0.1:" << s.port
      << "/ingest\n    timeout_ms: 3000\n";
    if (options.sink_max_in_flight > 0) {
      y << "    max_in_flight: " << options.sink_max_in_flight << "\n";
    }
    if (auto it = options.sink_extra.find(s.name); it != options.sink_extra.end()) {
      y << it->second;
    }
  }
  y << "delivery:\n  retry: {initial_backoff_ms: 50, max_backoff_ms: 1000}\n";
  if (options.max_in_flight_events > 0) {
    y << "  max_in_flight_events: " << options.max_in_flight_events << "\n";
  }
  y << options.delivery_extra;
  y << "shutdown_grace_ms: 5000\nstats_interval_ms: 1000\n" << options.extra;
  const std::string path = dir_ + "/sluice-" + std::to_string(sluices_.size()) + ".yaml";
  std::ofstream(path) << y.str();
  return path;
}

std::size_t Pipeline::startSluice(const std::string& config_path) {
  const std::size_t index = sluices_.size();
  sluices_.push_back(std::make_unique<ChildProcess>(
      std::vector<std::string>{sluiceBinary(), "--config", config_path},
      dir_ + "/sluice-" + std::to_string(index) + ".log"));
  return index;
}

std::string Pipeline::sluiceLog(std::size_t i) const {
  return readFile(dir_ + "/sluice-" + std::to_string(i) + ".log");
}

PartitionOffsets Pipeline::produce(std::int64_t count, std::int64_t first_seq) {
  ProduceOptions o;
  o.count = count;
  o.first_seq = first_seq;
  o.partitions = partitions_;
  o.body_bytes = 200;
  return produceEvents(bootstrap_, topic_, o);
}

PartitionOffsets Pipeline::committed() const {
  return committedOffsets(bootstrap_, group_, topic_, partitions_);
}

PartitionOffsets Pipeline::end() const { return endOffsets(bootstrap_, topic_, partitions_); }

std::set<std::string> Pipeline::expectedKeys(const PartitionOffsets& end) const {
  std::set<std::string> keys;
  for (const auto& [p, e] : end) {
    for (std::int64_t o = 0; o < e; ++o) keys.insert(toSfString(coordinatesKey(topic_, p, o)));
  }
  return keys;
}

std::size_t Pipeline::missingFrom(std::size_t i, const std::set<std::string>& expected) const {
  const SinkRecords r = records(i);
  std::size_t missing = 0;
  for (const auto& k : expected) missing += r.count_by_key.contains(k) ? 0 : 1;
  return missing;
}

bool Pipeline::sinkHasAll(std::size_t i, const std::set<std::string>& expected) const {
  return missingFrom(i, expected) == 0;
}

bool Pipeline::waitForAllSinks(const std::set<std::string>& expected,
                               std::chrono::milliseconds timeout) const {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  const auto left = [&] {
    return std::max(std::chrono::milliseconds(0),
                    std::chrono::duration_cast<std::chrono::milliseconds>(
                        deadline - std::chrono::steady_clock::now()));
  };
  waitFor(
      [&] {
        for (std::size_t i = 0; i < sinks_.size(); ++i) {
          if (recordCount(i) < expected.size()) return false;
        }
        return true;
      },
      left(), std::chrono::milliseconds(100));
  std::vector<bool> done(sinks_.size(), false);
  return waitFor(
      [&] {
        bool all = true;
        for (std::size_t i = 0; i < sinks_.size(); ++i) {
          if (!done[i]) done[i] = sinkHasAll(i, expected);
          all = all && done[i];
        }
        return all;
      },
      left(), std::chrono::milliseconds(500));
}

}  // namespace sluice::testing
