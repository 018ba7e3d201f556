#include "config/load_config.h"

#include <gtest/gtest.h>

#include <curl/curl.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>

namespace sluice {
namespace {

const char* kValid = R"(
kafka:
  brokers: 127.0.0.1:9092
  group: g1
  topics: [events, more]
  properties:
    fetch.min.bytes: "1"
sinks:
  - {name: a, url: "http://127.0.0.1:8081/"}
  - name: b
    url: https://b.example/ingest
    timeout_ms: 2500
    max_in_flight: 64
    concurrency: fixed
    http2: true
    headers: {Authorization: "Bearer x"}
delivery:
  max_in_flight_events: 5000
  retry: {initial_backoff_ms: 50, max_backoff_ms: 2000, multiplier: 3}
  idempotency_key: {from: json_pointer, json_pointer: /id}
stats_interval_ms: 1000
)";

std::vector<std::string> problemsOf(const std::string& yaml) {
  try {
    parseConfig(yaml, "test.yaml");
  } catch (const ConfigError& e) {
    return e.problems();
  }
  return {};
}

bool mentions(const std::vector<std::string>& problems, const std::string& text) {
  return std::any_of(problems.begin(), problems.end(),
                     [&](const std::string& p) { return p.find(text) != std::string::npos; });
}

TEST(Config, ParsesAValidFile) {
  const Config c = parseConfig(kValid, "test.yaml");
  EXPECT_EQ(c.kafka.brokers, "127.0.0.1:9092");
  EXPECT_EQ(c.kafka.group, "g1");
  EXPECT_EQ(c.kafka.topics, (std::vector<std::string>{"events", "more"}));
  EXPECT_EQ(c.kafka.properties.at("fetch.min.bytes"), "1");
  ASSERT_EQ(c.sinks.size(), 2u);
  EXPECT_EQ(c.sinks[0].name, "a");
  EXPECT_EQ(c.sinks[0].timeout, std::chrono::milliseconds(5000));  // default
  EXPECT_EQ(c.sinks[1].timeout, std::chrono::milliseconds(2500));
  EXPECT_EQ(c.sinks[1].max_in_flight, 64u);
  EXPECT_TRUE(c.sinks[0].adaptive_concurrency);  // default
  EXPECT_FALSE(c.sinks[1].adaptive_concurrency);
  EXPECT_TRUE(c.sinks[1].http2);
  EXPECT_EQ(c.sinks[1].headers.at("Authorization"), "Bearer x");
  EXPECT_EQ(c.backpressure.max_events, 5000u);
  EXPECT_EQ(c.retry.backoff.initial, std::chrono::milliseconds(50));
  EXPECT_EQ(c.sinks[1].retry.backoff.initial, std::chrono::milliseconds(50));  // inherited
  EXPECT_DOUBLE_EQ(c.retry.backoff.multiplier, 3.0);
  EXPECT_EQ(c.idempotency.source, KeySource::kJsonPointer);
  EXPECT_EQ(c.idempotency.json_pointer, "/id");
}

TEST(Config, ReportsEveryProblemWithItsPath) {
  const auto p = problemsOf(R"(
kafka:
  brokers: ""
  topics: []
  colour: blue
sinks:
  - {name: a, url: "ftp://x"}
  - {name: a, url: "http://y", timeout_ms: -3, max_in_flight: lots, concurrency: lots}
delivery:
  idempotency_key: {from: somewhere}
)");
  EXPECT_TRUE(mentions(p, "test.yaml: kafka.brokers: must not be empty")) << p.size();
  EXPECT_TRUE(mentions(p, "kafka.group: is required"));
  EXPECT_TRUE(mentions(p, "kafka.topics: must name at least one topic"));
  EXPECT_TRUE(mentions(p, "kafka.colour: unknown key"));
  EXPECT_TRUE(mentions(p, "sinks[0].url: must start with http:// or https://"));
  EXPECT_TRUE(mentions(p, "sinks[1].name: 'a' is used by another sink"));
  EXPECT_TRUE(mentions(p, "sinks[1].timeout_ms: must be between"));
  EXPECT_TRUE(mentions(p, "sinks[1].max_in_flight: must be an integer"));
  EXPECT_TRUE(mentions(p, "sinks[1].concurrency: must be adaptive or fixed, not 'lots'"));
  EXPECT_TRUE(mentions(p, "delivery.idempotency_key.from: must be one of"));
}

TEST(Config, RefusesOverridesOfTheCommitGuarantee) {
  const auto p = problemsOf(R"(
kafka:
  brokers: b:9092
  group: g
  topics: t
  properties: {enable.auto.offset.store: "true"}
sinks: [{name: a, url: "http://a"}]
)");
  EXPECT_TRUE(mentions(p, "kafka.properties.enable.auto.offset.store: is managed by sluice"));
}

TEST(Config, RefusesHeadersSluiceSets) {
  const auto p = problemsOf(R"(
kafka: {brokers: b, group: g, topics: t}
sinks: [{name: a, url: "http://a", headers: {Idempotency-Key: x}}]
)");
  EXPECT_TRUE(mentions(p, "sinks[0].headers.Idempotency-Key: is set by sluice"));
}

TEST(Config, ReportsYamlSyntaxErrorsWithLine) {
  const auto p = problemsOf("kafka: [unclosed\n");
  ASSERT_EQ(p.size(), 1u);
  EXPECT_TRUE(mentions(p, "test.yaml:")) << p[0];
}

TEST(Config, CleartextHttp2DependsOnTheLibcurlVersion) {
  const auto p = problemsOf(R"(
kafka: {brokers: b, group: g, topics: t}
sinks: [{name: a, url: "http://a", http2: true}, {name: b, url: "https://b", http2: true}]
)");
  const bool old_curl = curl_version_info(CURLVERSION_NOW)->version_num < 0x080000;
  EXPECT_EQ(mentions(p, "sinks[0].http2: HTTP/2 over cleartext (h2c) needs libcurl 8.0"), old_curl);
  EXPECT_FALSE(mentions(p, "sinks[1].http2"));  // HTTP/2 over TLS (ALPN) is fine
}

TEST(Config, ExpandsEnvironmentVariablesInValues) {
  ::setenv("SLUICE_TEST_BROKERS", "kafka-1:9092,kafka-2:9092", 1);
  ::setenv("SLUICE_TEST_TOKEN", "s3cret", 1);
  ::unsetenv("SLUICE_TEST_UNSET");
  const Config c = parseConfig(R"(
kafka: {brokers: "${SLUICE_TEST_BROKERS}", group: "g-${SLUICE_TEST_UNSET:-default}", topics: t}
sinks:
  - name: a
    url: http://a
    headers: {Authorization: "Bearer ${SLUICE_TEST_TOKEN}", X-Price: "$$5"}
)",
                               "test.yaml");
  EXPECT_EQ(c.kafka.brokers, "kafka-1:9092,kafka-2:9092");
  EXPECT_EQ(c.kafka.group, "g-default");
  EXPECT_EQ(c.sinks[0].headers.at("Authorization"), "Bearer s3cret");
  EXPECT_EQ(c.sinks[0].headers.at("X-Price"), "$5");
}

