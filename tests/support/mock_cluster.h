#pragma once

// librdkafka's mock cluster hosted in the test process, with the fault injection the
// component tests use.
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#include <array>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "kafka/rd_handles.h"

namespace sluice::testing {

// Kafka protocol ApiKey of OffsetCommit: librdkafka installs no header naming it.
constexpr std::int16_t kApiKeyOffsetCommit = 8;

// A mock cluster in this process. librdkafka needs a client handle to host it; a producer that
// is never used is the cheapest, and it must outlive the cluster.
class MockCluster {
 public:
  explicit MockCluster(int brokers) {
    RdConfPtr conf(rd_kafka_conf_new());
    std::array<char, 512> err{};
    // Quiet: without bootstrap.servers the host handle warns that it cannot connect anywhere.
    if (rd_kafka_conf_set(conf.get(), "log_level", "2", err.data(), err.size()) !=
        RD_KAFKA_CONF_OK) {
      throw std::runtime_error(err.data());
    }
    host_.reset(rd_kafka_new(RD_KAFKA_PRODUCER, conf.get(), err.data(), err.size()));
    if (!host_) throw std::runtime_error(std::string("mock host: ") + err.data());
    conf.release();  // rd_kafka_new took ownership
    cluster_ = rd_kafka_mock_cluster_new(host_.get(), brokers);
    if (cluster_ == nullptr) throw std::runtime_error("rd_kafka_mock_cluster_new failed");
  }
  ~MockCluster() { rd_kafka_mock_cluster_destroy(cluster_); }
  MockCluster(const MockCluster&) = delete;
  MockCluster& operator=(const MockCluster&) = delete;

  std::string bootstrap() const { return rd_kafka_mock_cluster_bootstraps(cluster_); }

  void createTopic(const std::string& topic, int partitions) {
    if (const auto e = rd_kafka_mock_topic_create(cluster_, topic.c_str(), partitions, 1); e) {
      throw std::runtime_error("mock topic " + topic + ": " + rd_kafka_err2str(e));
    }
  }

  void setLeader(const std::string& topic, std::int32_t partition, std::int32_t broker) {
    const auto e = rd_kafka_mock_partition_set_leader(cluster_, topic.c_str(), partition, broker);
    if (e) {
      throw std::runtime_error(std::string("mock partition leader: ") + rd_kafka_err2str(e));
    }
  }
  // Down: the broker drops its connections and refuses new ones, until it is up again.
  void setBrokerUp(std::int32_t broker, bool up) {
    const auto e = up ? rd_kafka_mock_broker_set_up(cluster_, broker)
                      : rd_kafka_mock_broker_set_down(cluster_, broker);
    if (e) throw std::runtime_error(std::string("mock broker up/down: ") + rd_kafka_err2str(e));
  }

  // Pins the group's coordinator, so errors injected on that broker reach its commits.
  void setGroupCoordinator(const std::string& group, std::int32_t broker) {
    if (const auto e = rd_kafka_mock_coordinator_set(cluster_, "group", group.c_str(), broker); e) {
      throw std::runtime_error(std::string("mock coordinator: ") + rd_kafka_err2str(e));
    }
    coordinator_ = broker;
  }

  // The coordinator answers the next OffsetCommit requests with these errors, each after its
  // delay, in order.
  void failNextCommits(const std::vector<std::pair<rd_kafka_resp_err_t, int>>& errors) {
    for (const auto& [err, rtt_ms] : errors) {
      const auto e = rd_kafka_mock_broker_push_request_error_rtts(
          cluster_, coordinator_, kApiKeyOffsetCommit, 1, err, rtt_ms);
      if (e) throw std::runtime_error(std::string("push commit error: ") + rd_kafka_err2str(e));
    }
  }

  // Every request to `broker` is answered `rtt_ms` late.
  void setRtt(std::int32_t broker, int rtt_ms) {
    if (const auto e = rd_kafka_mock_broker_set_rtt(cluster_, broker, rtt_ms); e) {
      throw std::runtime_error(std::string("mock rtt: ") + rd_kafka_err2str(e));
    }
  }

  // The next `count` Produce requests (to any broker) fail with `err`.
  void failNextProduces(rd_kafka_resp_err_t err, std::size_t count) {
    constexpr std::int16_t kApiKeyProduce = 0;
    std::vector<rd_kafka_resp_err_t> errors(count, err);
    rd_kafka_mock_push_request_errors_array(cluster_, kApiKeyProduce, errors.size(), errors.data());
  }

  // Injected commit errors no request has met yet.
  std::size_t pendingCommitErrors() const {
    std::size_t n = 0;
    const auto e =
        rd_kafka_mock_broker_error_stack_cnt(cluster_, coordinator_, kApiKeyOffsetCommit, &n);
    if (e) throw std::runtime_error(std::string("error stack: ") + rd_kafka_err2str(e));
    return n;
  }

 private:
  RdKafkaPtr host_;  // declared first: destroyed after the cluster it hosts
  rd_kafka_mock_cluster_t* cluster_ = nullptr;
  std::int32_t coordinator_ = 1;
};

}  // namespace sluice::testing
