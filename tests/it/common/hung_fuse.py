#!/usr/bin/env python3
"""A FUSE filesystem that stops answering: the test stand-in for a hung FUSE or NFS server.

Usage: hung_fuse.py MOUNTPOINT READY_FILE [NAME=TARGET]

Speaks the kernel's FUSE protocol on /dev/fuse directly (no libfuse): answers INIT, GETATTR,
ACCESS, OPENDIR/RELEASEDIR, STATFS, LOOKUP and READLINK (nothing exists but the root directory
and, given NAME=TARGET, a symlink NAME in it pointing at TARGET) until it gets SIGUSR1; from then on (READY_FILE.hung exists) it reads no request, so every new access to
the mount blocks in the kernel. SIGTERM closes the connection (blocked callers get ENOTCONN) and detaches the mount.
"""
import ctypes
import errno
import os
import select
import signal
import struct
import sys

IN_HEADER = struct.Struct("<IIQQIIIHH")  # len opcode unique nodeid uid gid pid extlen padding
OUT_HEADER = struct.Struct("<IiQ")  # len error unique
LOOKUP, GETATTR, READLINK, OPEN, STATFS, RELEASE, INIT, OPENDIR, RELEASEDIR, ACCESS = 1, 3, 5, 14, 17, 18, 26, 27, 29, 34
NO_REPLY = {2, 36, 42}  # FORGET, INTERRUPT, BATCH_FORGET
MNT_DETACH = 2

mountpoint, ready = sys.argv[1], sys.argv[2]
link_name, _, link_target = (sys.argv[3] if len(sys.argv) > 3 else "").partition("=")
LINK_NODE = 2
libc = ctypes.CDLL(None, use_errno=True)


def on_term(*_):
    os.close(fd)
    libc.umount2(mountpoint.encode(), MNT_DETACH)
    os._exit(0)


def attr(node=1):
    # fuse_attr: ino size blocks atime mtime ctime, their nsecs, mode nlink uid gid rdev blksize flags
    if node == LINK_NODE:
        size, mode = len(link_target.encode()), 0o120777
    else:
        size, mode = 0, 0o40755
    return struct.pack("<QQQQQQIIIIIIIIII", node, size, 0, 0, 0, 0, 0, 0, 0, mode, 1, 0, 0, 0, 4096, 0)


def reply(unique, error=0, body=b""):
    os.write(fd, OUT_HEADER.pack(OUT_HEADER.size + len(body), -error, unique) + body)


# SIGUSR1 is seen only between requests (a byte on the wake-up pipe, beside /dev/fuse in select),
# so no request is ever taken and left unanswered: every caller stays queued in the kernel, where
# a fatal signal still ends it (a request the server took but never answers would leave its
# caller unkillable until the connection closes). An exception raised by the handler instead
# could land in the middle of a reply and end the server, which closes the connection: then
# nothing hangs at all.
wake_r, wake_w = os.pipe()
os.set_blocking(wake_w, False)
signal.set_wakeup_fd(wake_w)
signal.signal(signal.SIGUSR1, lambda *_: None)
signal.signal(signal.SIGTERM, on_term)
fd = os.open("/dev/fuse", os.O_RDWR | os.O_NONBLOCK)
options = f"fd={fd},rootmode=40000,user_id=0,group_id=0".encode()
if libc.mount(b"hung", mountpoint.encode(), b"fuse.hung", 0, options) != 0:
    sys.exit(f"mount: {os.strerror(ctypes.get_errno())}")

while True:
    readable, _, _ = select.select([fd, wake_r], [], [])
    if wake_r in readable and signal.SIGUSR1 in os.read(wake_r, 64):
        break
    if fd not in readable:
        continue
    try:
        request = os.read(fd, 1 << 20)
    except OSError as e:
        if e.errno in (errno.ENOENT, errno.EAGAIN):
            continue  # a request interrupted before we read it
        raise
    _, opcode, unique, node, *_ = IN_HEADER.unpack_from(request)
    if opcode in NO_REPLY:
        continue
    if opcode == INIT:
        # fuse_init_out, 64 bytes: protocol 7.31, no flags, max_write 4096, time_gran 1.
        reply(unique, body=struct.pack("<IIIIHHIIHHIIH22x", 7, 31, 0, 0, 0, 0, 4096, 1, 0, 0, 0, 0, 0))
        open(ready, "w").close()
    elif opcode == GETATTR:
        # fuse_attr_out: valid for 0 s, so every stat that may ask the server does.
        reply(unique, body=struct.pack("<QII", 0, 0, 0) + attr(node))
    elif opcode == OPENDIR:
        reply(unique, body=struct.pack("<QIi", 0, 0, 0))
    elif opcode == STATFS:
        reply(unique, body=struct.pack("<QQQQQIIII24x", 0, 0, 0, 0, 0, 4096, 255, 4096, 0))
    elif opcode in (RELEASE, RELEASEDIR):
        reply(unique)
    elif opcode == LOOKUP:
        name = request[IN_HEADER.size:].split(b"\0")[0].decode()
        if link_name and node == 1 and name == link_name:
            # fuse_entry_out: nodeid generation entry_valid attr_valid (0 s: asked each time), nsecs
            reply(unique, body=struct.pack("<QQQQII", LINK_NODE, 0, 0, 0, 0, 0) + attr(LINK_NODE))
        else:
            reply(unique, errno.ENOENT)
    elif opcode == READLINK and node == LINK_NODE:
        reply(unique, body=link_target.encode())
    else:
        reply(unique, errno.ENOSYS)  # ACCESS among them: the kernel then allows it

# Hung: every request from now on waits for ever. READY_FILE.hung says so: a caller that waits
# for it knows its next request is never read.
open(ready + ".hung", "w").close()
while True:
    signal.pause()
