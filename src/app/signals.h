#pragma once

#include <csignal>

#include "util/unique_fd.h"

namespace sluice {

// Blocks SIGTERM/SIGINT/SIGHUP (and SIGPIPE) for the whole process and exposes the first
// three as a readable fd (SIGHUP: reload transforms). Construct it before any thread starts (librdkafka's threads
// inherit the mask), or a signal may land on a thread that cannot handle it.
// Blocks them for the calling thread and every thread it starts later: call before anything
// starts threads (the WebAssembly engine, when transforms load, starts some).
void blockTerminationSignals();

class TerminationSignals {
 public:
  TerminationSignals();  // throws std::system_error at start-up
  int fd() const { return fd_.get(); }
  // The signal number read, or 0 when none was pending.
  int take();

 private:
  UniqueFd fd_;
};

}  // namespace sluice