TEST(Config, MissingVariableIsReportedWithItsPath) {
  ::unsetenv("SLUICE_TEST_UNSET");
  const auto p = problemsOf(R"(
kafka: {brokers: b, group: g, topics: t}
sinks: [{name: a, url: "http://a", headers: {Authorization: "${SLUICE_TEST_UNSET}"}}]
)");
  EXPECT_TRUE(mentions(p, "sinks[0].headers.Authorization: environment variable "
                          "SLUICE_TEST_UNSET is not set"));
}

TEST(Config, FileVariantsReadSecretsFromFiles) {
  const auto dir = std::filesystem::temp_directory_path() / "sluice-config-test";
  std::filesystem::create_directories(dir);
  std::ofstream(dir / "token") << "Bearer from-file\n";
  std::ofstream(dir / "password") << "pa$$word";
  const std::string yaml = R"(
kafka:
  brokers: b
  group: g
  topics: t
  properties: {sasl.password_file: password}
sinks: [{name: a, url: "http://a", headers: {Authorization_file: )" +
                           (dir / "token").string() + R"(}}]
)";
  const Config c = parseConfig(yaml, (dir / "sluice.yaml").string());
  EXPECT_EQ(c.sinks[0].headers.at("Authorization"), "Bearer from-file");  // newline dropped
  EXPECT_FALSE(c.sinks[0].headers.contains("Authorization_file"));
  EXPECT_EQ(c.kafka.properties.at("sasl.password"), "pa$$word");  // relative to the config
  std::filesystem::remove_all(dir);
}

TEST(Config, FileVariantProblems) {
  const auto p = problemsOf(R"(
kafka: {brokers: b, group: g, topics: t, properties: {sasl.password: x, sasl.password_file: y}}
sinks: [{name: a, url: "http://a", headers: {Authorization_file: /nonexistent/token}}]
)");
  EXPECT_TRUE(mentions(p, "kafka.properties.sasl.password_file: both sasl.password and "
                          "sasl.password_file are set"));
  EXPECT_TRUE(mentions(p, "sinks[0].headers.Authorization_file: cannot read /nonexistent/token"));
}

TEST(Config, SinkTlsFilesAreResolvedAndChecked) {
  const auto dir = std::filesystem::temp_directory_path() / "sluice-config-tls-test";
  std::filesystem::create_directories(dir);
  std::ofstream(dir / "ca.crt") << "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n";
  std::ofstream(dir / "client.crt") << "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n";
  std::ofstream(dir / "client.key") << "-----BEGIN EC PRIVATE KEY-----\nMHc\n-----END EC PRIVATE KEY-----\n";
  std::ofstream(dir / "key-password") << "s3cret\n";
  const std::string yaml = R"(
kafka: {brokers: b, group: g, topics: t}
sinks:
  - name: a
    url: https://a.example/ingest
    tls: {ca_bundle: ca.crt, client_certificate: client.crt, client_key: client.key,
          client_key_password_file: key-password}
  - {name: b, url: "https://b.example/"}
)";
  const Config c = parseConfig(yaml, (dir / "sluice.yaml").string());
  EXPECT_EQ(c.sinks[0].tls.ca_bundle, (dir / "ca.crt").string());  // relative to the config
  EXPECT_EQ(c.sinks[0].tls.client_certificate, (dir / "client.crt").string());
  EXPECT_EQ(c.sinks[0].tls.client_key, (dir / "client.key").string());
  EXPECT_EQ(c.sinks[0].tls.client_key_password, "s3cret");
  EXPECT_TRUE(c.sinks[0].tls.verify);
  EXPECT_TRUE(c.sinks[1].tls.verify);  // verification is on without any tls block
  EXPECT_TRUE(c.sinks[1].tls.ca_bundle.empty());

  // A certificate where the key belongs, and the key where a CA belongs.
  const auto p = problemsOf(R"(
kafka: {brokers: b, group: g, topics: t}
sinks:
  - name: a
    url: https://a.example/
    tls: {ca_bundle: )" + (dir / "client.key").string() + R"(, client_certificate: )" +
                            (dir / "client.crt").string() + R"(, client_key: )" +
                            (dir / "ca.crt").string() + R"(}
)");
  EXPECT_TRUE(mentions(p, "sinks[0].tls.ca_bundle: " + (dir / "client.key").string() +
                              " holds no PEM CERTIFICATE"));
  EXPECT_TRUE(mentions(p, "sinks[0].tls.client_key: " + (dir / "ca.crt").string() +
                              " holds no PEM PRIVATE KEY"));
  EXPECT_FALSE(mentions(p, "client_certificate:"));
  std::filesystem::remove_all(dir);
}

