// memplug: the Linux 6.1 memory hot(un)plug subsystem under QEMU 7.2, modelled.
#include <algorithm>
#include <csignal>
#include <filesystem>
#include <map>
#include <cstdio>
#include <functional>
#include <iostream>
#include <optional>

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include "frontends/conformance.h"
#include "frontends/guest_session.h"
#include "frontends/live_guest.h"
#include "frontends/mount.h"
#include "frontends/qmp.h"
#include "frontends/repl.h"
#include "reports/report.h"
#include "frontends/runner.h"
#include "frontends/transcript.h"

namespace fe = memplug::fe;

namespace {

// `summarize`: a file that cannot be read or parsed ends with a summary line too (check's).
int for_each_transcript(const std::vector<std::string>& files, bool check_invariants,
                        const std::function<int(const fe::Transcript&, fe::Session&)>& f, bool summarize = false)
{
    int status = fe::k_status_ok;
    for (const std::string& file : files) {
        auto t = fe::load_transcript(file);
        if (!t) {
            for (const fe::Diagnostic& d : t.error()) std::cerr << d.str() << "\n";
            if (summarize) std::cerr << t.error().front().file << ": not run\n";
            status = std::max(status, fe::k_status_error);
            continue;
        }
        fe::GuestSession session(check_invariants ? fe::GuestSession::CheckInvariants::Yes
                                                  : fe::GuestSession::CheckInvariants::No);
        status = std::max(status, f(*t, session));
    }
    return status;
}

struct MountCommand {
    fe::MountOptions opts;
    std::string from;
    std::string qmp_socket;
    std::vector<std::string> qemu_args;
};

int mount(const MountCommand& cmd, bool check_invariants)
{
    const auto check = check_invariants ? fe::LiveGuest::CheckInvariants::AfterEveryWrite
                                        : fe::LiveGuest::CheckInvariants::AtExit;
    if (cmd.from.empty() == cmd.qemu_args.empty()) {
        std::cerr << "memplug mount: give the machine either after '--' (memplug mount DIR -- -m 4G,slots=4,maxmem=16G ...) "
                     "or as a transcript (--from FILE), not both\n";
        return fe::k_status_error;
    }
    auto guest = cmd.from.empty() ? fe::LiveGuest::boot(cmd.qemu_args, check) : fe::LiveGuest::replay(cmd.from, check);
    if (!guest) {
        std::cerr << "memplug mount: " << guest.error() << "\n";
        return fe::k_status_error;
    }
    // QMP on the same machine and lock as the mount's requests, ready before the
    // mount is; its thread never takes the stop signals (the FUSE loop must).
    std::optional<fe::QmpServer> qmp;
    if (!cmd.qmp_socket.empty()) {
        sigset_t stop_signals, saved;
        sigemptyset(&stop_signals);
        for (int sig : {SIGINT, SIGTERM, SIGHUP}) sigaddset(&stop_signals, sig);
        pthread_sigmask(SIG_BLOCK, &stop_signals, &saved);
        fe::LiveGuest& g = **guest;
        qmp.emplace(g.machine(), g.lock(), cmd.qmp_socket, [&g] { g.after_change(); });
        auto started = qmp->start();
        pthread_sigmask(SIG_SETMASK, &saved, nullptr);
        if (!started) {
            std::cerr << "memplug mount: --qmp " << cmd.qmp_socket << ": " << started.error() << "\n";
            return fe::k_status_error;
        }
    }
    const int status = fe::serve_mount(**guest, cmd.opts);
    if (qmp) qmp->stop();
    return status;
}

// `memplug qmp SOCKET -- QEMU-ARGS`: a machine on a QMP socket until SIGINT or SIGTERM.
int serve_qmp(const std::string& socket, std::vector<std::string> qemu_args, bool check_invariants)
{
    auto guest = fe::LiveGuest::boot(std::move(qemu_args), check_invariants ? fe::LiveGuest::CheckInvariants::AfterEveryWrite
                                                                            : fe::LiveGuest::CheckInvariants::AtExit);
    if (!guest) {
        std::cerr << guest.error() << "\n";
        return fe::k_status_error;
    }
    fe::LiveGuest& g = **guest;
    sigset_t stop_signals;
    sigemptyset(&stop_signals);
    sigaddset(&stop_signals, SIGINT);
    sigaddset(&stop_signals, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);  // the server thread inherits the mask
    fe::QmpServer server(g.machine(), g.lock(), socket, [&g] { g.after_change(); });
    if (auto r = server.start(); !r) {
        std::cerr << "memplug: " << r.error() << "\n";
        return fe::k_status_error;
    }
    int sig = 0;
    sigwait(&stop_signals, &sig);
    server.stop();
    std::lock_guard lock(g.lock());
    return g.invariants_held() ? fe::k_status_ok : fe::k_status_differs;
}

constexpr const char* k_exit_statuses =
    "Exit status:\n"
    "  0  every command ran (check: every output agrees; conformance: no difference but the known ones)\n"
    "  1  check: some output differs; conformance: a case differs that is not a known difference, or a known\n"
    "     one agrees now; mount, qmp: a model invariant broke\n"
    "  2  bad usage, a transcript that cannot be read or parsed, a command memplug cannot run (its\n"
    "     FILE:LINE: error says why), a repl --machine line that starts no machine, a mount or QMP\n"
    "     socket that cannot be served";

// FILE operands: an existing file, or "-" for standard input.
const CLI::Validator k_file_or_stdin(
    [](std::string& file) { return file == "-" ? std::string() : CLI::ExistingFile(file); }, "FILE|-");

// `check` prints each file's report; several files end with a total.
int check_files(const std::vector<std::string>& files, bool check_invariants)
{
    std::size_t agree = 0, differ = 0, failed = 0, unrecorded = 0;
    const int status = for_each_transcript(files, check_invariants, [&](const fe::Transcript& t, fe::Session& s) {
        fe::CheckResult r = fe::check_transcript(t, s);
        (r.status == fe::k_status_ok ? std::cout : std::cerr) << r.report() << std::flush;
        if (r.status == fe::k_status_error) ++failed;
        else if (r.status == fe::k_status_differs) ++differ;
        else if (r.unrecorded) ++unrecorded;
        else ++agree;
        return r.status;
    }, true);
    if (files.size() > 1) {
        const std::size_t unreadable = files.size() - agree - differ - failed - unrecorded;
        std::cout << fmt::format("{} files: {} agree, {} differ, {} could not run, {} without a real-kernel recording\n",
                                 files.size(), agree, differ, failed + unreadable, unrecorded);
    }
    return status;
}

// `report KIND FILE`: the report on the state each transcript leaves. A transcript
// that stops early is status 2 with no report: a what-if on a state the file does
// not describe would mislead.
int report_files(const std::vector<std::string>& files, bool check_invariants, const std::string& request)
{
    std::error_code ec;
    const std::string exe = std::filesystem::read_symlink("/proc/self/exe", ec).string();
    return for_each_transcript(files, check_invariants, [&](const fe::Transcript& t, fe::Session& s) {
        fe::RunResult r = fe::run_transcript(t, s);
        for (const fe::Diagnostic& d : r.diagnostics) std::cerr << d.str() << "\n";
        if (r.status != fe::k_status_ok) return r.status;
        auto& gs = static_cast<fe::GuestSession&>(s);
        if (!gs.machine()) {
            std::cerr << "memplug report: " << t.file << ": no machine was started ('$ qemu-system-x86_64 ...')\n";
            return fe::k_status_error;
        }
        // Standard input (load_transcript names it "<stdin>") cannot be read again by a job.
        const fe::ReportOrigin origin{exe, t.file == "<stdin>" ? "-" : std::filesystem::absolute(t.file).string()};
        auto out = fe::report_command(*gs.machine(), request,
                                      [&](uint64_t id) { return gs.memplug_lines().name_of(id); }, &origin);
        if (!out) {
            std::cerr << "memplug report: " << out.error() << "\n";
            return fe::k_status_error;
        }
        std::cout << *out;
        return fe::k_status_ok;
    });
}

// `report config`: the first `$ qemu-system-x86_64` line of FILE, or the arguments
// after `--`, judged without running the transcript's other commands.
int report_config(const std::vector<std::string>& files, std::optional<std::vector<std::string>> qemu_args, bool json)
{
    if (!qemu_args) {
        if (files.size() != 1) {
            std::cerr << "memplug report config: give one transcript, or the command line after '--'\n";
            return fe::k_status_error;
        }
        auto t = fe::load_transcript(files.front());
        if (!t) {
            for (const fe::Diagnostic& d : t.error()) std::cerr << d.str() << "\n";
            return fe::k_status_error;
        }
        auto c = std::find_if(t->commands.begin(), t->commands.end(),
                              [](const fe::Command& c) { return c.kind == fe::CommandKind::Host; });
        auto words = c == t->commands.end() ? tl::expected<std::vector<std::string>, std::string>{}
                                            : fe::split_host_command(c->text);
        if (c == t->commands.end() || !words || words->empty()) {
            std::cerr << "memplug report config: " << files.front() << ": no '$ qemu-system-x86_64 ...' line"
                      << (words ? "" : ": " + words.error()) << "\n";
            return fe::k_status_error;
        }
        words->erase(words->begin());
        qemu_args = std::move(*words);
    }
    auto r = fe::build_config_report(*qemu_args);
    if (!r) {
        std::cerr << "memplug report config: " << r.error() << "\n";
        return fe::k_status_error;
    }
    std::cout << fe::render_report(*r, json ? fe::ReportFormat::Json : fe::ReportFormat::Text);
    return fe::k_status_ok;
}

}  // namespace

