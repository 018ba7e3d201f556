// Kafka security settings are librdkafka properties under kafka.properties: against the local
// broker's SASL_PLAINTEXT listener (scripts/kafka-local, mechanism PLAIN), with the password
// from the environment, the consumer and the dead-letter producer (which reuses the sasl.*
// properties) both authenticate; a wrong password is reported and nothing is committed.
#include <gtest/gtest.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/wait.h>

#include <fstream>
#include <regex>
#include <string>
#include <thread>

#include "delivery/idempotency_key.h"
#include "pipeline.h"

namespace sluice::testing {
namespace {

using namespace std::chrono_literals;

// kafka-local puts its SASL listener two ports above the plaintext one.
std::string saslBootstrap() {
  if (const char* b = std::getenv("SLUICE_TEST_SASL_BOOTSTRAP"); b != nullptr && *b != '\0') {
    return b;
  }
  const std::string plain = bootstrapServers();
  const auto colon = plain.rfind(':');
  return plain.substr(0, colon + 1) + std::to_string(std::stoi(plain.substr(colon + 1)) + 2);
}

// The pipeline's config, pointed at the SASL listener with the password from the environment.
std::string saslConfig(Pipeline& pl, ConfigOptions options) {
  options.kafka_properties["security.protocol"] = "SASL_PLAINTEXT";
  options.kafka_properties["sasl.mechanism"] = "PLAIN";
  options.kafka_properties["sasl.username"] = "sluice";
  options.kafka_properties["sasl.password"] = "${SLUICE_IT_KAFKA_PASSWORD}";
  const std::string path = pl.writeConfig(options);
  std::string yaml = readFile(path);
  yaml = std::regex_replace(yaml, std::regex("brokers: [^\n]*"), "brokers: " + saslBootstrap());
  std::ofstream(path) << yaml;
  return path;
}

TEST(KafkaSecurity, SaslCredentialsFromTheEnvironmentReachConsumerAndDeadLetterProducer) {
  const std::string password = "sluice-local-secret";  // scripts/kafka-local's test user
  ::setenv("SLUICE_IT_KAFKA_PASSWORD", password.c_str(), 1);
  Pipeline pl("sasl", 3);
  const std::string dlq = pl.topic() + "-dlq";
  createTopic(pl.bootstrap(), dlq, 1);
  const auto a = pl.startSink("a");
  const auto b = pl.startSink("b");
  ConfigOptions options;
  options.extra = "dead_letter: {topic: " + dlq + "}\n";
  pl.startSluice(saslConfig(pl, options));

  pl.produce(300);
  const auto invalid = produceRaw(pl.bootstrap(), pl.topic(), 0,
                                  {{"not-json-1", "{\"seq\":", {}}, {"not-json-2", "nope", {}}});
  const auto end = pl.end();
  auto expected = pl.expectedKeys(end);
  for (const auto offset : invalid) expected.erase(toSfString(coordinatesKey(pl.topic(), 0, offset)));
  ASSERT_TRUE(pl.waitForAllSinks(expected, 60s)) << pl.sluiceLog(0);
  ASSERT_TRUE(waitFor([&] { return pl.committed() == end; }, 30s)) << pl.sluiceLog(0);
  EXPECT_EQ(pl.records(a).count_by_key.size(), expected.size());
  EXPECT_EQ(pl.records(b).count_by_key.size(), expected.size());
  // The dead letters went through the producer's own SASL connection.
  const auto dead = readTopic(pl.bootstrap(), dlq, 2, 30s);
  ASSERT_EQ(dead.size(), 2u);
  EXPECT_EQ(dead[0].headers.at("sluice.reason"), "invalid_json");

  pl.sluice(0).signal(SIGTERM);
  const auto status = pl.sluice(0).wait(30s);
  ASSERT_TRUE(status.has_value());
  EXPECT_TRUE(WIFEXITED(*status) && WEXITSTATUS(*status) == 0);
  ::unsetenv("SLUICE_IT_KAFKA_PASSWORD");
  EXPECT_EQ(pl.sluiceLog(0).find(password), std::string::npos) << "the password reached the log";
}

TEST(KafkaSecurity, WrongSaslPasswordIsReportedAndNothingIsDelivered) {
  ::setenv("SLUICE_IT_KAFKA_PASSWORD", "not-the-password", 1);
  Pipeline pl("sasl-wrong", 1);
  const auto a = pl.startSink("a");
  pl.startSluice(saslConfig(pl, {}));
  pl.produce(20);
  ASSERT_TRUE(waitFor([&] {
    return pl.sluiceLog(0).find("Authentication failed") != std::string::npos;
  }, 30s)) << pl.sluiceLog(0);
  std::this_thread::sleep_for(2s);
  EXPECT_EQ(pl.recordCount(a), 0u);
  for (const auto& [partition, offset] : pl.committed()) EXPECT_LE(offset, 0);
  pl.sluice(0).signal(SIGTERM);
  EXPECT_TRUE(pl.sluice(0).wait(30s).has_value()) << pl.sluiceLog(0);
  ::unsetenv("SLUICE_IT_KAFKA_PASSWORD");
}

}  // namespace
}  // namespace sluice::testing
