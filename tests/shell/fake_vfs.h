// An in-memory views::Vfs for the guest shell's tests: directories, files,
// symlinks, read-only and write-only attributes, and write hooks that refuse a
// store with an errno, as sysfs does. Nothing can be created: writing a missing
// file is EACCES (kernfs has no create), as on the real /sys.
#pragma once

#include <cerrno>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "views/vfs.h"

namespace memplug::testing {

class FakeVfs : public views::Vfs {
public:
    enum class Access { ReadWrite, ReadOnly, WriteOnly };
    using WriteHook = std::function<KResult<void>(std::string_view data)>;

    FakeVfs()
    {
        m_root = std::make_unique<Node>();
        m_root->kind = views::NodeKind::Dir;
        add_dir("/dev");
        add_file("/dev/null", "");
        m_null = find("/dev/null", true);
    }

    // Parents are created as needed.
    void add_dir(std::string_view path) { make(path, views::NodeKind::Dir); }
    void add_file(std::string_view path, std::string content, Access access = Access::ReadWrite)
    {
        Node* n = make(path, views::NodeKind::File);
        n->content = std::move(content);
        n->access = access;
    }
    void add_symlink(std::string_view path, std::string target)
    {
        make(path, views::NodeKind::Symlink)->content = std::move(target);
    }
    // The store: gets the written data, returns an error to refuse it. Without a
    // hook a write replaces the content.
    void set_write_hook(std::string_view path, WriteHook hook) { find(path, true)->hook = std::move(hook); }
    void set_content(std::string_view path, std::string content) { find(path, true)->content = std::move(content); }
    std::string content(std::string_view path) { return find(path, true)->content; }

    // Every write(2) that reached a file, in order (path, data).
    const std::vector<std::pair<std::string, std::string>>& writes() const { return m_writes; }
    int open_writes() const { return m_open_writes; }

    KResult<views::NodeKind> stat(std::string_view path, bool follow_last) const override
    {
        auto n = lookup(path, follow_last);
        if (!n)
            return tl::unexpected(n.error());
        return (*n)->kind;
    }

    KResult<unsigned> permissions(std::string_view path) const override
    {
        auto n = lookup(path, false);
        if (!n)
            return tl::unexpected(n.error());
        switch ((*n)->kind) {
        case views::NodeKind::Dir: return 0755u;
        case views::NodeKind::Symlink: return 0777u;
        case views::NodeKind::File: break;
        }
        return (*n)->access == Access::ReadOnly ? 0444u : (*n)->access == Access::WriteOnly ? 0200u : 0644u;
    }

    KResult<std::string> readlink(std::string_view path) const override
    {
        auto n = lookup(path, false);
        if (!n)
            return tl::unexpected(n.error());
        if ((*n)->kind != views::NodeKind::Symlink)
            return kerr(EINVAL);
        return (*n)->content;
    }

    KResult<std::vector<std::string>> list(std::string_view dir) const override
    {
        auto n = lookup(dir, true);
        if (!n)
            return tl::unexpected(n.error());
        if ((*n)->kind != views::NodeKind::Dir)
            return kerr(ENOTDIR);
        std::vector<std::string> names;
        // Not sorted on purpose: callers sort.
        for (auto it = (*n)->children.rbegin(); it != (*n)->children.rend(); ++it)
            names.push_back(it->first);
        return names;
    }

    KResult<std::string> read(std::string_view path) const override
    {
        auto n = lookup(path, true);
        if (!n)
            return tl::unexpected(n.error());
        if ((*n)->kind == views::NodeKind::Dir)
            return kerr(EISDIR);
        if ((*n)->access == Access::WriteOnly)
            return kerr(EACCES);
        return (*n)->content;
    }

