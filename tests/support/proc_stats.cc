#include "proc_stats.h"

#include <string_view>

#include <unistd.h>

#include <fstream>
#include <iterator>
#include <sstream>
#include <string>

namespace sluice::testing {

double cpuSeconds(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  const std::string stat((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const auto close = stat.rfind(')');  // the command name may contain spaces
  if (close == std::string::npos) return 0;
  std::istringstream rest(stat.substr(close + 2));
  std::string field;
  double ticks = 0;
  // Fields 14 and 15 are utime and stime; the stream starts at field 3.
  for (int i = 3; i <= 15 && rest >> field; ++i) {
    if (i == 14 || i == 15) ticks += std::stod(field);
  }
  return ticks / static_cast<double>(::sysconf(_SC_CLK_TCK));
}

namespace {

// A number field of /proc/PID/status ("VmHWM:", "Threads:"), or -1.
long statusField(pid_t pid, std::string_view name) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.starts_with(name)) return std::stol(line.substr(name.size()));
  }
  return -1;
}

}  // namespace

long peakRssKib(pid_t pid) { return statusField(pid, "VmHWM:"); }

long threadCount(pid_t pid) { return statusField(pid, "Threads:"); }

double machineBusySeconds() {
  std::ifstream in("/proc/stat");
  std::string cpu;
  in >> cpu;  // "cpu": the sum over all cores
  // user nice system idle iowait irq softirq steal (guest time is inside user already)
  double ticks = 0;
  for (int i = 0; i < 8; ++i) {
    double v = 0;
    if (!(in >> v)) break;
    if (i != 3 && i != 4) ticks += v;
  }
  return ticks / static_cast<double>(::sysconf(_SC_CLK_TCK));
}

}  // namespace sluice::testing
