FROM busybox
WORKDIR app
