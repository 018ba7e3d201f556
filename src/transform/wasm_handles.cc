#include "transform/wasm_handles.h"

namespace sluice {

std::string wasmErrorText(const wasmtime_error_t* error) {
  wasm_name_t message;
  wasmtime_error_message(error, &message);
  std::string text(message.data, message.size);
  wasm_byte_vec_delete(&message);
  return text;
}

std::string wasmTrapText(const wasm_trap_t* trap) {
  wasm_message_t message;
  wasm_trap_message(trap, &message);
  std::string text(message.data, message.size);
  wasm_byte_vec_delete(&message);
  // wasm_message_t is NUL-terminated and counts the NUL.
  while (!text.empty() && text.back() == '\0') text.pop_back();
  return text;
}

}  // namespace sluice
