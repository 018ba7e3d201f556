#pragma once

#include <filesystem>
#include <string>
#include <string_view>

#include "config/yaml_reader.h"

namespace sluice::config_detail {

// A path as written in the config: a relative one is relative to the config file's folder
// (`base`), not to wherever sluice was started.
std::filesystem::path configRelative(const std::string& file, const std::filesystem::path& base);

// A TLS file is checked at start-up, not at the first connection: a typo in a mounted path
// would otherwise show only as failing deliveries.
// Rewrites `file` as the normalized path it names.
// Returns whether the PEM is encrypted (a key that needs a password).
bool checkPemFile(Reader& r, const std::string& key_path, std::string& file,
                  const std::filesystem::path& base, std::string_view expected_label);

// Rewrites `file` as the normalized path it names and reports it when it is no regular file.
void checkSchemaFile(Reader& r, const std::string& key_path, std::string& file,
                     const std::filesystem::path& base);

// The status server binds an IPv4 address (0: any free port, for tests).
bool validListenAddress(const std::string& listen);

}  // namespace sluice::config_detail
