// SPDX-License-Identifier: LGPL-2.1-or-later
// A PKCS#11 module that forwards every call to a real one (SoftHSM2 in
// test_vscclient_slow_token.py) and holds private-key operations at a gate:
// a token whose signatures take as long as the test wants, to show that a slow
// signature on one reader does not stall vscclient's other readers.
//
// Environment (read at each call, so certutil and modutil, run without
// GATED_PKCS11_GATE, use the token normally):
//   GATED_PKCS11_TARGET  the real module's path (required)
//   GATED_PKCS11_GATE    a path: C_Sign/C_SignFinal/C_Decrypt/C_DecryptFinal
//                        first create GATE.entered, then wait until GATE exists
//                        (at most 120 s, so a forgotten gate cannot hang a test
//                        for ever), then forward.
// The calls and their order come from PKCS#11 v2.40 (the function list,
// section 5.2); the header is NSS's copy of the OASIS one.
#include <dlfcn.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>

#include <pkcs11.h>

namespace {

CK_FUNCTION_LIST_PTR target = nullptr;  // the real module's list
CK_FUNCTION_LIST gated;                 // a copy with the gated entries replaced

void wait_at_gate() {
  const char* gate = std::getenv("GATED_PKCS11_GATE");
  if (gate == nullptr || *gate == '\0') return;
  std::string entered = std::string(gate) + ".entered";
  if (FILE* f = std::fopen(entered.c_str(), "w")) std::fclose(f);
  auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(120);
  while (access(gate, F_OK) != 0 && std::chrono::steady_clock::now() < give_up) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
}

CK_RV gated_sign(CK_SESSION_HANDLE s, CK_BYTE_PTR data, CK_ULONG len, CK_BYTE_PTR sig,
                 CK_ULONG_PTR sig_len) {
  // A size query (sig == NULL) does not use the key.
  if (sig != nullptr) wait_at_gate();
  return target->C_Sign(s, data, len, sig, sig_len);
}

CK_RV gated_sign_final(CK_SESSION_HANDLE s, CK_BYTE_PTR sig, CK_ULONG_PTR sig_len) {
  if (sig != nullptr) wait_at_gate();
  return target->C_SignFinal(s, sig, sig_len);
}

CK_RV gated_decrypt(CK_SESSION_HANDLE s, CK_BYTE_PTR in, CK_ULONG in_len, CK_BYTE_PTR out,
                    CK_ULONG_PTR out_len) {
  if (out != nullptr) wait_at_gate();
  return target->C_Decrypt(s, in, in_len, out, out_len);
}

CK_RV gated_decrypt_final(CK_SESSION_HANDLE s, CK_BYTE_PTR out, CK_ULONG_PTR out_len) {
  if (out != nullptr) wait_at_gate();
  return target->C_DecryptFinal(s, out, out_len);
}

}  // namespace

extern "C" __attribute__((visibility("default"))) CK_RV C_GetFunctionList(
    CK_FUNCTION_LIST_PTR_PTR list) {
  if (list == nullptr) return CKR_ARGUMENTS_BAD;
  if (target == nullptr) {
    const char* path = std::getenv("GATED_PKCS11_TARGET");
    if (path == nullptr) return CKR_GENERAL_ERROR;
    void* module = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (module == nullptr) return CKR_GENERAL_ERROR;
    auto get = reinterpret_cast<CK_C_GetFunctionList>(dlsym(module, "C_GetFunctionList"));
    CK_FUNCTION_LIST_PTR real = nullptr;
    if (get == nullptr || get(&real) != CKR_OK || real == nullptr) return CKR_GENERAL_ERROR;
    target = real;
    gated = *real;
    gated.C_Sign = gated_sign;
    gated.C_SignFinal = gated_sign_final;
    gated.C_Decrypt = gated_decrypt;
    gated.C_DecryptFinal = gated_decrypt_final;
  }
  *list = &gated;
  return CKR_OK;
}
