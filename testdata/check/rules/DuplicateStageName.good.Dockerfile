FROM busybox AS a
RUN true
FROM busybox AS b
RUN true
