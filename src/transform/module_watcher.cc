#include "transform/module_watcher.h"

#include <sys/inotify.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <filesystem>
#include <system_error>

namespace sluice {

ModuleWatcher::ModuleWatcher(const std::vector<std::string>& files)
    : fd_(::inotify_init1(IN_NONBLOCK | IN_CLOEXEC)) {
  if (!fd_) throw std::system_error(errno, std::generic_category(), "inotify_init1");
  std::map<std::string, int> watch_by_dir;
  for (const auto& file : files) {
    const std::filesystem::path p(file);
    const std::string dir = p.parent_path().empty() ? "." : p.parent_path().string();
    auto it = watch_by_dir.find(dir);
    if (it == watch_by_dir.end()) {
      const int wd = ::inotify_add_watch(
          fd_.get(), dir.c_str(),
          IN_CLOSE_WRITE | IN_MOVED_TO | IN_CREATE | IN_DELETE | IN_ATTRIB);
      if (wd < 0) throw std::system_error(errno, std::generic_category(), "inotify_add_watch " + dir);
      it = watch_by_dir.emplace(dir, wd).first;
    }
    names_by_watch_[it->second].insert(p.filename().string());
    // A ConfigMap mount: the files are symlinks through "..data", which is swapped.
    names_by_watch_[it->second].insert("..data");
  }
}

bool ModuleWatcher::changed() {
  bool relevant = false;
  alignas(inotify_event) std::array<char, 4096> buf;
  while (true) {
    const ssize_t n = ::read(fd_.get(), buf.data(), buf.size());
    if (n <= 0) break;
    for (ssize_t at = 0; at < n;) {
      const auto* ev = reinterpret_cast<const inotify_event*>(buf.data() + at);
      if (ev->len > 0) {
        auto it = names_by_watch_.find(ev->wd);
        if (it != names_by_watch_.end() && it->second.contains(ev->name)) relevant = true;
      }
      at += static_cast<ssize_t>(sizeof(inotify_event) + ev->len);
    }
  }
  return relevant;
}

}  // namespace sluice
