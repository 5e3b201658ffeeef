// `memplug conformance`: memplug replayed against recordings of the real kernel
// (tests/conformance/cases/*.out), scored per command, with the list of known
// differences that is allowed to shrink but not to grow silently.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "frontends/runner.h"

namespace memplug::fe {

// "case-name: reason" lines; '#' starts a comment. Case names are file names
// without directory and extension.
struct KnownDifferences {
    std::map<std::string, std::string> reasons;
    static tl::expected<KnownDifferences, std::string> load(const std::string& path);
};

struct CaseResult {
    std::string name;
    std::size_t commands = 0;
    std::size_t agreeing = 0;
    bool error = false;           // the case could not run (parse or session error)
    std::string report;           // check's diagnostics and diff when it differs
};

enum class CaseVerdict { Agrees, KnownDifference, Differs, NowAgreesButListed };

CaseVerdict verdict(const CaseResult& r, const KnownDifferences& known);

// Runs one recorded case in memplug with the fidelity rules.
CaseResult run_case(const std::string& path, const FidelityRules& rules = {});

// Runs every case, prints one line per case, the known differences and the
// score; returns k_status_ok unless a case differs without being listed, or a
// listed case now agrees (the list must then shrink).
int run_conformance(const std::vector<std::string>& cases, const KnownDifferences& known, bool verbose,
                    std::string& out);

}  // namespace memplug::fe
