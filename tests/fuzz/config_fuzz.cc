// The config loader as check-config runs it (src/main.cc, loadChecked): YAML text in, then
// librdkafka's view of the properties, then the event schema. Every problem must come out as a
// ConfigError (or, for the schema, an exception check-config prints); anything else escaping,
// a crash or a hang is a bug. Accepted configs must satisfy what parseConfig promises.
//
// Keeping it harmless: parseConfig reads files (KEY_file, TLS files, the schema) and the
// environment (${NAME}), and librdkafka loads libraries named by plugin.library.paths. The
// target gives it a scratch directory of its own (relative paths resolve there: the origin is
// a file in it), makes ${SLUICE_FUZZ_*} the only variables an input may use, and skips inputs
// that could name anything else: a value starting with '/', '.' or '..' as a path component,
// or mentioning "plugin". A relative path with a '/' can only open something if its first
// component is a directory, and the scratch directory holds none.
#include <signal.h>
#include <unistd.h>

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstdint>
#include <cstdlib>
#include <exception>
#include <filesystem>
#include <fstream>
#include <set>
#include <string>
#include <vector>

#include "config/load_config.h"
#include "config/variables.h"
#include "fuzz_support.h"
#include "kafka/property_check.h"
#include "validate/validator.h"

namespace {

namespace fs = std::filesystem;
using sluice::fuzz::fail;

fs::path g_scratch;
std::string g_origin;  // "<scratch>/fuzz.yaml"

void writeFile(const char* name, std::string_view content) {
  std::ofstream(g_scratch / name, std::ios::binary) << content;
}

void removeScratch() {
  std::error_code ec;
  fs::remove_all(g_scratch, ec);
}

bool containsPlugin(std::string_view s) {
  std::string lower(s);
  std::transform(lower.begin(), lower.end(), lower.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return lower.find("plugin") != std::string::npos;
}

// The expansion parseConfig applies to every scalar value, with one difference: a variable
// outside SLUICE_FUZZ_* makes the input unusable.
std::optional<std::string> expand(const std::string& in) {
  bool foreign = false;
  std::vector<std::string> problems;
  std::string out = sluice::expandVariables(in, "", problems, [&](const std::string& name) {
    if (name.rfind("SLUICE_FUZZ_", 0) != 0) foreign = true;
    return sluice::environmentVariable(name);
  });
  if (foreign) return std::nullopt;
  return out;
}

// Could `s`, used as a path, name anything outside the scratch directory?
bool escapes(std::string_view s) {
  return s.starts_with('/') || s == "." || s == ".." || s.starts_with("./") ||
         s.starts_with("../");
}

bool safeScalar(const std::string& raw) {
  if (containsPlugin(raw) || escapes(raw)) return false;
  const auto expanded = expand(raw);
  return expanded && !escapes(*expanded) && !containsPlugin(*expanded);
}

// Whether parseConfig may read files and variables for this input. Every scalar is checked,
// keys included, whatever its place: which ones are paths is the code under test's business.
bool harmless(const std::string& text) {
  const bool plain = text.find_first_of("/\\$") == std::string::npos && !containsPlugin(text);
  // No '/' and no escape: every path is one name in the scratch directory.
  if (plain) return true;
  YAML::Node root;
  try {
    root = YAML::Load(text);
  } catch (const YAML::Exception&) {
    return true;  // parseConfig's own Load fails the same way, before reading anything
  }
  // Aliases can make the tree endless or exponential; past the budget the input is skipped.
  std::size_t budget = 20'000;
  std::vector<YAML::Node> todo{root};
  while (!todo.empty()) {
    if (--budget == 0) return false;
    const YAML::Node n = todo.back();
    todo.pop_back();
    if (n.IsScalar()) {
      if (!safeScalar(n.Scalar())) return false;
    } else if (n.IsSequence()) {
      for (const auto& item : n) todo.push_back(item);
    } else if (n.IsMap()) {
      for (const auto& kv : n) {
        todo.push_back(kv.first);
        todo.push_back(kv.second);
      }
    }
  }
  return true;
}

bool startsWithOrigin(const std::string& problem) {
  return problem.size() > g_origin.size() + 1 && problem.rfind(g_origin + ":", 0) == 0;
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  // One directory per process, named by its pid; a crash skips the atexit clean-up, so the
  // directories of processes that are gone are removed here.
  constexpr std::string_view kPrefix = "sluice-config-fuzz.";
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(fs::temp_directory_path(), ec)) {
    const std::string name = entry.path().filename().string();
    if (!name.starts_with(kPrefix)) continue;
    const long pid = std::strtol(name.c_str() + kPrefix.size(), nullptr, 10);
    if (pid > 0 && ::kill(static_cast<pid_t>(pid), 0) != 0 && errno == ESRCH) {
      fs::remove_all(entry.path(), ec);
    }
  }
  g_scratch = fs::temp_directory_path() / (std::string(kPrefix) + std::to_string(::getpid()));
  fs::remove_all(g_scratch, ec);
  if (!fs::create_directory(g_scratch, ec)) fail("cannot create the scratch directory");
  g_origin = (g_scratch / "fuzz.yaml").string();
  std::atexit(removeScratch);
  // What the seeds' KEY_file, TLS and schema entries name (PEM labels are all the loader
  // looks at; contents hold no '/', so a file's content used as a path stays in here too).
  writeFile("secret", "s3cret-from-file\n");
  writeFile("ca.pem", "-----BEGIN CERTIFICATE-----\nMIIBfuzz\n-----END CERTIFICATE-----\n");
  writeFile("client.pem", "-----BEGIN CERTIFICATE-----\nMIIBfuzz\n-----END CERTIFICATE-----\n");
  writeFile("client.key", "-----BEGIN PRIVATE KEY-----\nMIIEfuzz\n-----END PRIVATE KEY-----\n");
  writeFile("encrypted.key",
            "-----BEGIN ENCRYPTED PRIVATE KEY-----\nMIIFfuzz\n-----END ENCRYPTED PRIVATE KEY-----\n");
  writeFile("schema.json", R"({"type": "object", "required": ["id"]})");
  writeFile("bad-schema.json", "{not json");
  ::setenv("SLUICE_FUZZ_TOKEN", "t0ken", 1);
  ::setenv("SLUICE_FUZZ_BROKERS", "127.0.0.1:9092", 1);
  ::setenv("SLUICE_FUZZ_SECRET_FILE", "secret", 1);
  ::setenv("SLUICE_FUZZ_EMPTY", "", 1);
  ::unsetenv("SLUICE_FUZZ_UNSET");
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string yaml(sluice::fuzz::asText(data, size));
  if (!harmless(yaml)) return -1;  // not worth keeping in the corpus either
  sluice::Config config;
  try {
    config = sluice::parseConfig(yaml, g_origin);
  } catch (const sluice::ConfigError& e) {
    SLUICE_FUZZ_CHECK(!e.problems().empty(), yaml);
    for (const auto& p : e.problems()) SLUICE_FUZZ_CHECK(startsWithOrigin(p), p);
    return 0;
  }
  // Any other exception escapes and aborts: check-config would die with it.

  // What parseConfig promises of a config it accepts (README: Configuration).
  SLUICE_FUZZ_CHECK(!config.sinks.empty(), yaml);
  SLUICE_FUZZ_CHECK(!config.kafka.brokers.empty() && !config.kafka.group.empty(), yaml);
  std::set<std::string> names;
  for (const auto& s : config.sinks) {
    SLUICE_FUZZ_CHECK(!s.name.empty() && names.insert(s.name).second, s.name);
    SLUICE_FUZZ_CHECK(s.url.starts_with("http://") || s.url.starts_with("https://"), s.url);
    SLUICE_FUZZ_CHECK(s.retry.backoff.initial <= s.retry.backoff.max, s.name);
    SLUICE_FUZZ_CHECK(!s.retry.limited() || config.dead_letter.enabled(), s.name);
    SLUICE_FUZZ_CHECK(s.batch_max_events <= 1 || config.validation.json, s.name);
  }
  for (const char* owned : {"enable.auto.offset.store", "enable.auto.commit", "group.id",
                            "bootstrap.servers"}) {
    SLUICE_FUZZ_CHECK(!config.kafka.properties.contains(owned), owned);
  }

  for (const auto& p : sluice::checkKafkaProperties(config)) {
    SLUICE_FUZZ_CHECK(p.starts_with("kafka.properties.") || p.starts_with("dead_letter.properties."),
                      p);
  }
  try {
    const sluice::Validator schema_check(config.validation);
  } catch (const std::exception&) {
    // check-config prints what() as the problem: fine. Anything not a std::exception aborts.
  }
  return 0;
}
