FROM busybox AS build
RUN true
