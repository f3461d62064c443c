RUN echo too early
FROM later AS first
FROM busybox AS later
COPY --from=later /x /x
FROM busybox AS first
