#include "kafka/property_check.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>

namespace sluice {
namespace {

bool mentions(const std::vector<std::string>& problems, const std::string& text) {
  return std::any_of(problems.begin(), problems.end(),
                     [&](const std::string& p) { return p.find(text) != std::string::npos; });
}

TEST(KafkaPropertyCheck, ReportsWhatLibrdkafkaWouldRefuseAtStart) {
  const auto ca = std::filesystem::temp_directory_path() / "sluice-property-check-ca.pem";
  std::ofstream(ca) << "-----BEGIN CERTIFICATE-----\n";
  Config c;
  c.kafka.properties = {{"security.protocol", "SASL_SSL"},
                        {"sasl.mechanism", "SCRAM-SHA-512"},
                        {"sasl.username", "sluice"},
                        {"ssl.ca.location", ca.string()},
                        {"sasl.mechansim", "PLAIN"},  // misspelt
                        {"fetch.wait.max.ms", "soon"},
                        {"ssl.certificate.location", "/nonexistent/client.pem"}};
  c.dead_letter.properties = {{"linger.ms", "5"}, {"compression.type", "brotli"}};
  const auto p = checkKafkaProperties(c);
  EXPECT_EQ(p.size(), 4u);
  EXPECT_TRUE(mentions(p, "kafka.properties.sasl.mechansim: No such configuration property"));
  EXPECT_TRUE(mentions(p, "kafka.properties.fetch.wait.max.ms: "));
  EXPECT_TRUE(mentions(p, "kafka.properties.ssl.certificate.location: cannot read "
                          "/nonexistent/client.pem"));
  EXPECT_TRUE(mentions(p, "dead_letter.properties.compression.type: "));
  EXPECT_FALSE(mentions(p, "ssl.ca.location"));
  std::filesystem::remove(ca);
}

TEST(KafkaPropertyCheck, CaLocationMayBeProbeOrADirectory) {
  Config c;
  c.kafka.properties = {{"ssl.ca.location", "probe"}};
  EXPECT_TRUE(checkKafkaProperties(c).empty());
  c.kafka.properties = {{"ssl.ca.location", std::filesystem::temp_directory_path().string()}};
  EXPECT_TRUE(checkKafkaProperties(c).empty());
}

TEST(KafkaPropertyCheck, PemContentWhereAPathBelongsIsNeverEchoed) {
  Config c;
  c.kafka.properties = {{"ssl.key.location", "-----BEGIN PRIVATE KEY-----\nMIIsecret\n"}};
  const auto p = checkKafkaProperties(c);
  ASSERT_EQ(p.size(), 1u);
  EXPECT_TRUE(mentions(p, "kafka.properties.ssl.key.location: expects a file path"));
  EXPECT_FALSE(mentions(p, "MIIsecret"));
}

}  // namespace
}  // namespace sluice
