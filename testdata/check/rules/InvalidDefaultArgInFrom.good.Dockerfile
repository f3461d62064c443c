ARG TARGETARCH
ARG TAG=latest
ARG V
FROM busybox:${TAG}
FROM busybox:stable${V}
FROM busybox-${TARGETARCH}
