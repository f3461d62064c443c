FROM busybox
EXPOSE 80 443/tcp
