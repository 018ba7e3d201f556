#pragma once

#include <string>
#include <vector>

#include "config/config.h"

namespace sluice {

// What librdkafka would only say once sluice starts: unknown property names, invalid values,
// and ssl.*.location files that cannot be read (relative paths are relative to the working
// directory, as librdkafka opens them). One "kafka.properties.KEY: reason" (or
// dead_letter.properties.KEY) per problem, so check-config can list them with the rest.
std::vector<std::string> checkKafkaProperties(const Config& config);

}  // namespace sluice
