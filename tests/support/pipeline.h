#pragma once

// A whole pipeline for integration tests: a fresh topic on the real local broker, recording
// sinks, and the real sluice binary, each in its own process.
#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "kafka_client.h"
#include "process.h"

namespace sluice::testing {

std::string bootstrapServers();  // $SLUICE_TEST_BOOTSTRAP or 127.0.0.1:9092
std::string sluiceBinary();      // $SLUICE_BIN (another build, for A/B benchmarks) or this build's
std::int64_t unixMicrosNow();    // the clock the recording sinks stamp arrivals with

// How a short-lived sluice command ended.
struct CommandResult {
  std::optional<int> exit_code;  // nullopt: killed by a signal (or still running at the deadline)
  std::optional<int> signal;
  std::string output;            // stdout and stderr
};
// Runs the sluice binary under test with `args` in `dir`, waiting up to `timeout`.
CommandResult runSluice(const std::vector<std::string>& args, const std::string& dir,
                        std::chrono::milliseconds timeout = std::chrono::seconds(30));

struct SinkRecord {
  std::string key;
  std::string topic;
  std::int32_t partition = -1;
  std::int64_t offset = -1;
  std::uint32_t attempt = 0;
  std::int64_t body_len = -1;
  std::string body_hash;        // FNV-1a 64 of the body, lowercase hex (recording_sink)
  std::int64_t arrival_us = 0;  // when the sink had read the whole request (unix micros)
  int status = 0;               // the status the sink answered
};

// What one recording sink has accepted so far.
struct SinkRecords {
  std::vector<SinkRecord> all;
  std::map<std::string, int> count_by_key;
  std::size_t duplicates() const { return all.size() - count_by_key.size(); }
};

// Knobs for Pipeline::writeConfig beyond the defaults it writes.
struct ConfigOptions {
  std::string extra;                       // appended at the top level of the YAML
  std::uint32_t max_in_flight_events = 0;  // delivery.max_in_flight_events; 0: sluice's default
  int commit_interval_ms = 200;            // kafka.commit_interval_ms; 0: sluice's default
  std::uint32_t sink_max_in_flight = 0;    // every sink's max_in_flight; 0: sluice's default
  std::string delivery_extra;              // more keys inside `delivery:`, each line indented
  std::map<std::string, std::string> sink_extra;  // sink name -> more keys, indented 4
  std::set<std::string> https_sinks;              // these sinks' urls are https://
  // librdkafka properties under kafka.properties; these override the pipeline's defaults
  // (session.timeout.ms 10000, heartbeat.interval.ms 1000, metadata refresh 2000).
  std::map<std::string, std::string> kafka_properties;
};

class Pipeline {
 public:
  // Creates a fresh topic on `bootstrap` (the real local broker by default). Pass
  // create_topic=false where the topic is made another way (the mock cluster).
  Pipeline(const std::string& name, int partitions,
           const std::string& bootstrap = bootstrapServers(), bool create_topic = true);
  ~Pipeline();

  const std::string& bootstrap() const { return bootstrap_; }
  const std::string& topic() const { return topic_; }
  const std::string& group() const { return group_; }
  const std::string& dir() const { return dir_; }
  int partitions() const { return partitions_; }

  // Starts a recording sink; `port` 0 picks a free one. Returns its index.
  std::size_t startSink(const std::string& name, std::vector<std::string> flags = {},
                        int port = 0);
  void killSink(std::size_t i);  // SIGKILL, keeps its port and record file for a restart
  // SIGTERM: the sink answers what it has decided, writes its records and exits (an outage
  // whose records stay exact, unlike a SIGKILL's, which can lose the last 50 ms of them).
  void stopSink(std::size_t i);
  std::size_t sinkCount() const { return sinks_.size(); }
  int sinkPort(std::size_t i) const { return sinks_[i].port; }
  SinkRecords records(std::size_t i) const;
  const std::string& recordPath(std::size_t i) const { return sinks_[i].record_path; }
  const std::string& sinkName(std::size_t i) const { return sinks_[i].name; }
  // How many complete record lines sink i has written (duplicates included): much cheaper
  // than records() for polling progress.
  std::size_t recordCount(std::size_t i) const;

  // Writes the config (every sink started so far) and returns its path. `extra` is appended
  // at the top level of the YAML.
  std::string writeConfig(const std::string& extra = "") const;
  std::string writeConfig(const ConfigOptions& options) const;
  // Starts one more sluice process on the config; returns its index.
  std::size_t startSluice(const std::string& config_path);
  ChildProcess& sluice(std::size_t i) { return *sluices_[i]; }
  std::size_t sluiceCount() const { return sluices_.size(); }
  std::string sluiceLog(std::size_t i) const;

  PartitionOffsets produce(std::int64_t count, std::int64_t first_seq = 0);
  PartitionOffsets committed() const;
  PartitionOffsets end() const;

  // Keys sluice must send for every record in [0, end) of each partition.
  std::set<std::string> expectedKeys(const PartitionOffsets& end) const;
  // True once sink i has accepted every key in `expected`.
  bool sinkHasAll(std::size_t i, const std::set<std::string>& expected) const;
  std::size_t missingFrom(std::size_t i, const std::set<std::string>& expected) const;
  // Waits, within one deadline, until every sink has accepted every key in `expected`:
  // polls the cheap line counts first and parses the records only once they can suffice.
  bool waitForAllSinks(const std::set<std::string>& expected,
                       std::chrono::milliseconds timeout) const;

 private:
  struct Sink {
    std::string name;
    int port = 0;
    std::string record_path;
    std::unique_ptr<ChildProcess> process;
  };
  std::string bootstrap_;
  std::string topic_;
  bool owns_topic_;  // made here on the real broker: deleted again by the destructor
  std::string group_;
  std::string dir_;
  int partitions_;
  std::vector<Sink> sinks_;
  std::vector<std::unique_ptr<ChildProcess>> sluices_;
};

}  // namespace sluice::testing