TEST(Config, SinkTlsKeysAreNeverEchoedAndEncryptedOnesNeedAPassword) {
  const auto dir = std::filesystem::temp_directory_path() / "sluice-config-tls-key-test";
  std::filesystem::create_directories(dir);
  std::ofstream(dir / "client.crt") << "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n";
  std::ofstream(dir / "client.key") << "-----BEGIN PRIVATE KEY-----\nMIIsecret\n-----END PRIVATE KEY-----\n";
  std::ofstream(dir / "encrypted.key")
      << "-----BEGIN ENCRYPTED PRIVATE KEY-----\nMIIE\n-----END ENCRYPTED PRIVATE KEY-----\n";
  std::ofstream(dir / "legacy.key") << "-----BEGIN RSA PRIVATE KEY-----\nProc-Type: 4,ENCRYPTED\n"
                                       "DEK-Info: AES-256-CBC,00\n\nMIIE\n-----END RSA PRIVATE KEY-----\n";
  const std::string sinks = "kafka: {brokers: b, group: g, topics: t}\nsinks:\n";
  auto sink = [&](const std::string& name, const std::string& tls) {
    return "  - {name: " + name + ", url: \"https://" + name + "\", tls: {client_certificate: " +
           (dir / "client.crt").string() + ", " + tls + "}}\n";
  };
  const auto p = problemsOf(sinks +
                            // the _file rule reads the key into client_key: a mistake to catch
                            sink("a", "client_key_file: " + (dir / "client.key").string()) +
                            sink("b", "client_key: " + (dir / "encrypted.key").string()) +
                            sink("c", "client_key: " + (dir / "legacy.key").string()) +
                            sink("d", "client_key: " + (dir / "legacy.key").string() +
                                          ", client_key_password: pw"));
  EXPECT_TRUE(mentions(p, "sinks[0].tls.client_key: expects a file path, not PEM content"));
  EXPECT_FALSE(mentions(p, "MIIsecret"));
  EXPECT_TRUE(mentions(p, "sinks[1].tls.client_key: " + (dir / "encrypted.key").string() +
                              " is encrypted; set client_key_password"));
  EXPECT_TRUE(mentions(p, "sinks[2].tls.client_key: " + (dir / "legacy.key").string() +
                              " is encrypted"));
  EXPECT_FALSE(mentions(p, "sinks[3]"));
  std::filesystem::remove_all(dir);
}

