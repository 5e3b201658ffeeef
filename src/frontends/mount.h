// `memplug mount DIR`: the live guest's tree (its /sys and /proc, and the
// initramfs's tmpfs root whose files are the model's page cache) as a FUSE3
// filesystem, so that the tools people already use (lsmem, chmem, the kernel's
// selftest, a udev rule's RUN command, busybox's sh) run against the model unchanged.
//
// Reads render the views' text; writes go through the views' store() code and
// fail with its errno in write(2). Nothing is cached by the kernel (direct I/O,
// zero attribute and entry timeouts), so a change shows at once. Each request
// holds the guest's one lock (LiveGuest::lock()) while it touches the model.
#pragma once

#include <string>

#include "frontends/live_guest.h"

namespace memplug::fe {

struct MountOptions {
    std::string dir;
    bool allow_other = false;  // private by default: only the mounting user sees the tree
};

// Mounts on opts.dir, serves requests on several threads until SIGINT, SIGTERM
// or SIGHUP (or `fusermount3 -u DIR`), then unmounts. Returns the exit status:
// 0, 1 if the model's invariants broke, 2 if the mount could not be made (the
// message on stderr says what to do).
int serve_mount(LiveGuest& guest, const MountOptions& opts);

}  // namespace memplug::fe
