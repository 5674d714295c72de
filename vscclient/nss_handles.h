// SPDX-License-Identifier: LGPL-2.1-or-later
// RAII owners for the NSS objects vscclient creates (STYLE: no raw frees).
#pragma once

#include <memory>

#include <cert.h>
#include <keyhi.h>
#include <nss.h>
#include <pk11pub.h>
#include <secitem.h>

namespace vscclient::nss {

template <auto Free>
struct Deleter {
  template <typename T>
  void operator()(T* p) const { Free(p); }
};

inline void free_arena(PLArenaPool* arena) { PORT_FreeArena(arena, PR_FALSE); }
inline void shutdown_context(NSSInitContext* ctx) { NSS_ShutdownContext(ctx); }
inline void free_item(SECItem* item) { SECITEM_FreeItem(item, PR_TRUE); }

using Context = std::unique_ptr<NSSInitContext, Deleter<shutdown_context>>;
using Slot = std::unique_ptr<PK11SlotInfo, Deleter<PK11_FreeSlot>>;
using PrivateKey = std::unique_ptr<SECKEYPrivateKey, Deleter<SECKEY_DestroyPrivateKey>>;
using PublicKey = std::unique_ptr<SECKEYPublicKey, Deleter<SECKEY_DestroyPublicKey>>;
using Spki = std::unique_ptr<CERTSubjectPublicKeyInfo,
                             Deleter<SECKEY_DestroySubjectPublicKeyInfo>>;
using Name = std::unique_ptr<CERTName, Deleter<CERT_DestroyName>>;
using Validity = std::unique_ptr<CERTValidity, Deleter<CERT_DestroyValidity>>;
using CertRequest = std::unique_ptr<CERTCertificateRequest,
                                    Deleter<CERT_DestroyCertificateRequest>>;
using Certificate = std::unique_ptr<CERTCertificate, Deleter<CERT_DestroyCertificate>>;
using CertList = std::unique_ptr<CERTCertList, Deleter<CERT_DestroyCertList>>;
using Arena = std::unique_ptr<PLArenaPool, Deleter<free_arena>>;
using Item = std::unique_ptr<SECItem, Deleter<free_item>>;

// The text of NSS's last error on this thread ("SEC_ERROR_BAD_DATABASE: ...").
const char* last_error();

}  // namespace vscclient::nss
