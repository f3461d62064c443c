FROM busybox AS b
RUN true
FROM busybox AS b
RUN true