TEST(Config, SinkTlsProblems) {
  const auto p = problemsOf(R"(
kafka: {brokers: b, group: g, topics: t}
sinks:
  - {name: a, url: "http://a", tls: {verify: false}}
  - {name: b, url: "https://b", tls: {client_certificate: /nonexistent/c.crt, cipher: x}}
  - {name: c, url: "https://c", tls: {client_key_password: pw, verify: maybe}}
)");
  EXPECT_TRUE(mentions(p, "sinks[0].tls: the url is http://; TLS settings need an https:// url"));
  EXPECT_TRUE(mentions(p, "sinks[1].tls.client_certificate: cannot read /nonexistent/c.crt"));
  EXPECT_TRUE(mentions(p, "sinks[1].tls: client_certificate and client_key go together"));
  EXPECT_TRUE(mentions(p, "sinks[1].tls.cipher: unknown key"));
  EXPECT_TRUE(mentions(p, "sinks[2].tls.client_key_password: is set but client_key is not"));
  EXPECT_TRUE(mentions(p, "sinks[2].tls.verify: must be true or false"));
}

TEST(Config, MetricsListenNeedsAnAddressAndAPort) {
  const std::string base = "kafka: {brokers: b, group: g, topics: t}\n"
                           "sinks: [{name: a, url: \"http://a\"}]\n";
  EXPECT_TRUE(problemsOf(base + "metrics: {listen: \"0.0.0.0:9464\"}\n").empty());
  EXPECT_TRUE(problemsOf(base + "metrics: {listen: \"127.0.0.1:0\"}\n").empty());
  for (const char* bad : {"0.0.0.0:99999", "9464", "localhost:9464", "0.0.0.0:", "0.0.0.0:94x"}) {
    EXPECT_TRUE(mentions(problemsOf(base + "metrics: {listen: \"" + bad + "\"}\n"),
                         "metrics.listen: must be IPV4:PORT"))
        << bad;
  }
}

