#include "kafka/consumer_statistics.h"

#include <rapidjson/document.h>

#include <algorithm>
#include <set>

namespace sluice {
namespace {

using Value = rapidjson::Value;

// librdkafka's logical offsets (-1001 and such) all mean unknown here.
std::int64_t offsetField(const Value& v, const char* name) {
  if (!v.HasMember(name) || !v[name].IsInt64()) return -1;
  return std::max<std::int64_t>(v[name].GetInt64(), -1);
}

std::string stringField(const Value& v, const char* name) {
  return v.HasMember(name) && v[name].IsString() ? v[name].GetString() : "";
}

// Broker ids with a connection up. Real connections only: the "logical" group coordinator and
// the "internal" broker would count twice or never.
std::set<std::int64_t> brokersUp(const Value& brokers) {
  std::set<std::int64_t> up;
  for (const auto& b : brokers.GetObject()) {
    const auto& v = b.value;
    if (!v.IsObject()) continue;
    const std::string source = stringField(v, "source");
    if ((source == "learned" || source == "configured") && stringField(v, "state") == "UP") {
      up.insert(v.HasMember("nodeid") && v["nodeid"].IsInt64() ? v["nodeid"].GetInt64() : -1);
    }
  }
  return up;
}

PartitionStats partitionStats(const std::string& topic, const Value& p,
                              const std::set<std::int64_t>& up) {
  PartitionStats st;
  st.topic = topic;
  st.partition = p["partition"].GetInt();
  st.lag = offsetField(p, "consumer_lag_stored");
  st.committed = offsetField(p, "committed_offset");
  st.fetch_state = stringField(p, "fetch_state");
  st.next_offset = offsetField(p, "next_offset");
  st.end_offset = offsetField(p, "hi_offset");
  if (const auto stable = offsetField(p, "ls_offset"); stable >= 0 && st.end_offset >= 0) {
    st.end_offset = std::min(st.end_offset, stable);
  }
  const std::int64_t leader = offsetField(p, "leader");
  st.leader_up = leader >= 0 && up.contains(leader);
  if (p.HasMember("rxmsgs") && p["rxmsgs"].IsUint64()) {
    st.fetched_messages = p["rxmsgs"].GetUint64();
  }
  return st;
}

}  // namespace

ConsumerStatistics parseStatistics(std::string_view json) {
  ConsumerStatistics out;
  rapidjson::Document doc;
  doc.Parse(json.data(), json.size());
  if (doc.HasParseError() || !doc.IsObject()) return out;
  if (doc.HasMember("rxmsg_bytes") && doc["rxmsg_bytes"].IsUint64()) {
    out.fetched_bytes = doc["rxmsg_bytes"].GetUint64();
  }
  std::set<std::int64_t> up;
  if (doc.HasMember("brokers") && doc["brokers"].IsObject()) {
    up = brokersUp(doc["brokers"]);
    out.brokers_up = static_cast<int>(up.size());
  }
  if (!doc.HasMember("topics") || !doc["topics"].IsObject()) return out;
  out.partitions.emplace();
  for (const auto& topic : doc["topics"].GetObject()) {
    if (!topic.value.IsObject() || !topic.value.HasMember("partitions") ||
        !topic.value["partitions"].IsObject()) {
      continue;
    }
    for (const auto& part : topic.value["partitions"].GetObject()) {
      const auto& p = part.value;
      // -1 is librdkafka's internal "unassigned" partition.
      if (!p.IsObject() || !p.HasMember("partition") || !p["partition"].IsInt() ||
          p["partition"].GetInt() < 0) {
        continue;
      }
      out.partitions->push_back(partitionStats(topic.name.GetString(), p, up));
    }
  }
  return out;
}

}  // namespace sluice
