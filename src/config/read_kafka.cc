// The sections that configure librdkafka clients: the consumer (kafka) and the dead-letter
// producer (dead_letter).
#include <initializer_list>
#include <map>

#include "config/section_readers.h"

namespace sluice::config_detail {
namespace {

void rejectManagedProperties(Reader& r, const std::string& path,
                             const std::map<std::string, std::string>& properties,
                             std::initializer_list<const char*> managed) {
  for (const char* owned : managed) {
    if (properties.contains(owned)) {
      r.problem(path + ".properties." + owned, "is managed by sluice and cannot be set here");
    }
  }
}

}  // namespace

void readKafka(Reader& r, const YAML::Node& node, Config& c) {
  KafkaConfig& k = c.kafka;
  const std::string path = "kafka";
  if (!node) {
    r.problem(path, "is required");
    return;
  }
  if (!r.isMap(node, path)) return;
  r.rejectUnknown(node, path,
                  {"brokers", "group", "topics", "commit_interval_ms", "drain_budget_ms",
                   "properties"});
  r.string(node, path, "brokers", k.brokers, true);
  r.string(node, path, "group", k.group, true);
  const YAML::Node topics = node["topics"];
  if (!topics) {
    r.problem(path + ".topics", "is required");
  } else if (topics.IsScalar()) {
    k.topics.push_back(topics.as<std::string>());
  } else if (topics.IsSequence()) {
    for (std::size_t i = 0; i < topics.size(); ++i) {
      if (!topics[i].IsScalar() || topics[i].as<std::string>().empty()) {
        r.problem(path + ".topics[" + std::to_string(i) + "]", "must be a topic name");
      } else {
        k.topics.push_back(topics[i].as<std::string>());
      }
    }
    if (topics.size() == 0) r.problem(path + ".topics", "must name at least one topic");
  } else {
    r.problem(path + ".topics", "must be a list of topic names");
  }
  r.millis(node, path, "commit_interval_ms", k.commit_interval, 10, 60'000);
  if (node["drain_budget_ms"]) {
    // Still read, so a bad value is still reported, but it bounds nothing now.
    std::chrono::milliseconds ignored{0};
    r.millis(node, path, "drain_budget_ms", ignored, 0, 600'000);
    c.warnings.push_back(path + ".drain_budget_ms: ignored: a revoked partition is "
                         "released at once, so that the member's other partitions keep flowing "
                         "(its in-flight events go to the next owner); remove the setting");
  }
  r.stringMap(node, path, "properties", k.properties);
  // These are how sluice keeps its delivery guarantee; letting a user override them would
  // silently allow commits past undelivered events.
  // partition.assignment.strategy too: sluice's rebalance handling is cooperative; an eager
  // strategy would make librdkafka refuse every incremental assign.
  rejectManagedProperties(r, path, k.properties,
                          {"enable.auto.offset.store", "enable.auto.commit",
                           "auto.commit.interval.ms", "group.id", "bootstrap.servers",
                           "enable.partition.eof", "partition.assignment.strategy"});
}

void readDeadLetter(Reader& r, const YAML::Node& node, DeadLetterConfig& d) {
  const std::string path = "dead_letter";
  if (!r.optionalMap(node, path, {"topic", "properties"})) return;
  r.string(node, path, "topic", d.topic, true);
  r.stringMap(node, path, "properties", d.properties);
  // The guarantee needs every dead letter acknowledged by all in-sync replicas, written once.
  rejectManagedProperties(r, path, d.properties,
                          {"acks", "enable.idempotence", "bootstrap.servers"});
}

}  // namespace sluice::config_detail
