// The settings of the process rather than of the pipeline: the status server, shutdown,
// periodic stats and logging.
#include <set>

#include "config/file_checks.h"
#include "config/section_readers.h"

namespace sluice::config_detail {

void readMetrics(Reader& r, const YAML::Node& node, MetricsConfig& m) {
  const std::string path = "metrics";
  if (!r.optionalMap(node, path, {"listen", "ready_without_partitions"})) return;
  r.string(node, path, "listen", m.listen, false);
  r.boolean(node, path, "ready_without_partitions", m.ready_without_partitions);
  if (!m.listen.empty() && !validListenAddress(m.listen)) {
    r.problem(path + ".listen",
              "must be IPV4:PORT with a port of 0..65535, e.g. 0.0.0.0:9464 (got '" + m.listen +
                  "')");
  }
}

void readProcessSettings(Reader& r, const YAML::Node& root, Config& c) {
  r.millis(root, "", "shutdown_grace_ms", c.shutdown_grace, 0, 3'600'000);
  r.millis(root, "", "stats_interval_ms", c.stats_interval, 0, 3'600'000);
  r.string(root, "", "log_level", c.log_level, false);
  static const std::set<std::string> kLevels = {"trace", "debug", "info", "warn", "error"};
  if (!kLevels.contains(c.log_level)) {
    r.problem("log_level", "must be one of trace, debug, info, warn, error");
  }
  r.string(root, "", "log_format", c.log_format, false);
  if (c.log_format != "text" && c.log_format != "json") {
    r.problem("log_format", "must be text or json");
  }
}

}  // namespace sluice::config_detail
