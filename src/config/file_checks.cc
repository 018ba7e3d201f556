#include "config/file_checks.h"

#include <arpa/inet.h>

#include <charconv>
#include <fstream>
#include <system_error>

namespace sluice::config_detail {
namespace {

// Returns the path `file` names, for opening; `file` becomes its normalized form, for messages
// and for the components that open it later.
std::filesystem::path normalizeInPlace(std::string& file, const std::filesystem::path& base) {
  const std::filesystem::path p = configRelative(file, base);
  file = p.lexically_normal().string();
  return p;
}

}  // namespace

std::filesystem::path configRelative(const std::string& file, const std::filesystem::path& base) {
  std::filesystem::path p(file);
  if (p.is_relative()) p = base / p;
  return p;
}

bool checkPemFile(Reader& r, const std::string& key_path, std::string& file,
                  const std::filesystem::path& base, std::string_view expected_label) {
  // PEM text here means "KEY_file: PATH" put a file's content where a path belongs; never
  // echo it, it may be a private key.
  if (file.find('\n') != std::string::npos || file.find("-----BEGIN") != std::string::npos) {
    r.problem(key_path, "expects a file path, not PEM content (write the path without _file)");
    file.clear();
    return false;
  }
  const std::filesystem::path p = normalizeInPlace(file, base);
  std::error_code ec;
  std::ifstream in(p, std::ios::binary);
  if (!std::filesystem::is_regular_file(p, ec) || !in) {
    r.problem(key_path, "cannot read " + file);
    return false;
  }
  std::string head(64 * 1024, '\0');
  in.read(head.data(), static_cast<std::streamsize>(head.size()));
  head.resize(static_cast<std::size_t>(in.gcount()));
  // Labels: "CERTIFICATE", or "PRIVATE KEY" inside "RSA/EC/ENCRYPTED PRIVATE KEY".
  std::size_t at = 0;
  while ((at = head.find("-----BEGIN ", at)) != std::string::npos) {
    at += 11;
    const std::size_t end = head.find("-----", at);
    if (end == std::string::npos) break;
    const std::string_view label = std::string_view(head).substr(at, end - at);
    if (label.ends_with(expected_label)) {
      // PKCS#8 "ENCRYPTED PRIVATE KEY", or a traditional key with a Proc-Type header.
      return label.starts_with("ENCRYPTED ") ||
             head.find("Proc-Type: 4,ENCRYPTED", end) != std::string::npos;
    }
  }
  r.problem(key_path, file + " holds no PEM " + std::string(expected_label));
  return false;
}

void checkSchemaFile(Reader& r, const std::string& key_path, std::string& file,
                     const std::filesystem::path& base) {
  const std::filesystem::path p = normalizeInPlace(file, base);
  std::error_code ec;  // the throwing form aborts on a symlink loop or an over-long name
  if (!std::filesystem::is_regular_file(p, ec)) r.problem(key_path, "no such file: " + file);
}

bool validListenAddress(const std::string& listen) {
  const auto colon = listen.rfind(':');
  if (colon == std::string::npos) return false;
  in_addr addr{};
  if (::inet_pton(AF_INET, listen.substr(0, colon).c_str(), &addr) != 1) return false;
  const std::string port = listen.substr(colon + 1);
  unsigned value = 0;
  const auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), value);
  return !port.empty() && ec == std::errc() && end == port.data() + port.size() && value <= 65535;
}

}  // namespace sluice::config_detail
