#include "frontends/conformance.h"

#include <filesystem>
#include <fstream>
#include <optional>

#include <fmt/format.h>

#include "frontends/guest_session.h"

namespace memplug::fe {

tl::expected<KnownDifferences, std::string> KnownDifferences::load(const std::string& path)
{
    std::ifstream in(path);
    if (!in) return tl::unexpected(fmt::format("{}: cannot read the known-differences file", path));
    KnownDifferences known;
    std::string line;
    for (int number = 1; std::getline(in, line); ++number) {
        const auto hash = line.find('#');
        if (hash != std::string::npos) line.erase(hash);
        if (line.find_first_not_of(" \t") == std::string::npos) continue;
        const auto colon = line.find(':');
        if (colon == std::string::npos || colon == 0)
            return tl::unexpected(fmt::format("{}:{}: error: expected 'case-name: reason'", path, number));
        std::string name = line.substr(0, colon);
        std::string reason = line.substr(colon + 1);
        name.erase(name.find_last_not_of(" \t") + 1);
        reason.erase(0, reason.find_first_not_of(" \t"));
        if (reason.empty()) return tl::unexpected(fmt::format("{}:{}: error: '{}' needs a reason", path, number, name));
        known.reasons[name] = reason;
    }
    return known;
}

CaseVerdict verdict(const CaseResult& r, const KnownDifferences& known)
{
    const bool agrees = !r.error && r.agreeing == r.commands;
    const bool listed = known.reasons.count(r.name) > 0;
    if (agrees) return listed ? CaseVerdict::NowAgreesButListed : CaseVerdict::Agrees;
    return listed ? CaseVerdict::KnownDifference : CaseVerdict::Differs;
}

CaseResult run_case(const std::string& path, const FidelityRules& rules)
{
    CaseResult r;
    r.name = std::filesystem::path(path).stem().string();
    auto t = load_transcript(path);
    if (!t) {
        r.error = true;
        for (const Diagnostic& d : t.error()) r.report += d.str() + "\n";
        return r;
    }
    r.commands = t->commands.size();
    GuestSession session(GuestSession::CheckInvariants::Yes);
    const CheckResult c = check_transcript(*t, session, rules);
    r.error = c.status == k_status_error;
    r.agreeing = r.error ? 0 : c.commands_run - c.commands_differing;
    if (c.status != k_status_ok) r.report = c.report();
    return r;
}

namespace {

// A case is a recording: the transcript (NAME.txt) with the real kernel's outputs
// written in by the recorder (NAME.out). Anything else says what is wanted.
std::optional<std::string> not_a_recording(const std::filesystem::path& path)
{
    if (path.extension() != ".out") {
        std::filesystem::path recording = path;
        recording.replace_extension(".out");
        std::string hint = std::filesystem::exists(recording)
                               ? fmt::format("its recording is {}", recording.string())
                               : fmt::format("record it with tests/conformance/record/record -o {} {}",
                                             recording.string(), path.string());
        return fmt::format("{}: error: conformance compares with recordings of the real kernel (NAME.out, written "
                           "by tests/conformance/record/record), not transcripts; {} (memplug check compares a "
                           "transcript with its own expected lines)",
                           path.string(), hint);
    }
    return std::nullopt;
}

}  // namespace

int run_conformance(const std::vector<std::string>& cases, const KnownDifferences& known, bool verbose,
                    std::string& out)
{
    bool all_recordings = true;
    for (const std::string& path : cases) {
        if (auto message = not_a_recording(path)) {
            out += *message + "\n";
            all_recordings = false;
        }
    }
    if (!all_recordings)
        return k_status_error;
    std::size_t commands = 0, agreeing = 0, cases_agreeing = 0;
    int status = k_status_ok;
    std::vector<std::string> listed_now_agreeing;
    for (const std::string& path : cases) {
        const CaseResult r = run_case(path);
        commands += r.commands;
        agreeing += r.agreeing;
        const CaseVerdict v = verdict(r, known);
        const char* tag = v == CaseVerdict::Agrees                ? "agree "
                          : v == CaseVerdict::KnownDifference     ? "known "
                          : v == CaseVerdict::NowAgreesButListed ? "FIXED "
                                                                  : "DIFFER";
        out += fmt::format("{} {:<40} {:>3}/{:<3} commands agree{}\n", tag, r.name, r.agreeing, r.commands,
                           r.error ? " (could not run)" : "");
        if (v == CaseVerdict::Agrees || v == CaseVerdict::NowAgreesButListed) ++cases_agreeing;
        if (v == CaseVerdict::Differs || v == CaseVerdict::NowAgreesButListed) status = k_status_differs;
        if (v == CaseVerdict::NowAgreesButListed) listed_now_agreeing.push_back(r.name);
        if (v == CaseVerdict::Differs || (verbose && !r.report.empty())) out += r.report;
    }
    if (!known.reasons.empty()) {
        out += "known differences (tests/conformance/known-differences.txt):\n";
        for (const auto& [name, reason] : known.reasons) out += fmt::format("  {}: {}\n", name, reason);
    }
    for (const std::string& name : listed_now_agreeing)
        out += fmt::format("{} agrees now: remove it from the known differences\n", name);
    const double pct = commands ? 100.0 * double(agreeing) / double(commands) : 100.0;
    out += fmt::format("score: {}/{} commands agree ({:.1f} %), {}/{} cases agree\n", agreeing, commands, pct,
                       cases_agreeing, cases.size());
    return status;
}

}  // namespace memplug::fe
