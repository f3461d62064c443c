#!/usr/bin/env python3
"""dockerd's embedded BuildKit seen as a buildkitd, for kiln's tests of
`--builder unix://` and `--builder tcp://` with TLS: each connection
accepted is relayed to dockerd's `/grpc` endpoint (a `POST /grpc` with
`Upgrade: h2c`, its `101` read, then bytes both ways), so the client
speaks plain gRPC to BuildKit's Control and gateway services, its session
included (`Control.Session`), as with a buildkitd.

usage: relay.py DOCKER_SOCKET unix LISTEN_PATH
       relay.py DOCKER_SOCKET tcp PORT_FILE CERT KEY   (TLS, ALPN h2)
"""
import os
import socket
import ssl
import sys
import threading


def upgrade(docker_socket):
    d = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    d.connect(docker_socket)
    d.sendall(b"POST /grpc HTTP/1.1\r\nHost: docker\r\nConnection: Upgrade\r\n"
              b"Upgrade: h2c\r\nContent-Length: 0\r\n\r\n")
    head = b""
    while not head.endswith(b"\r\n\r\n"):
        byte = d.recv(1)
        if not byte:
            raise OSError("dockerd closed the connection")
        head += byte
    if b" 101 " not in head.split(b"\r\n")[0]:
        raise OSError("dockerd refused the upgrade: %r" % head)
    return d


def pipe(src, dst):
    try:
        while True:
            data = src.recv(65536)
            if not data:
                break
            dst.sendall(data)
    except OSError:
        pass
    for s in (src, dst):
        try:
            s.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass


def serve(conn, docker_socket):
    try:
        d = upgrade(docker_socket)
    except OSError as e:
        print("relay:", e, file=sys.stderr)
        conn.close()
        return
    threading.Thread(target=pipe, args=(conn, d), daemon=True).start()
    threading.Thread(target=pipe, args=(d, conn), daemon=True).start()


def main():
    docker_socket, mode = sys.argv[1], sys.argv[2]
    # The path the test waits for appears only once the socket listens.
    if mode == "unix":
        listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        tmp = sys.argv[3] + ".tmp"
        listener.bind(tmp)
        listener.listen(16)
        os.rename(tmp, sys.argv[3])
        wrap = None
    else:
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.bind(("127.0.0.1", 0))
        listener.listen(16)
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(sys.argv[4], sys.argv[5])
        context.set_alpn_protocols(["h2"])
        wrap = context
        tmp = sys.argv[3] + ".tmp"
        with open(tmp, "w") as f:
            f.write(str(listener.getsockname()[1]))
        os.rename(tmp, sys.argv[3])
    while True:
        conn, _ = listener.accept()
        if wrap is not None:
            try:
                conn = wrap.wrap_socket(conn, server_side=True)
            except (OSError, ssl.SSLError) as e:
                print("relay: TLS:", e, file=sys.stderr)
                conn.close()
                continue
        threading.Thread(target=serve, args=(conn, docker_socket), daemon=True).start()


if __name__ == "__main__":
    main()
