// The applets that make and check files in the guest's tmpfs root: dd, cp,
// rm, truncate, md5sum, cmp. Texts are busybox 1.35's (Debian's busybox-static,
// checked against the binary). Large files are read in pieces, never whole.
#include <md5.h>

#include <fmt/format.h>

#include "shell/internal.h"

namespace memplug::shell::sh {

namespace {

constexpr uint64_t k_piece = uint64_t{1} << 20;

struct Suffix {
    std::string_view name;
    uint64_t mult;
};

// xatoull_sfx(): a decimal number with one of `suffixes`; nullopt if not that.
std::optional<uint64_t> number_with_suffix(std::string_view s, std::span<const Suffix> suffixes)
{
    size_t digits = 0;
    while (digits < s.size() && s[digits] >= '0' && s[digits] <= '9') ++digits;
    if (!digits || digits > 19) return std::nullopt;
    uint64_t v = std::stoull(std::string(s.substr(0, digits)));
    const std::string_view sfx = s.substr(digits);
    if (sfx.empty()) return v;
    for (const Suffix& x : suffixes)
        if (sfx == x.name) {
            if (v > UINT64_MAX / x.mult) return std::nullopt;
            return v * x.mult;
        }
    return std::nullopt;
}

constexpr Suffix dd_suffixes[] = {{"c", 1},        {"w", 2},          {"b", 512},           {"kB", 1000},
                                  {"kD", 1000},    {"k", 1024},       {"K", 1024},          {"MB", 1000000},
                                  {"MD", 1000000}, {"M", 1048576},    {"GB", 1000000000},   {"GD", 1000000000},
                                  {"G", 1073741824}};
constexpr Suffix truncate_suffixes[] = {{"k", 1024},    {"K", 1024},       {"M", 1048576},
                                        {"G", 1073741824}, {"kB", 1000},   {"KB", 1000},
                                        {"MB", 1000000}, {"GB", 1000000000}};

// A file operand read in pieces: a Vfs file, or stdin ("-").
class Reader {
public:
    Reader(Ctx& ctx, std::string operand) : m_ctx(ctx), m_operand(std::move(operand))
    {
        if (m_operand != "-") m_path = ctx.shell.resolve(m_operand);
    }
    // open(2): 0 or its errno.
    int open()
    {
        if (m_operand == "-") return 0;
        auto kind = m_ctx.shell.fs().stat(m_path, true);
        if (!kind) return kind.error().err;
        if (*kind == views::NodeKind::Dir) return 0;  // read(2) fails instead
        if (m_path == "/dev/zero" || m_path == "/dev/urandom") return 0;  // endless: read in pieces
        m_size = m_ctx.shell.fs().regular_file_size(m_path);
        if (!m_size) {
            // An attribute: read once, whole, as its show() renders it.
            auto all = m_ctx.shell.fs().read(m_path);
            if (!all) return is_open_error(all.error().err) ? all.error().err : (m_read_error = all.error().err, 0);
            m_whole = std::move(*all);
        }
        return 0;
    }
    // Up to n bytes; "" at EOF. read_error() tells a failed read.
    std::string read(uint64_t n)
    {
        if (m_read_error) return {};
        if (m_operand == "-") {
            std::string rest = m_ctx.in.data.substr(std::min(m_ctx.in.pos, m_ctx.in.data.size()), n);
            m_ctx.in.pos += rest.size();
            m_read_error = m_ctx.in.error;
            return rest;
        }
        if (m_whole) {
            std::string out = m_pos < m_whole->size() ? m_whole->substr(m_pos, n) : std::string();
            m_pos += out.size();
            return out;
        }
        // A tmpfs file, a directory (read(2) fails), or a device such as /dev/zero.
        auto r = m_ctx.shell.fs().read_range(m_path, m_pos, n);
        if (!r) {
            m_read_error = r.error().err;
            return {};
        }
        m_pos += r->size();
        return std::move(*r);
    }
    void skip(uint64_t n) { m_pos += n; }
    int read_error() const { return m_read_error; }

private:
    Ctx& m_ctx;
    std::string m_operand;
    std::string m_path;
    std::optional<uint64_t> m_size;
    std::optional<std::string> m_whole;
    uint64_t m_pos = 0;
    int m_read_error = 0;
};

}  // namespace

// dd [if=F] [of=F] [bs=N] [count=N] [skip=N] [seek=N] [conv=notrunc] [status=none|noxfer]
int applet_dd(Ctx& ctx)
{
    std::optional<std::string> in_name, out_name;
    uint64_t ibs = 512, obs = 512, count = UINT64_MAX, skip = 0, seek = 0;
    bool notrunc = false, quiet = false;
    for (size_t i = 1; i < ctx.args.size(); ++i) {
        const std::string& a = ctx.args[i];
        const size_t eq = a.find('=');
        if (eq == std::string::npos) return ctx.usage();
        const std::string key = a.substr(0, eq), value = a.substr(eq + 1);
        auto num = [&](uint64_t min) -> std::optional<uint64_t> {
            const auto v = number_with_suffix(value, dd_suffixes);
            if (!v) {
                ctx.error(fmt::format("invalid number '{}'", value));
                return std::nullopt;
            }
            if (*v < min || *v > uint64_t(INT64_MAX)) {
                ctx.error(fmt::format("number {} is not in {}..9223372036854775807 range", *v, min));
                return std::nullopt;
            }
            return v;
        };
        if (key == "if") {
            in_name = value;
        } else if (key == "of") {
            out_name = value;
        } else if (key == "bs" || key == "ibs" || key == "obs") {
            const auto v = num(1);
            if (!v) return 1;
            if (key != "obs") ibs = *v;
            if (key != "ibs") obs = *v;
        } else if (key == "count" || key == "skip" || key == "seek") {
            const auto v = num(0);
            if (!v) return 1;
            (key == "count" ? count : key == "skip" ? skip : seek) = *v;
        } else if (key == "conv") {
            for (size_t b = 0; b <= value.size();) {
                const size_t e = std::min(value.find(',', b), value.size());
                const std::string c = value.substr(b, e - b);
                if (c == "notrunc") notrunc = true;
                else if (c != "sync" && c != "noerror" && c != "fsync" && c != "fdatasync" && c != "swab")
                    return ctx.usage();
                b = e + 1;
            }
        } else if (key == "status") {
            if (value == "none") quiet = true;
            else if (value != "noxfer" && value != "progress") return ctx.usage();
        } else if (key != "iflag" && key != "oflag") {
            return ctx.usage();
        }
    }
    Reader in(ctx, in_name.value_or("-"));
    if (int e = in.open()) {
        ctx.perror(fmt::format("can't open '{}'", *in_name), e);
        return 1;
    }
    std::string out_path;
    if (out_name) {
        auto p = notrunc || seek ? ctx.shell.open_write_path(*out_name, true) : ctx.shell.open_write_path(*out_name);
        if (!p) {
            ctx.perror(fmt::format("can't open '{}'", *out_name), p.error().err);
            return 1;
        }
        out_path = *p;
        // Without notrunc the file ends where the output starts.
        if (!notrunc && seek) (void)ctx.shell.fs().truncate(out_path, seek * obs);
    }
    in.skip(skip * ibs);
    uint64_t in_full = 0, in_part = 0, out_pos = seek * obs, written = 0;
    int status = 0;
    for (uint64_t n = 0; n < count; ++n) {
        std::string block = in.read(ibs);
        if (in.read_error()) {
            ctx.perror(in_name.value_or("standard input"), in.read_error());
            status = 1;
            break;
        }
        if (block.empty()) break;
        (block.size() == ibs ? in_full : in_part)++;
        int err = 0;
        if (out_name) {
            auto r = ctx.shell.fs().write_at(out_path, out_pos, block);
            if (!r) err = r.error().err;
        } else {
            ctx.out.write(block);
            err = ctx.out.flush();
        }
        if (err) {
            ctx.perror(fmt::format("error writing '{}'", out_name.value_or("standard output")), err);
            status = 1;
            break;
        }
        out_pos += block.size();
        written += block.size();
    }
    // The output is re-blocked into obs-sized records, the last one partial.
    if (!quiet)
        ctx.err.write(fmt::format("{}+{} records in\n{}+{} records out\n", in_full, in_part, written / obs,
                                  uint64_t(written % obs != 0)));
    return status;
}

namespace {

// The digest of one operand, or nullopt after reporting why it could not be read.
std::optional<std::string> md5_of(Ctx& ctx, const std::string& name)
{
    Reader r(ctx, name);
    if (int e = r.open()) {
        ctx.perror(fmt::format("can't open '{}'", name), e);
        return std::nullopt;
    }
    MD5_CTX md5;
    MD5Init(&md5);
    for (std::string piece; !(piece = r.read(k_piece)).empty();)
        MD5Update(&md5, reinterpret_cast<const uint8_t*>(piece.data()), piece.size());
    if (r.read_error()) {
        ctx.perror(name, r.read_error());
        return std::nullopt;
    }
    char hex[MD5_DIGEST_STRING_LENGTH];
    MD5End(&md5, hex);
    return std::string(hex);
}

}  // namespace

// md5sum [-c[sw]] [FILE]...
int applet_md5sum(Ctx& ctx)
{
    auto opts = get_options(ctx, "bctsw");
    if (!opts) return 1;
    std::vector<std::string> files = opts->operands;
    if (files.empty()) files.push_back("-");
    int st = 0;
    if (!opts->has('c')) {
        for (const std::string& name : files) {
            const auto hex = md5_of(ctx, name);
            if (!hex) {
                st = 1;
                continue;
            }
            ctx.out.write(fmt::format("{}  {}\n", *hex, name));
        }
        return st;
    }
    // -c: lines "HASH  NAME" (or "HASH *NAME"); a line of another shape counts as a mismatch.
    const bool silent = opts->has('s');
    for (const std::string& list : files) {
        Ctx::File f = ctx.read_file(list);
        if (f.open_error || f.read_error) {
            ctx.perror(list, f.open_error ? f.open_error : f.read_error);
            st = 1;
            continue;
        }
        uint64_t total = 0, bad = 0;
        for (std::string_view line : split_lines(f.data)) {
            ++total;
            const bool shaped = line.size() > 34 && (line.substr(32, 2) == "  " || line.substr(32, 2) == " *");
            if (!shaped) {
                ++bad;
                continue;
            }
            const std::string name(line.substr(34));
            const auto hex = md5_of(ctx, name);
            const bool ok = hex && *hex == line.substr(0, 32);
            if (!ok) ++bad;
            if (!silent) ctx.out.write(fmt::format("{}: {}\n", name, ok ? "OK" : "FAILED"));
        }
        if (bad) {
            ctx.error(fmt::format("WARNING: {} of {} computed checksums did NOT match", bad, total));
            st = 1;
        }
    }
    return st;
}

int applet_cmp(Ctx& ctx)
{
    auto opts = get_options(ctx, "ls");
    if (!opts) return 2;
    if (opts->operands.empty() || opts->operands.size() > 2) return ctx.usage(2);
    const std::string a = opts->operands[0], b = opts->operands.size() > 1 ? opts->operands[1] : "-";
    Reader ra(ctx, a), rb(ctx, b);
    for (auto [r, name] : {std::pair{&ra, &a}, {&rb, &b}})
        if (int e = r->open()) {
            ctx.perror(*name, e);
            return 2;
        }
    uint64_t offset = 0, line = 1;
    int st = 0;
    for (;;) {
        const std::string pa = ra.read(k_piece), pb = rb.read(k_piece);
        const size_t common = std::min(pa.size(), pb.size());
        for (size_t i = 0; i < common; ++i) {
            if (pa[i] != pb[i]) {
                st = 1;
                if (opts->has('s')) return 1;
                if (!opts->has('l')) {
                    ctx.out.write(fmt::format("{} {} differ: char {}, line {}\n", a, b, offset + i + 1, line));
                    return 1;
                }
                ctx.out.write(fmt::format("{} {:o} {:o}\n", offset + i + 1, uint8_t(pa[i]), uint8_t(pb[i])));
            }
            if (pa[i] == '\n') ++line;
        }
        offset += common;
        if (pa.size() != pb.size()) {
            if (!opts->has('s')) ctx.error(fmt::format("EOF on {}", pa.size() < pb.size() ? a : b));
            return 1;
        }
        if (pa.empty()) return st;
    }
}

int applet_rm(Ctx& ctx)
{
    auto opts = get_options(ctx, "fiRr");
    if (!opts) return 1;
    const bool force = opts->has('f');
    if (opts->operands.empty()) return force ? 0 : ctx.usage();
    int st = 0;
    for (const std::string& name : opts->operands) {
        const std::string path = ctx.shell.resolve(name);
        auto kind = ctx.shell.fs().stat(path, false);
        if (kind && *kind == views::NodeKind::Dir && !opts->has('r') && !opts->has('R')) {
            ctx.error(fmt::format("'{}' is a directory", name));
            st = 1;
            continue;
        }
        auto r = ctx.shell.fs().unlink(path);
        if (!r && !(force && r.error().err == ENOENT)) {
            ctx.perror(fmt::format("can't remove '{}'", name), r.error().err);
            st = 1;
        }
    }
    return st;
}

int applet_cp(Ctx& ctx)
{
    auto opts = get_options(ctx, "arPLHpfinlsTud");
    if (!opts) return 1;
    if (opts->operands.size() != 2) return ctx.usage();
    const std::string& src = opts->operands[0];
    std::string dest = opts->operands[1];
    const std::string src_path = ctx.shell.resolve(src);
    auto src_kind = ctx.shell.fs().stat(src_path, true);
    if (!src_kind) {
        ctx.perror(fmt::format("can't stat '{}'", src), src_kind.error().err);
        return 1;
    }
    if (auto dk = ctx.shell.fs().stat(ctx.shell.resolve(dest), true); dk && *dk == views::NodeKind::Dir)
        dest += (dest.ends_with('/') ? "" : "/") + src.substr(src.rfind('/') + 1);
    if (ctx.shell.resolve(dest) == src_path) {
        ctx.error(fmt::format("'{}' and '{}' are the same file", src, dest));
        return 1;
    }
    Reader in(ctx, src);
    if (int e = in.open()) {
        ctx.perror(fmt::format("can't open '{}'", src), e);
        return 1;
    }
    auto out = ctx.shell.open_write_path(dest);
    if (!out) {
        ctx.perror(fmt::format("can't create '{}'", dest), out.error().err);
        return 1;
    }
    for (std::string piece; !(piece = in.read(k_piece)).empty();) {
        if (auto r = ctx.shell.fs().write(*out, piece); !r) {
            ctx.perror("write error", r.error().err);
            return 1;
        }
    }
    if (in.read_error()) {
        ctx.perror("read error", in.read_error());
        return 1;
    }
    return 0;
}

int applet_truncate(Ctx& ctx)
{
    auto opts = get_options(ctx, "cs:");
    if (!opts) return 1;
    if (!opts->has('s') || opts->operands.empty()) return ctx.usage();
    const auto size = number_with_suffix(*opts->last('s'), truncate_suffixes);
    if (!size) {
        ctx.error(fmt::format("invalid number '{}'", *opts->last('s')));
        return 1;
    }
    int st = 0;
    for (const std::string& name : opts->operands) {
        const std::string path = ctx.shell.resolve(name);
        if (opts->has('c') && !ctx.shell.fs().stat(path, true)) continue;
        auto p = ctx.shell.open_write_path(name, true);
        if (!p) {
            ctx.perror(fmt::format("{}: open", name), p.error().err);
            st = 1;
            continue;
        }
        if (auto r = ctx.shell.fs().truncate(*p, *size); !r) {
            ctx.perror(fmt::format("{}: truncate", name), r.error().err);
            st = 1;
        }
    }
    return st;
}

}  // namespace memplug::shell::sh