int main(int argc, char** argv)
{
    CLI::App app{"memplug: Linux 6.1 memory hot(un)plug under QEMU 7.2, as a fast model.\n"
                 "Transcripts hold '$ qemu-system-x86_64 ...', '(qemu) CMD' and '# CMD' lines."};
    app.require_subcommand(1);
    app.set_version_flag("--version", "memplug " MEMPLUG_VERSION " (models Linux 6.1 under QEMU 7.2)");
    app.footer(k_exit_statuses);
    // Options of memplug itself may follow the subcommand: `memplug run --check FILE`.
    app.fallthrough();
    bool check_invariants = false;
    app.add_flag("--check", check_invariants, "validate the model's invariants after every command");

    std::vector<std::string> files;
    auto* run = app.add_subcommand("run", "print transcripts with memplug's output under each command");
    run->add_option("FILE", files, "transcript files ('-': standard input)")->required()->check(k_file_or_stdin);
    fe::RunOptions run_opts;
    run->add_flag("--explain", run_opts.explain,
                  "under each command, '// explain: ' lines: the guest kernel's warnings and debug reasons");
    auto* check = app.add_subcommand("check", "compare transcripts' expected output with memplug's (exit 1 on a difference)");
    check->add_option("FILE", files, "transcript files ('-': standard input)")->required()->check(k_file_or_stdin);
    fe::ReplOptions repl_options;
    auto* rep = app.add_subcommand("repl", "interactive session: line editing, Tab over the guest's paths, history "
                                           "in $XDG_STATE_HOME/memplug/history");
    rep->add_option("--machine", repl_options.machine, "qemu-system-x86_64 command line to start with");
    std::string known_file;
    bool verbose = false;
    auto* conf = app.add_subcommand("conformance", "score memplug against real-kernel recordings (tests/conformance/cases/*.out)");
    conf->add_option("CASE", files, "recorded cases")->required()->check(CLI::ExistingFile);
    conf->add_option("--known", known_file, "the known-differences file")->check(CLI::ExistingFile);
    conf->add_flag("-v,--verbose", verbose, "show the differences of known cases too");

    MountCommand mount_cmd;
    auto* mnt = app.add_subcommand("mount", "serve the guest's tree (its /sys, /proc and tmpfs root) on DIR (FUSE) until "
                                            "SIGINT/SIGTERM, for lsmem, chmem and the kernel's selftest");
    mnt->add_option("DIR", mount_cmd.opts.dir, "mount point (an existing directory)")->required();
    mnt->add_option("QEMU-ARGS", mount_cmd.qemu_args, "after '--': the qemu-system-x86_64 command line");
    mnt->add_option("--from", mount_cmd.from, "replay this transcript first and serve the guest it leaves")
        ->check(CLI::ExistingFile);
    mnt->add_option("--qmp", mount_cmd.qmp_socket, "also serve QMP on this UNIX socket");
    mnt->add_flag("--allow-other", mount_cmd.opts.allow_other,
                  "let other users see the tree (as a user: user_allow_other in /etc/fuse.conf)");
    mnt->footer("With --check, the model's invariants are checked after every write (always once at the end).");

    std::string qmp_socket;
    std::vector<std::string> qemu_args;
    auto* qmp = app.add_subcommand("qmp", "serve a machine on a QMP unix socket (mode 0600) until SIGINT/SIGTERM:\n"
                                          "  memplug qmp SOCKET -- -m 2G,slots=4,maxmem=16G -machine q35");
    qmp->add_option("SOCKET", qmp_socket, "the socket to create")->required();
    qmp->add_option("QEMU-ARGS", qemu_args, "the qemu-system-x86_64 command line (after --)");

    std::string report_kind;
    bool report_json = false;
    auto* rpt = app.add_subcommand("report", std::string("a what-if report on the state a transcript leaves (docs/REPORTS.md)\n"
                                                         "  memplug report KIND FILE [--step STEP] [--json], memplug report config -- QEMU-ARGS; KIND: ") +
                                                 std::string(fe::k_report_kinds));
    rpt->add_option("KIND", report_kind, "what to ask")->required();
    rpt->add_option("FILE", files, "the transcript ('-': standard input)")->check(k_file_or_stdin);
    // `report config -- ARGS`: the command line itself, taken before CLI11 sees it as FILEs.
    std::optional<std::vector<std::string>> report_qemu_args;
    if (argc > 2 && std::string_view(argv[1]) == "report")
        for (int i = 2; i < argc; ++i)
            if (std::string_view(argv[i]) == "--") {
                report_qemu_args.emplace(argv + i + 1, argv + argc);
                argc = i;
                break;
            }
    std::string report_step;
    rpt->add_option("--step", report_step, "plug: one plug to judge, dimm:SIZE or ID:SIZE (a virtio-mem's requested-size)");
    rpt->add_flag("--json", report_json, "JSON (schema 1) instead of text");
    // The other options pass to the report as they were written (report_command checks them).
    std::vector<std::pair<std::string, std::string>> report_opts = {
        {"--plan", "plug, zones: plug steps one after the other, STEP,STEP,..."},
        {"--policy", "zones: online_policy values, contig-zones,auto-movable"},
        {"--ratio", "zones: auto_movable_ratio values, N,N,..."},
        {"--online", "zones: auto_online_blocks values, online,online_kernel,online_movable,offline"},
        {"--jobs", "zones: threads for the combinations (default: one per core)"}};
    std::map<std::string, std::string> report_values;
    for (const auto& [name, help] : report_opts) rpt->add_option(name, report_values[name], help);
    bool emit_jobs = false, merge = false;
    rpt->add_flag("--emit-jobs", emit_jobs, "zones: print one command line per combination instead (GNU parallel, Slurm)");
    rpt->add_flag("--merge", merge, "zones: FILE... are the jobs' JSON results; print them as one report");

    try {
        app.parse(argc, argv);
    } catch (const CLI::ParseError& e) {
        // --help and --version exit 0; every usage error is status 2, as documented.
        return app.exit(e) == 0 ? fe::k_status_ok : fe::k_status_error;
    }

    if (*rpt && (report_kind == "config" || report_qemu_args)) {
        const bool other_options = !report_step.empty() || emit_jobs || merge ||
                                   std::any_of(report_values.begin(), report_values.end(),
                                               [](const auto& v) { return !v.second.empty(); });
        if (report_kind != "config" || other_options) {
            std::cerr << "memplug report: only config takes a command line after '--', and config takes no other "
                         "option but --json\n";
            return fe::k_status_error;
        }
        return report_config(files, std::move(report_qemu_args), report_json);
    }
    if (*rpt) {
        if (files.empty()) {
            std::cerr << "memplug report: FILE is required\n";
            return fe::k_status_error;
        }
        if (merge) {
            auto out = report_kind == "zones" ? fe::merge_zones_results(files, report_json ? fe::ReportFormat::Json
                                                                                            : fe::ReportFormat::Text)
                                              : tl::unexpected(std::string("--merge is for report zones"));
            (out ? std::cout : std::cerr) << (out ? *out : "memplug report: " + out.error() + "\n");
            return out ? fe::k_status_ok : fe::k_status_error;
        }
        std::string request = report_kind + (report_step.empty() ? "" : " " + report_step);
        for (const auto& [name, value] : report_values)
            if (!value.empty()) request += " " + name + " " + value;
        return report_files(files, check_invariants,
                            request + (emit_jobs ? " --emit-jobs" : "") + (report_json ? " --json" : ""));
    }

    if (*mnt) return mount(mount_cmd, check_invariants);
    if (*qmp) return serve_qmp(qmp_socket, qemu_args, check_invariants);

    if (*conf) {
        fe::KnownDifferences known;
        if (!known_file.empty()) {
            auto k = fe::KnownDifferences::load(known_file);
            if (!k) {
                std::cerr << k.error() << "\n";
                return fe::k_status_error;
            }
            known = std::move(*k);
        }
        std::string out;
        const int status = fe::run_conformance(files, known, verbose, out);
        (status == fe::k_status_error ? std::cerr : std::cout) << out;
        return status;
    }

    if (*run)
        return for_each_transcript(files, check_invariants, [&run_opts](const fe::Transcript& t, fe::Session& s) {
            fe::RunResult r = fe::run_transcript(t, s, run_opts);
            std::cout << r.rendered;
            for (const fe::Diagnostic& d : r.diagnostics) std::cerr << d.str() << "\n";
            return r.status;
        });
    if (*check) return check_files(files, check_invariants);
    repl_options.check_invariants = check_invariants;
    return fe::run_repl(repl_options);
}
