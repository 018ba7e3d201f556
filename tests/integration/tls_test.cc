// HTTPS sinks against the real broker, with certificates made here by the openssl command:
// delivery over TLS and mutual TLS, and the failures an operator must be able to diagnose
// (a wrong CA bundle, a missing client certificate): said plainly in the log, nothing
// delivered to that sink, nothing committed past it, everything delivered once fixed.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>

#include <cstdlib>
#include <filesystem>
#include <string>
#include <thread>

#include "members.h"
#include "pipeline.h"

namespace sluice::testing {
namespace {

using namespace std::chrono_literals;
namespace fs = std::filesystem;

// Three independent CAs: one signs the sinks' server certificate, one signs sluice's client
// certificate (what a sink with mutual TLS trusts), and one signs nothing we use.
class Certificates {
 public:
  explicit Certificates(const fs::path& dir) : dir_(dir) {
    fs::create_directories(dir_);
    makeCa("server-ca");
    makeCa("client-ca");
    makeCa("other-ca");
    // curl checks the name in the URL (127.0.0.1) against the subjectAltName.
    makeSigned("server", "server-ca", "subjectAltName=IP:127.0.0.1,DNS:localhost");
    makeSigned("client", "client-ca", "extendedKeyUsage=clientAuth");
  }

  std::string path(const std::string& name) const { return (dir_ / name).string(); }

 private:
  void run(const std::string& command) {
    const std::string full = "cd '" + dir_.string() + "' && " + command + " 2>>openssl.log";
    if (std::system(full.c_str()) != 0) {
      throw std::runtime_error("openssl failed: " + command + "\n" + readFile(path("openssl.log")));
    }
  }
  void makeCa(const std::string& name) {
    run("openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 "
        "-subj '/CN=sluice test " + name + "' -keyout " + name + ".key -out " + name + ".crt");
  }
  void makeSigned(const std::string& name, const std::string& ca, const std::string& ext) {
    run("openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj '/CN=" + name +
        "' -keyout " + name + ".key -out " + name + ".csr");
    run("printf '%s\\n' '" + ext + "' > " + name + ".ext");
    run("openssl x509 -req -days 2 -in " + name + ".csr -CA " + ca + ".crt -CAkey " + ca +
        ".key -CAcreateserial -extfile " + name + ".ext -out " + name + ".crt");
  }

