#pragma once

#include <functional>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "util/unique_fd.h"

namespace sluice {

// Tells when a module file may have changed: inotify on the folders holding them (a file
// replaced by a rename, written in place, or a Kubernetes ConfigMap's `..data` symlink swapped
// to a new folder all show there), read on the event loop. The caller debounces.
class ModuleWatcher {
 public:
  explicit ModuleWatcher(const std::vector<std::string>& files);  // throws at start-up
  int fd() const { return fd_.get(); }
  // Reads what inotify has; true when something concerns a watched file.
  bool changed();

 private:
  UniqueFd fd_;
  std::map<int, std::set<std::string>> names_by_watch_;  // folder watch -> file names in it
};

}  // namespace sluice
