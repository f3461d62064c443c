FROM busybox
ENV a=b
LABEL x=y
