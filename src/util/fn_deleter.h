#pragma once

// Lets std::unique_ptr own a C library handle whose release function takes the pointer.
namespace sluice {

template <auto Fn>
struct FnDeleter {
  template <class T>
  void operator()(T* p) const noexcept {
    if (p != nullptr) Fn(p);
  }
};

}  // namespace sluice