TEST(Config, BatchingNeedsUnorderedJsonEvents) {
  const Config c = parseConfig(R"(
kafka: {brokers: b, group: g, topics: t}
sinks:
  - {name: a, url: "http://a", batch: {max_events: 100, max_bytes: 65536}}
  - {name: b, url: "http://b"}
)", "test.yaml");
  EXPECT_EQ(c.sinks[0].batch_max_events, 100u);
  EXPECT_EQ(c.sinks[0].batch_max_bytes, 65536u);
  EXPECT_EQ(c.sinks[1].batch_max_events, 1u);  // off by default
  // A batching sink is fed faster than an 8 MiB prefetch refills.
  EXPECT_EQ(c.kafka.prefetch_kbytes, 16384u);
  EXPECT_EQ(c.kafka.prefetch_messages, 100000u);
  EXPECT_EQ(parseConfig("kafka: {brokers: b, group: g, topics: t}\n"
                        "sinks: [{name: a, url: \"http://a\"}]\n",
                        "test.yaml")
                .kafka.prefetch_kbytes,
            8192u);
  EXPECT_EQ(parseConfig("kafka: {brokers: b, group: g, topics: t}\n"
                        "sinks: [{name: a, url: \"http://a\"}]\n",
                        "test.yaml")
                .kafka.prefetch_messages,
            10000u);
  const auto p = problemsOf(R"(
kafka: {brokers: b, group: g, topics: t}
validation: {json: false}
sinks:
  - {name: a, url: "http://a", ordering: key, batch: {max_events: 10}}
  - {name: b, url: "http://b", batch: {max_events: 0, linger_ms: 5}}
)");
  EXPECT_TRUE(mentions(p, "sinks[0].batch: needs ordering: unordered"));
  EXPECT_TRUE(mentions(p, "sinks[0].batch: needs validation.json: true"));
  EXPECT_TRUE(mentions(p, "sinks[1].batch.max_events: must be between 1 and 10000"));
  EXPECT_TRUE(mentions(p, "sinks[1].batch.linger_ms: unknown key"));
}

// Before, yaml-cpp's own conversion error escaped parseConfig and check-config aborted.
TEST(Config, NonScalarKeysAreConfigErrorsNotCrashes) {
  for (const char* yaml : {
           "kafka: {[a]: 1}\n",
           "{a: 1}: x\nkafka: {brokers: b, group: g, topics: t}\n",
           "kafka: {brokers: b, group: g, topics: t}\n"
           "sinks: [{name: a, url: \"http://a\", headers: {[x]: y}}]\n",
           "kafka: {brokers: b, group: g, topics: t, properties: {? {k: v} : 1}}\n",
       }) {
    try {
      parseConfig(yaml, "test.yaml");
      ADD_FAILURE() << "accepted: " << yaml;
    } catch (const ConfigError& e) {
      EXPECT_TRUE(mentions(e.problems(), "is not a plain name")) << e.what();
      EXPECT_TRUE(mentions(e.problems(), "test.yaml: ")) << e.what();
    }
  }
  const auto p = problemsOf("kafka: {[a]: 1}\n");
  ASSERT_EQ(p.size(), 1u);
  EXPECT_EQ(p[0], "test.yaml: kafka: key #1 at line 1 is not a plain name (a list or mapping "
                  "used as a key)");
  EXPECT_TRUE(mentions(problemsOf("{[a]: 1}\n"), "test.yaml: the file: key #1"));
}

