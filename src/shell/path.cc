// Paths as the guest shell hands them to the Vfs, and pathname expansion (ash's
// expmeta): one directory level at a time, matches sorted with strcmp, a
// pattern without matches left as typed.
#include <algorithm>
#include <fnmatch.h>

#include "shell/internal.h"

namespace memplug::shell::sh {

std::string Shell::resolve(std::string_view path) const
{
    if (path.empty())
        return std::string();  // open("") is ENOENT: the Vfs says so for ""
    std::string full = path[0] == '/' ? std::string(path) : m_cwd + "/" + std::string(path);
    std::vector<std::string_view> parts;
    std::string_view rest = full;
    while (!rest.empty()) {
        size_t slash = rest.find('/');
        std::string_view comp = rest.substr(0, slash);
        rest = slash == std::string_view::npos ? std::string_view() : rest.substr(slash + 1);
        if (comp.empty() || comp == ".")
            continue;
        if (comp == "..") {
            if (!parts.empty())
                parts.pop_back();
            continue;
        }
        parts.push_back(comp);
    }
    std::string out;
    for (std::string_view comp : parts) {
        out += '/';
        out += comp;
    }
    return out.empty() ? "/" : out;
}

namespace {

// A component with an unescaped * ? or [...] needs a directory listing.
bool has_glob_chars(std::string_view comp)
{
    for (size_t i = 0; i < comp.size(); ++i) {
        if (comp[i] == '\\')
            ++i;
        else if (comp[i] == '*' || comp[i] == '?')
            return true;
        else if (comp[i] == '[' && comp.find(']', i + 1) != std::string_view::npos)
            return true;  // a "[" without "]" is just a character
    }
    return false;
}

std::string unescape(std::string_view comp)
{
    std::string out;
    for (size_t i = 0; i < comp.size(); ++i) {
        if (comp[i] == '\\' && i + 1 < comp.size())
            ++i;
        out += comp[i];
    }
    return out;
}

std::vector<std::string_view> split_components(std::string_view pattern)
{
    std::vector<std::string_view> comps;
    size_t start = 0;
    for (;;) {
        size_t slash = pattern.find('/', start);
        comps.push_back(pattern.substr(start, slash - start));
        if (slash == std::string_view::npos)
            break;
        start = slash + 1;
    }
    return comps;
}

}  // namespace

std::vector<std::string> Shell::glob(const std::string& pattern) const
{
    std::vector<std::string_view> comps = split_components(pattern);
    std::vector<std::string> matches;
    // prefix: the path matched so far, as it will be printed ("" or ".../").
    auto walk = [&](auto& self, size_t idx, const std::string& prefix) -> void {
        if (matches.size() > 100000)
            return;
        std::string_view comp = comps[idx];
        bool last = idx + 1 == comps.size();
        if (!has_glob_chars(comp)) {
            std::string path = prefix + unescape(comp);
            if (last) {
                // "*/": only directories (a trailing slash follows links).
                auto kind = m_fs.stat(resolve(path), comp.empty());
                if (kind && (!comp.empty() || *kind == views::NodeKind::Dir))
                    matches.push_back(path);
            } else {
                self(self, idx + 1, path + "/");
            }
            return;
        }
        auto names = m_fs.list(resolve(prefix.empty() ? "." : prefix));
        if (!names)
            return;
        std::string pat(comp);
        bool match_dot = !comp.empty() && (comp[0] == '.' || comp.starts_with("\\."));
        for (const std::string& name : *names) {
            if (name.empty() || (name[0] == '.' && !match_dot))
                continue;
            if (::fnmatch(pat.c_str(), name.c_str(), 0) != 0)
                continue;
            if (last)
                matches.push_back(prefix + name);
            else
                self(self, idx + 1, prefix + name + "/");
        }
    };
    walk(walk, 0, std::string());
    std::sort(matches.begin(), matches.end());
    return matches;
}

}  // namespace memplug::shell::sh
