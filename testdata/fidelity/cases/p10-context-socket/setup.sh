mkdir -p d && echo f > d/f && python3 -c "import socket; socket.socket(socket.AF_UNIX).bind('d/sock')" && chmod 750 d/sock
