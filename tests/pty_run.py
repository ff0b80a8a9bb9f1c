#!/usr/bin/env python3
"""Runs a command with its stderr on a pseudo-terminal (stdin and stdout as
given to this script) and writes the bytes the terminal received to a file:
what a user would see of a progress line, with no terminal needed.

usage: pty_run.py TERMINAL_OUTPUT COMMAND [ARGS...]

The terminal is raw (no newline translation) and 100 columns wide.  Exits
with the command's status.
"""
import fcntl
import os
import struct
import subprocess
import sys
import termios
import tty

master, slave = os.openpty()
tty.setraw(slave)
fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 100, 0, 0))
proc = subprocess.Popen(sys.argv[2:], stderr=slave)
os.close(slave)
seen = bytearray()
while True:
    try:
        chunk = os.read(master, 65536)
    except OSError:   # EIO: every writer of the terminal is gone
        break
    if not chunk:
        break
    seen += chunk
status = proc.wait()
with open(sys.argv[1], "wb") as f:
    f.write(seen)
sys.exit(status)
