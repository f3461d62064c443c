FROM busybox AS scratch
RUN true
