FROM busybox
ENTRYPOINT my-app --serve
CMD echo hi
