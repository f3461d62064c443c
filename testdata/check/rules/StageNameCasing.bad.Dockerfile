FROM busybox AS Build
RUN true
