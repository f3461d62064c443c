FROM busybox AS a
CMD ["a"]
FROM a
CMD ["b"]