  fs::path dir_;
};

std::vector<std::string> httpsFlags(const Certificates& certs) {
  return {"--tls-cert", certs.path("server.crt"), "--tls-key", certs.path("server.key")};
}

std::vector<std::string> mutualTlsFlags(const Certificates& certs) {
  auto flags = httpsFlags(certs);
  flags.insert(flags.end(), {"--tls-client-ca", certs.path("client-ca.crt")});
  return flags;
}

std::string tlsBlock(const std::string& ca, const std::string& cert = "",
                     const std::string& key = "") {
  std::string y = "    tls:\n      ca_bundle: " + ca + "\n";
  if (!cert.empty()) y += "      client_certificate: " + cert + "\n      client_key: " + key + "\n";
  return y;
}

// Each in-flight request holds a connection, so the window is how many handshakes start at
// once; a small one keeps them from crowding a two-core machine past the request timeout.
ConfigOptions smallWindows() {
  ConfigOptions options;
  options.sink_max_in_flight = 32;
  return options;
}

bool nothingCommitted(const PartitionOffsets& committed) {
  for (const auto& [partition, offset] : committed) {
    if (offset > 0) return false;
  }
  return true;
}

TEST(Tls, DeliversOverHttpsAndMutualTls) {
  Pipeline pl("tls", 3);
  const Certificates certs(fs::path(pl.dir()) / "certs");
  const auto a = pl.startSink("a", httpsFlags(certs));
  const auto b = pl.startSink("b", mutualTlsFlags(certs));
  const auto c = pl.startSink("c");  // plain HTTP beside them
  ConfigOptions options = smallWindows();
  options.https_sinks = {"a", "b"};
  options.sink_extra["a"] = tlsBlock(certs.path("server-ca.crt"));
  options.sink_extra["b"] = tlsBlock(certs.path("server-ca.crt"), certs.path("client.crt"),
                                     certs.path("client.key"));
  pl.startSluice(pl.writeConfig(options));
  pl.produce(600);
  const auto end = pl.end();
  const auto expected = pl.expectedKeys(end);
  ASSERT_TRUE(pl.waitForAllSinks(expected, 60s)) << pl.sluiceLog(0);
  ASSERT_TRUE(waitFor([&] { return pl.committed() == end; }, 30s)) << pl.sluiceLog(0);
  for (const auto sink : {a, b, c}) {
    EXPECT_EQ(pl.records(sink).count_by_key.size(), expected.size());
  }
  EXPECT_EQ(pl.sluiceLog(0).find("TLS failed"), std::string::npos) << pl.sluiceLog(0);
  stopGracefully(pl, 0);
}

TEST(Tls, WrongCaFailsClearlyAndHoldsTheCommitUntilFixed) {
  Pipeline pl("tls-wrong-ca", 2);
  const Certificates certs(fs::path(pl.dir()) / "certs");
  const auto a = pl.startSink("a", httpsFlags(certs));
  const auto b = pl.startSink("b");
  ConfigOptions options = smallWindows();
  options.https_sinks = {"a"};
  options.sink_extra["a"] = tlsBlock(certs.path("other-ca.crt"));
  pl.startSluice(pl.writeConfig(options));
  pl.produce(100);
  const auto end = pl.end();
  const auto expected = pl.expectedKeys(end);

  // The operator's view: one error line that names the sink and the certificate problem.
  ASSERT_TRUE(waitFor([&] {
    return pl.sluiceLog(0).find("sink a: TLS failed: SSL certificate problem") != std::string::npos;
  }, 30s)) << pl.sluiceLog(0);
  ASSERT_TRUE(waitFor([&] { return pl.sinkHasAll(b, expected); }, 30s));  // b is not held up
  std::this_thread::sleep_for(2s);  // several commit intervals
  EXPECT_EQ(pl.recordCount(a), 0u);
  EXPECT_TRUE(nothingCommitted(pl.committed())) << "committed past events sink a never got";
  stopGracefully(pl, 0);

  // Fixed config: the held events reach sink a; nothing was lost meanwhile.
  options.sink_extra["a"] = tlsBlock(certs.path("server-ca.crt"));
  pl.startSluice(pl.writeConfig(options));
  ASSERT_TRUE(waitFor([&] { return pl.sinkHasAll(a, expected); }, 60s)) << pl.sluiceLog(1);
  ASSERT_TRUE(waitFor([&] { return pl.committed() == end; }, 30s)) << pl.sluiceLog(1);
  stopGracefully(pl, 1);
}

TEST(Tls, MutualTlsSinkRefusesSluiceWithoutAClientCertificate) {
  Pipeline pl("tls-no-client-cert", 1);
  const Certificates certs(fs::path(pl.dir()) / "certs");
  const auto a = pl.startSink("a", mutualTlsFlags(certs));
  ConfigOptions options = smallWindows();
  options.https_sinks = {"a"};
  options.sink_extra["a"] = tlsBlock(certs.path("server-ca.crt"));  // no client certificate
  pl.startSluice(pl.writeConfig(options));
  pl.produce(20);
  const std::string sink_log = pl.dir() + "/sink-a.log";
  ASSERT_TRUE(waitFor([&] {
    return readFile(sink_log).find("peer did not return a certificate") != std::string::npos;
  }, 30s)) << readFile(sink_log);
  ASSERT_TRUE(waitFor([&] {
    return pl.sluiceLog(0).find("sink a: TLS failed") != std::string::npos;
  }, 30s)) << pl.sluiceLog(0);
  EXPECT_EQ(pl.recordCount(a), 0u);
  EXPECT_TRUE(nothingCommitted(pl.committed()));
  stopGracefully(pl, 0);
}

}  // namespace
}  // namespace sluice::testing
