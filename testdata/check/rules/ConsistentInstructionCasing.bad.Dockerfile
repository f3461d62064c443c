FROM busybox
run true
RUN true
CMD ["true"]