TEST(Config, AliasBombsAndDeepNestingAreRefusedQuickly) {
  // "Billion laughs": each line refers to the one before ten times over.
  std::string bomb = "a: &a [x, x, x, x, x, x, x, x, x, x]\n";
  for (char c = 'b'; c <= 'j'; ++c) {
    bomb += std::string(1, c) + ": &" + c + " [";
    for (int i = 0; i < 10; ++i) bomb += std::string(i ? ", *" : "*") + static_cast<char>(c - 1);
    bomb += "]\n";
  }
  const auto p = problemsOf(bomb);
  EXPECT_TRUE(mentions(p, "too many nodes")) << (p.empty() ? "" : p[0]);
  EXPECT_FALSE(problemsOf(std::string(100'000, '[')).empty());
  // yaml-cpp knows an anchor before its collection is parsed: these contain themselves.
  EXPECT_TRUE(mentions(problemsOf("x: &a [*a]\n"), "x[0]: refers to itself"));
  EXPECT_TRUE(mentions(problemsOf("kafka: &k {self: *k}\n"), "kafka.self: refers to itself"));
  EXPECT_TRUE(mentions(problemsOf("a: " + std::string(100, '[') + std::string(100, ']') + "\n"),
                       "nested deeper than 64 levels"));
  EXPECT_FALSE(problemsOf("kafka: " + std::string(100'000, '{')).empty());
}

TEST(Config, RequiresSinks) {
  const auto p = problemsOf("kafka: {brokers: b, group: g, topics: t}\n");
  EXPECT_TRUE(mentions(p, "sinks: is required"));
}

}  // namespace
}  // namespace sluice

namespace sluice {
namespace {

// A setting that no longer does anything still loads (an upgrade must not break a working
// config), says so, and is still checked.
TEST(Config, DrainBudgetIsIgnoredWithAWarning) {
  const std::string base = "kafka: {brokers: b:9092, group: g, topics: [t], drain_budget_ms: ";
  const std::string sinks = "}\nsinks: [{name: a, url: 'http://a/'}]\n";
  const Config c = parseConfig(base + "10000" + sinks, "test.yaml");
  ASSERT_EQ(c.warnings.size(), 1u);
  EXPECT_NE(c.warnings[0].find("kafka.drain_budget_ms: ignored"), std::string::npos)
      << c.warnings[0];
  EXPECT_TRUE(parseConfig(std::string(kValid), "test.yaml").warnings.empty());
  try {
    parseConfig(base + "lots" + sinks, "test.yaml");
    ADD_FAILURE() << "a bad value was accepted";
  } catch (const ConfigError& e) {
    EXPECT_EQ(e.problems().at(0), "test.yaml: kafka.drain_budget_ms: must be an integer");
  }
}

}  // namespace
}  // namespace sluice

namespace sluice {
namespace {

TEST(Config, ReadsTransformsWithTheirConfigAsJson) {
  const auto dir = std::filesystem::temp_directory_path() / "sluice-config-transform-test";
  std::filesystem::create_directories(dir);
  std::ofstream(dir / "t.wasm") << "x";
  const std::string yaml = std::string(kValid) + R"(
transform:
  module: t.wasm
  config: {fields: [card, "42"], depth: 3, ratio: 0.5, on: true, none: ~, name: plain}
  limits: {fuel: 1000000, time_ms: 50, memory_bytes: 1048576}
  workers: 3
)";
  const Config c = parseConfig(yaml, (dir / "sluice.yaml").string());
  ASSERT_TRUE(c.transform);
  EXPECT_EQ(c.transform->module, (dir / "t.wasm").string());  // relative to the config file
  EXPECT_EQ(c.transform->config_json,
            R"({"fields":["card","42"],"depth":3,"ratio":0.5,"on":true,"none":null,"name":"plain"})");
  EXPECT_EQ(c.transform->fuel, 1000000u);
  EXPECT_EQ(c.transform->time, std::chrono::milliseconds(50));
  EXPECT_EQ(c.transform->memory_bytes, 1048576u);
  EXPECT_EQ(c.transform->workers, 3u);
  EXPECT_FALSE(c.sinks[0].transform);
  std::filesystem::remove_all(dir);
}

TEST(Config, TransformProblemsNameTheirKey) {
  std::string yaml = kValid;
  yaml.replace(yaml.find("  - {name: a, url: \"http://127.0.0.1:8081/\"}"),
               std::string("  - {name: a, url: \"http://127.0.0.1:8081/\"}").size(),
               "  - name: a\n    url: http://127.0.0.1:8081/\n    transform: {module: /nonexistent/x.wasm, "
               "limits: {memory_bytes: 5}, colour: red}");
  const auto problems = problemsOf(yaml);
  auto has = [&](const std::string& what) {
    return std::any_of(problems.begin(), problems.end(),
                       [&](const std::string& p) { return p.find(what) != std::string::npos; });
  };
  EXPECT_TRUE(has("sinks[0].transform.module")) << ::testing::PrintToString(problems);
  EXPECT_TRUE(has("sinks[0].transform.limits.memory_bytes")) << ::testing::PrintToString(problems);
  EXPECT_TRUE(has("sinks[0].transform.colour")) << ::testing::PrintToString(problems);
}

}  // namespace
}  // namespace sluice