    KResult<void> open_write(std::string_view path) override
    {
        ++m_open_writes;
        auto n = lookup(path, true);
        if (!n) {
            if (n.error().err != ENOENT)
                return tl::unexpected(n.error());
            // The directory exists but the file does not: kernfs cannot create.
            std::string p(path);
            auto parent = lookup(p.substr(0, std::max<size_t>(1, p.rfind('/'))), true);
            if (parent && (*parent)->kind == views::NodeKind::Dir)
                return kerr(EACCES);
            return tl::unexpected(n.error());
        }
        if ((*n)->kind == views::NodeKind::Dir)
            return kerr(EISDIR);
        if ((*n)->access == Access::ReadOnly)
            return kerr(EACCES);
        return {};
    }

    KResult<void> write(std::string_view path, std::string_view data) override
    {
        auto n = lookup(path, true);
        if (!n)
            return tl::unexpected(n.error());
        Node* node = const_cast<Node*>(*n);
        if (node == m_null)
            return {};
        m_writes.emplace_back(std::string(path), std::string(data));
        if (node->hook)
            return node->hook(data);
        node->content = std::string(data);
        return {};
    }

private:
    struct Node {
        views::NodeKind kind = views::NodeKind::File;
        std::string content;  // file data, or a link's target
        Access access = Access::ReadWrite;
        WriteHook hook;
        std::map<std::string, std::unique_ptr<Node>> children;
    };

    static std::vector<std::string> split(std::string_view path)
    {
        std::vector<std::string> parts;
        size_t start = 0;
        while (start < path.size()) {
            size_t slash = path.find('/', start);
            if (slash == std::string_view::npos)
                slash = path.size();
            if (slash > start)
                parts.emplace_back(path.substr(start, slash - start));
            start = slash + 1;
        }
        return parts;
    }

    // Walks `path` (absolute, normalised); links in the middle are followed.
    KResult<const Node*> lookup(std::string_view path, bool follow_last, int depth = 0) const
    {
        if (path.empty() || path[0] != '/' || depth > 40)
            return kerr(path.empty() || path[0] != '/' ? ENOENT : ELOOP);
        std::vector<std::string> parts = split(path);
        const Node* cur = m_root.get();
        std::vector<std::string> walked;  // components up to cur
        for (size_t i = 0; i < parts.size(); ++i) {
            if (cur->kind != views::NodeKind::Dir)
                return kerr(ENOTDIR);
            auto it = cur->children.find(parts[i]);
            if (it == cur->children.end())
                return kerr(ENOENT);
            const Node* next = it->second.get();
            bool last = i + 1 == parts.size();
            if (next->kind == views::NodeKind::Symlink && (!last || follow_last)) {
                std::string target = next->content;
                std::string base;
                for (const std::string& w : walked)
                    base += "/" + w;
                std::string full = target[0] == '/' ? target : base + "/" + target;
                for (size_t j = i + 1; j < parts.size(); ++j)
                    full += "/" + parts[j];
                return lookup(normalise(full), follow_last, depth + 1);
            }
            walked.push_back(parts[i]);
            cur = next;
        }
        return cur;
    }

    static std::string normalise(std::string_view path)
    {
        std::vector<std::string> out;
        for (std::string& p : split(path)) {
            if (p == ".")
                continue;
            if (p == "..") {
                if (!out.empty())
                    out.pop_back();
                continue;
            }
            out.push_back(std::move(p));
        }
        std::string s;
        for (const std::string& p : out)
            s += "/" + p;
        return s.empty() ? "/" : s;
    }

    Node* make(std::string_view path, views::NodeKind kind)
    {
        Node* cur = m_root.get();
        std::vector<std::string> parts = split(path);
        for (size_t i = 0; i < parts.size(); ++i) {
            auto& child = cur->children[parts[i]];
            if (!child) {
                child = std::make_unique<Node>();
                child->kind = i + 1 == parts.size() ? kind : views::NodeKind::Dir;
            }
            cur = child.get();
        }
        return cur;
    }

    Node* find(std::string_view path, bool follow)
    {
        auto n = lookup(path, follow);
        return n ? const_cast<Node*>(*n) : nullptr;
    }

    std::unique_ptr<Node> m_root;
    const Node* m_null = nullptr;
    std::vector<std::pair<std::string, std::string>> m_writes;
    int m_open_writes = 0;
};

}  // namespace memplug::testing
