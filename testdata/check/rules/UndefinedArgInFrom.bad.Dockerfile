ARG VERSION=1
FROM busybox:${VERSIO}
FROM --platform=$BUILDPLATFROM busybox
