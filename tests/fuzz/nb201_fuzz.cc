// Fuzzes the NAS architecture parsers behind `qlab nas arch --arch`, latency params and dataset
// arch keys (evaluators/latency/nb201.h, fbnet.h). Invariants: an accepted NB201 string is the
// canonical string of the cell it names (surrounding whitespace aside), its benchmark index
// maps back to it, and its representative has the same canonical form; an accepted FBNet text
// reads back from its key.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "evaluators/latency/fbnet.h"
#include "evaluators/latency/nb201.h"
#include "tests/fuzz/fuzz_support.h"

namespace nas = qlab::nas;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size > qlab::fuzz::kMaxInputBytes) return 0;
  const std::string_view text(reinterpret_cast<const char*>(data), size);

  auto ops = nas::ParseNb201Arch(text);
  auto index = nas::Nb201IndexOf(text);
  QLAB_FUZZ_CHECK(ops.ok() == index.ok(), std::string(text));
  if (ops.ok()) {
    const std::string canonical = nas::Nb201ArchStringOf(*ops);
    const size_t begin = text.find_first_not_of(" \t\r\n");
    const size_t end = text.find_last_not_of(" \t\r\n");
    QLAB_FUZZ_CHECK(
        begin != std::string_view::npos && text.substr(begin, end + 1 - begin) == canonical,
        std::string(text));
    QLAB_FUZZ_CHECK(*index >= 0 && *index < nas::kNb201NumArchs, canonical);
    auto back = nas::Nb201ArchString(*index);
    QLAB_FUZZ_CHECK(back.ok() && *back == canonical, canonical);
    auto rep = nas::Nb201RepresentativeIndex(*index);
    QLAB_FUZZ_CHECK(rep.ok() && *rep <= *index, canonical);
    auto rep_ops = nas::Nb201OpsOf(*rep);
    QLAB_FUZZ_CHECK(
        rep_ops.ok() && nas::Nb201CanonicalForm(*rep_ops) == nas::Nb201CanonicalForm(*ops),
        canonical);
    (void)nas::Nb201IsConnected(*ops);
  }

  auto fbnet = nas::ParseFbnetArch(text);
  if (fbnet.ok()) {
    const std::string key = nas::FbnetArchKey(*fbnet);
    auto again = nas::ParseFbnetArch(key);
    QLAB_FUZZ_CHECK(again.ok() && *again == *fbnet, key);
  }
  return 0;
}
