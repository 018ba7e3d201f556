#pragma once

#include <sys/types.h>

namespace sluice::testing {

// CPU time (user + system) a process has used so far, in seconds, from /proc/PID/stat.
double cpuSeconds(pid_t pid);
// Peak resident set size (VmHWM) of a process in KiB, or -1 if it cannot be read.
long peakRssKib(pid_t pid);
// Threads of a process now (Threads in /proc/PID/status), or -1 if it cannot be read.
long threadCount(pid_t pid);

// CPU-seconds every core of the machine has spent busy since boot (/proc/stat; idle and
// iowait excluded): the difference over a run says how full the box was.
double machineBusySeconds();

}  // namespace sluice::testing
