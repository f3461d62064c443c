FROM busybox AS scratchpad
RUN true
