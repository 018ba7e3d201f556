#pragma once

#include <yaml-cpp/yaml.h>

#include <filesystem>
#include <string>

#include "config/config.h"
#include "config/yaml_reader.h"

// One reader per section of the config file. Each records its problems in the Reader and
// fills what it could read; `node` is the section's node, absent when the file has none.
namespace sluice::config_detail {

// Reads c.kafka; adds to c.warnings.
void readKafka(Reader& r, const YAML::Node& node, Config& c);
void readDeadLetter(Reader& r, const YAML::Node& node, DeadLetterConfig& d);

void readDelivery(Reader& r, const YAML::Node& node, Config& c);
// delivery.retry, and each sink's retry over a copy of it.
void readRetry(Reader& r, const YAML::Node& node, const std::string& path, RetryPolicy& p);

void readValidation(Reader& r, const YAML::Node& node, ValidationConfig& v,
                    const std::filesystem::path& base);

// Checks each sink against delivery, dead_letter and validation too: read those first.
void readSinks(Reader& r, const YAML::Node& node, Config& c, const std::filesystem::path& base);

// `transform` at the top level or in a sink: module, config, limits, workers.
void readTransform(Reader& r, const YAML::Node& node, const std::string& path,
                   std::optional<TransformConfig>& t, const std::filesystem::path& base);

void readMetrics(Reader& r, const YAML::Node& node, MetricsConfig& m);
// The top-level scalars: shutdown_grace_ms, stats_interval_ms, log_level, log_format.
void readProcessSettings(Reader& r, const YAML::Node& root, Config& c);

}  // namespace sluice::config_detail
